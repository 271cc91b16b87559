"""Is an uploaded file audio or video we can transcode? ffprobe, then a short trial decode."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from typing import Any

from streamapp.config import Settings


class ProbeError(Exception):
    """The file is not usable media; ``code`` is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class MediaInfo:
    kind: str  # "video" or "audio"
    duration: float
    width: int = 0
    height: int = 0
    fps: float = 0.0
    has_audio: bool = False
    format_name: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "duration": self.duration,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "has_audio": self.has_audio,
            "format": self.format_name,
        }


_STILL_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "gif", "tty"}


def _reason(stderr: bytes, path: str) -> str:
    # The last line says why; the temporary file name means nothing to the uploader.
    lines = stderr.decode(errors="replace").strip().splitlines()
    return (lines[-1] if lines else "unknown error").replace(f"{path}: ", "").replace(path, "file")


def _fps(stream: dict[str, Any]) -> float:
    for key in ("avg_frame_rate", "r_frame_rate"):
        num, _, den = str(stream.get(key, "0/0")).partition("/")
        try:
            value = float(num) / float(den or 1)
        except (ValueError, ZeroDivisionError):
            continue
        if 0 < value <= 240:
            return value
    return 25.0


def probe(settings: Settings, path: str) -> MediaInfo:
    try:
        proc = subprocess.run(
            [
                settings.ffprobe,
                "-v",
                "error",
                "-print_format",
                "json",
                "-show_format",
                "-show_streams",
                path,
            ],
            capture_output=True,
            timeout=settings.probe_timeout_seconds,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ProbeError("unreadable_media", "The file could not be read in time.") from exc
    if proc.returncode != 0:
        raise ProbeError(
            "unreadable_media", f"The file is not readable media: {_reason(proc.stderr, path)}"
        )
    data = json.loads(proc.stdout or b"{}")
    streams = data.get("streams", [])
    fmt = data.get("format", {})
    # Cover art in audio files is a video stream flagged attached_pic: it is still audio.
    videos = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    if not videos and not audios:
        raise ProbeError("unsupported_media", "The file has no audio or video stream.")
    if fmt.get("format_name", "") in _STILL_FORMATS:
        raise ProbeError("unsupported_media", "Still images and text are not audio or video.")
    try:
        duration = float(fmt.get("duration") or 0)
    except ValueError:
        duration = 0.0
    if duration <= 0:
        raise ProbeError("unreadable_media", "The media has no measurable duration.")
    info = MediaInfo(
        kind="video" if videos else "audio",
        duration=duration,
        has_audio=bool(audios),
        format_name=str(fmt.get("format_name", "")),
        raw={"format": fmt, "streams": streams},
    )
    if videos:
        info.width = int(videos[0].get("width") or 0)
        info.height = int(videos[0].get("height") or 0)
        info.fps = _fps(videos[0])
        if info.width <= 0 or info.height <= 0:
            raise ProbeError("unreadable_media", "The video stream has no picture size.")
    _trial_decode(settings, path, info)
    return info


def _trial_decode(settings: Settings, path: str, info: MediaInfo) -> None:
    """Decode the first seconds: catches files whose headers are fine but data is not."""
    try:
        proc = subprocess.run(
            [
                settings.ffmpeg,
                "-v",
                "error",
                "-xerror",
                "-nostdin",
                "-t",
                "2",
                "-i",
                path,
                "-map",
                "0:v:0?" if info.kind == "video" else "0:a:0",
                "-f",
                "null",
                "-",
            ],
            capture_output=True,
            timeout=settings.probe_timeout_seconds,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ProbeError("unreadable_media", "The file could not be decoded in time.") from exc
    if proc.returncode != 0:
        raise ProbeError(
            "unreadable_media", f"The media could not be decoded: {_reason(proc.stderr, path)}"
        )
