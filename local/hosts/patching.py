"""What the patching test and benchmark share: a fleet (local/hosts/fleet.py) of a provisioned
platform converged with playbooks/configure.yml the way `make up` does it, and a test apt
repository that gives the hosts something to patch.

The test repository (mounted read-only into every host at /srv/patchrepo) holds two packages
the hosts get at version 1.0 before a patch:

- ``streamstack-patchprobe``: a shared library the app's units preload (a systemd drop-in sets
  LD_PRELOAD), so upgrading it leaves the running API/worker mapping a deleted file, exactly
  like a libc or OpenSSL security update would; its new versions are published in the suite
  ``patchtest-security`` (a security update by patch_security_origin_pattern).
- ``streamstack-patchextra``: a plain package whose new version is only in ``patchtest-updates``
  (not a security update: patch_upgrade=security leaves it out, all takes it).

The hosts' Debian sources are switched off while they are patched in tests, so only this
repository offers upgrades (a real mirror's updates would make runs slow and unpredictable).
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local import prepared_account
from local.ansible import ROOT, PlaybookResult, run_playbook
from local.hosts.fleet import Fleet
from local.hosts.image import APT_ARCHIVES
from local.standin import cwagent as cwagent_standin

CONFIGURE = ROOT / "playbooks" / "configure.yml"
PROVISION = ROOT / "playbooks" / "provision.yml"
PATCH = ROOT / "playbooks" / "patch.yml"
REPO_MOUNT = "/srv/patchrepo"
STANDIN_MOUNT = "/srv/streamstack-standin"
PROBE = "streamstack-patchprobe"
EXTRA = "streamstack-patchextra"
PROBE_LIB = f"/usr/lib/{PROBE}/libpatchprobe.so"
# On a host: test packages at 1.0, the test repository as the only apt source, and the probe
# library preloaded into the given units (restarted once). Arguments: library, repo, units.
PREPARE_SCRIPT = r"""
set -e
lib=$1 repo=$2; shift 2
dpkg -i --force-downgrade "$repo"/base/*.deb >/dev/null
mkdir -p /etc/apt/sources.list.off
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  if [ -f "$f" ] && [ "${f##*/}" != patchtest.list ]; then mv "$f" /etc/apt/sources.list.off/; fi
done
{ echo "deb [trusted=yes] file:$repo/security ./"
  echo "deb [trusted=yes] file:$repo/updates ./"; } >/etc/apt/sources.list.d/patchtest.list
for unit in $@; do
  mkdir -p "/etc/systemd/system/$unit.d"
  printf '[Service]\nEnvironment=LD_PRELOAD=%s\n' "$lib" \
    >"/etc/systemd/system/$unit.d/patchprobe.conf"
done
systemctl daemon-reload
systemctl restart $@
"""
# The fault: the API gets a database URL nothing answers on, from its next (re)start.
BREAK_SCRIPT = r"""
set -e
d=/etc/systemd/system/streamapp-api.service.d
mkdir -p $d
# A later EnvironmentFile= wins over the role's (Environment= would not: files override it).
echo STREAMAPP_DATABASE_URL=postgresql+psycopg://streamapp@10.0.2.2:1/broken \
  >/etc/streamapp/broken.env
