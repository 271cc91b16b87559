"""The streamstack.aws modules that manage a set of like resources in one call
(cloudwatch_metric_alarms, cloudwatchlogs_log_groups, ec2_vpc_subnets, s3_buckets, sqs_queues,
ec2_security_groups), dynamodb_table (with
its TTL and point-in-time recovery) and cloudfront_public_key
given a private key, against the emulator, asserted with boto3.

One module-scoped sequence of playbook runs: create, run again, --check of an update, the
update, changes made behind the modules' backs found and repaired, bad input, delete, delete
again.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"

PLAYBOOK = PLAYBOOKS / "set_modules.yml"
BAD_INPUT = PLAYBOOKS / "set_modules_bad_input.yml"
TASKS = (
    "Alarms",
    "Log groups",
    "Subnets",
    "Table",
    "Public key from a private key",
    "Buckets",
    "Queues",
    "Security groups",
)
UPDATED = tuple(task for task in TASKS if task != "Public key from a private key")


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


CLOUDFRONT_ORIGIN_FACING = "com.amazonaws.global.cloudfront.origin-facing"


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
        self.cw, self.logs, self.ec2, self.cf, self.ddb, self.s3, self.sqs = (
            aws("cloudwatch"),
            aws("logs"),
            aws("ec2"),
            aws("cloudfront"),
            aws("dynamodb"),
            aws("s3"),
            aws("sqs"),
        )
        self.prefix, self.vpc_id = prefix, vpc_id

    def alarms(self):
        found = self.cw.describe_alarms(AlarmNamePrefix=f"{self.prefix}-")["MetricAlarms"]
        return {a["AlarmName"].removeprefix(f"{self.prefix}-"): a for a in found}

    def log_groups(self):
        found = self.logs.describe_log_groups(logGroupNamePrefix=f"/{self.prefix}/")["logGroups"]
        out = {}
        for group in found:
            tags = self.logs.list_tags_for_resource(resourceArn=group["logGroupArn"])["tags"]
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

    def buckets(self):
        """{logs|media: settings} of the test's buckets that exist."""
        names = {b["Name"] for b in self.s3.list_buckets()["Buckets"]}
        out = {}
        for short in ("logs", "media"):
            name = f"{self.prefix}-{short}"
            if name not in names:
                continue
            tags = self.s3.get_bucket_tagging(Bucket=name)["TagSet"]
            out[short] = {
                "versioning": self.s3.get_bucket_versioning(Bucket=name).get("Status"),
                "tags": {t["Key"]: t["Value"] for t in tags},
                "rules": self.s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"],
                "logging": self.s3.get_bucket_logging(Bucket=name).get("LoggingEnabled"),
            }
            if short == "logs":
                try:
                    block = self.s3.get_public_access_block(Bucket=name)
                    out[short]["public_access"] = block["PublicAccessBlockConfiguration"]
                except self.s3.exceptions.ClientError:
                    out[short]["public_access"] = None  # removed (the drift test does)
                out[short]["policy"] = json.loads(self.s3.get_bucket_policy(Bucket=name)["Policy"])
        return out

    def queues(self):
        """{dlq|jobs: (attributes, tags)} of the test's queues that exist."""
        out = {}
        for short in ("dlq", "jobs"):
            try:
                url = self.sqs.get_queue_url(QueueName=f"{self.prefix}-{short}")["QueueUrl"]
            except self.sqs.exceptions.QueueDoesNotExist:
                continue
            attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
            tags = self.sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
            out[short] = (attributes["Attributes"], tags)
        return out

    def security_groups(self):
        """{lb|app: group} of the test's groups."""
        found = self.ec2.describe_security_groups(
            Filters=[
                {"Name": "vpc-id", "Values": [self.vpc_id]},
                {"Name": "group-name", "Values": [f"{self.prefix}-lb", f"{self.prefix}-app"]},
            ]
        )["SecurityGroups"]
        return {g["GroupName"].removeprefix(f"{self.prefix}-"): g for g in found}

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
    buckets = live.buckets()
    logs, media = buckets["logs"], buckets["media"]
    assert logs["versioning"] == media["versioning"] == "Enabled"
    assert all(logs["public_access"].values()) and len(logs["public_access"]) == 4
    assert [s["Sid"] for s in logs["policy"]["Statement"]] == ["TlsOnly", "AccessLogs"]
    assert logs["tags"] == media["tags"] == {"Owner": "media"}
    assert [(r["ID"], r["Expiration"]["Days"]) for r in logs["rules"]] == [("expire", 7)]
    assert media["rules"][0]["Transitions"][0]["StorageClass"] == "STANDARD_IA"
    assert media["logging"] == {"TargetBucket": f"{live.prefix}-logs", "TargetPrefix": "media/"}
    queues = live.queues()
    (dlq, dlq_tags), (jobs, jobs_tags) = queues["dlq"], queues["jobs"]
    assert jobs["VisibilityTimeout"] == "420" and jobs["KmsMasterKeyId"] == "alias/aws/sqs"
    redrive = json.loads(jobs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == 3
    assert dlq_tags == jobs_tags == {"Owner": "media"}
    assert [q["queue_arn"] for q in registered["Queues"]["queues"]] == [
        dlq["QueueArn"],
        jobs["QueueArn"],
    ]
    groups = live.security_groups()
    lb, app = groups["lb"], groups["app"]
    assert sorted((p["FromPort"], p["IpRanges"][0]["CidrIp"]) for p in lb["IpPermissions"]) == [
        (80, "0.0.0.0/0"),
        (443, "0.0.0.0/0"),
    ]
    (cloudfront,) = live.ec2.describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [CLOUDFRONT_ORIGIN_FACING]}]
    )["PrefixLists"]
    by_port = {p["FromPort"]: p for p in lb["IpPermissions"]}
    assert [p["PrefixListId"] for p in by_port[443]["PrefixListIds"]] == [
        cloudfront["PrefixListId"]
    ]
    assert by_port[80].get("PrefixListIds", []) == []
    (to_app,) = lb["IpPermissionsEgress"]
    assert (to_app["FromPort"], to_app["UserIdGroupPairs"][0]["GroupId"]) == (8080, app["GroupId"])
    (from_lb,) = app["IpPermissions"]
    pair = from_lb["UserIdGroupPairs"][0]
    assert (from_lb["FromPort"], pair["GroupId"]) == (8080, lb["GroupId"])
    assert pair["Description"] == "from the lb"
    assert app["IpPermissionsEgress"] == []
    assert {t["Key"]: t["Value"] for t in app["Tags"]} == {"Owner": "media"}


