"""Launch-to-serving seconds of the local Auto Scaling groups: from the API call that makes the
web group launch an instance (a scale-out, or a replacement of a terminated instance) until its
host, started from the web role's baked image with no configure.yml, serves through the load
balancer; with the phases in between (host runs, host answers its health check, target healthy).

    .venv/bin/python bench/asg.py [--rounds 3] [--web 2] [--workers 1] [--bake-repo REPO]

It runs `make up` once (a fleet, state folders, load-balancer port and baked-image repository of
its own; the bakes stay for the next run, so only the first run of all converges from the plain
image), then per round: desired capacity +1 (2 -> 3 by default) and wait until the new host
serves, then back to the starting capacity (the group removes one instance); then per round: one
instance terminated in the group (capacity kept) and wait until its replacement serves. Then
python -m local down. --bake-repo starts from another repository's bakes (the test suites':
localhost/streamstack-baked-test) instead of converging from the plain image the first time.
The target group's health check (every 15 s; one passed check makes a new target
healthy) and the load balancer's 1 s poll are part of what is measured, as on AWS. The load
average is printed with the numbers: other work on the machine inflates them.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local.ec2 import hosts as ec2_hosts  # noqa: E402
from local.emulator import operator_client  # noqa: E402
from local.hosts import image as hostimage  # noqa: E402

STATE = ROOT / ".cache" / "bench-asg"
ENV = {
    "UP_FLEET": "benchasg",
    "UP_STATE_DIR": str(STATE / "up"),
    "EMULATOR_STATE_DIR": str(STATE / "emulator"),
    "PG_STATE_DIR": str(STATE / "postgres"),
    "UP_PORT": "0",
    "UP_BAKE_REPO": "localhost/streamstack-baked-bench-asg",
}
GROUP = "stream-local-web"
TIMEOUT = 3600


def run(script: str, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "local", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    if proc.returncode != 0:
        sys.exit(f"python -m local {script} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def clients():
    endpoint = (STATE / "emulator" / "endpoint").read_text().strip()
    return functools.partial(operator_client, endpoint)


def show(what: str, rounds: list[dict[str, float]]) -> None:
    print(f"{what} ({len(rounds)} rounds, load {os.getloadavg()[0]:.2f}):")
    for phase in rounds[0]:
        values = [r[phase] for r in rounds]
        print(
            f"    {phase:<34} median {statistics.median(values):5.1f} s"
            f"  ({', '.join(f'{v:.1f}' for v in values)})"
        )


def wait_gone(instance_id: str, timeout: float = 120) -> None:
    """Until the instance's host is removed (the local EC2 follows the terminated instance)."""
    state_file = STATE / "up" / "fleet" / "fleet.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hosts = json.loads(state_file.read_text())["hosts"].values()
        if instance_id not in {h["instance_id"] for h in hosts}:
            return
        time.sleep(0.5)
    sys.exit(f"the host of {instance_id} is still there after {timeout:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--web", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--bake-repo", default=ENV["UP_BAKE_REPO"])
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STREAMAPP_"))}
    env |= ENV | hostimage.env() | {"UP_WEB": str(args.web), "UP_WORKERS": str(args.workers)}
    env["UP_BAKE_REPO"] = args.bake_repo
    run("down", env)  # what an interrupted run left
    try:
        started = time.monotonic()
        out = run("up", env)
        (STATE / "up.out").write_text(out)  # each step's start time: where make up's time went
        url = next(
            line.split()[-1] for line in out.splitlines() if "StreamStack is running:" in line
        )
        print(
            f"make up: {time.monotonic() - started:.0f} s ({args.web} web, {args.workers} worker)"
        )
        aws = clients()
        autoscaling = aws("autoscaling")
        state_file = STATE / "up" / "fleet" / "fleet.json"
        scale_out, replace = [], []
        for _ in range(args.rounds):
            before = ec2_hosts.group_instances(aws, GROUP)
            started = time.monotonic()
            autoscaling.set_desired_capacity(
                AutoScalingGroupName=GROUP, DesiredCapacity=len(before) + 1
            )
            (added,) = set(ec2_hosts.group_instances(aws, GROUP)) - set(before)
            scale_out.append(ec2_hosts.launch_to_serving(aws, state_file, url, added, started))
            autoscaling.set_desired_capacity(
                AutoScalingGroupName=GROUP, DesiredCapacity=len(before)
            )
            (removed,) = ({*before, added} - set(ec2_hosts.group_instances(aws, GROUP))) or {None}
            if removed:
                wait_gone(removed)
        show(f"scale-out {args.web} -> {args.web + 1}", scale_out)
        for _ in range(args.rounds):
            before = ec2_hosts.group_instances(aws, GROUP)
            started = time.monotonic()
            autoscaling.terminate_instance_in_auto_scaling_group(
                InstanceId=before[0], ShouldDecrementDesiredCapacity=False
            )
            (added,) = set(ec2_hosts.group_instances(aws, GROUP)) - set(before)
            replace.append(ec2_hosts.launch_to_serving(aws, state_file, url, added, started))
            wait_gone(before[0])
        show("replacement of a terminated instance", replace)
    finally:
        # What the local EC2 did, kept (make down removes its state folder).
        log = STATE / "up" / "ec2.log"
        if log.exists():
            (STATE / "ec2.log").write_text(log.read_text())
        run("down", env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
