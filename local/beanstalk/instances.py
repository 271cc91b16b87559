"""STAND-IN instances of an Elastic Beanstalk environment: a podman host (local/beanstalk/image.py)
playing one EC2 instance the environment's Auto Scaling group would launch, with the source
bundle deployed onto it by the stand-in engine (platform/engine.py).

    from local.beanstalk.instances import Instances, Spec
    instances = Instances(fleet="stream-local", aws=aws, emulator_endpoint=..., state=DIR)
    spec = Spec.of_environment(aws, "stream-local-web")     # what Elastic Beanstalk says
    host = instances.launch(spec, overlay={...})            # a new instance, deployed
    instances.healthy(host)                                 # its health check passes
    instances.remove(host)                                  # its instance terminated

What the platform gives an instance, as EC2 and Elastic Beanstalk do:
- **An EC2 instance in the emulator** (RunInstances with the environment's instance profile,
  the first of its Subnets, IMDSv2 only, tagged ``elasticbeanstalk:environment-name`` /
  ``-id`` and with the environment's tags), so the host's **instance metadata service** (the
  emulator's per instance, given to systemd's units as local/ec2/hosts.py does) hands out the
  tier role's credentials and the emulator enforces that role's policy.
- **The AWS network**: ``AWS_ENDPOINT_URL`` (the emulator, at the controller's address) and
  ``AWS_DEFAULT_REGION`` for every unit; on AWS the Region's endpoints.
- **The deployment**: the version's bundle (from its S3 location) and the environment's
  settings (properties of aws:elasticbeanstalk:application:environment, the worker's
  aws:elasticbeanstalk:sqsd options) in a folder mounted read-only at
  /opt/elasticbeanstalk/deployment/incoming, then the engine run. ``overlay``: properties the
  local platform sets over the environment's (what differs locally, e.g. the database's
  address: the emulated RDS endpoint serves nothing).

Hosts are named ``<fleet>-eb-<tier>-<n>`` and labelled with the fleet's label (``make down``
removes them) and ``org.streamstack.beanstalk.*`` (environment, instance id): not the local
EC2's instance label, which would take them for its own.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.beanstalk import image as standin_image
from local.ec2.hosts import metadata_settings
from local.hosts import FLEET_LABEL
from local.hosts.fleet import CONTROLLER_ADDRESS, Fleet, podman

ENV_LABEL = "org.streamstack.beanstalk.environment"
INSTANCE_LABEL = "org.streamstack.beanstalk.instance"
PLATFORM_LABEL = "org.streamstack.beanstalk.platform"
VERSION_LABEL = "org.streamstack.beanstalk.version"
INCOMING = "/opt/elasticbeanstalk/deployment/incoming"
DATABASE_CA = "/etc/pki/streamstack/database-ca.pem"  # beanstalk_database_ca_file
PROPERTIES = "aws:elasticbeanstalk:application:environment"
SQSD = "aws:elasticbeanstalk:sqsd"


@dataclass(frozen=True)
class Spec:
    """What an instance of the environment is launched and deployed with, as Elastic Beanstalk
    reports it."""

    environment: str
    environment_id: str
    application: str
    tier: str  # web | worker
    version_label: str
    platform_arn: str
    options: dict[tuple[str, str], str]
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_environment(cls, aws: Callable[[str], Any], name: str) -> Spec:
        eb = aws("elasticbeanstalk")
        (env,) = eb.describe_environments(EnvironmentNames=[name], IncludeDeleted=False)[
            "Environments"
        ]
        (settings,) = eb.describe_configuration_settings(
            ApplicationName=env["ApplicationName"], EnvironmentName=name
        )["ConfigurationSettings"]
        tags = eb.list_tags_for_resource(ResourceArn=env["EnvironmentArn"])["ResourceTags"]
        return cls(
            environment=name,
            environment_id=env["EnvironmentId"],
            application=env["ApplicationName"],
            tier="worker" if env["Tier"]["Name"] == "Worker" else "web",
            version_label=env.get("VersionLabel", ""),
            platform_arn=env["PlatformArn"],
            options={
                (o["Namespace"], o["OptionName"]): o.get("Value", "")
                for o in settings["OptionSettings"]
            },
            tags={t["Key"]: t["Value"] for t in tags},
        )

    def option(self, namespace: str, name: str, default: str = "") -> str:
        return self.options.get((namespace, name), default)

    @property
    def properties(self) -> dict[str, str]:
        return {n: v for (ns, n), v in self.options.items() if ns == PROPERTIES}

    @property
    def sqsd(self) -> dict[str, str]:
        return {n: v for (ns, n), v in self.options.items() if ns == SQSD}

    @property
    def health_check_path(self) -> str:
        return self.option("aws:elasticbeanstalk:environment:process:default", "HealthCheckPath")


@dataclass
class Host:
    name: str
    instance_id: str
    tier: str
    port: int | None  # the web tier's nginx, published on 127.0.0.1
    environment: str = ""
    version: str = ""
    platform: str = ""


@dataclass
class Instances:
    fleet: str
    aws: Callable[[str], Any]
    emulator_endpoint: str
    state: Path
    region: str = "eu-west-1"
    log: Callable[[str], None] = print
    # The database's CA bundle (the local PostgreSQL's CA, a STAND-IN for RDS's): mounted where
    # an image would bring it (group_vars/all/beanstalk.yml beanstalk_database_ca_file), for the
    # bundle's prebuild hook to find and the app to verify the database with.
    database_ca: Path | None = None

    def __post_init__(self) -> None:
        self.state = Path(self.state)
        self._fleet = Fleet(
            self.fleet, {}, images={r: standin_image.IMAGE for r in ("web", "worker")}
        )
        # Environments launched side by side deploy the same version: one download per bundle.
        self._bundles = threading.Lock()

    # -- the platform's side ------------------------------------------------------------------
    def bundle(self, spec: Spec) -> Path:
        """The version's source bundle, from its S3 location (kept per label)."""
        path = self.state / "bundles" / f"{spec.application}-{spec.version_label}.zip"
        with self._bundles:
            if path.is_file():
                return path
            (version,) = self.aws("elasticbeanstalk").describe_application_versions(
                ApplicationName=spec.application, VersionLabels=[spec.version_label]
            )["ApplicationVersions"]
            source = version["SourceBundle"]
            path.parent.mkdir(parents=True, exist_ok=True)
            # A temporary name of its own: a daemon and a test may share the state folder.
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            os.close(fd)
            self.aws("s3").download_file(source["S3Bucket"], source["S3Key"], tmp)
            Path(tmp).replace(path)
        return path

    def _ec2_instance(self, spec: Spec) -> str:
        """The EC2 instance the environment's Auto Scaling group would launch."""
        ec2 = self.aws("ec2")
        profile = spec.option("aws:autoscaling:launchconfiguration", "IamInstanceProfile")
        subnets = spec.option("aws:ec2:vpc", "Subnets")
        tags = {
            **spec.tags,
            "elasticbeanstalk:environment-name": spec.environment,
            "elasticbeanstalk:environment-id": spec.environment_id,
            "Name": spec.environment,
        }
        request: dict[str, Any] = {
            "ImageId": ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"],
            "InstanceType": "t3.micro",
            "MinCount": 1,
            "MaxCount": 1,
            "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
            "TagSpecifications": [
                {"ResourceType": "instance",
                 "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            ],
        }  # fmt: skip
        if profile:
            request["IamInstanceProfile"] = (
                {"Arn": profile} if profile.startswith("arn:") else {"Name": profile}
            )
        if subnets:
            request["SubnetId"] = subnets.split(",")[0].strip()
        (instance,) = ec2.run_instances(**request)["Instances"]
        return instance["InstanceId"]

    def _slot(self, tier: str) -> str:
        taken = set(self._fleet.containers())
        n = 1
        while self._fleet.container(f"eb-{tier}-{n}") in taken:
            n += 1
        return f"eb-{tier}-{n}"

    def launch(self, spec: Spec, overlay: dict[str, str] | None = None) -> Host:
        """A new instance of the environment, booted, the version deployed (RuntimeError with
        the engine's log when the deployment fails; the host is left for inspection)."""
        started = time.monotonic()
        instance_id = self._ec2_instance(spec)
        folder = self.state / "instances" / instance_id
        shutil.rmtree(folder, ignore_errors=True)
        imds = (
            self.emulator_endpoint.replace("127.0.0.1", CONTROLLER_ADDRESS)
            + f"/moto-api/fidelity/imds/{instance_id}"
        )
        files = metadata_settings(imds)
        network = (
            f'"AWS_ENDPOINT_URL={self.emulator_endpoint.replace("127.0.0.1", CONTROLLER_ADDRESS)}"'
            f' "AWS_DEFAULT_REGION={self.region}"'
        )
        files["systemd/50-streamstack-metadata.conf"] = files[
            "systemd/50-streamstack-metadata.conf"
        ].replace("DefaultEnvironment=", f"DefaultEnvironment={network} ")
        for relative, content in files.items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_text(content)
        self._stage(folder / "incoming", spec, overlay)
        host = self._slot(spec.tier)
        self._fleet.hosts[host] = spec.tier
        labels = {
            ENV_LABEL: spec.environment,
            INSTANCE_LABEL: instance_id,
            PLATFORM_LABEL: spec.platform_arn,
            VERSION_LABEL: spec.version_label,
        }
        volumes = [
            f"{folder / 'systemd'}:/run/systemd/system.conf.d:ro",
            f"{folder / 'aws'}:/root/.aws:ro",
            f"{folder / 'incoming'}:{INCOMING}:ro",
            *([f"{Path(self.database_ca).resolve()}:{DATABASE_CA}:ro"] if self.database_ca else []),
        ]
        name = self._fleet.run(host, spec.tier, volumes=volumes, labels=labels)
        self._fleet._wait_systemd(120, [host])
        found = Host(
            name, instance_id, spec.tier, self._fleet.port(host),
            spec.environment, spec.version_label, spec.platform_arn,
        )  # fmt: skip
        self.deploy(found)
        self.log(
            f"{name} ({instance_id}, {spec.environment} {spec.version_label}) deployed in "
            f"{time.monotonic() - started:.0f} s" + (f", port {found.port}" if found.port else "")
        )
        return found

    def _stage(self, incoming: Path, spec: Spec, overlay: dict[str, str] | None) -> None:
        incoming.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.bundle(spec), incoming / "bundle.zip")
        config = {
            "tier": "Worker" if spec.tier == "worker" else "WebServer",
            "version_label": spec.version_label,
            "platform_arn": spec.platform_arn,
            "environment": {**spec.properties, **(overlay or {})},
            "sqsd": spec.sqsd,
        }
        (incoming / "config.json").write_text(json.dumps(config, indent=2))

    def deploy(self, host: Host, timeout: float = 900) -> None:
        """Run the engine on the host's staged bundle (RuntimeError: the deployment failed)."""
        proc = podman(
            "exec", host.name, "/opt/elasticbeanstalk/bin/engine", "deploy",
            check=False, timeout=timeout,
        )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(
                f"deployment on {host.name} failed: {(proc.stdout + proc.stderr)[-3000:]}"
            )

    def healthy(self, host: Host, path: str = "/healthz", timeout: float = 120) -> float:
        """Seconds until the host passes its health check: the web tier's path through its
        nginx, the worker's processes active (a worker has no load balancer)."""
        started = time.monotonic()
        while True:
            if host.port:
                ok = _get(host.port, path or "/") == 200
            else:
                units = ("web.service", "aws-sqsd.service", "nginx.service")
                out = podman("exec", host.name, "systemctl", "is-active", *units, check=False)
                ok = out.stdout.split() == ["active"] * len(units)
            if ok:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{host.name} not healthy within {timeout:.0f} s")
            time.sleep(1)

    def remove(self, host: Host) -> None:
        """The host goes and its instance is terminated (as the group terminates it)."""
        podman("rm", "-f", "-t", "10", host.name, check=False, timeout=120)
        self.aws("ec2").terminate_instances(InstanceIds=[host.instance_id])
        shutil.rmtree(self.state / "instances" / host.instance_id, ignore_errors=True)

    def running(self) -> list[Host]:
        """The fleet's stand-in hosts, from their labels."""
        out = podman(
            "ps", "-a", "--filter", f"label={ENV_LABEL}",
            "--filter", f"label={FLEET_LABEL}={self.fleet}", "--format", "json",
        )  # fmt: skip
        found = []
        for c in json.loads(out.stdout or "[]"):
            labels = c.get("Labels") or {}
            tier = labels.get(f"{FLEET_LABEL}.role", "")
            port = next(
                (p.get("host_port") for p in c.get("Ports") or [] if p.get("container_port") == 80),
                None,
            )
            found.append(
                Host(
                    c["Names"][0], labels.get(INSTANCE_LABEL, ""), tier, port,
                    labels.get(ENV_LABEL, ""), labels.get(VERSION_LABEL, ""),
                    labels.get(PLATFORM_LABEL, ""),
                )
            )  # fmt: skip
        return sorted(found, key=lambda h: h.name)


def _get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": "localhost"})
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        connection.close()