def test_second_run_changes_nothing(created, run):
    again = run()
    assert again.ok, again.messages()
    assert again.changed == 0, again.changed_tasks()


def test_check_mode_shows_the_update_without_applying_it(created, run, live):
    before = (
        live.alarms(),
        live.log_groups(),
        live.subnets(),
        live.table(),
        live.buckets(),
        live.queues(),
        live.security_groups(),
    )
    check = run(check=True, diff=True, sm_threshold=90, sm_retention=14, sm_owner="ops")
    assert check.ok, check.messages()
    assert sorted(check.changed_tasks()) == sorted(f"localhost: {t}" for t in UPDATED)
    found = results(check)
    assert found["Alarms"]["updated"] == [f"{live.prefix}-cpu"]
    assert found["Alarms"]["diff"]["after"][f"{live.prefix}-cpu"]["Threshold"] == 90.0
    assert found["Log groups"]["diff"]["after"][f"/{live.prefix}/app"]["retention"] == 14
    assert found["Subnets"]["diff"]["after"]["10.77.1.0/24"]["tags"]["Owner"] == "ops"
    assert found["Table"]["diff"]["after"]["tags"] == {"Owner": "ops"}
    assert f"{live.prefix}-logs:lifecycle_rules" in found["Buckets"]["updated"]
    assert f"{live.prefix}-media:tags" in found["Buckets"]["updated"]
    jobs = found["Queues"]["diff"]["after"][f"{live.prefix}-jobs"]
    assert jobs["attributes"]["VisibilityTimeout"] == "840"
    assert found["Queues"]["updated"] == [f"{live.prefix}-dlq", f"{live.prefix}-jobs"]
    assert found["Security groups"]["updated"] == [f"{live.prefix}-lb", f"{live.prefix}-app"]
    app_after = found["Security groups"]["diff"]["after"][f"{live.prefix}-app"]
    assert app_after["ingress"] == [f"tcp 8090-8090 sg:{live.prefix}-lb (from the lb)"]
    after = (
        live.alarms(),
        live.log_groups(),
        live.subnets(),
        live.table(),
        live.buckets(),
        live.queues(),
        live.security_groups(),
    )
    assert after == before


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
    buckets = live.buckets()
    assert buckets["logs"]["rules"][0]["Expiration"]["Days"] == 14
    assert buckets["media"]["tags"] == {"Owner": "ops"}
    assert live.queues()["jobs"][0]["VisibilityTimeout"] == "840"
    app = live.security_groups()["app"]
    assert [p["FromPort"] for p in app["IpPermissions"]] == [8090]
    again = run(sm_threshold=90, sm_retention=14, sm_owner="ops")
    assert again.changed == 0, again.changed_tasks()


