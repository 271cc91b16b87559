"""The whole environment provisioned on the emulator: preflight, idempotence, check mode,
security invariants, outputs for the hosts, teardown. Tests run in file order and share one
provisioned environment (`local`)."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from botocore.exceptions import ClientError

from local.ansible import BIN, _json_document
from local.emulator.iam_policy import Principal, evaluate
from local.prepared_account import self_signed
from tests.conftest import ROOT
from tests.harness import ci_roles
from tests.harness.aws_resources import find_platform_resources
from tests.harness.together import selected, together
from tests.harness.web_identity import assumed_role_env, github_token, gitlab_token

sys.path.insert(0, str(ROOT / "collections"))  # provision.yml's own filter, as the run uses it
from ansible_collections.streamstack.aws.plugins.filter.hosted_plan import hosted_plan

PROVISION = ROOT / "playbooks" / "provision.yml"
TEARDOWN = ROOT / "playbooks" / "teardown.yml"
BAKE = ROOT / "playbooks" / "bake.yml"
# A platform name of its own keeps this environment apart from other tests' resources.
NAME, ENV = "provtest", "local"
PREFIX = f"{NAME}-{ENV}"
TAGS = {"Project": NAME, "Environment": ENV}

pytestmark = pytest.mark.slow


CLOUDFRONT_ORIGIN_FACING = "com.amazonaws.global.cloudfront.origin-facing"


# The shared environment has the edge's options on, as production should: viewers' own name
# with its certificate (TLSv1.2_2021) and the WAF web ACL; so the first run, the second, --check
# and the teardown prove them too.
VIEWER_ALIAS = "watch.streamstack.test"


@pytest.fixture(scope="module")
def viewer_certificate(aws) -> str:
    return _imported(aws, VIEWER_ALIAS, region="us-east-1")


@pytest.fixture(scope="module")
def ci(emulator) -> dict:
    """CI's roles of this environment (playbooks/ci_bootstrap.yml) and a job's credentials for
    each; ``seconds``: what making them and assuming them cost."""
    started = time.monotonic()
    roles = ci_roles.bootstrap(NAME, emulator.endpoint)
    return {"roles": roles, "seconds": time.monotonic() - started}


DEPLOY = ROOT / "scripts" / "deploy"


@pytest.fixture(scope="module")
def run(playbook, viewer_certificate, ci, tmp_path_factory):
    """ansible-playbook for this module's platform (extra vars may override the name and the
    edge's options), as CI runs it: with the deploy role's credentials, provision.yml and
    bake.yml through scripts/deploy (apply, bake), and provision.yml's check through
    `scripts/deploy plan` with the plan role's (its Markdown summary in the result's
    ``summary``). The emulator enforces IAM for both roles."""
    edge = {
        "cloudfront_aliases": [VIEWER_ALIAS],
        "cloudfront_certificate_arn": viewer_certificate,
        "cloudfront_waf_enabled": True,
    }
    roles = ci["roles"]

    def run_playbook(path, *, extra_vars=None, gitlab=False, **kwargs):
        merged = {"platform_name": NAME, **edge, **(extra_vars or {})}
        if path == PROVISION and kwargs.get("check"):
            kwargs.pop("check"), kwargs.pop("diff", None)
            out = tmp_path_factory.mktemp("plan")
            # GitLab's job: no keys, its ID token in AWS_ID_TOKEN for botocore to exchange.
            plan = (
                roles.plan
                if not gitlab
                else {
                    **dict.fromkeys(roles.plan, ""),
                    "AWS_ID_TOKEN": gitlab_token(ci_roles.GITLAB_PROJECT, "feature-branch"),
                    "AWS_ROLE_ARN": roles.plan_role,
                    "AWS_ROLE_SESSION_NAME": "gitlab-plan",
                }
            )
            result = playbook(
                path,
                extra_vars=merged,
                command=[DEPLOY, "plan", "local"],
                env={**plan, "PLAN_DIR": str(out)},
                **kwargs,
            )
            planned = _json_document((out / "plan.json").read_text())
            return dataclasses.replace(
                result,
                stats=planned.get("stats", {}),
                plays=planned.get("plays", []),
                summary=(out / "plan.md").read_text(),
            )
        action = {PROVISION: "apply", BAKE: "bake"}.get(path)
        if action:
            kwargs["command"] = [DEPLOY, action, "local"]
        return playbook(path, extra_vars=merged, env=roles.deploy, **kwargs)

    return run_playbook


# (extra vars that break preflight, words the failure message must contain)
BAD_INPUTS = {
    "cidr out of range": ({"vpc_cidr": "10.40.0.0/33"}, "vpc_cidr"),
    "cidr not an address": ({"vpc_cidr": "ten.forty/16"}, "vpc_cidr"),
    "one availability zone": (
        {
            "vpc_availability_zones": ["eu-west-1a"],
            "vpc_public_subnet_cidrs": ["10.40.0.0/22"],
            "vpc_private_subnet_cidrs": ["10.40.32.0/20"],
        },
        "at least two",
    ),
    "unknown environment": ({"platform_env": "qa"}, "platform_env"),
    "unknown hosting": ({"app_hosting": "lambda"}, "app_hosting"),
    "a log group missing": (
        {"cloudwatch_log_groups": {"nginx": "/x/nginx", "app": "/x/app"}},
        "worker",
    ),
    "beanstalk update window": (
        {"app_hosting": "beanstalk", "beanstalk_update_window": "Sunday 3am"},
        "beanstalk_update_window",
    ),
    "instance type format": ({"web_instance_type": "t3small"}, "instance types"),
    "db class format": ({"db_instance_class": "t3.micro"}, "DB classes"),
    "subnet outside the vpc": (
        {"vpc_private_subnet_cidrs": ["10.99.0.0/20", "10.99.16.0/20"]},
        "inside vpc_cidr",
    ),
    "scaling bounds": ({"web_asg_min": 5, "web_asg_max": 3}, "min <= desired <= max"),
    "capacity not a number": ({"web_asg_desired": "many"}, "web_asg_desired"),
    "target group checks readiness (a failover would replace the web tier)": (
        {"alb_health_check_path": "/readyz"},
        "alb_health_check_path",
    ),
    "ssh open to the world": ({"ssh_ingress_cidrs": ["0.0.0.0/0"]}, "0.0.0.0/0"),
    "unknown rotation step of the origin secret": (
        {"origin_verify_rotation": "now"},
        "origin_verify_rotation",
    ),
    "alb open to the world (around CloudFront)": (
        {"alb_ingress_cidrs": ["0.0.0.0/0"]},
        "alb_ingress_prefix_lists",
    ),
    "unknown nat mode": ({"vpc_nat_gateway_mode": "two"}, "vpc_nat_gateway_mode"),
    "multi-az not a boolean": ({"db_multi_az": "sometimes"}, "db_multi_az"),
    "minor version pinned (RDS retires minors)": (
        {"db_engine_version": "16.4"},
        "db_engine_version",
    ),
    "log retention not allowed by CloudWatch": (
        {"cloudwatch_log_retention_days": 10},
        "cloudwatch_log_retention_days",
    ),
    "alarm e-mail": ({"alarm_email": "ops-at-example"}, "alarm_email"),
    "alb access log prefix with a slash": (
        {"alb_access_log_prefix": "/alb"},
        "alb_access_log_prefix",
    ),
    "viewer certificate without an alias": (
        {
            "cloudfront_aliases": [],
            "cloudfront_certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/1",
        },
        "cloudfront_certificate_arn",
    ),
    "viewer certificate outside us-east-1": (
        {
            "cloudfront_aliases": ["watch.streamstack.test"],
            "cloudfront_certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/1",
        },
        "cloudfront_certificate_arn",
    ),
    "waf rate limit below what WAF takes": (
        {"cloudfront_waf_rate_limit": 5},
        "cloudfront_waf_rate_limit",
    ),
    "viewer TLS older than 1.2": (
        {"cloudfront_minimum_protocol_version": "TLSv1"},
        "cloudfront_minimum_protocol_version",
    ),
    "access log format": ({"cloudfront_access_log_format": "csv"}, "cloudfront_access_log_format"),
    "infrequent access too early": ({"media_source_ia_days": 7}, "infrequent access"),
    "platform name": ({"platform_name": "Stream_Prod"}, "platform_name"),
    "region name": ({"aws_region": "moon-1"}, "aws_region"),
    "media prefix without its slash": (
        {
            "media_prefixes": [
                {"name": "sources", "path": "sources", "served": "none", "access": {}},
                {"name": "hls", "path": "hls/", "served": "tree", "access": {}},
                {"name": "thumbs", "path": "thumbs/", "served": "object", "access": {}},
            ]
        },
        "media_prefixes",
    ),
    "no hosted zone for the origin": ({"origin_hosted_zone": ""}, "origin_hosted_zone"),
    "origin outside its hosted zone": (
        {"origin_domain_name": "origin.elsewhere.test"},
        "origin_domain_name",
    ),
    "certificate of another region": (
        {"alb_certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/1"},
        "alb_certificate_arn",
    ),
    "hosted zone not in the account": ({"origin_hosted_zone": "absent.test"}, "origin_hosted_zone"),
    # Off in the region (the fixture turns it off): Elastic Beanstalk's root volumes unencrypted.
    "ebs encryption by default off where only required": (
        {"app_hosting": "beanstalk", "beanstalk_ebs_encryption_by_default": "require"},
        "EBS encryption by default is off",
    ),
    "ebs encryption by default neither enable nor require": (
        {"beanstalk_ebs_encryption_by_default": "sometimes"},
        "beanstalk_ebs_encryption_by_default",
    ),
    "media prefix access of an unknown tier": (
        {
            "media_prefixes": [
                {
                    "name": "sources",
                    "path": "sources/",
                    "served": "none",
                    "access": {"db": ["read"]},
                },
                {"name": "hls", "path": "hls/", "served": "tree", "access": {}},
                {"name": "thumbs", "path": "thumbs/", "served": "object", "access": {}},
            ]
        },
        "media_prefixes",
    ),
}


@pytest.fixture(scope="module")
def bad_input_runs(run, aws, request):
    """The selected bad inputs' runs, started together (tests.harness.together), and what an
    environment holds once they have all ended (looked up once per name and environment:
    nothing runs between these tests)."""
    cases = [
        p["case"]
        for p in selected(request, "test_bad_input_fails_in_preflight_and_creates_nothing")
    ]
    # The region's setting as in a new account (a beanstalk provision may have turned it on).
    aws("ec2").disable_ebs_encryption_by_default()
    runs = together(
        {case: lambda case=case: run(PROVISION, extra_vars=BAD_INPUTS[case][0]) for case in cases}
    )
    return runs, functools.cache(lambda name, env: find_platform_resources(aws, name, env))


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_fails_in_preflight_and_creates_nothing(case, bad_input_runs):
    extra_vars, words = BAD_INPUTS[case]
    runs, leftovers = bad_input_runs
    result = runs[case].result()
    assert not result.ok, f"{case}: preflight accepted it"
    assert words in result.messages(), result.messages()
    # The failure came before any API call: not even the account was looked up.
    names = [name for name, _host, _res in result.task_results()]
    assert "Identify the account" not in names
    assert leftovers(NAME, ENV) == {}
    assert leftovers(extra_vars.get("platform_name", NAME), "qa") == {}


def test_plan_of_a_new_environment_lists_what_the_first_run_creates(run, aws):
    """CI runs --check --diff before the first apply: the VPC id every lane needs is unknown."""
    plan = run(PROVISION, check=True, diff=True, extra_vars={"platform_name": "plannew"})
    assert plan.ok, plan.messages()
    shown = [
        res["msg"]
        for name, _host, res in plan.task_results()
        if name == "Show what the first run creates"
    ]
    assert shown and "plannew-local does not exist yet" in shown[0], shown
    assert "rds" in shown[0] and "cloudfront_distribution" in shown[0], shown
    assert find_platform_resources(aws, "plannew", ENV) == {}


def _zone(aws, name: str) -> str:
    aws("route53").create_hosted_zone(Name=name, CallerReference=str(uuid.uuid4()))
    return name


def _imported(aws, *names: str, region: str | None = None) -> str:
    certificate, key = self_signed(list(names))
    return aws("acm", region).import_certificate(Certificate=certificate, PrivateKey=key)[
        "CertificateArn"
    ]


# Certificates preflight refuses: (extra vars made from the account, the variable named, words
# of the message). The account holds the prepared zone streamstack.test and its
# *.streamstack.test certificate.
CERTIFICATE_REFUSALS = {
    "no certificate covers the origin": (
        lambda aws: {"origin_hosted_zone": _zone(aws, "nocert.test")},
        "alb_certificate_arn",
        "None of the",
    ),
    "certificate still pending validation": (
        lambda aws: {
            "origin_hosted_zone": _zone(aws, "pending.test"),
            "alb_certificate_arn": aws("acm").request_certificate(DomainName="*.pending.test")[
                "CertificateArn"
            ],
        },
        "alb_certificate_arn",
        "PENDING_VALIDATION",
    ),
    "certificate for other names": (
        lambda aws: {"alb_certificate_arn": _imported(aws, "www.other.test")},
        "alb_certificate_arn",
        "www.other.test",
    ),
    "certificate not in the account": (
        lambda aws: {
            "alb_certificate_arn": f"arn:aws:acm:eu-west-1:123456789012:certificate/{uuid.uuid4()}"
        },
        "alb_certificate_arn",
        "No certificate exists",
    ),
    # CloudFront would refuse it in phase 3, after most resources were made.
    "viewer certificate not covering an alias": (
        lambda aws: {
            "cloudfront_aliases": ["watch.streamstack.test", "www.streamstack.test"],
            "cloudfront_certificate_arn": _imported(
                aws, "watch.streamstack.test", region="us-east-1"
            ),
        },
        "cloudfront_certificate_arn",
        "not covered: www.streamstack.test",
    ),
}


@pytest.fixture(scope="module")
def certificate_runs(run, aws, request):
    """The selected refusals' runs, started together once their account side is made."""
    test = "test_certificates_are_checked_in_preflight_and_create_nothing"
    made = {p["case"]: CERTIFICATE_REFUSALS[p["case"]][0](aws) for p in selected(request, test)}
    return together(
        {
            case: lambda v=extra_vars: run(PROVISION, extra_vars=v)
            for case, extra_vars in made.items()
        }
    )


