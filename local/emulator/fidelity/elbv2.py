"""Elastic Load Balancing (v2) fixes: provisioning, default attributes, access logs,
deregistration delay, hosted zones, listener certificates, network interfaces.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from local.emulator.fidelity.core import _around, _settling, fix
from local.emulator.fidelity.deferred import _later
from local.emulator.fidelity.ec2 import _release_network_interface
from local.emulator.fidelity.realistic import _realistic_ready_at
from local.emulator.fidelity.timing import _ready_at


@fix
def realistic_load_balancers_provision_and_group_instances_pend() -> None:
    """moto 5.2.5: a load balancer is active on its first describe and an Auto Scaling group's
    instances are InService at once. AWS: 'provisioning' for minutes, and instances Pending
    until launched (AWS_DURATIONS, realistic mode)."""
    from moto.autoscaling.models import InstanceState
    from moto.elbv2.models import FakeLoadBalancer

    @_around(FakeLoadBalancer, "__init__")
    def init(original: Callable[..., None], self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.__dict__["fidelity_ready_at"] = _realistic_ready_at("elbv2.load_balancer.provisioning")

    @_around(FakeLoadBalancer, "activate")
    def activate(original: Callable[..., None], self: Any) -> None:
        if time.monotonic() >= self.__dict__.get("fidelity_ready_at", 0):
            original(self)

    _settling(InstanceState, "lifecycle_state", settled="InService", settling="Pending")

    @_around(InstanceState, "__init__")
    def state_init(original: Callable[..., None], self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.__dict__["fidelity_ready_at"] = _realistic_ready_at("autoscaling.instance.pending")


# Attributes AWS reports for a new application load balancer (DescribeLoadBalancerAttributes).
_ALB_DEFAULT_ATTRIBUTES = {
    "access_logs.s3.enabled": "false",
    "idle_timeout.timeout_seconds": "60",
    "routing.http2.enabled": "true",
    "routing.http.drop_invalid_header_fields.enabled": "false",
    "routing.http.desync_mitigation_mode": "defensive",
    "routing.http.preserve_host_header.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
    "routing.http.xff_client_port.enabled": "false",
    "routing.http.xff_header_processing.mode": "append",
    "waf.fail_open.enabled": "false",
    "client_keep_alive.seconds": "3600",
}


@fix
def elbv2_application_load_balancer_reports_default_attributes() -> None:
    """moto 5.2.5: a new ALB reports only four attributes (idle timeout, HTTP/2, header handling
    ... left out "for Terraform compatibility"); amazon.aws.elb_application_lb reads
    ``idle_timeout.timeout_seconds`` and the routing.* attributes and failed with KeyError.

    AWS reports every attribute with its default value.
    """
    from moto.elbv2.models import FakeLoadBalancer

    @_around(FakeLoadBalancer, "__init__")
    def init(original: Callable[..., None], self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if self.type == "application":
            for key, value in _ALB_DEFAULT_ATTRIBUTES.items():
                self.attrs.setdefault(key, value)


# Elastic Load Balancing's account per Region, which writes access logs in the Regions opened
# before August 2022 (ELB User Guide, "Enable access logs", step 2); newer Regions grant the
# service principal logdelivery.elasticloadbalancing.amazonaws.com instead.
ELB_ACCESS_LOG_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580",
    "ap-south-1": "718504428378",
    "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-gov-west-1": "048591011584",
    "us-gov-east-1": "190560391635",
}
ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"


@fix
def elbv2_access_logs_need_a_bucket_elb_may_write() -> None:
    """moto 5.2.5: ``access_logs.s3.enabled=true`` is accepted for any bucket, or none.

    AWS, when access logs are turned on, writes a test object,
    ``<prefix>/AWSLogs/<account>/ELBAccessLogTestFile``, as Elastic Load Balancing (the Region's
    ELB account, or logdelivery.elasticloadbalancing.amazonaws.com in the newer Regions) and
    refuses with InvalidConfigurationRequest "Access Denied for bucket: <bucket>. Please check
    S3bucket permission" unless the bucket, in the load balancer's Region and encrypted with
    SSE-S3 (the only encryption supported), lets it; the test object stays in the bucket.
    """
    from moto.elbv2.exceptions import ELBClientError
    from moto.elbv2.models import ELBv2Backend
    from moto.s3.models import s3_backends

    from local.emulator.iam_policy import Principal, evaluate

    def refuse(message: str) -> Exception:
        return ELBClientError("InvalidConfigurationRequest", message)

    @_around(ELBv2Backend, "modify_load_balancer_attributes")
    def modify(original: Callable[..., Any], self: Any, arn: str, attrs: dict[str, Any]) -> Any:
        balancer = self.load_balancers.get(arn)
        merged = {**(balancer.attrs if balancer else {}), **attrs}
        if balancer is None or str(merged.get("access_logs.s3.enabled")).lower() != "true":
            return original(self, arn, attrs)
        name = merged.get("access_logs.s3.bucket") or ""
        prefix = (merged.get("access_logs.s3.prefix") or "").strip("/")
        s3 = s3_backends[self.account_id]["aws"]
        bucket = s3.buckets.get(name)
        if bucket is None:
            raise refuse(f"The specified bucket does not exist: {name}")
        if bucket.region_name != self.region_name:
            raise refuse(f"Access Denied for bucket: {name}. Please check S3bucket permission")
        rules = (bucket.encryption or {}).get("Rule") or []
        rules = rules if isinstance(rules, list) else [rules]
        algorithms = {
            (rule.get("ApplyServerSideEncryptionByDefault") or {}).get("SSEAlgorithm")
            for rule in rules
        }
        key = "/".join(filter(None, [prefix, "AWSLogs", self.account_id, "ELBAccessLogTestFile"]))
        policy = json.loads(bucket.policy.decode()) if bucket.policy else None
        writers = [Principal(service=ELB_LOG_DELIVERY_SERVICE)]
        if self.region_name in ELB_ACCESS_LOG_ACCOUNTS:
            elb = ELB_ACCESS_LOG_ACCOUNTS[self.region_name]
            writers.append(Principal(arn=f"arn:aws:iam::{elb}:root", account=elb))
        context = {
            "aws:SecureTransport": True,
            "aws:SourceAccount": self.account_id,
            "aws:SourceArn": arn,
        }
        allowed = policy is not None and any(
            evaluate(
                [],
                "s3:PutObject",
                f"arn:aws:s3:::{name}/{key}",
                context,
                principal=writer,
                resource_policies=[policy],
            ).allowed
            for writer in writers
        )
        if not allowed or algorithms & {"aws:kms", "aws:kms:dsse"}:
            raise refuse(f"Access Denied for bucket: {name}. Please check S3bucket permission")
        s3.put_object(name, key, f"Enable AccessLog for ELB: {balancer.name}".encode())
        return original(self, arn, attrs)


# --------------------------------------------------------------------------------------------
# ELBv2: deregistration delay (connection draining)
# --------------------------------------------------------------------------------------------


@fix
def elbv2_deregistered_targets_drain_for_the_deregistration_delay() -> None:
    """moto 5.2.5: DeregisterTargets removes a target at once (state ``unused``).

    AWS keeps a deregistered target in state ``draining`` (reason
    ``Target.DeregistrationInProgress``) for the target group's
    ``deregistration_delay.timeout_seconds`` (default 300) while in-flight requests finish, lists
    it in DescribeTargetHealth meanwhile, and only then reports it ``unused``
    (``Target.NotRegistered``). Registering it again ends the draining. Rolling patching waits for
    this (community.aws.elb_target ``target_status: unused``) before touching a host.
    """
    import time

    from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeTargetGroup

    def draining(group: FakeTargetGroup) -> dict[str, tuple[dict[str, Any], float]]:
        found = group.__dict__.setdefault("fidelity_draining", {})
        now = time.monotonic()
        for target_id in [t for t, (_target, until) in found.items() if until <= now]:
            del found[target_id]
        return found

    @_around(FakeTargetGroup, "deregister")
    def deregister(original: Callable[..., None], self: FakeTargetGroup, targets: Any) -> None:
        delay = int(self.attributes.get("deregistration_delay.timeout_seconds", 300))
        registered = [dict(self.targets[t["Id"]]) for t in targets if t["Id"] in self.targets]
        original(self, targets)
        for target in registered:
            draining(self)[target["Id"]] = (target, time.monotonic() + delay)

    @_around(FakeTargetGroup, "register")
    def register(original: Callable[..., None], self: FakeTargetGroup, targets: Any) -> None:
        original(self, targets)
        for target in targets:
            draining(self).pop(target["Id"], None)

    @_around(FakeTargetGroup, "health_for")
    def health_for(original: Callable[..., Any], self: FakeTargetGroup, target: Any, ec2: Any):
        if target["Id"] not in self.targets and target["Id"] in draining(self):
            registered, _until = draining(self)[target["Id"]]
            return FakeHealthStatus(
                registered["Id"],
                registered["Port"],
                self.health_check_port,
                "draining",
                "Target.DeregistrationInProgress",
                "Target deregistration is in progress",
            )
        return original(self, target, ec2)

    @_around(ELBv2Backend, "describe_target_health")
    def describe_target_health(
        original: Callable[..., Any], self: ELBv2Backend, target_group_arn: str, targets: Any
    ) -> Any:
        group = self.target_groups.get(target_group_arn)
        if not targets and group is not None and draining(group):
            targets = list(group.targets.values()) + [t for t, _ in draining(group).values()]
        return original(self, target_group_arn, targets)


# --------------------------------------------------------------------------------------------
# The ALB as CloudFront's origin: its certificate, its hosted zone (the alias record: route53.py)
# --------------------------------------------------------------------------------------------

# Route 53 hosted zone of Application (and Classic) Load Balancers, by region: AWS General
# Reference, "Elastic Load Balancing endpoints and quotas" (https://docs.aws.amazon.com/general/
# latest/gr/elb.html), the zone an alias record to a load balancer must name.
_ALB_HOSTED_ZONES = {
    "us-east-1": "Z35SXDOTRQ7X7K",
    "us-east-2": "Z3AADJGX6KTTL2",
    "us-west-1": "Z368ELLRRE2KJ0",
    "us-west-2": "Z1H1FL5HABSF5",
    "ca-central-1": "ZQSVJUPU6J1EY",
    "eu-central-1": "Z215JYRZR1TBD5",
    "eu-west-1": "Z32O12XQLNTSW2",
    "eu-west-2": "ZHURV8PSTC4K8",
    "eu-west-3": "Z3Q77PNBQS71R4",
    "eu-north-1": "Z23TAZ6LKFMNIO",
    "ap-northeast-1": "Z14GRHDCWA56QT",
    "ap-northeast-2": "ZWKZPGTI48KDX",
    "ap-southeast-1": "Z1LMS91P8CMLE5",
    "ap-southeast-2": "Z1GM3OXH4ZPM65",
    "ap-south-1": "ZP97RAFLXTNZK",
    "sa-east-1": "Z2P70J7HTTTPLU",
}


@fix
def elbv2_load_balancers_report_their_regions_hosted_zone() -> None:
    """moto 5.2.5: every load balancer reports ``CanonicalHostedZoneId`` "Z2P70J7EXAMPLE".

    AWS reports the Elastic Load Balancing zone of the balancer's region (_ALB_HOSTED_ZONES for
    Application Load Balancers), the zone a Route 53 alias record to it must name.
    """
    from moto.elbv2.models import FakeLoadBalancer

    @_around(FakeLoadBalancer, "__init__")
    def init(original: Callable[..., None], self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        region = str(self.arn).split(":")[3]
        if self.type == "application" and region in _ALB_HOSTED_ZONES:
            self.canonical_hosted_zone_id = _ALB_HOSTED_ZONES[region]


@fix
def elbv2_listener_certificates_are_issued_acm_certificates() -> None:
    """moto 5.2.5: an HTTPS listener takes an ACM certificate in any status (and a missing one
    with classic ELB's ``CertificateNotFoundException``).

    AWS: ``CertificateNotFound`` ("Certificate '<arn>' not found") for a certificate that is not
    in ACM in the balancer's region, and ``UnsupportedCertificate`` ("The certificate '<arn>' must
    have a fully-qualified domain name, a supported signature, and a supported key size.") for one
    that is not ISSUED yet, e.g. still PENDING_VALIDATION (seen on CreateListener:
    hashicorp/terraform-provider-aws#26245, DataBiosphere/azul#8321). Applies to CreateListener,
    ModifyListener and AddListenerCertificates.
    """
    from moto.acm.models import CertificateNotFound, acm_backends
    from moto.elbv2.exceptions import ELBClientError
    from moto.elbv2.models import ELBv2Backend

    def check(backend: ELBv2Backend, arns: list[str]) -> None:
        for arn in arns:
            if not arn or ":acm:" not in arn:
                continue  # IAM server certificates: not ACM's
            try:
                certificate = acm_backends[backend.account_id][backend.region_name].get_certificate(
                    arn
                )
            except CertificateNotFound:
                raise ELBClientError(
                    "CertificateNotFound", f"Certificate '{arn}' not found"
                ) from None
            if certificate.status != "ISSUED":
                raise ELBClientError(
                    "UnsupportedCertificate",
                    f"The certificate '{arn}' must have a fully-qualified domain name, a "
                    "supported signature, and a supported key size.",
                )

    def arns_of(certificates: Any) -> list[str]:
        return [c.get("CertificateArn", "") for c in certificates or []]

    @_around(ELBv2Backend, "create_listener")
    def create_listener(
        original: Callable[..., Any], self: ELBv2Backend, *args: Any, **kwargs: Any
    ) -> Any:
        certificate = kwargs.get("certificate", args[4] if len(args) > 4 else None)
        check(self, [certificate] if certificate else [])
        return original(self, *args, **kwargs)

    @_around(ELBv2Backend, "modify_listener")
    def modify_listener(
        original: Callable[..., Any], self: ELBv2Backend, *args: Any, **kwargs: Any
    ) -> Any:
        check(self, arns_of(kwargs.get("certificates", args[4] if len(args) > 4 else None)))
        return original(self, *args, **kwargs)

    @_around(ELBv2Backend, "add_listener_certificates")
    def add_listener_certificates(
        original: Callable[..., Any], self: ELBv2Backend, arn: str, certificates: Any
    ) -> Any:
        check(self, arns_of(certificates))
        return original(self, arn, certificates)


@fix
def elbv2_load_balancers_hold_network_interfaces() -> None:
    """moto 5.2.5: a load balancer has no network interface in its subnets.

    AWS: one requester-managed interface per subnet (``ELB app/<name>/<id>``, in use, the load
    balancer's security groups, a public address when internet-facing), and they stay for
    minutes after DeleteLoadBalancer (AWS_DURATIONS), or SetSubnets for a subnet it left: its
    subnets and security groups cannot be deleted nor the internet gateway detached meanwhile
    (DependencyViolation).
    """
    from moto.ec2.utils import random_public_ip
    from moto.elbv2.models import ELBv2Backend

    def held(balancer: Any) -> dict[str, str]:
        """subnet id -> the balancer's interface in it."""
        return balancer.__dict__.setdefault("fidelity_enis", {})

    def release_later(ec2_backend: Any, eni_ids: list[str]) -> None:
        def released() -> None:
            for eni_id in eni_ids:
                _release_network_interface(ec2_backend, eni_id)

        if eni_ids:
            _later(_ready_at("elbv2.load_balancer.network_interfaces"), released)

    def follow_subnets(backend: Any, balancer: Any) -> None:
        ec2, interfaces = backend.ec2_backend, held(balancer)
        kind = {"network": "net", "gateway": "gwy"}.get(balancer.type, "app")
        for subnet in balancer.subnets:
            if subnet.id in interfaces:
                continue
            eni = ec2.create_network_interface(
                subnet,
                None,
                group_ids=list(balancer.security_groups or []),
                description=f"ELB {kind}/{balancer.name}/{balancer.arn.rsplit('/', 1)[-1]}",
            )
            eni.requester_managed, eni.requester_id, eni.status = True, "amazon-elb", "in-use"
            if balancer.scheme != "internal":  # AWS's default scheme: internet-facing
                eni.public_ip = random_public_ip()
            interfaces[subnet.id] = eni.id
        current = {subnet.id for subnet in balancer.subnets}
        release_later(ec2, [interfaces.pop(s) for s in list(interfaces) if s not in current])

    @_around(ELBv2Backend, "create_load_balancer")
    def create(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        balancer = original(self, *args, **kwargs)
        follow_subnets(self, balancer)
        return balancer

    @_around(ELBv2Backend, "set_subnets")
    def set_subnets(original: Callable[..., Any], self: Any, arn: str, *args, **kwargs) -> Any:
        result = original(self, arn, *args, **kwargs)
        follow_subnets(self, self.load_balancers[arn])
        return result

    @_around(ELBv2Backend, "set_security_groups")
    def set_groups(
        original: Callable[..., None], self: Any, arn: str, sec_groups: list[str]
    ) -> None:
        original(self, arn, sec_groups)
        groups = [self.ec2_backend.get_security_group_from_id(g) for g in sec_groups]
        for eni_id in held(self.load_balancers[arn]).values():
            if eni_id in self.ec2_backend.enis:
                self.ec2_backend.enis[eni_id]._group_set = groups

    @_around(ELBv2Backend, "delete_load_balancer")
    def delete(original: Callable[..., None], self: Any, arn: str) -> None:
        balancer = self.load_balancers.get(arn)
        original(self, arn)
        if balancer is not None:
            release_later(self.ec2_backend, list(held(balancer).values()))
