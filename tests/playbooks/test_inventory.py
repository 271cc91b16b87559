"""The production dynamic inventory (inventories/production/aws_ec2.yml) against the emulator.

The file is used unchanged: the aws_ec2 plugin's boto3 honours AWS_ENDPOINT_URL (set by the
emulator fixture), the way it honours AWS_PROFILE on AWS. Instances are launched the way they
are in production: by Auto Scaling Groups from a launch template, the groups' tags propagated.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

INVENTORY = ROOT / "inventories" / "production" / "aws_ec2.yml"
BIN = Path(sys.executable).parent
TAGS = {"Project": "stream", "Environment": "production", "ManagedBy": "ansible"}


def _tag_list(tags: dict[str, str], propagate: bool = False) -> list[dict]:
    if propagate:
        return [{"Key": k, "Value": v, "PropagateAtLaunch": True} for k, v in tags.items()]
    return [{"Key": k, "Value": v} for k, v in tags.items()]


@pytest.fixture(scope="module")
def launched(aws) -> dict[str, list[str]]:
    """Web (2) and worker (1) instances launched by ASGs, and instances the inventory must skip."""
    ec2, asg = aws("ec2"), aws("autoscaling")
    vpc = ec2.create_vpc(CidrBlock="10.94.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.94.1.0/24", AvailabilityZone="eu-west-1a")
    subnet_id = subnet["Subnet"]["SubnetId"]
    ec2.create_launch_template(
        LaunchTemplateName="invtest-production",
        LaunchTemplateData={"ImageId": "ami-03cf127a", "InstanceType": "t3.small"},
    )
    ids: dict[str, list[str]] = {}
    for role, count in (("web", 2), ("worker", 1)):
        name = f"stream-production-{role}"
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": "invtest-production", "Version": "$Latest"},
            MinSize=count,
            MaxSize=count,
            DesiredCapacity=count,
            VPCZoneIdentifier=subnet_id,
            Tags=_tag_list(TAGS | {"Role": role, "Name": name}, propagate=True),
        )
        group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        ids[role] = sorted(i["InstanceId"] for i in group["AutoScalingGroups"][0]["Instances"])
    # Not ours: another environment, another project, a stopped production instance.
    decoys = {
        "staging": TAGS | {"Environment": "staging", "Role": "web"},
        "other project": TAGS | {"Project": "other", "Role": "web"},
        "stopped": TAGS | {"Role": "web", "Name": "stream-production-web"},
        # Elastic Beanstalk's instances (app_hosting: beanstalk) carry the environment's tags:
        # Beanstalk configures them, never our host plays.
        "beanstalk": TAGS
        | {"Role": "web", "elasticbeanstalk:environment-name": "stream-production-web"},
    }
    ids["decoys"] = []
    for what, tags in decoys.items():
        (instance,) = ec2.run_instances(
            ImageId="ami-03cf127a",
            MinCount=1,
            MaxCount=1,
            SubnetId=subnet_id,
            TagSpecifications=[{"ResourceType": "instance", "Tags": _tag_list(tags)}],
        )["Instances"]
        if what == "stopped":
            ec2.stop_instances(InstanceIds=[instance["InstanceId"]])
        ids["decoys"].append(instance["InstanceId"])
    return ids


def plain(value):
    """ansible-inventory's JSON marks untrusted strings as {"__ansible_unsafe": value}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def inventory(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", str(INVENTORY), "--flush-cache", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_instances_are_grouped_by_role_and_environment(launched, aws):
    data = plain(json.loads(inventory("--list").stdout))
    hostvars = data["_meta"]["hostvars"]
    by_id = {hv["instance_id"]: name for name, hv in hostvars.items()}
    assert set(by_id) == set(launched["web"] + launched["worker"]), "decoys must be filtered out"
    web = sorted(hostvars[h]["instance_id"] for h in data["web"]["hosts"])
    worker = sorted(hostvars[h]["instance_id"] for h in data["worker"]["hosts"])
    env = sorted(hostvars[h]["instance_id"] for h in data["env_production"]["hosts"])
    assert (web, worker) == (launched["web"], launched["worker"])
    assert env == sorted(launched["web"] + launched["worker"])

    reservations = aws("ec2").describe_instances(InstanceIds=list(by_id))["Reservations"]
    for instance in (i for r in reservations for i in r["Instances"]):
        name = by_id[instance["InstanceId"]]
        hv = hostvars[name]
        role = hv["ec2_tags"]["Role"]
        # Names: <Name tag>_<instance id>; reached on the private address; SSM ready.
        assert name == f"stream-production-{role}_{instance['InstanceId']}"
        assert hv["ansible_host"] == instance["PrivateIpAddress"]
        assert hv["ansible_aws_ssm_instance_id"] == instance["InstanceId"]
        assert hv["ansible_aws_ssm_region"] == "eu-west-1"
        assert hv["ec2_tags"]["Project"] == "stream"


