"""Accounts: sign up, log in/out, the current user, preferences, watch history, roles."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from streamapp import sessions
from streamapp.api.deps import AdminDep, DbDep, SettingsDep, SignerDep, TokenDep, UserDep
from streamapp.api.schemas import (
    ErrorOut,
    HistoryOut,
    LoginIn,
    PreferencesIn,
    PreferencesOut,
    RoleIn,
    SessionOut,
    SignupIn,
    UserOut,
)
from streamapp.api.views import can_view, item_out
from streamapp.config import Settings
from streamapp.errors import ApiError
from streamapp.models import MediaItem, Preferences, Role, User, WatchHistory
from streamapp.passwords import hash_password, verify_password

router = APIRouter(prefix="/api", tags=["accounts"])
ERRORS = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}}


def _start_session(settings: Settings, response: Response, user: User) -> SessionOut:
    token, expires_at = sessions.create(settings, str(user.id), user.role.value)
    response.set_cookie(
        settings.session_cookie_name,
        token,
        max_age=settings.session_ttl_seconds,
        httponly=True,
        secure=settings.session_cookie_secure,
        samesite="lax",
        path="/",
    )
    return SessionOut(token=token, expires_at=expires_at, user=UserOut.model_validate(user))


@router.post(
    "/auth/signup",
    status_code=201,
    response_model=SessionOut,
    responses={409: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
def signup(
    body: SignupIn, settings: SettingsDep, database: DbDep, response: Response
) -> SessionOut:
    email = body.email.strip().lower()
    role = Role.admin if email in settings.admin_email_set() else Role(settings.default_role)
    user = User(
        email=email,
        display_name=body.display_name.strip() or email.split("@")[0],
        password_hash=hash_password(body.password),
        role=role,
    )
    database.add(user)
    try:
        database.commit()
    except IntegrityError as exc:
        database.rollback()
        raise ApiError(409, "email_taken", "An account with this email already exists.") from exc
    return _start_session(settings, response, user)


@router.post("/auth/login", response_model=SessionOut, responses=ERRORS)
def login(body: LoginIn, settings: SettingsDep, database: DbDep, response: Response) -> SessionOut:
    user = database.scalar(select(User).where(User.email == body.email.strip().lower()))
    if not verify_password(user.password_hash if user else None, body.password) or user is None:
        raise ApiError(401, "invalid_credentials", "Wrong email or password.")
    return _start_session(settings, response, user)


@router.post("/auth/logout", status_code=204, responses=ERRORS)
def logout(settings: SettingsDep, token: TokenDep, response: Response) -> Response:
    if token:
        sessions.delete(settings, token)
    response.delete_cookie(settings.session_cookie_name, path="/")
    response.status_code = 204
    return response


@router.get("/me", response_model=UserOut, responses=ERRORS)
def me(user: UserDep) -> User:
    return user


@router.get("/me/preferences", response_model=PreferencesOut, responses=ERRORS)
def get_preferences(user: UserDep, database: DbDep) -> PreferencesOut:
    prefs = database.get(Preferences, user.id)
    return PreferencesOut.model_validate(prefs) if prefs else PreferencesOut()


@router.put("/me/preferences", response_model=PreferencesOut, responses=ERRORS)
def put_preferences(body: PreferencesIn, user: UserDep, database: DbDep) -> PreferencesOut:
    prefs = database.get(Preferences, user.id) or Preferences(user_id=user.id)
    prefs.preferred_quality = body.preferred_quality
    prefs.autoplay = body.autoplay
    prefs.preferred_kind = body.preferred_kind.value if body.preferred_kind else None
    database.add(prefs)
    database.commit()
    return PreferencesOut.model_validate(prefs)


@router.get("/me/history", response_model=list[HistoryOut], responses=ERRORS)
def history(
    user: UserDep,
    database: DbDep,
    signer: SignerDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[HistoryOut]:
    rows = database.execute(
        select(WatchHistory, MediaItem)
        .join(MediaItem, MediaItem.id == WatchHistory.item_id)
        .where(WatchHistory.user_id == user.id)
        .order_by(WatchHistory.updated_at.desc())
        .limit(limit)
    ).all()
    return [
        HistoryOut(
            item=item_out(item, signer),
            position_seconds=entry.position_seconds,
            completed=entry.completed,
            updated_at=entry.updated_at,
        )
        for entry, item in rows
        if can_view(item, user)
    ]


@router.put("/admin/users/{user_id}/role", response_model=UserOut, responses=ERRORS)
def set_role(user_id: uuid.UUID, body: RoleIn, _: AdminDep, database: DbDep) -> User:
    target = database.get(User, user_id)
    if target is None:
        raise ApiError(404, "user_not_found", "No such user.")
    target.role = body.role
    database.commit()
    return target
