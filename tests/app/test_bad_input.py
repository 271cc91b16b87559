"""Bad input gets a clear JSON error (code + message) and leaves nothing behind in S3, the
database or the queue."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.app.conftest import Media, State, admin_auth, bearer, signup, upload


@pytest.fixture
def unchanged(state: Callable[[], State]) -> Iterator[None]:
    before = state()
    yield
    assert state() == before, "a refused request left state behind"


def _error(resp, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["code"] == code, body
    assert body["message"]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory, media: Media) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    files = {
        "text": d / "notes.mp4",
        "image": d / "picture.png",
        "truncated": d / "truncated.mp4",
        "garbage": d / "garbage.mp4",
        "empty": d / "empty.mp3",
        "oversized": d / "huge.mp4",
    }
    files["text"].write_text("this is not a video\n" * 50)
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=64x64",
            "-frames:v",
            "1",
            str(files["image"]),
        ],
        check=True,
        timeout=30,
    )
    data = media.video.read_bytes()
    files["truncated"].write_bytes(data[: len(data) // 2])  # moov atom is at the end: lost
    files["garbage"].write_bytes(data[:32] + os.urandom(200_000))
    files["empty"].write_bytes(b"")
    files["oversized"].write_bytes(b"\0" * (6 * 1024 * 1024))
    return files


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("text", 422, "unreadable_media"),
        ("image", 415, "unsupported_media"),
        ("truncated", 422, "unreadable_media"),
        ("garbage", 422, "unreadable_media"),
        ("empty", 400, "empty_file"),
        ("oversized", 413, "file_too_large"),
    ],
)
def test_bad_uploads_are_refused(
    client: TestClient,
    uploader: dict[str, str],
    bad_files: dict[str, Path],
    unchanged: None,
    name: str,
    status: int,
    code: str,
) -> None:
    _error(upload(client, uploader, bad_files[name], f"bad {name}"), status, code)


def test_oversized_chunked_upload_is_refused(
    client: TestClient, uploader: dict[str, str], unchanged: None
) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the body is counted as it streams
        boundary = b"--xyz\r\n"
        yield boundary + b'Content-Disposition: form-data; name="title"\r\n\r\nbig\r\n'
        yield boundary + (
            b'Content-Disposition: form-data; name="file"; filename="a.mp4"\r\n'
            b"Content-Type: video/mp4\r\n\r\n"
        )
        for _ in range(7):
            yield b"\0" * (1024 * 1024)
        yield b"\r\n--xyz--\r\n"

    resp = client.post(
        "/api/items",
        headers={**uploader, "Content-Type": "multipart/form-data; boundary=xyz"},
        content=chunks(),
    )
    _error(resp, 413, "file_too_large")


def test_upload_needs_login_and_role(client: TestClient, media: Media, unchanged: None) -> None:
    _error(upload(client, {}, media.song, "anon"), 401, "not_authenticated")
    viewer, _ = signup(client)
    _error(upload(client, viewer, media.song, "viewer"), 403, "forbidden_role")
    _error(
        upload(client, {"Authorization": "Bearer forged-token"}, media.song, "x"),
        401,
        "not_authenticated",
    )


def test_upload_needs_a_title(
    client: TestClient, uploader: dict[str, str], media: Media, unchanged: None
) -> None:
    with media.song.open("rb") as fh:
        resp = client.post("/api/items", headers=uploader, files={"file": ("s.mp3", fh)})
    _error(resp, 422, "validation_error")
    _error(upload(client, uploader, media.song, "   "), 422, "validation_error")


def test_bad_credentials(client: TestClient, unchanged: None) -> None:
    _, user = signup(client, password="the right password")
    wrong = {"email": user["email"], "password": "the wrong password"}
    _error(client.post("/api/auth/login", json=wrong), 401, "invalid_credentials")
    nobody = {"email": "nobody@example.com", "password": "whatever it is"}
    _error(client.post("/api/auth/login", json=nobody), 401, "invalid_credentials")


def test_signup_validation(client: TestClient, unchanged: None) -> None:
    _, user = signup(client)
    again = {"email": user["email"].upper(), "password": "another password"}
    _error(client.post("/api/auth/signup", json=again), 409, "email_taken")
    short = {"email": "short@example.com", "password": "short"}
    _error(client.post("/api/auth/signup", json=short), 422, "validation_error")
    bad_email = {"email": "not-an-email", "password": "long enough password"}
    _error(client.post("/api/auth/signup", json=bad_email), 422, "validation_error")
    nul = {"email": "nul\u0000@example.com", "password": "long enough password"}
    _error(client.post("/api/auth/signup", json=nul), 422, "validation_error")


def test_malformed_json(client: TestClient, unchanged: None) -> None:
    resp = client.post(
        "/api/auth/signup",
        content=b'{"email": "a@b.c", "password": ',
        headers={"Content-Type": "application/json"},
    )
    _error(resp, 400, "malformed_json")


def test_unknown_ids(client: TestClient, uploader: dict[str, str], unchanged: None) -> None:
    missing = uuid.uuid4()
    _error(client.get(f"/api/items/{missing}"), 404, "item_not_found")
    _error(client.get(f"/api/items/{missing}/playback", headers=uploader), 404, "item_not_found")
    _error(client.delete(f"/api/items/{missing}", headers=uploader), 404, "item_not_found")
    _error(client.get("/api/items/not-a-uuid"), 422, "validation_error")
    _error(client.get("/api/no/such/route"), 404, "not_found")
    admin = client.post(
        "/api/auth/login", json={"email": "admin@example.com", "password": "admin password 1"}
    )
    headers = bearer(admin)
    _error(
        client.put(f"/api/admin/users/{missing}/role", json={"role": "viewer"}, headers=headers),
        404,
        "user_not_found",
    )


def test_other_users_private_item(
    client: TestClient,
    uploader: dict[str, str],
    media: Media,
    run_worker: Callable[..., int],
    state: Callable[[], State],
) -> None:
    resp = upload(
        client, uploader, media.silent_video, "My private clip", "video/mp4", visibility="private"
    )
    assert resp.status_code == 201, resp.text
    item = resp.json()
    run_worker(max_jobs=2)
    assert client.get(f"/api/items/{item['id']}", headers=uploader).json()["status"] == "ready"
    before = state()
    stranger, _ = signup(client)
    for call in (
        lambda: client.get(f"/api/items/{item['id']}", headers=stranger),
        lambda: client.get(f"/api/items/{item['id']}/playback", headers=stranger),
        lambda: client.patch(
            f"/api/items/{item['id']}", json={"title": "mine now"}, headers=stranger
        ),
        lambda: client.put(
            f"/api/items/{item['id']}/progress", json={"position_seconds": 1}, headers=stranger
        ),
        lambda: client.delete(f"/api/items/{item['id']}", headers=stranger),
        lambda: client.get(f"/api/items/{item['id']}"),
    ):
        _error(call(), 404, "item_not_found")
    listed = client.get("/api/items", params={"q": "private clip"}, headers=stranger).json()
    assert listed["total"] == 0
    assert client.get("/api/items", params={"q": "private clip"}).json()["total"] == 0
    # Its owner and an admin find it in the catalog; a page past the end still counts it.
    for who in (uploader, admin_auth(client)):
        found = client.get("/api/items", params={"q": "private clip"}, headers=who).json()
        assert [i["id"] for i in found["items"]] == [item["id"]], found
    past = client.get("/api/items", params={"q": "private clip", "offset": 48}, headers=uploader)
    assert past.json() == {"items": [], "total": 1, "limit": 24, "offset": 48}
    assert state() == before
    # Its owner sees it, and deleting it removes every trace.
    assert client.get(f"/api/items/{item['id']}/playback", headers=uploader).status_code == 200
    assert client.delete(f"/api/items/{item['id']}", headers=uploader).status_code == 204
    after = state()
    assert after.items == before.items - 1 and after.objects < before.objects


def test_viewer_cannot_change_roles(client: TestClient, unchanged: None) -> None:
    viewer, user = signup(client)
    resp = client.put(f"/api/admin/users/{user['id']}/role", json={"role": "admin"}, headers=viewer)
    _error(resp, 403, "forbidden_role")
