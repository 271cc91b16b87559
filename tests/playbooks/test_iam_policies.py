"""The instance roles' and the media bucket's policies against the host call table.

The policies are rendered by Ansible from the real templates with the production inventory's
variables (tests/playbooks/render_iam_policies.yml) and evaluated with our IAM evaluator
(local/emulator/iam_policy.py) the way AWS evaluates a request within one account: the tier's
identity policy together with the bucket policy for S3 calls.

- every call of tests/iam/calls.yml is allowed to each tier that makes it;
- every statement of a tier's policy (and of the bucket policy) is needed by one of the calls:
  nothing is granted that no call uses;
- every call under ``denied`` is refused.
"""

from __future__ import annotations

import pytest

from local.emulator.iam_policy import Policy, Principal, evaluate
from tests.conftest import ROOT
from tests.harness import call_table, iam_render

TABLE = call_table.load()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict:
    documents = iam_render.render(tmp_path_factory.mktemp("iam"))
    context = documents.pop("context")
    return {"documents": documents, "names": call_table.names(context), "context": context}


def principal_of(tier: str, names: dict) -> Principal:
    if tier == "cloudfront":
        return Principal(service="cloudfront.amazonaws.com")
    role_session = f"arn:aws:sts::{names['account']}:assumed-role/{names['prefix']}-{tier}/i-0abc"
    return Principal(arn=role_session, account=names["account"])


def instance_document(tier: str, hosting: str) -> str:
    return f"instance-{tier}" if hosting == "ec2" else f"instance-{tier}-{hosting}"


def identity_policies(tier: str, rendered: dict, hosting: str = "ec2") -> list[Policy]:
    if tier == "cloudfront":
        return []
    document = instance_document(tier, hosting)
    return [Policy(f"{document} policy", rendered["documents"][document])]


def resource_policies(resource: str, rendered: dict) -> list[Policy]:
    """The bucket policy of the bucket a request is for (S3 evaluates it with the role's)."""
    names = rendered["names"]
    found = []
    for bucket, document in (
        (names["bucket"], "media-bucket"),
        (names["log_bucket"], "log-bucket"),
        (names["transfer_bucket"], "ssm-transfer-bucket"),
    ):
        if resource == f"arn:aws:s3:::{bucket}" or resource.startswith(f"arn:aws:s3:::{bucket}/"):
            found.append(Policy(f"{document} policy", rendered["documents"][document]))
    return found


def decide(tier: str, entry: call_table.Entry, rendered: dict, policies=None, hosting="ec2"):
    names = rendered["names"]
    resource = entry.resource_for(names)
    return evaluate(
        identity_policies(tier, rendered, hosting) if policies is None else policies,
        entry.action,
        resource,
        entry.context_for(names),
        resource_policies=resource_policies(resource, rendered) if policies is None else [],
        principal=principal_of(tier, names),
    )


# Each hosting's calls against that hosting's policies (CloudFront's reads once: the bucket
# policy is the same whatever hosts the app).
CALLS = [
    (hosting, tier, entry)
    for hosting in call_table.HOSTINGS
    for entry in TABLE.hosted(hosting).calls
    for tier in entry.tiers
    if hosting == "ec2" or tier != "cloudfront"
]
DENIED = [
    (hosting, tier, entry)
    for hosting in call_table.HOSTINGS
    for entry in TABLE.hosted(hosting).denied
    for tier in entry.tiers
    if hosting == "ec2" or tier != "cloudfront"
]


@pytest.mark.parametrize(
    ("hosting", "tier", "entry"),
    CALLS,
    ids=[f"{h} {t}: {e.call} {e.by}"[:90] for h, t, e in CALLS],
)
def test_every_call_of_the_table_is_allowed(hosting, tier, entry, rendered):
    decision = decide(tier, entry, rendered, hosting=hosting)
    assert decision.allowed, (
        f"{tier} ({hosting}) cannot {entry.call} ({entry.action} on "
        f"{entry.resource_for(rendered['names'])}): {decision}"
    )


@pytest.mark.parametrize(
    ("hosting", "tier", "entry"), DENIED, ids=[f"{h} {t}: {e.why}" for h, t, e in DENIED]
)
def test_what_a_tier_must_never_do_is_refused(hosting, tier, entry, rendered):
    decision = decide(tier, entry, rendered, hosting=hosting)
    assert not decision.allowed, (
        f"{tier} ({hosting}) may {entry.action} on {entry.resource_for(rendered['names'])} "
        f"({entry.why}): {decision}"
    )


DOCUMENTS = {  # document: (tier, hosting)
    "instance-web": ("web", "ec2"),
    "instance-worker": ("worker", "ec2"),
    "instance-web-beanstalk": ("web", "beanstalk"),
    "instance-worker-beanstalk": ("worker", "beanstalk"),
    "media-bucket": ("cloudfront", "ec2"),
}


