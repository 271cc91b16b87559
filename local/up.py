"""`make up` (python -m local up): the whole platform on this machine, offline.

One function per step, run in this order by ``up()``:

 1. the AWS emulator (moto + fidelity layer) and a real PostgreSQL, both on 127.0.0.1
 2. the test-host image (cached by recipe hash), built in the background while provisioning runs
 3. provisioning of the `local` environment (playbooks/provision.yml, as on AWS), on an emulator
    holding what a user prepares first (the origin's hosted zone and certificate)
 4. the stand-in CloudWatch agent package (the real one is AWS-hosted)
 5. the local EC2 (python -m local.ec2, in the background): a podman host for every instance the
    Auto Scaling groups launch, started from the role's baked image when one matches the sources,
    with the instance's user data and metadata service; the groups' health checks are suspended
    while they converge
 6. PostgreSQL's master password from the db-master secret, as RDS sets it
 7. playbooks/configure.yml on the hosts (groups web/worker/env_local, settings from SSM); then
    a configured web and worker host are saved as local images (local/hosts/bake.py): hosts the
    groups launch from now on start from them and serve with no configure.yml, and so do the
    next `make up`'s; then the health checks resume, once every web target is healthy
 8. the "ALB": haproxy on 127.0.0.1 in front of the web hosts (python -m local.alb)
 9. a sample video and song uploaded through the API and transcoded by the worker host
It prints the URL and the demo login, and runs again in place: what is up is reused.

Settings (environment variables; local/README.md describes them): UP_WEB, UP_WORKERS, UP_PORT,
UP_FLEET, UP_STATE_DIR, UP_SERIAL, UP_REPROVISION, UP_BAKE, UP_BAKE_REPO, UP_HOSTING,
EMULATOR_STATE_DIR, PG_STATE_DIR. UP_HOSTING=beanstalk: steps 2, 4-8 are the Elastic Beanstalk
stand-in's instead (local/beanstalk/up.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from local import ROOT, platform_name_and_env, seed
from local.alb import controller as alb
from local.ec2 import controller as ec2
from local.ec2 import hosts as ec2_hosts
from local.emulator import Emulator, free_port
from local.hosts import bake as hostbake
from local.hosts import image as hostimage
from local.hosts.fleet import CONTROLLER_ADDRESS, Fleet
from local.postgres import Postgres
from local.prepared_account import prepare
from local.standin import cwagent

INVENTORY = ROOT / "inventories" / "local"
STANDIN_REPO = ROOT / ".cache" / "cwagent-standin"
STANDIN_MOUNT = "/srv/streamstack-standin"  # inventories/local: cloudwatch_agent_download_base_url


class SettingError(ValueError):
    """A bad UP_* value: refused before anything starts."""


@dataclass(frozen=True)
class Settings:
    """The UP_* environment variables, checked."""

    web: int = 2  # the web group's desired capacity when provisioning runs
    workers: int = 1  # the worker group's
    port: int = 8080  # the load balancer's (0: a free port)
    fleet: str = "stream-local"  # container name prefix and podman label
    state_dir: Path = ROOT / ".cache" / "up"
    serial: str = "100%"  # configure.yml's batch (production: a canary, then a third at a time)
    reprovision: bool = False  # provision again on an emulator this platform provisioned
    bake: bool = True  # start hosts from baked images and bake the configured ones
    hosting: str = "ec2"  # app_hosting: ec2, or beanstalk (the stand-in, local/beanstalk/)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        bake = env.get("UP_BAKE", "1")
        if bake not in ("0", "1"):
            raise SettingError(f"UP_BAKE must be 0 or 1, not '{bake}'")
        counts = {}
        for name, default in (("UP_WEB", cls.web), ("UP_WORKERS", cls.workers)):
            value = env.get(name, str(default))
            if not value.isdigit():
                raise SettingError(f"{name} must be a number of hosts, not '{value}'")
            counts[name] = int(value)
        hosting = env.get("UP_HOSTING", cls.hosting)
        if hosting not in ("ec2", "beanstalk"):
            raise SettingError(f"UP_HOSTING must be ec2 or beanstalk, not '{hosting}'")
        port = env.get("UP_PORT", str(cls.port))
        if not port.isdigit() or int(port) > 65535:
            raise SettingError(f"UP_PORT must be a port number (0: a free one), not '{port}'")
        return cls(
            web=counts["UP_WEB"],
            workers=counts["UP_WORKERS"],
            port=int(port),
            fleet=env.get("UP_FLEET", cls.fleet),
            state_dir=Path(env.get("UP_STATE_DIR", str(cls.state_dir))).resolve(),
            serial=env.get("UP_SERIAL", cls.serial),
            reprovision=env.get("UP_REPROVISION", "0") == "1",
            bake=bake == "1",
            hosting=hosting,
        )


@dataclass
class Platform:
    """What the steps share: the settings and what the earlier steps found or started."""

    settings: Settings
    emulator: Emulator = field(default_factory=Emulator)
    postgres: Postgres = field(default_factory=Postgres)
    started: float = field(default_factory=time.monotonic)
    name: str = ""
    env: str = ""
    endpoint: str = ""
    emulator_was_up: bool = False
    url: str = ""
    cwagent_sha256: str = ""
    hosts: dict[str, Any] = field(default_factory=dict)  # the local EC2's wait() answer

    def __post_init__(self) -> None:
        self.name, self.env = platform_name_and_env()

    @property
    def state(self) -> Path:
        return self.settings.state_dir

    @property
    def prefix(self) -> str:
        return f"{self.name}-{self.env}"

    @property
    def fleet_vars(self) -> Path:
        return self.state / "fleet-vars.json"

    @property
    def fleet_inventory(self) -> Path:
        return self.state / "fleet-inventory.yml"

    def step(self, title: str) -> None:
        elapsed = int(time.monotonic() - self.started)
        print(f"\033[1m==> {title}\033[0m ({elapsed} s)", flush=True)


def say(line: str) -> None:
    print(f"    {line}", flush=True)


def aws(service: str) -> Any:
    """A client on the emulator (its endpoint and keys are in the environment by then)."""
    return boto3.client(service)


def ansible_playbook(*args: str) -> None:
    """ansible-playbook with its output shown as it runs; a failure ends `make up`."""
    command = [str(Path(sys.executable).parent / "ansible-playbook"), *args]
    subprocess.run(command, cwd=ROOT, check=True)


def write_private(path: Path, text: str) -> None:
    """A file only this user may read (secrets, settings holding one)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