@pytest.mark.parametrize("case", CERTIFICATE_REFUSALS, ids=list(CERTIFICATE_REFUSALS))
def test_certificates_are_checked_in_preflight_and_create_nothing(case, certificate_runs, aws):
    _make_vars, variable, words = CERTIFICATE_REFUSALS[case]
    result = certificate_runs[case].result()
    assert not result.ok, f"{case}: preflight accepted it"
    assert variable in result.messages() and words in result.messages(), result.messages()
    names = [name for name, _host, _res in result.task_results()]
    assert "Identify the account" not in names
    assert find_platform_resources(aws, NAME, ENV) == {}


def test_aws_calls_retry_throttling_and_5xx_beyond_the_sdks_default(playbook, emulator):
    """aws_api_defaults gives every module aws_max_attempts retries per call; botocore's default
    (3 attempts) is not enough for DescribeLogGroups at 60 % faults with this seed (a
    ThrottlingException three times in a row, which AWSRetry does not catch: a JSON code)."""
    retries = ROOT / "tests" / "playbooks" / "aws_retries.yml"
    sdk_default = {
        "aws_api_defaults": {"region": emulator.region, "endpoint_url": emulator.endpoint}
    }
    try:
        emulator.realistic(1 / 600, 0.6, 18)
        plain = playbook(retries, extra_vars=sdk_default)
        emulator.realistic(1 / 600, 0.6, 18)
        ours = playbook(retries)
    finally:
        emulator.realistic(0, 0)
    assert not plain.ok and "ThrottlingException" in plain.messages()
    assert ours.ok, ours.messages()


# The first run sees AWS's timings, scaled: RDS creating ~20 s, a NAT gateway pending ~2.5 s.
TIMING_SCALE = 20 / 720
# The first run, the second and the teardown run in the emulator's realistic mode: AWS's
# timings (as above), eventual consistency, and 5 % of the requests throttled or failing
# (this seed's faults, replayed on every run of this file).
REALISTIC = {"scale": TIMING_SCALE, "fault_rate": 0.05, "seed": 17}


@contextlib.contextmanager
def realistic(emulator):
    """The realistic mode for one run; yields its state (faults given) once the run is done."""
    state: dict = {}
    emulator.realistic(**REALISTIC)
    try:
        yield state
        state.update(emulator.realistic_state())
    finally:
        emulator.realistic(0, 0)


@pytest.fixture(scope="module")
def provisioned(run, emulator):
    started = time.monotonic()
    with realistic(emulator) as state:
        result = run(PROVISION)
    assert result.ok, result.messages()
    seconds = time.monotonic() - started
    print(f"first run {seconds:.0f} s, realistic mode {REALISTIC}, faults given: {state['faults']}")
    return {"result": result, "seconds": seconds, "faults": state["faults"]}


@pytest.fixture(scope="module")
def outputs(provisioned, aws):
    value = aws("ssm").get_parameter(Name=f"/{NAME}/{ENV}/outputs")["Parameter"]["Value"]
    return json.loads(value)


def test_first_run_creates_every_resource(provisioned, aws):
    assert provisioned["result"].changed > 20
    # It converged through faults (throttling, 5xx) and eventual consistency (*.NotFound).
    faults = {code: n for code, n in provisioned["faults"].items() if "NotFound" not in code}
    assert sum(faults.values()) >= 5, provisioned["faults"]
    found = find_platform_resources(aws, NAME, ENV)
    expected = {
        "vpc": 1,
        "flow_log": 1,
        "subnet": 4,
        "internet_gateway": 1,
        "nat_gateway": 1,
        "route_table": 2,
        "security_group": 3,
        "launch_template": 2,
        "bucket": 3,
        "db_instance": 1,
        "db_subnet_group": 1,
        "dynamodb_table": 1,
        "sqs_queue": 2,
        "sns_topic": 1,
        "log_group": 3,
        "alarm": 10,  # logs-silent included
        "ssm_parameter": 1,
        "iam_role": 2,
        "instance_profile": 2,
        "autoscaling_group": 2,
        "load_balancer": 1,
        "target_group": 1,
        "distribution": 1,
        "origin_access_control": 1,
        "public_key": 1,
        "key_group": 1,
        "response_headers_policy": 1,
        "web_acl": 1,
        "delivery_source": 1,
        "delivery_destination": 1,
        "delivery": 1,
        "origin_record": 1,
    }
    assert {kind: len(found.get(kind, [])) for kind in expected} == expected
    assert set(found["secret"]) == {
        f"{PREFIX}/db-master",
        f"{PREFIX}/db-app",
        f"{PREFIX}/cloudfront-signing-key",
        f"{PREFIX}/origin-verify",
    }


def iam_decisions(emulator) -> list[dict]:
    with urllib.request.urlopen(f"{emulator.endpoint}/moto-api/fidelity/iam", timeout=10) as r:
        return json.loads(r.read())


def test_the_first_run_was_the_deploy_roles_and_needed_nothing_more(provisioned, ci, emulator):
    """provision.yml ran as CI's deploy job: every call the emulator decided was the deploy
    role's, and none was refused (IAM enforced for assumed-role sessions)."""
    role = f"assumed-role/{ci['roles'].deploy_role.rsplit('/', 1)[1]}/"
    decided = [d for d in iam_decisions(emulator) if role in d["principal"]]
    assert len(decided) > 50, len(decided)
    assert [d for d in decided if not d["allowed"]] == []


def test_the_ci_roles_are_idempotent(ci, emulator):
    again = ci_roles.run_bootstrap(NAME, emulator.endpoint)
    assert again.ok, again.messages()
    assert again.changed == 0, again.changed_tasks()
    check = ci_roles.run_bootstrap(NAME, emulator.endpoint, check=True, diff=True)
    assert check.ok, check.messages()
    assert check.changed == 0, check.changed_tasks()


def test_ci_bootstrap_refuses_bad_input_before_any_call(emulator, aws):
    """Every bad variable is named (one run: the checks are one loop), nothing is made."""
    bad = {
        "ci_github_repository": "octo/*",
        "ci_gitlab_project_path": "grp",
        "ci_gitlab_deploy_branches": ["release/*"],
        "ci_github_oidc_url": "http://token.actions.githubusercontent.com",
        "ci_session_seconds": 900,
        "ci_deploy_role_name": "cibad-local-deploy",
        "ci_oidc_providers_state": "absent",
    }
    refused = ci_roles.run_bootstrap("cibad", emulator.endpoint, **bad)
    assert not refused.ok
    for variable in bad:
        assert variable in refused.messages(), (variable, refused.messages())
    names = [name for name, _host, _res in refused.task_results()]
    assert "CI | Identify the account" not in names
    assert not [r for r in aws("iam").list_roles()["Roles"] if "cibad" in r["RoleName"]]