printf '[Service]\nEnvironmentFile=/etc/streamapp/broken.env\n' >$d/zz-broken.conf
systemctl daemon-reload
"""
# A host's own apt archives folder inside the shared one (see private_apt_archives).
ARCHIVES_SCRIPT = r"""
set -e
d=/var/cache/apt/archives/hosts/$(hostname)
mkdir -p "$d/partial"
find /var/cache/apt/archives -maxdepth 1 -name '*.deb' -exec cp -al -t "$d" {} + 2>/dev/null || true
echo "Dir::Cache::Archives \"$d/\";" >/etc/apt/apt.conf.d/00host-archives
"""
# Units that preload the probe library, per role.
PROBE_UNITS = {"web": ["streamapp-api.service"], "worker": ["streamapp-worker.service"]}


# -- the test apt repository --------------------------------------------------------------------


def _deb(work: Path, name: str, version: str, out: Path) -> Path:
    root = work / f"{name}-{version}"
    lib = root / "usr" / "lib" / name
    lib.mkdir(parents=True)
    (root / "DEBIAN").mkdir()
    source = work / f"{name}-{version}.c"
    symbol = name.replace("-", "_")
    source.write_text(f'const char *{symbol}_version(void) {{ return "{version}"; }}\n')
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            "-o",
            str(lib / f"lib{name.rsplit('-', 1)[1]}.so"),
            str(source),
        ],
        check=True,
    )
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: StreamStack tests <noreply@example.invalid>\n"
        "Description: StreamStack patching test package (local/hosts/patching.py)\n"
    )
    target = out / f"{name}_{version}_all.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(root), str(target)],
        check=True,
        capture_output=True,
    )
    return target


def _index(suite_dir: Path, suite: str, label: str) -> None:
    """Packages(.gz) and a Release file with hashes, so apt reads it like a real archive."""
    packages = subprocess.run(
        ["dpkg-scanpackages", "-m", "."],
        cwd=suite_dir,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (suite_dir / "Packages").write_text(packages)
    (suite_dir / "Packages.gz").write_bytes(gzip.compress(packages.encode(), mtime=0))
    lines = [
        "Origin: StreamStack",
        f"Label: {label}",
        f"Suite: {suite}",
        f"Codename: {suite}",
        f"Date: {email.utils.formatdate(usegmt=True)}",
        "Architectures: all amd64 arm64",
        "SHA256:",
    ]
    for name in ("Packages", "Packages.gz"):
        data = (suite_dir / name).read_bytes()
        lines.append(f" {hashlib.sha256(data).hexdigest()} {len(data)} {name}")
    (suite_dir / "Release").write_text("\n".join(lines) + "\n")


@dataclass
class TestRepo:
    """The test apt repository on the controller (``path``), mounted into every host."""

    path: Path

    def build(self, probe_version: str = "1.1", extra_version: str = "1.1") -> None:
        """Version 1.0 of both packages in ``base/`` (installed before a patch), the probe's
        ``probe_version`` in the security suite, the extra package's in the updates suite."""
        self.path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            staged = work / "repo"
            for sub in ("base", "security", "updates"):
                (staged / sub).mkdir(parents=True)
            _deb(work, PROBE, "1.0", staged / "base")
            _deb(work, EXTRA, "1.0", staged / "base")
            _deb(work, PROBE, probe_version, staged / "security")
            _deb(work, EXTRA, extra_version, staged / "updates")
            _index(staged / "security", "patchtest-security", "StreamStack-Security")
            _index(staged / "updates", "patchtest-updates", "StreamStack")
            for sub in ("base", "security", "updates"):
                shutil.rmtree(self.path / sub, ignore_errors=True)
                shutil.copytree(staged / sub, self.path / sub)

    def publish_probe(self, version: str) -> None:
        """A newer probe in the security suite (the next patch's update)."""
        with tempfile.TemporaryDirectory() as tmp:
            suite = self.path / "security"
            for old in suite.glob(f"{PROBE}_*.deb"):
                old.unlink()
            _deb(Path(tmp), PROBE, version, suite)
            _index(suite, "patchtest-security", "StreamStack-Security")


# -- a converged fleet --------------------------------------------------------------------------


