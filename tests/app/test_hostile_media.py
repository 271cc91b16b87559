"""Hostile uploads are refused before anything is stored, queued or transcoded.

ffmpeg detects a file's format from its content: a text HLS playlist named ``x.mp4`` is opened
as ``hls`` and its entries (local files here; URLs on builds with network protocols) are read as
the media; DASH manifests and concat lists work alike. Every probe and transcode now reads
uploads with the file protocol and the accepted containers only, and checks size, duration,
frame rate and stream count caps first (streamapp.probe).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from streamapp import ladder, transcode
from streamapp.config import Settings
from streamapp.probe import MediaInfo

from tests.app.conftest import State, upload


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=120)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("hostile")
    # A local MPEG-TS the playlists point at: what an attacker would have ffmpeg read (the HLS
    # demuxer follows a playlist entry naming an absolute local .ts path).
    secret = d / "secret.ts"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=s=64x64:r=10", "-t", "2", "-c:v", "libx264", str(secret))
    files = {
        "hls playlist": d / "playlist.mp4",
        "dash manifest": d / "manifest.mp4",
        "concat list": d / "list.mp4",
        "16K frame": d / "frame.avi",
        "hours-long silent video": d / "long.mp4",
    }
    files["hls playlist"].write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nfile://{secret}\n#EXT-X-ENDLIST\n"
    )
    files["dash manifest"].write_text(
        '<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
        'mediaPresentationDuration="PT2S" minBufferTime="PT2S" '
        'profiles="urn:mpeg:dash:profile:full:2011"><Period><AdaptationSet mimeType="video/mp2t">'
        f'<Representation id="1" bandwidth="1000"><BaseURL>file://{secret}</BaseURL>'
        "</Representation></AdaptationSet></Period></MPD>\n"
    )
    files["concat list"].write_text(f"ffconcat version 1.0\nfile '{secret}'\n")
    # One 15360x8640 frame (a small file: flat grey, worst JPEG quality).
    _ffmpeg(
        "-f", "lavfi", "-i", "color=c=gray:s=15360x8640", "-frames:v", "1",
        "-c:v", "mjpeg", "-q:v", "31", str(files["16K frame"]),
    )  # fmt: skip
    # Five hours of a 16x16 black picture at 1 frame a second, no sound: a few hundred KB.
    _ffmpeg(
        "-f", "lavfi", "-i", "color=c=black:s=16x16:r=1", "-t", "18000",
        "-c:v", "libx264", "-preset", "ultrafast", str(files["hours-long silent video"]),
    )  # fmt: skip
    return files


@pytest.fixture
def unchanged(state: Callable[[], State]) -> Iterator[None]:
    before = state()
    yield
    assert state() == before, "a refused upload left something in S3, the catalog or the queue"


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("hls playlist", "playlists and lists"),
        ("dash manifest", "playlists and lists"),
        ("concat list", "playlists and lists"),
        ("16K frame", "15360x8640; at most 3840x2160"),
        ("hours-long silent video", "5.0 h; at most 3 h"),
    ],
)
def test_hostile_upload_is_refused_with_a_clear_error(
    client: TestClient,
    uploader: dict[str, str],
    hostile: dict[str, Path],
    unchanged: None,
    name: str,
    words: str,
) -> None:
    resp = upload(client, uploader, hostile[name], name)
    assert resp.status_code == 415, resp.text
    body = resp.json()
    assert body["code"] == "unsupported_media", body
    assert words in body["message"], body


def test_every_ffmpeg_input_of_the_ladder_is_guarded(settings: Settings, tmp_path: Path) -> None:
    """The worker's transcode reads its source with the same whitelists as the probe."""
    info = MediaInfo(kind="video", duration=10, width=640, height=360, fps=25, has_audio=True)
    rungs = ladder.plan(settings, info)
    cmd = ladder.command(settings, info, "/work/source.mp4", tmp_path, rungs)
    at = cmd.index("-i")
    assert cmd[at - 4 : at] == [
        "-protocol_whitelist",
        "file",
        "-format_whitelist",
        settings.accepted_formats,
    ]
    assert "hls" not in settings.accepted_formats.split(",")


def test_a_ladder_that_outgrows_memory_is_killed_before_the_worker(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ladder's ffmpeg shares the worker unit's MemoryMax: the OOM killer must take it, not
    the worker (which then fails the job with a clear error instead of dying mid-job)."""
    seen = tmp_path / "oom_score_adj"
    # Stands in for ffmpeg: records what the kernel would read, then dies as the OOM killer does.
    stand_in = ["sh", "-c", f'cat /proc/self/oom_score_adj > {seen}; kill -9 "$$"']
    monkeypatch.setattr(transcode, "command", lambda *_args: stand_in)
    info = MediaInfo(kind="audio", duration=10, width=0, height=0, fps=0, has_audio=True)
    with pytest.raises(transcode.TranscodeError, match="out of memory"):
        transcode.run_ladder(settings, info, tmp_path / "source", tmp_path, [], lambda _: None)
    assert seen.read_text().strip() == "1000"
    assert Path("/proc/self/oom_score_adj").read_text().strip() != "1000"
