"""Accounts: sign up, log in/out (also everywhere), password change, the current user,
preferences, watch history, roles."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from streamapp import lockout, sessions
from streamapp.api.deps import AdminDep, DbDep, SettingsDep, SignerDep, TokenDep, UserDep
from streamapp.api.schemas import (
    ErrorOut,
    HistoryOut,
    LoginIn,
    PasswordChangeIn,
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
    return SessionOut(expires_at=expires_at, user=UserOut.model_validate(user))


def _end_session_cookie(settings: Settings, response: Response) -> None:
    response.delete_cookie(
        settings.session_cookie_name,
        path="/",
        httponly=True,
        secure=settings.session_cookie_secure,
        samesite="lax",
    )
    response.status_code = 204


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
    # Never admin: an operator promotes accounts on a host (streamapp-admin), since nobody
    # proves they own the address they sign up with.
    role = Role(settings.default_role)
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


def _check_password(
    settings: Settings, database: Session, email: str, user: User | None, password: str
) -> bool:
    """The password of the account ``email`` (None: no such account), throttled per address
    (streamapp.lockout): 429 while the address is locked, whether or not the account exists."""
    wait = lockout.attempt(database, settings, email)
    if wait:
        raise ApiError(
            429,
            "too_many_attempts",
            f"Too many failed sign-ins for this account; try again in {wait} s.",
            headers={"Retry-After": str(wait)},
            retry_after_seconds=wait,
        )
    # An unknown address is checked against a dummy hash: the same work, the same answer.
    if verify_password(user.password_hash if user else None, password) and user is not None:
        lockout.succeeded(database, email)
        return True
    return False


@router.post(
    "/auth/login",
    response_model=SessionOut,
    responses={**ERRORS, 429: {"model": ErrorOut}},
)
def login(body: LoginIn, settings: SettingsDep, database: DbDep, response: Response) -> SessionOut:
    email = body.email.strip().lower()
    user = database.scalar(select(User).where(User.email == email))
    if not _check_password(settings, database, email, user, body.password) or user is None:
        raise ApiError(401, "invalid_credentials", "Wrong email or password.")
    return _start_session(settings, response, user)


@router.post("/auth/logout", status_code=204, responses=ERRORS)
def logout(settings: SettingsDep, token: TokenDep, response: Response) -> Response:
    if token:
        sessions.delete(settings, token)
    _end_session_cookie(settings, response)
    return response


@router.post("/auth/logout-everywhere", status_code=204, responses=ERRORS)
def logout_everywhere(
    settings: SettingsDep, user: UserDep, token: TokenDep, response: Response
) -> Response:
    """Ends every session of the user, on every device, this one included."""
    sessions.revoke_all(settings, str(user.id))
    if token:
        sessions.delete(settings, token)
    _end_session_cookie(settings, response)
    return response


@router.post(
    "/me/password",
    response_model=SessionOut,
    responses={**ERRORS, 429: {"model": ErrorOut}},
)
def change_password(
    body: PasswordChangeIn,
    settings: SettingsDep,
    database: DbDep,
    user: UserDep,
    token: TokenDep,
    response: Response,
) -> SessionOut:
    """Needs the current password; ends every other session and starts a new one here."""
    # Guessing it with a stolen session is throttled like signing in.
    if not _check_password(settings, database, user.email, user, body.current_password):
        raise ApiError(403, "wrong_password", "The current password is wrong.")
    # Sessions first: should the database then fail, the old password still works and nobody
    # stays signed in with it unnoticed; the other way round, a stolen session would outlive
    # the password change.
    sessions.revoke_all(settings, str(user.id))
    user.password_hash = hash_password(body.new_password)
    database.commit()
    if token:
        sessions.delete(settings, token)
    return _start_session(settings, response, user)


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
