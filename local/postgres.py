"""A throwaway PostgreSQL cluster from the Debian binaries, for tests and `make up`.

    python -m local.postgres start   # prints the SQLAlchemy URL, writes the state dir
    python -m local.postgres env     # shell exports (STREAMAPP_DATABASE_URL, PG*)
    python -m local.postgres stop
    python -m local.postgres tls --name NAME   # the certificate names NAME too; prints
                                                       # the CA file (tls/ under the state dir)

Data lives under ``.cache/postgres/`` (or ``PG_STATE_DIR``). PostgreSQL refuses to run as root,
so when we are root the cluster belongs to the ``postgres`` system user (``runuser``). It listens
on 127.0.0.1 only, on a free port, and plays an RDS instance:

- the database ``streamapp`` belongs to role ``streamapp``, which logs in with a password (scram)
  and has what RDS gives its master user: CREATEROLE, CREATEDB, membership of ``rds_superuser``
  (here a NOLOGIN stand-in of that name, holding nothing), but no superuser;
- TCP connections must use TLS (``hostssl`` only, like RDS for PostgreSQL 15+ with its default
  ``rds.force_ssl=1``). The server certificate comes from a CA of the cluster's own, the
  STAND-IN for the RDS CA bundle (``tls/ca.crt``), and names ``localhost``, ``127.0.0.1`` and
  whatever ``tls_names`` adds (``make up``: the RDS endpoint name its hosts connect to), so
  clients can use ``sslmode=verify-full`` as they do against RDS.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
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

from local import ROOT

STATE_DIR = Path(os.environ.get("PG_STATE_DIR", ROOT / ".cache" / "postgres"))
DB_NAME = "streamapp"
DB_USER = "streamapp"
DB_PASSWORD = "streamapp-test-password"
# What RDS names its master user's group role; here a stand-in with nothing granted.
RDS_SUPERUSER = "rds_superuser"
TLS_NAMES = ("localhost", "127.0.0.1")
# psql script: the password from the environment, both names quoted by psql (:"x", :'x').
SET_PASSWORD_SQL = """\\getenv password STREAMSTACK_ROLE_PASSWORD
ALTER ROLE :"role" PASSWORD :'password';
"""
# Local connections (the harness's own psql) by socket; TCP only with TLS, as on RDS.
PG_HBA = """\
# Written by local/postgres.py: TLS on every TCP connection, as RDS forces it.
local     all  all                 trust
hostssl   all  all  127.0.0.1/32   scram-sha-256
hostssl   all  all  ::1/128        scram-sha-256
hostnossl all  all  0.0.0.0/0      reject
hostnossl all  all  ::/0           reject
"""


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

    def url(
        self,
        driver: str = "postgresql+psycopg",
        database: str = DB_NAME,
        *,
        user: str = DB_USER,
        password: str | None = DB_PASSWORD,
    ) -> str:
        """The URL of ``database`` for ``user`` (the master user by default; ``password=None``
        leaves the password out, for an app that reads it elsewhere)."""
        login = f"{user}:{password}" if password else user
        return f"{driver}://{login}@127.0.0.1:{self.port}/{database}"

    def database(self, name: str) -> str:
        """URL of a database of its own in this cluster (created when missing, owned by the
        master user as RDS's database is), so that suites sharing the cluster do not see each
        other's rows."""
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name):
            raise ValueError(f"not a plain database name: {name!r}")
        sock_dir, port = self.state_dir / "sock", self.port
        if not self._psql(sock_dir, port, f"SELECT 1 FROM pg_database WHERE datname='{name}'"):  # noqa: S608
            self._psql(sock_dir, port, f"CREATE DATABASE {name} OWNER {DB_USER}")
        return self.url(database=name)

    def env(self) -> dict[str, str]:
        return {
            "STREAMAPP_DATABASE_URL": self.url(),
            "STREAMAPP_DATABASE_SSLMODE": "verify-full",
            "STREAMAPP_DATABASE_SSLROOTCERT": str(self.ca_file),
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGUSER": DB_USER,
            "PGPASSWORD": DB_PASSWORD,
            "PGDATABASE": DB_NAME,
            "PGSSLMODE": "verify-full",
            "PGSSLROOTCERT": str(self.ca_file),
        }

    # -- TLS: a CA of the cluster's own plays the RDS CA ------------------------------------
    @property
    def tls_dir(self) -> Path:
        return self.state_dir / "tls"

    @property
    def ca_file(self) -> Path:
        """The stand-in for the RDS CA bundle: what clients verify the server against."""
        return self.tls_dir / "ca.crt"

    def tls_names(self, *names: str) -> list[str]:
        """Make the server certificate name ``names`` too (besides localhost, 127.0.0.1 and
        the names added before); a running server reloads it. Returns every name it carries."""
        names_file = self.tls_dir / "names"
        have = names_file.read_text().split() if names_file.exists() else []
        wanted = sorted(set(TLS_NAMES) | set(have) | set(names))
        if have != wanted or not (self.tls_dir / "server.crt").exists():
            self._issue_server_certificate(wanted)
            names_file.write_text("\n".join(wanted) + "\n")
            if self.running():
                self._run([str(self.bin / "pg_ctl"), "reload", "-D", str(self.data_dir)])
        return wanted

    def _issue_server_certificate(self, names: list[str]) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.tls_dir.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)
        pem = serialization.Encoding.PEM
        plain = serialization.NoEncryption()
        pkcs8 = serialization.PrivateFormat.PKCS8
        ca_key_file = self.tls_dir / "ca.key"
        if ca_key_file.exists() and self.ca_file.exists():
            ca_key = serialization.load_pem_private_key(ca_key_file.read_bytes(), None)
            ca_cert = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
        else:
            ca_key = ec.generate_private_key(ec.SECP256R1())
            ca_name = x509.Name(
                [x509.NameAttribute(NameOID.COMMON_NAME, "StreamStack local RDS CA (stand-in)")]
            )
            ca_cert = (
                x509.CertificateBuilder()
                .subject_name(ca_name)
                .issuer_name(ca_name)
                .public_key(ca_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=False,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        key_cert_sign=True,
                        crl_sign=True,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
                .sign(ca_key, hashes.SHA256())
            )
            ca_key_file.write_bytes(ca_key.private_bytes(pem, pkcs8, plain))
            ca_key_file.chmod(0o600)
            self.ca_file.write_bytes(ca_cert.public_bytes(pem))
            self.ca_file.chmod(0o644)
        key = ec.generate_private_key(ec.SECP256R1())
        alt_names: list[x509.GeneralName] = []
        for name in names:
            try:
                alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt_names.append(x509.DNSName(name))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=825))
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        # PostgreSQL refuses a key file others can read; it belongs to the cluster's owner.
        key_file, cert_file = self.tls_dir / "server.key", self.tls_dir / "server.crt"
        key_file.write_bytes(key.private_bytes(pem, pkcs8, plain))
        key_file.chmod(0o600)
        cert_file.write_bytes(cert.public_bytes(pem) + ca_cert.public_bytes(pem))
        for path in (self.tls_dir, key_file, cert_file):
            self._chown(path)

    # -- running as the cluster's owner ----------------------------------------------------
    def _owner(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    def _run(
        self,
        args: list[str],
        *,
        timeout: float = 60,
        check: bool = True,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> str:
        owner = self._owner()
        cmd = (["runuser", "-u", owner, "--"] if owner else []) + args
        proc = subprocess.run(
            cmd, input=stdin, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
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
        self.tls_names()
        hba = self.data_dir / "pg_hba.conf"
        if hba.read_text() != PG_HBA:
            hba.write_text(PG_HBA)
        options = (
            f"-p {port} -k {sock_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100 "
            f"-c ssl=on -c ssl_cert_file={self.tls_dir / 'server.crt'} "
            f"-c ssl_key_file={self.tls_dir / 'server.key'}"
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
        exists = "SELECT 1 FROM pg_roles WHERE rolname = '{}'"
        if not self._psql(sock_dir, port, exists.format(RDS_SUPERUSER)):
            self._psql(sock_dir, port, f"CREATE ROLE {RDS_SUPERUSER} NOLOGIN")
        if not self._psql(sock_dir, port, f"SELECT 1 FROM pg_roles WHERE rolname='{DB_USER}'"):  # noqa: S608
            self._psql(sock_dir, port, f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{DB_PASSWORD}'")
        # RDS's master user: may create roles and databases, is in rds_superuser, no superuser.
        self._psql(sock_dir, port, f"ALTER ROLE {DB_USER} CREATEROLE CREATEDB")
        if not self._psql(
            sock_dir, port, f"SELECT 1 WHERE pg_has_role('{DB_USER}', '{RDS_SUPERUSER}', 'MEMBER')"
        ):
            self._psql(sock_dir, port, f"GRANT {RDS_SUPERUSER} TO {DB_USER}")
        if not self._psql(sock_dir, port, f"SELECT 1 FROM pg_database WHERE datname='{DB_NAME}'"):  # noqa: S608
            self._psql(sock_dir, port, f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")

    def set_role_password(self, role: str, password: str) -> None:
        """Set a login role's password (as RDS sets its master user's from the secret). Both go
        to psql as variables it quotes itself, never into the SQL text; the password through
        the environment, not the command line that `ps` shows."""
        if not self.running():
            raise RuntimeError("PostgreSQL is not running (python -m local.postgres start)")
        self._run(
            [
                str(self.bin / "psql"),
                "-h", str(self.state_dir / "sock"), "-p", str(self.port),
                "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qAt",
                "-v", f"role={role}",
            ],
            stdin=SET_PASSWORD_SQL,
            env=dict(os.environ, STREAMSTACK_ROLE_PASSWORD=password),
        )  # fmt: skip

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
    parser.add_argument("action", choices=["start", "stop", "status", "env", "destroy", "tls"])
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--name", action="append", default=[], help="tls: a name to certify")
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
            print("postgres is not running (python -m local.postgres start)", file=sys.stderr)
            return 1
        print("".join(f"export {k}={v}\n" for k, v in pg.env().items()), end="")
    elif args.action == "destroy":
        pg.destroy()
    elif args.action == "tls":
        pg.tls_names(*args.name)
        print(pg.ca_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
