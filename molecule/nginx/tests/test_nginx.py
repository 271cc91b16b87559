"""nginx: reverse proxy, HLS serving, signed URLs, headers, rate limit, TLS, JSON logs.

The app and the media origin are stand-ins started by prepare.yml (python3 -m http.server on
127.0.0.1:8000 and :9000 inside the container); every request is made inside the container.
"""

import base64
import hashlib
import json
import time

import pytest

SECRET = "molecule-test-secret-0123456789"  # noqa: S105 - converge.yml
BASE = "http://127.0.0.1"


def sign(prefix: str, expires: int, secret: str = SECRET) -> str:
    """The app's side of the contract: base64url(md5("<expires><prefix> <secret>")), no '='."""
    digest = hashlib.md5(f"{expires}{prefix} {secret}".encode()).digest()  # noqa: S324
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def signed_url(prefix: str, expires: int, file: str, token: str | None = None) -> str:
    return f"{BASE}/media/s/{token or sign(prefix, expires)}/{expires}/{prefix}/{file}"


def test_nginx_running_and_enabled(host):
    service = host.service("nginx")
    assert service.is_running
    assert service.is_enabled


@pytest.mark.parametrize("port", [80, 443])
def test_listening(host, port):
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening


def test_config_valid_and_secret_protected(host):
    assert host.run("nginx -t").rc == 0
    conf = host.file("/etc/nginx/nginx.conf")
    assert (conf.user, conf.group, conf.mode) == ("root", "root", 0o600)
    assert conf.contains("server_tokens off;")


def test_tls_key_is_private(host):
    key = host.file("/etc/nginx/tls/streamstack.key")
    assert (key.user, key.mode) == ("root", 0o600)


@pytest.mark.parametrize(
    ("file", "mime"),
    [
        ("index.m3u8", "application/vnd.apple.mpegurl"),
        ("seg_00000.ts", "video/mp2t"),
        ("init.m4s", "video/iso.segment"),
        ("audio.aac", "audio/aac"),
    ],
)
def test_hls_mime_types(get, file, mime):
    resp = get(f"{BASE}/hls/demo/{file}")
    assert resp.status == 200
    assert resp.headers["content-type"] == mime


def test_hls_range_request(get):
    resp = get(f"{BASE}/hls/demo/seg_00000.ts", headers={"Range": "bytes=0-99"})
    assert resp.status == 206
    assert resp.headers["content-range"] == "bytes 0-99/4096"
    assert len(resp.body) == 100


def test_hls_caching_headers(get):
    assert get(f"{BASE}/hls/demo/index.m3u8").headers["cache-control"] == "public, max-age=5"
    segment = get(f"{BASE}/hls/demo/seg_00000.ts").headers["cache-control"]
    assert segment == "public, max-age=31536000, immutable"


def test_text_gzipped(get):
    resp = get(f"{BASE}/api/catalog.json", headers={"Accept-Encoding": "gzip"})
    assert resp.status == 200
    assert resp.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in resp.headers["vary"].lower()


def test_segments_not_gzipped(get):
    resp = get(f"{BASE}/hls/demo/seg_00000.ts", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in resp.headers


def test_security_headers(get):
    headers = get(f"{BASE}/readyz").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors" in headers["content-security-policy"]
    assert headers["server"] == "nginx"  # no version: server_tokens off


def test_hsts_over_https(get):
    resp = get("https://127.0.0.1/readyz")
    assert resp.status == 200
    assert resp.headers["strict-transport-security"].startswith("max-age=31536000")


def test_reverse_proxy_to_app(get):
    resp = get(f"{BASE}/readyz")
    assert resp.status == 200
    assert resp.body == "ready\n"


ITEM = "hls/0f8fad5b-d9cb-469f-a165-70867728950e"
OTHER = "hls/1f8fad5b-d9cb-469f-a165-70867728950e"
THUMB = "/media/thumbs/0f8fad5b-d9cb-469f-a165-70867728950e.jpg"


def test_signed_url_accepted(get):
    expires = int(time.time()) + 300
    resp = get(signed_url(ITEM, expires, "master.m3u8"))
    assert resp.status == 200, resp
    assert resp.headers["content-type"] == "application/vnd.apple.mpegurl"
    assert resp.body.startswith("#EXTM3U")


def test_signed_url_covers_the_items_tree_with_ranges(get):
    """Relative URLs in the playlists inherit token and expiry: one token for the tree."""
    expires = int(time.time()) + 300
    url = signed_url(ITEM, expires, "240p/seg_00000.ts")
    resp = get(url, headers={"Range": "bytes=10-19"})
    assert resp.status == 206
    assert resp.headers["content-type"] == "video/mp2t"
    assert len(resp.body) == 10


@pytest.mark.parametrize("tamper", ["token", "expires", "prefix", "missing", "dotfile"])
def test_tampered_signed_url_refused(get, tamper):
    expires = int(time.time()) + 300
    token = sign(ITEM, expires)
    forged = ("B" if token[0] == "A" else "A") + token[1:]
    url = {
        "token": signed_url(ITEM, expires, "master.m3u8", token=forged),
        "expires": signed_url(ITEM, expires + 1, "master.m3u8", token=token),
        "prefix": signed_url(OTHER, expires, "master.m3u8", token=token),
        "missing": f"{BASE}/media/s/{ITEM}/master.m3u8",
        "dotfile": signed_url(ITEM, expires, ".hidden"),
    }[tamper]
    assert get(url).status == 403


def test_expired_signed_url_refused(get):
    # app/README.md: expired or wrong tokens get 403.
    expires = int(time.time()) - 5
    assert get(signed_url(ITEM, expires, "master.m3u8")).status == 403


def test_signed_object_url(get):
    expires = int(time.time()) + 300
    good = get(f"{BASE}{THUMB}?expires={expires}&md5={sign(THUMB, expires)}")
    assert good.status == 200
    assert good.headers["content-type"] == "image/jpeg"
    bad = get(f"{BASE}{THUMB}?expires={expires + 1}&md5={sign(THUMB, expires)}")
    assert bad.status == 403
    assert get(f"{BASE}/media/sources/x.mp4").status == 403


def test_auth_endpoint_rate_limited(host):
    # 2r/s with burst 3 (converge.yml): 12 back-to-back requests must meet some 429s.
    script = (
        "import urllib.request, urllib.error\n"
        "codes = []\n"
        "for _ in range(12):\n"
        "    try:\n"
        "        codes.append(urllib.request.urlopen('http://127.0.0.1/api/auth/login').status)\n"
        "    except urllib.error.HTTPError as err:\n"
        "        codes.append(err.code)\n"
        "print(codes)\n"
    )
    codes = json.loads(host.check_output("python3 -c %s", script))
    assert 200 in codes
    assert 429 in codes


def test_access_log_is_json(host, get):
    get(f"{BASE}/hls/demo/index.m3u8")
    line = host.check_output("tail -n 1 /var/log/nginx/access-json.log")
    entry = json.loads(line)
    assert {"time", "status", "uri", "request_time", "request_id"} <= entry.keys()