def test_the_ci_roles_trust_only_their_jobs(ci, emulator):
    """The deploy role: only a job of the repository in this environment (GitHub) or on a deploy
    branch (GitLab); the plan role: only a pull request or a merge request's branch."""
    roles = ci["roles"]
    refused = {
        roles.deploy_role: [
            github_token(ci_roles.REPOSITORY, "environment:production"),
            github_token(ci_roles.REPOSITORY, "pull_request"),
            github_token(ci_roles.REPOSITORY, "ref:refs/heads/main"),
            github_token("octo/fork", "environment:local"),
            gitlab_token(ci_roles.GITLAB_PROJECT, "feature-branch"),
        ],
        roles.plan_role: [
            github_token(ci_roles.REPOSITORY, "environment:local"),
            github_token("octo/fork", "pull_request"),
            gitlab_token("grp/other", "feature-branch"),
        ],
    }
    for role, tokens in refused.items():
        for jwt in tokens:
            with pytest.raises(ClientError) as denied:
                assumed_role_env(emulator.endpoint, role, jwt, emulator.region)
            assert denied.value.response["Error"]["Code"] == "AccessDenied", jwt
    allowed = {roles.deploy_role: gitlab_token(ci_roles.GITLAB_PROJECT, "main")}
    for role, jwt in allowed.items():
        assert assumed_role_env(emulator.endpoint, role, jwt, emulator.region)


def test_the_deploy_role_is_refused_outside_its_environment(provisioned, ci, aws, emulator):
    """Another environment's bucket, parameter and secret (made here by the operator) are out
    of the deploy role's reach; its own are not. The plan role reads but cannot write."""
    import boto3

    other = f"{NAME}-staging"
    bucket = f"{other}-media-123456789012"
    aws("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": emulator.region}
    )
    aws("s3").put_object(Bucket=bucket, Key="hls/a.ts", Body=b"x")
    aws("ssm").put_parameter(Name=f"/{NAME}/staging/outputs", Value="{}", Type="String")
    aws("secretsmanager").create_secret(Name=f"{other}/db-app", SecretString="{}")

    def client(env: dict, service: str):
        return boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env["AWS_SESSION_TOKEN"],
            region_name=emulator.region,
        ).client(service, endpoint_url=emulator.endpoint)

    deploy, plan = ci["roles"].deploy, ci["roles"].plan
    own = f"{PREFIX}-media-123456789012"
    client(deploy, "s3").put_object(Bucket=own, Key="hls/ci.ts", Body=b"x")
    client(deploy, "s3").delete_object(Bucket=own, Key="hls/ci.ts")
    assert client(plan, "s3").list_objects_v2(Bucket=own, Prefix="hls/")["KeyCount"] >= 0
    refusals = [
        lambda: client(deploy, "s3").list_objects_v2(Bucket=bucket),
        lambda: client(deploy, "s3").get_object(Bucket=bucket, Key="hls/a.ts"),
        lambda: client(deploy, "s3").put_object(Bucket=bucket, Key="hls/b.ts", Body=b"x"),
        lambda: client(deploy, "s3").delete_bucket(Bucket=bucket),
        lambda: client(deploy, "ssm").get_parameter(Name=f"/{NAME}/staging/outputs"),
        lambda: client(deploy, "secretsmanager").get_secret_value(SecretId=f"{other}/db-app"),
        lambda: client(plan, "s3").put_object(Bucket=own, Key="hls/b.ts", Body=b"x"),
    ]
    for refusal in refusals:
        with pytest.raises(ClientError) as denied:
            refusal()
        assert denied.value.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException")
    aws("s3").delete_object(Bucket=bucket, Key="hls/a.ts")
    aws("s3").delete_bucket(Bucket=bucket)
    aws("ssm").delete_parameter(Name=f"/{NAME}/staging/outputs")
    aws("secretsmanager").delete_secret(SecretId=f"{other}/db-app", ForceDeleteWithoutRecovery=True)


def test_each_step_starts_once_what_it_needs_is_done_not_at_a_phase_barrier(provisioned):
    """The lanes run provision_plan.yml's steps as their needs allow, not phase by phase: the
    database (10-20 min on AWS, here ~20 s) is created before the NAT gateway, which it does not
    need, is available, and every step started as soon as the steps it needs and its lane's
    previous step were done (the lanes' own record: streamstack.aws.lane_sync's results)."""
    result = provisioned["result"]
    ((_, created, _),) = result.task_times("RDS | PostgreSQL instance (created in the background)")
    ((_, _, nat_available),) = result.task_times(
        "VPC | Create the NAT gateway(s) in the public subnets"
    )
    assert created < nat_available
    plan = yaml.safe_load((ROOT / "playbooks/provision/vars/provision_plan.yml").read_text())
    syncs = [r for _, _, r in result.task_results() if "lane" in r and "began" in r]
    started = {r["start"]: r for r in syncs if r["start"]}
    done = {r["done"]: r["began"] for r in syncs if r["done"]}
    # The run's steps: app_hosting ec2's (Elastic Beanstalk's are left out, needs on them too).
    hosted = hosted_plan(plan["provision_plan"], "ec2")
    steps = [step for entries in hosted.values() for step in entries]
    assert started.keys() == done.keys() == {step["step"] for step in steps}
    for step in steps:
        sync = started[step["step"]]
        needed = max([done[need] for need in step.get("needs", [])], default=0)
        assert needed <= sync["at"], (step["step"], "started before a step it needs was done")
        # Waited for its needs only (a look at the run's folder every 0.02 s; a loaded machine).
        assert sync["at"] - max(sync["began"], needed) < 2, (step["step"], sync, needed)


def test_second_run_changes_nothing_after_rds_upgraded_and_grew_itself(
    provisioned, run, aws, emulator
):
    """RDS upgrades minor versions in the maintenance window and storage autoscaling grows the
    volume; both refuse to be undone. The next run must send neither the version nor the size
    it created the instance with (the emulator refuses a downgrade and a shrink as RDS does)."""
    rds = aws("rds")
    (db,) = rds.describe_db_instances(DBInstanceIdentifier=f"{PREFIX}-db")["DBInstances"]
    assert db["EngineVersion"] == "16.10"  # the default minor of the pinned major, "16"
    rds.modify_db_instance(
        DBInstanceIdentifier=f"{PREFIX}-db",
        EngineVersion="16.11",
        AllocatedStorage=24,
        ApplyImmediately=True,
    )
    emulator.journal(clear=True)
    with realistic(emulator) as state:
        again = run(PROVISION)
    assert again.ok, again.messages()
    assert again.changed == 0, again.changed_tasks()
    assert state["faults"], "the second run met no fault"
    print(f"second run, faults given: {state['faults']}")
    # This run read the signing key kept by the first one: no task printed it.
    assert "PRIVATE KEY" not in again.raw + again.stderr
    modifies = [e for e in emulator.journal() if e["action"] == "ModifyDBInstance"]  # sent
    assert not [m for m in modifies if {"EngineVersion", "AllocatedStorage"} & m["params"].keys()]


def test_check_mode_reports_no_change(provisioned, run, emulator):
    """As a pull request's plan job runs it (scripts/deploy plan, the plan role)."""
    with realistic(emulator):
        check = run(PROVISION, check=True, diff=True)
    assert check.ok, check.messages()
    assert check.changed == 0, check.changed_tasks()
    assert "**no changes**" in check.summary, check.summary


def test_viewers_of_the_alias_get_tls_1_2_2021_over_sni(aws, distribution, viewer_certificate):
    """The alias's certificate (ACM, us-east-1) on the distribution, viewers on TLS 1.2 or newer
    with AWS's 2021 ciphers over SNI (without it, CloudFront's own certificate takes TLS 1.0)."""
    config = aws("cloudfront").get_distribution_config(Id=distribution["Id"])["DistributionConfig"]
    assert config["Aliases"]["Items"] == [VIEWER_ALIAS]
    certificate = config["ViewerCertificate"]
    assert (
        certificate["ACMCertificateArn"],
        certificate["SSLSupportMethod"],
        certificate["MinimumProtocolVersion"],
    ) == (viewer_certificate, "sni-only", "TLSv1.2_2021")
    assert not certificate.get("CloudFrontDefaultCertificate")