# -- the steps -------------------------------------------------------------------------------
def prepare_environment(p: Platform) -> None:
    """The state folder, and what every tool started from here reads in its environment."""
    p.state.mkdir(parents=True, exist_ok=True)
    p.state.chmod(0o700)
    bin_dir = str(Path(sys.executable).parent)
    os.environ.update(
        PATH=f"{bin_dir}:{os.environ.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        PYTHONPATH=str(ROOT),
        FLEET_STATE_DIR=str(p.state / "fleet"),
        # What inventories/local reads, as Settings checked it.
        UP_WEB=str(p.settings.web),
        UP_WORKERS=str(p.settings.workers),
        UP_HOSTING=p.settings.hosting,
    )
    os.environ.update(hostimage.env())  # CONTAINERS_CONF for podman and Ansible


def start_emulator_and_postgres(p: Platform) -> None:
    p.step("AWS emulator and PostgreSQL")
    p.emulator_was_up = p.emulator.running()
    p.endpoint = p.emulator.start()
    os.environ.update(p.emulator.env())
    p.postgres.start()
    # The hosts connect to 10.0.2.2 (the controller, local/hosts/fleet.py) with verify-full:
    # the server's certificate names it, issued by the cluster's CA, the stand-in for the RDS
    # CA bundle that the app role fetches (file://, checksum pinned) instead of AWS's.
    p.postgres.tls_names(CONTROLLER_ADDRESS)
    say(f"emulator {p.endpoint} (pid {p.emulator.pid}), PostgreSQL 127.0.0.1:{p.postgres.port}")


