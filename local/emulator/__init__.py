"""The local AWS emulator: moto in server mode with the project's fidelity layer.

One module for every user of the emulator (pytest, Molecule, `make up`):

    python -m local.emulator start   # prints the endpoint, writes .emulator/
    python -m local.emulator env     # shell exports for boto3, Ansible, aws_ec2
    python -m local.emulator stop

State lives in ``.emulator/`` at the repository root: ``pid`` (the moto server process itself),
``endpoint``, ``env`` (shell exports) and ``vars.yml`` (extra vars for ansible-playbook).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from local import ROOT

STATE_DIR = Path(os.environ.get("EMULATOR_STATE_DIR", ROOT / ".emulator"))
REGION = "eu-west-1"
SERVER_MODULE = "local.emulator.server"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def aws_env(endpoint: str, region: str = REGION) -> dict[str, str]:
    """Environment for boto3, botocore-based tools and the amazon.aws modules/inventory."""
    return {
        "AWS_ENDPOINT_URL": endpoint,  # botocore and the aws_ec2 inventory
        "AWS_URL": endpoint,  # amazon.aws modules' own fallback
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def operator_client(endpoint: str, service: str, region: str = REGION):
    """A boto3 client on the emulator at ``endpoint`` as the operator: the account's own keys,
    no session token (the emulator enforces IAM on assumed-role sessions only)."""
    import boto3

    env = aws_env(endpoint, region)
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


@dataclass
class Emulator:
    state_dir: Path = STATE_DIR
    region: str = REGION

    @property
    def endpoint(self) -> str | None:
        try:
            return (self.state_dir / "endpoint").read_text().strip()
        except FileNotFoundError:
            return None

    @property
    def pid(self) -> int | None:
        try:
            return int((self.state_dir / "pid").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def env(self) -> dict[str, str]:
        if not self.endpoint:
            raise RuntimeError("emulator is not running (no .emulator/endpoint)")
        return aws_env(self.endpoint, self.region)

    def running(self) -> bool:
        pid, endpoint = self.pid, self.endpoint
        return bool(pid and endpoint and _is_our_server(pid) and _answers(endpoint))

    def start(self, port: int | None = None, timeout: float = 60.0) -> str:
        """Start the server unless ours already answers; return its endpoint."""
        if self.running():
            return self.endpoint  # type: ignore[return-value]
        self.stop()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        port = port or free_port()
        endpoint = f"http://127.0.0.1:{port}"
        log = open(self.state_dir / "server.log", "ab")  # noqa: SIM115 - handed to the child
        env = dict(os.environ, MOTO_IAM_LOAD_MANAGED_POLICIES="true", PYTHONPATH=str(ROOT))
        env.pop("AWS_ENDPOINT_URL", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", SERVER_MODULE, "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not _answers(endpoint):
            if proc.poll() is not None:
                raise RuntimeError(
                    f"emulator exited with {proc.returncode}; see {self.state_dir / 'server.log'}"
                )
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"emulator did not answer on {endpoint} within {timeout}s")
            time.sleep(0.1)
        (self.state_dir / "pid").write_text(str(proc.pid))
        (self.state_dir / "endpoint").write_text(endpoint)
        self._write_env_files(endpoint)
        return endpoint

    def stop(self, timeout: float = 10.0) -> None:
        pid = self.pid
        if pid and _is_our_server(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        for name in ("pid", "endpoint", "env", "vars.yml"):
            (self.state_dir / name).unlink(missing_ok=True)

    def reset(self) -> None:
        """Wipe every resource (moto's own reset API)."""
        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(req, timeout=10).close()

    def timing(self, scale: float) -> dict:
        """Set the scale of AWS's durations (the fidelity layer's AWS_DURATIONS: 0 is moto's
        instant resources, 1/36 a 12-minute RDS create in 20 s); returns the timing table."""
        req = urllib.request.Request(
            f"{self.endpoint}/moto-api/fidelity/timing",
            data=json.dumps({"scale": scale}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def realistic(
        self, scale: float, fault_rate: float = 0.0, seed: int = 0, consistency: float = 1.0
    ) -> dict:
        """The realistic mode (the fidelity layer's /moto-api/fidelity/realistic): AWS's durations
        at ``scale``, eventual consistency (its windows times ``consistency``), and throttling or
        5xx faults on ``fault_rate`` of the requests, reproducible from ``seed``. Scale and rate
        0 turn it off. Returns its state: settings, durations, faults given so far."""
        settings = {"scale": scale, "fault_rate": fault_rate, "seed": seed}
        return self._fidelity("realistic", settings | {"consistency": consistency})

    def realistic_state(self) -> dict:
        return self._fidelity("realistic")

    def beanstalk_health(
        self, environment: str, health: str | None = None, status: str = "Warning", causes=()
    ) -> dict:
        """What an Elastic Beanstalk environment's instances report (the fidelity layer's
        /moto-api/fidelity/elasticbeanstalk/health): ``health`` (Yellow, Red, ...) with its
        enhanced-health ``status`` and ``causes`` once the environment's operations end; None
        is Green and Ok again. Returns the environment."""
        report = {"environment": environment, "health": health, "status": status}
        return self._fidelity("elasticbeanstalk/health", report | {"causes": list(causes)})

    def _fidelity(self, name: str, settings: dict | None = None) -> dict:
        data = None if settings is None else json.dumps(settings).encode()
        req = urllib.request.Request(
            f"{self.endpoint}/moto-api/fidelity/{name}",
            data=data,
            method="GET" if data is None else "POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def journal(self, *, clear: bool = False) -> list[dict]:
        """What clients sent (the fidelity layer's request journal), oldest first; ``clear``
        empties it instead."""
        url = f"{self.endpoint}/moto-api/fidelity/journal"
        req = urllib.request.Request(url, method="POST" if clear else "GET")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def _write_env_files(self, endpoint: str) -> None:
        exports = "".join(
            f"export {key}={value}\n" for key, value in aws_env(endpoint, self.region).items()
        )
        (self.state_dir / "env").write_text(exports)
        (self.state_dir / "vars.yml").write_text(
            "---\n"
            f"aws_endpoint_url: {json.dumps(endpoint)}\n"
            f"aws_region: {json.dumps(self.region)}\n"
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _is_our_server(pid: int) -> bool:
    """Guard against PID reuse: only signal a process running our server module."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return _alive(pid) and SERVER_MODULE.encode() in cmdline


def _answers(endpoint: str) -> bool:
    # The dashboard page is static. /moto-api/data.json serialises every resource: it slows
    # down as state grows and answers 500 once the state holds an internet gateway, which
    # made a provisioned emulator look dead (and `start` replace it with an empty one).
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=5) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status", "env", "reset"])
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    emu = Emulator()
    if args.action == "start":
        print(emu.start(port=args.port))
    elif args.action == "stop":
        emu.stop()
    elif args.action == "status":
        running = emu.running()
        print(f"running at {emu.endpoint} (pid {emu.pid})" if running else "stopped")
        return 0 if running else 3
    elif args.action == "env":
        print("".join(f"export {k}={v}\n" for k, v in emu.env().items()), end="")
    elif args.action == "reset":
        emu.reset()
    return 0