def test_check_mode_shows_drift_without_applying_it(provisioned, run, aws):
    """As GitLab's merge request plan job runs it: the job's ID token, no keys."""
    check = run(PROVISION, check=True, extra_vars={"web_asg_max": 5}, gitlab=True)
    assert check.ok, check.messages()
    drifted = [task for task in check.changed_tasks() if "Auto Scaling" in task]
    assert drifted, check.changed_tasks()
    assert "to change**" in check.summary
    assert drifted[0].split(": ", 1)[1] in check.summary, check.summary
    group = aws("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[f"{PREFIX}-web"])
    assert group["AutoScalingGroups"][0]["MaxSize"] == 3


def test_network_spans_two_zones_with_private_subnets(provisioned, aws):
    ec2 = aws("ec2")
    subnets = ec2.describe_subnets(
        Filters=[
            {"Name": "tag:Project", "Values": [NAME]},
            {"Name": "tag:Environment", "Values": [ENV]},
        ]
    )["Subnets"]
    tiers = {}
    for subnet in subnets:
        tags = {t["Key"]: t["Value"] for t in subnet["Tags"]}
        tiers.setdefault(tags["Tier"], set()).add(subnet["AvailabilityZone"])
        assert subnet["MapPublicIpOnLaunch"] is False
    assert tiers == {
        "public": {"eu-west-1a", "eu-west-1b"},
        "private": {"eu-west-1a", "eu-west-1b"},
    }
    # Each NAT gateway's Elastic IP carries the environment's tags: the teardown finds it by them.
    gateways = ec2.describe_nat_gateways(
        Filter=[
            {"Name": "tag:Project", "Values": [NAME]},
            {"Name": "state", "Values": ["available"]},
        ]
    )["NatGateways"]
    allocations = [
        address["AllocationId"] for nat in gateways for address in nat["NatGatewayAddresses"]
    ]
    assert allocations
    for address in ec2.describe_addresses(AllocationIds=allocations)["Addresses"]:
        assert {"Key": "Environment", "Value": ENV} in address.get("Tags", []), address


def test_outputs_reach_hosts_without_secrets(outputs, aws):
    assert outputs["media_bucket"] == f"{PREFIX}-media-123456789012"
    assert outputs["cloudfront_domain"].endswith(".cloudfront.net")
    assert outputs["cloudfront_key_pair_id"]
    assert outputs["db_host"] and outputs["db_port"] == 5432
    # The app's own database login; the master user's secret is the controller's alone.
    assert ":secret:" + f"{PREFIX}/db-app-" in outputs["db_app_secret_arn"]
    assert "db-master" not in json.dumps(outputs)
    login = json.loads(
        aws("secretsmanager").get_secret_value(SecretId=outputs["db_app_secret_arn"])[
            "SecretString"
        ]
    )
    master = json.loads(
        aws("secretsmanager").get_secret_value(SecretId=f"{PREFIX}/db-master")["SecretString"]
    )
    assert login["username"] == "streamapp_app_user" != master["username"]
    assert len(login["password"]) == 40 and login["password"] != master["password"]
    assert outputs["transcode_queue_url"].endswith(f"/{PREFIX}-transcode")
    assert outputs["media_prefixes"] == {"sources": "sources/", "hls": "hls/", "thumbs": "thumbs/"}
    assert not any("password" in key or "private" in key for key in outputs)


# ---------------------------------------------------------------------------------------------
# Security invariants of the provisioned account
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def distribution(provisioned, aws):
    """This environment's distribution (other tests may have made some in the same emulator)."""
    items = aws("cloudfront").list_distributions()["DistributionList"]["Items"]
    (found,) = [d for d in items if d["Comment"].startswith(f"{PREFIX} ")]
    return found


@pytest.fixture(scope="module")
def security_groups(provisioned, aws):
    groups = aws("ec2").describe_security_groups(
        Filters=[
            {"Name": "tag:Project", "Values": [NAME]},
            {"Name": "tag:Environment", "Values": [ENV]},
        ]
    )["SecurityGroups"]
    return {g["GroupName"].removeprefix(f"{PREFIX}-"): g for g in groups}


@pytest.mark.parametrize("bucket", ["media", "logs", "ssm"])
def test_buckets_block_public_access_and_acls(provisioned, aws, bucket):
    s3, name = aws("s3"), f"{PREFIX}-{bucket}-123456789012"
    bpa = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    assert all(bpa.values()) and len(bpa) == 4
    controls = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
    assert controls == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    status = s3.get_bucket_policy_status(Bucket=name)["PolicyStatus"]
    assert status["IsPublic"] is False


@pytest.mark.parametrize("bucket", ["media", "logs"])
def test_buckets_are_encrypted_and_versioned(provisioned, aws, bucket):
    s3, name = aws("s3"), f"{PREFIX}-{bucket}-123456789012"
    rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"


@pytest.mark.parametrize("bucket", ["media", "logs", "ssm"])
def test_buckets_refuse_plain_http(provisioned, aws, bucket):
    name = f"{PREFIX}-{bucket}-123456789012"
    policy = json.loads(aws("s3").get_bucket_policy(Bucket=name)["Policy"])
    denies = [
        s
        for s in policy["Statement"]
        if s["Effect"] == "Deny"
        and s["Principal"] == "*"
        and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert denies and set(denies[0]["Resource"]) == {
        f"arn:aws:s3:::{name}",
        f"arn:aws:s3:::{name}/*",
    }


def test_session_manager_transfer_bucket_keeps_nothing(provisioned, aws):
    """Issue 19.4: the aws_ssm connection's bucket: SSE-S3, never versioned (a deleted module
    payload must be gone), objects left behind expire, nothing granted by its policy (the TLS
    deny only: the controller's credentials and presigned URLs reach it); the launch templates
    install the SSM agent and curl, which the connection moves files with."""
    s3, name = aws("s3"), f"{PREFIX}-ssm-123456789012"
    rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert "Status" not in s3.get_bucket_versioning(Bucket=name)
    (lifecycle,) = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert lifecycle["Status"] == "Enabled" and lifecycle["Expiration"] == {"Days": 1}
    assert lifecycle["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    policy = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])
    assert [s["Effect"] for s in policy["Statement"]] == ["Deny"]
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=name)["TagSet"]}
    assert tags == {**TAGS, "ManagedBy": "ansible", "Name": name}
    for role in ("web", "worker"):
        data = aws("ec2").describe_launch_template_versions(
            LaunchTemplateName=f"{PREFIX}-{role}", Versions=["$Latest"]
        )["LaunchTemplateVersions"][0]["LaunchTemplateData"]
        user_data = base64.b64decode(data["UserData"]).decode()
        assert "curl" in re.search(r"^packages: \[(.*)\]$", user_data, re.M)[1]
        assert "/latest/debian_$(dpkg --print-architecture)/amazon-ssm-agent.deb" in user_data
        assert "systemctl enable --now amazon-ssm-agent" in user_data


def test_media_bucket_is_readable_by_the_distribution_only(provisioned, aws, distribution):
    name = f"{PREFIX}-media-123456789012"
    policy = json.loads(aws("s3").get_bucket_policy(Bucket=name)["Policy"])
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Sid": "CloudFrontReadsServedMedia",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": [f"arn:aws:s3:::{name}/hls/*", f"arn:aws:s3:::{name}/thumbs/*"],
            "Condition": {"StringEquals": {"AWS:SourceArn": distribution["ARN"]}},
        }
    ]


def test_media_bucket_logs_access_and_ages_sources(provisioned, aws):
    s3, name = aws("s3"), f"{PREFIX}-media-123456789012"
    logging = s3.get_bucket_logging(Bucket=name)["LoggingEnabled"]
    assert logging["TargetBucket"] == f"{PREFIX}-logs-123456789012"
    rules = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    transitions = [t for r in rules for t in r.get("Transitions", [])]
    assert {"Days": 30, "StorageClass": "STANDARD_IA"} in transitions


def test_cloudfront_access_logs_reach_the_log_bucket(provisioned, aws, distribution):
    """Standard logging v2: a delivery from the distribution to the log bucket (us-east-1), and
    the bucket's live policy lets the delivery service write there for this source only."""
    logs, bucket = aws("logs", "us-east-1"), f"{PREFIX}-logs-123456789012"
    source = logs.get_delivery_source(name=f"{PREFIX}-cloudfront-access")["deliverySource"]
    assert source["resourceArns"] == [distribution["ARN"]] and source["logType"] == "ACCESS_LOGS"
    destination = logs.get_delivery_destination(name=f"{PREFIX}-cloudfront-access-s3")[
        "deliveryDestination"
    ]
    assert destination["deliveryDestinationConfiguration"] == {
        "destinationResourceArn": f"arn:aws:s3:::{bucket}"
    }
    assert destination["outputFormat"] == "w3c"
    (delivery,) = [
        d
        for d in logs.describe_deliveries()["deliveries"]
        if d["deliverySourceName"] == source["name"]
    ]
    assert delivery["deliveryDestinationArn"] == destination["arn"]

    policy = json.loads(aws("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    service = Principal(service="delivery.logs.amazonaws.com")
    context = {
        "aws:SourceAccount": "123456789012",
        "aws:SourceArn": source["arn"],
        "aws:SecureTransport": True,
        "s3:x-amz-acl": "bucket-owner-full-control",
    }
    log = f"arn:aws:s3:::{bucket}/AWSLogs/123456789012/CloudFront/{distribution['Id']}.gz"

    def allowed(action, resource, **changes):
        decision = evaluate(
            [],
            action,
            resource,
            {**context, **changes},
            principal=service,
            resource_policies=[policy],
        )
        return decision.allowed

    assert allowed("s3:PutObject", log)
    assert allowed("s3:GetBucketAcl", f"arn:aws:s3:::{bucket}")
    other_source = source["arn"].replace("cloudfront-access", "other")
    assert not allowed("s3:PutObject", log, **{"aws:SourceArn": other_source})
    assert not allowed("s3:PutObject", log, **{"aws:SourceAccount": "210987654321"})
    assert not allowed("s3:PutObject", f"arn:aws:s3:::{bucket}/s3/x.log")
    assert not allowed("s3:PutObject", log, **{"aws:SecureTransport": False})


def test_alb_writes_access_logs_to_the_log_bucket(provisioned, aws, alb):
    """Access logs on, into the log bucket under alb/: ELB wrote its test object there when they
    were turned on (the emulator, like AWS, refuses a bucket ELB may not write to), and the live
    policy lets the Region's ELB account write there and nowhere else."""
    bucket = f"{PREFIX}-logs-123456789012"
    attributes = aws("elbv2").describe_load_balancer_attributes(
        LoadBalancerArn=alb["LoadBalancerArn"]
    )["Attributes"]
    found = {a["Key"]: a["Value"] for a in attributes}
    assert (
        found["access_logs.s3.enabled"],
        found["access_logs.s3.bucket"],
        found["access_logs.s3.prefix"],
    ) == ("true", bucket, "alb")
    s3 = aws("s3")
    s3.head_object(Bucket=bucket, Key="alb/AWSLogs/123456789012/ELBAccessLogTestFile")
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    elb = Principal(arn="arn:aws:iam::156460612806:root", account="156460612806")  # eu-west-1

    def allowed(key, principal=elb):
        return evaluate(
            [],
            "s3:PutObject",
            f"arn:aws:s3:::{bucket}/{key}",
            {"aws:SecureTransport": True},
            principal=principal,
            resource_policies=[policy],
        ).allowed

    assert allowed("alb/AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2026/12/04/x.log.gz")
    assert not allowed("s3/media/x")
    assert not allowed("alb/AWSLogs/210987654321/x")
    other = Principal(arn="arn:aws:iam::127311923021:root", account="127311923021")  # us-east-1
    assert not allowed("alb/AWSLogs/123456789012/x", principal=other)


def test_vpc_flow_log_reaches_the_log_bucket(provisioned, aws):
    """Every connection of the VPC into the log bucket under vpc-flow-logs/, which the live policy
    lets the log delivery service write for this account's logs only."""
    bucket = f"{PREFIX}-logs-123456789012"
    ec2 = aws("ec2")
    (vpc,) = ec2.describe_vpcs(
        Filters=[
            {"Name": "tag:Project", "Values": [NAME]},
            {"Name": "tag:Environment", "Values": [ENV]},
        ]
    )["Vpcs"]
    (flow_log,) = ec2.describe_flow_logs(
        Filters=[{"Name": "resource-id", "Values": [vpc["VpcId"]]}]
    )["FlowLogs"]
    assert flow_log["LogDestination"] == f"arn:aws:s3:::{bucket}/vpc-flow-logs"
    assert (flow_log["TrafficType"], flow_log["LogDestinationType"]) == ("ALL", "s3")
    policy = json.loads(aws("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    context = {
        "aws:SourceAccount": "123456789012",
        "aws:SourceArn": "arn:aws:logs:eu-west-1:123456789012:*",
        "aws:SecureTransport": True,
        "s3:x-amz-acl": "bucket-owner-full-control",
    }
    key = "vpc-flow-logs/AWSLogs/123456789012/vpcflowlogs/eu-west-1/2026/12/04/x.log.gz"

    def allowed(resource, **changes):
        return evaluate(
            [],
            "s3:PutObject",
            f"arn:aws:s3:::{bucket}/{resource}",
            {**context, **changes},
            principal=Principal(service="delivery.logs.amazonaws.com"),
            resource_policies=[policy],
        ).allowed

    assert allowed(key)
    assert not allowed(key, **{"aws:SourceAccount": "210987654321"})
    assert not allowed("alb/AWSLogs/123456789012/x")


def test_distribution_uses_oac_https_and_signed_media(provisioned, aws, distribution):
    config = aws("cloudfront").get_distribution_config(Id=distribution["Id"])["DistributionConfig"]
    media = next(o for o in config["Origins"]["Items"] if o["Id"] == "media")
    assert media["OriginAccessControlId"]
    assert media["S3OriginConfig"]["OriginAccessIdentity"] == ""
    behaviours = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]["Items"]]
    assert all(b["ViewerProtocolPolicy"] != "allow-all" for b in behaviours)
    media_behaviours = [b for b in behaviours if b["TargetOriginId"] == "media"]
    # The served prefixes of media_prefixes: hls (playlists, then the rest) and thumbs.
    assert [b["PathPattern"] for b in media_behaviours] == ["/hls/*.m3u8", "/hls/*", "/thumbs/*"]
    for behaviour in media_behaviours:
        assert behaviour["TrustedKeyGroups"]["Enabled"] is True
        assert behaviour["TrustedKeyGroups"]["Quantity"] == 1


def test_every_response_gets_hsts_from_cloudfront(provisioned, aws, distribution):
    """Strict-Transport-Security on pages, API and media alike: every cache behaviour names the
    environment's response headers policy, which overrides whatever an origin sends."""
    cloudfront = aws("cloudfront")
    config = cloudfront.get_distribution_config(Id=distribution["Id"])["DistributionConfig"]
    behaviours = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]["Items"]]
    (policy_id,) = {b.get("ResponseHeadersPolicyId") for b in behaviours}
    policy = cloudfront.get_response_headers_policy(Id=policy_id)["ResponseHeadersPolicy"]
    headers = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert headers["StrictTransportSecurity"] == {
        "Override": True,
        "IncludeSubdomains": True,
        "Preload": False,
        "AccessControlMaxAgeSec": 63072000,
    }
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert policy["ResponseHeadersPolicyConfig"]["Name"] == f"{PREFIX}-security-headers"


