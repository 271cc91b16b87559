"""`make up UP_HOSTING=beanstalk` for real: provisioning with app_hosting: beanstalk, the
Elastic Beanstalk stand-in (local/beanstalk/) running the bundle provisioning built on an
instance of the web and of the worker environment, the load balancer following the web
environment's target group on the shared ALB, and the seed: its video and song uploaded through
the load balancer and transcoded by the worker environment's instance (its SQS daemon stand-in
posting each job to the app), then played through CloudFront's stand-in (the emulator's edge
of the distribution behind the load balancer's media paths, checking the app's signed URLs).
Then `make down` leaves no container, daemon or port.

It runs python -m local up and down with a fleet, state folders and port of its own. Podman, the
make-up suite's marker (`fleet`): about 6 minutes with the stand-in image cached."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from local.ansible import ROOT
from local.emulator import operator_client
from local.hosts import FLEET_LABEL
from local.hosts import image as hostimage

pytestmark = [pytest.mark.podman, pytest.mark.slow, pytest.mark.fleet, pytest.mark.beanstalk]

FLEET = "ebuptest"
STATE = ROOT / ".cache" / "ebuptest"
ENV = {
    "UP_HOSTING": "beanstalk",
    "UP_FLEET": FLEET,
    "UP_STATE_DIR": str(STATE / "up"),
    "EMULATOR_STATE_DIR": str(STATE / "emulator"),
    "PG_STATE_DIR": str(STATE / "postgres"),
    "UP_PORT": "0",
}


def _run(action: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **hostimage.env(), **ENV}
    for key in [k for k in env if k.startswith(("AWS_", "PYTEST_"))]:
        env.pop(key)
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "local", action],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _containers() -> list[str]:
    out = hostimage.podman(
        "ps", "-a", "--filter", f"label={FLEET_LABEL}={FLEET}", "--format", "{{.Names}}",
        capture_output=True, text=True,
    )  # fmt: skip
    return out.stdout.split()


def _alive(pid_file: Path) -> bool:
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    return Path(f"/proc/{pid}").exists()


@pytest.fixture(scope="module")
def up() -> Any:
    _run("down", 300)
    started = time.monotonic()
    result = _run("up", 1500)
    info: dict[str, Any] = {"result": result, "seconds": time.monotonic() - started}
    try:
        assert result.returncode == 0, (result.stdout[-4000:], result.stderr[-4000:])
        info["url"] = "http://127.0.0.1:" + (STATE / "up" / "lb.port").read_text().strip()
        info["seed"] = json.loads((STATE / "up" / "seed.json").read_text())
        info["fleet"] = json.loads((STATE / "up" / "beanstalk" / "fleet.json").read_text())
        info["endpoint"] = (STATE / "emulator" / "endpoint").read_text().strip()
        info["pids"] = {
            "stand-in": STATE / "up" / "beanstalk" / "beanstalk.pid",
            "load balancer": STATE / "up" / "alb.pid",
            "emulator": STATE / "emulator" / "pid",
        }
        print(f"make up UP_HOSTING=beanstalk: {info['seconds']:.0f} s")
        yield info
    finally:
        info["down"] = _run("down", 300)


def test_the_app_runs_from_the_bundle_on_the_stand_in_and_the_worker_transcodes(up):
    hosts = up["fleet"]["hosts"]
    assert sorted(v["role"] for v in hosts.values()) == ["web", "worker"]
    assert all(v["environment"].startswith("stream-local-") for v in hosts.values())
    assert set(_containers()) == set(hosts)
    # Served through the load balancer by the web environment's instance, database reached.
    with urllib.request.urlopen(f"{up['url']}/readyz", timeout=10) as response:
        assert response.status == 200
        web = next(v for v in hosts.values() if v["role"] == "web")
        assert response.headers["X-Served-By"] == web["instance_id"]
    # The environments run the version provisioning registered from the bundle.
    eb = operator_client(up["endpoint"], "elasticbeanstalk")
    versions = {
        e["EnvironmentName"]: e["VersionLabel"]
        for e in eb.describe_environments(ApplicationName="stream-local")["Environments"]
    }
    assert {v["version"] for v in hosts.values()} == set(versions.values())
    # The seed's video and song were transcoded by the worker environment's instance.
    assert up["seed"]["items"], up["seed"]
    worker = next(v for v in hosts.values() if v["role"] == "worker")
    journal = hostimage.podman(
        "exec", worker["container"], "journalctl", "-u", "aws-sqsd", "--no-pager",
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert journal.count(": 200, deleted") >= 2, journal[-3000:]
    assert all(_alive(p) for p in up["pids"].values()), up["pids"]


def test_the_seed_plays_through_cloudfronts_stand_in_with_signed_urls_only(up):
    """The app signs CloudFront URLs for the load balancer's origin; its media paths reach the
    emulator's edge of the distribution, which serves the master playlist, a rung's playlist and
    a segment with the player's signed query, and refuses them unsigned or tampered (the trusted
    key group), reading the private bucket through the origin access control."""
    import httpx

    from local import seed

    with httpx.Client(base_url=up["url"], timeout=30) as client:
        login = up["seed"]["login"]
        demo = seed.session(client, login["email"], login["password"], "Demo viewer")
        auth = {"Authorization": f"Bearer {demo['token']}"}
        for kind, item_id in up["seed"]["items"].items():
            grant = client.get(f"/api/items/{item_id}/playback", headers=auth).json()
            assert grant["url"].startswith(f"{up['url']}/"), grant["url"]
            master = client.get(grant["url"])
            assert master.status_code == 200 and "#EXTM3U" in master.text, (kind, master.text)
            base = grant["url"].split("?", 1)[0].rsplit("/", 1)[0]
            rung = next(line for line in master.text.splitlines() if line.endswith(".m3u8"))
            playlist = client.get(f"{base}/{rung}?{grant['query']}")
            assert playlist.status_code == 200, (kind, rung, playlist.text[:300])
            segment = next(
                line for line in playlist.text.splitlines() if line and not line.startswith("#")
            )
            segment_url = f"{base}/{rung.rsplit('/', 1)[0] + '/' if '/' in rung else ''}{segment}"
            media = client.get(f"{segment_url}?{grant['query']}")
            assert media.status_code == 200 and len(media.content) > 1000, (kind, segment_url)
            assert media.headers["X-Served-By"] == "edge"
            assert client.get(segment_url).status_code == 403  # unsigned
            tampered = grant["query"].replace("Signature=", "Signature=A", 1)
            assert client.get(f"{segment_url}?{tampered}").status_code == 403


def test_down_leaves_nothing_running(up):
    down = _run("down", 300)
    assert down.returncode == 0, down.stderr[-2000:]
    assert _containers() == []
    assert not any(_alive(p) for p in up["pids"].values())
