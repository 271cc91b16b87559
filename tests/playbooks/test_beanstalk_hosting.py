"""app_hosting: beanstalk provisioned by playbooks/provision.yml on the shared emulator, as a
whole environment of its own: the lanes run Elastic Beanstalk's steps instead of the EC2 web
tier (no launch templates, no Auto Scaling groups of ours), the rest of the architecture stays.
As CI runs it: provision.yml and teardown.yml with the deploy role's credentials, --check with
the plan role's (playbooks/ci_bootstrap.yml; the emulator enforces IAM and refused none of
their calls). First run, second run and --check changed=0; the security settings of both
environments read back from Elastic Beanstalk; the web environment behind our ALB as its
shared load balancer, where only CloudFront's requests (the origin secret) reach its target
group; then teardown.yml leaves nothing and runs again changed=0."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid

import pytest

from tests.conftest import ROOT
from tests.harness import ci_roles
from tests.harness.aws_resources import find_platform_resources

pytestmark = [pytest.mark.beanstalk, pytest.mark.slow]

PROVISION = ROOT / "playbooks" / "provision.yml"
TEARDOWN = ROOT / "playbooks" / "teardown.yml"
BAKE = ROOT / "playbooks" / "bake.yml"
MIGRATE = ROOT / "playbooks" / "beanstalk_migrate.yml"
ACCOUNT = "123456789012"


def test_provision_again_check_and_teardown(playbook, aws, emulator, tmp_path):
    eb, s3, iam, elbv2 = aws("elasticbeanstalk"), aws("s3"), aws("iam"), aws("elbv2")
    name, env = f"eb{uuid.uuid4().hex[:6]}", "local"
    prefix = f"{name}-{env}"
    seconds: dict[str, float] = {}
    started = time.monotonic()
    roles = ci_roles.bootstrap(name, emulator.endpoint)
    seconds["ci roles"] = time.monotonic() - started

    def run(path, label, check=False, ok=True, **extra):
        started = time.monotonic()
        result = playbook(
            path,
            check=check,
            env=roles.plan if check else roles.deploy,
            extra_vars={
                "platform_name": name,
                "app_hosting": "beanstalk",
                "vpc_cidr": "10.96.0.0/16",
                "vpc_public_subnet_cidrs": ["10.96.0.0/22", "10.96.4.0/22"],
                "vpc_private_subnet_cidrs": ["10.96.32.0/20", "10.96.48.0/20"],
                "beanstalk_bundle_dir": str(tmp_path),
                "beanstalk_wait_delay": 1,
                **extra,
            },
        )
        seconds[label] = time.monotonic() - started
        assert result.ok == ok, result.messages()
        return result

    first = run(PROVISION, "first")
    assert first.changed > 20
    again = run(PROVISION, "again")
    assert again.changed == 0, again.changed_tasks()
    plan = run(PROVISION, "check", check=True)
    assert plan.changed == 0, plan.changed_tasks()
    # The pipelines bake after every apply: on this path there is nothing to bake.
    baked = run(BAKE, "bake")
    assert baked.changed == 0, baked.changed_tasks()
    images = aws("ec2").describe_images(Owners=["self"])["Images"]
    assert [i["ImageId"] for i in images if prefix in i.get("Name", "")] == []
    # The migration step runs on a web instance of the Ready environment, and no stand-in runs
    # one here: refused with the reason before the master user's secret is read
    # (tests/local/test_make_up_beanstalk.py migrates on the stand-in's).
    refused = run(MIGRATE, "migrate without instances", ok=False)
    assert f"No Elastic Beanstalk environment {prefix}-web with a running instance" in (
        refused.messages()
    )

    found = find_platform_resources(aws, name, env)
    # The EC2 web tier is not built; everything else is.
    assert "launch_template" not in found and "autoscaling_group" not in found, found
    assert found["beanstalk_application"] == [prefix]
    assert sorted(found["beanstalk_environment"]) == [f"{prefix}-web", f"{prefix}-worker"]
    for kind in (
        "vpc",
        "nat_gateway",
        "db_instance",
        "dynamodb_table",
        "distribution",
        "load_balancer",
        "alarm",
        "ssm_parameter",
        "origin_record",
    ):
        assert found.get(kind), kind
    # The agent's alarms are the EC2 path's; the ALB's stay; the web tier's CPU alarm follows
    # the Auto Scaling group Elastic Beanstalk made, and enhanced health has an alarm per tier.
    assert sorted(found["alarm"]) == sorted(
        f"{prefix}-{a}"
        for a in (
            "transcode-queue-age", "transcode-dead-letters", "alb-5xx", "unhealthy-hosts",
            "web-cpu-high", "web-environment-degraded", "worker-environment-degraded",
            "logs-silent",
        )
    )  # fmt: skip
    alarms = {
        a["AlarmName"]: a
        for a in aws("cloudwatch").describe_alarms(AlarmNamePrefix=f"{prefix}-")["MetricAlarms"]
    }
    (web_group,) = eb.describe_environment_resources(EnvironmentName=f"{prefix}-web")[
        "EnvironmentResources"
    ]["AutoScalingGroups"]
    assert alarms[f"{prefix}-web-cpu-high"]["Dimensions"] == [
        {"Name": "AutoScalingGroupName", "Value": web_group["Name"]}
    ]
    assert web_group["Name"].startswith("awseb-"), web_group
    # Elastic Beanstalk cannot ask for encrypted root volumes: the region's default encrypts them.
    assert aws("ec2").get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is True
    degraded = alarms[f"{prefix}-worker-environment-degraded"]
    assert (degraded["Namespace"], degraded["MetricName"], degraded["Threshold"]) == (
        "AWS/ElasticBeanstalk", "EnvironmentHealth", 20.0,
    )  # fmt: skip
    assert degraded["Dimensions"] == [{"Name": "EnvironmentName", "Value": f"{prefix}-worker"}]
    assert sorted(found["bucket"]) == sorted(
        f"{prefix}-{b}-{ACCOUNT}" for b in ("media", "logs", "ssm", "bundles")
    )

    envs = {
        e["EnvironmentName"]: e
        for e in eb.describe_environments(ApplicationName=prefix, IncludeDeleted=False)[
            "Environments"
        ]
    }
    version = envs[f"{prefix}-web"]["VersionLabel"]
    assert version.startswith("streamapp-0.1.0-")
    assert all((e["Status"], e["Health"]) == ("Ready", "Green") for e in envs.values())
    assert envs[f"{prefix}-worker"]["Tier"]["Name"] == "Worker"
    for tier in ("web", "worker"):
        # The instances take these tags: no Role, or the inventory takes them for our hosts.
        listed = eb.list_tags_for_resource(ResourceArn=envs[f"{prefix}-{tier}"]["EnvironmentArn"])
        tags = {t["Key"]: t["Value"] for t in listed["ResourceTags"]}
        assert tags.get("BeanstalkTier") == tier and "Role" not in tags, tags

    def settings(environment):
        listed = eb.describe_configuration_settings(
            ApplicationName=prefix, EnvironmentName=environment
        )
        return {
            (o["Namespace"], o["OptionName"]): o["Value"]
            for o in listed["ConfigurationSettings"][0]["OptionSettings"]
        }

    ec2 = aws("ec2")
    tagged = [
        {"Name": "tag:Project", "Values": [name]},
        {"Name": "tag:Environment", "Values": [env]},
    ]
    private = sorted(
        s["SubnetId"]
        for s in ec2.describe_subnets(Filters=tagged)["Subnets"]
        if s["CidrBlock"] in ("10.96.32.0/20", "10.96.48.0/20")
    )
    groups = {
        g["GroupName"].removeprefix(f"{prefix}-"): g["GroupId"]
        for g in ec2.describe_security_groups(Filters=tagged)["SecurityGroups"]
    }
    web, worker = settings(f"{prefix}-web"), settings(f"{prefix}-worker")
    queue = f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/{prefix}-transcode"
    for tier, live in (("web", web), ("worker", worker)):
        # Private instances of our VPC, our group, the tier's role, IMDSv2 only.
        assert sorted(live[("aws:ec2:vpc", "Subnets")].split(",")) == private
        assert live[("aws:ec2:vpc", "AssociatePublicIpAddress")] == "false"
        assert live[("aws:autoscaling:launchconfiguration", "SecurityGroups")] == groups["app"]
        assert (
            live[("aws:autoscaling:launchconfiguration", "IamInstanceProfile")]
            == f"{prefix}-{tier}"
        )
        assert live[("aws:autoscaling:launchconfiguration", "DisableIMDSv1")] == "true"
        assert live[("aws:elasticbeanstalk:healthreporting:system", "SystemType")] == "enhanced"
        assert (
            live[("aws:elasticbeanstalk:command", "DeploymentPolicy")]
            == "RollingWithAdditionalBatch"
        )
        assert live[("aws:elasticbeanstalk:managedactions", "ManagedActionsEnabled")] == "true"
        # Logs go to our groups (the bundle's hook), not twice; health to Elastic Beanstalk's.
        assert live[("aws:elasticbeanstalk:cloudwatch:logs", "StreamLogs")] == "false"
        health = ("aws:elasticbeanstalk:cloudwatch:logs:health", "HealthStreamingEnabled")
        assert live[health] == "true"
        env_vars = {k[1]: v for k, v in live.items() if k[0].endswith("application:environment")}
        assert env_vars["STREAMSTACK_TIER"] == tier  # which agent configuration the hook applies
        # Secrets by ARN only; the database and queue the other lanes made.
        assert env_vars["STREAMAPP_DATABASE_PASSWORD_SECRET_ARN"].startswith(
            f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:{prefix}/db-app"
        )
        assert not any("PASSWORD" in k and not k.endswith("_ARN") for k in env_vars)
        assert env_vars["STREAMAPP_JOBS_QUEUE_URL"] == queue
        assert f"{prefix}-db." in env_vars["STREAMAPP_DATABASE_URL"]
    assert worker[("aws:elasticbeanstalk:sqsd", "WorkerQueueURL")] == queue
    assert ("aws:elasticbeanstalk:application:environment", "STREAMAPP_SQSD_PATH") not in web

    # The web environment's load balancer is ours (its shared one): Elastic Beanstalk's target
    # group and CNAME rule on our HTTPS listener, our ALB group; CloudFront's requests (the
    # origin secret) forward to that group, the rest of the world gets 403.
    (alb,) = elbv2.describe_load_balancers(Names=[f"{prefix}-alb"])["LoadBalancers"]
    assert web[("aws:elasticbeanstalk:environment", "LoadBalancerIsShared")] == "true"
    assert web[("aws:elbv2:loadbalancer", "SharedLoadBalancer")] == alb["LoadBalancerArn"]
    assert web[("aws:elbv2:loadbalancer", "SecurityGroups")] == groups["alb"]
    assert envs[f"{prefix}-web"]["EndpointURL"] == alb["DNSName"]
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"])["Listeners"]
    assert (listener["Port"], listener["Protocol"]) == (443, "HTTPS")
    rules = elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    (default,) = [r for r in rules if r["IsDefault"]]
    assert default["Actions"][0]["FixedResponseConfig"]["StatusCode"] == "403"
    by_field = {r["Conditions"][0]["Field"]: r for r in rules if not r["IsDefault"]}
    assert set(by_field) == {"host-header", "http-header"}
    assert by_field["host-header"]["Conditions"][0]["HostHeaderConfig"]["Values"] == [
        envs[f"{prefix}-web"]["CNAME"]
    ]
    secret = json.loads(
        aws("secretsmanager").get_secret_value(SecretId=f"{prefix}/origin-verify")["SecretString"]
    )
    guard = by_field["http-header"]
    assert guard["Conditions"][0]["HttpHeaderConfig"]["Values"] == [secret["current"]]
    assert (
        guard["Actions"][0]["TargetGroupArn"]
        == by_field["host-header"]["Actions"][0]["TargetGroupArn"]
    )
    (group,) = elbv2.describe_target_groups(
        TargetGroupArns=[guard["Actions"][0]["TargetGroupArn"]]
    )["TargetGroups"]
    assert group["TargetGroupName"].startswith("awseb-")
    assert group["HealthCheckPath"] == "/healthz"
    assert secret["current"] not in json.dumps(first.plays) + first.stderr

    bucket = f"{prefix}-bundles-{ACCOUNT}"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [f"{version}.zip"]
    role = iam.get_role(RoleName=f"{prefix}-beanstalk")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "elasticbeanstalk.amazonaws.com"}
    # The version lifecycle deletes old bundles with it: that bucket's objects only.
    inline = iam.get_role_policy(
        RoleName=f"{prefix}-beanstalk", PolicyName=f"{prefix}-beanstalk-bundles"
    )
    document = inline["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert [(s["Action"], s["Resource"]) for s in document["Statement"]] == [
        ("s3:DeleteObject", f"arn:aws:s3:::{bucket}/*")
    ]

    gone = run(TEARDOWN, "teardown", teardown_confirm=prefix)
    assert gone.changed > 0
    assert find_platform_resources(aws, name, env) == {}
    assert f"{prefix}-beanstalk" not in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert [
        g for g in elbv2.describe_target_groups()["TargetGroups"] if g["VpcId"] == alb["VpcId"]
    ] == []
    again = run(TEARDOWN, "teardown again", teardown_confirm=prefix)
    assert again.changed == 0, again.changed_tasks()

    with urllib.request.urlopen(f"{emulator.endpoint}/moto-api/fidelity/iam", timeout=10) as r:
        decided = [
            d
            for d in json.loads(r.read())
            if f"/ci-deploy-{prefix}/" in d["principal"] or f"/ci-plan-{prefix}/" in d["principal"]
        ]
    assert len(decided) > 50, len(decided)
    assert [d for d in decided if not d["allowed"]] == []
    assert any(d["action"].startswith("elasticbeanstalk:") for d in decided)
    gone = ci_roles.run_bootstrap(name, emulator.endpoint, ci_bootstrap_state="absent")
    assert gone.ok, gone.messages()
    print("seconds:", {k: round(v) for k, v in seconds.items()})