ORIGIN = f"{PREFIX}-origin.streamstack.test"  # inventories/local: origin_hosted_zone


@pytest.fixture(scope="module")
def alb(provisioned, aws):
    (found,) = aws("elbv2").describe_load_balancers(Names=[f"{PREFIX}-alb"])["LoadBalancers"]
    return found


def test_origin_name_is_an_alias_record_of_the_alb(aws, alb):
    route53 = aws("route53")
    (zone,) = route53.list_hosted_zones_by_name(DNSName="streamstack.test")["HostedZones"]
    records = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    assert [r for r in records if r["Name"] == f"{ORIGIN}."] == [
        {
            "Name": f"{ORIGIN}.",
            "Type": "A",
            "AliasTarget": {
                "HostedZoneId": alb["CanonicalHostedZoneId"],
                "DNSName": f"dualstack.{alb['DNSName']}.",
                "EvaluateTargetHealth": False,
            },
        }
    ]


def test_alb_listens_on_https_only_with_a_certificate_of_the_origin(aws, alb):
    (listener,) = aws("elbv2").describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"])[
        "Listeners"
    ]
    assert (listener["Protocol"], listener["Port"]) == ("HTTPS", 443)
    assert listener["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    (certificate,) = listener["Certificates"]
    described = aws("acm").describe_certificate(CertificateArn=certificate["CertificateArn"])
    assert described["Certificate"]["Status"] == "ISSUED"
    assert "*.streamstack.test" in described["Certificate"]["SubjectAlternativeNames"]


def test_targets_get_the_x_forwarded_for_cloudfront_sent(aws, alb):
    """nginx keys its rate limits on the rightmost X-Forwarded-For address it does not trust
    (tests/roles/test_nginx_real_ip.py): the viewer's, which CloudFront appended, only when the
    ALB passes the header on as it came instead of appending the edge's address."""
    attributes = aws("elbv2").describe_load_balancer_attributes(
        LoadBalancerArn=alb["LoadBalancerArn"]
    )["Attributes"]
    assert {a["Key"]: a["Value"] for a in attributes}[
        "routing.http.xff_header_processing.mode"
    ] == "preserve"


def test_cloudfront_reaches_the_alb_by_a_name_its_certificate_covers(aws, alb, distribution):
    """The TLS name check CloudFront makes on its origin (else viewers get 502): the web origin
    is the alias record's name, HTTPS only, and the ALB's certificate covers it."""
    config = aws("cloudfront").get_distribution_config(Id=distribution["Id"])["DistributionConfig"]
    web = next(o for o in config["Origins"]["Items"] if o["Id"] == "web")
    assert web["DomainName"] == ORIGIN
    custom = web["CustomOriginConfig"]
    assert custom["OriginProtocolPolicy"] == "https-only"
    assert custom["OriginSslProtocols"]["Items"] == ["TLSv1.2"]
    (listener,) = aws("elbv2").describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"])[
        "Listeners"
    ]
    names = aws("acm").describe_certificate(
        CertificateArn=listener["Certificates"][0]["CertificateArn"]
    )["Certificate"]["SubjectAlternativeNames"]
    assert ORIGIN in names or f"*.{ORIGIN.split('.', 1)[1]}" in names


def origin_secret(aws) -> dict[str, str]:
    value = aws("secretsmanager").get_secret_value(SecretId=f"{PREFIX}/origin-verify")
    return json.loads(value["SecretString"])


def listener_answer(aws, alb, headers: dict[str, str]) -> str:
    """What the ALB's HTTPS listener does with a request carrying these headers, by its rules
    as AWS evaluates them (priority order, every condition of a rule, any of its values)."""
    elbv2 = aws("elbv2")
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"])["Listeners"]
    rules = elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    lowered = {name.lower(): value for name, value in headers.items()}

    def matches(condition):
        assert condition["Field"] == "http-header", condition
        config = condition["HttpHeaderConfig"]
        return lowered.get(config["HttpHeaderName"].lower()) in config["Values"]

    def answer(actions):
        (action,) = actions
        if action["Type"] == "forward":
            (group,) = elbv2.describe_target_groups(TargetGroupArns=[action["TargetGroupArn"]])[
                "TargetGroups"
            ]
            return f"forward {group['TargetGroupName']}"
        return f"{action['Type']} {action['FixedResponseConfig']['StatusCode']}"

    for rule in sorted(
        rules, key=lambda r: (r["IsDefault"], 0 if r["IsDefault"] else int(r["Priority"]))
    ):
        if rule["IsDefault"] or all(matches(c) for c in rule["Conditions"]):
            return answer(rule["Actions"])
    raise AssertionError("no default rule")


def cloudfront_origin_headers(aws, distribution) -> dict[str, str]:
    config = aws("cloudfront").get_distribution_config(Id=distribution["Id"])["DistributionConfig"]
    web = next(o for o in config["Origins"]["Items"] if o["Id"] == "web")
    return {h["HeaderName"]: h["HeaderValue"] for h in web["CustomHeaders"].get("Items", [])}


def test_alb_answers_only_cloudfronts_requests(provisioned, aws, alb, distribution):
    """Any AWS account's distribution comes from CloudFront's addresses: only requests with the
    origin's shared secret, which our distribution adds, reach the web tier; the rest get 403."""
    secret = origin_secret(aws)
    assert len(secret["current"]) >= 32 and secret["previous"] == ""
    sent = cloudfront_origin_headers(aws, distribution)
    assert sent == {"X-Origin-Verify": secret["current"]}
    assert listener_answer(aws, alb, sent) == f"forward {PREFIX}-web"
    assert listener_answer(aws, alb, {}) == "fixed-response 403"
    assert listener_answer(aws, alb, {"X-Origin-Verify": "guess"}) == "fixed-response 403"
    # The secret appears in no output of the run (ansible-playbook's JSON results, -v included).
    assert secret["current"] not in json.dumps(provisioned["result"].plays)
    assert secret["current"] not in provisioned["result"].stderr


def test_origin_secret_rotates_without_refusing_cloudfront(
    provisioned, run, aws, alb, distribution
):
    """start: a new value, the listener accepts the old and the new while CloudFront switches
    (start again changes nothing); finish: once deployed, the new one only."""
    old = origin_secret(aws)["current"]
    started = run(PROVISION, extra_vars={"origin_verify_rotation": "start"})
    assert started.ok, started.messages()
    secret = origin_secret(aws)
    new = secret["current"]
    assert new != old and secret["previous"] == old
    assert cloudfront_origin_headers(aws, distribution) == {"X-Origin-Verify": new}
    for value in (old, new):
        assert listener_answer(aws, alb, {"X-Origin-Verify": value}) == f"forward {PREFIX}-web"
    again = run(PROVISION, extra_vars={"origin_verify_rotation": "start"})
    assert again.ok, again.messages()
    assert again.changed == 0, again.changed_tasks()
    finished = run(PROVISION, extra_vars={"origin_verify_rotation": "finish"})
    assert finished.ok, finished.messages()
    assert origin_secret(aws) == {"current": new, "previous": ""}
    assert listener_answer(aws, alb, {"X-Origin-Verify": old}) == "fixed-response 403"
    assert listener_answer(aws, alb, {"X-Origin-Verify": new}) == f"forward {PREFIX}-web"
    for result in (started, finished):
        leaks = [
            name
            for name, _host, res in result.task_results()
            if old in json.dumps(res) or new in json.dumps(res)
        ]
        assert not leaks, leaks
        assert old not in result.stderr and new not in result.stderr


def test_database_is_private_encrypted_and_backed_up(provisioned, aws, security_groups):
    db = aws("rds").describe_db_instances(DBInstanceIdentifier=f"{PREFIX}-db")["DBInstances"][0]
    assert db["PubliclyAccessible"] is False
    assert db["StorageEncrypted"] is True
    assert db["BackupRetentionPeriod"] >= 1
    # On by default: RDS refuses DeleteDBInstance; only the teardown turns it off, on purpose.
    assert db["DeletionProtection"] is True
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [
        security_groups["db"]["GroupId"]
    ]
    subnets = {s["SubnetIdentifier"] for s in db["DBSubnetGroup"]["Subnets"]}
    private = aws("ec2").describe_subnets(
        Filters=[
            {"Name": "tag:Project", "Values": [NAME]},
            {"Name": "tag:Environment", "Values": [ENV]},
            {"Name": "tag:Tier", "Values": ["private"]},
        ]
    )["Subnets"]
    assert subnets == {s["SubnetId"] for s in private}


