"""A fleet of web and worker hosts as podman containers, paired with EC2 instances in the
emulator: what `make up`, the fleet-operation tests and benchmarks run playbooks against.

    from local.hosts.fleet import Fleet
    fleet = Fleet("stream", {"web-1": "web", "web-2": "web", "worker-1": "worker"})
    fleet.start()                        # systemd containers from the test-host image, booted
                                         # (Fleet(..., images={"web": ...}): per-role images)
    fleet.port("web-1")                  # 127.0.0.1 port published for the host's nginx (:80)
    fleet.pair(aws, "stream", "local")   # an EC2 instance per host (tags as the ASG sets them);
                                         # web instances registered in <prefix>-web's target group
    fleet.write_inventory(path, vars={...})  # groups web, worker, env_<env> like aws_ec2.yml
    fleet.remove()                       # containers (by label) and paired instances; idempotent

    python -m local.hosts.fleet up   --name stream --web 2 --worker 1 [--pair] [--inventory F]
                                       [--vars F.json] [--volume SRC:DEST[:ro]] [--baked]
    python -m local.hosts.fleet show --name stream
    python -m local.hosts.fleet down --name stream

Containers
    Named ``<name>-<host>`` and labelled ``org.streamstack.fleet=<name>`` (removal finds them by
    the label, so a crashed run is cleaned up too). They run /sbin/init from
    ``localhost/streamstack-host:bookworm`` (local/hosts/image.py) with
    ``--network slirp4netns:allow_host_loopback=true``: inside a host the controller's loopback is
    ``10.0.2.2`` (CONTROLLER_ADDRESS), so the emulator and PostgreSQL keep listening on 127.0.0.1.
    ``--baked`` starts each role's hosts from its baked image instead when one matches the
    current sources (local/hosts/bake.py).
    Web hosts publish port 80 on ``127.0.0.1:<free port>``. Extra volumes (``volumes=``) are
    mounted into every host; by default a pip cache shared by the fleet's hosts
    (``.cache/host-pip`` -> ``/root/.cache/pip``). apt's archive cache is one folder per
    container (``.cache/host-apt/<container>``), not hostimage's shared one: apt's archive lock
    does not wait, so hosts configured in parallel would fail on a shared one.

Pairing with AWS (the emulator)
    Each host gets an EC2 instance launched from the environment's launch template
    ``<platform_name>-<platform_env>-<role>`` when it exists (else from any image), tagged
    ``Project``, ``Environment``, ``ManagedBy=ansible``, ``Role``, ``Name=<prefix>-<role>`` (what
    the ASG gives its instances) and ``FleetHost=<container>`` (which container it stands for).
    Its id is the host's ``instance_id`` hostvar. Web instances are registered in the target
    group ``<prefix>-web`` (as the web ASG does on AWS), so register/deregister steps act on real
    emulator state. ``pair`` is idempotent (finds running instances by FleetHost); ``unpair``
    deregisters and terminates them.

Ansible
    The inventory's hosts are the container names (``ansible_host``), reached with
    ``containers.podman.podman``; run ansible with ``CONTAINERS_CONF`` exported
    (``hostimage.env()``). Hostvars: ``instance_id``, and ``fleet_http_port`` on web hosts.
    Group vars: ``fleet_name``, ``fleet_controller_address`` (10.0.2.2) and the given ``vars``.

State
    ``<state_dir>/fleet.json`` (default ``.cache/fleet/<name>/``, or ``FLEET_STATE_DIR``): hosts,
    roles, containers, published ports, instance ids.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local import ROOT, platform_name_and_env
from local.hosts import FLEET_LABEL
from local.hosts import bake as hostbake
from local.hosts import image as hostimage

CONTROLLER_ADDRESS = "10.0.2.2"  # the controller's loopback, seen from a host (slirp4netns)
NETWORK = "slirp4netns:allow_host_loopback=true"
ROLES = ("web", "worker")
HOST_PIP_CACHE = hostimage.CACHE / "host-pip"
# apt's archive lock does not wait (DPkg::Lock::Timeout covers dpkg's locks only): hosts that
# install packages at the same time cannot share one /var/cache/apt/archives. Each container
# gets a folder of its own, kept across runs (a host of the same name downloads nothing again).
HOST_APT_CACHE = hostimage.CACHE / "host-apt"


def default_hosts(web: int = 2, worker: int = 1) -> dict[str, str]:
    """{'web-1': 'web', ..., 'worker-1': 'worker', ...}"""
    hosts = {f"web-{i}": "web" for i in range(1, web + 1)}
    hosts.update({f"worker-{i}": "worker" for i in range(1, worker + 1)})
    return hosts


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return hostimage.podman(*args, check=check, capture_output=True, text=True, timeout=timeout)


@dataclass
class Fleet:
    name: str
    hosts: dict[str, str]  # host -> role ('web' | 'worker')
    image: str = hostimage.IMAGE
    images: dict[str, str] = field(default_factory=dict)  # role -> image instead of `image`
    state_dir: Path | None = None
    volumes: list[str] = field(default_factory=lambda: [f"{HOST_PIP_CACHE}:/root/.cache/pip"])

    def __post_init__(self) -> None:
        bad = {h: r for h, r in self.hosts.items() if r not in ROLES}
        if bad:
            raise ValueError(f"roles must be web or worker: {bad}")
        if self.state_dir is None:
            base = os.environ.get("FLEET_STATE_DIR")
            self.state_dir = Path(base) if base else ROOT / ".cache" / "fleet" / self.name
        self.state_dir = Path(self.state_dir)

    # -- names ---------------------------------------------------------------------------
    def container(self, host: str) -> str:
        return f"{self.name}-{host}"

    def by_role(self, role: str) -> list[str]:
        return [h for h, r in self.hosts.items() if r == role]

    @property
    def state_file(self) -> Path:
        return self.state_dir / "fleet.json"  # type: ignore[operator]

    def _state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def _save(self, **changes: Any) -> None:
        state = self._state() | changes
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        # Atomic: the load balancer and the waiters read it while the local EC2 writes it.
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
        tmp.replace(self.state_file)

    # -- containers ----------------------------------------------------------------------
    def containers(self) -> dict[str, str]:
        """Every container carrying this fleet's label: {name: state}."""
        out = podman("ps", "-a", "--filter", f"label={FLEET_LABEL}={self.name}", "--format", "json")
        return {c["Names"][0]: c["State"] for c in json.loads(out.stdout or "[]")}

    def start(self, timeout: float = 120) -> None:
        """Create the missing containers, start stopped ones, and wait until systemd runs in
        each (state running or degraded). Containers of the label not in `hosts` are removed."""
        existing = self.containers()
        wanted = {self.container(h) for h in self.hosts}
        for stale in set(existing) - wanted:
            podman("rm", "-f", "-t", "5", stale, check=False)
        for host, role in self.hosts.items():
            name = self.container(host)
            if name in existing:
                if existing[name] != "running":
                    podman("start", name)
                continue
            self.run(host, role)
        self._wait_systemd(timeout)
        self._save(
            name=self.name,
            hosts={
                h: {
                    "role": r,
                    "container": self.container(h),
                    "port": self.port(h),
                    "image": self.image_of(h),
                }
                for h, r in self.hosts.items()
            },
        )

    def run(
        self,
        host: str,
        role: str,
        image: str | None = None,
        volumes: Iterable[str] = (),
        labels: dict[str, str] | None = None,
    ) -> str:
        """Create and start one host's container (systemd as PID 1, not waited for): the
        fleet's volumes and labels, an apt cache of its own, nginx's port published on web
        hosts. Returns the container's name."""
        name = self.container(host)
        for volume in [*self.volumes, *volumes]:
            source = Path(volume.split(":", 1)[0])
            if not source.exists():
                source.mkdir(parents=True)
        args = [
            "run", "-d", "--name", name, "--hostname", name,
            "--label", f"{FLEET_LABEL}={self.name}",
            "--label", f"{FLEET_LABEL}.role={role}",
            "--network", NETWORK,
            "--systemd", "always",
            "--stop-signal", "SIGRTMIN+3",
        ]  # fmt: skip
        for key, value in (labels or {}).items():
            args += ["--label", f"{key}={value}"]
        apt_cache = HOST_APT_CACHE / name
        (apt_cache / "partial").mkdir(parents=True, exist_ok=True)
        args += ["-v", f"{apt_cache}:/var/cache/apt/archives:rw"]
        for volume in [*self.volumes, *volumes]:
            args += ["-v", volume]
        if role == "web":
            args += ["-p", "127.0.0.1::80"]
        podman(*args, image or self.images.get(role, self.image), "/sbin/init")
        return name

    def image_of(self, host: str) -> str:
        """The image a host's container was created from."""
        out = podman("inspect", "--format", "{{.ImageName}}", self.container(host))
        return out.stdout.strip()

    def _wait_systemd(self, timeout: float, hosts: Iterable[str] | None = None) -> None:
        deadline = time.monotonic() + timeout
        pending = [self.container(h) for h in (self.hosts if hosts is None else hosts)]
        while pending:
            for name in list(pending):
                state = podman(
                    "exec", name, "systemctl", "is-system-running", check=False, timeout=30
                ).stdout.strip()
                if state in ("running", "degraded"):
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"systemd did not come up within {timeout}s in {pending}")
            if pending:
                time.sleep(0.5)

    def port(self, host: str) -> int | None:
        """The 127.0.0.1 port published for a web host's port 80 (None for workers)."""
        if self.hosts[host] != "web":
            return None
        out = podman("port", self.container(host), "80/tcp").stdout.strip().splitlines()
        return int(out[0].rsplit(":", 1)[1]) if out else None

    def ports(self) -> dict[str, int]:
        return {h: p for h in self.by_role("web") if (p := self.port(h)) is not None}

    def stop(self) -> None:
        """Stop (keep) every container of the label."""
        for name in self.containers():
            podman("stop", "-t", "10", name, check=False)

    def remove(self, aws: Callable[[str], Any] | None = None) -> None:
        """Remove every container of the label (and, with `aws`, unpair the instances).
        Idempotent: nothing to remove is fine."""
        if aws is not None:
            self.unpair(aws)
        names = list(self.containers())
        if names:
            podman("rm", "-f", "-t", "5", *names, check=False)
        self.state_file.unlink(missing_ok=True)

    # -- AWS pairing -----------------------------------------------------------------------
    def pair(self, aws: Callable[[str], Any], platform_name: str, platform_env: str) -> dict:
        """An EC2 instance per host in the emulator; web instances registered in the target
        group. `aws` is a boto3 client factory (``aws("ec2")``). Returns {host: instance id}."""
        ec2 = aws("ec2")
        prefix = f"{platform_name}-{platform_env}"
        found = self._instances(ec2)
        subnets = self._private_subnets(ec2, platform_name, platform_env)
        ids: dict[str, str] = {}
        for index, (host, role) in enumerate(sorted(self.hosts.items())):
            container = self.container(host)
            if container in found:
                ids[host] = found[container]
                continue
            tags = {
                "Project": platform_name,
                "Environment": platform_env,
                "ManagedBy": "ansible",
                "Role": role,
                "Name": f"{prefix}-{role}",
                "FleetHost": container,
            }
            spec: dict[str, Any] = {
                "MinCount": 1,
                "MaxCount": 1,
                "TagSpecifications": [
                    {
                        "ResourceType": "instance",
                        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
                    }
                ],
            }
            if self._has_template(ec2, f"{prefix}-{role}"):
                spec["LaunchTemplate"] = {
                    "LaunchTemplateName": f"{prefix}-{role}",
                    "Version": "$Latest",
                }
                if subnets:
                    spec["SubnetId"] = subnets[index % len(subnets)]
            else:
                images = ec2.describe_images(Owners=["amazon"])["Images"]
                spec["ImageId"] = images[0]["ImageId"]
                spec["InstanceType"] = "t3.micro"
            (instance,) = ec2.run_instances(**spec)["Instances"]
            ids[host] = instance["InstanceId"]
        tg_arn = self._target_group_arn(aws, f"{prefix}-web")
        web_ids = [ids[h] for h in self.by_role("web")]
        if tg_arn and web_ids:
            aws("elbv2").register_targets(
                TargetGroupArn=tg_arn, Targets=[{"Id": i} for i in web_ids]
            )
        state = self._state()
        for host, instance_id in ids.items():
            state.setdefault("hosts", {}).setdefault(host, {})["instance_id"] = instance_id
        self._save(
            hosts=state["hosts"],
            platform={"name": platform_name, "env": platform_env},
            target_group_arn=tg_arn,
        )
        return ids

    def unpair(self, aws: Callable[[str], Any]) -> None:
        """Deregister the web instances and terminate every paired instance."""
        try:
            ec2 = aws("ec2")
            found = self._instances(ec2)
        except (BotoCoreError, ClientError):  # the emulator is gone already: nothing to unpair
            return
        ids = list(found.values())
        if not ids:
            return
        tg_arn = self._state().get("target_group_arn")
        if tg_arn:
            with contextlib.suppress(ClientError):  # the target group is gone already
                aws("elbv2").deregister_targets(
                    TargetGroupArn=tg_arn, Targets=[{"Id": i} for i in ids]
                )
        ec2.terminate_instances(InstanceIds=ids)

    def instance_ids(self) -> dict[str, str]:
        hosts = self._state().get("hosts", {})
        return {h: v["instance_id"] for h, v in hosts.items() if "instance_id" in v}

    def _instances(self, ec2: Any) -> dict[str, str]:
        """Running (or pending) instances standing for this fleet's containers."""
        names = [self.container(h) for h in self.hosts]
        reservations = ec2.describe_instances(
            Filters=[
                {"Name": "tag:FleetHost", "Values": names},
                {"Name": "instance-state-name", "Values": ["pending", "running"]},
            ]
        )["Reservations"]
        found = {}
        for reservation in reservations:
            for instance in reservation["Instances"]:
                tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
                found[tags["FleetHost"]] = instance["InstanceId"]
        return found

    @staticmethod
    def _has_template(ec2: Any, name: str) -> bool:
        try:
            ec2.describe_launch_templates(LaunchTemplateNames=[name])
        except ClientError:  # not provisioned
            return False
        return True

    @staticmethod
    def _private_subnets(ec2: Any, platform_name: str, platform_env: str) -> list[str]:
        subnets = ec2.describe_subnets(
            Filters=[
                {"Name": "tag:Project", "Values": [platform_name]},
                {"Name": "tag:Environment", "Values": [platform_env]},
                {"Name": "tag:Tier", "Values": ["private"]},
            ]
        )["Subnets"]
        return sorted(s["SubnetId"] for s in subnets)

    @staticmethod
    def _target_group_arn(aws: Callable[[str], Any], name: str) -> str | None:
        try:
            groups = aws("elbv2").describe_target_groups(Names=[name])["TargetGroups"]
        except ClientError:  # not provisioned
            return None
        return groups[0]["TargetGroupArn"] if groups else None

    # -- inventory -------------------------------------------------------------------------
    def inventory(self, platform_env: str = "local", vars: dict | None = None) -> dict:
        """An inventory mirroring production's aws_ec2 groups: web, worker, env_<env>."""
        ids = self.instance_ids()

        def hostvars(host: str) -> dict[str, Any]:
            hv: dict[str, Any] = {"ansible_host": self.container(host)}
            if host in ids:
                hv["instance_id"] = ids[host]
            if self.hosts[host] == "web":
                hv["fleet_http_port"] = self.port(host)
            return hv

        groups: dict[str, Any] = {
            role: {"hosts": {self.container(h): hostvars(h) for h in self.by_role(role)}}
            for role in ROLES
        }
        groups[f"env_{platform_env}"] = {"hosts": {self.container(h): {} for h in self.hosts}}
        return {
            "all": {
                "children": groups,
                "vars": {
                    "ansible_connection": "containers.podman.podman",
                    "ansible_python_interpreter": "/usr/bin/python3",
                    "fleet_name": self.name,
                    "fleet_controller_address": CONTROLLER_ADDRESS,
                    **(vars or {}),
                },
            }
        }

    def write_inventory(
        self, path: Path | str, platform_env: str = "local", vars: dict | None = None
    ) -> Path:
        """Write inventory() as YAML-compatible JSON (mode 0600: vars may hold secrets)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self.inventory(platform_env, vars), handle, indent=2, sort_keys=True)
            handle.write("\n")
        tmp.replace(path)
        return path


def _aws_factory() -> Callable[[str], Any]:
    import boto3

    def client(service: str) -> Any:
        return boto3.client(service)  # AWS_ENDPOINT_URL etc. from the environment

    return client


def _fleet(args: argparse.Namespace) -> Fleet:
    state = Fleet(args.name, {})._state() if args.action != "up" else {}
    hosts = (
        default_hosts(args.web, args.worker)
        if args.action == "up"
        else {h: v["role"] for h, v in state.get("hosts", {}).items()}
    )
    fleet = Fleet(args.name, hosts)
    fleet.volumes += args.volume
    return fleet


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.hosts.fleet")
    parser.add_argument("action", choices=["up", "show", "down"])
    parser.add_argument("--name", default="stream", help="container prefix and label value")
    parser.add_argument("--web", type=int, default=2)
    parser.add_argument("--worker", type=int, default=1)
    name, env = platform_name_and_env()
    parser.add_argument("--platform-name", default=name)
    parser.add_argument("--platform-env", default=env)
    parser.add_argument("--pair", action="store_true", help="pair with emulator instances")
    parser.add_argument("--inventory", type=Path, help="write the inventory here")
    parser.add_argument("--vars", type=Path, help="JSON file of inventory vars to add")
    parser.add_argument(
        "--volume", action="append", default=[], help="SRC:DEST[:OPTS] mounted into every host"
    )
    parser.add_argument(
        "--baked", action="store_true", help="start hosts from baked images matching the sources"
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    fleet = _fleet(args)
    aws = (
        _aws_factory()
        if (args.pair or args.action == "down") and os.environ.get("AWS_ENDPOINT_URL")
        else None
    )
    if args.action == "up":
        hostimage.build()
        if args.baked:
            fleet.images = hostbake.images(roles=sorted(set(fleet.hosts.values())))
        fleet.start()
        if args.pair and aws is not None:
            fleet.pair(aws, args.platform_name, args.platform_env)
        if args.inventory:
            extra = json.loads(args.vars.read_text()) if args.vars else None
            fleet.write_inventory(args.inventory, args.platform_env, extra)
        print(json.dumps(fleet._state(), indent=2, sort_keys=True))
    elif args.action == "show":
        print(json.dumps(fleet._state() | {"containers": fleet.containers()}, indent=2))
    else:
        fleet.remove(aws)
    return 0


if __name__ == "__main__":
    sys.exit(main())