def test_changes_behind_the_modules_backs_are_found_and_repaired(created, run, live, aws):
    """A no-op run still compares the real state: drift shows in --check and is repaired."""
    wanted = {"sm_threshold": 90, "sm_retention": 14, "sm_owner": "ops"}
    s3, sqs, ec2 = aws("s3"), aws("sqs"), aws("ec2")
    s3.delete_public_access_block(Bucket=f"{live.prefix}-logs")
    s3.put_bucket_versioning(
        Bucket=f"{live.prefix}-media", VersioningConfiguration={"Status": "Suspended"}
    )
    url = sqs.get_queue_url(QueueName=f"{live.prefix}-jobs")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "30"})
    app_id = live.security_groups()["app"]["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=app_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    drifted = (live.buckets(), live.queues(), live.security_groups())
    check = run(check=True, diff=True, **wanted)
    assert check.ok, check.messages()
    expected = ["localhost: Buckets", "localhost: Queues", "localhost: Security groups"]
    assert sorted(check.changed_tasks()) == expected
    found = results(check)
    assert sorted(found["Buckets"]["updated"]) == [
        f"{live.prefix}-logs:public_access",
        f"{live.prefix}-media:versioning",
    ]
    before_app = found["Security groups"]["diff"]["before"][f"{live.prefix}-app"]["ingress"]
    assert "tcp 22-22 0.0.0.0/0" in before_app
    assert (live.buckets(), live.queues(), live.security_groups()) == drifted
    repair = run(**wanted)
    assert repair.ok, repair.messages()
    assert sorted(repair.changed_tasks()) == expected
    buckets = live.buckets()
    assert all(buckets["logs"]["public_access"].values())
    assert buckets["media"]["versioning"] == "Enabled"
    assert live.queues()["jobs"][0]["VisibilityTimeout"] == "840"
    assert [p["FromPort"] for p in live.security_groups()["app"]["IpPermissions"]] == [8090]
    again = run(**wanted)
    assert again.changed == 0, again.changed_tasks()


def test_bad_input_fails_clearly(created, run, live, aws):
    result = run(path=BAD_INPUT)
    found = results(result)
    assert "threshold required" in found["An alarm without a threshold"]["msg"]
    assert "given more than once" in found["The same log group twice"]["msg"]
    moved = found["An existing subnet moved to another zone"]["msg"]
    assert "cannot change" in moved and "eu-west-1a" in moved
    assert "key schema of table" in found["A table with another key"]["msg"]
    assert "not an unencrypted PEM private key" in found["A private key that is no key"]["msg"]
    assert "mutually exclusive" in found["Both a public and a private key"]["msg"]
    assert "has no action" in found["A lifecycle rule without an action"]["msg"]
    missing = found["A queue whose dead-letter queue is missing"]["msg"]
    assert f"{live.prefix}-none does not exist" in missing
    assert "no group nowhere" in found["A rule naming no group of the VPC"]["msg"]
    missing = found["A rule naming no prefix list of the region"]["msg"]
    assert "no managed prefix list named com.example.nowhere" in missing
    assert all(r.get("failed") for r in found.values()), found
    # Bad input changes nothing, not even the resources the task could have made first.
    names = {b["Name"] for b in aws("s3").list_buckets()["Buckets"]}
    assert f"{live.prefix}-bad" not in names
    assert aws("sqs").list_queues(QueueNamePrefix=f"{live.prefix}-orphan").get("QueueUrls") is None
    lonely = aws("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [f"{live.prefix}-lonely"]}]
    )["SecurityGroups"]
    assert lonely == []
    assert f"{live.prefix}-bad" not in live.alarms()
    assert live.subnets()["10.77.1.0/24"]["AvailabilityZone"] == "eu-west-1a"


def test_delete(created, run, live, aws):
    # s3_buckets deletes only empty buckets: stop the access logs the emulator writes, empty them.
    s3 = aws("s3")
    s3.put_bucket_logging(Bucket=f"{live.prefix}-media", BucketLoggingStatus={})
    for bucket in (f"{live.prefix}-logs", f"{live.prefix}-media"):
        listed = s3.list_object_versions(Bucket=bucket)
        for item in listed.get("Versions", []) + listed.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])
    deleted = run(sm_state="absent", sm_threshold=90, sm_retention=14, sm_owner="ops")
    assert deleted.ok, deleted.messages()
    assert sorted(deleted.changed_tasks()) == sorted(f"localhost: {t}" for t in TASKS)
    assert live.alarms() == {} and live.log_groups() == {} and live.subnets() == {}
    assert live.public_key() is None and live.table() is None
    assert live.buckets() == {} and live.queues() == {} and live.security_groups() == {}
    again = run(sm_state="absent")
    assert again.ok, again.messages()
    assert again.changed == 0, again.changed_tasks()


