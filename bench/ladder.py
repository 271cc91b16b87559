"""Ladder speed: the app's single-decode multi-output ffmpeg command versus one ffmpeg process
per rung (same rungs, same encoder settings, same outputs, run one after the other like a
naive worker), on the same generated input, in one run.

    .venv/bin/python bench/ladder.py [--seconds 24] [--resolution 1920x1080] [--fps 30] [--rounds 2]

Both ladders are built by the app's own code (``streamapp.ladder.plan``/``command``) and the
single-process one is run by the worker's ``streamapp.transcode.run_ladder``. The per-rung
baseline makes exactly the same outputs, each once: one process per video rung (the first
also makes the poster), plus one for the shared AAC audio rendition (it demuxes the source
and decodes only its audio). The encoder and filter settings are the app's, on both sides;
x264 picks its own thread count on both. Every output is checked: valid VOD HLS, decodable,
right size and length, keyframes and segment boundaries aligned across rungs, and for the
single-process ladder the master playlist's audio group, CODECS, BANDWIDTH and RESOLUTION.
Rounds alternate the order; the best wall time of each side counts. Exits non-zero if the
speedup is below ``--min-speedup``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "app" / "src"))

from streamapp.config import Settings  # noqa: E402
from streamapp.ladder import AUDIO_RENDITION, THUMBNAIL_NAME, Rendition, command, plan  # noqa: E402
from streamapp.probe import MediaInfo, probe  # noqa: E402
from streamapp.transcode import run_ladder  # noqa: E402


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def generate(path: Path, seconds: int, resolution: str, fps: int) -> float:
    """A camera-like upload: testsrc2 + a sine tone, H.264 high profile ~8 Mb/s, AAC."""
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error"]
    cmd += ["-f", "lavfi", "-i", f"testsrc2=size={resolution}:rate={fps}:duration={seconds}"]
    cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-b:v", "8M", "-pix_fmt", "yuv420p"]
    cmd += ["-g", str(fps * 2), "-c:a", "aac", "-b:a", "192k", "-ac", "2", "-shortest", str(path)]
    started = time.monotonic()
    subprocess.run(cmd, check=True, timeout=600)
    return time.monotonic() - started


def ffprobe_json(path: Path, *args: str) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", *args, str(path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return json.loads(out.stdout)


def keyframe_times(playlist: Path) -> list[float]:
    """Presentation times of the video keyframes over the whole rung."""
    data = ffprobe_json(
        playlist,
        "-select_streams",
        "v:0",
        "-skip_frame",
        "nokey",
        "-show_entries",
        "frame=pts_time",
    )
    return [round(float(f["pts_time"]), 2) for f in data.get("frames", []) if "pts_time" in f]


def check_hls(rung_dir: Path, duration: float, size: tuple[int, int] | None) -> list[float]:
    """Valid VOD playlist, decodable, right size (video) and length. Returns segment ends."""
    playlist = rung_dir / "index.m3u8"
    text = playlist.read_text()
    problems = []
    if "#EXT-X-PLAYLIST-TYPE:VOD" not in text or "#EXT-X-ENDLIST" not in text:
        problems.append("not a VOD playlist")
    segments = [line for line in text.splitlines() if line and not line.startswith("#")]
    if not segments or not all((rung_dir / s).is_file() for s in segments):
        problems.append("missing segments")
    info = ffprobe_json(playlist, "-show_streams", "-show_format")
    video = [s for s in info.get("streams", []) if s.get("codec_type") == "video"]
    audio = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    if size is None:
        if video or not audio:
            problems.append("not an audio-only rendition")
    elif not video or (video[0]["width"], video[0]["height"]) != size:
        problems.append(f"video stream is not {size[0]}x{size[1]}")
    elif audio:
        problems.append("audio in a video rung (it belongs in the shared audio rendition)")
    got = float(info.get("format", {}).get("duration", 0))
    if abs(got - duration) > 1.0:
        problems.append(f"duration {got:.2f}s, source {duration:.2f}s")
    if problems:
        raise SystemExit(f"FAIL: {rung_dir} is not valid HLS: {'; '.join(problems)}")
    # Segment boundaries: the cumulative EXTINF durations (aligned rungs share them).
    bounds, at = [], 0.0
    for line in text.splitlines():
        if line.startswith("#EXTINF:"):
            at += float(line[8:].split(",")[0])
            bounds.append(round(at, 1))
    return bounds


def check_master(out: Path, rungs: list[Rendition]) -> None:
    """The master playlist a player (hls.js, Safari) needs: one audio group with the shared
    AAC rendition, and per rung BANDWIDTH, RESOLUTION, CODECS (video + audio) and AUDIO."""
    lines = (out / "master.m3u8").read_text().splitlines()
    media = [x for x in lines if x.startswith("#EXT-X-MEDIA:TYPE=AUDIO")]
    problems = []
    if len(media) != 1 or f'URI="{AUDIO_RENDITION}/index.m3u8"' not in media[0]:
        problems.append(f"no single audio rendition in the audio group: {media}")
    elif "DEFAULT=YES" not in media[0] or "AUTOSELECT=YES" not in media[0]:
        problems.append(f"audio rendition is not the default: {media[0]}")
    group = media[0].split('GROUP-ID="')[1].split('"')[0] if media else "?"
    for rung in rungs:
        at = lines.index(f"{rung.name}/index.m3u8") if f"{rung.name}/index.m3u8" in lines else -1
        inf = lines[at - 1] if at > 0 else ""
        want = [
            "#EXT-X-STREAM-INF:",
            "BANDWIDTH=",
            f"RESOLUTION={rung.width}x{rung.height}",
            'CODECS="avc1.',
            "mp4a.40.2",
            f'AUDIO="{group}"',
        ]
        missing = [w for w in want if w not in inf]
        if missing:
            problems.append(f"{rung.name}: {missing} in {inf!r}")
    if problems:
        raise SystemExit(f"FAIL: master playlist: {'; '.join(problems)}")


def check_ladder(out: Path, rungs: list[Rendition], duration: float, master: bool) -> None:
    if master:
        check_master(out, rungs)
    if not (out / THUMBNAIL_NAME["video"]).is_file():
        raise SystemExit(f"FAIL: no poster in {out}")
    check_hls(out / AUDIO_RENDITION, duration, None)
    bounds = {r.name: check_hls(out / r.name, duration, (r.width, r.height)) for r in rungs}
    keys = {r.name: keyframe_times(out / r.name / "index.m3u8") for r in rungs}
    if len({tuple(b) for b in bounds.values()}) != 1:
        raise SystemExit(f"FAIL: segment boundaries differ between rungs in {out}: {bounds}")
    if len({tuple(k) for k in keys.values()}) != 1:
        raise SystemExit(f"FAIL: keyframes not aligned between rungs in {out}")


def per_rung(
    settings: Settings, info: MediaInfo, source: Path, out: Path, rungs: list[Rendition]
) -> float:
    """The naive worker: the app's own commands, one ffmpeg process per rendition, one after
    the other: each video rung (the first also makes the poster), then the shared audio."""
    jobs: list[tuple[str, list[str]]] = []
    for i, rung in enumerate(rungs):
        cmd = command(
            settings, info, str(source), out / rung.name, [rung], audio=False, thumbnail=i == 0
        )
        jobs.append((rung.name, cmd))
    audio = command(settings, info, str(source), out / AUDIO_RENDITION, [], thumbnail=False)
    jobs.append((AUDIO_RENDITION, audio))
    started = time.monotonic()
    for name, cmd in jobs:
        (out / name / name).mkdir(parents=True, exist_ok=True)
        subprocess.run(
            cmd, check=True, stdout=subprocess.DEVNULL, timeout=settings.transcode_timeout_seconds
        )
    elapsed = time.monotonic() - started
    # Flatten <name>/<name>/ to the single-process layout for the checks.
    for name, _ in jobs:
        for item in (out / name / name).iterdir():
            item.rename(out / name / item.name)
        (out / name / name).rmdir()
        poster = out / name / THUMBNAIL_NAME["video"]
        if poster.exists():
            poster.rename(out / poster.name)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=24, help="length of the test input")
    parser.add_argument("--resolution", default="1920x1080", help="WxH of the test input")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2, help="measure each ladder N times")
    parser.add_argument("--min-speedup", type=float, default=1.5)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    settings = Settings()
    work = Path(tempfile.mkdtemp(prefix="bench-ladder-"))
    try:
        source = work / "source.mp4"
        gen = generate(source, args.seconds, args.resolution, args.fps)
        info = probe(settings, str(source))
        rungs = plan(settings, info)
        print(
            f"input: {args.resolution}@{args.fps} {info.duration:.1f}s "
            f"(generated in {gen:.1f}s); rungs: {', '.join(r.name for r in rungs)}; "
            f"preset {settings.x264_preset}, threads {settings.ffmpeg_threads or 'auto'}; "
            f"{os.cpu_count()} cpus"
        )
        single_times, naive_times = [], []
        cpu: dict[str, list[float]] = {"single": [], "naive": []}
        for n in range(args.rounds):
            # Alternate the order so drifting background load hurts neither side more.
            order = ("single", "naive") if n % 2 == 0 else ("naive", "single")
            for which in order:
                out = work / f"{which}-{n}"
                before, cpu0 = loadavg(), children_cpu()
                if which == "single":
                    took = run_ladder(settings, info, source, out, rungs, lambda _: None)
                    single_times.append(took)
                else:
                    took = per_rung(settings, info, source, out, rungs)
                    naive_times.append(took)
                cpu[which].append(children_cpu() - cpu0)
                print(
                    f"  round {n + 1} {which:6s}: {took:6.1f}s wall, "
                    f"{info.duration / took:.2f}x realtime, {cpu[which][-1]:.1f} CPU-s "
                    f"(load {before} -> {loadavg()})",
                    flush=True,
                )
                check_ladder(out, rungs, info.duration, master=which == "single")
                shutil.rmtree(out)
        single, naive = min(single_times), min(naive_times)
        speedup = naive / single
        print(
            f"single-decode ladder (1 ffmpeg):     {single:6.1f}s  {info.duration / single:.2f}x rt"
        )
        print(
            f"per-rung ladder ({len(rungs) + 1} ffmpeg runs): {naive:6.1f}s  "
            f"{info.duration / naive:.2f}x rt"
        )
        cpu_ratio = min(cpu["naive"]) / min(cpu["single"])
        print(f"speedup: {speedup:.2f}x wall (bar >= {args.min_speedup}x); outputs valid HLS")
        print(
            f"CPU time: {min(cpu['single']):.1f} s vs {min(cpu['naive']):.1f} s = {cpu_ratio:.2f}x "
            "less work (independent of other load on the machine)"
        )
        print(f"load average now: {loadavg()}")
        if speedup < args.min_speedup:
            print(f"FAIL: speedup {speedup:.2f}x < {args.min_speedup}x", file=sys.stderr)
            return 1
        return 0
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