@pytest.mark.parametrize("document", list(DOCUMENTS))
def test_every_allow_statement_is_needed_by_a_call(document, rendered):
    """Nothing more than the calls need: each action of each Allow statement is the action of a
    call in the table that this statement alone allows (for the tier and hosting the document
    is for)."""
    tier, hosting = DOCUMENTS[document]
    calls = TABLE.hosted(hosting).calls
    names = rendered["names"]
    unused = []
    for statement in rendered["documents"][document]["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        alone = Policy("one statement", {"Statement": [statement]})
        for action in actions:
            used = (
                any(
                    entry.action == action
                    and decide(tier, entry, rendered, policies=[alone]).allowed
                    for entry in calls
                    if tier in entry.tiers
                )
                if document != "media-bucket"
                else any(
                    entry.action == action
                    and evaluate(
                        [],
                        action,
                        entry.resource_for(names),
                        entry.context_for(names),
                        resource_policies=[alone],
                        principal=principal_of("cloudfront", names),
                    ).allowed
                    for entry in calls
                    if "cloudfront" in entry.tiers
                )
            )
            if not used:
                unused.append(f"{statement.get('Sid')}: {action}")
    assert not unused, f"{document} grants what no call in tests/iam/calls.yml needs: {unused}"


def test_instance_roles_attach_no_managed_policy():
    """AmazonSSMManagedInstanceCore grants ssm:GetParameter on every parameter of the account,
    CloudWatchAgentServerPolicy writes to any log group: the tiers' own statements replace them."""
    iam_tasks = (ROOT / "playbooks" / "provision" / "resources" / "iam.yml").read_text()
    assert "managed_policies: []" in iam_tasks and "arn:aws:iam::aws:policy" not in iam_tasks


def test_the_table_names_real_operations():
    """Every call names an operation botocore knows, so the recorded calls can be compared
    (the SSM agent's and Elastic Beanstalk's health agent's own APIs excepted: botocore has no
    model of them)."""
    import botocore.session

    session = botocore.session.get_session()
    for entry in TABLE.calls:
        if entry.agent_api:
            modelled = entry.service in ("ssm", "elasticbeanstalk")
            model = session.get_service_model(entry.service) if modelled else None
            assert model is None or entry.operation not in model.operation_names, entry.label()
            assert entry.service in ("ssm", "ssmmessages", "elasticbeanstalk"), entry.label()
            continue
        if entry.service == "s3" or "cloudfront" not in entry.tiers:
            model = session.get_service_model(entry.service)
            assert entry.operation in model.operation_names, entry.label()


# --- CI's roles (playbooks/ci_bootstrap.yml, ci_bootstrap/vars/policy.yml) ------------------------


def ci_decide(rendered: dict, role: str, action: str, resource: str, **context) -> str:
    names = rendered["names"]
    documents = [
        Policy(f"ci-{role}-{part}", rendered["documents"][f"ci-{role}-{part}"])
        for part in (1, 2, 3, 4)
    ]
    session = f"arn:aws:sts::{names['account']}:assumed-role/ci-{role}-{names['prefix']}/ci-job"
    principal = Principal(arn=session, account=names["account"])
    return evaluate(documents, action, resource, context, principal=principal).effect


def test_ci_deploy_role_is_kept_to_its_environment(rendered):
    """Named resources by prefix, EC2 and CloudFront by the Environment and Project tags (a
    Deny), IAM only on the tiers' roles (never its own), PassRole only to EC2, the origin record
    only."""
    names = rendered["names"]
    prefix, account, region = names["prefix"], names["account"], names["region"]
    subnet = f"arn:aws:ec2:{region}:{account}:subnet/subnet-0abc"
    distribution = f"arn:aws:cloudfront::{account}:distribution/E123"
    mine = {"aws:ResourceTag/Environment": names["env"], "aws:ResourceTag/Project": names["name"]}
    other_env = dict(mine, **{"aws:ResourceTag/Environment": "staging"})
    other_project = dict(mine, **{"aws:ResourceTag/Project": "other"})
    role = f"arn:aws:iam::{account}:role/{prefix}-web"
    cases = [
        ("ec2:DeleteSubnet", subnet, mine, "allow"),
        ("ec2:DeleteSubnet", subnet, {}, "allow"),  # untagged: a subnet being made
        ("ec2:DeleteSubnet", subnet, other_env, "explicit_deny"),
        (
            "ec2:TerminateInstances",
            f"arn:aws:ec2:{region}:{account}:instance/i-1",
            other_project,
            "explicit_deny",
        ),
        (
            "ec2:DeleteSubnet",
            f"arn:aws:ec2:us-west-2:{account}:subnet/subnet-1",
            mine,
            "implicit_deny",
        ),
        ("ec2:DescribeSubnets", "*", {}, "allow"),
        ("cloudfront:UpdateDistribution", distribution, mine, "allow"),
        ("cloudfront:DeleteDistribution", distribution, other_env, "explicit_deny"),
        ("s3:PutObject", f"arn:aws:s3:::{prefix}-media-{account}/hls/a.ts", {}, "allow"),
        (
            "s3:PutObject",
            f"arn:aws:s3:::stream-staging-media-{account}/hls/a.ts",
            {},
            "implicit_deny",
        ),
        ("s3:DeleteBucket", f"arn:aws:s3:::stream-staging-media-{account}", {}, "implicit_deny"),
        ("iam:PutRolePolicy", role, {}, "allow"),
        (
            "iam:PutRolePolicy",
            f"arn:aws:iam::{account}:role/ci-deploy-{prefix}",
            {},
            "implicit_deny",
        ),
        ("iam:CreateRole", f"arn:aws:iam::{account}:role/{prefix}-admin", {}, "implicit_deny"),
        ("iam:AttachRolePolicy", role, {}, "implicit_deny"),
        ("iam:PassRole", role, {"iam:PassedToService": "ec2.amazonaws.com"}, "allow"),
        ("iam:PassRole", role, {"iam:PassedToService": "lambda.amazonaws.com"}, "implicit_deny"),
        (
            "route53:ChangeResourceRecordSets",
            "arn:aws:route53:::hostedzone/Z1",
            {
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                    f"{prefix}-origin.example.com"
                ]
            },
            "allow",
        ),
        (
            "route53:ChangeResourceRecordSets",
            "arn:aws:route53:::hostedzone/Z1",
            {"route53:ChangeResourceRecordSetsNormalizedRecordNames": ["www.example.com"]},
            "implicit_deny",
        ),
        # configure.yml's one read of the environment's outputs (the roles get them from it).
        (
            "ssm:GetParameter",
            f"arn:aws:ssm:{region}:{account}:parameter{names['ssm_prefix']}/outputs",
            {},
            "allow",
        ),
        (
            "ssm:GetParameter",
            f"arn:aws:ssm:{region}:{account}:parameter/stream/staging/outputs",
            {},
            "implicit_deny",
        ),
        (
            "ssm:GetParameter",
            f"arn:aws:ssm:{region}::parameter/aws/service/debian/release/12/latest/amd64",
            {},
            "allow",
        ),
        ("sts:AssumeRole", f"arn:aws:iam::{account}:role/anything", {}, "implicit_deny"),
    ]
    decided = [
        (action, resource, ci_decide(rendered, "deploy", action, resource, **ctx))
        for action, resource, ctx, _ in cases
    ]
    assert decided == [(action, resource, want) for action, resource, _, want in cases]


