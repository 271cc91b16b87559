"""The streamstack.aws modules that manage a set of like resources in one call
(cloudwatch_metric_alarms, cloudwatchlogs_log_groups, ec2_vpc_subnets), dynamodb_table (with
its TTL and point-in-time recovery) and cloudfront_public_key
given a private key, against the emulator, asserted with boto3.

One module-scoped sequence of playbook runs: create, run again, --check of an update, the
update, bad input, delete, delete again.
"""

from __future__ import annotations

import subprocess
import uuid

import pytest

from tests.conftest import ROOT

PLAYBOOK = ROOT / "tests" / "playbooks" / "set_modules.yml"
BAD_INPUT = ROOT / "tests" / "playbooks" / "set_modules_bad_input.yml"
TASKS = ("Alarms", "Log groups", "Subnets", "Table", "Public key from a private key")
UPDATED = TASKS[:4]


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"sm-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def vpc_id(aws) -> str:
    return aws("ec2").create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("set-modules") / "signing.pem"
    subprocess.run(
        [
            "openssl",
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            path,
        ],
        check=True,
        capture_output=True,
    )
    return path


@pytest.fixture(scope="module")
def run(playbook, prefix, vpc_id, key_file):
    def run(*, check=False, diff=False, path=PLAYBOOK, **extra):
        variables = {
            "sm_prefix": prefix,
            "sm_vpc_id": vpc_id,
            "sm_threshold": 80,
            "sm_retention": 7,
            "sm_owner": "media",
            "sm_key_file": str(key_file),
            **extra,
        }
        return playbook(path, extra_vars=variables, check=check, diff=diff)

    return run


def results(run_result) -> dict[str, dict]:
    return {name: result for name, _, result in run_result.task_results()}


class Live:
    def __init__(self, aws, prefix, vpc_id):
        self.cw, self.logs, self.ec2, self.cf, self.ddb = (
            aws("cloudwatch"),
            aws("logs"),
            aws("ec2"),
            aws("cloudfront"),
            aws("dynamodb"),
        )
        self.prefix, self.vpc_id = prefix, vpc_id

    def alarms(self):
        found = self.cw.describe_alarms(AlarmNamePrefix=f"{self.prefix}-")["MetricAlarms"]
        return {a["AlarmName"].removeprefix(f"{self.prefix}-"): a for a in found}

    def log_groups(self):
        found = self.logs.describe_log_groups(logGroupNamePrefix=f"/{self.prefix}/")["logGroups"]
        out = {}
        for group in found:
            tags = self.logs.list_tags_log_group(logGroupName=group["logGroupName"])["tags"]
            out[group["logGroupName"].rsplit("/", 1)[1]] = dict(group, tags=tags)
        return out

    def subnets(self):
        found = self.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [self.vpc_id]}])
        return {
            s["CidrBlock"]: dict(s, Tags={t["Key"]: t["Value"] for t in s.get("Tags", [])})
            for s in found["Subnets"]
        }

    def table(self):
        """(table, TTL, point-in-time recovery status, tags) or None."""
        name = f"{self.prefix}-table"
        if name not in self.ddb.list_tables()["TableNames"]:
            return None
        table = self.ddb.describe_table(TableName=name)["Table"]
        ttl = self.ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        backups = self.ddb.describe_continuous_backups(TableName=name)
        pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        tags = self.ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
        return table, ttl, pitr["PointInTimeRecoveryStatus"], {t["Key"]: t["Value"] for t in tags}

    def public_key(self):
        items = self.cf.list_public_keys()["PublicKeyList"].get("Items") or []
        return next((k for k in items if k["Name"] == f"{self.prefix}-derived"), None)


@pytest.fixture(scope="module")
def live(aws, prefix, vpc_id):
    return Live(aws, prefix, vpc_id)


@pytest.fixture(scope="module")
def created(run):
    result = run()
    assert result.ok, result.messages()
    return result


