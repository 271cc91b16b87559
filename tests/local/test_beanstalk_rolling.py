"""The Elastic Beanstalk STAND-IN follows the emulated environments (python -m local.beanstalk,
local/beanstalk/environments.py) behind the local load balancer (python -m local.alb on the
environment's target group of the shared ALB): a Ready web environment gets a stand-in instance
of its version, registered and healthy in its target group; deploying a new version
(UpdateEnvironment VersionLabel) replaces it rolling with an additional batch, the new instance
healthy before the old one leaves, and a bounded load through the load balancer meanwhile sees
no failed request; so does a managed platform update (playbooks/platform_update.yml, once a
newer platform version is published), which --check only reports and a second run finds done.

Podman: run under the podman lock (HELPER_RULES). About 4 minutes (image cached)."""

from __future__ import annotations

import json
import os
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.alb import controller as alb
from local.alb.haproxy import LoadGenerator, free_port
from local.beanstalk import controller as standin
from local.beanstalk import image as standin_image
from local.beanstalk.instances import DATABASE_CA, Instances
from local.hosts import image as hostimage
from local.hosts.fleet import CONTROLLER_ADDRESS
from local.postgres import Postgres
from tests.app.conftest import (  # noqa: F401 - the app's fixtures, shared
    APP_DB_PASSWORD,
    APP_DB_USER,
    AppResources,
    app_resources,
    settings,
)
from tests.conftest import ROOT

pytestmark = [pytest.mark.podman, pytest.mark.beanstalk, pytest.mark.slow]

BASE = f"ebroll{uuid.uuid4().hex[:6]}"
NAME = f"{BASE}-local"  # platform_prefix of platform_name BASE in inventories/local
# Not the production branch: a platform version published here stays for the session.
STACK = "64bit Amazon Linux 2023 v4.6.0 running Python 3.12"


def _bundle(playbook, folder: Path, **variables: Any) -> dict[str, Any]:
    result = playbook(
        ROOT / "playbooks" / "bundle.yml",
        inventory=ROOT / "inventories" / "local",
        extra_vars={"beanstalk_bundle_dir": str(folder), **variables},
    )
    assert result.ok, result.messages()
    (path,) = folder.glob("streamapp-*.zip")
    return {"path": path, "label": path.stem}


