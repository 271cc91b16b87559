"""Request and response bodies of the public API (they shape the OpenAPI schema)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from streamapp.models import Kind, Role, Status, Visibility


def clean_text(value: str) -> str:
    """PostgreSQL text holds neither NUL nor lone surrogates: refuse them as bad input."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    return value


Text = Annotated[str, AfterValidator(clean_text)]

EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$"


class ErrorOut(BaseModel):
    code: str
    message: str
    details: dict[str, Any] | None = None


class SignupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Text = Field(pattern=EMAIL_PATTERN, max_length=320)
    password: Text = Field(min_length=10, max_length=256)
    display_name: Text = Field(default="", max_length=100)


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Text = Field(pattern=EMAIL_PATTERN, max_length=320)
    password: Text = Field(min_length=1, max_length=256)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    email: str
    display_name: str
    role: Role
    created_at: datetime


class SessionOut(BaseModel):
    """The session itself is only in the HttpOnly cookie (never readable by page scripts)."""

    expires_at: int = Field(description="When the session ends at the latest (unix time)")
    user: UserOut


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: Text = Field(min_length=1, max_length=256)
    new_password: Text = Field(min_length=10, max_length=256)


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


class RenditionOut(BaseModel):
    name: str
    kind: str
    width: int
    height: int
    video_kbps: int
    audio_kbps: int
    bandwidth: int
    playlist: str


class ItemOut(BaseModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    kind: Kind
    title: str
    description: str
    visibility: Visibility
    status: Status
    progress: float = Field(description="Transcoding progress, 0..1")
    attempts: int
    failure_reason: str | None
    duration_seconds: float | None
    renditions: list[RenditionOut]
    thumbnail_url: str | None = Field(description="Signed, short-lived URL of the poster/waveform")
    created_at: datetime
    updated_at: datetime


class ItemPage(BaseModel):
    items: list[ItemOut]
    total: int
    limit: int
    offset: int


class ItemPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Text | None = Field(default=None, min_length=1, max_length=200)
    description: Text | None = Field(default=None, max_length=5000)
    visibility: Visibility | None = None


class PlaybackOut(BaseModel):
    mode: Literal["local", "cloudfront"]
    url: str = Field(description="Signed URL of the HLS master playlist")
    expires_at: int
    query: str | None = Field(
        default=None,
        description="CloudFront mode: query string to append to every HLS request of this item",
    )
    cookies: dict[str, str] = Field(default_factory=dict)
    thumbnail_url: str | None
    renditions: list[RenditionOut]
    resume_position_seconds: float


class ProgressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    position_seconds: float = Field(ge=0, le=7 * 24 * 3600)
    completed: bool = False


class HistoryOut(BaseModel):
    item: ItemOut
    position_seconds: float
    completed: bool
    updated_at: datetime


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    preferred_quality: str = Field(default="auto", pattern=r"^(auto|[0-9]{2,4}p|a[0-9]{2,3}k)$")
    autoplay: bool = True
    preferred_kind: Kind | None = None


class PreferencesOut(PreferencesIn):
    model_config = ConfigDict(from_attributes=True)
