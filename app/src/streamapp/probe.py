"""Is an uploaded file audio or video we can transcode? ffprobe, then a short trial decode.

Uploads are hostile. ffmpeg detects a file's format from its content, whatever its name: a text
HLS playlist named ``x.mp4`` is opened as ``hls`` and its entries (``file:///etc/...``, or URLs
on builds with network protocols) are read as media, and DASH manifests and concat lists work
alike. So every ffmpeg/ffprobe that reads an upload gets ``input_options``: the file protocol
only, and only the container formats we accept (never a playlist or list format); and a probed
file must be within the size, duration, frame rate and stream count caps before anything is
stored or transcoded. Each probe's tool runs in a cgroup of its own where the process has a
delegated one (streamapp.cgroups), and under an address-space limit either way.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from typing import Any

from streamapp import cgroups
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


def input_options(settings: Settings) -> list[str]:
    """Options for every ``-i`` of an upload: local files only, accepted containers only."""
    return ["-protocol_whitelist", "file", "-format_whitelist", settings.accepted_formats]


def _limited(settings: Settings, argv: list[str]) -> list[str]:
    """``argv`` under the probe's address-space limit (prlimit: util-linux, always on Debian)."""
    if not settings.probe_memory_limit:
        return argv
    return ["prlimit", f"--as={settings.probe_memory_limit}", "--", *argv]


def _run_confined(settings: Settings, argv: list[str]) -> subprocess.CompletedProcess[bytes]:
    """Run a probe's tool on an upload in a cgroup of its own (streamapp.cgroups: memory.max
    is the probe's memory limit), under its address-space limit either way."""
    with cgroups.child(cgroups.limits(settings, settings.probe_memory_limit)) as media:
        proc = subprocess.run(
            media.wrap(_limited(settings, argv)),
            capture_output=True,
            timeout=settings.probe_timeout_seconds,
            check=False,
        )
        media.check_joined(proc.returncode, proc.stderr)
    if media.oom_killed:
        raise ProbeError(
            "unreadable_media",
            "The file needs more memory to read than a probe may use "
            f"({settings.probe_memory_limit // 1024**2} MiB).",
        )
    return proc


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


def _declared_fps(stream: dict[str, Any]) -> float:
    """The frame rate the stream declares (unlike ``_fps``, not clamped to a sane value)."""
    num, _, den = str(
        stream.get("r_frame_rate") or stream.get("avg_frame_rate") or "0/1"
    ).partition("/")
    try:
        return float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return 0.0


def probe(settings: Settings, path: str) -> MediaInfo:
    try:
        proc = _run_confined(
            settings,
            [
                settings.ffprobe,
                "-v",
                "error",
                *input_options(settings),
                "-print_format",
                "json",
                "-show_format",
                "-show_streams",
                path,
            ],
        )
    except subprocess.TimeoutExpired as exc:
        raise ProbeError("unreadable_media", "The file could not be read in time.") from exc
    if proc.returncode != 0:
        if b"not on whitelist" in proc.stderr:
            raise ProbeError(
                "unsupported_media",
                "The file is not in an accepted audio or video container "
                f"({settings.accepted_formats.replace(',', ', ')}); playlists and lists "
                "(HLS, DASH, concat) are refused.",
            )
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
    if len(streams) > settings.max_streams:
        raise ProbeError(
            "unsupported_media",
            f"The file has {len(streams)} streams; at most {settings.max_streams} are accepted.",
        )
    if fmt.get("format_name", "") in _STILL_FORMATS:
        raise ProbeError("unsupported_media", "Still images and text are not audio or video.")
    try:
        duration = float(fmt.get("duration") or 0)
    except ValueError:
        duration = 0.0
    if duration <= 0:
        raise ProbeError("unreadable_media", "The media has no measurable duration.")
    if duration > settings.max_duration_seconds:
        raise ProbeError(
            "unsupported_media",
            f"The media lasts {duration / 3600:.1f} h; at most "
            f"{settings.max_duration_seconds / 3600:g} h are accepted.",
        )
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
        long_side, short_side = max(info.width, info.height), min(info.width, info.height)
        if long_side > settings.max_width or short_side > settings.max_height:
            raise ProbeError(
                "unsupported_media",
                f"The picture is {info.width}x{info.height}; at most "
                f"{settings.max_width}x{settings.max_height} is accepted.",
            )
        rate = _declared_fps(videos[0])
        if rate > settings.max_fps:
            raise ProbeError(
                "unsupported_media",
                f"The video has {rate:g} frames a second; at most {settings.max_fps:g}.",
            )
    _trial_decode(settings, path, info)
    return info


def _trial_decode(settings: Settings, path: str, info: MediaInfo) -> None:
    """Decode the first seconds: catches files whose headers are fine but data is not."""
    try:
        proc = _run_confined(
            settings,
            [
                settings.ffmpeg,
                "-v",
                "error",
                "-xerror",
                "-nostdin",
                "-t",
                "2",
                *input_options(settings),
                "-i",
                path,
                "-map",
                "0:v:0?" if info.kind == "video" else "0:a:0",
                "-f",
                "null",
                "-",
            ],
        )
    except subprocess.TimeoutExpired as exc:
        raise ProbeError("unreadable_media", "The file could not be decoded in time.") from exc
    if proc.returncode != 0:
        raise ProbeError(
            "unreadable_media", f"The media could not be decoded: {_reason(proc.stderr, path)}"
        )