def test_graph_shows_the_groups(launched):
    graph = inventory("--graph").stdout
    members: dict[str, list[str]] = {}
    stack: list[str] = []
    for line in graph.splitlines():
        depth = line.count("|")
        name = line.split("--")[-1].strip()
        if name.startswith("@"):
            del stack[depth:]
            stack.append(name.strip("@:"))
            members.setdefault(stack[-1], [])
        else:
            members[stack[depth - 1]].append(name.rsplit("_", 1)[1])
    assert sorted(members["web"]) == launched["web"], graph
    assert sorted(members["worker"]) == launched["worker"], graph
    assert sorted(members["env_production"]) == sorted(launched["web"] + launched["worker"])


@pytest.mark.parametrize(("env", "secure"), [("production", True), ("local", False)])
def test_session_cookies_are_tls_only_where_viewers_arrive_over_https(tmp_path, env, secure):
    """On AWS viewers reach the app only through CloudFront (HTTPS): TLS-only session cookies,
    whatever the ALB's certificate setting; the local load balancer serves plain HTTP."""
    fleet = tmp_path / "fleet.yml"
    fleet.write_text(
        json.dumps(
            {
                "all": {
                    "children": {group: {"hosts": {"host1": {}}} for group in ("web", f"env_{env}")}
                }
            }
        )
    )
    shown = subprocess.run(
        [
            str(BIN / "ansible-inventory"),
            *("-i", str(ROOT / "inventories" / env / "hosts.yml"), "-i", str(fleet)),
            *("--host", "host1"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(shown.stdout)["app_session_cookie_secure"] is secure


def _size(value: str) -> int:
    """nginx's size syntax (client_max_body_size) in bytes."""
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    text = str(value).strip().lower()
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


@pytest.mark.parametrize("env", ["production", "local"])
def test_nginx_and_the_app_take_the_same_upload_size(tmp_path, env):
    """Issue 16, item 8: one setting (upload_max_bytes) for both. nginx lets the file and its
    multipart form through, so oversized uploads get the app's JSON 413; before, production's
    nginx refused at 20 MB with an HTML page what the app would take up to 2 GiB."""
    import yaml

    fleet = tmp_path / "fleet.yml"
    groups = ("web", f"env_{env}")
    children = {group: {"hosts": {"host1": {}}} for group in groups}
    fleet.write_text(json.dumps({"all": {"children": children}}))
    defaults = {  # what a play gets where the inventory sets nothing
        role: yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
        for role in ("app", "nginx")
    }
    shown = subprocess.run(
        [
            str(BIN / "ansible"),
            *("-i", str(ROOT / "inventories" / env / "hosts.yml"), "-i", str(fleet)),
            *("host1", "-c", "local", "-m", "ansible.builtin.debug", "-a"),
            "msg={{ [app_max_upload_bytes | default('-'), nginx_client_max_body_size"
            " | default('-'), upload_max_bytes | default('-')] | to_json }}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    app, nginx, setting = json.loads(yaml.safe_load(shown.stdout.split("=>", 1)[1])["msg"])
    app = int(defaults["app"]["app_max_upload_bytes"] if app == "-" else app)
    nginx = _size(defaults["nginx"]["nginx_client_max_body_size"] if nginx == "-" else nginx)
    assert nginx == app + 1024**2, (app, nginx)
    assert app == int(setting)


def test_hosts_are_reached_through_session_manager(launched, aws):
    """Issue 19.4: each host of the production inventory renders the amazon.aws.aws_ssm
    connection's variables (instance, region, the environment's transfer bucket in the
    instance's account) under the names the plugin reads. Sessions themselves cannot run here:
    the emulator has no SSM agent to talk to (README, "Reaching private hosts")."""
    doc = subprocess.run(
        [str(BIN / "ansible-doc"), "-t", "connection", "--json", "amazon.aws.aws_ssm"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    options = json.loads(doc.stdout)["amazon.aws.aws_ssm"]["doc"]["options"]
    reads = {option: [v["name"] for v in spec.get("vars", [])] for option, spec in options.items()}
    wanted = {
        "instance_id": "ansible_aws_ssm_instance_id",
        "region": "ansible_aws_ssm_region",
        "bucket_name": "ansible_aws_ssm_bucket_name",
    }
    assert all(var in reads[option] for option, var in wanted.items()), reads
    shown = subprocess.run(
        [
            str(BIN / "ansible"),
            *("-i", str(INVENTORY.parent), "aws_ec2", "--flush-cache", "--one-line"),
            *("-m", "ansible.builtin.debug", "-a"),
            "msg={{ [inventory_hostname, ansible_connection]"
            " + (query('ansible.builtin.vars', *" + json.dumps(list(wanted.values())) + ")) }}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rendered = {}
    for line in shown.stdout.splitlines():
        _host, _, result = line.partition(" | SUCCESS => ")
        host, connection, instance, region, bucket = json.loads(result)["msg"]
        rendered[host] = (connection, instance, region, bucket)
    assert sorted(v[1] for v in rendered.values()) == sorted(launched["web"] + launched["worker"])
    for host, (connection, instance, region, bucket) in rendered.items():
        assert host.endswith(f"_{instance}")
        assert connection == "amazon.aws.aws_ssm"
        assert (region, bucket) == ("eu-west-1", "stream-production-ssm-123456789012")
