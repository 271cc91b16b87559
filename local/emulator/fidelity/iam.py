"""IAM as AWS enforces it: requests signed by assumed-role sessions decided by our evaluator
(local/emulator/iam_policy.py), and the OIDC provider's audiences.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.emulator.fidelity.core import fix
from local.emulator.fidelity.journal import _JOURNAL_LIMIT

# --------------------------------------------------------------------------------------------
# IAM as AWS enforces it (the instances' credentials: imds.py)
# --------------------------------------------------------------------------------------------

# Signing names whose IAM action prefix differs.
_IAM_PREFIX = {"monitoring": "cloudwatch", "email": "ses"}
# S3: moto names each request by its IAM action already (GetObject for HeadObject, PutObject
# for the parts of a multipart upload, ListBucket for ListObjectsV2), except HeadBucket, which
# AWS authorizes as s3:ListBucket (a non-existent s3:HeadBucket in moto).
_S3_IAM_ACTIONS = {"HeadBucket": "ListBucket"}
# The calls our hosts make (tests/iam/calls.yml) and the services whose resources are modelled
# below. For a call outside them the decision is taken on the action alone when the policies
# grant nothing for it (so AWS would refuse it too); otherwise it is let through, with the
# call table's own test (the recorded calls) catching it: the emulator must never refuse what
# AWS allows.
_IAM_SERVICES = {"s3", "dynamodb", "sqs", "secretsmanager", "ssm", "logs", "monitoring", "ec2"}
# Operations IAM authorizes under other actions (Service Authorization Reference): all needed.
_IAM_OPERATION_ACTIONS = {
    ("cloudfront", "CreateDistributionWithTags"): ("CreateDistribution", "TagResource"),
}
# Calls of the modelled services that act on no one resource: AWS checks them against "*".
_IAM_ACCOUNT_CALLS = {
    "dynamodb": {"ListTables", "DescribeLimits", "DescribeEndpoints"},
    "sqs": {"ListQueues"},
    "secretsmanager": {"ListSecrets", "GetRandomPassword", "BatchGetSecretValue"},
    "ssm": {"DescribeParameters"},
    "logs": {"DescribeLogGroups"},
}
# Decisions about assumed-role sessions, newest last (GET /moto-api/fidelity/iam).
_IAM_DECISIONS: list[dict[str, Any]] = []
# Keys an AWS service signs its own requests with on a resource's behalf (CloudFront reading an
# S3 origin through origin access control): access key id -> _ServiceKey.
_SERVICE_KEYS: dict[str, _ServiceKey] = {}


@dataclass(frozen=True)
class _ServiceKey:
    access_key_id: str
    secret_access_key: str
    service: str  # the service principal, e.g. cloudfront.amazonaws.com
    context: dict[str, str]  # what AWS sets on its requests: aws:SourceArn, aws:SourceAccount


def _service_key(service: str, source_arn: str, account: str) -> _ServiceKey:
    """The keys ``service`` signs with for ``source_arn`` (one pair per source, kept)."""
    import secrets

    for key in _SERVICE_KEYS.values():
        if key.service == service and key.context["aws:SourceArn"] == source_arn:
            return key
    key = _ServiceKey(
        access_key_id="ASIA" + secrets.token_hex(8).upper(),
        secret_access_key=secrets.token_urlsafe(30),
        service=service,
        context={"aws:SourceArn": source_arn, "aws:SourceAccount": account},
    )
    _SERVICE_KEYS[key.access_key_id] = key
    return key


def _iam_session(account: str, partition: str, access_key_id: str) -> Any:
    from moto.sts.models import sts_backends

    for session in sts_backends[account][partition].assumed_roles:
        if session.access_key_id == access_key_id:
            return session
    return None


def _iam_role_policies(account: str, partition: str, role_arn: str) -> list[dict[str, Any]]:
    """The role's inline and attached policy documents, as AWS evaluates them."""
    from urllib.parse import unquote

    from moto.iam.models import iam_backends

    backend = iam_backends[account][partition]
    role = backend.get_role(role_arn.rsplit("/", 1)[-1])
    documents = [json.loads(unquote(doc)) for doc in role.policies.values()]
    for managed in role.managed_policies.values():
        version = next(v for v in managed.versions if v.version_id == managed.default_version_id)
        documents.append(json.loads(unquote(version.document)))
    return documents


def _json_body(response: Any) -> dict[str, Any]:
    """A JSON-protocol request's parameters (some handlers have parsed the body already)."""
    for body in (getattr(response, "body", None), getattr(response, "raw_body", None)):
        if isinstance(body, dict):
            return body
        try:
            found = json.loads(body or "{}")
        except (TypeError, ValueError):
            continue
        if isinstance(found, dict) and found:
            return found
    return {}


