"""Seed the local platform (`make up`) through its public API, like a user would.

    python -m local.seed --url http://127.0.0.1:8080 --state .cache/up \
        --admin-command "podman exec stream-local-web-1 /usr/local/sbin/streamapp-admin"

- Accounts: an admin (signed up like anyone, then promoted as an operator does it: the app
  role's streamapp-admin on a web host, which --admin-command reaches), an uploader the admin
  promotes through the API, and the demo viewer whose login `make up` prints. Passwords are
  generated once and kept in <state>/accounts.json (mode 0600); a second run logs in with them.
- Media: a sample video and a sample song generated with ffmpeg's lavfi sources, uploaded as
  the uploader through the load balancer (nginx -> app on a web host -> S3 + SQS), then
  transcoded by the worker host. Waits (bounded) until both are `ready`; items already there
  (same title, ready) are not uploaded again.

Prints one JSON line: the item ids and the demo login.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ADMIN = "admin@example.com"
UPLOADER = "uploader@example.com"
DEMO = "demo@example.com"
SAMPLES = {
    "video": {
        "title": "Sample video: test pattern",
        # 720p: the ladder (720p, 480p, 360p) gives the player's quality menu three rungs.
        "description": "10 s of ffmpeg's testsrc2 with a 440 Hz tone (lavfi), 1280x720.",
        "file": "sample-video.mp4",
        "ffmpeg": [
            *("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=10"),
            *("-f", "lavfi", "-i", "sine=frequency=440:duration=10"),
            *("-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"),
            *("-c:a", "aac", "-b:a", "128k", "-shortest"),
        ],
    },
    "song": {
        "title": "Sample song: three tones",
        "description": "12 s of ffmpeg's sine sources (lavfi): A, C#, E.",
        "file": "sample-song.mp3",
        "ffmpeg": [
            *("-f", "lavfi", "-i", "sine=frequency=440:duration=4"),
            *("-f", "lavfi", "-i", "sine=frequency=554.37:duration=4"),
            *("-f", "lavfi", "-i", "sine=frequency=659.25:duration=4"),
            *("-filter_complex", "[0:a][1:a][2:a]concat=n=3:v=0:a=1[a]", "-map", "[a]"),
            *("-c:a", "libmp3lame", "-b:a", "128k"),
        ],
    },
}


def log(msg: str) -> None:
    print(f"[seed] {msg}", file=sys.stderr, flush=True)


def accounts(state: Path) -> dict[str, str]:
    """{email: password}, generated once per environment."""
    path = state / "accounts.json"
    if path.is_file():
        return json.loads(path.read_text())
    creds = {email: secrets.token_urlsafe(12) for email in (ADMIN, UPLOADER, DEMO)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(creds, handle, indent=2)
    return creds


RETRY_STATUS = {502, 503, 504}  # the load balancer had no healthy server for a moment


class Client(httpx.Client):
    """Retries what the load balancer answered for a target, not the app: 503 (no server
    ready: nothing was forwarded, safe for any method), and 502/504 for GET/PUT (idempotent).
    Bounded: 30 attempts, 1 s apart."""

    def request(self, method: str, url, **kwargs):  # type: ignore[override]
        for attempt in range(30):
            resp = super().request(method, url, **kwargs)
            retry = resp.status_code == 503 or (
                resp.status_code in RETRY_STATUS and method in ("GET", "PUT")
            )
            if not retry or attempt == 29:
                return resp
            for value in kwargs.get("files", {}).values():
                value[1].seek(0)
            time.sleep(1)
        return resp


def session(client: httpx.Client, email: str, password: str, name: str) -> dict:
    """Sign up, or log in when the account exists. Returns the session: its token (from the
    session cookie, the only place the app puts it) and the user."""
    resp = client.post(
        "/api/auth/signup", json={"email": email, "password": password, "display_name": name}
    )
    if resp.status_code == 409:
        resp = client.post("/api/auth/login", json={"email": email, "password": password})
    resp.raise_for_status()
    client.cookies.clear()  # each account's requests carry its own token (Bearer)
    return {"token": resp.cookies["streamapp_session"], "user": resp.json()["user"]}


def make_media(kind: str, folder: Path) -> Path:
    sample = SAMPLES[kind]
    path = folder / sample["file"]
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", *sample["ffmpeg"], str(path)],
        check=True,
        timeout=120,
    )
    return path


def describe(kind: str, item: dict) -> str:
    """Where an item stands, for a failure message: queued with 0 attempts means no worker
    ever took its job; processing, a worker is on it; a failure_reason says why it failed."""
    fields = ("id", "status", "progress", "attempts", "failure_reason")
    return f"{kind} " + " ".join(f"{f}={item.get(f)!r}" for f in fields)


def promote(admin_command: list[str], email: str) -> None:
    """The operator's step: streamapp-admin promote on an app host (nobody becomes an admin by
    signing up)."""
    done = subprocess.run(
        [*admin_command, "promote", email], capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise SystemExit(f"promoting {email} failed ({done.returncode}): {done.stderr.strip()}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    log(f"{email}: {result['role']} ({'promoted' if result['changed'] else 'already'})")


def seed(
    url: str, state: Path, timeout: float, admin_command: list[str], play: bool = True
) -> dict:
    """The demo's accounts and samples. ``play``: fetch each sample's signed playlist too (False
    where nothing serves the signed URLs: CloudFront's, on the Elastic Beanstalk stand-in)."""
    creds = accounts(state)
    with Client(base_url=url, timeout=60) as client:
        admin = session(client, ADMIN, creds[ADMIN], "Admin")
        if admin["user"]["role"] != "admin":
            # The role is read on each request: the session just made is an admin's now.
            promote(admin_command, ADMIN)
        uploader = session(client, UPLOADER, creds[UPLOADER], "Uploader")
        if uploader["user"]["role"] == "viewer":
            client.put(
                f"/api/admin/users/{uploader['user']['id']}/role",
                json={"role": "uploader"},
                headers={"Authorization": f"Bearer {admin['token']}"},
            ).raise_for_status()
        demo = session(client, DEMO, creds[DEMO], "Demo viewer")
        auth = {"Authorization": f"Bearer {uploader['token']}"}

        mine = client.get("/api/items", params={"mine": "true", "limit": 100}, headers=auth)
        mine.raise_for_status()
        by_title = {}
        for item in mine.json()["items"]:
            if item["status"] != "failed":
                by_title.setdefault(item["title"], item)
        ids: dict[str, str] = {}
        with tempfile.TemporaryDirectory(prefix="streamstack-seed-") as tmp:
            for kind, sample in SAMPLES.items():
                if sample["title"] in by_title:
                    ids[kind] = by_title[sample["title"]]["id"]
                    log(f"{kind}: already uploaded ({ids[kind]})")
                    continue
                path = make_media(kind, Path(tmp))
                with path.open("rb") as handle:
                    resp = client.post(
                        "/api/items",
                        headers=auth,
                        data={
                            "title": sample["title"],
                            "description": sample["description"],
                            "visibility": "public",
                        },
                        files={"file": (path.name, handle)},
                    )
                if resp.status_code != 201:
                    raise SystemExit(f"upload of the {kind} failed: {resp.status_code} {resp.text}")
                ids[kind] = resp.json()["id"]
                log(f"{kind}: uploaded ({ids[kind]}), queued for the worker")

        deadline = time.monotonic() + timeout
        pending = dict(ids)
        last: dict[str, dict] = {}
        while pending:
            for kind, item_id in list(pending.items()):
                item = last[kind] = client.get(f"/api/items/{item_id}", headers=auth).json()
                if item["status"] == "ready":
                    log(f"{kind}: transcoded ({len(item.get('renditions') or [])} renditions)")
                    del pending[kind]
                elif item["status"] == "failed":
                    raise SystemExit(f"{kind} failed to transcode: {describe(kind, item)}")
            if pending and time.monotonic() > deadline:
                raise SystemExit(
                    f"not transcoded within {timeout:.0f} s: "
                    + "; ".join(describe(kind, last[kind]) for kind in sorted(pending))
                )
            if pending:
                time.sleep(1)

        # The demo viewer can play both (a signed playback grant).
        demo_auth = {"Authorization": f"Bearer {demo['token']}"}
        for kind, item_id in ids.items():
            grant = client.get(f"/api/items/{item_id}/playback", headers=demo_auth)
            grant.raise_for_status()
            if not play:
                log(f"{kind}: playback granted ({grant.json()['url'].split('?')[0]})")
                continue
            master = client.get(grant.json()["url"])
            if master.status_code != 200 or "#EXTM3U" not in master.text:
                raise SystemExit(f"{kind}: signed playlist answered {master.status_code}")
    return {"items": ids, "login": {"email": DEMO, "password": creds[DEMO]}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="the load balancer's URL")
    parser.add_argument("--state", type=Path, required=True, help="make up's state folder")
    parser.add_argument("--timeout", type=float, default=300, help="transcoding wait, seconds")
    parser.add_argument(
        "--admin-command",
        required=True,
        help="runs streamapp-admin on an app host, e.g. 'podman exec <host> "
        "/usr/local/sbin/streamapp-admin' or 'ssh <host> sudo /usr/local/sbin/streamapp-admin'",
    )
    args = parser.parse_args(argv)
    args.state.mkdir(parents=True, exist_ok=True)
    print(json.dumps(seed(args.url, args.state, args.timeout, shlex.split(args.admin_command))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
