"""The local signed-URL contract, checked by a REAL nginx proxying to the emulator's S3."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import urljoin

import pytest
from fastapi.testclient import TestClient
from streamapp.config import Settings
from streamapp.signing import LocalSigner

from local.emulator import Emulator
from tests.app import nginx as nginx_harness
from tests.app.conftest import SIGNING_SECRET, ReadyItems


@pytest.fixture(scope="module")
def nginx(
    tmp_path_factory: pytest.TempPathFactory,
    emulator: Emulator,
    aws,  # type: ignore[no-untyped-def]
    settings: Settings,
) -> Iterator[nginx_harness.Nginx]:
    server = nginx_harness.start(
        tmp_path_factory.mktemp("nginx"),
        nginx_harness.publish_media(aws, settings.media_bucket),
        SIGNING_SECRET,
    )
    yield server
    server.stop()


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def via(nginx: nginx_harness.Nginx, url: str) -> str:
    # The signature covers the path only: swap the public origin for the test nginx.
    return url.replace("http://media.test", nginx.base_url)


def _playback(client: TestClient, ready: ReadyItems, item: dict) -> dict:  # type: ignore[type-arg]
    resp = client.get(f"/api/items/{item['id']}/playback", headers=ready.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("which", ["video", "song"])
def test_valid_url_serves_master_rung_and_segment(
    nginx: nginx_harness.Nginx, client: TestClient, ready_items: ReadyItems, which: str
) -> None:
    play = _playback(client, ready_items, getattr(ready_items, which))
    master_url = via(nginx, play["url"])
    status, master = fetch(master_url)
    assert status == 200 and master.startswith(b"#EXTM3U")
    rung_rel = next(line for line in master.decode().splitlines() if line and line[0] != "#")
    rung_url = urljoin(master_url, rung_rel)
    status, rung = fetch(rung_url)
    assert status == 200 and b"#EXT-X-ENDLIST" in rung
    segment_rel = next(line for line in rung.decode().splitlines() if line and line[0] != "#")
    status, segment = fetch(urljoin(rung_url, segment_rel))
    assert status == 200 and segment[:1] == b"\x47"  # MPEG-TS sync byte
    status, thumb = fetch(via(nginx, play["thumbnail_url"]))
    assert status == 200 and len(thumb) > 100


def test_a_real_hls_client_plays_through_nginx(
    nginx: nginx_harness.Nginx, client: TestClient, ready_items: ReadyItems
) -> None:
    play = _playback(client, ready_items, ready_items.video)
    # ffmpeg follows the master playlist, a rung playlist and all its segments, decoding all.
    proc = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", via(nginx, play["url"]), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_tampered_and_expired_urls_are_refused(
    nginx: nginx_harness.Nginx, client: TestClient, ready_items: ReadyItems
) -> None:
    video, song = ready_items.video, ready_items.song
    url = via(nginx, _playback(client, ready_items, video)["url"])
    # .../media/s/<token>/<expires>/hls/<id>/master.m3u8
    head, token, expires, rest = url.split("/media/s/")[0], *url.split("/media/s/")[1].split("/", 2)
    segment = rest.replace("master.m3u8", "240p/seg_00000.ts")
    assert fetch(f"{head}/media/s/{token}/{expires}/{segment}")[0] == 200

    flipped = ("A" if token[0] != "A" else "B") + token[1:]
    for tail in (rest, segment):
        assert fetch(f"{head}/media/s/{flipped}/{expires}/{tail}")[0] == 403
        assert fetch(f"{head}/media/s/{token}/{int(expires) + 3600}/{tail}")[0] == 403
    # The token for one item does not open another item.
    other = rest.replace(video["id"], song["id"])
    assert fetch(f"{head}/media/s/{token}/{expires}/{other}")[0] == 403

    expired = LocalSigner(nginx.base_url, SIGNING_SECRET, ttl=60).hls_url(
        f"hls/{video['id']}", "master.m3u8", now=time.time() - 120
    )
    assert fetch(expired.url)[0] == 403
    assert fetch(expired.url.replace("master.m3u8", "240p/seg_00000.ts"))[0] == 403
    wrong_secret = LocalSigner(nginx.base_url, "not-the-secret", ttl=60)
    assert fetch(wrong_secret.hls_url(f"hls/{video['id']}", "master.m3u8").url)[0] == 403

    thumb = via(nginx, _playback(client, ready_items, video)["thumbnail_url"])
    assert fetch(thumb)[0] == 200
    assert fetch(thumb.replace("md5=", "md5=x"))[0] == 403
    assert fetch(thumb.split("?")[0])[0] == 403
    old = LocalSigner(nginx.base_url, SIGNING_SECRET, ttl=60).object_url(
        f"thumbs/{video['id']}.jpg", now=time.time() - 120
    )
    assert fetch(old.url)[0] == 403
    # The raw sources are never reachable: not through a signed HLS path, and S3 refuses them
    # even with a valid object signature.
    source = LocalSigner(nginx.base_url, SIGNING_SECRET, ttl=60).object_url(
        f"sources/{video['id']}/source.mp4"
    )
    assert fetch(source.url)[0] == 403
    assert fetch(f"{head}/media/s/{token}/{expires}/sources/{video['id']}/source.mp4")[0] == 403
