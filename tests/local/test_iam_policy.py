"""The IAM policy evaluator (local/emulator/iam_policy.py) on AWS's documented examples.

Each test names the AWS documentation page whose example or rule it follows (IAM User Guide
unless said otherwise).
"""

from __future__ import annotations

import pytest

from local.emulator.iam_policy import Principal, UnknownOperator, evaluate

ACCOUNT = "111122223333"
BUCKET = "arn:aws:s3:::amzn-s3-demo-bucket"


def allow(action, resource, condition=None, **extra):
    statement = {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def deny(action, resource, condition=None):
    statement = {"Effect": "Deny", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def test_nothing_allows_means_implicit_deny():
    """Policy evaluation logic: "By default, all requests are implicitly denied"."""
    decision = evaluate([allow("s3:GetObject", f"{BUCKET}/*")], "s3:PutObject", f"{BUCKET}/a")
    assert decision.effect == "implicit_deny"
    assert not decision.allowed


def test_explicit_deny_overrides_any_allow():
    """Policy evaluation logic: "An explicit deny in any policy overrides any allows"."""
    policies = [allow("s3:*", "*"), deny("s3:DeleteObject", f"{BUCKET}/*")]
    assert evaluate(policies, "s3:GetObject", f"{BUCKET}/a").allowed
    decision = evaluate(policies, "s3:DeleteObject", f"{BUCKET}/a")
    assert decision.effect == "explicit_deny"
    assert decision.statement["Effect"] == "Deny"


def test_actions_are_case_insensitive_with_wildcards():
    """Policy elements: Action: "action names are case insensitive"; * and ? wildcards."""
    policy = allow(["S3:get*", "sqs:?eceiveMessage"], "*")
    assert evaluate([policy], "s3:GetObject", f"{BUCKET}/a").allowed
    assert evaluate([policy], "sqs:ReceiveMessage", "*").allowed
    assert not evaluate([policy], "s3:PutObject", f"{BUCKET}/a").allowed


def test_not_action_allows_everything_else():
    """Policy elements: NotAction: "Allow ... NotAction iam:*" grants every other service."""
    policy = {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}
    assert evaluate([policy], "s3:ListAllMyBuckets", "*").allowed
    assert not evaluate([policy], "iam:CreateUser", "*").allowed


def test_not_resource_deny_spares_the_listed_resources():
    """Policy elements: NotResource: deny everything except the listed bucket."""
    policies = [
        allow("s3:*", "*"),
        {
            "Statement": [
                {
                    "Effect": "Deny",
                    "Action": "s3:*",
                    "NotResource": [BUCKET, f"{BUCKET}/*"],
                }
            ]
        },
    ]
    assert evaluate(policies, "s3:GetObject", f"{BUCKET}/key").allowed
    assert evaluate(policies, "s3:GetObject", "arn:aws:s3:::other/key").effect == "explicit_deny"


def test_resources_are_case_sensitive_and_matched_by_segment():
    """Policy elements: Resource: ARNs are case-sensitive; wildcards within a segment, and the
    resource part (which may contain colons and slashes) as a whole."""
    table = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/Sessions"
    policy = allow("dynamodb:GetItem", f"arn:aws:dynamodb:*:{ACCOUNT}:table/Sessions")
    assert evaluate([policy], "dynamodb:GetItem", table).allowed
    assert not evaluate([policy], "dynamodb:GetItem", table.replace("Sessions", "sessions")).allowed
    stream = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/stream/prod/app:log-stream:i-0abc"
    logs = allow("logs:PutLogEvents", f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/stream/prod/*")
    assert evaluate([logs], "logs:PutLogEvents", stream).allowed
    assert not evaluate(
        [logs], "logs:PutLogEvents", stream.replace("eu-west-1", "us-east-1")
    ).allowed


def test_s3_list_bucket_prefix_condition_needs_the_prefix_key():
    """S3 User Guide, "Example: Allowing users to list objects under a prefix" with s3:prefix;
    condition operators: a key missing from the request context makes the condition false
    (HeadBucket and ListObjectsV2 without Prefix send no s3:prefix)."""
    policy = allow("s3:ListBucket", BUCKET, {"StringLike": {"s3:prefix": ["hls/*", "sources/*"]}})
    assert evaluate([policy], "s3:ListBucket", BUCKET, {"s3:prefix": "hls/item/"}).allowed
    assert not evaluate([policy], "s3:ListBucket", BUCKET, {"s3:prefix": "private/"}).allowed
    assert evaluate([policy], "s3:ListBucket", BUCKET, {}).effect == "implicit_deny"


def test_missing_key_makes_negated_operators_true():
    """Condition operators ("Important"): "If the policy condition requires that the key is not
    matched, such as StringNotLike or ArnNotLike, and the right key is not present, the
    condition is true"."""
    policy = allow("s3:GetObject", "*", {"StringNotLike": {"aws:userid": "AIDA*"}})
    assert evaluate([policy], "s3:GetObject", f"{BUCKET}/a", {}).allowed
    assert not evaluate([policy], "s3:GetObject", f"{BUCKET}/a", {"aws:userid": "AIDA1"}).allowed


def test_if_exists_is_true_when_the_key_is_missing():
    """Condition operators, "...IfExists condition operators": "If the key is not present, the
    condition evaluates to true" (the ec2:InstanceType example)."""
    policy = allow(
        "ec2:RunInstances", "*", {"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*"]}}
    )
    assert evaluate([policy], "ec2:RunInstances", "*", {}).allowed
    assert evaluate([policy], "ec2:RunInstances", "*", {"ec2:InstanceType": "t2.micro"}).allowed
    assert not evaluate([policy], "ec2:RunInstances", "*", {"ec2:InstanceType": "m5.large"}).allowed


def test_null_checks_presence():
    """Condition operators, "Condition operator to check existence of condition keys": Null
    true means the key must be absent (the temporary-credentials example, aws:TokenIssueTime)."""
    policy = allow("ec2:*", "*", {"Null": {"aws:TokenIssueTime": "true"}})
    assert evaluate([policy], "ec2:DescribeInstances", "*", {}).allowed
    assert not evaluate(
        [policy], "ec2:DescribeInstances", "*", {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}
    ).allowed


def test_secure_transport_deny_applies_only_to_plain_http():
    """S3 User Guide, "Security best practices": deny s3:* when aws:SecureTransport is false."""
    policies = [
        allow("s3:GetObject", f"{BUCKET}/*"),
        deny("s3:*", [BUCKET, f"{BUCKET}/*"], {"Bool": {"aws:SecureTransport": "false"}}),
    ]
    key = f"{BUCKET}/a"
    assert evaluate(policies, "s3:GetObject", key, {"aws:SecureTransport": True}).allowed
    decision = evaluate(policies, "s3:GetObject", key, {"aws:SecureTransport": False})
    assert decision.effect == "explicit_deny"


def test_values_of_one_key_or_keys_and_operators_and():
    """Condition element, "Evaluation logic for conditions with multiple context keys or values":
    values of one key OR, keys AND, operators AND."""
    policy = allow(
        "s3:PutObject",
        f"{BUCKET}/*",
        {
            "StringEquals": {"s3:x-amz-acl": ["private", "bucket-owner-full-control"]},
            "IpAddress": {"aws:SourceIp": "192.0.2.0/24"},
        },
    )
    good = {"s3:x-amz-acl": "private", "aws:SourceIp": "192.0.2.7"}
    assert evaluate([policy], "s3:PutObject", f"{BUCKET}/k", good).allowed
    assert not evaluate(
        [policy], "s3:PutObject", f"{BUCKET}/k", {**good, "aws:SourceIp": "198.51.100.7"}
    ).allowed
    assert not evaluate(
        [policy], "s3:PutObject", f"{BUCKET}/k", {**good, "s3:x-amz-acl": "public-read"}
    ).allowed


def test_negated_operator_with_several_values_needs_none_to_match():
    """Condition element: for StringNotEquals with several values, the request's value must
    equal none of them (the aws:RequestedRegion deny example)."""
    policy = deny(
        "*", "*", {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}}
    )
    base = [allow("*", "*")]
    assert evaluate(
        [*base, policy], "s3:GetObject", "*", {"aws:RequestedRegion": "eu-west-1"}
    ).allowed
    assert (
        evaluate([*base, policy], "s3:GetObject", "*", {"aws:RequestedRegion": "ap-south-1"}).effect
        == "explicit_deny"
    )


def test_set_operators_on_multivalued_keys():
    """Multivalued context keys: ForAllValues is true when the key is missing (the documented
    pitfall), ForAnyValue false; with values, all / any must match."""
    every = allow(
        "dynamodb:PutItem", "*", {"ForAllValues:StringEquals": {"dynamodb:Attributes": ["pk", "v"]}}
    )
    any_of = allow(
        "dynamodb:PutItem", "*", {"ForAnyValue:StringEquals": {"dynamodb:Attributes": ["pk"]}}
    )
    assert evaluate([every], "dynamodb:PutItem", "*", {}).allowed
    assert not evaluate([any_of], "dynamodb:PutItem", "*", {}).allowed
    assert evaluate([every], "dynamodb:PutItem", "*", {"dynamodb:Attributes": ["pk", "v"]}).allowed
    assert not evaluate(
        [every], "dynamodb:PutItem", "*", {"dynamodb:Attributes": ["pk", "x"]}
    ).allowed
    assert evaluate([any_of], "dynamodb:PutItem", "*", {"dynamodb:Attributes": ["pk", "x"]}).allowed


def test_condition_key_names_are_case_insensitive_values_are_not():
    """Condition element: "Condition key names are not case-sensitive"; StringEquals values are."""
    policy = allow(
        "kms:Decrypt", "*", {"StringEquals": {"KMS:ViaService": "sqs.eu-west-1.amazonaws.com"}}
    )
    assert evaluate(
        [policy], "kms:Decrypt", "*", {"kms:viaservice": "sqs.eu-west-1.amazonaws.com"}
    ).allowed
    assert not evaluate(
        [policy], "kms:Decrypt", "*", {"kms:ViaService": "SQS.eu-west-1.amazonaws.com"}
    ).allowed


def test_numeric_and_date_operators():
    """Condition operators: Numeric and Date operators compare numbers and ISO 8601/epoch dates."""
    policy = allow(
        "sqs:SendMessage",
        "*",
        {
            "NumericLessThanEquals": {"s3:max-keys": "10"},
            "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
        },
    )
    ok = {"s3:max-keys": "10", "aws:CurrentTime": "2026-12-04T00:00:00Z"}
    assert evaluate([policy], "sqs:SendMessage", "*", ok).allowed
    assert not evaluate([policy], "sqs:SendMessage", "*", {**ok, "s3:max-keys": "11"}).allowed
    assert not evaluate(
        [policy], "sqs:SendMessage", "*", {**ok, "aws:CurrentTime": "2031-01-01T00:00:00Z"}
    ).allowed


def test_policy_variables_resolve_from_the_context():
    """Policy variables: ${aws:username} in Resource; an unresolvable variable matches nothing;
    ${*} is a literal asterisk."""
    policy = allow("s3:GetObject", f"{BUCKET}/home/${{aws:username}}/*")
    assert evaluate(
        [policy], "s3:GetObject", f"{BUCKET}/home/ana/a", {"aws:username": "ana"}
    ).allowed
    assert not evaluate(
        [policy], "s3:GetObject", f"{BUCKET}/home/bob/a", {"aws:username": "ana"}
    ).allowed
    assert not evaluate([policy], "s3:GetObject", f"{BUCKET}/home/ana/a", {}).allowed
    literal = allow("s3:GetObject", f"{BUCKET}/${{*}}/a")
    assert evaluate([literal], "s3:GetObject", f"{BUCKET}/*/a").allowed
    assert not evaluate([literal], "s3:GetObject", f"{BUCKET}/x/a").allowed


def test_bucket_policy_grants_a_service_principal_with_source_arn():
    """CloudFront Developer Guide, "Restricting access to an Amazon S3 origin" (OAC): the bucket
    policy lets cloudfront.amazonaws.com GetObject when AWS:SourceArn is the distribution."""
    distribution = f"arn:aws:cloudfront::{ACCOUNT}:distribution/EDFDVBD6EXAMPLE"
    bucket_policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": "s3:GetObject",
                "Resource": f"{BUCKET}/hls/*",
                "Condition": {"StringEquals": {"AWS:SourceArn": distribution}},
            }
        ]
    }
    cloudfront = Principal(service="cloudfront.amazonaws.com")
    request = {"aws:SourceArn": distribution}
    assert evaluate(
        [],
        "s3:GetObject",
        f"{BUCKET}/hls/a.ts",
        request,
        resource_policies=[bucket_policy],
        principal=cloudfront,
    ).allowed
    assert not evaluate(
        [],
        "s3:GetObject",
        f"{BUCKET}/sources/a.mp4",
        request,
        resource_policies=[bucket_policy],
        principal=cloudfront,
    ).allowed
    other = {"aws:SourceArn": distribution.replace("EDFDVBD6EXAMPLE", "E2OTHER")}
    assert not evaluate(
        [],
        "s3:GetObject",
        f"{BUCKET}/hls/a.ts",
        other,
        resource_policies=[bucket_policy],
        principal=cloudfront,
    ).allowed


