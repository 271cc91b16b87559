"""The local EC2 of `make up`: a podman host for every instance the emulator runs for the platform,
so that the Auto Scaling groups work for real. When a group launches an instance (its desired
capacity, a replacement), a host container starts from that role's baked image
(local/hosts/bake.py: the local golden image) and boots; when the instance is terminated,
its host goes.

    from local.ec2.hosts import Ec2Hosts
    hosts = Ec2Hosts(fleet, aws, "stream", "local", emulator_endpoint, images)
    hosts.reconcile()           # one pass: a host for each new instance, none for a gone one
    hosts.wait(timeout=300)     # every instance has a booted host

    python -m local.ec2.hosts wait --name NAME [--inventory F --vars F.json]
    python -m local.ec2.hosts health-checks suspend|resume
    (python -m local.ec2 runs reconcile() in a loop in the background: the daemon of `make up`)

What the platform gives each host, as EC2 gives an instance:
- **Its user data, run by a stand-in for cloud-init** (Debian's cloud images run cloud-init,
  the test-host image has none): the ``write_files`` of the instance's ``#cloud-config`` (from
  DescribeInstanceAttribute userData, i.e. the launch template's) are written into a folder of
  the instance's own, mounted read-only where they belong; today that is
  ``/etc/streamstack/host.json``, which the boot unit (streamapp-boot.service) reads. Other
  keys are not run: ``packages`` (python3 and python3-apt are in the image already; curl is for
  Session Manager's file transfers) and ``runcmd`` (the SSM agent: no sessions here). The mount
  keeps the instance's data out of a bake (``podman commit`` leaves mounts out), as AMI builds
  do with ``cloud-init clean``. Held back from a host started from a bake of another run's
  settings (``settings_file``: the first hosts of a ``make up`` after a ``make down``): its boot
  unit would read SSM at that run's emulator, gone (the call hangs ~2 minutes), and
  configure.yml converges these hosts anyway, as it does hosts of a plain image.
- **Its instance metadata service**: on AWS, 169.254.169.254 for every process; here the
  emulator's per-instance IMDS (the fidelity layer's ``/moto-api/fidelity/imds/<instance id>``),
  given to systemd's units (a ``DefaultEnvironment`` drop-in in /run/systemd/system.conf.d) and
  to root's processes, i.e. Ansible's (``/root/.aws/config``), both mounted per instance: so the
  boot unit and the app sign with the instance's role, and no image or role setting names an
  instance.
- **Its network address**: web hosts publish nginx's port 80 on a free 127.0.0.1 port, declared
  to the emulator (``/moto-api/fidelity/hosts``) so that the target group checks the real host
  and the load balancer (python -m local.alb) sends it traffic once it is healthy.

Hosts are named ``<fleet>-<role>-<n>`` (the lowest free n, so the hosts' apt caches serve the
next run), labelled with the fleet's label and ``org.streamstack.instance=<instance id>``. The
state (``<state_dir>/fleet.json``, local/hosts/fleet.py's format) lists the hosts with their
instance ids, roles, ports and images, and what the load balancer needs (the target group).
Instances paired by hand (the ``FleetHost`` tag of Fleet.pair) are not this module's.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import json
import os
import posixpath
import shutil
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from local import platform_name_and_env
from local.hosts import FLEET_LABEL
from local.hosts import bake as hostbake
from local.hosts import image as hostimage
from local.hosts.fleet import CONTROLLER_ADDRESS, ROLES, Fleet, podman

INSTANCE_LABEL = "org.streamstack.instance"
# The folders the cloud-init stand-in writes files into (each mounted whole, read-only).
CLOUD_INIT_DIRS = ("/etc/streamstack",)
# The instance metadata service's address for systemd's units and for root's processes.
SYSTEMD_DROPIN_DIR = "/run/systemd/system.conf.d"
ROOT_AWS_DIR = "/root/.aws"
# botocore gives IMDS 1 s and one attempt (the link-local service answers in milliseconds); the
# emulator on a loaded controller may need longer.
IMDS_TIMEOUT, IMDS_ATTEMPTS = 5, 3
# Auto Scaling's processes that mark instances unhealthy and replace them.
HEALTH_PROCESSES = ["HealthCheck", "ReplaceUnhealthy"]


def cloud_init_files(user_data: str) -> dict[str, tuple[str, int]]:
    """What cloud-init's ``write_files`` would write: {path: (content, mode)}. Refuses what the
    stand-in does not do (another format, files outside CLOUD_INIT_DIRS), naming it."""
    if not user_data.strip():
        return {}
    if not user_data.startswith("#cloud-config"):
        raise ValueError("user data is not #cloud-config: the cloud-init stand-in runs no scripts")
    config = yaml.safe_load(user_data) or {}
    files = {}
    for entry in config.get("write_files") or []:
        path = posixpath.normpath(entry["path"])
        if posixpath.dirname(path) not in CLOUD_INIT_DIRS:
            raise ValueError(
                f"write_files {path}: the cloud-init stand-in writes only into {CLOUD_INIT_DIRS}"
            )
        content = entry.get("content", "")
        if entry.get("encoding") in ("b64", "base64"):
            content = base64.b64decode(content).decode()
        elif entry.get("encoding"):
            raise ValueError(f"write_files {path}: encoding {entry['encoding']} not supported")
        files[path] = (content, int(str(entry.get("permissions", "0644")), 8))
    return files


def metadata_settings(endpoint: str) -> dict[str, str]:
    """The files that give a host its instance metadata service: {relative path: content}."""
    variables = {
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint,
        "AWS_METADATA_SERVICE_TIMEOUT": str(IMDS_TIMEOUT),
        "AWS_METADATA_SERVICE_NUM_ATTEMPTS": str(IMDS_ATTEMPTS),
    }
    environment = " ".join(f'"{k}={v}"' for k, v in variables.items())
    return {
        "systemd/50-streamstack-metadata.conf": (
            "# The local platform (local/ec2/hosts.py): this instance's metadata service,\n"
            "# 169.254.169.254 on AWS.\n[Manager]\n"
            f"DefaultEnvironment={environment}\n"
        ),
        "aws/config": (
            "# The local platform (local/ec2/hosts.py): this instance's metadata service.\n"
            "[default]\n"
            f"ec2_metadata_service_endpoint = {endpoint}\n"
            f"metadata_service_timeout = {IMDS_TIMEOUT}\n"
            f"metadata_service_num_attempts = {IMDS_ATTEMPTS}\n"
        ),
    }


@dataclass
class Ec2Hosts:
    """Hosts for the running instances of platform ``platform_name``/``platform_env``.

    ``fleet`` names the containers and holds the volumes and the state; ``aws`` is a boto3
    client factory on the emulator at ``emulator_endpoint``; ``images(role)`` is the image a new
    host of that role starts from (the role's baked image when there is one)."""

    fleet: Fleet
    aws: Callable[[str], Any]
    platform_name: str
    platform_env: str
    emulator_endpoint: str
    images: Callable[[str], str] = lambda _role: hostimage.IMAGE
    log: Callable[[str], None] = print
    settings_file: Path | None = None  # this run's settings (local/hosts/bake.py)
    _known: dict[str, str] = field(default_factory=dict, init=False)  # instance -> container
    _removing: set[str] = field(default_factory=set, init=False)  # containers being removed
    _removals: list[threading.Thread] = field(default_factory=list, init=False)

    @property
    def prefix(self) -> str:
        return f"{self.platform_name}-{self.platform_env}"

    def instances(self) -> dict[str, dict[str, Any]]:
        """The platform's pending and running instances that no hand-paired host plays."""
        pages = (
            self.aws("ec2")
            .get_paginator("describe_instances")
            .paginate(
                Filters=[
                    {"Name": "tag:Project", "Values": [self.platform_name]},
                    {"Name": "tag:Environment", "Values": [self.platform_env]},
                    {"Name": "instance-state-name", "Values": ["pending", "running"]},
                ]
            )
        )
        found = {}
        for page in pages:
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
                    if "FleetHost" not in tags and tags.get("Role") in ROLES:
                        found[instance["InstanceId"]] = instance | {"Role": tags["Role"]}
        return found

    def containers(self) -> dict[str, dict[str, Any]]:
        """The fleet's containers of instances: {instance id: {name, state, role}}."""
        out = podman(
            "ps", "-a", "--filter", f"label={FLEET_LABEL}={self.fleet.name}", "--format", "json"
        )
        found = {}
        for c in json.loads(out.stdout or "[]"):
            labels = c.get("Labels") or {}
            if INSTANCE_LABEL in labels:
                found[labels[INSTANCE_LABEL]] = {
                    "name": c["Names"][0],
                    "state": c["State"],
                    "role": labels.get(f"{FLEET_LABEL}.role"),
                }
        return found

    def reconcile(self, full: bool = True) -> list[str]:
        """One pass: start a host for each new instance, start a stopped one, remove the host
        of each instance that is gone (in the background: a host that takes long to stop never
        delays a launch). ``full=False`` skips podman when the instances are the ones the last
        pass saw. Returns what it did."""
        instances = self.instances()
        if not full and set(instances) == set(self._known):
            return []
        containers = self.containers()
        done = []
        for instance_id, found in containers.items():
            if instance_id in instances and found["state"] != "running":
                podman("start", found["name"])
                done.append(f"{found['name']} ({instance_id}) was {found['state']}: started")
        self._known = {i: c["name"] for i, c in containers.items() if i in instances}
        taken = {c["name"] for c in containers.values()}
        for instance_id in sorted(set(instances) - set(containers)):
            done.append(self._launch(instances[instance_id], taken))
        for instance_id in sorted(set(containers) - set(instances)):
            name = containers[instance_id]["name"]
            if name not in self._removing:
                done.append(self._remove(instance_id, name))
        if done or full:
            self._save(instances)
        return done

    def join(self, timeout: float = 120) -> None:
        """Wait for the removals under way."""
        deadline = time.monotonic() + timeout
        for thread in list(self._removals):
            thread.join(max(deadline - time.monotonic(), 0.1))

    def _slot(self, role: str, taken: set[str]) -> str:
        n = 1
        while self.fleet.container(f"{role}-{n}") in taken:
            n += 1
        return f"{role}-{n}"

    def instance_dir(self, instance_id: str) -> Path:
        return self.fleet.state_dir / "instances" / instance_id  # type: ignore[operator]

    def _launch(self, instance: dict[str, Any], taken: set[str]) -> str:
        started = time.monotonic()
        instance_id, role = instance["InstanceId"], instance["Role"]
        host = self._slot(role, taken)
        name = self.fleet.container(host)
        taken.add(name)
        base = self.instance_dir(instance_id)
        shutil.rmtree(base, ignore_errors=True)
        volumes = []
        # cloud-init's stand-in: the user data's write_files, mounted where they belong.
        attribute = self.aws("ec2").describe_instance_attribute(
            InstanceId=instance_id, Attribute="userData"
        )
        encoded = (attribute.get("UserData") or {}).get("Value") or ""
        try:
            user_data = base64.b64decode(encoded).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ValueError(f"{instance_id}: user data is not base64 text: {exc}") from exc
        files = cloud_init_files(user_data)
        image = self.images(role)
        stale = self._baked_for_another_run(image)
        if stale:
            files = {}
        for directory in sorted({posixpath.dirname(p) for p in files}):
            (base / "cloud-init" / directory.strip("/")).mkdir(parents=True, exist_ok=True)
            volumes.append(f"{base / 'cloud-init' / directory.strip('/')}:{directory}:ro")
        for path, (content, mode) in files.items():
            target = base / "cloud-init" / path.strip("/")
            target.write_text(content)
            target.chmod(mode)
        # Its instance metadata service.
        imds = (
            self.emulator_endpoint.replace("127.0.0.1", CONTROLLER_ADDRESS)
            + f"/moto-api/fidelity/imds/{instance_id}"
        )
        for relative, content in metadata_settings(imds).items():
            (base / relative).parent.mkdir(parents=True, exist_ok=True)
            (base / relative).write_text(content)
        volumes += [
            f"{base / 'systemd'}:{SYSTEMD_DROPIN_DIR}:ro",
            f"{base / 'aws'}:{ROOT_AWS_DIR}:ro",
        ]
        self.fleet.hosts[host] = role
        self.fleet.run(host, role, image, volumes, labels={INSTANCE_LABEL: instance_id})
        self._known[instance_id] = name
        port = self.fleet.port(host)
        if port:
            self._declare({instance_id: {"80": f"127.0.0.1:{port}"}})
        return (
            f"{instance_id} ({role}, launched {instance['LaunchTime']}): {name} from {image}"
            f"{f', port {port}' if port else ''} in {time.monotonic() - started:.1f} s"
            f"{' (baked for another run: user data held back)' if stale else ''}"
        )

    def _baked_for_another_run(self, image: str) -> bool:
        """A baked image whose settings are not this run's (the plain image has none)."""
        if self.settings_file is None or image == hostimage.IMAGE:
            return False
        return hostbake.settings_of(image) != hostbake.settings_digest(self.settings_file)

    def _remove(self, instance_id: str, name: str) -> str:
        """Out of the platform now (the emulator stops checking it, the state and the load
        balancer drop it); the container is removed in the background."""
        self._declare({instance_id: None})
        self._known.pop(instance_id, None)
        self._removing.add(name)

        def remove() -> None:
            started = time.monotonic()
            podman("rm", "-f", "-t", "10", name, check=False, timeout=300)
            shutil.rmtree(self.instance_dir(instance_id), ignore_errors=True)
            self._removing.discard(name)
            self.log(f"{name} removed in {time.monotonic() - started:.1f} s")

        thread = threading.Thread(target=remove, name=f"remove-{name}", daemon=True)
        self._removals = [t for t in self._removals if t.is_alive()] + [thread]
        thread.start()
        return f"{instance_id} is gone: removing {name}"

    def _declare(self, hosts: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"{self.emulator_endpoint}/moto-api/fidelity/hosts",
            data=json.dumps(hosts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10):
            pass

    def _save(self, instances: dict[str, dict[str, Any]]) -> None:
        """The fleet state: the hosts now (local/hosts/fleet.py's format)."""
        previous = self.fleet._state().get("hosts", {})
        by_instance = {v.get("instance_id"): (h, v) for h, v in previous.items()}
        hosts: dict[str, Any] = {}
        self.fleet.hosts = {}
        for instance_id, name in sorted(self._known.items(), key=lambda kv: kv[1]):
            host = name.removeprefix(f"{self.fleet.name}-")
            role = instances[instance_id]["Role"]
            self.fleet.hosts[host] = role
            known = by_instance.get(instance_id, (None, {}))[1]
            hosts[host] = {
                "role": role,
                "container": name,
                "instance_id": instance_id,
                "launched": instances[instance_id]["LaunchTime"].isoformat(),
                "port": known.get("port") if known.get("container") == name else None,
                "image": known.get("image") if known.get("container") == name else None,
            }
            if hosts[host]["image"] is None:
                hosts[host]["image"] = self.fleet.image_of(host)
                hosts[host]["port"] = self.fleet.port(host)
        self.fleet._save(
            name=self.fleet.name,
            hosts=hosts,
            platform={"name": self.platform_name, "env": self.platform_env},
            target_group_arn=Fleet._target_group_arn(self.aws, f"{self.prefix}-web"),
        )

    def wait(self, timeout: float = 600, poll: float = 1.0) -> dict[str, Any]:
        """Wait until every running instance has a host whose systemd is up (the daemon starts
        them); the fleet state."""
        deadline = time.monotonic() + timeout
        while True:
            instances = set(self.instances())
            hosts = self.fleet._state().get("hosts", {})
            playing = {v["instance_id"]: h for h, v in hosts.items()}
            if instances and instances <= set(playing):
                self.fleet.hosts = {h: v["role"] for h, v in hosts.items()}
                self.fleet._wait_systemd(
                    max(deadline - time.monotonic(), 1), [playing[i] for i in instances]
                )
                return self.fleet._state()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no host within {timeout:.0f} s for {sorted(instances - set(playing))}"
                    f" (is python -m local.ec2 running? see its log)"
                )
            time.sleep(poll)


def health_checks(aws: Callable[[str], Any], prefix: str, action: str, timeout: float = 300) -> str:
    """Suspend or resume the Auto Scaling groups' health checks and replacements of the
    platform: what `make up` does while configure.yml converges hosts that do not serve yet
    (after the grace period they would be found unhealthy and replaced mid-way, as on AWS).
    ``resume`` first waits (up to ``timeout``) until every target of the web group is healthy,
    so that what configure.yml just made serve is not replaced for its last failed checks.
    What was done, in a line."""
    autoscaling = aws("autoscaling")
    groups = [
        g
        for g in autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
        if g["AutoScalingGroupName"] in {f"{prefix}-{role}" for role in ROLES}
    ]
    waited = ""
    if action == "resume":
        started, pending = time.monotonic(), ["?"]
        deadline = started + timeout
        while pending and time.monotonic() < deadline:
            pending = [
                f"{d['Target']['Id']} {d['TargetHealth']['State']}"
                for g in groups
                for arn in g.get("TargetGroupARNs", [])
                for d in aws("elbv2").describe_target_health(TargetGroupArn=arn)[
                    "TargetHealthDescriptions"
                ]
                if d["TargetHealth"]["State"] != "healthy"
            ]
            if pending:
                time.sleep(1)
        waited = (
            f" (targets healthy after {time.monotonic() - started:.0f} s)"
            if not pending
            else f" (after {timeout:.0f} s, still not healthy: {', '.join(pending)})"
        )
    call = autoscaling.suspend_processes if action == "suspend" else autoscaling.resume_processes
    for group in groups:
        call(AutoScalingGroupName=group["AutoScalingGroupName"], ScalingProcesses=HEALTH_PROCESSES)
    names = ", ".join(g["AutoScalingGroupName"] for g in groups) or "no group"
    done = "suspended" if action == "suspend" else "resumed"
    return f"{'/'.join(HEALTH_PROCESSES)} {done} on {names}{waited}"


def group_instances(aws: Callable[[str], Any], group: str) -> list[str]:
    """The instance ids of an Auto Scaling group, in launch order."""
    (found,) = aws("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])[
        "AutoScalingGroups"
    ]
    ids = [i["InstanceId"] for i in found["Instances"]]
    reservations = aws("ec2").describe_instances(InstanceIds=ids)["Reservations"] if ids else []
    launched = {i["InstanceId"]: i["LaunchTime"] for r in reservations for i in r["Instances"]}
    return sorted(ids, key=lambda i: (launched.get(i), i))


def launch_to_serving(
    aws: Callable[[str], Any],
    state_file: Path,
    lb_url: str,
    instance_id: str,
    started: float,
    timeout: float = 600,
) -> dict[str, float]:
    """Seconds from ``started`` (a monotonic time: the API call that made the group launch)
    until the instance's host runs, answers its health check itself, is ``healthy`` in the
    target group, and serves a request through the load balancer (X-Served-By)."""
    import http.client

    phases: dict[str, float] = {}
    port, arn = None, None
    host, _, lb_port = lb_url.removeprefix("http://").partition(":")

    def get(address: str, port: int) -> tuple[int, str]:
        connection = http.client.HTTPConnection(address, port, timeout=5)
        try:
            connection.request("GET", "/healthz", headers={"Host": "localhost"})
            response = connection.getresponse()
            response.read()
            return response.status, response.getheader("X-Served-By", "")
        except (OSError, http.client.HTTPException):
            return 0, ""
        finally:
            connection.close()

    deadline = started + timeout
    while len(phases) < 4:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{instance_id} not serving within {timeout:.0f} s: {phases}")
        now = time.monotonic() - started
        if port is None:
            with contextlib.suppress(OSError, ValueError):
                state = json.loads(Path(state_file).read_text())
                arn = state.get("target_group_arn")
                for entry in state.get("hosts", {}).values():
                    if entry.get("instance_id") == instance_id and entry.get("port"):
                        port = int(entry["port"])
                        phases["host runs"] = now
        elif "host serves" not in phases and get("127.0.0.1", port)[0] == 200:
            phases["host serves"] = now
        # Before its host is declared, an instance's target has moto's own answer: not counted.
        if arn and "host runs" in phases and "target healthy" not in phases:
            found = aws("elbv2").describe_target_health(
                TargetGroupArn=arn, Targets=[{"Id": instance_id}]
            )["TargetHealthDescriptions"]
            if found and found[0]["TargetHealth"]["State"] == "healthy":
                phases["target healthy"] = time.monotonic() - started
        if "target healthy" in phases and get(host, int(lb_port))[1] == instance_id:
            phases["serves through the load balancer"] = time.monotonic() - started
        time.sleep(0.2)
    return phases


def baked_or_plain(bake: bool) -> Callable[[str], str]:
    """The image a new host starts from: the role's baked image made for the current sources
    (looked up at each launch: a bake of this run is used from then on), else the plain one."""
    if not bake:
        return lambda _role: hostimage.IMAGE
    key = hostbake.key()
    return lambda role: hostbake.images(for_key=key, roles=[role]).get(role, hostimage.IMAGE)


def aws_factory() -> Callable[[str], Any]:
    import boto3

    return lambda service: boto3.client(service)  # AWS_ENDPOINT_URL etc. from the environment


def from_args(args: argparse.Namespace, log: Callable[[str], None] = print) -> Ec2Hosts:
    fleet = Fleet(args.name, {})
    fleet.volumes += args.volume
    return Ec2Hosts(
        fleet,
        aws_factory(),
        args.platform_name,
        args.platform_env,
        os.environ["AWS_ENDPOINT_URL"],
        baked_or_plain(args.baked),
        log,
        args.settings,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", default="stream", help="container prefix and label value")
    name, env = platform_name_and_env()
    parser.add_argument("--platform-name", default=name)
    parser.add_argument("--platform-env", default=env)
    parser.add_argument(
        "--volume", action="append", default=[], help="SRC:DEST[:OPTS] mounted into every host"
    )
    parser.add_argument(
        "--baked", action="store_true", help="start hosts from baked images matching the sources"
    )
    parser.add_argument(
        "--settings", type=Path, help="this run's settings file (bakes of others: no user data)"
    )


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.ec2.hosts")
    parser.add_argument("action", choices=["reconcile", "wait", "health-checks"])
    parser.add_argument("what", nargs="?", choices=["suspend", "resume"])
    add_arguments(parser)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--inventory", type=Path, help="write the inventory here (wait)")
    parser.add_argument("--vars", type=Path, help="JSON file of inventory vars to add")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.action == "health-checks":
        if args.what is None:
            parser.error("health-checks needs suspend or resume")
        prefix = f"{args.platform_name}-{args.platform_env}"
        print(health_checks(aws_factory(), prefix, args.what, args.timeout))
        return 0
    hosts = from_args(args)
    if args.action == "reconcile":
        for line in hosts.reconcile():
            print(line)
        hosts.join()
        return 0
    state = hosts.wait(args.timeout)
    if args.inventory:
        extra = json.loads(args.vars.read_text()) if args.vars else None
        hosts.fleet.write_inventory(args.inventory, args.platform_env, extra)
    print(json.dumps(state, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