def _iam_request(response: Any, service: str, operation: str, resource: str) -> Any:
    """(action, resource, context) of a request, as IAM checks it; None when not modelled."""
    region, account = response.region, response.current_account
    context: dict[str, Any] = {}
    if service == "s3":
        action = "s3:" + _S3_IAM_ACTIONS.get(operation, operation)
        if action == "s3:DeleteObject" and "/" not in resource.removeprefix("arn:aws:s3:::"):
            return action, "", context  # DeleteObjects: decided key by key (below)
        prefix = response.querystring.get("prefix")
        if action == "s3:ListBucket" and prefix:
            context["s3:prefix"] = prefix[0]
        return action, resource, context
    action = f"{_IAM_PREFIX.get(service, service)}:{operation}"
    body = _json_body(response)
    query = {key: values[0] for key, values in response.querystring.items() if values}
    # Calls on no one resource (lists, account settings): AWS checks them against "*".
    if operation in _IAM_ACCOUNT_CALLS.get(service, ()):
        return action, "*", context
    if service == "dynamodb":
        if body.get("ResourceArn"):  # the tagging calls name the table by its ARN
            return action, body["ResourceArn"], context
        # Batch operations name their tables in RequestItems: AWS checks the action on each.
        tables = list(body.get("RequestItems") or {}) or [body.get("TableName")]
        arns = [f"arn:aws:dynamodb:{region}:{account}:table/{table}" for table in tables]
        return action, arns if len(arns) > 1 else arns[0], context
    if service == "sqs":
        url = body.get("QueueUrl") or query.get("QueueUrl", "")
        if url:
            queue_account, name = url.rstrip("/").split("/")[-2:]
        else:  # CreateQueue and GetQueueUrl name the queue
            name = body.get("QueueName") or query.get("QueueName", "")
            queue_account = body.get("QueueOwnerAWSAccountId") or account
        return action, f"arn:aws:sqs:{region}:{queue_account}:{name}", context
    if service == "secretsmanager":
        from moto.secretsmanager.models import secretsmanager_backends

        if operation == "CreateSecret":  # the ARN it will have: the name and 6 random characters
            return (
                action,
                f"arn:aws:secretsmanager:{region}:{account}:secret:{body.get('Name')}-a1B2c3",
                context,
            )
        secret_id = body.get("SecretId", "")
        secret = secretsmanager_backends[account][region].secrets.get(secret_id)
        if secret:
            return action, secret.arn, context
        # A secret not (yet) there: checked against the ARN its name makes.
        if not secret_id.startswith("arn:"):
            secret_id = f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_id}"
        return action, secret_id, context
    if service == "ssm":
        names = body.get("Names") or [body.get("Name") or body.get("ResourceId") or ""]
        paths = [name if name.startswith("/") else f"/{name}" for name in names]
        # AWS's public parameters (/aws/service/...) are no account's: their ARN names none.
        arns = [
            f"arn:aws:ssm:{region}:{'' if p.startswith('/aws/service/') else account}:parameter{p}"
            for p in paths
        ]
        return action, arns if len(arns) > 1 else arns[0], context
    if service == "logs":
        if "logGroupName" not in body:
            return None  # deliveries, account-level calls: not modelled
        group = f"arn:aws:logs:{region}:{account}:log-group:{body['logGroupName']}"
        if operation == "PutLogEvents":
            return action, f"{group}:log-stream:{body.get('logStreamName', '')}", context
        return action, group, context
    if service == "monitoring":
        if operation == "PutMetricData":
            namespace = query.get("Namespace") or body.get("Namespace", "")
            return action, "*", {"cloudwatch:namespace": namespace}
        alarms = body.get("AlarmNames") or [
            value for key, value in sorted(query.items()) if key.startswith("AlarmNames.member.")
        ]
        alarms = alarms or [body.get("AlarmName") or query.get("AlarmName")]
        if operation not in ("PutMetricAlarm", "DeleteAlarms") or not all(alarms):
            return None
        arns = [f"arn:aws:cloudwatch:{region}:{account}:alarm:{alarm}" for alarm in alarms]
        return action, arns if len(arns) > 1 else arns[0], context
    if service == "ec2" and operation.startswith("Describe"):
        return action, "*", context  # no resource-level permissions for Describe calls
    return None