def test_resource_policy_naming_the_account_does_not_grant_alone():
    """Policy evaluation logic, "Evaluating identity-based and resource-based policies together":
    a resource policy naming a role's session grants within the account; one naming the account
    delegates to identity policies (an Allow to the account root grants nothing by itself)."""
    session = Principal(arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/web/i-0abc", account=ACCOUNT)
    to_role = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/web"},
                "Action": "sqs:SendMessage",
                "Resource": "*",
            }
        ]
    }
    to_account = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sqs:SendMessage",
                "Resource": "*",
            }
        ]
    }
    queue = f"arn:aws:sqs:eu-west-1:{ACCOUNT}:q"
    assert evaluate(
        [], "sqs:SendMessage", queue, resource_policies=[to_role], principal=session
    ).allowed
    assert not evaluate(
        [], "sqs:SendMessage", queue, resource_policies=[to_account], principal=session
    ).allowed
    assert evaluate(
        [allow("sqs:SendMessage", queue)],
        "sqs:SendMessage",
        queue,
        resource_policies=[to_account],
        principal=session,
    ).allowed


def test_arn_like_on_source_arn_and_unknown_operators_refused():
    """Condition operators, ARN operators: ArnLike matches segment by segment. An operator AWS
    does not know is refused rather than guessed."""
    policy = allow(
        "sns:Publish", "*", {"ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:*:*:alarm:stream-*"}}
    )
    alarm = f"arn:aws:cloudwatch:eu-west-1:{ACCOUNT}:alarm:stream-prod-cpu"
    assert evaluate([policy], "sns:Publish", "*", {"aws:SourceArn": alarm}).allowed
    assert not evaluate(
        [policy], "sns:Publish", "*", {"aws:SourceArn": alarm.replace("stream-", "x-")}
    ).allowed
    with pytest.raises(UnknownOperator):
        evaluate([allow("s3:*", "*", {"StringSorta": {"a": "b"}})], "s3:GetObject", "*", {"a": "b"})
