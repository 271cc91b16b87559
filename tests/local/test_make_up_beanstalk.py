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
from urllib.parse import urlsplit

import pytest

from local.ansible import ROOT, run_playbook
from local.emulator import aws_env, operator_client
from local.hosts import FLEET_LABEL
from local.hosts import image as hostimage
from tests.conftest import assert_a_rotation_keeps_serving
from tests.ui.conftest import watch_the_seed

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
        "exec", worker["container"], "cat", "/var/log/aws-sqsd/default.log",
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert journal.count(": 200, deleted") >= 2, journal[-3000:]
    # Each instance's CloudWatch agent was handed its tier's log files, to the log groups
    # provisioning made (the bundle's postdeploy hook; the agent is the hosts' stand-in).
    logs = operator_client(up["endpoint"], "logs")
    provisioned = {
        g["logGroupName"]
        for g in logs.describe_log_groups(logGroupNamePrefix="/stream/local/")["logGroups"]
    }
    for host, groups in ((web, {"/stream/local/nginx", "/stream/local/app"}),
                         (worker, {"/stream/local/worker"})):  # fmt: skip
        appended = json.loads(hostimage.podman(
            "exec", host["container"], "cat",
            "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.d/file_streamstack-logs.json",
            capture_output=True, text=True,
        ).stdout)  # fmt: skip
        files = appended["logs"]["logs_collected"]["files"]["collect_list"]
        assert {f["log_group_name"] for f in files} == groups <= provisioned, (files, provisioned)
    # Both tiers verify the database's certificate (provisioning's properties; the stand-in
    # mounts the local PostgreSQL's CA where the bundle's hook finds it): readyz and the jobs
    # above reached it so.
    for host in (web, worker):
        env = hostimage.podman(
            "exec", host["container"], "cat", "/opt/elasticbeanstalk/deployment/env",
            capture_output=True, text=True,
        ).stdout  # fmt: skip
        assert "STREAMAPP_DATABASE_SSLMODE=verify-full" in env.splitlines(), env
        assert "STREAMAPP_DATABASE_SSLROOTCERT=/etc/pki/streamstack/database-ca.pem" in env
    assert all(_alive(p) for p in up["pids"].values()), up["pids"]


def test_the_seed_plays_through_cloudfronts_stand_in_with_signed_urls_only(up):
    """The app signs CloudFront URLs for the load balancer's origin; its media paths reach the
    emulator's edge of the distribution, which serves the master playlist, a rung's playlist and
    a segment with the player's signed query, and refuses them unsigned, tampered, expired or
    under a key outside the trusted key group, reading the private bucket through the origin
    access control."""
    import httpx
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from streamapp.signing import CloudFrontSigner

    from local import seed

    # The app's signer with the provisioned key (its secret), and another public key's id.
    eb = operator_client(up["endpoint"], "elasticbeanstalk")
    (settings,) = eb.describe_configuration_settings(
        ApplicationName="stream-local", EnvironmentName="stream-local-web"
    )["ConfigurationSettings"]
    props = {o["OptionName"]: o.get("Value", "") for o in settings["OptionSettings"]}
    key_id = props["STREAMAPP_CLOUDFRONT_KEY_PAIR_ID"]
    pem = operator_client(up["endpoint"], "secretsmanager").get_secret_value(
        SecretId=props["STREAMAPP_CLOUDFRONT_PRIVATE_KEY_SECRET_ARN"]
    )["SecretString"]
    signer = CloudFrontSigner(up["url"], key_id, pem, 300)
    cloudfront = operator_client(up["endpoint"], "cloudfront")
    other_id = cloudfront.create_public_key(
        PublicKeyConfig={
            "CallerReference": "ebuptest-other",
            "Name": "ebuptest-other",
            "EncodedKey": rsa.generate_private_key(public_exponent=65537, key_size=2048)
            .public_key()
            .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            .decode(),
        }
    )["PublicKey"]["Id"]

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
            prefix = base.removeprefix(f"{up['url']}/")
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
            # The same segment unsigned, tampered, expired (signed by the provisioned key an hour
            # ago) and signed under another key pair id (one CloudFront knows, outside the
            # group): CloudFront's 403s.
            fresh = signer.hls_url(prefix, "master.m3u8").query  # the signer is the app's
            assert client.get(f"{segment_url}?{fresh}").status_code == 200
            expired = signer.hls_url(prefix, "master.m3u8", now=time.time() - 3600).query
            refused = {
                "unsigned": segment_url,
                "tampered": f"{segment_url}?"
                + grant["query"].replace("Signature=", "Signature=A", 1),
                "expired": f"{segment_url}?{expired}",
                "another key pair id": f"{segment_url}?"
                + grant["query"].replace(f"Key-Pair-Id={key_id}", f"Key-Pair-Id={other_id}"),
            }
            codes = {name: client.get(url).status_code for name, url in refused.items()}
            assert codes == dict.fromkeys(refused, 403), (kind, codes)