def _iam_denied(response: Any, service: str, principal: str, action: str, resource: str) -> Any:
    message = (
        f"User: {principal} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )
    if service == "s3":
        from moto.s3.exceptions import S3ClientError

        return S3ClientError("AccessDenied", message)
    if service in ("dynamodb", "secretsmanager", "ssm", "logs", "sqs"):
        from moto.core.exceptions import JsonRESTError

        return JsonRESTError("AccessDeniedException", message)
    from moto.core.exceptions import AccessDeniedError

    error = AccessDeniedError(user_arn=principal, action=action)
    error.description = error.description.replace(  # the resource, as AWS names it
        f"perform: {action}", f"perform: {action} on resource: {resource}"
    )
    return error


def _iam_authorize(response: Any, iam_request_cls: Any, resource: str) -> None:
    """Our decision for a request signed by an assumed-role session; nothing for others."""
    from local.emulator.iam_policy import Principal, evaluate

    authorization = response.headers.get("Authorization") or ""
    if "Credential=" not in authorization:
        return  # anonymous: bucket policies decide (moto's own logic)
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    access_key_id, region, service = scope[0], scope[2], scope[3]
    account, partition = response.current_account, "aws"
    if access_key_id in _SERVICE_KEYS:
        _iam_authorize_service(response, iam_request_cls, resource, _SERVICE_KEYS[access_key_id])
        return
    session = _iam_session(account, partition, access_key_id)
    if session is None:
        return  # the account's own keys: the emulator's operator, not a host
    token = response.headers.get("X-Amz-Security-Token")
    if token != session.session_token:
        from moto.core.exceptions import InvalidClientTokenIdError

        raise InvalidClientTokenIdError()
    from urllib.parse import urlparse

    query = urlparse(response.uri).query
    operation = response.data.get("Action") if service == "s3" else response._get_action()
    iam_request_cls(
        account_id=account,
        method=response.method,
        path=response.raw_path + (f"?{query}" if query else ""),
        # A request without a body (REST's GET, HEAD, DELETE) was signed with an empty payload,
        # whatever moto parsed from its query; a query-protocol POST's body is in data.
        data=b"" if response.method in ("GET", "HEAD", "DELETE") else response.data,
        body=response.raw_body,
        headers=response.headers,
        action=operation,
    ).check_signature()
    if service == "sts" and operation == "GetCallerIdentity":
        return
    role_name = session.role_arn.rsplit("/", 1)[-1]
    principal_arn = f"arn:aws:sts::{account}:assumed-role/{role_name}/{session.session_name}"
    documents = _iam_role_policies(account, partition, session.role_arn)
    modelled = _iam_request(response, service, operation, resource)
    if service not in _IAM_SERVICES or modelled is None:
        # A resource not modelled here: refuse only what no statement could grant.
        prefix = _IAM_PREFIX.get(service, service)
        actions = _IAM_OPERATION_ACTIONS.get((service, operation), (operation,))
        resource_arn = "*"
        for action_name in (f"{prefix}:{action}" for action in actions):
            allowed = _iam_may_grant(documents, action_name)
            if not allowed:
                break
    elif not modelled[1]:
        return  # decided elsewhere (DeleteObjects: each key)
    else:
        action_name, resources, context = modelled
        context = {"aws:SecureTransport": True, "aws:RequestedRegion": region, **context}
        for resource_arn in resources if isinstance(resources, list) else [resources]:
            resource_policies = []
            if service == "s3" and resource_arn.startswith("arn:aws:s3:::"):
                bucket = resource_arn.removeprefix("arn:aws:s3:::").split("/")[0]
                policy = _s3_bucket_policy(bucket)
                resource_policies = [policy] if policy else []
            allowed = evaluate(
                documents,
                action_name,
                resource_arn,
                context,
                resource_policies=resource_policies,
                principal=Principal(arn=principal_arn, account=account),
            ).allowed
            _iam_decided(response, service, principal_arn, action_name, resource_arn, allowed)
        return
    _iam_decided(response, service, principal_arn, action_name, resource_arn, allowed)


def _iam_authorize_service(
    response: Any, iam_request_cls: Any, resource: str, key: _ServiceKey
) -> None:
    """A request a service signed on a resource's behalf (_SERVICE_KEYS): its signature checked,
    then decided by the resource's policy alone (a service principal has no identity policy),
    with the service's request context. Modelled for S3 (CloudFront's origin access control)."""
    from types import SimpleNamespace
    from urllib.parse import urlparse

    from botocore.credentials import Credentials

    from local.emulator.iam_policy import Principal, evaluate

    scope = response.headers["Authorization"].split("Credential=", 1)[1].split(",", 1)[0]
    region, service = scope.split("/")[2:4]
    operation = response.data.get("Action") if service == "s3" else response._get_action()
    query = urlparse(response.uri).query
    request = iam_request_cls.__new__(iam_request_cls)  # moto's, without its key lookup
    request.__dict__.update(
        account_id=response.current_account,
        _method=response.method,
        _path=response.raw_path + (f"?{query}" if query else ""),
        _data=b"" if response.method in ("GET", "HEAD", "DELETE") else response.data,
        _body=response.raw_body,
        _headers=response.headers,
        _region=region,
        _service=service,
        _action=f"{service}:{operation}",
        _access_key=SimpleNamespace(
            create_credentials=lambda: Credentials(key.access_key_id, key.secret_access_key)
        ),
    )
    request.check_signature()
    modelled = _iam_request(response, service, operation, resource)
    if service != "s3" or modelled is None or not modelled[1]:
        _iam_decided(response, service, key.service, f"{service}:{operation}", resource, False)
        return
    action_name, resource_arn, context = modelled
    bucket = resource_arn.removeprefix("arn:aws:s3:::").split("/")[0]
    policy = _s3_bucket_policy(bucket)
    allowed = evaluate(
        [],
        action_name,
        resource_arn,
        {"aws:SecureTransport": True, "aws:RequestedRegion": region, **key.context, **context},
        resource_policies=[policy] if policy else [],
        principal=Principal(service=key.service),
    ).allowed
    _iam_decided(response, service, key.service, action_name, resource_arn, allowed)


def _iam_decided(
    response: Any, service: str, principal: str, action: str, resource: str, allowed: bool
) -> None:
    """Journal a decision (GET /moto-api/fidelity/iam); a refusal is the service's error."""
    _IAM_DECISIONS.append(
        {"principal": principal, "action": action, "resource": resource, "allowed": allowed}
    )
    del _IAM_DECISIONS[:-_JOURNAL_LIMIT]
    if not allowed:
        raise _iam_denied(response, service, principal, action, resource)


def _iam_may_grant(documents: list[dict[str, Any]], action: str) -> bool:
    """Whether an Allow statement names the action, whatever its resources and conditions."""
    from local.emulator.iam_policy import evaluate

    for document in documents:
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if statement.get("Effect") == "Allow" and "Action" in statement:
                loose = {"Effect": "Allow", "Action": statement["Action"], "Resource": "*"}
                if evaluate([{"Statement": [loose]}], action, "*").allowed:
                    return True
    return False


def _s3_bucket_policy(bucket: str) -> dict[str, Any] | None:
    from moto.s3.models import s3_backends

    for account in s3_backends.values():
        found = account["aws"].buckets.get(bucket)
        if found is not None:
            return json.loads(found.policy.decode()) if found.policy else None
    return None


@fix
def iam_is_enforced_for_assumed_role_sessions() -> None:
    """moto 5.2.5's IAM checks are server-wide and unlike AWS's: action names come from the
    signing name (``s3:HeadBucket``), only S3 and SQS resources are matched (everything else
    against ``*``, so ARN-scoped grants are denied), conditions count as true, a bucket policy
    Allow never grants, and AssumeRole of a role trusted by ec2.amazonaws.com crashes.

    Here every request signed by an assumed-role session (the hosts' instance-role credentials,
    from the IMDS below, or a deploy role) is decided by our evaluator
    (local/emulator/iam_policy.py) on the role's inline and attached policies, with the IAM
    action, resource ARN and request context AWS uses (and the bucket policy for S3; DynamoDB's
    batch operations on each table of RequestItems); a refusal is the service's AccessDenied.
    The account's own keys (the operator: playbooks, tests) are not checked, as an account's
    root would not be. ``GET /moto-api/fidelity/iam`` lists the decisions.
    """
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.moto_api._internal import urls

    def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        _iam_authorize(self, iam_request_cls, resource)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize  # type: ignore[method-assign]

    def decisions(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
        if request.method == "POST":
            _IAM_DECISIONS.clear()
        return 200, {"Content-Type": "application/json"}, json.dumps(_IAM_DECISIONS)

    urls.url_paths["{0}/moto-api/fidelity/iam"] = decisions


@fix
def iam_oidc_provider_audiences_change_in_place() -> None:
    """moto 5.2.5 has no AddClientIDToOpenIDConnectProvider nor
    RemoveClientIDFromOpenIDConnectProvider (its server answers them with an error). AWS adds or
    removes one audience of an existing provider (adding one it has, or removing one it lacks,
    succeeds and changes nothing); the provider keeps its ARN."""
    from moto.core.responses import EmptyResult
    from moto.iam.responses import IamResponse

    def change(add: bool) -> Callable[[Any], Any]:
        def handler(self: Any) -> Any:
            provider = self.backend.get_open_id_connect_provider(
                self._get_param("OpenIDConnectProviderArn")
            )
            client_id = self._get_param("ClientID")
            if add and client_id not in provider.client_id_list:
                provider.client_id_list.append(client_id)
            elif not add and client_id in provider.client_id_list:
                provider.client_id_list.remove(client_id)
            return EmptyResult()

        return handler

    IamResponse.add_client_id_to_open_id_connect_provider = change(True)  # type: ignore[attr-defined]
    IamResponse.remove_client_id_from_open_id_connect_provider = change(False)  # type: ignore[attr-defined]
