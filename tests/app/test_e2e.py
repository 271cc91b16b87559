"""End to end: sign up, upload a video and a song, a worker transcodes, HLS lands in S3."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from streamapp.config import Settings

from tests.app.conftest import ReadyItems


def _get(aws: Callable[..., Any], bucket: str, key: str) -> bytes:
    return aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def _playlist_entries(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_video_and_song_become_ready(ready_items: ReadyItems) -> None:
    video, song = ready_items.video, ready_items.song
    assert video["status"] == "ready", video
    assert video["kind"] == "video" and song["kind"] == "audio"
    assert video["progress"] == 1.0
    assert [r["name"] for r in video["renditions"]] == ["240p", "144p"]
    assert [r["name"] for r in song["renditions"]] == ["a96k", "a48k"]
    assert abs(video["duration_seconds"] - 4.0) < 0.5
    assert video["thumbnail_url"].startswith("http://media.test/media/thumbs/")
    assert song["thumbnail_url"].endswith(".png") or ".png?" in song["thumbnail_url"]


def _attrs(line: str) -> dict[str, str]:
    """Attributes of an HLS tag line: KEY=value or KEY="quoted, value"."""
    found = re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1])
    return {key: value.strip('"') for key, value in found}


def test_every_rung_and_segment_is_in_s3(
    ready_items: ReadyItems, aws: Callable[..., Any], settings: Settings
) -> None:
    for item in (ready_items.video, ready_items.song):
        prefix = f"hls/{item['id']}"
        master = _get(aws, settings.media_bucket, f"{prefix}/master.m3u8").decode()
        assert "#EXT-X-STREAM-INF" in master
        rungs = _playlist_entries(master)
        assert rungs == [r["playlist"] for r in item["renditions"]]
        audio_groups = [_attrs(x) for x in master.splitlines() if x.startswith("#EXT-X-MEDIA:")]
        playlists = rungs + [group["URI"] for group in audio_groups]
        if item["kind"] == "video":
            # One AAC rendition shared by every video rung through an audio group.
            assert len(audio_groups) == 1, master
            group = audio_groups[0]
            assert group["TYPE"] == "AUDIO" and group["URI"] == "audio/index.m3u8", group
            assert group["DEFAULT"] == "YES" and group["AUTOSELECT"] == "YES", group
            lines = master.splitlines()
            for rendition in item["renditions"]:
                inf = _attrs(lines[lines.index(rendition["playlist"]) - 1])
                assert inf["AUDIO"] == group["GROUP-ID"], inf
                assert inf["RESOLUTION"] == f"{rendition['width']}x{rendition['height']}", inf
                assert inf["CODECS"].startswith("avc1.") and "mp4a.40.2" in inf["CODECS"], inf
                assert int(inf["BANDWIDTH"]) >= rendition["bandwidth"], (inf, rendition)
        else:
            assert audio_groups == [], master  # music: every AAC rung is its own variant
        segment_counts = set()
        for rung in playlists:
            playlist = _get(aws, settings.media_bucket, f"{prefix}/{rung}").decode()
            assert "#EXT-X-PLAYLIST-TYPE:VOD" in playlist and "#EXT-X-ENDLIST" in playlist
            segments = _playlist_entries(playlist)
            assert segments
            rung_dir = rung.rsplit("/", 1)[0]
            for segment in segments:
                head = aws("s3").head_object(
                    Bucket=settings.media_bucket, Key=f"{prefix}/{rung_dir}/{segment}"
                )
                assert head["ContentLength"] > 0
            if rung in rungs:
                segment_counts.add(len(segments))
        # Aligned keyframes: every rung is cut into the same number of segments.
        assert len(segment_counts) == 1
    # The source is kept for re-transcoding.
    keys = aws("s3").list_objects_v2(Bucket=settings.media_bucket, Prefix="sources/")
    assert keys["KeyCount"] >= 2


def _stream_types(data: bytes, tmp_path: Path) -> list[str]:
    segment = tmp_path / "segment.ts"
    segment.write_bytes(data)
    probe = ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "json"]
    out = subprocess.run(
        [*probe, str(segment)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return sorted(s["codec_type"] for s in json.loads(out.stdout)["streams"])


def test_video_rungs_share_one_audio_rendition(
    ready_items: ReadyItems, aws: Callable[..., Any], settings: Settings, tmp_path: Path
) -> None:
    """The audio is encoded once: video rungs carry video only, audio/ carries the AAC."""
    prefix = f"hls/{ready_items.video['id']}"
    for rendition in ready_items.video["renditions"]:
        rung_dir = rendition["playlist"].rsplit("/", 1)[0]
        data = _get(aws, settings.media_bucket, f"{prefix}/{rung_dir}/seg_00000.ts")
        assert _stream_types(data, tmp_path) == ["video"], rendition["name"]
    data = _get(aws, settings.media_bucket, f"{prefix}/audio/seg_00000.ts")
    assert _stream_types(data, tmp_path) == ["audio"]


def test_master_playlist_content_type(ready_items: ReadyItems, aws, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    head = aws("s3").head_object(
        Bucket=settings.media_bucket, Key=f"hls/{ready_items.video['id']}/master.m3u8"
    )
    assert head["ContentType"] == "application/vnd.apple.mpegurl"


def test_browse_search_history_and_preferences(client: TestClient, ready_items: ReadyItems) -> None:
    headers, video = ready_items.headers, ready_items.video
    viewer_headers = _viewer(client)
    found = client.get("/api/items", params={"q": "pattern"}, headers=viewer_headers).json()
    assert [i["id"] for i in found["items"]] == [video["id"]]
    music = client.get("/api/items", params={"kind": "audio"}).json()
    assert ready_items.song["id"] in [i["id"] for i in music["items"]]
    assert all(i["kind"] == "audio" for i in music["items"])
    mine = client.get("/api/items", params={"mine": "true"}, headers=headers).json()
    assert mine["total"] >= 2

    play = client.get(f"/api/items/{video['id']}/playback", headers=viewer_headers)
    assert play.status_code == 200, play.text
    assert play.json()["resume_position_seconds"] == 0
    resp = client.put(
        f"/api/items/{video['id']}/progress", json={"position_seconds": 2.5}, headers=viewer_headers
    )
    assert resp.status_code == 200, resp.text
    play = client.get(f"/api/items/{video['id']}/playback", headers=viewer_headers).json()
    assert play["resume_position_seconds"] == 2.5
    history = client.get("/api/me/history", headers=viewer_headers).json()
    assert history[0]["item"]["id"] == video["id"] and history[0]["position_seconds"] == 2.5

    assert (
        client.get("/api/me/preferences", headers=viewer_headers).json()["preferred_quality"]
        == "auto"
    )
    prefs = {"preferred_quality": "240p", "autoplay": False, "preferred_kind": "video"}
    assert client.put("/api/me/preferences", json=prefs, headers=viewer_headers).status_code == 200
    assert client.get("/api/me/preferences", headers=viewer_headers).json() == prefs


def test_login_logout_cycle(client: TestClient) -> None:
    from tests.app.conftest import bearer, signup

    headers, user = signup(client, password="a long passphrase")
    assert user["role"] == "viewer"
    login = client.post(
        "/api/auth/login", json={"email": user["email"], "password": "a long passphrase"}
    )
    assert login.status_code == 200
    token = bearer(login)
    client.cookies.clear()
    assert client.get("/api/me", headers=token).json()["email"] == user["email"]
    assert client.post("/api/auth/logout", headers=token).status_code == 204
    assert client.get("/api/me", headers=token).status_code == 401
    assert client.get("/api/me", headers=headers).status_code == 200  # other session lives on


def _viewer(client: TestClient) -> dict[str, str]:
    from tests.app.conftest import signup

    return signup(client)[0]