def test_database_is_reachable_from_the_app_group_only(security_groups):
    db = security_groups["db"]
    assert len(db["IpPermissions"]) == 1
    rule = db["IpPermissions"][0]
    assert (rule["FromPort"], rule["ToPort"]) == (5432, 5432)
    assert rule["IpRanges"] == [] and rule.get("Ipv6Ranges", []) == []
    assert [p["GroupId"] for p in rule["UserIdGroupPairs"]] == [security_groups["app"]["GroupId"]]
    assert db["IpPermissionsEgress"] == []


def test_nothing_listens_to_the_world_and_the_alb_only_to_cloudfront(aws, security_groups):
    """The ALB cannot be reached around CloudFront: its one inbound rule is HTTPS from
    CloudFront's origin-facing addresses (AWS's managed prefix list, found by name)."""
    for name, group in security_groups.items():
        for rule in group["IpPermissions"]:
            assert not any(r["CidrIp"] == "0.0.0.0/0" for r in rule["IpRanges"]), (name, rule)
            assert not any(r["CidrIpv6"] == "::/0" for r in rule.get("Ipv6Ranges", [])), rule
    (cloudfront,) = aws("ec2").describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [CLOUDFRONT_ORIGIN_FACING]}]
    )["PrefixLists"]
    (rule,) = security_groups["alb"]["IpPermissions"]
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 443, 443)
    assert [p["PrefixListId"] for p in rule["PrefixListIds"]] == [cloudfront["PrefixListId"]]
    assert rule["IpRanges"] == [] and rule["UserIdGroupPairs"] == []


def test_no_rule_names_a_link_local_address(security_groups):
    # Traffic to 169.254.0.0/16 (Amazon Time Sync, IMDS, the VPC's DNS) never crosses a
    # security group: a rule for it is a no-op that reads as if it mattered.
    for name, group in security_groups.items():
        for rule in group["IpPermissions"] + group["IpPermissionsEgress"]:
            for cidr in rule["IpRanges"]:
                assert not cidr["CidrIp"].startswith("169.254."), (name, rule)


def test_app_hosts_accept_http_from_the_alb_and_no_ssh(security_groups):
    app = security_groups["app"]
    assert all(rule["FromPort"] != 22 for rule in app["IpPermissions"])
    (rule,) = app["IpPermissions"]
    assert [p["GroupId"] for p in rule["UserIdGroupPairs"]] == [security_groups["alb"]["GroupId"]]


def test_launch_templates_require_imdsv2_and_encrypt_volumes(provisioned, aws):
    ec2 = aws("ec2")
    for role in ("web", "worker"):
        version = ec2.describe_launch_template_versions(
            LaunchTemplateName=f"{PREFIX}-{role}", Versions=["$Latest"]
        )["LaunchTemplateVersions"][0]
        data = version["LaunchTemplateData"]
        assert data["MetadataOptions"]["HttpTokens"] == "required"
        assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
        assert all(m["Ebs"]["Encrypted"] for m in data["BlockDeviceMappings"])
        profile = data["IamInstanceProfile"]
        assert profile.get("Name") == f"{PREFIX}-{role}" or profile["Arn"].endswith(
            f":instance-profile/{PREFIX}-{role}"
        )
        assert "NetworkInterfaces" not in data or not any(
            n.get("AssociatePublicIpAddress") for n in data["NetworkInterfaces"]
        )


@pytest.mark.parametrize("tier", ["web", "worker"])
def test_instance_roles_are_least_privilege(provisioned, aws, tier):
    """One role per tier, no AWS-managed policy, its inline policy the one the call table was
    proven against (tests/playbooks/test_iam_policies.py) and scoped to this environment."""
    iam = aws("iam")
    role = f"{PREFIX}-{tier}"
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    for statement in document["Statement"]:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        resources = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        assert statement["Effect"] == "Allow"
        assert not any(a == "*" or a.endswith(":*") for a in actions), statement
        if resources == ["*"]:
            # Only what AWS offers no resource-level permission for, or a namespace condition.
            assert actions in (["ec2:DescribeTags"], ["cloudwatch:PutMetricData"]) or (
                statement["Sid"] == "SessionManagerAgent"
                and {a.split(":")[0] for a in actions} == {"ssm", "ssmmessages"}
                and "ssm:UpdateInstanceInformation" in actions
                and len(actions) == 5
            ), statement
            continue
        assert all(PREFIX in r or f"/{NAME}/{ENV}" in r for r in resources), statement
    profile = iam.get_instance_profile(InstanceProfileName=role)["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [role]


def test_queues_are_encrypted_with_a_dead_letter_queue(provisioned, aws):
    sqs = aws("sqs")
    url = sqs.get_queue_url(QueueName=f"{PREFIX}-transcode")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["KmsMasterKeyId"] == "alias/aws/sqs"
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(f":{PREFIX}-transcode-dlq")
    assert int(redrive["maxReceiveCount"]) == 3


def test_sessions_table_expires_items_and_can_be_restored(provisioned, aws):
    dynamodb = aws("dynamodb")
    table = f"{PREFIX}-sessions"
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    backups = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_web_instances_run_in_private_subnets_behind_the_alb(provisioned, aws):
    groups = aws("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[f"{PREFIX}-web", f"{PREFIX}-worker"]
    )["AutoScalingGroups"]
    private = {
        s["SubnetId"]
        for s in aws("ec2").describe_subnets(
            Filters=[
                {"Name": "tag:Project", "Values": [NAME]},
                {"Name": "tag:Environment", "Values": [ENV]},
                {"Name": "tag:Tier", "Values": ["private"]},
            ]
        )["Subnets"]
    }
    for group in groups:
        assert set(group["VPCZoneIdentifier"].split(",")) == private
        tags = {t["Key"]: t["Value"] for t in group["Tags"]}
        assert tags["Role"] in ("web", "worker") and tags["ManagedBy"] == "ansible"
    web = next(g for g in groups if g["AutoScalingGroupName"].endswith("-web"))
    assert web["HealthCheckType"] == "ELB" and len(web["TargetGroupARNs"]) == 1
    # The group replaces what fails the target group's check: liveness (nginx -> app), never
    # the deep readiness that a database failover fails on every host at once.
    (target_group,) = aws("elbv2").describe_target_groups(TargetGroupArns=web["TargetGroupARNs"])[
        "TargetGroups"
    ]
    assert target_group["HealthCheckPath"] == "/healthz"


def test_alarms_notify_the_topic(provisioned, aws):
    alarms = aws("cloudwatch").describe_alarms(AlarmNamePrefix=PREFIX)["MetricAlarms"]
    topic = f"arn:aws:sns:eu-west-1:123456789012:{PREFIX}-alarms"
    assert {a["MetricName"] for a in alarms} >= {
        "CPUUtilization",
        "mem_used_percent",
        "HTTPCode_Target_5XX_Count",
        "UnHealthyHostCount",
        "ApproximateAgeOfOldestMessage",
    }
    assert all(a["AlarmActions"] == [topic] for a in alarms)


# ---------------------------------------------------------------------------------------------
# Golden images (playbooks/bake.yml), on this environment. The emulator's instances run no
# operating system, so the plays on the builders (tag bake_host: configure.yml's roles in bake
# mode, the clean-up) are skipped: each builder is imaged as launched, standing in for a
# configured one. What is proven here is the AWS side: the builder as launched, images and
# tags, release, launch templates, instance refresh, pruning, idempotence and --check.
# ---------------------------------------------------------------------------------------------

ROLES = ("web", "worker")


@pytest.fixture(scope="module")
def bake(run, tmp_path_factory, emulator):
    """bake.yml on this environment without the plays on the builders. The controller would
    reach them by SSH: a key of its own, and an SSH source for preflight's check (only the
    bake is told; the emulator's security group is not consulted). Every (service, action)
    the runs call is collected in ``calls`` (the request journal, emptied before each run)."""
    key = tmp_path_factory.mktemp("bake") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    calls: set[tuple[str, str]] = set()

    def run_bake(*, extra_vars=None, **kwargs):
        merged = {
            "bake_ssh_public_key_file": f"{key}.pub",
            "ssh_ingress_cidrs": ["10.40.0.0/16"],
            # The emulator's refreshes end within a second or two: no 15 s polls.
            "bake_refresh_poll": 1,
            **(extra_vars or {}),
        }
        emulator.journal(clear=True)
        try:
            return run(BAKE, extra_vars=merged, **{"skip_tags": "bake_host", **kwargs})
        finally:
            calls.update((e["service"], e["action"]) for e in emulator.journal())

    run_bake.public_key = Path(f"{key}.pub").read_text().strip()
    run_bake.calls = calls
    return run_bake


def baked_images(aws) -> dict[str, list[dict]]:
    """{role: [image]} of this environment's golden images, oldest first."""
    images = aws("ec2").describe_images(
        Owners=["self"],
        Filters=[
            {"Name": "tag:Project", "Values": [NAME]},
            {"Name": "tag:Environment", "Values": [ENV]},
            {"Name": "tag-key", "Values": ["BakeKey"]},
        ],
    )["Images"]
    by_role: dict[str, list[dict]] = {role: [] for role in ROLES}
    for image in sorted(images, key=lambda i: i["CreationDate"]):
        by_role[tags_of(image)["Role"]].append(image)
    return by_role


def tags_of(resource: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def template_image(aws, role: str, version: str = "$Latest") -> str:
    (found,) = aws("ec2").describe_launch_template_versions(
        LaunchTemplateName=f"{PREFIX}-{role}", Versions=[version]
    )["LaunchTemplateVersions"]
    return found["LaunchTemplateData"]["ImageId"]


def group_images(aws, role: str) -> list[str]:
    (group,) = aws("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[f"{PREFIX}-{role}"]
    )["AutoScalingGroups"]
    ids = [i["InstanceId"] for i in group["Instances"]]
    if not ids:
        return []
    reservations = aws("ec2").describe_instances(InstanceIds=ids)["Reservations"]
    return [i["ImageId"] for r in reservations for i in r["Instances"]]


def new_base_images(aws, count: int) -> list[str]:
    """Public images no golden image was baked from yet and the templates do not name (new
    base images)."""
    used = {tags_of(i)["BaseImage"] for found in baked_images(aws).values() for i in found}
    used |= {template_image(aws, role) for role in ROLES}
    images = aws("ec2").describe_images(Owners=["amazon"])["Images"]
    return [i["ImageId"] for i in images if i["ImageId"] not in used][:count]


BAKE_BAD_INPUTS = {
    "unknown tier": ({"bake_roles": ["db"]}, "bake_roles"),
    "max healthy too far above min": (
        {"bake_refresh_min_healthy_percentage": 50, "bake_refresh_max_healthy_percentage": 200},
        "bake_refresh_max_healthy_percentage",
    ),
    "ssh with no way in": ({"ssh_ingress_cidrs": []}, "ssh_ingress_cidrs"),
    "connection": ({"bake_connection": "winrm"}, "bake_connection"),
}


@pytest.mark.parametrize("case", BAKE_BAD_INPUTS, ids=list(BAKE_BAD_INPUTS))
def test_bake_refuses_bad_input_before_any_call(case, provisioned, bake, aws, emulator):
    extra_vars, words = BAKE_BAD_INPUTS[case]
    emulator.journal(clear=True)
    result = bake(extra_vars=extra_vars)
    assert not result.ok, f"{case}: preflight accepted it"
    assert words in result.messages(), result.messages()
    assert emulator.journal() == []


def test_bake_builds_one_tagged_image_per_tier_and_rolls_it_out(provisioned, bake, aws, emulator):
    """The groups' instances (the inventory's capacity: web 2, worker 1) run the base image;
    the bake launches a builder per tier as the tier's hosts run (its instance profile, the app
    group, a private subnet, IMDSv2, an encrypted root volume, not in the inventory's groups),
    images it, terminates it, points the launch templates at the images and replaces the
    groups' instances by rolling instance refreshes."""
    autoscaling, ec2 = aws("autoscaling"), aws("ec2")
    base = template_image(aws, "web")
    assert group_images(aws, "web") == [base, base]
    assert group_images(aws, "worker") == [base]
    emulator.journal(clear=True)

    result = bake()
    assert result.ok, result.messages()
    images = baked_images(aws)
    assert {role: len(found) for role, found in images.items()} == {"web": 1, "worker": 1}
    for role in ROLES:
        (image,) = images[role]
        tags = tags_of(image)
        assert image["State"] == "available"
        assert image["Name"] == f"{PREFIX}-{role}-{tags['BakeKey']}"
        assert {k: tags[k] for k in ("Project", "Environment", "ManagedBy", "Role")} == {
            "Project": NAME,
            "Environment": ENV,
            "ManagedBy": "ansible",
            "Role": role,
        }
        assert tags["BaseImage"] == base and tags["SourceRevision"] and tags["ReleasedAt"]
        snapshot_ids = [m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"]]
        for snapshot in ec2.describe_snapshots(SnapshotIds=snapshot_ids)["Snapshots"]:
            assert tags_of(snapshot)["BakeKey"] == tags["BakeKey"]
        assert template_image(aws, role) == template_image(aws, role, "$Default")
        assert template_image(aws, role) == image["ImageId"]

    builders = [
        i
        for r in ec2.describe_instances(
            Filters=[{"Name": "tag:Purpose", "Values": ["bake"]}, *_env_filters()]
        )["Reservations"]
        for i in r["Instances"]
    ]
    assert sorted(tags_of(b)["BakeRole"] for b in builders) == ["web", "worker"]
    (app_group,) = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [f"{PREFIX}-app"]}]
    )["SecurityGroups"]
    private = {
        s["SubnetId"]
        for s in ec2.describe_subnets(
            Filters=[{"Name": "tag:Tier", "Values": ["private"]}, *_env_filters()]
        )["Subnets"]
    }
    for builder in builders:
        assert builder["State"]["Name"] in ("shutting-down", "terminated")
        assert "Role" not in tags_of(builder)  # never in the inventory's web/worker groups
        assert [g["GroupId"] for g in builder["SecurityGroups"]] == [app_group["GroupId"]]
        assert builder["SubnetId"] in private
    # How they were launched (a terminated instance no longer shows its profile).
    launches = {
        _tag_param(e["params"], "BakeRole"): e["params"]
        for e in emulator.journal()
        if e["action"] == "RunInstances"
    }
    assert sorted(launches) == ["web", "worker"]
    for role, params in launches.items():
        assert params["IamInstanceProfile.Arn"][0].endswith(f":instance-profile/{PREFIX}-{role}")
        assert params["MetadataOptions.HttpTokens"] == ["required"]
        assert params["BlockDeviceMapping.1.Ebs.Encrypted"] == ["true"]
        user_data = base64.b64decode(params["UserData"][0]).decode()
        assert user_data.startswith("#cloud-config\n") and bake.public_key in user_data
        assert "amazon-ssm-agent" not in user_data  # reached by SSH here
    for role, count in (("web", 2), ("worker", 1)):
        (refresh,) = autoscaling.describe_instance_refreshes(
            AutoScalingGroupName=f"{PREFIX}-{role}"
        )["InstanceRefreshes"]
        assert refresh["Status"] == "Successful"
        assert refresh["Preferences"]["MinHealthyPercentage"] == 100
        assert refresh["Preferences"]["MaxHealthyPercentage"] == 150
        assert group_images(aws, role) == [images[role][0]["ImageId"]] * count


