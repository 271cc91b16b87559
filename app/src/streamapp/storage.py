"""S3 layout of a media item and the helpers that move files in and out.

The prefixes are settings (the provisioning's ``media_prefixes``, defaults shown):

sources/<item id>/source<ext>     the upload, kept for re-transcoding (never deleted on failure)
hls/<item id>/master.m3u8         HLS master playlist
hls/<item id>/<rung>/...          rung playlists and segments
thumbs/<item id>.jpg|.png         poster frame (video) or waveform (audio)
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from streamapp.aws import client
from streamapp.config import Settings

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".aac": "audio/aac",
    ".jpg": "image/jpeg",
    ".png": "image/png",
}


def source_key(settings: Settings, item_id: str, suffix: str) -> str:
    return f"{settings.source_prefix}{item_id}/source{suffix}"


def hls_prefix(settings: Settings, item_id: str) -> str:
    return f"{settings.hls_prefix}{item_id}"


def thumbnail_key(settings: Settings, item_id: str, name: str) -> str:
    return f"{settings.thumbs_prefix}{item_id}{Path(name).suffix}"


def content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def upload_file(settings: Settings, path: Path, key: str, *, cache: str | None = None) -> None:
    extra = {"ContentType": content_type(path.name)}
    if cache:
        extra["CacheControl"] = cache
    client(settings, "s3").upload_file(str(path), settings.media_bucket, key, ExtraArgs=extra)


def upload_tree(settings: Settings, root: Path, prefix: str) -> list[str]:
    keys = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(root).as_posix()}"
        # VOD output never changes once written: let CDNs and players cache it.
        upload_file(settings, path, key, cache="public, max-age=31536000, immutable")
        keys.append(key)
    return keys


def download(settings: Settings, key: str, path: Path) -> None:
    client(settings, "s3").download_file(settings.media_bucket, key, str(path))


def list_keys(settings: Settings, prefix: str) -> list[str]:
    s3 = client(settings, "s3")
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=settings.media_bucket, Prefix=prefix
    ):
        keys += [obj["Key"] for obj in page.get("Contents", [])]
    return keys


def delete_keys(settings: Settings, keys: list[str]) -> None:
    s3 = client(settings, "s3")
    for start in range(0, len(keys), 1000):
        batch = [{"Key": k} for k in keys[start : start + 1000]]
        if batch:
            s3.delete_objects(Bucket=settings.media_bucket, Delete={"Objects": batch})


def delete_prefix(settings: Settings, prefix: str) -> None:
    delete_keys(settings, list_keys(settings, prefix.rstrip("/") + "/"))
