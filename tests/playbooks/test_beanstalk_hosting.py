"""app_hosting: beanstalk on the shared emulator, its own resources only
(playbooks/provision/resources/beanstalk.yml's parts in provisioning's order, then
playbooks/teardown/resources/beanstalk.yml; tests/playbooks/beanstalk_hosting.yml): what the other
lanes make (VPC, subnets, groups, instance profiles, queue, database, distribution) is prepared
here and given as their facts. First run, second run and --check changed=0, the security settings
of both environments read back from Elastic Beanstalk, then the teardown leaves none of them.

Not yet wired into playbooks/provision.yml and teardown.yml (issue 20, next step)."""

from __future__ import annotations

import json
import uuid

import pytest

from local.ansible import run_playbook
from tests.conftest import ROOT

pytestmark = pytest.mark.beanstalk

PLAYBOOK = ROOT / "tests" / "playbooks" / "beanstalk_hosting.yml"
INVENTORY = ROOT / "inventories" / "local"
ACCOUNT = "123456789012"


def test_provision_again_check_and_teardown(aws, emulator, tmp_path):
    ec2, iam, eb, s3 = aws("ec2"), aws("iam"), aws("elasticbeanstalk"), aws("s3")
    name = f"eb{uuid.uuid4().hex[:8]}"
    prefix = f"{name}-local"
    vpc = ec2.create_vpc(CidrBlock="10.96.0.0/16")["Vpc"]["VpcId"]
    subnets = {
        tier: [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.96.{base + i}.0/24")["Subnet"]["SubnetId"]
            for i in range(2)
        ]
        for tier, base in (("public", 0), ("private", 10))
    }
    groups = {
        g: ec2.create_security_group(GroupName=f"{prefix}-{g}", Description=g, VpcId=vpc)["GroupId"]
        for g in ("alb", "app")
    }
    for tier in ("web", "worker"):
        iam.create_role(RoleName=f"{prefix}-{tier}", AssumeRolePolicyDocument="{}")
        iam.create_instance_profile(InstanceProfileName=f"{prefix}-{tier}")
        iam.add_role_to_instance_profile(
            InstanceProfileName=f"{prefix}-{tier}", RoleName=f"{prefix}-{tier}"
        )
    secret = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:{prefix}/db-app-AbCdEf"
    queue = f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/{prefix}-transcode"
    facts = {
        "provision_vpc_id": vpc,
        "provision_public_subnet_ids": subnets["public"],
        "provision_private_subnet_ids": subnets["private"],
        "provision_sg_alb_id": groups["alb"],
        "provision_sg_app_id": groups["app"],
        "provision_queue_url": queue,
        "provision_db_endpoint": f"{prefix}-db.abc.eu-west-1.rds.amazonaws.com",
        "provision_db_port": 5432,
        "provision_db_app_secret_arn": secret,
        "provision_distribution_domain": "d111111abcdef8.cloudfront.net",
        "provision_public_key_id": "K2JCJMDEHXQW5F",
        "provision_alb_certificate_arn": f"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/0000",
    }

    def run(stage, check=False):
        result = run_playbook(
            PLAYBOOK,
            inventory=INVENTORY,
            check=check,
            extra_vars={
                "eb_stage": stage,
                "eb_facts": facts,
                "platform_name": name,
                "aws_account_id": ACCOUNT,
                "app_hosting": "beanstalk",
                "beanstalk_bundle_dir": str(tmp_path),
                "beanstalk_wait_delay": 1,
                "aws_endpoint_url": emulator.endpoint,
            },
        )
        assert result.ok, result.messages()
        return result

    assert run("provision").stats["localhost"]["changed"] > 0
    assert run("provision").stats["localhost"]["changed"] == 0
    assert run("provision", check=True).stats["localhost"]["changed"] == 0

    envs = {
        e["EnvironmentName"]: e
        for e in eb.describe_environments(ApplicationName=prefix, IncludeDeleted=False)[
            "Environments"
        ]
    }
    assert set(envs) == {f"{prefix}-web", f"{prefix}-worker"}
    version = envs[f"{prefix}-web"]["VersionLabel"]
    assert version.startswith("streamapp-0.1.0-")
    assert all((e["Status"], e["Health"]) == ("Ready", "Green") for e in envs.values())
    assert envs[f"{prefix}-worker"]["Tier"]["Name"] == "Worker"
    for tier in ("web", "worker"):
        # The instances take these tags: no Role, or the inventory takes them for our hosts.
        found = eb.list_tags_for_resource(ResourceArn=envs[f"{prefix}-{tier}"]["EnvironmentArn"])
        tags = {t["Key"]: t["Value"] for t in found["ResourceTags"]}
        assert tags.get("BeanstalkTier") == tier and "Role" not in tags, tags

    def settings(env):
        found = eb.describe_configuration_settings(ApplicationName=prefix, EnvironmentName=env)
        return {
            (o["Namespace"], o["OptionName"]): o["Value"]
            for o in found["ConfigurationSettings"][0]["OptionSettings"]
        }

    web, worker = settings(f"{prefix}-web"), settings(f"{prefix}-worker")
    for tier, live in (("web", web), ("worker", worker)):
        # Private instances of our VPC, our group, the tier's role, IMDSv2 only.
        assert live[("aws:ec2:vpc", "Subnets")] == ",".join(subnets["private"])
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
        assert live[("aws:elasticbeanstalk:managedactions", "PreferredStartTime")] == "Sun:03:00"
        assert live[("aws:elasticbeanstalk:cloudwatch:logs", "StreamLogs")] == "true"
        env_vars = {k[1]: v for k, v in live.items() if k[0].endswith("application:environment")}
        # Secrets by ARN only.
        assert env_vars["STREAMAPP_DATABASE_PASSWORD_SECRET_ARN"] == secret
        assert not any("PASSWORD" in k and not k.endswith("_ARN") for k in env_vars)
        assert env_vars["STREAMAPP_JOBS_QUEUE_URL"] == queue
    assert web[("aws:ec2:vpc", "ELBSubnets")] == ",".join(subnets["public"])
    assert web[("aws:elbv2:loadbalancer", "SecurityGroups")] == groups["alb"]
    assert web[("aws:elbv2:listener:default", "ListenerEnabled")] == "false"  # no port 80
    assert web[("aws:elbv2:listener:443", "Protocol")] == "HTTPS"
    assert (
        web[("aws:elasticbeanstalk:environment:process:default", "HealthCheckPath")] == "/healthz"
    )
    assert worker[("aws:elasticbeanstalk:sqsd", "WorkerQueueURL")] == queue
    sqsd_path = worker[("aws:elasticbeanstalk:sqsd", "HttpPath")]
    assert (
        worker[("aws:elasticbeanstalk:application:environment", "STREAMAPP_SQSD_PATH")] == sqsd_path
    )
    assert ("aws:elasticbeanstalk:application:environment", "STREAMAPP_SQSD_PATH") not in web

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

    run("teardown")
    assert (
        eb.describe_environments(ApplicationName=prefix, IncludeDeleted=False)["Environments"] == []
    )
    assert eb.describe_applications(ApplicationNames=[prefix])["Applications"] == []
    assert f"{prefix}-beanstalk" not in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert run("teardown").stats["localhost"]["changed"] == 0