@pytest.fixture(scope="module")
def web_environment(aws, playbook, tmp_path_factory, app_resources, settings):  # noqa: F811
    """A web environment on a shared ALB (as provisioning makes it), with version 1 deployed
    and version 2 registered (another Procfile: one API worker less)."""
    eb, s3, iam, ec2, elbv2 = (aws(s) for s in ("elasticbeanstalk", "s3", "iam", "ec2", "elbv2"))
    versions = [
        _bundle(playbook, tmp_path_factory.mktemp("v1")),
        _bundle(playbook, tmp_path_factory.mktemp("v2"), beanstalk_api_workers=1),
    ]
    assert versions[0]["label"] != versions[1]["label"]
    bucket = f"{NAME}-bundles"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    eb.create_application(ApplicationName=NAME)
    for version in versions:
        s3.upload_file(str(version["path"]), bucket, f"{version['label']}.zip")
        eb.create_application_version(
            ApplicationName=NAME,
            VersionLabel=version["label"],
            SourceBundle={"S3Bucket": bucket, "S3Key": f"{version['label']}.zip"},
        )
    iam.create_role(RoleName=f"{NAME}-web", AssumeRolePolicyDocument="{}")
    iam.create_instance_profile(InstanceProfileName=f"{NAME}-web")
    iam.add_role_to_instance_profile(InstanceProfileName=f"{NAME}-web", RoleName=f"{NAME}-web")
    iam.put_role_policy(
        RoleName=f"{NAME}-web",
        PolicyName="app",
        PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sqs:*", "dynamodb:*"],
                           "Resource": "*"}],
        }),
    )  # fmt: skip
    vpc = ec2.create_vpc(CidrBlock="10.97.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.97.{i}.0/24", AvailabilityZone=f"eu-west-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in enumerate("ab")
    ]
    balancer = elbv2.create_load_balancer(Name=f"{NAME}-alb", Subnets=subnets)["LoadBalancers"][0]
    elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )
    properties = {
        "STREAMAPP_AWS_REGION": settings.aws_region,
        "STREAMAPP_DATABASE_URL": "postgresql+psycopg://placeholder@db.invalid:5432/streamapp",
        "STREAMAPP_DATABASE_SSLMODE": "verify-full",
        "STREAMAPP_DATABASE_SSLROOTCERT": DATABASE_CA,
        "STREAMAPP_MEDIA_BUCKET": app_resources.bucket,
        "STREAMAPP_SESSIONS_TABLE": app_resources.table,
        "STREAMAPP_JOBS_QUEUE_URL": app_resources.queue_url,
        "STREAMAPP_SIGNING_MODE": "local",
        "STREAMAPP_SIGNING_SECRET": settings.signing_secret,
        "STREAMAPP_PUBLIC_MEDIA_BASE_URL": settings.public_media_base_url,
        # The bundle's postdeploy hook ships the web tier's logs (provisioning sets it).
        "STREAMSTACK_TIER": "web",
    }
    options = [
        ("aws:autoscaling:launchconfiguration", "IamInstanceProfile", f"{NAME}-web"),
        ("aws:ec2:vpc", "VPCId", vpc),
        ("aws:ec2:vpc", "Subnets", ",".join(subnets)),
        ("aws:autoscaling:asg", "MinSize", "1"),
        ("aws:elasticbeanstalk:environment", "LoadBalancerType", "application"),
        ("aws:elasticbeanstalk:environment", "LoadBalancerIsShared", "true"),
        ("aws:elbv2:loadbalancer", "SharedLoadBalancer", balancer["LoadBalancerArn"]),
        ("aws:elasticbeanstalk:command", "DeploymentPolicy", "RollingWithAdditionalBatch"),
        ("aws:elasticbeanstalk:environment:process:default", "HealthCheckPath", "/healthz"),
        ("aws:elasticbeanstalk:environment:process:default", "DeregistrationDelay", "5"),
        *(("aws:elasticbeanstalk:application:environment", k, v) for k, v in properties.items()),
    ]
    eb.create_environment(
        ApplicationName=NAME,
        EnvironmentName=f"{NAME}-web",
        SolutionStackName=STACK,
        VersionLabel=versions[0]["label"],
        OptionSettings=[{"Namespace": n, "OptionName": o, "Value": v} for n, o, v in options],
    )
    return versions


@pytest.fixture(scope="module")
def platform(
    emulator, aws, postgres: Postgres, web_environment, tmp_path_factory
) -> Iterator[dict[str, Any]]:
    """The stand-in daemon following the application, and the local load balancer."""
    os.environ.update(hostimage.env())
    print(f"stand-in image: {standin_image.build()}")
    state = tmp_path_factory.mktemp("standin")
    overlay = state / "overlay.json"
    overlay.write_text(json.dumps({
        "STREAMAPP_DATABASE_URL": f"postgresql+psycopg://{APP_DB_USER}@{CONTROLLER_ADDRESS}:"
                                  f"{postgres.port}/streamapp",
        "STREAMAPP_DATABASE_PASSWORD": APP_DB_PASSWORD,
    }))  # fmt: skip
    started = time.monotonic()
    # The instances verify the database under the controller's address, against its CA.
    postgres.tls_names(CONTROLLER_ADDRESS)
    assert standin.start(
        state, fleet=NAME, application=NAME, overlay=overlay, database_ca=postgres.ca_file
    ) == 0  # fmt: skip
    fleet = state / "fleet.json"
    try:
        deadline = time.monotonic() + 300
        while not _web_hosts(fleet) or not json.loads(fleet.read_text()).get("target_group_arn"):
            assert time.monotonic() < deadline, (state / "beanstalk.log").read_text()[-3000:]
            time.sleep(1)
        first = time.monotonic() - started
        port = free_port()
        assert alb.start(state / "alb", port, fleet, timeout=120) == 0, (
            state / "beanstalk.log"
        ).read_text()[-3000:]
        yield {"state": state, "url": f"http://127.0.0.1:{port}", "first": first}
    finally:
        alb.stop(state / "alb")
        standin.stop(state)
        instances = Instances(NAME, aws, emulator.endpoint, state)
        for host in instances.running():
            instances.remove(host)


def _web_hosts(fleet: Path) -> dict[str, Any]:
    try:
        hosts = json.loads(fleet.read_text()).get("hosts", {})
    except (OSError, ValueError):
        return {}
    return {h: v for h, v in hosts.items() if v["role"] == "web" and v.get("port")}