def _tag_param(params: dict, key: str) -> str:
    """The value of tag ``key`` in a RunInstances request's tag specifications (query form)."""
    name = next(k for k, v in sorted(params.items()) if k.endswith(".Key") and v == [key])
    return params[name[: -len("Key")] + "Value"][0]


def _env_filters() -> list[dict]:
    return [
        {"Name": "tag:Project", "Values": [NAME]},
        {"Name": "tag:Environment", "Values": [ENV]},
    ]


def test_bake_again_with_the_same_sources_changes_nothing(provisioned, bake, aws, emulator):
    before = baked_images(aws)
    emulator.journal(clear=True)
    again = bake()
    assert again.ok, again.messages()
    assert again.changed == 0, again.changed_tasks()
    assert baked_images(aws) == before
    actions = {e["action"] for e in emulator.journal()}
    assert not actions & {"RunInstances", "CreateImage", "StartInstanceRefresh", "CreateTags"}
    check = bake(check=True, diff=True)
    assert check.ok, check.messages()
    assert check.changed == 0, check.changed_tasks()


def test_bake_check_mode_lists_a_new_bake_and_changes_nothing(provisioned, bake, aws, emulator):
    (new_base,) = new_base_images(aws, 1)
    before = baked_images(aws)
    emulator.journal(clear=True)
    check = bake(check=True, extra_vars={"ec2_ami_id": new_base})
    assert check.ok, check.messages()
    changed = check.changed_tasks()
    said = [i.get("msg", "") for _, _, r in check.task_results() for i in r.get("results", [])]
    assert [m for m in said if m.startswith("would bake")], said
    assert any("Refresh" in task for task in changed), changed
    assert baked_images(aws) == before
    writes = [
        e["action"]
        for e in emulator.journal()
        if not e["action"].startswith(("Describe", "Get", "List"))
    ]
    assert writes == []


def test_bake_reverts_to_a_kept_image_without_building(provisioned, bake, aws):
    """A new base image is a new key: image B, released and rolled out; two kept, so A stays.
    Back to A's sources (a revert): nothing is built, A is released again and the web group
    refreshed onto it; with one kept, A stays though B is newer: it is in use."""
    first = baked_images(aws)
    (base_b,) = new_base_images(aws, 1)
    result = bake(extra_vars={"ec2_ami_id": base_b, "bake_keep_images": 2})
    assert result.ok, result.messages()
    images = baked_images(aws)
    for role in ROLES:
        assert images[role][0]["ImageId"] == first[role][0]["ImageId"]
        assert tags_of(images[role][1])["BaseImage"] == base_b
        assert template_image(aws, role) == images[role][1]["ImageId"]
    assert group_images(aws, "web") == [images["web"][1]["ImageId"]] * 2

    revert = bake(
        extra_vars={"ec2_ami_id": tags_of(first["web"][0])["BaseImage"], "bake_keep_images": 1}
    )
    assert revert.ok, revert.messages()
    assert not any("Create each tier" in task for task in revert.changed_tasks())
    after = baked_images(aws)
    for role in ROLES:
        assert [i["ImageId"] for i in after[role]] == [i["ImageId"] for i in images[role]]
        assert template_image(aws, role) == images[role][0]["ImageId"]
    assert group_images(aws, "web") == [images["web"][0]["ImageId"]] * 2


def test_bake_prunes_but_never_the_image_of_a_template_version_a_group_launches_from(
    provisioned, bake, aws
):
    """Images A (released) and B per tier. The web group rolled back by hand to the launch
    template version of B (AWS's way back without a bake) and scaled in. A bake of new sources
    C keeping one image deletes the others with their snapshots, except web's B: no instance
    runs it and C is released, but a scale-out of the group would launch it."""
    ec2, autoscaling = aws("ec2"), aws("autoscaling")
    images = baked_images(aws)
    web_b = images["web"][1]["ImageId"]
    pinned = max(
        v["VersionNumber"]
        for v in ec2.describe_launch_template_versions(LaunchTemplateName=f"{PREFIX}-web")[
            "LaunchTemplateVersions"
        ]
        if v["LaunchTemplateData"]["ImageId"] == web_b
    )
    (base_c,) = new_base_images(aws, 1)
    group = {"AutoScalingGroupName": f"{PREFIX}-web"}
    (provisioned_group,) = autoscaling.describe_auto_scaling_groups(
        AutoScalingGroupNames=[f"{PREFIX}-web"]
    )["AutoScalingGroups"]
    autoscaling.update_auto_scaling_group(
        **group,
        MinSize=0,
        DesiredCapacity=0,
        LaunchTemplate={"LaunchTemplateName": f"{PREFIX}-web", "Version": str(pinned)},
    )
    try:
        result = bake(extra_vars={"ec2_ami_id": base_c, "bake_keep_images": 1})
    finally:  # back as provisioned (instances of the released image)
        autoscaling.update_auto_scaling_group(
            **group,
            MinSize=provisioned_group["MinSize"],
            DesiredCapacity=provisioned_group["DesiredCapacity"],
            LaunchTemplate={"LaunchTemplateName": f"{PREFIX}-web", "Version": "$Latest"},
        )
    assert result.ok, result.messages()
    after = baked_images(aws)
    assert [tags_of(i)["BaseImage"] for i in after["worker"]] == [base_c]
    assert [i["ImageId"] for i in after["web"]][:1] == [web_b], "pruned: in use by the group"
    assert [tags_of(i)["BaseImage"] for i in after["web"]][1:] == [base_c]
    assert template_image(aws, "web") == after["web"][1]["ImageId"]
    gone = [images["web"][0], *images["worker"]]
    snapshots = [m["Ebs"]["SnapshotId"] for i in gone for m in i["BlockDeviceMappings"]]
    assert not ec2.describe_snapshots(Filters=[{"Name": "snapshot-id", "Values": snapshots}])[
        "Snapshots"
    ]


