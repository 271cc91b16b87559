"""The Elastic Beanstalk STAND-IN's background process: every POLL seconds it keeps the stand-in
instances in step with the emulated environments of one application
(local/beanstalk/environments.py): an environment that is Ready with a deployed version gets
instances of it, a new version or platform version replaces them rolling with an additional
batch, a terminated environment's instances go.

    python -m local.beanstalk start --state DIR --name FLEET --application APP [--overlay F]
        [--database-ca CA]
    python -m local.beanstalk stop --state DIR                             # idempotent
    python -m local.beanstalk status --state DIR
    python -m local.beanstalk serve ...   # what `start` runs in the background (foreground)

The AWS settings (emulator endpoint, credentials, Region) come from the environment. ``--overlay``:
a JSON file of environment properties laid over the environments' own (what differs on this
machine); ``--database-ca``: the database's CA bundle, mounted on each instance where the
bundle's hook looks for it (a STAND-IN for an image that brings it). State in DIR:
beanstalk.pid, beanstalk.log, fleet.json (for python -m local.alb), bundles/, instances/.
Stopping it leaves the hosts (make down removes them by their label).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
from pathlib import Path

from local import daemon
from local.beanstalk.environments import Environments
from local.beanstalk.instances import Instances
from local.ec2.hosts import aws_factory

POLL = 2.0
MODULE = "local.beanstalk"


def running(state: Path) -> int | None:
    return daemon.ours(state / "beanstalk.pid", MODULE, state)


def environments(
    state: Path, fleet: str, application: str, overlay: Path | None, database_ca: Path | None
) -> Environments:
    def log(line: str) -> None:
        print(f"beanstalk: {time.strftime('%H:%M:%S')} {line}", flush=True)

    instances = Instances(
        fleet,
        aws_factory(),
        os.environ["AWS_ENDPOINT_URL"],
        state,
        region=os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"),
        log=log,
        database_ca=database_ca,
    )
    properties = json.loads(overlay.read_text()) if overlay else {}
    return Environments(instances, application, properties, log)


def serve(state: Path, args: argparse.Namespace) -> int:
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    envs = environments(state, args.name, args.application, args.overlay, args.database_ca)
    (state / "beanstalk.pid").write_text(str(os.getpid()))
    envs.log(f"stand-in instances for the environments of {args.application} (fleet {args.name})")
    failures = 0
    while not done.is_set():
        try:
            for line in envs.reconcile():
                envs.log(line)
            failures = 0
        except Exception as exc:  # keep following; a later pass tries again
            failures += 1
            envs.log(f"{type(exc).__name__}: {exc}")
        done.wait(min(POLL * 2**failures, 60))
    envs.join(timeout=30)
    (state / "beanstalk.pid").unlink(missing_ok=True)
    envs.log("stopped (the hosts stay)")
    return 0


def start(
    state: Path,
    *,
    fleet: str,
    application: str,
    overlay: Path | None,
    database_ca: Path | None = None,
    timeout: float = 30,
) -> int:
    """Start the daemon for ``application`` (stopping one running for ``state``); 0 once it runs."""
    state.mkdir(parents=True, exist_ok=True)
    stop(state)
    serve_args = [
        "serve", "--state", str(state), "--name", fleet, "--application", application,
        *(["--overlay", str(overlay.resolve())] if overlay else []),
        *(["--database-ca", str(database_ca.resolve())] if database_ca else []),
    ]  # fmt: skip
    return daemon.start(
        MODULE,
        serve_args,
        state / "beanstalk.log",
        lambda proc: running(state) == proc.pid,
        "Elastic Beanstalk stand-in",
        timeout,
    )


def stop(state: Path) -> None:
    pid = running(state)
    if pid:
        daemon.stop(pid, timeout=60)
    (state / "beanstalk.pid").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status", "serve"])
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--name", default="stream-local", help="the fleet (podman label)")
    parser.add_argument("--application", help="the Elastic Beanstalk application")
    parser.add_argument("--overlay", type=Path, help="JSON: properties over the environments'")
    parser.add_argument(
        "--database-ca", type=Path, help="the database's CA bundle, mounted on the instances"
    )
    args = parser.parse_args(argv)
    state = args.state.resolve()
    if args.action == "serve":
        return serve(state, args)
    if args.action == "start":
        return start(
            state,
            fleet=args.name,
            application=args.application,
            overlay=args.overlay,
            database_ca=args.database_ca,
        )
    if args.action == "stop":
        stop(state)
        return 0
    pid = running(state)
    print(f"running (pid {pid})" if pid else "stopped")
    return 0 if pid else 3