@dataclass
class PatchFleet:
    """A Fleet of platform ``platform_name`` (env local), converged and ready to patch."""

    fleet: Fleet
    platform_name: str
    work_dir: Path
    aws: Callable[[str], Any]
    emulator_endpoint: str
    postgres: Any  # local.postgres.Postgres
    public_url: str = "http://127.0.0.1"
    # The AWS variables the playbooks run with (CI's deploy role: tests/harness/ci_roles.py);
    # none: the account's own keys.
    aws_env: dict[str, str] | None = None
    repo: TestRepo = field(init=False)

    def __post_init__(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.repo = TestRepo(self.work_dir / "apt-repo")
        self.fleet.volumes = [
            *self.fleet.volumes,
            f"{self.repo.path}:{REPO_MOUNT}:ro",
            f"{self.work_dir / 'standin'}:{STANDIN_MOUNT}:ro",
        ]

    @property
    def inventory_dir(self) -> Path:
        """inventories/local (its hosts and group_vars, linked) plus the fleet's inventory."""
        path = self.work_dir / "inventory"
        path.mkdir(parents=True, exist_ok=True)
        for name in ("hosts.yml", "group_vars"):
            link = path / name
            if not link.is_symlink():
                link.symlink_to(ROOT / "inventories" / "local" / name)
        return path

    @property
    def inventory(self) -> Path:
        return self.inventory_dir / "fleet.yml"

    @property
    def prefix(self) -> str:
        return f"{self.platform_name}-local"

    def playbook(self, path: Path, *, extra_vars: dict | None = None, **kwargs) -> PlaybookResult:
        merged = {
            "platform_name": self.platform_name,
            "aws_endpoint_url": self.emulator_endpoint,
            **(extra_vars or {}),
        }
        inventory: Path | None = self.inventory_dir
        if path == PATCH:  # as the patch pipeline runs it (scripts/deploy names the inventory)
            kwargs["command"] = [ROOT / "scripts" / "deploy", "patch", inventory]
            inventory = None
        return run_playbook(
            path, inventory=inventory, extra_vars=merged, env=self.aws_env, **kwargs
        )

    def provision(self) -> None:
        """provision.yml for this platform, unless its outputs parameter exists already, on an
        account prepared as a user prepares theirs (local/prepared_account.py)."""
        try:
            self.aws("ssm").get_parameter(Name=f"/{self.platform_name}/local/outputs")
            return
        except self.aws("ssm").exceptions.ParameterNotFound:
            pass
        prepared_account.prepare(self.aws)
        result = run_playbook(
            PROVISION,
            extra_vars={
                "platform_name": self.platform_name,
                "aws_endpoint_url": self.emulator_endpoint,
                # The hosts are paired by hand (Fleet.pair): the groups launch nothing.
                **{
                    f"{role}_asg_{size}": 0
                    for role in ("web", "worker")
                    for size in ("min", "desired")
                },
            },
            env=self.aws_env,
        )
        if not result.ok:
            raise RuntimeError(f"provisioning {self.platform_name} failed: {result.messages()}")

    def target_group_arn(self) -> str:
        groups = self.aws("elbv2").describe_target_groups(Names=[f"{self.prefix}-web"])
        return groups["TargetGroups"][0]["TargetGroupArn"]

    def up(self, *, deregistration_delay: int = 3) -> PlaybookResult:
        """Provision, start and pair the hosts, converge them with configure.yml, then install
        the test packages at 1.0 and preload the probe into the app's units."""
        from local.postgres import DB_PASSWORD, DB_USER

        self.provision()
        self.repo.build()
        sha256 = cwagent_standin.build(self.work_dir / "standin")
        self.fleet.start()
        self.private_apt_archives()
        self.fleet.pair(self.aws, self.platform_name, "local")
        # A short deregistration delay keeps test runs short (AWS's default is 300 s; ours 30).
        self.aws("elbv2").modify_target_group_attributes(
            TargetGroupArn=self.target_group_arn(),
            Attributes=[
                {"Key": "deregistration_delay.timeout_seconds", "Value": str(deregistration_delay)}
            ],
        )
        database = f"{self.platform_name}_app"
        self.postgres.database(database)
        controller = "10.0.2.2"
        # The session's PostgreSQL plays the RDS instance: its master user is the harness's, so
        # the secret the controller hands to the migration step says so (on AWS RDS is created
        # with the secret's password). The hosts verify its certificate under the name they use.
        self.aws("secretsmanager").put_secret_value(
            SecretId=f"{self.prefix}/db-master",
            SecretString=json.dumps({"username": DB_USER, "password": DB_PASSWORD}),
        )
        self.postgres.tls_names(controller)
        self.fleet.write_inventory(
            self.inventory,
            "local",
            {
                "local_emulator_port": int(self.emulator_endpoint.rsplit(":", 1)[1]),
                "local_postgres_port": self.postgres.port,
                "local_postgres_ca_file": str(self.postgres.ca_file),
                "local_postgres_ca_sha256": hashlib.sha256(
                    self.postgres.ca_file.read_bytes()
                ).hexdigest(),
                "local_public_url": self.public_url,
                "local_signing_secret": "patchtest-signing-secret-0123456789",
                "local_cloudwatch_agent_sha256": sha256,
            },
        )
        env_extra = {
            # The instance role's credentials from the emulated instance's metadata. Hosts
            # paired by hand get its address through the app's settings (make up's local EC2
            # gives it to each host instead: local/ec2/hosts.py).
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": (
                f"{self.emulator_endpoint.replace('127.0.0.1', controller)}"
                "/moto-api/fidelity/imds/{{ instance_id }}"
            ),
            "AWS_METADATA_SERVICE_TIMEOUT": "5",
            "AWS_METADATA_SERVICE_NUM_ATTEMPTS": "3",
            # A database of its own in the session's PostgreSQL; the app's login from its secret
            # (db-app), made there by the migration step.
            "STREAMAPP_DATABASE_URL": (
                "postgresql+psycopg://{{ db_app_username }}"
                f"@{controller}:{self.postgres.port}/{database}"
            ),
        }
        for attempt in range(2):
            result = self.playbook(
                CONFIGURE,
                extra_vars={"configure_serial": ["100%"], "app_env_extra": env_extra},
                timeout=2400,
            )
            if result.ok or "Could not get lock /var/cache/apt/archives" not in result.messages():
                break
            time.sleep(2 * (attempt + 1))
        if not result.ok:
            raise RuntimeError(f"configure.yml failed: {result.messages()}")
        self.prepare_packages()
        return result

    def private_apt_archives(self) -> None:
        """An apt archives folder of each host's own inside the shared one.

        Every test host mounts the controller's apt archives (hostimage's containers.conf), and
        apt gives up at once when another host holds that folder's lock, so hosts converged in
        parallel failed. Each host gets its own subfolder, seeded with hard links to what is
        downloaded already."""
        for host in self.fleet.hosts:
            self.exec(host, "sh", "-c", ARCHIVES_SCRIPT)

    def exec(self, host: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        from local.hosts.fleet import podman

        return podman("exec", self.fleet.container(host), *argv, check=check)

    def prepare_packages(self) -> None:
        """Test packages at 1.0, only the test repository as apt source, the probe preloaded
        into the app's units (restarted once, before any load)."""
        for host, role in self.fleet.hosts.items():
            units = " ".join(PROBE_UNITS[role])
            self.exec(host, "sh", "-c", PREPARE_SCRIPT, "prepare", PROBE_LIB, REPO_MOUNT, units)

    def package_version(self, host: str, name: str = PROBE) -> str:
        return self.exec(host, "dpkg-query", "-W", "-f", "${Version}", name).stdout.strip()

    def main_pid(self, host: str, unit: str) -> int:
        out = self.exec(host, "systemctl", "show", "-p", "MainPID", "--value", unit).stdout
        return int(out.strip() or 0)

    def break_app(self, host: str) -> None:
        """The fault: a wrong database URL for the API, in effect from its next restart."""
        self.exec(host, "sh", "-c", BREAK_SCRIPT)

    def target_states(self) -> dict[str, str]:
        found = self.aws("elbv2").describe_target_health(TargetGroupArn=self.target_group_arn())
        return {
            d["Target"]["Id"]: d["TargetHealth"]["State"] for d in found["TargetHealthDescriptions"]
        }

    def remove(self) -> None:
        self.fleet.remove(self.aws)
        for host in self.fleet.hosts:
            shutil.rmtree(APT_ARCHIVES / "hosts" / self.fleet.container(host), ignore_errors=True)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.5)
