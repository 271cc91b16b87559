"""The realistic mode: AWS's durations, eventual consistency (``AWS_CONSISTENCY``) and seeded
faults, behind one switch (``/moto-api/fidelity/realistic``).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from local.emulator.fidelity.core import _around, fix
from local.emulator.fidelity.journal import _journal_record
from local.emulator.fidelity.timing import _TIMING, AWS_DURATIONS, _ready_at

# --------------------------------------------------------------------------------------------
# The realistic mode: AWS's durations, eventual consistency and seeded faults
# --------------------------------------------------------------------------------------------
# One switch, for the suite that proves the playbooks converge on an AWS that is slow, lagging
# and flaky, and for the benchmarks:
#   POST /moto-api/fidelity/realistic {"scale": 1/60, "fault_rate": 0.05, "seed": 7}
# or FIDELITY_REALISTIC='{"scale": ..., "fault_rate": ..., "seed": ...}' when the emulator
# starts. It sets the timing scale (timing.py: every AWS_DURATIONS entry, including the
# transitions only this mode plays: RDS modifying/deleting, CloudFront InProgress, ALB
# provisioning, Auto Scaling instances Pending), makes new resources briefly unknown where AWS
# is eventually consistent ("consistency", a factor of AWS_CONSISTENCY's seconds, default 1:
# they are short already), and refuses a share of requests with the service's own throttling or
# 5xx error. A fault is decided per (seed, service, action, nth call of that action): a run
# replays with the same seed even when lanes interleave differently. Faults come before the
# action (nothing was done) and are in the journal ("fault": code). {"scale": 0, "fault_rate":
# 0} turns it off.
# S3 requests are not faulted: moto serves them outside the dispatch hooked here.
AWS_CONSISTENCY: dict[str, tuple[float, str]] = {
    "iam.instance_profile": (
        10,
        "IAM User Guide, 'Changes that I make are not always immediately visible' (eventual "
        "consistency); EC2 answers 'Invalid IAM Instance Profile name' meanwhile: "
        "terraform-provider-aws retries RunInstances and CreateAutoScalingGroup on it for up to "
        "2 min (propagationTimeout), typically seconds",
    ),
    "ec2.new_resource_id": (
        1,
        "EC2 API Reference, 'Eventual consistency in the Amazon EC2 API': a resource just "
        "created may answer InvalidSubnetID.NotFound / InvalidRouteTableID.NotFound / "
        "InvalidGroup.NotFound to the next calls naming it; callers must retry with backoff "
        "(seconds in practice)",
    ),
}
AWS_DURATIONS.update(
    {
        "rds.db_instance.modifying": (
            300,
            "RDS User Guide, 'Modifying an Amazon RDS DB instance': with ApplyImmediately a "
            "class, storage or version change leaves the instance 'modifying' for minutes",
        ),
        "rds.db_instance.deleting": (
            360,
            "RDS User Guide, 'Deleting a DB instance': 'deleting' for minutes (final snapshot "
            "included) before DescribeDBInstances answers DBInstanceNotFound",
        ),
        "cloudfront.distribution.deploying": (
            300,
            "CloudFront Developer Guide, distribution Status: InProgress until the change has "
            "propagated to every edge location, then Deployed; AWS (2020): 'under 5 minutes'",
        ),
        "elbv2.load_balancer.provisioning": (
            150,
            "ELB User Guide, load balancer states: 'provisioning' then 'active' (the "
            "load_balancer_available waiter); typically 2-3 min in published terraform apply "
            "timings",
        ),
        "autoscaling.instance.pending": (
            60,
            "EC2 Auto Scaling User Guide, 'Instance lifecycle': Pending until the instance is "
            "running and launch lifecycle hooks completed (about a minute), then InService",
        ),
    }
)
_REALISTIC: dict[str, Any] = {"on": False, "fault_rate": 0.0, "seed": 0, "consistency": 1.0}
_REALISTIC_LOCK = threading.Lock()
_REALISTIC_CALLS: dict[tuple[str, str], int] = {}
_REALISTIC_FAULTS: dict[str, int] = {}
# Where a resource id / instance profile becomes usable (monotonic time), realistic mode only.
_YOUNG: dict[str, float] = {}

# The error each protocol's services answer (status, code, message), from the API references'
# 'Common Errors' pages; the query and JSON protocols differ only in the throttling code, EC2's
# and DynamoDB's own codes differ.
_COMMON_5XX: dict[str, tuple[int, str, str]] = {
    "internal": (
        500,
        "InternalFailure",
        "The request processing has failed because of an unknown error, exception or failure.",
    ),
    "unavailable": (
        503,
        "ServiceUnavailable",
        "The request has failed due to a temporary failure of the server.",
    ),
}
_FAULTS: dict[str, dict[str, tuple[int, str, str]]] = {
    "query": {"throttle": (400, "Throttling", "Rate exceeded"), **_COMMON_5XX},
    "json": {"throttle": (400, "ThrottlingException", "Rate exceeded"), **_COMMON_5XX},
    # EC2 API Reference, 'Error codes': RequestLimitExceeded is a 503, InternalError a 500.
    "ec2": {
        "throttle": (503, "RequestLimitExceeded", "Request limit exceeded."),
        "internal": (500, "InternalError", "An internal error has occurred."),
        "unavailable": (
            503,
            "Unavailable",
            "The server is overloaded and can't handle the request.",
        ),
    },
    # DynamoDB Developer Guide, 'Error handling': ThrottlingException (control plane),
    # InternalServerError (500), ServiceUnavailable (503).
    "dynamodb": {
        "throttle": (
            400,
            "ThrottlingException",
            "Rate of requests exceeds the allowed throughput.",
        ),
        "internal": (500, "InternalServerError", "Internal server error"),
        "unavailable": (503, "ServiceUnavailable", "The service is currently unavailable or busy."),
    },
}
_FAULTS["rest-xml"] = _FAULTS["query"]  # CloudFront, Route 53: Throttling (400), 5xx as query
_FAULTS["rest-json"] = _FAULTS["json"]
_FAULTS["smithy-rpc-v2-cbor"] = _FAULTS["query"]  # CloudWatch: its query codes
_FAULT_KINDS = ("throttle", "throttle", "internal", "unavailable")


def _realistic_ready_at(kind: str) -> float:
    """As _ready_at, for the transitions only the realistic mode plays (else: ready now)."""
    return _ready_at(kind) if _REALISTIC["on"] else 0.0


def _made_now(*keys: str, kind: str) -> None:
    """Record resources AWS does not yet know everywhere (realistic mode only)."""
    if not _REALISTIC["on"]:
        return
    now = time.monotonic()
    until = now + AWS_CONSISTENCY[kind][0] * _REALISTIC["consistency"]
    with _REALISTIC_LOCK:
        for key in [key for key, at in _YOUNG.items() if at <= now]:
            del _YOUNG[key]  # known everywhere by now
        _YOUNG.update(dict.fromkeys((key for key in keys if key), until))


def _young(key: str | None) -> bool:
    return bool(key) and time.monotonic() < _YOUNG.get(key, 0)  # type: ignore[arg-type]


# What EC2 answers to a call naming one of its resources it does not know yet.
_EC2_NOT_FOUND = {
    "subnet-": ("InvalidSubnetID.NotFound", "The subnet ID '{}' does not exist"),
    "rtb-": ("InvalidRouteTableID.NotFound", "The routeTable ID '{}' does not exist"),
    "sg-": ("InvalidGroup.NotFound", "The security group '{}' does not exist"),
}


def _ec2_unknown_yet(querystring: dict[str, Any]) -> tuple[str, str] | None:
    """(code, message) if an EC2 request names a resource not yet consistent, else None."""
    for key, values in querystring.items():
        if key.startswith(("Filter.", "TagSpecification.")):
            continue
        for value in values if isinstance(values, list) else [values]:
            prefix = str(value).split("-")[0] + "-"
            if prefix in _EC2_NOT_FOUND and _young(value):
                code, message = _EC2_NOT_FOUND[prefix]
                return code, message.format(value)
    return None


def _fault_for(service: str, action: str) -> int | None:
    """The fault this call gets, decided by (seed, service, action, nth call of the action)."""
    import hashlib

    rate = _REALISTIC["fault_rate"]
    if not _REALISTIC["on"] or rate <= 0:
        return None
    with _REALISTIC_LOCK:
        nth = _REALISTIC_CALLS[(service, action)] = _REALISTIC_CALLS.get((service, action), 0) + 1
    digest = hashlib.sha256(f"{_REALISTIC['seed']}/{service}/{action}/{nth}".encode()).digest()
    if int.from_bytes(digest[:8]) / 2**64 >= rate:
        return None
    return digest[8]


def _refusal(response: Any, status: int, code: str, message: str) -> Any:
    """The error answer to ``response``'s request in its service's protocol, journaled."""
    from moto.core.exceptions import ServiceException
    from moto.core.responses import ActionResult

    with _REALISTIC_LOCK:
        _REALISTIC_FAULTS[code] = _REALISTIC_FAULTS.get(code, 0) + 1
    _journal_record(response, fault=code)
    # Defined here, not in moto: moto would look the code up in the model of its package.
    refused = type("Refused", (ServiceException,), {"__module__": __name__})
    _status, headers, body = response.serialized(ActionResult(refused(code, message)))
    headers["status"] = status
    headers, body = response._enrich_response(headers, body)
    return status, headers, body


def _profile_of_template(ec2_backend: Any, spec: dict[str, Any] | None) -> dict[str, str]:
    if not spec:
        return {}
    with contextlib.suppress(Exception):
        return ec2_backend._get_template_from_args(spec).data.get("IamInstanceProfile") or {}
    return {}


def _young_profile(profile: dict[str, Any]) -> tuple[str, str] | None:
    """(parameter, value) of an instance profile AWS cannot use yet, else None."""
    for key in ("Name", "Arn"):
        if _young(profile.get(key)):
            return f"iamInstanceProfile.{key.lower()}", profile[key]
    return None


@fix
def realistic_mode_endpoint() -> None:
    """Not a moto gap: the switch of the realistic mode, ``/moto-api/fidelity/realistic``
    (see the section's comment). GET shows the settings, the durations and the faults given."""
    from moto.moto_api._internal import urls

    def configure(settings: dict[str, Any]) -> None:
        scale = float(settings.get("scale", 0))
        rate = float(settings.get("fault_rate", 0))
        consistency = float(settings.get("consistency", 1))
        if not (0 <= scale <= 1 and 0 <= rate <= 1 and consistency >= 0):
            raise ValueError("scale and fault_rate between 0 and 1, consistency >= 0")
        with _REALISTIC_LOCK:
            _TIMING["scale"] = scale
            _REALISTIC.update(
                on=bool(scale or rate),
                fault_rate=rate,
                seed=int(settings.get("seed", 0)),
                consistency=consistency,
            )
            _REALISTIC_CALLS.clear()
            _REALISTIC_FAULTS.clear()
            if not _REALISTIC["on"]:
                _YOUNG.clear()  # off: moto's instant consistency again, for every resource

    def realistic(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
        if request.method == "POST":
            try:
                configure(json.loads(request.get_data() or b"{}"))
            except (ValueError, TypeError) as error:
                return 400, {}, json.dumps({"error": str(error)})
        body = {
            **_REALISTIC,
            "scale": _TIMING["scale"],
            "faults": dict(_REALISTIC_FAULTS),
            "durations": AWS_DURATIONS,
            "consistency_windows": AWS_CONSISTENCY,
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    urls.url_paths["{0}/moto-api/fidelity/realistic"] = realistic
    if os.environ.get("FIDELITY_REALISTIC"):
        configure(json.loads(os.environ["FIDELITY_REALISTIC"]))


@fix
def realistic_requests_are_throttled_and_fail_now_and_then() -> None:
    """AWS throttles (Throttling, RequestLimitExceeded, ThrottlingException) and fails
    transiently (InternalError/InternalFailure 500, ServiceUnavailable/Unavailable 503); SDKs
    retry both. moto never does: in the realistic mode the emulator does, at fault_rate."""
    from botocore.loaders import Loader
    from moto.core.responses import BaseResponse

    protocols: dict[str, str] = {}

    def protocol(response: BaseResponse) -> str:
        name = response.boto3_service_name
        if name not in protocols:
            model = Loader().load_service_model(name, "service-2")
            protocols[name] = model["metadata"]["protocol"]
        return protocols[name]

    @_around(BaseResponse, "call_action")
    def call_action(original: Callable[..., Any], self: BaseResponse) -> Any:
        # Eventual consistency (realistic_new_ec2_ids_are_not_found_for_a_moment) is checked
        # here too, so that this hook stays the outermost of the realistic mode's.
        if _YOUNG and self.service_name == "ec2":
            unknown = _ec2_unknown_yet(self.querystring or {})
            if unknown:
                return _refusal(self, 400, *unknown)
        choice = _fault_for(self.service_name, self._get_action())
        if choice is None:
            return original(self)
        faults = _FAULTS.get(self.service_name) or _FAULTS.get(protocol(self), _FAULTS["query"])
        return _refusal(self, *faults[_FAULT_KINDS[choice % len(_FAULT_KINDS)]])


@fix
def realistic_new_ec2_ids_are_not_found_for_a_moment() -> None:
    """AWS's EC2 API is eventually consistent: a subnet, route table or security group just
    created may answer InvalidSubnetID.NotFound, InvalidRouteTableID.NotFound or
    InvalidGroup.NotFound to the next calls naming it (AWS_CONSISTENCY). moto knows it at once.
    Filters are not refused (AWS then lists fewer, which no caller here relies on); the
    refusal itself is answered by the realistic mode's request hook (_ec2_unknown_yet)."""
    from moto.ec2.models.route_tables import RouteBackend
    from moto.ec2.models.security_groups import SecurityGroupBackend
    from moto.ec2.models.subnets import SubnetBackend

    for backend, name in (
        (SubnetBackend, "create_subnet"),
        (RouteBackend, "create_route_table"),
        (SecurityGroupBackend, "create_security_group"),
    ):

        @_around(backend, name)
        def create(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
            made = original(self, *args, **kwargs)
            _made_now(made.id, kind="ec2.new_resource_id")
            return made