def start_host_image_build(p: Platform) -> subprocess.Popen[bytes]:
    p.step("Test-host image (in the background, while provisioning runs)")
    log = open(p.state / "hostimage.log", "wb")  # noqa: SIM115 - handed to the child
    return subprocess.Popen(
        [sys.executable, "-m", "local.hosts.image", "build"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def provision(p: Platform) -> None:
    """provision.yml, unless this emulator (same pid) was provisioned by an earlier run: its
    state is in memory, so a new emulator is always provisioned; UP_REPROVISION=1 forces it."""
    stamp = p.state / "provisioned"
    done_here = stamp.is_file() and stamp.read_text().strip() == str(p.emulator.pid)
    if p.emulator_was_up and done_here and not p.settings.reprovision:
        p.step("Provisioning: done on this emulator already (UP_REPROVISION=1 re-runs it)")
        return
    p.step("Provision the local environment (playbooks/provision.yml)")
    started = time.monotonic()
    # First what a user prepares on AWS: the origin's hosted zone and certificate.
    say(f"prepared: {json.dumps(prepare(aws))}")
    # inventories/local reads the capacities and the hosting from UP_* (checked by Settings).
    ansible_playbook("-i", str(INVENTORY), "playbooks/provision.yml")
    stamp.write_text(str(p.emulator.pid))
    say(f"provisioned in {time.monotonic() - started:.0f} s")


def wait_for_host_image(p: Platform, build: subprocess.Popen[bytes]) -> None:
    log = (p.state / "hostimage.log").read_text
    if build.wait() != 0:
        print(log(), file=sys.stderr)
        raise RuntimeError("building the test-host image failed")
    say(f"image: {log().strip().splitlines()[-1]}")


def build_cloudwatch_agent_standin(p: Platform) -> None:
    p.step("Stand-in CloudWatch agent package (the real one is AWS-hosted)")
    # At AWS's path for the version the role pins (local/standin/cwagent.py).
    p.cwagent_sha256 = cwagent.build(STANDIN_REPO)


def load_balancer_port(p: Platform) -> int:
    """The load balancer's port, kept for the platform's life: it is the page origin the app
    signs media URLs for."""
    saved = p.state / "lb.port"
    if saved.is_file():
        return int(saved.read_text())
    port = p.settings.port or free_port()
    saved.write_text(f"{port}\n")
    return port


def write_fleet_settings(p: Platform) -> None:
    """The values of this run the hosts' inventory adds (inventories/local/group_vars/env_local.yml
    names them)."""
    p.url = f"http://127.0.0.1:{load_balancer_port(p)}"
    secret_file = p.state / "signing.secret"
    if not secret_file.is_file():
        write_private(secret_file, secrets.token_urlsafe(32) + "\n")
    ca_file = p.postgres.ca_file
    settings = {
        "local_emulator_port": int(p.endpoint.rsplit(":", 1)[1]),
        "local_postgres_port": p.postgres.port,
        "local_postgres_ca_file": str(ca_file),
        "local_postgres_ca_sha256": hashlib.sha256(ca_file.read_bytes()).hexdigest(),
        "local_public_url": p.url,
        "local_signing_secret": secret_file.read_text().strip(),
        "local_cloudwatch_agent_sha256": p.cwagent_sha256,
    }
    write_private(p.fleet_vars, json.dumps(settings, indent=2))


def start_hosts(p: Platform) -> None:
    p.step(
        "Hosts for the Auto Scaling groups' instances "
        f"(the local EC2, podman, fleet {p.settings.fleet})"
    )
    write_fleet_settings(p)
    # Until configure.yml has made them serve, the groups must not find the hosts unhealthy
    # and replace them (resumed by resume_health_checks, once every web target is healthy).
    say(ec2_hosts.health_checks(ec2_hosts.aws_factory(), p.prefix, "suspend"))
    started = ec2.start(
        p.state,
        fleet=p.settings.fleet,
        platform_name=p.name,
        platform_env=p.env,
        volumes=[f"{STANDIN_REPO}:{STANDIN_MOUNT}:ro"],
        baked=p.settings.bake,
        settings=p.fleet_vars,
    )
    if started != 0:
        raise RuntimeError("the local EC2 did not start")
    hosts = ec2_hosts.Ec2Hosts(
        Fleet(p.settings.fleet, {}), ec2_hosts.aws_factory(), p.name, p.env, p.endpoint, log=say
    )
    p.hosts = hosts.wait(600)
    extra = json.loads(p.fleet_vars.read_text())
    hosts.fleet.write_inventory(p.fleet_inventory, p.env, extra)
    (p.state / "fleet.json.out").write_text(json.dumps(p.hosts, indent=2, sort_keys=True))
    for _host, v in sorted(p.hosts["hosts"].items()):
        port = f"127.0.0.1:{v['port']}" if v.get("port") else ""
        say(f"{v['container']:<28} {v['role']:<7} {v.get('instance_id', '-'):<21} {port:<16} "
            f"{v.get('image', '')}")  # fmt: skip


def set_database_master_password(p: Platform) -> None:
    """As RDS creates its master user with the db-master secret's password. The app's roles
    and login are made by configure.yml's migration step, as on AWS."""
    p.step(
        "Database: PostgreSQL plays the RDS instance (master password from the db-master secret)"
    )
    # The master user's secret, by name: the controller's alone (the outputs name only the app's).
    value = aws("secretsmanager").get_secret_value(SecretId=f"{p.prefix}/db-master")
    secret = json.loads(value["SecretString"])
    p.postgres.set_role_password(secret["username"], secret["password"])


def configure_hosts(p: Platform) -> None:
    p.step(f"Configure the hosts (playbooks/configure.yml, serial {p.settings.serial})")
    started = time.monotonic()
    serial = json.dumps({"configure_serial": [p.settings.serial]})
    ansible_playbook(
        "-i", str(INVENTORY), "-i", str(p.fleet_inventory), "playbooks/configure.yml", "-e", serial
    )
    say(f"configured in {time.monotonic() - started:.0f} s")


def bake_hosts(p: Platform) -> None:
    if not p.settings.bake:
        return
    p.step(
        "Bake the configured hosts: what the groups launch from now on (skipped when up to date)"
    )
    settings = hostbake.settings_digest(p.fleet_vars)
    for role, what in sorted(hostbake.save(p.settings.fleet, settings=settings).items()):
        say(f"{role}: {what}")


def resume_health_checks(p: Platform) -> None:
    p.step("Auto Scaling health checks on again (once every web target is healthy)")
    say(ec2_hosts.health_checks(ec2_hosts.aws_factory(), p.prefix, "resume", 300))


def start_load_balancer(p: Platform) -> None:
    p.step(
        f"Load balancer on {p.url} "
        "(haproxy following the target group and the hosts, health check /healthz)"
    )
    port = int(p.url.rsplit(":", 1)[1])
    if alb.start(p.state, port, p.state / "fleet" / "fleet.json", timeout=90) != 0:
        raise RuntimeError("the load balancer found no healthy web host")


def seed_samples(p: Platform) -> dict[str, Any]:
    p.step("Seed: demo accounts, a sample video and a sample song (transcoded by the worker host)")
    # The admin is promoted as an operator does it: streamapp-admin on a web host (app role's).
    admin_host = sorted(v["container"] for v in p.hosts["hosts"].values() if v["role"] == "web")[0]
    admin_command = ["podman", "exec", admin_host, "/usr/local/sbin/streamapp-admin"]
    seeded = seed.seed(p.url, p.state, 300, admin_command)
    (p.state / "seed.json").write_text(json.dumps(seeded) + "\n")
    return seeded


def report(p: Platform, seeded: dict[str, Any]) -> None:
    p.step(f"Up in {time.monotonic() - p.started:.0f} s")
    login = seeded["login"]
    print(
        f"""
  StreamStack is running:  {p.url}
  Log in as:               {login["email"]}
  Password:                {login["password"]}
  (admin and uploader logins: {p.state / "accounts.json"})

  AWS emulator:  {p.endpoint}   (source {p.emulator.state_dir / "env"} for boto3 / the aws CLI)
  Hosts:         podman ps --filter label=org.streamstack.fleet={p.settings.fleet}
                 (CONTAINERS_CONF={os.environ["CONTAINERS_CONF"]}); one per instance of the Auto
                 Scaling groups {p.prefix}-web/-worker (scale them: local/README.md)
  Stop it all:   make down""",
        flush=True,
    )


def up_on_beanstalk(p: Platform) -> None:
    """UP_HOSTING=beanstalk: the app on the Elastic Beanstalk stand-in (local/beanstalk/up.py)."""
    from local.beanstalk import up as beanstalk

    image_build = beanstalk.build_image(p)
    provision(p)
    beanstalk.wait_for_image(p, image_build)
    set_database_master_password(p)
    p.url = f"http://127.0.0.1:{load_balancer_port(p)}"
    hosts = beanstalk.start_instances(p, aws)
    p.step("Database: the app's roles, login and schema (playbooks/beanstalk_migrate.yml)")
    ansible_playbook("-i", str(INVENTORY), "playbooks/beanstalk_migrate.yml")
    beanstalk.start_load_balancer(p, aws)
    report(p, beanstalk.seed_samples(p, hosts))


def up(settings: Settings) -> None:
    p = Platform(settings)
    prepare_environment(p)
    start_emulator_and_postgres(p)
    if settings.hosting == "beanstalk":
        up_on_beanstalk(p)
        return
    image_build = start_host_image_build(p)
    provision(p)
    wait_for_host_image(p, image_build)
    build_cloudwatch_agent_standin(p)
    start_hosts(p)
    set_database_master_password(p)
    configure_hosts(p)
    bake_hosts(p)
    resume_health_checks(p)
    start_load_balancer(p)
    report(p, seed_samples(p))


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingError as exc:
        print(f"up: {exc} (nothing was started)", file=sys.stderr)
        return 2
    try:
        up(settings)
    except subprocess.CalledProcessError as exc:
        print(f"up: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"up: {exc}", file=sys.stderr)
        return 1
    return 0
