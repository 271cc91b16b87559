"""Request dependencies: settings, database session, the signed-in user, role checks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from streamapp import db, sessions
from streamapp.config import Settings
from streamapp.errors import ApiError
from streamapp.models import Role, User
from streamapp.signing import Signer, make_signer

_bearer = HTTPBearer(auto_error=False, description="Session token from /api/auth/login")
_cookie = APIKeyCookie(name="streamapp_session", auto_error=False)


# Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in
# the thread pool, one thread hop per dependency and request (measurable at 200 req/s).
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_db(settings: SettingsDep) -> Iterator[Session]:
    with db.new_session(settings) as session:
        yield session


DbDep = Annotated[Session, Depends(get_db)]


async def get_signer(request: Request, settings: SettingsDep) -> Signer:
    signer = getattr(request.app.state, "signer", None)
    if signer is None:
        # Built on first use: fetching the key from Secrets Manager must not block start-up
        # (and /healthz) when Secrets Manager is briefly unreachable. Off the event loop.
        signer = request.app.state.signer = await run_in_threadpool(make_signer, settings)
    return signer  # type: ignore[no-any-return]


SignerDep = Annotated[Signer, Depends(get_signer)]


async def session_token(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> str | None:
    if bearer and bearer.credentials:
        return bearer.credentials
    return cookie or None


TokenDep = Annotated[str | None, Depends(session_token)]


def optional_user(settings: SettingsDep, database: DbDep, token: TokenDep) -> User | None:
    user_id = session_user_id(settings, token)
    return None if user_id is None else database.get(User, user_id)


def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise ApiError(401, "not_authenticated", "Log in first (session missing or expired).")
    return user


@dataclass(frozen=True)
class Viewer:
    """Who asks, for the read-only hot paths: just what access checks need (``can_view``
    reads ``id`` and ``role``), without hydrating an ORM ``User``."""

    id: uuid.UUID
    role: Role


def session_user_id(settings: Settings, token: str | None) -> uuid.UUID | None:
    """The user id of a live session (DynamoDB, cached briefly in the process), or None."""
    if not token:
        return None
    info = sessions.lookup(settings, token)
    if info is None:
        return None
    try:
        return uuid.UUID(info.user_id)
    except ValueError:
        return None


def viewer_for(settings: Settings, conn: Connection, token: str | None) -> Viewer | None:
    """The signed-in user behind ``token`` with the current role from the database (a role
    change or a deleted account counts at once), or None."""
    user_id = session_user_id(settings, token)
    if user_id is None:
        return None
    role = conn.scalar(select(User.role).where(User.id == user_id))
    return None if role is None else Viewer(user_id, role)


OptionalUserDep = Annotated[User | None, Depends(optional_user)]
UserDep = Annotated[User, Depends(current_user)]


def uploader(user: UserDep) -> User:
    if user.role not in (Role.uploader, Role.admin):
        raise ApiError(403, "forbidden_role", "Only uploaders and admins may upload media.")
    return user


def admin(user: UserDep) -> User:
    if user.role != Role.admin:
        raise ApiError(403, "forbidden_role", "Only admins may do this.")
    return user


UploaderDep = Annotated[User, Depends(uploader)]
AdminDep = Annotated[User, Depends(admin)]