LOG_GROUPS = PLAYBOOKS / "log_groups.yml"


def test_log_group_tags_removed_and_groups_deleted_by_prefix_and_tags(playbook, aws, prefix):
    """Tags go through TagResource/UntagResource; with a prefix and state absent, only the
    groups under it that carry the given tags are deleted (the teardown's way)."""
    logs, base = aws("logs"), f"/{prefix}-env/"
    mine = {"Project": prefix, "Environment": "t"}

    def run(check=False, **variables):
        result = playbook(LOG_GROUPS, extra_vars=variables, check=check)
        assert result.ok, result.messages()
        return result

    def tags(name):
        (group,) = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        return logs.list_tags_for_resource(resourceArn=group["logGroupArn"])["tags"]

    groups = [f"{base}app", f"{base}worker"]
    run(lg_groups=groups, lg_tags={**mine, "Owner": "media"})
    assert run(lg_groups=groups, lg_tags=mine).changed == 1
    assert tags(f"{base}app") == mine
    logs.create_log_group(logGroupName=f"{base}foreign", tags={"Project": prefix})
    logs.create_log_group(logGroupName=f"/{prefix}-other/app", tags=mine)

    check = run(check=True, lg_prefix=base, lg_tags=mine, lg_state="absent")
    (found,) = [res for _n, _h, res in check.task_results() if "deleted" in res]
    assert found["deleted"] == groups and tags(f"{base}app") == mine
    assert run(lg_prefix=base, lg_tags=mine, lg_state="absent").changed == 1
    left = logs.describe_log_groups(logGroupNamePrefix=f"/{prefix}-")["logGroups"]
    assert sorted(g["logGroupName"] for g in left) == [f"{base}foreign", f"/{prefix}-other/app"]
    assert run(lg_prefix=base, lg_tags=mine, lg_state="absent").changed == 0
