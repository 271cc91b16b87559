"""`make up` for real: the emulator, PostgreSQL, provisioning, a podman host for each instance
the Auto Scaling groups launch (the local EC2), configured by playbooks/configure.yml, the load
balancer and the seeded samples; then a user in Debian's Chromium logs in through the load
balancer, watches the video and hears the song (signed playback URLs checked by nginx on the web
hosts). The first run bakes its configured hosts into images; the web group, scaled out through
the API, gets a host from that image that serves through the load balancer with no one running
configure.yml, and an instance terminated in the group gets a replacement that does too. After a
`make down`, `make up` again starts its hosts from the baked images, and configure.yml run once
more on that fleet changes nothing. Then `make down` leaves nothing: no container with the
fleet's label, no emulator, PostgreSQL, local EC2 or haproxy process, ports closed.

It runs python -m local up and down (what `make up`/`make down` run after `make deps`) with a
fleet name, state folders and a load balancer port of its own, so a developer's own `make up`
is never touched.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.ansible import ROOT, run_playbook
from local.ec2 import hosts as ec2_hosts
from local.emulator import aws_env, operator_client
from local.hosts import FLEET_LABEL
from local.hosts import bake as hostbake
from local.hosts import image as hostimage
from tests.conftest import assert_a_rotation_keeps_serving
from tests.ui.conftest import watch_the_seed

pytestmark = [
    pytest.mark.podman,
    pytest.mark.slow,
    pytest.mark.fleet,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

# Not the developer's (stream-local, .cache/up, .emulator, .cache/postgres). The fleet name is
# fixed so that the hosts' apt caches (.cache/host-apt/<container>) serve the next run too.
FLEET = "uptest"
STATE = ROOT / ".cache" / "uptest"
ENV = {
    "UP_FLEET": FLEET,
    "UP_STATE_DIR": str(STATE / "up"),
    "EMULATOR_STATE_DIR": str(STATE / "emulator"),
    "PG_STATE_DIR": str(STATE / "postgres"),
    "UP_PORT": "0",
    # One host per group keeps CI time down; both groups, the load balancer, the target group
    # and every role still run. (`make up` itself runs 2 web hosts by default.)
    "UP_WEB": "1",
    "UP_WORKERS": "1",
    # The test suites' baked hosts, not a developer's: the first run here always bakes them
    # (they are removed first); they stay for tests/playbooks/test_patch.py to start from.
    "UP_BAKE_REPO": hostbake.TEST_REPO,
}
# A bound, not a performance check: on an idle 2-core machine `make up` takes minutes, on a
# saturated one (load 30) the first converge alone took 25 minutes.
UP_TIMEOUT = 3600


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STREAMAPP_"))}
    return env | ENV | hostimage.env()


def _run(script: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a script in a process group of its own; on timeout the whole group (Ansible and
    its workers included) is killed, so nothing outlives the test."""
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "local", script],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        err += f"\n{script} killed after {timeout:.0f} s"
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _containers() -> list[str]:
    out = hostimage.podman(
        "ps", "-a", "--filter", f"label={FLEET_LABEL}={FLEET}", "--format", "{{.Names}}",
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    return out.split()


def _worker_journal(lines: int = 25, limit: int = 6000) -> str:
    """The last lines of the worker unit's journal on each worker host of the fleet: why a
    seed that timed out never got its media transcoded."""
    out = hostimage.podman(
        "ps", "--filter", f"label={FLEET_LABEL}={FLEET}",
        "--filter", f"label={FLEET_LABEL}.role=worker",
        "--format", "{{.Names}}", capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    parts = []
    for name in out.split():
        journal = hostimage.podman(
            "exec", name, "journalctl", "-u", "streamapp-worker", "--no-pager", "-n", str(lines),
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
        parts.append(f"--- {name}: journalctl -u streamapp-worker (last {lines} lines) ---")
        text = "\n".join(_short(line) for line in (journal.stdout + journal.stderr).splitlines())
        parts.append(text[-limit:])
    return "\n".join(parts) or "(no worker container running)"


def _short(line: str, width: int = 400) -> str:
    """A journal line of the app (a JSON log record after the syslog prefix) without its
    traceback: the record's fields and the traceback's last line (the exception)."""
    prefix, brace, rest = line.partition("{")
    try:
        record = json.loads(brace + rest)
    except ValueError:
        return line[:width]
    exc = record.pop("exc", "")
    record.pop("ts", None)
    if exc:
        record["exc"] = exc.strip().splitlines()[-1]
    return (prefix + " ".join(f"{k}={v}" for k, v in record.items()))[:width]


def _pid_alive(path: Path) -> int | None:
    """The pid recorded in `path` if that process still runs."""
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


def _running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


GROUPS = ["stream-local-web", "stream-local-worker"]


def _aws(service: str):
    """A boto3 client on the suite's emulator, as the operator (the account's own keys)."""
    return operator_client((STATE / "emulator" / "endpoint").read_text().strip(), service)


def _live_hosts() -> dict[str, dict[str, Any]]:
    """The hosts now, by instance id (the local EC2's fleet state)."""
    state = json.loads((STATE / "up" / "fleet" / "fleet.json").read_text())
    return {v["instance_id"]: v for v in state["hosts"].values()}


def _up(info: dict[str, Any], run: str) -> None:
    """`make up`, and what the tests read about the platform it brought up, into `info`."""
    started = time.monotonic()
    result = info["result"] = _run("up", UP_TIMEOUT)
    info["seconds"] = seconds = time.monotonic() - started
    if result.returncode != 0:
        pytest.fail(
            f"make up ({run}) failed (exit {result.returncode}) after {seconds:.0f} s\n"
            f"--- stdout (tail) ---\n{result.stdout[-6000:]}\n"
            f"--- stderr (tail) ---\n{result.stderr[-4000:]}\n{_worker_journal()}",
            pytrace=False,
        )
    # Shown with -s; also kept (the state folder goes with make down, these files stay):
    # the duration, and the output with each step's start time (where the time went).
    print(f"\nmake up ({run}) took {seconds:.0f} s")
    (STATE / f"up-{run}.out").write_text(result.stdout)
    with (STATE / "up-seconds.log").open("a") as handle:
        handle.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {run} {seconds:.0f}\n")
    running = re.search(r"StreamStack is running:\s+(http://127\.0\.0\.1:\d+)", result.stdout)
    assert running, result.stdout[-2000:]
    info["url"] = running[1]
    info["seed"] = json.loads((STATE / "up" / "seed.json").read_text())
    info["fleet"] = json.loads((STATE / "up" / "fleet.json.out").read_text())
    # What must be gone after make down, recorded while it runs.
    info["pids"] = {
        "emulator": _pid_alive(STATE / "emulator" / "pid"),
        "postgres": _pid_alive(STATE / "postgres" / "data" / "postmaster.pid"),
        "load balancer": _pid_alive(STATE / "up" / "alb.pid"),
        "local EC2": _pid_alive(STATE / "up" / "ec2.pid"),
        "haproxy": _pid_alive(STATE / "up" / "lb" / "pid"),
    }
    info["ports"] = {
        "lb": int(info["url"].rsplit(":", 1)[1]),
        "emulator": int((STATE / "emulator" / "endpoint").read_text().rsplit(":", 1)[1]),
        "postgres": int((STATE / "postgres" / "port").read_text()),
        **{f"web {h}": v["port"] for h, v in info["fleet"]["hosts"].items() if v["role"] == "web"},
    }


@pytest.fixture(scope="module")
def up() -> Iterator[dict[str, Any]]:
    """`make up` once for the module, with no baked hosts (it bakes them); `make down`
    afterwards whatever happened. A later test brings it up again: `info` follows."""
    info: dict[str, Any] = {}
    _run("down", 300)  # what a crashed run left (its containers would keep their images)
    hostbake.remove(ENV["UP_BAKE_REPO"])
    try:
        _up(info, "first")
        yield info
    finally:
        info["down"] = _run("down", 300)


def test_bad_bake_setting_is_refused_before_anything_starts():
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "local", "up"],
        cwd=ROOT,
        env=_env() | {"UP_BAKE": "yes"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "UP_BAKE must be 0 or 1, not 'yes'" in result.stderr
    assert not (STATE / "emulator" / "pid").exists()
    assert _containers() == []


def test_up_prints_the_url_and_a_login_and_runs_the_fleet(up):
    out = up["result"].stdout
    login = up["seed"]["login"]
    assert f"Log in as:               {login['email']}" in out
    assert f"Password:                {login['password']}" in out
    hosts = up["fleet"]["hosts"]
    assert sorted(v["role"] for v in hosts.values()) == ["web", "worker"]
    # The hosts are the Auto Scaling groups' instances, and the groups check their health again.
    groups = _aws("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=GROUPS)
    assert {v["instance_id"] for v in hosts.values()} == {
        i["InstanceId"] for g in groups["AutoScalingGroups"] for i in g["Instances"]
    }
    assert [g["SuspendedProcesses"] for g in groups["AutoScalingGroups"]] == [[], []]
    assert set(_containers()) == {v["container"] for v in hosts.values()}
    assert all(up["pids"].values()), up["pids"]
    # No baked host to start from: every host came from the test-host image, then got baked.
    assert {v["image"] for v in hosts.values()} == {hostimage.IMAGE}
    assert re.search(r"web: baked .* in \d+ s", out) and re.search(r"worker: baked .*", out)
    # Every web host serves the app through its own nginx (liveness, what the target group
    # checks, and readiness), and the load balancer does too.
    for name, port in up["ports"].items():
        if name.startswith("web "):
            for path in ("/healthz", "/readyz"):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
                    assert resp.status == 200, (name, path)
    with urllib.request.urlopen(f"{up['url']}/readyz", timeout=10) as resp:
        assert resp.status == 200


def test_a_user_logs_in_watches_the_video_and_hears_the_song(up):
    url, login, items = up["url"], up["seed"]["login"], up["seed"]["items"]
    console = watch_the_seed(url, login, items, media_paths=("/media/",))
    # Playlists and segments came through /media/ (nginx secure_link) and all loaded.
    media = [status for _, status, _ in console.media]
    assert media and set(media) <= {200, 206}, console.media
    assert not console.errors, console.errors
    # nginx fetched them through the distribution's origin request, signed as CloudFront's
    # origin access control: the bucket policy provisioning wrote let it, and no statement
    # grants anyone else (the emulator refuses anonymous reads unless one does).
    decisions = _iam_decisions()
    assert any(
        d["principal"] == "cloudfront.amazonaws.com"
        and d["action"] == "s3:GetObject"
        and f"/hls/{items['video']}/" in d["resource"]
        and d["allowed"]
        for d in decisions
    ), decisions
    s3 = _aws("s3")
    (bucket,) = [b["Name"] for b in s3.list_buckets()["Buckets"] if "-media-" in b["Name"]]
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    public = [
        s
        for s in policy["Statement"]
        if s["Effect"] == "Allow" and s.get("Principal") in ("*", {"AWS": "*"})
    ]
    assert public == [], public


def _iam_decisions() -> list[dict[str, Any]]:
    """The emulator's IAM decisions (GET /moto-api/fidelity/iam)."""
    endpoint = (STATE / "emulator" / "endpoint").read_text().strip()
    with urllib.request.urlopen(f"{endpoint}/moto-api/fidelity/iam", timeout=10) as resp:
        return json.loads(resp.read())


def test_hosts_call_aws_as_their_instance_roles_and_only_as_the_call_table_says(up):
    """The hosts sign with their tier's instance role (IMDSv2 credentials of the emulated
    instance; the emulator enforces the role's policy) and make only the calls of the IAM call
    table for their tier, recorded by the app itself (STREAMAPP_AWS_CALL_LOG)."""
    _assert_host_calls_in_the_call_table(up)


def _assert_host_calls_in_the_call_table(up):
    from tests.harness import call_table

    table = call_table.load()
    for host in up["fleet"]["hosts"].values():
        log = hostimage.podman(
            "exec", host["container"], "cat", "/var/log/streamstack/aws-calls.jsonl",
            capture_output=True, text=True, check=False, timeout=60,
        ).stdout  # fmt: skip
        recorded = {(c["service"], c["operation"]) for c in map(json.loads, log.splitlines())}
        assert recorded, f"{host['container']} recorded no AWS call"
        missing = sorted(recorded - table.operations(host["role"]))
        assert not missing, f"{host['role']} calls missing from tests/iam/calls.yml: {missing}"
    decisions = _iam_decisions()
    roles = {d["principal"].split("/")[1] for d in decisions if "/" in d["principal"]}
    assert {"stream-local-web", "stream-local-worker"} <= roles, roles
    assert [d for d in decisions if not d["allowed"]] == []


def test_the_web_group_scales_out_and_replaces_with_no_configure_run(up):
    """Through the Auto Scaling API only: one more web instance gets a host from the web role's
    baked image whose boot unit reads the settings from SSM as the instance's role and that
    serves through the load balancer; an instance terminated in the group (capacity kept) gets
    a replacement that serves, and its host goes. Nobody runs configure.yml."""
    group = "stream-local-web"
    autoscaling, aws = _aws("autoscaling"), _aws
    before = ec2_hosts.group_instances(aws, group)
    state_file = STATE / "up" / "fleet" / "fleet.json"
    started = time.monotonic()
    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=len(before) + 1)
    (added,) = set(ec2_hosts.group_instances(aws, group)) - set(before)
    scale_out = ec2_hosts.launch_to_serving(aws, state_file, up["url"], added, started)
    host = _live_hosts()[added]
    assert host["image"] == hostbake.image("web", ENV["UP_BAKE_REPO"])
    # Ready, not only alive: this run's database, bucket and tables (the bake's settings are
    # this run's, the boot unit's outputs from SSM).
    with urllib.request.urlopen(f"http://127.0.0.1:{host['port']}/readyz", timeout=10) as resp:
        assert resp.status == 200
    boot = hostimage.podman(
        "exec", host["container"], "journalctl", "-u", "streamapp-boot", "--no-pager", "-o", "cat",
        capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert "read /stream/local/outputs" in boot, boot
    endpoint = (STATE / "emulator" / "endpoint").read_text().strip()
    with urllib.request.urlopen(f"{endpoint}/moto-api/fidelity/iam", timeout=10) as resp:
        decisions = json.loads(resp.read())
    assert {
        (d["action"], d["allowed"]) for d in decisions if d["principal"].endswith(f"/{added}")
    } >= {("ssm:GetParameter", True)}, "the boot unit did not read SSM as the instance's role"

    victim = before[0]
    victim_container = _live_hosts()[victim]["container"]
    started = time.monotonic()
    autoscaling.terminate_instance_in_auto_scaling_group(
        InstanceId=victim, ShouldDecrementDesiredCapacity=False
    )
    (replacement,) = set(ec2_hosts.group_instances(aws, group)) - {*before, added}
    replace = ec2_hosts.launch_to_serving(aws, state_file, up["url"], replacement, started)
    deadline = time.monotonic() + 60
    while victim_container in _containers() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert victim_container not in _containers()
    (target,) = _aws("elbv2").describe_target_health(
        TargetGroupArn=json.loads(state_file.read_text())["target_group_arn"],
        Targets=[{"Id": victim}],
    )["TargetHealthDescriptions"]
    assert target["TargetHealth"]["State"] in ("draining", "unused")
    (found,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])[
        "AutoScalingGroups"
    ]
    assert found["DesiredCapacity"] == len(before) + 1
    assert _live_hosts()[replacement]["image"] == hostbake.image("web", ENV["UP_BAKE_REPO"])
    line = " ".join(
        f"{what}: " + ", ".join(f"{k} {v:.0f} s" for k, v in phases.items())
        for what, phases in (("scale-out", scale_out), ("replacement", replace))
    )
    print(f"\nlaunch to serving: {line}")
    with (STATE / "asg-seconds.log").open("a") as handle:
        handle.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {line}\n")


def test_up_again_starts_from_the_baked_hosts(up):
    """`make down`, then `make up` again: the hosts start from the images the first run baked
    (made for the current sources), configure.yml converges them to this run's settings, the
    worker transcodes the samples again and the load balancer answers."""
    first = up["seconds"]
    down = _run("down", 300)
    assert down.returncode == 0, down.stdout + down.stderr
    assert _containers() == []
    # Both roles' images exist and carry the current sources' key.
    baked = hostbake.images(repo=ENV["UP_BAKE_REPO"])
    assert baked == {r: hostbake.image(r, ENV["UP_BAKE_REPO"]) for r in ("web", "worker")}
    _up(up, "again")
    hosts = up["fleet"]["hosts"]
    assert {v["role"]: v["image"] for v in hosts.values()} == baked
    # Baked for the first run's settings: their boot unit would read SSM at that run's emulator
    # (gone: the call hung ~2 minutes), so the local EC2 held the user data back and
    # configure.yml converged them.
    for host in hosts.values():
        shown = hostimage.podman(
            "exec", host["container"], "systemctl", "show", "-p", "ConditionResult",
            "streamapp-boot", capture_output=True, text=True, timeout=60,
        ).stdout.strip()  # fmt: skip
        assert shown == "ConditionResult=no", (host["container"], shown)
    # The same sources, this run's settings (a new emulator, PostgreSQL and load balancer):
    # baked again, for the hosts the groups launch during this run.
    assert re.search(r"web: baked .* in \d+ s", up["result"].stdout)
    assert set(up["seed"]["items"]) == {"video", "song"}
    with urllib.request.urlopen(f"{up['url']}/readyz", timeout=10) as resp:
        assert resp.status == 200
    print(f"\nmake up: first {first:.0f} s, again from baked hosts {up['seconds']:.0f} s")


def _playbook(name: str, extra_vars: dict[str, Any], timeout: float) -> Any:
    """A playbook of playbooks/ against the running fleet, as `make up` runs configure.yml."""
    aws = aws_env((STATE / "emulator" / "endpoint").read_text().strip())
    inventories = [ROOT / "inventories" / "local", STATE / "up" / "fleet-inventory.yml"]
    return run_playbook(
        ROOT / "playbooks" / name,
        extra_vars=extra_vars,
        env=_env()
        | aws
        | {
            "PYTHONPATH": str(ROOT),
            "ANSIBLE_INVENTORY": ",".join(str(p) for p in inventories),
        },
        timeout=timeout,
    )


def test_configure_again_changes_nothing(up):
    """`make up`'s configuration step run again on the fleet started from baked hosts:
    idempotent (changed=0)."""
    result = _playbook("configure.yml", {"configure_serial": ["100%"]}, 1200)
    assert result.ok, result.messages()
    assert result.changed == 0, result.changed_tasks()


def test_a_rotation_of_the_apps_database_login_keeps_the_platform_serving(up):
    """playbooks/rotate_db_login.yml asked to rotate now: the secret moves to the other user of
    the pair with a new password, which the migration step made on a web host; the previous
    login still works (hosts that read it keep serving), the platform answers, and a run with
    nothing due changes nothing."""
    assert_a_rotation_keeps_serving(
        lambda extra_vars: _playbook("rotate_db_login.yml", extra_vars, 600),
        _aws("secretsmanager"),
        int((STATE / "postgres" / "port").read_text()),
        up["url"],
    )
    # The set step read the pending version with the web host's own role, as the table says.
    _assert_host_calls_in_the_call_table(up)


def test_down_leaves_nothing_running(up):
    # Run down now (the fixture's own down then finds nothing left: idempotent).
    down = _run("down", 300)
    assert down.returncode == 0, down.stdout + down.stderr
    assert _containers() == []
    # A stopped process can take a moment to leave the process table on a loaded machine.
    deadline = time.monotonic() + 30
    while True:
        running = {n: p for n, p in up["pids"].items() if p and _running(p)}
        still = [n for n, p in up["ports"].items() if _port_open(p)]
        if not (running or still) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not running, f"still running: {running}"
    assert not still, f"ports still open: {still}"
    assert not (STATE / "up").exists()
    assert not (STATE / "postgres").exists()
    assert not (STATE / "emulator" / "pid").exists()
