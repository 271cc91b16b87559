"""The local EC2 of `make up`, as a background process: every POLL seconds it gives each instance
the emulator runs for the platform a podman host, started from its role's baked image, and
removes the host of an instance that is gone (local/ec2/hosts.py). So the Auto Scaling
groups launch and replace hosts for real: raise a group's desired capacity, or terminate an
instance, and a host follows.

    python -m local.ec2 start --state DIR --name FLEET [--platform-name N --platform-env E]
                                [--volume SRC:DEST[:ro]] [--baked] [--settings F]  # detached
    python -m local.ec2 stop --state DIR                                  # idempotent
    python -m local.ec2 status --state DIR
    python -m local.ec2 serve ...   # what `start` runs in the background (foreground)

The AWS settings (emulator endpoint, credentials) come from the environment; the hosts' state
is FLEET_STATE_DIR's fleet.json. State in DIR: ec2.pid, ec2.log (what it launched and removed).
Stopping it leaves the hosts as they are (make down removes them by their label).
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from pathlib import Path

from local import daemon
from local.ec2 import hosts as ec2_hosts

POLL = 1.0  # seconds between looks at the instances
FULL_EVERY = 15.0  # seconds between looks at the containers too (a host that stopped)


def running(state: Path) -> int | None:
    return daemon.ours(state / "ec2.pid", "local.ec2", state)


def serve(state: Path, args: argparse.Namespace) -> int:
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    hosts = ec2_hosts.from_args(
        args, log=lambda line: print(f"ec2: {time.strftime('%H:%M:%S')} {line}", flush=True)
    )
    (state / "ec2.pid").write_text(str(os.getpid()))
    print(f"ec2: hosts for the instances of {hosts.prefix} (fleet {args.name})", flush=True)
    last_full, failures = 0.0, 0
    while not done.is_set():
        full = time.monotonic() - last_full >= FULL_EVERY
        try:
            for line in hosts.reconcile(full=full):
                print(f"ec2: {time.strftime('%H:%M:%S')} {line}", flush=True)
            if full:
                last_full = time.monotonic()
            failures = 0
        except Exception as exc:  # keep following; a later pass tries again
            failures += 1
            detail = (getattr(exc, "stderr", None) or "").strip()[-2000:]
            print(
                f"ec2: {time.strftime('%H:%M:%S')} {type(exc).__name__}: {exc} {detail}", flush=True
            )
        # Back off while the emulator or podman fails (at most a minute between passes).
        done.wait(min(POLL * 2**failures, 60))
    hosts.join(timeout=45)  # removals under way (stop() waits 60 s)
    (state / "ec2.pid").unlink(missing_ok=True)
    print("ec2: stopped (the hosts stay)", flush=True)
    return 0


def start(
    state: Path,
    *,
    fleet: str,
    platform_name: str,
    platform_env: str,
    volumes: list[str],
    baked: bool,
    settings: Path | None,
    timeout: float = 30,
) -> int:
    """Start the local EC2 for the platform's instances (stopping one running for ``state``);
    0 once it serves."""
    state.mkdir(parents=True, exist_ok=True)
    stop(state)
    serve_args = [
        "serve", "--state", str(state), "--name", fleet,
        "--platform-name", platform_name, "--platform-env", platform_env,
        *(a for volume in volumes for a in ("--volume", volume)),
        *(["--baked"] if baked else []),
        *(["--settings", str(settings.resolve())] if settings else []),
    ]  # fmt: skip
    return daemon.start(
        "local.ec2",
        serve_args,
        state / "ec2.log",
        lambda proc: running(state) == proc.pid,
        "local EC2",
        timeout,
    )


def stop(state: Path) -> None:
    pid = running(state)
    if pid:
        daemon.stop(pid, timeout=60)  # a pass under way finishes first
    (state / "ec2.pid").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status", "serve"])
    parser.add_argument("--state", type=Path, required=True)
    ec2_hosts.add_arguments(parser)
    args = parser.parse_args(argv)
    state = args.state.resolve()
    if args.action == "serve":
        return serve(state, args)
    if args.action == "start":
        return start(
            state,
            fleet=args.name,
            platform_name=args.platform_name,
            platform_env=args.platform_env,
            volumes=args.volume,
            baked=args.baked,
            settings=args.settings,
        )
    if args.action == "stop":
        stop(state)
        return 0
    pid = running(state)
    print(f"running (pid {pid})" if pid else "stopped")
    return 0 if pid else 3
