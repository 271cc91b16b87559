"""Upload: probe first, then S3, then the catalog row, then the job; undo on any failure.

Nothing is created before the file is known to be usable media, and each later step that
fails removes what the earlier ones made, so a refused or failed upload leaves no trace.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import AfterValidator
from sqlalchemy.exc import SQLAlchemyError

from streamapp import jobs, quotas, storage
from streamapp.api.deps import DbDep, SettingsDep, SignerDep, UploaderDep
from streamapp.api.schemas import ErrorOut, ItemOut, clean_text
from streamapp.api.views import item_out
from streamapp.config import Settings
from streamapp.errors import ApiError
from streamapp.models import Kind, MediaItem, Status, Visibility
from streamapp.probe import MediaInfo, ProbeError, probe

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/items", tags=["upload"])

_SUFFIX_OK = {
    ".mp4",
    ".m4v",
    ".mov",
    ".mkv",
    ".webm",
    ".ts",
    ".avi",
    ".mp3",
    ".m4a",
    ".aac",
    ".wav",
    ".flac",
    ".ogg",
    ".opus",
    ".mpg",
    ".mpeg",
}


def _spool(settings: Settings, upload: UploadFile) -> Path:
    """Copy the upload to a real file (ffprobe needs a path), enforcing the size limit."""
    suffix = Path(upload.filename or "").suffix.lower()
    fd, name = tempfile.mkstemp(
        prefix="upload-", suffix=suffix if suffix in _SUFFIX_OK else "", dir=settings.upload_tmp_dir
    )
    path = Path(name)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            upload.file.seek(0)
            while chunk := upload.file.read(1024 * 1024):
                size += len(chunk)
                if size > settings.max_upload_bytes:
                    raise ApiError(
                        413,
                        "file_too_large",
                        f"The file is larger than {settings.max_upload_bytes} bytes.",
                    )
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if size == 0:
        path.unlink(missing_ok=True)
        raise ApiError(400, "empty_file", "The uploaded file is empty.")
    return path


_probe_slots: dict[int, threading.BoundedSemaphore] = {}
_probe_slots_lock = threading.Lock()
# How long an upload waits for a probe slot before the API answers 503.
PROBE_WAIT_SECONDS = 10.0


def _probe_bounded(settings: Settings, path: Path) -> MediaInfo:
    """Probe with at most ``max_concurrent_probes`` ffprobe/ffmpeg runs in this process: a
    burst of hostile uploads gets 503 instead of a machine full of decoders."""
    with _probe_slots_lock:
        slots = _probe_slots.setdefault(
            settings.max_concurrent_probes,
            threading.BoundedSemaphore(settings.max_concurrent_probes),
        )
    if not slots.acquire(timeout=PROBE_WAIT_SECONDS):
        raise ApiError(503, "busy", "Too many uploads are being checked; try again shortly.")
    try:
        return probe(settings, str(path))
    except ProbeError as exc:
        status = 415 if exc.code == "unsupported_media" else 422
        raise ApiError(status, exc.code, exc.message) from exc
    finally:
        slots.release()


@router.post(
    "",
    status_code=201,
    response_model=ItemOut,
    responses={
        400: {"model": ErrorOut},
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        413: {"model": ErrorOut},
        415: {"model": ErrorOut},
        422: {"model": ErrorOut},
        429: {"model": ErrorOut},
        503: {"model": ErrorOut},
    },
)
def upload(
    file: Annotated[UploadFile, File(description="An audio or video file")],
    title: Annotated[str, Form(min_length=1, max_length=200), AfterValidator(clean_text)],
    user: UploaderDep,
    settings: SettingsDep,
    database: DbDep,
    signer: SignerDep,
    description: Annotated[str, Form(max_length=5000), AfterValidator(clean_text)] = "",
    visibility: Annotated[Visibility, Form()] = Visibility.public,
) -> ItemOut:
    if not title.strip():
        raise ApiError(422, "validation_error", "The title must not be blank.")
    path = _spool(settings, file)
    try:
        # Before the probe, storage and the job: what the quota is there to spare.
        quotas.check_upload(database, settings, user.id, path.stat().st_size)
        info = _probe_bounded(settings, path)
        item_id = uuid.uuid4()
        key = storage.source_key(settings, str(item_id), path.suffix)
        try:
            storage.upload_file(settings, path, key)
        except Exception as exc:
            log.exception("source upload failed")
            raise ApiError(
                503, "storage_unavailable", "Could not store the file; try again."
            ) from exc
        size = path.stat().st_size
    finally:
        path.unlink(missing_ok=True)
    item = MediaItem(
        id=item_id,
        owner_id=user.id,
        kind=Kind(info.kind),
        title=title.strip(),
        description=description,
        visibility=visibility,
        status=Status.queued,
        progress=0.0,
        attempts=0,
        duration_seconds=round(info.duration, 3),
        source_key=key,
        source_bytes=size,
        probe=info.summary(),
        renditions=[],
    )
    try:
        database.add(item)
        counted = quotas.record(database, user.id, quotas.UPLOAD, size)
        database.commit()
    except SQLAlchemyError:
        database.rollback()
        storage.delete_keys(settings, [key])
        raise
    try:
        jobs.enqueue(settings, jobs.Job(str(item_id), key, info.kind))
    except Exception as exc:
        log.exception("enqueue failed; undoing the upload")
        database.delete(item)
        quotas.forget(database, counted)  # an upload that did not happen costs nothing
        database.commit()
        storage.delete_keys(settings, [key])
        raise ApiError(503, "queue_unavailable", "Could not queue transcoding; try again.") from exc
    log.info("upload accepted", extra={"item_id": str(item_id), "kind": info.kind, "bytes": size})
    return item_out(item, signer)
