"""The HLS ladder: which rungs a source gets, and the ONE ffmpeg command that makes them all.

One decode feeds every rung through ``split``/``asplit``; every rung uses the same GOP and
forced keyframes at segment boundaries, so segments line up across rungs (ABR switching). The
poster frame (video) or waveform image (audio) is one more output of the same process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streamapp.config import Settings, VideoRung
from streamapp.probe import MediaInfo

THUMBNAIL_NAME = {"video": "poster.jpg", "audio": "waveform.png"}


@dataclass(frozen=True)
class Rendition:
    name: str
    kind: str
    width: int
    height: int
    video_kbps: int
    audio_kbps: int

    @property
    def bandwidth(self) -> int:
        return (self.video_kbps + self.audio_kbps) * 1000

    def as_dict(self) -> dict[str, int | str]:
        return {
            "name": self.name,
            "kind": self.kind,
            "width": self.width,
            "height": self.height,
            "video_kbps": self.video_kbps,
            "audio_kbps": self.audio_kbps,
            "bandwidth": self.bandwidth,
            "playlist": f"{self.name}/index.m3u8",
        }


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def plan(settings: Settings, info: MediaInfo) -> list[Rendition]:
    """Rungs the source allows: never upscale; a small source gets one rung at its own size."""
    if info.kind == "audio":
        return [Rendition(r.name, "audio", 0, 0, 0, r.kbps) for r in settings.audio_ladder()]
    ladder = settings.video_ladder()
    fitting = [r for r in ladder if r.height <= info.height] or [
        VideoRung(info.height, ladder[-1].video_kbps)
    ]
    audio_kbps = 128 if info.has_audio else 0
    return [
        Rendition(
            r.name,
            "video",
            _even(info.width * r.height / info.height),
            _even(r.height),
            r.video_kbps,
            audio_kbps,
        )
        for r in fitting
    ]


def command(
    settings: Settings, info: MediaInfo, source: str, out_dir: Path, rungs: list[Rendition]
) -> list[str]:
    seg = settings.hls_segment_seconds
    thumb = str(out_dir / THUMBNAIL_NAME[info.kind])
    cmd = [settings.ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error"]
    cmd += ["-progress", "pipe:1", "-nostats", "-i", source]
    n = len(rungs)
    maps: list[str] = []
    codec: list[str] = []
    streams: list[str] = []
    if info.kind == "video":
        gop = max(1, round(info.fps * seg))
        labels = "".join(f"[v{i}]" for i in range(n))
        graph = [f"[0:v]split={n + 1}{labels}[vthumb]"]
        graph += [
            f"[v{i}]scale={r.width}:{r.height}:force_original_aspect_ratio=disable,setsar=1[v{i}o]"
            for i, r in enumerate(rungs)
        ]
        # Poster frame from 10 % into the video, past black intros.
        at = round(min(info.duration * 0.1, 10.0), 2)
        graph.append(f"[vthumb]trim=start={at},setpts=PTS-STARTPTS,scale=640:-2[poster]")
        for i, r in enumerate(rungs):
            maps += ["-map", f"[v{i}o]"]
            if info.has_audio:
                maps += ["-map", "0:a:0"]
            codec += [
                f"-b:v:{i}",
                f"{r.video_kbps}k",
                f"-maxrate:v:{i}",
                f"{r.video_kbps * 1.1:.0f}k",
            ]
            codec += [f"-bufsize:v:{i}", f"{r.video_kbps * 2}k"]
            streams.append(
                f"v:{i},a:{i},name:{r.name}" if info.has_audio else f"v:{i},name:{r.name}"
            )
        codec += ["-c:v", "libx264", "-preset", settings.x264_preset, "-profile:v", "main"]
        codec += ["-pix_fmt", "yuv420p", "-g", str(gop), "-keyint_min", str(gop)]
        codec += ["-sc_threshold", "0", "-force_key_frames", f"expr:gte(t,n_forced*{seg})"]
        if info.has_audio:
            codec += ["-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000"]
        thumb_out = ["-map", "[poster]", "-frames:v", "1", "-q:v", "3", "-update", "1", thumb]
    else:
        labels = "".join(f"[a{i}]" for i in range(n))
        graph = [f"[0:a:0]asplit={n + 1}{labels}[athumb]"]
        graph.append("[athumb]showwavespic=s=640x160:split_channels=0:colors=0x4f8cc9[wave]")
        for i, r in enumerate(rungs):
            maps += ["-map", f"[a{i}]"]
            codec += [f"-b:a:{i}", f"{r.audio_kbps}k"]
            streams.append(f"a:{i},name:{r.name}")
        codec += ["-c:a", "aac", "-ac", "2", "-ar", "44100"]
        thumb_out = ["-map", "[wave]", "-frames:v", "1", "-update", "1", thumb]
    cmd += ["-filter_complex", ";".join(graph)]
    if settings.ffmpeg_threads:
        cmd += ["-threads", str(settings.ffmpeg_threads)]
    cmd += maps + codec
    cmd += ["-f", "hls", "-hls_time", str(seg), "-hls_playlist_type", "vod"]
    cmd += ["-hls_flags", "independent_segments", "-hls_segment_type", "mpegts"]
    cmd += ["-hls_segment_filename", str(out_dir / "%v" / "seg_%05d.ts")]
    cmd += ["-master_pl_name", "master.m3u8", "-var_stream_map", " ".join(streams)]
    cmd.append(str(out_dir / "%v" / "index.m3u8"))
    return cmd + thumb_out
