"""A throwaway PostgreSQL cluster from the Debian binaries, for tests and `make up`.

    python -m tests.harness.postgres start   # prints the SQLAlchemy URL, writes the state dir
    python -m tests.harness.postgres env     # shell exports (STREAMAPP_DATABASE_URL, PG*)
    python -m tests.harness.postgres stop

Data lives under ``.cache/postgres/`` (or ``PG_STATE_DIR``). PostgreSQL refuses to run as root,
so when we are root the cluster belongs to the ``postgres`` system user (``runuser``). It listens
on 127.0.0.1 only, on a free port; the database ``streamapp`` belongs to role ``streamapp``,
which logs in with a password (scram) like it would on RDS.
"""

from __future__ import annotations

import argparse
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = Path(os.environ.get("PG_STATE_DIR", ROOT / ".cache" / "postgres"))
DB_NAME = "streamapp"
DB_USER = "streamapp"
DB_PASSWORD = "streamapp-test-password"


def bin_dir() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    if not candidates:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    return candidates[0].parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Postgres:
    state_dir: Path = STATE_DIR
    bin: Path = field(default_factory=bin_dir)

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def port(self) -> int | None:
        try:
            return int((self.state_dir / "port").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def url(self, driver: str = "postgresql+psycopg", database: str = DB_NAME) -> str:
        return f"{driver}://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{self.port}/{database}"

    def database(self, name: str) -> str:
        """URL of a database of its own in this cluster (created when missing, owned by the app's
        role), so that suites sharing the cluster do not see each other's rows."""
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name):
            raise ValueError(f"not a plain database name: {name!r}")
        sock_dir, port = self.state_dir / "sock", self.port
        if not self._psql(sock_dir, port, f"SELECT 1 FROM pg_database WHERE datname='{name}'"):  # noqa: S608
            self._psql(sock_dir, port, f"CREATE DATABASE {name} OWNER {DB_USER}")
        return self.url(database=name)

    def env(self) -> dict[str, str]:
        return {
            "STREAMAPP_DATABASE_URL": self.url(),
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGUSER": DB_USER,
            "PGPASSWORD": DB_PASSWORD,
            "PGDATABASE": DB_NAME,
        }

    # -- running as the cluster's owner ----------------------------------------------------
    def _owner(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    def _run(self, args: list[str], *, timeout: float = 60, check: bool = True) -> str:
        owner = self._owner()
        cmd = (["runuser", "-u", owner, "--"] if owner else []) + args
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {proc.stderr.strip() or proc.stdout}")
        return proc.stdout

    def _chown(self, path: Path) -> None:
        owner = self._owner()
        if owner:
            entry = pwd.getpwnam(owner)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    # -- lifecycle ---------------------------------------------------------------------------
    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def running(self) -> bool:
        if not self.initialised():
            return False
        proc = self._run(
            [str(self.bin / "pg_ctl"), "status", "-D", str(self.data_dir)], check=False
        )
        return "server is running" in proc

    def init(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._chown(self.state_dir)
        pwfile = self.state_dir / "superuser.pw"
        pwfile.write_text(DB_PASSWORD + "\n")
        self._chown(pwfile)
        self._run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
                "--no-sync",
            ],
            timeout=120,
        )
        pwfile.unlink()

    def start(self, port: int | None = None, timeout: float = 60) -> str:
        """Start (initialising on first use); keep the port of an earlier start if free."""
        if self.running():
            return self.url()
        if not self.initialised():
            self.init()
        port = port or self.port or free_port()
        sock_dir = self.state_dir / "sock"
        sock_dir.mkdir(exist_ok=True)
        self._chown(sock_dir)
        options = (
            f"-p {port} -k {sock_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        self._run(
            [
                str(self.bin / "pg_ctl"),
                "start",
                "-w",
                "-t",
                str(int(timeout)),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.state_dir / "server.log"),
                "-o",
                options,
            ],
            timeout=timeout + 10,
        )
        (self.state_dir / "port").write_text(str(port))
        self._ensure_database(sock_dir, port)
        return self.url()

    def _psql(self, sock_dir: Path, port: int, sql: str, db: str = "postgres") -> str:
        return self._run(
            [
                str(self.bin / "psql"),
                "-h",
                str(sock_dir),
                "-p",
                str(port),
                "-U",
                "postgres",
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-Atc",
                sql,
            ]
        )

    def _ensure_database(self, sock_dir: Path, port: int) -> None:
        # Constant identifiers of our own, no user input: plain SQL text is safe here.
        if not self._psql(sock_dir, port, f"SELECT 1 FROM pg_roles WHERE rolname='{DB_USER}'"):  # noqa: S608
            self._psql(sock_dir, port, f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{DB_PASSWORD}'")
        if not self._psql(sock_dir, port, f"SELECT 1 FROM pg_database WHERE datname='{DB_NAME}'"):  # noqa: S608
            self._psql(sock_dir, port, f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")

    def stop(self, timeout: float = 30) -> None:
        if self.running():
            self._run(
                [
                    str(self.bin / "pg_ctl"),
                    "stop",
                    "-w",
                    "-t",
                    str(int(timeout)),
                    "-m",
                    "fast",
                    "-D",
                    str(self.data_dir),
                ],
                timeout=timeout + 10,
            )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
                check=False,
                timeout=10,
            )
            if proc.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"PostgreSQL on port {self.port} not ready within {timeout}s")

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status", "env", "destroy"])
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    pg = Postgres()
    if args.action == "start":
        print(pg.start(port=args.port))
    elif args.action == "stop":
        pg.stop()
    elif args.action == "status":
        running = pg.running()
        print(f"running on 127.0.0.1:{pg.port}" if running else "stopped")
        return 0 if running else 3
    elif args.action == "env":
        if not pg.running():
            print(
                "postgres is not running (python -m tests.harness.postgres start)", file=sys.stderr
            )
            return 1
        print("".join(f"export {k}={v}\n" for k, v in pg.env().items()), end="")
    elif args.action == "destroy":
        pg.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