def test_bake_calls_only_what_the_readme_grants_the_controller(provisioned, bake):
    """Every operation the bakes above called (request journal; S3 is not journaled and bake.yml
    calls none) is in README's controller IAM list for golden images."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("For golden images (`playbooks/bake.yml`")
    paragraph = readme[start : readme.index("\n\n", start)]
    granted = set(re.findall(r"`(?:[a-z0-9-]+:)?([A-Z][A-Za-z0-9]+)`", paragraph))
    called = {action for _service, action in bake.calls}
    assert {"RunInstances", "CreateImage", "StartInstanceRefresh"} <= called, sorted(called)
    assert called <= granted, sorted(called - granted)


def test_provision_keeps_the_released_images(provisioned, run, aws):
    """provision.yml names each tier's released golden image in its launch template: a run
    after the bakes changes nothing."""
    released = {role: template_image(aws, role) for role in ROLES}
    again = run(PROVISION)
    assert again.ok, again.messages()
    assert again.changed == 0, again.changed_tasks()
    assert {role: template_image(aws, role) for role in ROLES} == released


def test_a_builder_reached_through_session_manager_installs_the_agent():
    """bake_connection amazon.aws.aws_ssm: the builder's user data installs the SSM agent and
    curl as the launch templates' does (the image then carries them), and authorizes no key."""
    template = ROOT / "playbooks" / "bake" / "templates" / "user_data.yml.j2"
    variables = {
        "bake_connection": "amazon.aws.aws_ssm",
        "ssm_agent_install": True,
        "aws_region": "eu-west-1",
    }
    proc = subprocess.run(
        [
            str(BIN / "ansible"),
            "localhost",
            "-m",
            "ansible.builtin.debug",
            "-e",
            json.dumps(variables),
            "-a",
            f"msg={{{{ lookup('ansible.builtin.template', '{template}') }}}}",
        ],
        cwd=ROOT,
        env={**os.environ, "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "json"},
        capture_output=True,
        text=True,
        check=True,
    )
    user_data = _json_document(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"]
    assert user_data.startswith("#cloud-config\n") and "ssh_authorized_keys" not in user_data
    assert "curl" in re.search(r"^packages: \[(.*)\]$", user_data, re.M)[1]
    agent = "amazon-ssm-eu-west-1/latest/debian_$(dpkg --print-architecture)/amazon-ssm-agent.deb"
    assert agent in user_data
    assert "systemctl enable --now amazon-ssm-agent" in user_data


def test_a_bake_reaches_builders_through_the_inventorys_bastion(provisioned, bake, aws, tmp_path):
    """A CI runner outside the VPC reaches the builders as the inventory reaches the fleet:
    through the bastion its ansible_ssh_common_args name, with a throwaway known-hosts file.
    The emulator's instances run no OS (ssh here only records what it was asked): the bake
    fails before any image, leaving the builders running for a look; teardown removes them."""
    inventory = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventories" / "local", inventory)  # links copied as files
    (inventory / "group_vars" / "all" / "zz_bastion.yml").write_text(
        "---\nansible_ssh_common_args: -o ProxyJump=ci@bastion.streamstack.test\n"
    )
    ssh, said = tmp_path / "ssh", tmp_path / "ssh.log"
    ssh.write_text(f'#!/bin/sh\necho "$@" >> {said}\nexit 255\n')
    ssh.chmod(0o755)
    before = baked_images(aws)
    result = bake(
        inventory=inventory,
        skip_tags="",
        extra_vars={"ansible_ssh_executable": str(ssh), "bake_connect_timeout": 2},
    )
    assert not result.ok
    assert baked_images(aws) == before
    builders = [
        i
        for r in aws("ec2").describe_instances(
            Filters=[
                {"Name": "tag:Purpose", "Values": ["bake"]},
                {"Name": "instance-state-name", "Values": ["pending", "running"]},
                *_env_filters(),
            ]
        )["Reservations"]
        for i in r["Instances"]
    ]
    assert sorted(tags_of(b)["BakeRole"] for b in builders) == ["web", "worker"]
    commands = said.read_text().splitlines()
    for builder in builders:
        (command, *_) = [c for c in commands if builder["PrivateIpAddress"] in c.split()] or [""]
        assert "ProxyJump=ci@bastion.streamstack.test" in command, commands
        assert "UserKnownHostsFile=/dev/null" in command, commands


def test_waf_guards_the_distribution_and_goes_when_turned_off(run, aws, distribution):
    """cloudfront_waf_enabled (on in this environment since the first run): a web ACL in
    us-east-1, scope CLOUDFRONT, blocking any address above 2000 requests in 5 minutes and
    running AWS's managed rule groups (the common set's 8 KB body rule only counting: uploads
    are larger), named by the distribution. Turned off, the distribution lets go of it and it is
    deleted, nothing else changing. The last test that provisions: the environment keeps WAF off
    from here on."""
    cloudfront, wafv2 = aws("cloudfront"), aws("wafv2", "us-east-1")

    def web_acls():
        listed = wafv2.list_web_acls(Scope="CLOUDFRONT")["WebACLs"]
        return [a for a in listed if a["Name"] == f"{PREFIX}-cloudfront"]

    def web_acl_id():
        config = cloudfront.get_distribution_config(Id=distribution["Id"])["DistributionConfig"]
        return config["WebACLId"]

    (summary,) = web_acls()
    assert web_acl_id() == summary["ARN"] and ":global/webacl/" in summary["ARN"]
    acl = wafv2.get_web_acl(Name=summary["Name"], Scope="CLOUDFRONT", Id=summary["Id"])["WebACL"]
    assert acl["DefaultAction"] == {"Allow": {}}
    rules = {r["Name"]: r for r in acl["Rules"]}
    rate = rules.pop("rate-limit-per-address")
    assert rate["Action"] == {"Block": {}} and rate["Priority"] == 0
    statement = rate["Statement"]["RateBasedStatement"]
    assert (statement["Limit"], statement["AggregateKeyType"]) == (2000, "IP")
    groups = {name: rule["Statement"]["ManagedRuleGroupStatement"] for name, rule in rules.items()}
    assert {(name, g["VendorName"]) for name, g in groups.items()} == {
        ("AWSManagedRulesCommonRuleSet", "AWS"),
        ("AWSManagedRulesKnownBadInputsRuleSet", "AWS"),
        ("AWSManagedRulesAmazonIpReputationList", "AWS"),
    }
    assert groups["AWSManagedRulesCommonRuleSet"]["RuleActionOverrides"] == [
        {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}
    ]
    assert all(rule["OverrideAction"] == {"None": {}} for rule in rules.values())

    off = run(PROVISION, extra_vars={"cloudfront_waf_enabled": False})
    assert off.ok, off.messages()
    assert web_acl_id() == "" and web_acls() == []
    assert sorted(off.changed_tasks()) == [
        "aws-edge: CloudFront | Distribution",
        "aws-edge: WAF | Delete the web ACL (WAF turned off)",
    ]


# ---------------------------------------------------------------------------------------------
# Teardown (last: it removes the shared environment)
# ---------------------------------------------------------------------------------------------


def test_teardown_refuses_without_confirmation(provisioned, run, aws):
    refused = run(TEARDOWN)
    assert not refused.ok
    assert "teardown_confirm" in refused.messages()
    assert find_platform_resources(aws, NAME, ENV)


def test_teardown_leaves_nothing_of_the_environment(provisioned, run, aws, emulator):
    """In the realistic mode (as the first run): the NAT gateway stays deleting with its
    interface and Elastic IP, the ALB's interfaces outlive it (its subnets and groups, and the
    gateway's detachment, refused meanwhile), access logs of the media bucket's last requests
    land in the log bucket after it was emptied."""
    ec2, tagged = aws("ec2"), [{"Name": f"tag:{k}", "Values": [v]} for k, v in TAGS.items()]
    (vpc,) = ec2.describe_vpcs(Filters=tagged)["Vpcs"]
    nat_addresses = [
        address["AllocationId"]
        for gateway in ec2.describe_nat_gateways(Filters=tagged)["NatGateways"]
        for address in gateway["NatGatewayAddresses"]
    ]
    assert nat_addresses
    with realistic(emulator) as state:
        # Served media: the access logs of these requests are still on their way.
        media = f"{PREFIX}-media-123456789012"
        for i in range(3):
            aws("s3").put_object(Bucket=media, Key=f"hls/teardown-{i}.ts", Body=b"x")
        result = run(TEARDOWN, extra_vars={"teardown_confirm": PREFIX})
        assert result.ok, result.messages()
        again = run(TEARDOWN, extra_vars={"teardown_confirm": PREFIX})
    assert state["faults"], "the teardown met no fault"
    print(f"teardown twice, faults given: {state['faults']}")
    # The database was protected: the teardown turned that off first, explicitly.
    turned_off = [
        name
        for name, _host, res in result.task_results()
        if name == "RDS | Turn deletion protection off (teardown_confirm was given)"
        and res.get("changed")
    ]
    assert turned_off, result.changed_tasks()
    assert find_platform_resources(aws, NAME, ENV) == {}
    in_vpc = [{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]
    assert ec2.describe_network_interfaces(Filters=in_vpc)["NetworkInterfaces"] == []
    released = [{"Name": "allocation-id", "Values": nat_addresses}]
    assert ec2.describe_addresses(Filters=released)["Addresses"] == []
    assert again.ok, again.messages()
    assert again.changed == 0, again.changed_tasks()


def test_the_ci_roles_go_and_the_providers_last(ci, aws, emulator):
    """ci_bootstrap.yml's removal: the environment's roles and their policies (the providers
    stay for other environments); then, asked explicitly, the providers, while the roles' removal
    changes nothing more."""
    iam = aws("iam")
    gone = ci_roles.run_bootstrap(NAME, emulator.endpoint, ci_bootstrap_state="absent")
    assert gone.ok, gone.messages()
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert not [r for r in roles if r.startswith("ci-") and r.endswith(PREFIX)], roles
    policies = [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]]
    assert not [p for p in policies if p.startswith("ci-") and PREFIX in p], policies
    assert len(iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]) >= 2
    providers = ci_roles.run_bootstrap(
        NAME, emulator.endpoint, ci_bootstrap_state="absent", ci_oidc_providers_state="absent"
    )
    assert providers.ok, providers.messages()
    assert {task.split(": ", 1)[1] for task in providers.changed_tasks()} == {
        "CI | OIDC providers removed (no environment's role trusts them any more)"
    }
    arns = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    assert not [
        a for a in arns if a.endswith(("/token.actions.githubusercontent.com", "/gitlab.com"))
    ]
