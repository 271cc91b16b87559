"""Catalog: browse and search, one item, edit, delete, watch progress, playback URLs, retry."""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import AfterValidator, TypeAdapter
from sqlalchemy import Integer, Select, String, Uuid, bindparam, func, or_, select

from streamapp import db, jobs, quotas, storage
from streamapp.api.deps import (
    DbDep,
    OptionalUserDep,
    SettingsDep,
    SignerDep,
    TokenDep,
    UserDep,
    Viewer,
    session_user_id,
    viewer_for,
)
from streamapp.api.schemas import (
    ErrorOut,
    HistoryOut,
    ItemOut,
    ItemPage,
    ItemPatch,
    PlaybackOut,
    ProgressIn,
    clean_text,
)
from streamapp.api.views import can_edit, can_view, get_visible, item_out
from streamapp.errors import ApiError
from streamapp.models import Kind, MediaItem, Role, Status, User, Visibility, WatchHistory
from streamapp.signing import Signer

router = APIRouter(prefix="/api/items", tags=["catalog"])
ERRORS = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}}
# Deeper pages cost the database the rows before them on every request; nobody reads them.
MAX_OFFSET = 1000
# A search shorter than a trigram could not use the trigram indexes (migration 0003).
MIN_SEARCH_CHARS = 3


# The hot read paths (browse, playback URL) select the columns they show with SQLAlchemy Core
# on an autocommit connection, and write the JSON once through the response model's
# validator/serializer (pydantic-core): no ORM identity map or object hydration, no BEGIN/
# ROLLBACK round trips, no second validation of the return value. The response_model on the
# route still documents the shape in the OpenAPI schema.
_PAGE = TypeAdapter(ItemPage)
_PLAYBACK = TypeAdapter(PlaybackOut)
_ITEM_COLUMNS = (
    MediaItem.id,
    MediaItem.owner_id,
    MediaItem.kind,
    MediaItem.title,
    MediaItem.description,
    MediaItem.visibility,
    MediaItem.status,
    MediaItem.progress,
    MediaItem.attempts,
    MediaItem.failure_reason,
    MediaItem.duration_seconds,
    MediaItem.renditions,
    MediaItem.thumbnail_key,
    MediaItem.created_at,
    MediaItem.updated_at,
)
_PUBLIC = (MediaItem.visibility == Visibility.public) & (MediaItem.status == Status.ready)


@lru_cache(maxsize=16)
def _browse_statements(audience: str, search: bool, by_kind: bool) -> tuple[Select[Any], ...]:
    """The page query and its count for one shape of filter, built once per process.

    Building a SQLAlchemy statement (operator overloading, coercions, cache key) cost more CPU
    than running it; a prebuilt statement with bound parameters has its cache key memoized.
    Parameters: ``uid``, ``pattern``, ``kind``, ``limit``, ``offset``."""
    where = []
    if audience == "mine":
        where.append(MediaItem.owner_id == bindparam("uid"))
    elif audience == "anonymous":
        where.append(_PUBLIC)
    else:
        # The viewer's current role is read inside the same statement (PostgreSQL runs the
        # uncorrelated subquery once): one round trip per page. A deleted account sees what
        # an anonymous visitor sees.
        role = select(User.role).where(User.id == bindparam("uid")).scalar_subquery()
        where.append(or_(_PUBLIC, MediaItem.owner_id == bindparam("uid"), role == Role.admin))
    if search:
        pattern = bindparam("pattern", type_=String)
        where.append(
            or_(
                MediaItem.title.ilike(pattern, escape="\\"),
                MediaItem.description.ilike(pattern, escape="\\"),
            )
        )
    if by_kind:
        where.append(MediaItem.kind == bindparam("kind"))
    # The total rides along as a window count over the same filter: one query, not two.
    page = (
        select(*_ITEM_COLUMNS, func.count().over().label("total"))
        .where(*where)
        .order_by(MediaItem.created_at.desc(), MediaItem.id)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )
    count = select(func.count()).select_from(MediaItem).where(*where)
    return page, count


# The user's current role, the item and the user's resume position: one round trip.
# Parameters: ``uid``, ``item_id``.
_PLAYBACK_STATEMENT = (
    select(
        User.role,
        MediaItem.owner_id,
        MediaItem.visibility,
        MediaItem.status,
        MediaItem.hls_prefix,
        MediaItem.thumbnail_key,
        MediaItem.renditions,
        WatchHistory.position_seconds,
        WatchHistory.completed,
    )
    .select_from(User)
    .outerjoin(MediaItem, MediaItem.id == bindparam("item_id", type_=Uuid))
    .outerjoin(
        WatchHistory,
        (WatchHistory.item_id == MediaItem.id) & (WatchHistory.user_id == User.id),
    )
    .where(User.id == bindparam("uid"))
)


def _json(adapter: TypeAdapter[Any], data: dict[str, Any]) -> Response:
    body = adapter.dump_json(adapter.validate_python(data))
    return Response(content=body, media_type="application/json")