def test_ci_policies_hold_no_wildcard_service_and_fit_iam(rendered):
    """No `*:*`, no service wildcard (`iam:*`, `s3:*`, ...); the plan role only reads; each
    managed policy within IAM's 6,144 characters (whitespace not counted)."""
    import json

    for name, document in rendered["documents"].items():
        if not name.startswith("ci-"):
            continue
        assert len(json.dumps(document, separators=(",", ":"))) <= 6144, name
        for statement in document["Statement"]:
            actions = statement.get("Action", [])
            assert not [a for a in actions if a == "*" or a.endswith(":*")], (
                name,
                statement["Sid"],
            )
            if name.startswith("ci-plan") and statement["Effect"] == "Allow":
                writes = [
                    a
                    for a in actions
                    if not a.split(":")[1].startswith(("Describe", "Get", "List"))
                ]
                assert writes == [], (name, statement["Sid"], writes)


# The Elastic Beanstalk path as CI's roles (tests/iam/calls.yml's deploy section; part 4).
DEPLOY_CALLS = [(role, entry) for entry in TABLE.deploy for role in entry.tiers]
DEPLOY_DENIED = [(role, entry) for entry in TABLE.deploy_denied for role in entry.tiers]


@pytest.mark.parametrize(
    ("role", "entry"), DEPLOY_CALLS, ids=[f"{r}: {e.action} {e.by}"[:90] for r, e in DEPLOY_CALLS]
)
def test_ci_roles_may_make_the_beanstalk_paths_calls(role, entry, rendered):
    names = rendered["names"]
    resource = entry.resource_for(names)
    decision = ci_decide(rendered, role, entry.action, resource, **entry.context_for(names))
    assert decision == "allow", f"{role} cannot {entry.action} on {resource} ({entry.by})"


@pytest.mark.parametrize(
    ("role", "entry"), DEPLOY_DENIED, ids=[f"{r}: {e.why}" for r, e in DEPLOY_DENIED]
)
def test_ci_roles_are_refused_the_rest_of_elastic_beanstalk(role, entry, rendered):
    names = rendered["names"]
    resource = entry.resource_for(names)
    decision = ci_decide(rendered, role, entry.action, resource, **entry.context_for(names))
    assert decision != "allow", f"{role} may {entry.action} on {resource} ({entry.why})"


def test_every_beanstalk_permission_of_the_ci_roles_is_a_call_of_the_table(rendered):
    """Part 4 grants what the table's deploy section calls, nothing more."""
    called = {(role, entry.action) for role, entry in DEPLOY_CALLS}
    for role in ("deploy", "plan"):
        granted = {
            (role, action)
            for statement in rendered["documents"][f"ci-{role}-4"]["Statement"]
            if statement["Effect"] == "Allow"
            for action in statement["Action"]
        }
        assert granted - called == set(), sorted(granted - called)
