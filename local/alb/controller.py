"""The local "ALB" of `make up`, as a background process: local/alb/haproxy.py's
haproxy on 127.0.0.1 in front of the web hosts' published nginx ports, whose pool follows the
emulator's target group (register/deregister/draining, as the ALB's does), with the target
group's health check (its path: the app's liveness, /healthz). Its servers follow the fleet
state (FLEET_JSON, re-read on every poll): a host the Auto Scaling group launched joins the
pool once its target is healthy, one that is gone leaves it.

    python -m local.alb start --state DIR --port P --fleet FLEET_JSON   # detached; waits
    python -m local.alb stop --state DIR                                # idempotent
    python -m local.alb status --state DIR
    python -m local.alb serve ...   # what `start` runs in the background (foreground)

The AWS settings (emulator endpoint, dummy credentials) come from the environment. State in
DIR: alb.pid (this controller), lb/ (haproxy's config, pid, admin socket, log), alb.log.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

from local import daemon
from local.alb.haproxy import LoadBalancer


def running(state: Path) -> int | None:
    """The controller's pid if it runs (a `serve` of this script for this state folder)."""
    return daemon.ours(state / "alb.pid", "local.alb", state)


def _haproxy(state: Path) -> int | None:
    """The controller's haproxy if it still runs (after a controller crash)."""
    pid = daemon.read_pid(state / "lb" / "pid")
    args = daemon.cmdline(pid) if pid else []
    ours = bool(args) and args[0].endswith("haproxy") and str(state) in " ".join(args)
    return pid if ours else None


def _web_hosts(fleet_json: Path) -> dict[str, tuple[str, int]]:
    """The fleet's web hosts now: {instance id: (127.0.0.1, published nginx port)}."""
    fleet = json.loads(fleet_json.read_text())
    return {
        v["instance_id"]: ("127.0.0.1", int(v["port"]))
        for v in fleet.get("hosts", {}).values()
        if v["role"] == "web" and v.get("port") and v.get("instance_id")
    }


def serve(
    state: Path,
    port: int,
    fleet_json: Path,
    media_edge: str | None = None,
    media_paths: tuple[str, ...] = (),
) -> int:
    import boto3

    fleet = json.loads(fleet_json.read_text())
    if not fleet.get("target_group_arn"):
        print("alb: no target group in the fleet state", file=sys.stderr)
        return 1
    last: dict[str, tuple[str, int]] = {}

    def discover() -> dict[str, tuple[str, int]]:
        # The fleet state follows the instances (local/ec2/hosts.py); a file caught
        # half-written keeps the last answer.
        nonlocal last
        with contextlib.suppress(OSError, ValueError):
            last = _web_hosts(fleet_json)
        return last

    lb = LoadBalancer(
        name="alb",
        state_dir=state / "lb",
        servers={},
        target_group_arn=fleet["target_group_arn"],
        elbv2=boto3.client("elbv2"),
        poll_interval=1.0,
        port=port,
        discover=discover,
        media_edge=media_edge,
        media_paths=media_paths,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    lb.start()
    (state / "alb.pid").write_text(str(os.getpid()))
    print(f"alb: {lb.url} -> the web hosts of {fleet_json}", flush=True)
    reported = 0
    while not done.wait(5):
        for error in lb.errors[reported:]:
            print(f"alb: {error}", flush=True)
        reported = len(lb.errors)
    lb.stop()
    (state / "alb.pid").unlink(missing_ok=True)
    return 0


def start(
    state: Path,
    port: int,
    fleet_json: Path,
    timeout: float,
    media_edge: str | None = None,
    media_paths: tuple[str, ...] = (),
) -> int:
    state.mkdir(parents=True, exist_ok=True)
    stop(state)
    url = f"http://127.0.0.1:{port}/readyz"

    def healthy(_proc: object) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    return daemon.start(
        "local.alb",
        ["serve", "--state", str(state), "--port", str(port), "--fleet", str(fleet_json)]
        + (["--media-edge", media_edge] if media_edge else [])
        + [f"--media-path={path}" for path in media_paths],
        state / "alb.log",
        healthy,
        f"load balancer http://127.0.0.1:{port} (a healthy web host behind {url})",
        timeout,
        poll=1,
    )


def stop(state: Path) -> None:
    pid = running(state)
    if pid:
        daemon.stop(pid)
    haproxy = _haproxy(state)
    if haproxy:
        daemon.stop(haproxy, timeout=10)
    (state / "alb.pid").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status", "serve"])
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--port", type=int)
    parser.add_argument("--fleet", type=Path, help="the fleet state (local/hosts/fleet.py)")
    parser.add_argument("--timeout", type=float, default=90)
    parser.add_argument("--media-edge", help="the distribution's edge on the emulator")
    parser.add_argument("--media-path", action="append", default=[], help="e.g. /hls/")
    args = parser.parse_args(argv)
    state = args.state.resolve()
    media = {"media_edge": args.media_edge, "media_paths": tuple(args.media_path)}
    if args.action == "serve":
        return serve(state, args.port, args.fleet, **media)
    if args.action == "start":
        return start(state, args.port, args.fleet.resolve(), args.timeout, **media)
    if args.action == "stop":
        stop(state)
        return 0
    pid = running(state)
    print(f"running (pid {pid})" if pid else "stopped")
    return 0 if pid else 3
