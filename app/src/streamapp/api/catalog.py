"""Catalog: browse and search, one item, edit, delete, watch progress, playback URLs, retry."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import AfterValidator
from sqlalchemy import func, or_, select

from streamapp import jobs, storage
from streamapp.api.deps import DbDep, OptionalUserDep, SettingsDep, SignerDep, UserDep
from streamapp.api.schemas import (
    ErrorOut,
    HistoryOut,
    ItemOut,
    ItemPage,
    ItemPatch,
    PlaybackOut,
    ProgressIn,
    RenditionOut,
    clean_text,
)
from streamapp.api.views import can_edit, get_visible, item_out
from streamapp.errors import ApiError
from streamapp.models import Kind, MediaItem, Role, Status, Visibility, WatchHistory

router = APIRouter(prefix="/api/items", tags=["catalog"])
ERRORS = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}}


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@router.get("", response_model=ItemPage)
def browse(
    database: DbDep,
    signer: SignerDep,
    user: OptionalUserDep,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Search title/description"),
        AfterValidator(lambda v: v if v is None else clean_text(v)),
    ] = None,
    kind: Kind | None = None,
    mine: Annotated[bool, Query(description="Only my uploads, any status")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 24,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> ItemPage:
    query = select(MediaItem)
    public = (MediaItem.visibility == Visibility.public) & (MediaItem.status == Status.ready)
    if mine:
        if user is None:
            raise ApiError(401, "not_authenticated", "Log in to list your uploads.")
        query = query.where(MediaItem.owner_id == user.id)
    elif user is None:
        query = query.where(public)
    elif user.role != Role.admin:
        query = query.where(or_(public, MediaItem.owner_id == user.id))
    if q and q.strip():
        pattern = _like(q.strip())
        query = query.where(
            or_(
                MediaItem.title.ilike(pattern, escape="\\"),
                MediaItem.description.ilike(pattern, escape="\\"),
            )
        )
    if kind:
        query = query.where(MediaItem.kind == kind)
    total = database.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = database.scalars(
        query.order_by(MediaItem.created_at.desc(), MediaItem.id).limit(limit).offset(offset)
    ).all()
    return ItemPage(
        items=[item_out(i, signer) for i in rows], total=total, limit=limit, offset=offset
    )


@router.get("/{item_id}", response_model=ItemOut, responses=ERRORS)
def get_item(
    item_id: uuid.UUID, database: DbDep, signer: SignerDep, user: OptionalUserDep
) -> ItemOut:
    return item_out(get_visible(database, item_id, user), signer)


@router.patch("/{item_id}", response_model=ItemOut, responses=ERRORS)
def patch_item(
    item_id: uuid.UUID, body: ItemPatch, database: DbDep, signer: SignerDep, user: UserDep
) -> ItemOut:
    item = get_visible(database, item_id, user)
    if not can_edit(item, user):
        raise ApiError(403, "not_owner", "Only the uploader or an admin may edit this item.")
    for name, value in body.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(item, name, value)
    database.commit()
    return item_out(item, signer)


@router.delete("/{item_id}", status_code=204, responses=ERRORS)
def delete_item(
    item_id: uuid.UUID, database: DbDep, settings: SettingsDep, user: UserDep
) -> Response:
    item = get_visible(database, item_id, user)
    if not can_edit(item, user):
        raise ApiError(403, "not_owner", "Only the uploader or an admin may delete this item.")
    # Row first: if S3 cleanup fails afterwards, only unreachable objects remain, never a
    # catalog entry pointing at missing media.
    keys = [item.source_key] + ([item.thumbnail_key] if item.thumbnail_key else [])
    prefix = item.hls_prefix
    database.delete(item)
    database.commit()
    storage.delete_keys(settings, keys)
    if prefix:
        storage.delete_prefix(settings, prefix)
    return Response(status_code=204)


@router.put("/{item_id}/progress", response_model=HistoryOut, responses=ERRORS)
def put_progress(
    item_id: uuid.UUID, body: ProgressIn, database: DbDep, signer: SignerDep, user: UserDep
) -> HistoryOut:
    item = get_visible(database, item_id, user)
    if item.duration_seconds is not None and body.position_seconds > item.duration_seconds + 5:
        raise ApiError(422, "position_out_of_range", "The position is past the end of the media.")
    entry = database.get(WatchHistory, (user.id, item.id)) or WatchHistory(
        user_id=user.id, item_id=item.id
    )
    entry.position_seconds = body.position_seconds
    entry.completed = body.completed
    database.add(entry)
    database.commit()
    return HistoryOut(
        item=item_out(item, signer),
        position_seconds=entry.position_seconds,
        completed=entry.completed,
        updated_at=entry.updated_at,
    )


@router.get(
    "/{item_id}/playback",
    response_model=PlaybackOut,
    responses={**ERRORS, 409: {"model": ErrorOut}},
)
def playback(item_id: uuid.UUID, database: DbDep, signer: SignerDep, user: UserDep) -> PlaybackOut:
    item = get_visible(database, item_id, user)
    if item.status != Status.ready or not item.hls_prefix:
        raise ApiError(
            409,
            "not_ready",
            f"The item is not playable yet (status {item.status}).",
            item_status=item.status.value,
        )
    signed = signer.hls_url(item.hls_prefix, "master.m3u8")
    entry = database.get(WatchHistory, (user.id, item.id))
    resume = 0.0 if entry is None or entry.completed else entry.position_seconds
    return PlaybackOut(
        mode=signer.mode,  # type: ignore[arg-type]
        url=signed.url,
        expires_at=signed.expires_at,
        query=signed.query,
        cookies=signed.cookies,
        thumbnail_url=signer.object_url(item.thumbnail_key).url if item.thumbnail_key else None,
        renditions=[RenditionOut(**r) for r in item.renditions],
        resume_position_seconds=resume,
    )


@router.post(
    "/{item_id}/retry", response_model=ItemOut, responses={**ERRORS, 409: {"model": ErrorOut}}
)
def retry(
    item_id: uuid.UUID, database: DbDep, settings: SettingsDep, signer: SignerDep, user: UserDep
) -> ItemOut:
    item = get_visible(database, item_id, user)
    if not can_edit(item, user):
        raise ApiError(403, "not_owner", "Only the uploader or an admin may retry this item.")
    if item.status != Status.failed:
        raise ApiError(409, "not_failed", "Only failed items can be retried.")
    item.status, item.progress, item.attempts, item.failure_reason = Status.queued, 0.0, 0, None
    database.commit()
    jobs.enqueue(settings, jobs.Job(str(item.id), item.source_key, item.kind.value))
    return item_out(item, signer)