def test_a_new_version_rolls_onto_new_instances_with_no_failed_request(
    aws, platform, web_environment
):
    eb = aws("elasticbeanstalk")
    fleet = platform["state"] / "fleet.json"
    (old,) = _web_hosts(fleet).values()
    assert old["version"] == web_environment[0]["label"]
    print(f"first instance serving after {platform['first']:.0f} s")
    load = LoadGenerator(platform["url"], ("/healthz",), threads=2, rate=10, max_seconds=400)
    started = time.monotonic()
    with load:
        eb.update_environment(
            EnvironmentName=f"{NAME}-web", VersionLabel=web_environment[1]["label"]
        )
        deadline = time.monotonic() + 360
        while True:
            hosts = list(_web_hosts(fleet).values())
            if [h["version"] for h in hosts] == [web_environment[1]["label"]]:
                break
            assert time.monotonic() < deadline, (platform["state"] / "beanstalk.log").read_text()[
                -3000:
            ]
            time.sleep(1)
        time.sleep(3)  # requests after the old instance left
    result = load.result
    print(f"rolled in {time.monotonic() - started:.0f} s: {result.summary()}")
    assert not result.failures, result.failures[:10]
    (new,) = hosts
    # Both instances served: the new one came in before the old one left.
    assert {old["instance_id"], new["instance_id"]} <= set(result.served_by), result.served_by
    states = {
        i["InstanceId"]: i["State"]["Name"]
        for r in aws("ec2").describe_instances(
            InstanceIds=[old["instance_id"], new["instance_id"]]
        )["Reservations"]
        for i in r["Instances"]
    }
    assert states == {old["instance_id"]: "terminated", new["instance_id"]: "running"}


def _publish(emulator, stack: str) -> None:
    request = urllib.request.Request(
        f"{emulator.endpoint}/moto-api/fidelity/elasticbeanstalk/platforms",
        data=json.dumps({"SolutionStackName": stack}).encode(),
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()


def test_a_managed_platform_update_rolls_with_no_failed_request(
    aws, emulator, playbook, platform, web_environment
):
    eb = aws("elasticbeanstalk")
    fleet = platform["state"] / "fleet.json"
    (old,) = _web_hosts(fleet).values()
    newer = STACK.replace("v4.6.0", "v4.6.1")
    _publish(emulator, newer)

    def update(check: bool = False):
        result = playbook(
            ROOT / "playbooks" / "platform_update.yml",
            inventory=ROOT / "inventories" / "local",
            check=check,
            extra_vars={
                "platform_name": BASE,
                "app_hosting": "beanstalk",
                "platform_update_tiers": ["web"],
                "beanstalk_wait_delay": 1,
            },
        )
        assert result.ok, result.messages()
        return result.stats["localhost"]["changed"]

    assert update(check=True) == 1
    (env,) = eb.describe_environments(EnvironmentNames=[f"{NAME}-web"])["Environments"]
    assert env["SolutionStackName"] == STACK  # --check applied nothing
    load = LoadGenerator(platform["url"], ("/healthz",), threads=2, rate=10, max_seconds=400)
    started = time.monotonic()
    with load:
        assert update() == 1
        (env,) = eb.describe_environments(EnvironmentNames=[f"{NAME}-web"])["Environments"]
        assert (env["SolutionStackName"], env["Status"]) == (newer, "Ready")
        deadline = time.monotonic() + 360
        while True:
            hosts = list(_web_hosts(fleet).values())
            if len(hosts) == 1 and hosts[0]["instance_id"] != old["instance_id"]:
                break
            assert time.monotonic() < deadline, (platform["state"] / "beanstalk.log").read_text()[
                -3000:
            ]
            time.sleep(1)
        time.sleep(3)
    result = load.result
    print(f"platform update rolled in {time.monotonic() - started:.0f} s: {result.summary()}")
    assert not result.failures, result.failures[:10]
    (new,) = hosts
    assert {old["instance_id"], new["instance_id"]} <= set(result.served_by), result.served_by
    labels = Instances(NAME, aws, emulator.endpoint, platform["state"]).running()
    assert [h.platform for h in labels] == [env["PlatformArn"]]
    assert update() == 0  # nothing pending any more