def _item_dict(row: Any, signer: Signer) -> dict[str, Any]:
    thumb = None
    if row.thumbnail_key and row.status == Status.ready:
        thumb = signer.object_url(row.thumbnail_key).url
    return {
        "id": row.id,
        "owner_id": row.owner_id,
        "kind": row.kind,
        "title": row.title,
        "description": row.description,
        "visibility": row.visibility,
        "status": row.status,
        "progress": round(row.progress, 4),
        "attempts": row.attempts,
        "failure_reason": row.failure_reason,
        "duration_seconds": row.duration_seconds,
        "renditions": row.renditions,
        "thumbnail_url": thumb,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@router.get(
    "",
    response_model=ItemPage,
    responses={401: {"model": ErrorOut}, 422: {"model": ErrorOut}, 429: {"model": ErrorOut}},
)
def browse(
    request: Request,
    settings: SettingsDep,
    signer: SignerDep,
    token: TokenDep,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description=f"Search title/description (at least {MIN_SEARCH_CHARS} characters; "
            "rate-limited per client)",
        ),
        AfterValidator(lambda v: v if v is None else clean_text(v)),
    ] = None,
    kind: Kind | None = None,
    mine: Annotated[bool, Query(description="Only my uploads, any status")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 24,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Response:
    text = (q or "").strip()
    search = bool(text)
    if search:
        if len(text) < MIN_SEARCH_CHARS:
            raise ApiError(
                422,
                "query_too_short",
                f"Search for at least {MIN_SEARCH_CHARS} characters.",
            )
        client = request.client.host if request.client else "unknown"
        wait = request.app.state.search_budget.take(client)
        if wait:
            raise ApiError(
                429,
                "too_many_searches",
                f"Too many searches; try again in {wait} s.",
                headers={"Retry-After": str(wait)},
                retry_after_seconds=wait,
            )
    user_id = session_user_id(settings, token)
    params: dict[str, Any] = {"uid": user_id, "limit": limit, "offset": offset}
    if search:
        params["pattern"] = _like(text)
    if kind is not None:
        params["kind"] = kind
    with db.read_connection(settings) as conn:
        if mine:
            user = viewer_for(settings, conn, token)
            if user is None:
                raise ApiError(401, "not_authenticated", "Log in to list your uploads.")
            audience = "mine"
        else:
            audience = "anonymous" if user_id is None else "user"
        page_query, count_query = _browse_statements(audience, search, kind is not None)
        rows = conn.execute(page_query, params).all()
        if rows:
            total = rows[0].total
        elif offset == 0:
            total = 0
        else:  # a page past the end still reports how many there are
            total = conn.scalar(count_query, params) or 0
    page = {
        "items": [_item_dict(row, signer) for row in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }
    return _json(_PAGE, page)


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
def playback(
    item_id: uuid.UUID, settings: SettingsDep, signer: SignerDep, token: TokenDep
) -> Response:
    user_id = session_user_id(settings, token)
    if user_id is None:
        raise ApiError(401, "not_authenticated", "Log in first (session missing or expired).")
    with db.read_connection(settings) as conn:
        item = conn.execute(_PLAYBACK_STATEMENT, {"uid": user_id, "item_id": item_id}).first()
    if item is None:  # the account is gone
        raise ApiError(401, "not_authenticated", "Log in first (session missing or expired).")
    # Someone else's private item answers exactly like a missing one: no existence leak.
    if item.owner_id is None or not can_view(item, Viewer(user_id, item.role)):
        raise ApiError(404, "item_not_found", "No such media item.")
    if item.status != Status.ready or not item.hls_prefix:
        raise ApiError(
            409,
            "not_ready",
            f"The item is not playable yet (status {item.status}).",
            item_status=item.status.value,
        )
    signed = signer.hls_url(item.hls_prefix, "master.m3u8")
    resume = 0.0
    if item.position_seconds is not None and not item.completed:
        resume = item.position_seconds
    grant = {
        "mode": signer.mode,
        "url": signed.url,
        "expires_at": signed.expires_at,
        "query": signed.query,
        "cookies": signed.cookies,
        "thumbnail_url": signer.object_url(item.thumbnail_key).url if item.thumbnail_key else None,
        "renditions": item.renditions,
        "resume_position_seconds": resume,
    }
    return _json(_PLAYBACK, grant)


@router.post(
    "/{item_id}/retry",
    response_model=ItemOut,
    responses={**ERRORS, 409: {"model": ErrorOut}, 429: {"model": ErrorOut}},
)
def retry(
    item_id: uuid.UUID, database: DbDep, settings: SettingsDep, signer: SignerDep, user: UserDep
) -> ItemOut:
    item = get_visible(database, item_id, user)
    if not can_edit(item, user):
        raise ApiError(403, "not_owner", "Only the uploader or an admin may retry this item.")
    if item.status != Status.failed:
        raise ApiError(409, "not_failed", "Only failed items can be retried.")
    if item.retries >= settings.retries_per_item:
        raise ApiError(
            409,
            "retry_limit",
            f"This item was retried {item.retries} times already; upload the file again.",
        )
    quotas.check_retry(database, settings, user.id)
    item.status, item.progress, item.attempts, item.failure_reason = Status.queued, 0.0, 0, None
    item.retries += 1
    quotas.record(database, user.id, quotas.RETRY)
    database.commit()
    jobs.enqueue(settings, jobs.Job(str(item.id), item.source_key, item.kind.value))
    return item_out(item, signer)
