"""S3 fixes: server access logging, bucket policy conditions, anonymous requests, DeleteObjects
per key, access logs in flight after logging stops.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from local.emulator.fidelity.core import _around, fix
from local.emulator.fidelity.iam import _iam_authorize
from local.emulator.fidelity.timing import _ready_at

# --------------------------------------------------------------------------------------------
# S3 server access logging
# --------------------------------------------------------------------------------------------


@fix
def s3_logging_permission_check_follows_iam_policy_matching() -> None:
    """moto 5.2.5: PutBucketLogging crashed (HTTP 500) on a target bucket policy with a
    ``"Principal": "*"`` statement (a TLS-only deny), and demanded an exact Resource string.

    AWS evaluates the target bucket's policy: a statement allowing the logging service
    principal ``s3:PutObject`` on a resource pattern covering the log prefix grants it.
    """
    from fnmatch import fnmatchcase

    from moto.s3.models import LOGGING_SERVICE_PRINCIPAL, FakeBucket

    def as_list(value: Any) -> list[Any]:
        return value if isinstance(value, list) else [value]

    def grants_logging(target_bucket: Any, target_prefix: str | None) -> bool:
        if not target_bucket.policy:
            return False
        policy = json.loads(target_bucket.policy.decode())
        log_object = (
            f"arn:{target_bucket.partition}:s3:::{target_bucket.name}/{target_prefix or ''}x"
        )
        for stmt in as_list(policy.get("Statement", [])):
            principal = stmt.get("Principal")
            services = as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
            if stmt.get("Effect") != "Allow" or LOGGING_SERVICE_PRINCIPAL not in services:
                continue
            if not {"s3:PutObject", "s3:*", "*"} & set(as_list(stmt.get("Action", []))):
                continue
            if any(
                fnmatchcase(log_object, pattern) for pattern in as_list(stmt.get("Resource", []))
            ):
                return True
        return False

    FakeBucket._log_permissions_enabled_policy = staticmethod(grants_logging)


# --------------------------------------------------------------------------------------------
# S3 bucket policies: conditions
# --------------------------------------------------------------------------------------------

# The request context moto's S3 lacks: clients reach AWS's S3 over HTTPS.
_S3_REQUEST_CONTEXT = {"aws:securetransport": "true"}


def _policy_condition_holds(operator: str, values: dict[str, Any]) -> bool:
    """Whether one condition block (operator -> {key: value(s)}) holds in _S3_REQUEST_CONTEXT.

    AWS semantics for the operators bucket policies use: a missing key fails a condition,
    except with ``...IfExists``, ``Null`` and the negated operators (``StringNotEquals``, ...).
    An operator this does not know makes the statement not apply.
    """
    from fnmatch import fnmatchcase

    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    negated = "Not" in base
    matchers: dict[str, Callable[[str, str], bool]] = {
        "Bool": lambda actual, expected: actual.lower() == expected.lower(),
        "StringEquals": lambda actual, expected: actual == expected,
        "StringNotEquals": lambda actual, expected: actual == expected,
        "StringEqualsIgnoreCase": lambda actual, expected: actual.lower() == expected.lower(),
        "StringLike": fnmatchcase,
        "StringNotLike": fnmatchcase,
        "ArnEquals": lambda actual, expected: actual == expected,
        "ArnNotEquals": lambda actual, expected: actual == expected,
        "ArnLike": fnmatchcase,
        "ArnNotLike": fnmatchcase,
    }
    for key, expected in values.items():
        expected_values = [str(v) for v in (expected if isinstance(expected, list) else [expected])]
        actual = _S3_REQUEST_CONTEXT.get(key.lower())
        if base == "Null":
            if (actual is None) != (expected_values[0].lower() == "true"):
                return False
            continue
        if base not in matchers:
            return False
        if actual is None:
            if not (if_exists or negated):
                return False
            continue
        matched = any(matchers[base](actual, value) for value in expected_values)
        if matched == negated:
            return False
    return True


@fix
def s3_bucket_policy_statements_apply_only_when_their_conditions_hold() -> None:
    """moto 5.2.5: a bucket policy statement whose Condition moto cannot verify (any operator but
    StringEquals, or a key it has no value for) counts as an explicit deny, whatever its Effect.

    The usual TLS-only statement (Deny ``s3:*`` when ``aws:SecureTransport`` is false) thus denied
    every object request: DeleteObjects answered AccessDenied for each key, so amazon.aws.s3_bucket
    ``state: absent, force: true`` could not empty a bucket with such a policy, and GetObject /
    PutObject / DeleteObject answered 403. AWS applies a statement only when its conditions hold
    for the request; requests reach S3 over HTTPS (``aws:SecureTransport`` true), so the TLS-only
    deny does not apply to them. Statements whose conditions do not hold are left out of the
    evaluation; the others are evaluated by moto as before.
    """
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    @_around(FakeBucket, "get_permission")
    def get_permission(original: Callable[..., Any], self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return original(self, action, resource)
        policy = json.loads(self.policy.decode())
        statements = policy.get("Statement", [])
        applying = []
        for stmt in statements if isinstance(statements, list) else [statements]:
            conditions = stmt.get("Condition") or {}
            if all(_policy_condition_holds(op, vals) for op, vals in conditions.items()):
                applying.append({k: v for k, v in stmt.items() if k != "Condition"})
        if not applying:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps(dict(policy, Statement=applying))).is_action_permitted(
            action, resource
        )


# Set while moto decides an anonymous object request (no Authorization header, no presigned URL).
_S3_ANONYMOUS = threading.local()


def _names_everyone(statement: dict[str, Any]) -> bool:
    """Whether a bucket policy statement applies to an anonymous requester: its Principal is
    ``"*"`` or ``{"AWS": "*"}`` (alone or in a list), or it has a NotPrincipal (which names no
    anonymous requester unless it says ``*``)."""
    if "NotPrincipal" in statement:
        return not _names_everyone({"Principal": statement["NotPrincipal"]})
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    named = principal.get("AWS", [])
    return "*" in (named if isinstance(named, list) else [named])


@fix
def s3_anonymous_requests_are_granted_only_by_statements_for_everyone() -> None:
    """moto 5.2.5 lets an anonymous GetObject (no credentials, no presigned URL) through when any
    Allow statement of the bucket policy matches the action and the object, whatever its
    Principal: a grant to ``{"Service": "cloudfront.amazonaws.com"}`` (origin access control) or
    to one role made the object public.

    AWS grants an anonymous request only through a statement whose Principal is ``"*"`` or
    ``{"AWS": "*"}`` (and whose conditions hold); a statement naming a service, an account or a
    role does not apply to it, nor does a Deny naming one (S3 User Guide, "Principals"; "How
    Amazon S3 authorizes a request"). The bucket policy is read here with only the statements
    that apply to everyone (their conditions checked as before) while moto decides an anonymous
    object request.
    """
    from types import SimpleNamespace

    from moto.s3.models import FakeBucket
    from moto.s3.responses import S3Response

    @_around(FakeBucket, "get_permission")
    def get_permission(original: Callable[..., Any], self: Any, action: str, resource: str) -> Any:
        if not getattr(_S3_ANONYMOUS, "request", False) or self.policy is None:
            return original(self, action, resource)
        policy = json.loads(self.policy.decode())
        statements = policy.get("Statement", [])
        statements = statements if isinstance(statements, list) else [statements]
        everyone = dict(policy, Statement=[s for s in statements if _names_everyone(s)])
        return original(SimpleNamespace(policy=json.dumps(everyone).encode()), action, resource)

    @_around(S3Response, "_key_response")
    def key_response(original: Callable[..., Any], self: Any, request: Any, full_url: str):
        signed = "Signature=" in getattr(request, "url", getattr(request, "path", ""))
        _S3_ANONYMOUS.request = "Authorization" not in request.headers and not signed
        try:
            return original(self, request, full_url)
        finally:
            _S3_ANONYMOUS.request = False


@fix
def s3_delete_objects_checks_each_key() -> None:
    """moto 5.2.5 authorizes DeleteObjects on the bucket. AWS checks s3:DeleteObject on each key
    and reports the keys it refused as AccessDenied errors of the response, deleting the others."""
    from xml.sax.saxutils import escape

    import xmltodict
    from moto.iam.access_control import S3IAMRequest
    from moto.s3.exceptions import S3ClientError
    from moto.s3.responses import S3Response

    @_around(S3Response, "_bucket_response_delete_keys")
    def delete_keys(original: Callable[..., Any], self: Any, bucket_name: str, **kwargs: Any):
        refused: list[str] = []
        objects = xmltodict.parse(self.body, strip_whitespace=False)["Delete"].get("Object", [])
        objects = objects if isinstance(objects, list) else [objects]
        for obj in objects:
            try:
                _iam_authorize(self, S3IAMRequest, f"arn:aws:s3:::{bucket_name}/{obj['Key']}")
            except S3ClientError:  # a refusal of this key, reported below
                refused.append(obj["Key"])
        if not refused:
            return original(self, bucket_name, **kwargs)
        kept = [o for o in objects if o["Key"] not in refused]
        errors = "".join(
            f"<Error><Key>{escape(key)}</Key><Code>AccessDenied</Code>"
            "<Message>Access Denied</Message></Error>"
            for key in refused
        )
        if not kept:
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                f'<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{errors}</DeleteResult>'
            )
            return 200, {}, body
        doc = xmltodict.parse(self.body, strip_whitespace=False)
        doc["Delete"]["Object"] = kept
        self.body = xmltodict.unparse(doc).encode()
        status, headers, body = original(self, bucket_name, **kwargs)
        return status, headers, body.replace("</DeleteResult>", errors + "</DeleteResult>")


_S3_LOG_CAPTURE = threading.local()


@fix
def s3_access_logs_in_flight_land_after_logging_stops() -> None:
    """moto 5.2.5: a server access log record is written into the target bucket during the
    request it records, so once a source bucket stops logging (or is deleted) its target
    receives nothing more.

    AWS delivers records best effort, minutes to hours after the request, and keeps delivering
    them after logging is turned off or the source bucket deleted (AWS_DURATIONS): a log bucket
    emptied once can still answer BucketNotEmpty to DeleteBucket. Emulated at the worst moments:
    a record stays in flight up to the scaled duration and lands earlier just before a request to
    its target bucket, one record per request (a deleted target drops it, as AWS does). At scale
    0 every record lands at once, as moto does.
    """
    from moto.s3.models import S3Backend

    # (account, target bucket) -> [(due, put_object args, kwargs)], oldest first.
    in_flight: dict[tuple[str, str], list[tuple[float, tuple, dict]]] = {}
    lock = threading.Lock()
    store = S3Backend.put_object

    @_around(S3Backend, "put_object")
    def put_object(original: Callable[..., Any], self: Any, bucket_name: str, *args, **kwargs):
        records = getattr(_S3_LOG_CAPTURE, "records", None)
        if records is None:
            return original(self, bucket_name, *args, **kwargs)
        records.append((bucket_name, args, kwargs))
        return None

    def land(backend: Any, bucket_name: str) -> None:
        """The records due in this bucket, and one more: a request to it is the worst moment."""
        now = time.monotonic()
        with lock:
            queue = in_flight.get((backend.account_id, bucket_name))
            if not queue:
                return
            count = sum(1 for due, _, _ in queue if due <= now) + 1
            landing, queue[:] = queue[:count], queue[count:]
        for _due, args, kwargs in landing:
            # A target deleted meanwhile drops the record, as AWS does.
            with contextlib.suppress(Exception):
                store(backend, bucket_name, *args, **kwargs)

    @_around(S3Backend, "log_incoming_request")
    def log_request(original: Callable[..., None], self: Any, request: Any, bucket_name: str):
        land(self, bucket_name)
        _S3_LOG_CAPTURE.records = []
        try:
            original(self, request, bucket_name)
        finally:
            records, _S3_LOG_CAPTURE.records = _S3_LOG_CAPTURE.records, None
        due = _ready_at("s3.server_access_logs.in_flight")
        for target, args, kwargs in records:
            with lock:
                in_flight.setdefault((self.account_id, target), []).append((due, args, kwargs))
            if due <= time.monotonic():
                land(self, target)