def test_create(created, live, key_file):
    assert sorted(created.changed_tasks()) == sorted(f"localhost: {t}" for t in TASKS)
    alarms = live.alarms()
    assert set(alarms) == {"cpu", "queue-age"}
    cpu, age = alarms["cpu"], alarms["queue-age"]
    assert cpu["Threshold"] == 80.0 and cpu["ComparisonOperator"] == "GreaterThanThreshold"
    assert (
        cpu["AlarmActions"]
        == cpu["OKActions"]
        == [f"arn:aws:sns:eu-west-1:123456789012:{live.prefix}-alarms"]
    )
    assert cpu["Dimensions"] == [{"Name": "AutoScalingGroupName", "Value": f"{live.prefix}-web"}]
    assert (age["Statistic"], age["Period"], age["EvaluationPeriods"]) == ("Maximum", 60, 3)
    assert age["TreatMissingData"] == "notBreaching"
    groups = live.log_groups()
    assert set(groups) == {"app", "worker"}
    assert all(g["retentionInDays"] == 7 for g in groups.values())
    assert all(g["tags"] == {"Project": live.prefix, "Owner": "media"} for g in groups.values())
    subnets = live.subnets()
    assert subnets["10.77.1.0/24"]["AvailabilityZone"] == "eu-west-1a"
    assert subnets["10.77.2.0/24"]["AvailabilityZone"] == "eu-west-1b"
    assert subnets["10.77.2.0/24"]["Tags"] == {"Name": f"{live.prefix}-b", "Owner": "media"}
    assert not subnets["10.77.1.0/24"]["MapPublicIpOnLaunch"]
    registered = results(created)
    ids = [s["id"] for s in registered["Subnets"]["subnets"]]
    assert ids == [subnets["10.77.1.0/24"]["SubnetId"], subnets["10.77.2.0/24"]["SubnetId"]]
    table, ttl, pitr, tags = live.table()
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    assert pitr == "ENABLED" and tags == {"Owner": "media"}
    key = live.public_key()
    assert key and key["Comment"] == "derived"
    # The derived public half, never the private key, is what the module returns and stores.
    derived = subprocess.run(
        ["openssl", "pkey", "-in", key_file, "-pubout"], check=True, capture_output=True, text=True
    ).stdout
    assert "".join(key["EncodedKey"].split()) == "".join(derived.split())
    assert "PRIVATE" not in created.raw


def test_second_run_changes_nothing(created, run):
    again = run()
    assert again.ok, again.messages()
    assert again.changed == 0, again.changed_tasks()


def test_check_mode_shows_the_update_without_applying_it(created, run, live):
    before = (live.alarms(), live.log_groups(), live.subnets(), live.table())
    check = run(check=True, diff=True, sm_threshold=90, sm_retention=14, sm_owner="ops")
    assert check.ok, check.messages()
    assert sorted(check.changed_tasks()) == sorted(f"localhost: {t}" for t in UPDATED)
    found = results(check)
    assert found["Alarms"]["updated"] == [f"{live.prefix}-cpu"]
    assert found["Alarms"]["diff"]["after"][f"{live.prefix}-cpu"]["Threshold"] == 90.0
    assert found["Log groups"]["diff"]["after"][f"/{live.prefix}/app"]["retention"] == 14
    assert found["Subnets"]["diff"]["after"]["10.77.1.0/24"]["tags"]["Owner"] == "ops"
    assert found["Table"]["diff"]["after"]["tags"] == {"Owner": "ops"}
    assert (live.alarms(), live.log_groups(), live.subnets(), live.table()) == before


def test_update(created, run, live):
    update = run(sm_threshold=90, sm_retention=14, sm_owner="ops")
    assert update.ok, update.messages()
    assert sorted(update.changed_tasks()) == sorted(f"localhost: {t}" for t in UPDATED)
    assert live.alarms()["cpu"]["Threshold"] == 90.0
    assert live.alarms()["queue-age"]["Threshold"] == 900.0
    groups = live.log_groups()
    assert all(g["retentionInDays"] == 14 and g["tags"]["Owner"] == "ops" for g in groups.values())
    assert all(s["Tags"]["Owner"] == "ops" for s in live.subnets().values())
    assert live.table()[3] == {"Owner": "ops"}
    again = run(sm_threshold=90, sm_retention=14, sm_owner="ops")
    assert again.changed == 0, again.changed_tasks()


def test_bad_input_fails_clearly(created, run, live):
    result = run(path=BAD_INPUT)
    found = results(result)
    assert "threshold required" in found["An alarm without a threshold"]["msg"]
    assert "given more than once" in found["The same log group twice"]["msg"]
    moved = found["An existing subnet moved to another zone"]["msg"]
    assert "cannot change" in moved and "eu-west-1a" in moved
    assert "key schema of table" in found["A table with another key"]["msg"]
    assert "not an unencrypted PEM private key" in found["A private key that is no key"]["msg"]
    assert "mutually exclusive" in found["Both a public and a private key"]["msg"]
    assert all(r.get("failed") for r in found.values()), found
    assert f"{live.prefix}-bad" not in live.alarms()
    assert live.subnets()["10.77.1.0/24"]["AvailabilityZone"] == "eu-west-1a"


def test_delete(created, run, live):
    deleted = run(sm_state="absent", sm_threshold=90, sm_retention=14, sm_owner="ops")
    assert deleted.ok, deleted.messages()
    assert sorted(deleted.changed_tasks()) == sorted(f"localhost: {t}" for t in TASKS)
    assert live.alarms() == {} and live.log_groups() == {} and live.subnets() == {}
    assert live.public_key() is None and live.table() is None
    again = run(sm_state="absent")
    assert again.ok, again.messages()
    assert again.changed == 0, again.changed_tasks()
