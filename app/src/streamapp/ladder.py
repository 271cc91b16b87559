"""The HLS ladder: which rungs a source gets, and the ONE ffmpeg command that makes them all.

One decode feeds every rung through ``split``/``asplit``; every rung uses the same GOP and
forced keyframes at segment boundaries, so segments line up across rungs (ABR switching). The
poster frame (video) or waveform image (audio) is one more output of the same process.

Video: the rungs are scaled in cascade (each from the rung above it) and share ONE AAC
rendition through an HLS audio group, so the audio is encoded once, not once per rung:

    master.m3u8      #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_aud",...,URI="audio/index.m3u8"
                     #EXT-X-STREAM-INF:BANDWIDTH=..,RESOLUTION=..,CODECS="avc1..,mp4a.40.2",
                     AUDIO="group_aud" -> 1080p/index.m3u8, 720p/index.m3u8, ...
    <rung>/          video-only MPEG-TS segments
    audio/           audio-only MPEG-TS segments

Music: AAC rungs, each its own variant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from streamapp.config import Settings, VideoRung
from streamapp.probe import MediaInfo, input_options

THUMBNAIL_NAME = {"video": "poster.jpg", "audio": "waveform.png"}
VIDEO_AUDIO_KBPS = 128  # the AAC rendition every video rung shares


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
    audio_kbps = VIDEO_AUDIO_KBPS if info.has_audio else 0
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


AUDIO_RENDITION = "audio"  # directory of a video's shared audio rendition in the HLS tree


def command(
    settings: Settings,
    info: MediaInfo,
    source: str,
    out_dir: Path,
    rungs: list[Rendition],
    *,
    audio: bool = True,
    thumbnail: bool = True,
) -> list[str]:
    """The ffmpeg command for ``rungs`` (all of them: the worker's single process).

    ``audio``/``thumbnail`` leave out the shared audio rendition or the poster/waveform; only
    the benchmark's per-rung baseline uses them, to make each output exactly once too."""
    seg = settings.hls_segment_seconds
    thumb = str(out_dir / THUMBNAIL_NAME[info.kind])
    cmd = [settings.ffmpeg, "-hide_banner", "-nostdin", "-y", "-v", "error"]
    cmd += ["-progress", "pipe:1", "-nostats", *input_options(settings), "-i", source]
    if info.kind == "video":
        graph, maps, codec, streams = _video(settings, info, rungs, audio=audio, poster=thumbnail)
        thumb_out = ["-map", "[poster]", "-frames:v", "1", "-q:v", "3", "-update", "1", thumb]
    else:
        graph, maps, codec, streams = _audio(rungs, waveform=thumbnail)
        thumb_out = ["-map", "[wave]", "-frames:v", "1", "-update", "1", thumb]
    if graph:
        cmd += ["-filter_complex", ";".join(graph)]
    if settings.ffmpeg_threads:
        cmd += ["-threads", str(settings.ffmpeg_threads)]
    if streams:
        cmd += maps + codec
        cmd += ["-f", "hls", "-hls_time", str(seg), "-hls_playlist_type", "vod"]
        cmd += ["-hls_flags", "independent_segments", "-hls_segment_type", "mpegts"]
        cmd += ["-hls_segment_filename", str(out_dir / "%v" / "seg_%05d.ts")]
        cmd += ["-master_pl_name", "master.m3u8", "-var_stream_map", " ".join(streams)]
        cmd.append(str(out_dir / "%v" / "index.m3u8"))
    return cmd + (thumb_out if thumbnail else [])


def _video(
    settings: Settings, info: MediaInfo, rungs: list[Rendition], *, audio: bool, poster: bool
) -> tuple[list[str], list[str], list[str], list[str]]:
    """Video rungs, scaled in cascade (1080p -> 720p -> 480p -> 360p: each rung is scaled from
    the one above it, not from the source), plus ONE AAC rendition that every rung shares
    through an HLS audio group (``#EXT-X-MEDIA:TYPE=AUDIO``), instead of the same AAC
    encoded into every rung."""
    seg = settings.hls_segment_seconds
    gop = max(1, round(info.fps * seg))
    audio = audio and info.has_audio
    graph: list[str] = []
    maps: list[str] = []
    codec: list[str] = []
    streams: list[str] = []
    # One pixel format conversion for all rungs (a no-op for the usual yuv420p source).
    src = "[0:v]format=yuv420p"
    if poster:
        graph.append(f"{src},split=2[vsrc][vthumb]" if rungs else f"{src}[vthumb]")
        src = "[vsrc]"
        # Poster frame from 10 % into the video, past black intros; the trim window is short,
        # so the poster's scaler sees a handful of frames, not the rest of the video.
        at = round(min(info.duration * 0.1, 10.0), 2)
        window = round(max(1.0, 2 / max(info.fps, 0.1)), 2)
        graph.append(
            f"[vthumb]trim=start={at}:duration={window},setpts=PTS-STARTPTS,scale=640:-2[poster]"
        )
    width, height = info.width, info.height
    for i, r in enumerate(rungs):
        steps = [] if (r.width, r.height) == (width, height) else [f"scale={r.width}:{r.height}"]
        steps.append("setsar=1")
        last = i == len(rungs) - 1
        if not last:
            steps.append("split=2")
        chain = ",".join(steps)
        joined = f"{src}{chain}" if src.endswith("]") else f"{src},{chain}"
        graph.append(f"{joined}[v{i}o]{'' if last else f'[c{i}]'}")
        src, width, height = f"[c{i}]", r.width, r.height
        maps += ["-map", f"[v{i}o]"]
        codec += [f"-b:v:{i}", f"{r.video_kbps}k", f"-maxrate:v:{i}", f"{r.video_kbps * 1.1:.0f}k"]
        codec += [f"-bufsize:v:{i}", f"{r.video_kbps * 2}k"]
        streams.append(f"v:{i},agroup:aud,name:{r.name}" if audio else f"v:{i},name:{r.name}")
    if rungs:
        codec += ["-c:v", "libx264", "-preset", settings.x264_preset, "-profile:v", "main"]
        codec += ["-pix_fmt", "yuv420p", "-g", str(gop), "-keyint_min", str(gop)]
        codec += ["-sc_threshold", "0", "-force_key_frames", f"expr:gte(t,n_forced*{seg})"]
    if audio:
        maps += ["-map", "0:a:0"]
        codec += ["-c:a", "aac", "-b:a", f"{VIDEO_AUDIO_KBPS}k", "-ac", "2", "-ar", "48000"]
        group = ",agroup:aud,default:yes" if rungs else ""
        streams.append(f"a:0{group},name:{AUDIO_RENDITION}")
    return graph, maps, codec, streams


def _audio(
    rungs: list[Rendition], *, waveform: bool
) -> tuple[list[str], list[str], list[str], list[str]]:
    n = len(rungs)
    labels = "".join(f"[a{i}]" for i in range(n))
    graph = [f"[0:a:0]asplit={n + 1}{labels}[athumb]"] if waveform else []
    if waveform:
        graph.append("[athumb]showwavespic=s=640x160:split_channels=0:colors=0x4f8cc9[wave]")
    maps: list[str] = []
    codec: list[str] = []
    streams: list[str] = []
    for i, r in enumerate(rungs):
        maps += ["-map", f"[a{i}]" if waveform else "0:a:0"]
        codec += [f"-b:a:{i}", f"{r.audio_kbps}k"]
        streams.append(f"a:{i},name:{r.name}")
    codec += ["-c:a", "aac", "-ac", "2", "-ar", "44100"]
    return graph, maps, codec, streams


_MEDIA_AUDIO = re.compile(r"^#EXT-X-MEDIA:TYPE=AUDIO,(.*)$", re.MULTILINE)


def finish_master(out_dir: Path) -> None:
    """Complete ffmpeg's audio group entry the way Apple's HLS authoring spec asks for:
    ``AUTOSELECT=YES`` (with ``DEFAULT=YES``), ``CHANNELS`` and a readable ``NAME``."""
    master = out_dir / "master.m3u8"
    text = master.read_text()

    def fix(match: re.Match[str]) -> str:
        attrs = re.sub(r'NAME="[^"]*"', 'NAME="Audio"', match.group(1))
        if "AUTOSELECT=" not in attrs:
            attrs = attrs.replace("DEFAULT=YES", "DEFAULT=YES,AUTOSELECT=YES")
        if "CHANNELS=" not in attrs:
            attrs = attrs.replace(",URI=", ',CHANNELS="2",URI=')
        return f"#EXT-X-MEDIA:TYPE=AUDIO,{attrs}"

    master.write_text(_MEDIA_AUDIO.sub(fix, text))
