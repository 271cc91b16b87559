"""The console scripts the Ansible role runs: migrate, API (serves /readyz), worker."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from streamapp.config import Settings

BIN = Path(sys.executable).parent


def _env(settings: Settings, port: int) -> dict[str, str]:
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"STREAMAPP_{name.upper()}"] = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
    env.update(STREAMAPP_PORT=str(port), STREAMAPP_WORKERS="1", STREAMAPP_LOG_LEVEL="INFO")
    return env


def test_migrate_api_and_worker_entry_points(settings: Settings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = _env(settings, port)
    migrate = subprocess.run(
        [str(BIN / "streamapp-migrate")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    assert '"schema up to date"' in migrate.stdout

    worker = subprocess.run(
        [str(BIN / "streamapp-worker"), "--exit-when-idle"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert worker.returncode == 0, worker.stderr
    assert '"worker started"' in worker.stdout

    api = subprocess.Popen(
        [str(BIN / "streamapp-api")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline, status = time.monotonic() + 30, 0
        while time.monotonic() < deadline and status != 200:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                    status = r.status
            except OSError:
                time.sleep(0.3)
        assert status == 200
    finally:
        api.terminate()
        out = api.communicate(timeout=20)[0].decode()
    assert '"route": "/readyz"' in out  # JSON access log line