def test_a_user_watches_the_video_and_hears_the_song_through_cloudfronts_stand_in(up):
    """The browser on the controller plays both samples as on the EC2 path: posters, playlists
    and segments come through the load balancer's media paths (the edge) with the app's signed
    URLs, the player re-applying the HLS grant's query to every request."""
    url, login, items = up["url"], up["seed"]["login"], up["seed"]["items"]
    console = watch_the_seed(url, login, items, media_paths=("/hls/", "/thumbs/"))
    hls = [(status, u) for _, status, u in console.media if urlsplit(u).path.startswith("/hls/")]
    assert any(".ts?" in u for _, u in hls) and {s for s, _ in hls} <= {200, 206}, hls
    assert all("Signature=" in u for _, u in hls), hls
    assert not console.errors, console.errors


def _playbook(up, name: str, extra_vars: dict[str, Any] | None = None) -> Any:
    """A playbook of playbooks/ against the stand-in, as `make up` runs beanstalk_migrate.yml."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STREAMAPP_"))}
    return run_playbook(
        ROOT / "playbooks" / name,
        inventory=ROOT / "inventories" / "local",
        extra_vars=extra_vars or {},
        env=env | ENV | hostimage.env() | aws_env(up["endpoint"]) | {"PYTHONPATH": str(ROOT)},
        timeout=600,
    )


def test_the_migration_playbook_again_changes_nothing(up):
    """playbooks/beanstalk_migrate.yml, which `make up` ran on the web instance, run again as
    after a deployment with no new migration: it finds the instance, migrates nothing, keeps the
    roles as they are, and the app is ready (changed=0)."""
    result = _playbook(up, "beanstalk_migrate.yml")
    assert result.ok, result.messages()
    assert result.changed == 0, result.changed_tasks()
    ran = [name for name, _, res in result.task_results() if not res.get("skipped")]
    assert any("streamapp-migrate" in name for name in ran), ran


def test_a_rotation_of_the_apps_database_login_runs_on_the_web_instance(up):
    """playbooks/rotate_db_login.yml asked to rotate now, with app_hosting beanstalk: the set
    step runs on the web environment's instance (no host of the group web exists on this path),
    the secret moves to the other user of the pair, both logins work, the app stays ready, and
    a run with nothing due changes nothing."""
    result = assert_a_rotation_keeps_serving(
        lambda extra_vars: _playbook(up, "rotate_db_login.yml", extra_vars),
        operator_client(up["endpoint"], "secretsmanager"),
        int((STATE / "postgres" / "port").read_text()),
        up["url"],
    )
    web = next(v for v in up["fleet"]["hosts"].values() if v["role"] == "web")
    hosts = {host for _, host, _ in result.task_results()}
    assert hosts == {"localhost", web["instance_id"]}, hosts  # the web environment's instance


def test_down_leaves_nothing_running(up):
    down = _run("down", 300)
    assert down.returncode == 0, down.stderr[-2000:]
    assert _containers() == []
    assert not any(_alive(p) for p in up["pids"].values())
