"""Who may see an item, and how an item is shown (with its signed thumbnail URL)."""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy.orm import Session

from streamapp.api.schemas import ItemOut, RenditionOut
from streamapp.errors import ApiError
from streamapp.models import MediaItem, Role, Status, User, Visibility
from streamapp.signing import Signer


class _Owned(Protocol):
    owner_id: uuid.UUID
    visibility: Visibility
    status: Status


class _Someone(Protocol):
    id: uuid.UUID
    role: Role


def can_view(item: _Owned, user: _Someone | None) -> bool:
    if user is not None and (item.owner_id == user.id or user.role == Role.admin):
        return True
    return item.visibility == Visibility.public and item.status == Status.ready


def can_edit(item: MediaItem, user: User) -> bool:
    return item.owner_id == user.id or user.role == Role.admin


def get_visible(database: Session, item_id: uuid.UUID, user: User | None) -> MediaItem:
    item = database.get(MediaItem, item_id)
    # Someone else's private item answers exactly like a missing one: no existence leak.
    if item is None or not can_view(item, user):
        raise ApiError(404, "item_not_found", "No such media item.")
    return item


def item_out(item: MediaItem, signer: Signer | None) -> ItemOut:
    thumb = None
    if signer is not None and item.thumbnail_key and item.status == Status.ready:
        thumb = signer.object_url(item.thumbnail_key).url
    return ItemOut(
        id=item.id,
        owner_id=item.owner_id,
        kind=item.kind,
        title=item.title,
        description=item.description,
        visibility=item.visibility,
        status=item.status,
        progress=round(item.progress, 4),
        attempts=item.attempts,
        failure_reason=item.failure_reason,
        duration_seconds=item.duration_seconds,
        renditions=[RenditionOut(**r) for r in item.renditions],
        thumbnail_url=thumb,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )
