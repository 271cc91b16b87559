"""The local "ALB" of `make up`, as a background process: tests/harness/loadbalancer.py's
haproxy on 127.0.0.1 in front of the web hosts' published nginx ports, whose pool follows the
emulator's target group (register/deregister/draining, as the ALB's does), with the target
group's health check (its path: the app's liveness, /healthz).

    python scripts/alb.py start --state DIR --port P --fleet FLEET_JSON   # detached; waits
    python scripts/alb.py stop --state DIR                                # idempotent
    python scripts/alb.py status --state DIR
    python scripts/alb.py serve ...   # what `start` runs in the background (foreground)

The AWS settings (emulator endpoint, dummy credentials) come from the environment. State in
DIR: alb.pid (this controller), lb/ (haproxy's config, pid, admin socket, log), alb.log.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.harness.loadbalancer import LoadBalancer  # noqa: E402


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _ours(state: Path) -> int | None:
    """The controller's pid if it runs (a `serve` of this script for this state folder)."""
    pid = _pid(state / "alb.pid")
    args = _cmdline(pid) if pid else []
    if pid and "serve" in args and str(state) in args and any(a.endswith("alb.py") for a in args):
        return pid
    return None


def _haproxy(state: Path) -> int | None:
    """The controller's haproxy if it still runs (after a controller crash)."""
    pid = _pid(state / "lb" / "pid")
    args = _cmdline(pid) if pid else []
    ours = bool(args) and args[0].endswith("haproxy") and str(state) in " ".join(args)
    return pid if ours else None


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state == "Z":
                return True
        except (OSError, IndexError):
            return True
        time.sleep(0.1)
    return not Path(f"/proc/{pid}").exists()


def serve(state: Path, port: int, fleet_json: Path) -> int:
    import boto3

    fleet = json.loads(fleet_json.read_text())
    servers = {
        v["instance_id"]: ("127.0.0.1", int(v["port"]))
        for v in fleet["hosts"].values()
        if v["role"] == "web" and v.get("port") and v.get("instance_id")
    }
    if not servers or not fleet.get("target_group_arn"):
        print("alb: no paired web hosts or no target group in the fleet state", file=sys.stderr)
        return 1
    lb = LoadBalancer(
        name="alb",
        state_dir=state / "lb",
        servers=servers,
        target_group_arn=fleet["target_group_arn"],
        elbv2=boto3.client("elbv2"),
        poll_interval=1.0,
        port=port,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    lb.start()
    (state / "alb.pid").write_text(str(os.getpid()))
    print(f"alb: {lb.url} -> {servers}", flush=True)
    reported = 0
    while not done.wait(5):
        for error in lb.errors[reported:]:
            print(f"alb: {error}", flush=True)
        reported = len(lb.errors)
    lb.stop()
    (state / "alb.pid").unlink(missing_ok=True)
    return 0


def start(state: Path, port: int, fleet_json: Path, timeout: float) -> int:
    state.mkdir(parents=True, exist_ok=True)
    stop(state)
    log = open(state / "alb.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "serve", "--state", str(state),
         "--port", str(port), "--fleet", str(fleet_json)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True, cwd=ROOT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/readyz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            print((state / "alb.log").read_text()[-3000:], file=sys.stderr)
            return 1
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    print(f"    load balancer pid {proc.pid}: http://127.0.0.1:{port}")
                    return 0
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    print(f"alb: no healthy web host behind {url} after {timeout:.0f} s", file=sys.stderr)
    return 1


def stop(state: Path) -> None:
    pid = _ours(state)
    if pid:
        os.kill(pid, signal.SIGTERM)
        if not _wait_gone(pid, 15):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 5)
    haproxy = _haproxy(state)
    if haproxy:
        os.kill(haproxy, signal.SIGTERM)
        if not _wait_gone(haproxy, 10):
            os.kill(haproxy, signal.SIGKILL)
    (state / "alb.pid").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status", "serve"])
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--port", type=int)
    parser.add_argument("--fleet", type=Path, help="the fleet state (tests/harness/fleet.py)")
    parser.add_argument("--timeout", type=float, default=90)
    args = parser.parse_args(argv)
    state = args.state.resolve()
    if args.action == "serve":
        return serve(state, args.port, args.fleet)
    if args.action == "start":
        return start(state, args.port, args.fleet.resolve(), args.timeout)
    if args.action == "stop":
        stop(state)
        return 0
    pid = _ours(state)
    print(f"running (pid {pid})" if pid else "stopped")
    return 0 if pid else 3


if __name__ == "__main__":
    sys.exit(main())
