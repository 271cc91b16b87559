"""Fidelity layer: make moto answer the way AWS does where the upstream modules depend on it.

Each fix is a function named after the AWS behaviour it restores, registered with ``@fix``;
``apply()`` installs them all into the moto server process before it starts serving. Every fix
has a test in tests/test_moto_fidelity.py showing the AWS-shaped response. Production playbooks
never carry emulator workarounds: they belong here.

Written against moto 5.2.5. Fixes wrap moto's own methods (``_around``) instead of copying them,
so that a moto upgrade keeps its behaviour and only the delta below is ours.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

FIXES: list[Callable[[], None]] = []
_applied = False


def fix(func: Callable[[], None]) -> Callable[[], None]:
    FIXES.append(func)
    return func


def apply() -> None:
    """Install every fix once (a second call is a no-op, so wrappers never stack)."""
    global _applied
    if _applied:
        return
    # Services emulated in their own module register their fixes when it is imported.
    from local.emulator import fidelity_elasticbeanstalk  # noqa: F401

    for func in FIXES:
        func()
    _applied = True


def _settling(owner: Any, name: str, *, settled: str, settling: str) -> None:
    """Make ``owner.name`` read ``settling`` while moto has set it to ``settled`` and the
    object's ``fidelity_ready_at`` (a monotonic time) has not come; any other value moto sets
    (e.g. deleting) reads as set."""
    key = f"fidelity_{name}"

    def get(self: Any) -> str:
        value = self.__dict__.get(key, settled)
        if value == settled and time.monotonic() < self.__dict__.get("fidelity_ready_at", 0):
            return settling
        return value

    def put(self: Any, value: str) -> None:
        self.__dict__[key] = value

    setattr(owner, name, property(get, put))


def _around(owner: Any, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Replace ``owner.name`` by the decorated function, which gets the original as first arg."""
    original = getattr(owner, name, None)

    def install(new: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(new)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return new(original, *args, **kwargs)

        setattr(owner, name, wrapper)
        return wrapper

    return install


# --------------------------------------------------------------------------------------------
# DynamoDB
# --------------------------------------------------------------------------------------------


@fix
def dynamodb_describe_table_has_table_id_and_class() -> None:
    """moto 5.2.5: DescribeTable has no TableId and ignores TableClass.

    AWS returns a stable ``TableId`` (UUID) for every table; community.aws.dynamodb_table reads
    it unconditionally (KeyError 'table_id'). A table created or updated with ``TableClass``
    reports it as ``TableClassSummary`` (the module compares it on every run).
    """
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    @_around(Table, "describe")
    def describe(original: Callable[..., dict[str, Any]], self: Table, *args: Any, **kwargs: Any):
        result = original(self, *args, **kwargs)
        if not hasattr(self, "fidelity_table_id"):
            self.fidelity_table_id = str(uuid.uuid4())
        for desc in result.values():
            desc["TableId"] = self.fidelity_table_id
            if getattr(self, "fidelity_table_class", None):
                desc["TableClassSummary"] = {"TableClass": self.fidelity_table_class}
        return result

    def remember_table_class(name: str) -> None:
        @_around(DynamoHandler, name)
        def handler(original: Callable[..., Any], self: DynamoHandler) -> Any:
            response = original(self)
            table_class = self.body.get("TableClass")
            if table_class:
                table = self.dynamodb_backend.get_table(self.body["TableName"])
                table.fidelity_table_class = table_class
            return response

    remember_table_class("create_table")
    remember_table_class("update_table")


# --------------------------------------------------------------------------------------------
# EC2: tags, NAT gateways, launch templates, instances launched from a template
# --------------------------------------------------------------------------------------------

# DescribeTags' resource-type names where moto's differ from AWS's (moto prefix -> AWS name).
_AWS_TAG_RESOURCE_TYPES = {
    "nat": "natgateway",
    "eipalloc": "elastic-ip",
    "h": "dedicated-host",
    "sir": "spot-instances-request",
}


@fix
def ec2_tag_resource_types_use_aws_names() -> None:
    """moto 5.2.5: DescribeTags calls a NAT gateway ``nat-gateway``; AWS says ``natgateway``.

    amazon.aws's ensure_ec2_tags filters on ``resource-type=natgateway``: moto found no tags,
    so ec2_vpc_nat_gateway re-tagged (changed) on every run. Same for elastic-ip and friends.
    """
    from moto.ec2 import utils

    # models/tags.py imported the very same dict object: update it in place.
    utils.EC2_PREFIX_TO_RESOURCE.update(_AWS_TAG_RESOURCE_TYPES)


@fix
def ec2_describe_nat_gateways_filters_by_tag() -> None:
    """moto 5.2.5: DescribeNatGateways ignores ``tag:<key>``, ``tag-key`` and ``tag-value``.

    AWS supports them (as for every EC2 Describe call); without them a lookup by Name tag
    returns every NAT gateway of the account.
    """
    from moto.ec2.models.nat_gateways import NatGatewayBackend
    from moto.ec2.utils import is_tag_filter, tag_filter_matches

    @_around(NatGatewayBackend, "describe_nat_gateways")
    def describe_nat_gateways(
        original: Callable[..., list[Any]],
        self: NatGatewayBackend,
        filters: dict[str, list[str]] | None,
        nat_gateway_ids: list[str] | None,
    ) -> list[Any]:
        filters = filters or {}
        tag_filters = {k: v for k, v in filters.items() if is_tag_filter(k)}
        rest = {k: v for k, v in filters.items() if not is_tag_filter(k)}
        gateways = original(self, rest or None, nat_gateway_ids)
        return [
            gw
            for gw in gateways
            if all(tag_filter_matches(gw, name, values) for name, values in tag_filters.items())
        ]


# The MetadataOptions AWS fills in on a launch template version when only some are given.
_METADATA_OPTION_DEFAULTS = {
    "HttpTokens": "optional",
    "HttpPutResponseHopLimit": 1,
    "HttpEndpoint": "enabled",
    "HttpProtocolIpv6": "disabled",
    "InstanceMetadataTags": "disabled",
}


@fix
def ec2_launch_template_data_is_what_was_put() -> None:
    """moto 5.2.5: CreateLaunchTemplate copies the template's own tags into its version data.

    AWS keeps CreateLaunchTemplate's ``TagSpecifications`` (resource type launch-template) on
    the template only; moto also appended them to version 1's ``LaunchTemplateData``, so
    amazon.aws.ec2_launch_template saw a difference and created a new version on every run.
    AWS also completes a partial ``MetadataOptions`` block with its defaults, and
    DescribeLaunchTemplates shows the template's current tags (moto: those at creation).
    """
    from moto.ec2.models.launch_templates import LaunchTemplate, LaunchTemplateBackend

    @_around(LaunchTemplateBackend, "create_launch_template")
    def create_launch_template(
        original: Callable[..., LaunchTemplate],
        self: LaunchTemplateBackend,
        name: str,
        description: str,
        template_data: dict[str, Any],
        tag_spec: dict[str, Any],
    ) -> LaunchTemplate:
        # The response handler appended one entry per top-level tag specification.
        specs = template_data.get("TagSpecifications") or []
        if tag_spec and specs:
            del specs[len(specs) - len(tag_spec) :]
            if not specs:
                template_data.pop("TagSpecifications")
        return original(self, name, description, template_data, tag_spec)

    @_around(LaunchTemplate, "create_version")
    def create_version(
        original: Callable[..., Any], self: LaunchTemplate, data: dict[str, Any], description: str
    ) -> Any:
        if isinstance(data.get("MetadataOptions"), dict):
            data["MetadataOptions"] = {**_METADATA_OPTION_DEFAULTS, **data["MetadataOptions"]}
        return original(self, data, description)

    # Live tags (CreateTags/DeleteTags on the template show up in DescribeLaunchTemplates).
    LaunchTemplate.tags = property(  # type: ignore[attr-defined]
        lambda self: self.get_tags(), lambda self, value: None
    )


@fix
def ec2_launch_template_versions_launch_with_their_user_data() -> None:
    """moto 5.2.5: CreateLaunchTemplateVersion keeps ``UserData`` as a plain string (only
    CreateLaunchTemplate parses it), and every launch from such a version, e.g. an Auto Scaling
    group on ``$Latest`` after a new version, fails an assertion (HTTP 500).

    AWS launches from any version of a template with that version's user data.
    """
    from moto.core.types import Base64EncodedString
    from moto.ec2.models.launch_templates import LaunchTemplate
    from moto.ec2.utils import parse_user_data

    @_around(LaunchTemplate, "create_version")
    def create_version(
        original: Callable[..., Any], self: LaunchTemplate, data: dict[str, Any], description: str
    ) -> Any:
        if data.get("UserData") is not None and not isinstance(
            data["UserData"], Base64EncodedString
        ):
            data["UserData"] = parse_user_data(data["UserData"])
        return original(self, data, description)


@fix
def ec2_delete_launch_template_versions() -> None:
    """moto 5.2.5: DeleteLaunchTemplateVersions is not implemented (HTTP 500), and
    amazon.aws.ec2_launch_template deletes a template's other versions with it before the
    template itself (teardown of a template that has more than one version).

    AWS deletes each version given and lists it as deleted, or as not deleted with a reason:
    launchTemplateVersionDoesNotExist, or the default version (never deleted while default).
    A deleted version is gone from DescribeLaunchTemplateVersions; $Latest is the highest
    version left. Version numbers are never reused.
    """
    from moto.core.responses import ActionResult
    from moto.ec2.exceptions import InvalidLaunchTemplateVersionNotFound
    from moto.ec2.models.launch_templates import LaunchTemplate, LaunchTemplateBackend
    from moto.ec2.responses.launch_templates import LaunchTemplates

    def deleted(template: Any) -> set[int]:
        return template.__dict__.setdefault("fidelity_deleted", set())

    @_around(LaunchTemplate, "get_version")
    def get_version(original: Callable[..., Any], self: Any, num: Any) -> Any:
        if str(num).lower() == "$latest":
            return max(
                (v for v in self.versions if v.number not in deleted(self)), key=lambda v: v.number
            )
        version = original(self, num)
        if version.number in deleted(self):
            raise InvalidLaunchTemplateVersionNotFound(template_id=self.id, version=num)
        return version

    LaunchTemplate.latest_version = lambda self: self.get_version("$Latest")  # type: ignore[method-assign]

    @_around(LaunchTemplateBackend, "describe_launch_template_versions")
    def describe(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        return [(t, v) for t, v in original(self, *args, **kwargs) if v.number not in deleted(t)]

    def delete_launch_template_versions(self: Any) -> ActionResult:
        name = self._get_param("LaunchTemplateName")
        template_id = self._get_param("LaunchTemplateId")
        template = (
            self.ec2_backend.get_launch_template_by_name(name)
            if name
            else self.ec2_backend.get_launch_template(template_id)
        )
        done, refused = [], []
        for text in self._get_param("Versions", []):
            item = {"LaunchTemplateId": template.id, "LaunchTemplateName": template.name}
            number = int(text) if str(text).isdigit() else 0
            exists = 1 <= number <= len(template.versions) and number not in deleted(template)
            if not exists:
                error = {"Code": "launchTemplateVersionDoesNotExist", "Message": f"{text}"}
            elif template.is_default(template.versions[number - 1]):
                error = {
                    "Code": "unexpectedError",
                    "Message": "Cannot delete the default version of a launch template",
                }
            else:
                deleted(template).add(number)
                done.append({**item, "VersionNumber": number})
                continue
            refused.append({**item, "VersionNumber": number, "ResponseError": error})
        return ActionResult(
            {
                "SuccessfullyDeletedLaunchTemplateVersions": done,
                "UnsuccessfullyDeletedLaunchTemplateVersions": refused,
            }
        )

    LaunchTemplates.delete_launch_template_versions = delete_launch_template_versions  # type: ignore[attr-defined]


@fix
def ec2_run_instances_honours_launch_template() -> None:
    """moto 5.2.5: RunInstances from a launch template ignores several of its settings.

    AWS applies the template's ``MetadataOptions`` (IMDSv2 ``HttpTokens=required``),
    ``IamInstanceProfile``, and the primary network interface's ``Groups`` and
    ``AssociatePublicIpAddress``; moto launched with IMDSv1, no profile and no security group.
    This also covers instances an Auto Scaling group launches, which go through the same path.
    """
    from moto.ec2.models.instances import InstanceBackend

    @_around(InstanceBackend, "run_instances")
    def run_instances(
        original: Callable[..., Any],
        self: Any,
        image_id: str,
        count: int,
        user_data: Any,
        security_group_names: list[str],
        **kwargs: Any,
    ) -> Any:
        template: dict[str, Any] = {}
        if kwargs.get("launch_template"):
            template = self._get_template_from_args(kwargs["launch_template"]).data
        if template.get("MetadataOptions") and not kwargs.get("metadata_options"):
            kwargs["metadata_options"] = template["MetadataOptions"]
        primary = next(
            (
                nic
                for nic in template.get("NetworkInterfaces") or []
                if int(nic.get("DeviceIndex", 0)) == 0
            ),
            {},
        )
        if (
            primary.get("Groups")
            and not kwargs.get("security_group_ids")
            and not security_group_names
            and not template.get("SecurityGroupIds")
        ):
            kwargs["security_group_ids"] = list(primary["Groups"])
        if "AssociatePublicIpAddress" in primary and kwargs.get("associate_public_ip") is None:
            kwargs["associate_public_ip"] = _as_bool(primary["AssociatePublicIpAddress"])
        reservation = original(self, image_id, count, user_data, security_group_names, **kwargs)

        profile = template.get("IamInstanceProfile") or {}
        explicit = kwargs.get("iam_instance_profile_name") or kwargs.get("iam_instance_profile_arn")
        if profile and not explicit:
            for instance in reservation.instances:
                if instance.id not in self.iam_instance_profile_associations:
                    self.associate_iam_instance_profile(
                        instance_id=instance.id,
                        iam_instance_profile_name=profile.get("Name"),
                        iam_instance_profile_arn=profile.get("Arn"),
                    )
        return reservation


@fix
def ec2_instances_report_their_network_interface_groups() -> None:
    """moto 5.2.5: an instance launched with its security groups on the primary network
    interface (``NetworkInterfaces[0].Groups``, as amazon.aws.ec2_instance launches) reports no
    ``SecurityGroups`` of its own, so ec2_instance "fixes" them with ModifyInstanceAttribute.

    AWS: the instance's groups are its primary interface's groups.
    """
    from moto.ec2.models.instances import InstanceBackend

    @_around(InstanceBackend, "run_instances")
    def run_instances(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        reservation = original(self, *args, **kwargs)
        for instance in reservation.instances:
            primary = instance.nics.get(0)
            if not instance.security_groups and primary is not None:
                instance.security_groups = list(primary._group_set)
        return reservation


def _as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


# --------------------------------------------------------------------------------------------
# Auto Scaling
# --------------------------------------------------------------------------------------------

# Every metric EnableMetricsCollection enables when called without a list (AWS API reference).
_ASG_METRICS = [
    "GroupMinSize",
    "GroupMaxSize",
    "GroupDesiredCapacity",
    "GroupInServiceInstances",
    "GroupPendingInstances",
    "GroupStandbyInstances",
    "GroupTerminatingInstances",
    "GroupTotalInstances",
    "GroupInServiceCapacity",
    "GroupPendingCapacity",
    "GroupStandbyCapacity",
    "GroupTerminatingCapacity",
    "GroupTotalCapacity",
    "WarmPoolDesiredCapacity",
    "WarmPoolWarmedCapacity",
    "WarmPoolPendingCapacity",
    "WarmPoolTerminatingCapacity",
    "WarmPoolTerminatedCapacity",
    "WarmPoolTotalCapacity",
    "GroupAndWarmPoolDesiredCapacity",
    "GroupAndWarmPoolTotalCapacity",
]


@fix
def autoscaling_metrics_collection_enable_and_disable() -> None:
    """moto 5.2.5: DisableMetricsCollection is not implemented (HTTP 500).

    AWS: EnableMetricsCollection adds the given metrics (all of them when none are given) to
    those already enabled; DisableMetricsCollection removes the given ones (all when none).
    amazon.aws.autoscaling_group calls one of the two on every run.
    """
    from moto.autoscaling.models import FakeAutoScalingGroup
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import EmptyResult

    @_around(FakeAutoScalingGroup, "enable_metrics_collection")
    def enable_metrics_collection(
        original: Callable[..., None], self: FakeAutoScalingGroup, metrics: list[str]
    ) -> None:
        wanted = metrics or _ASG_METRICS
        original(self, self.metrics + [m for m in wanted if m not in self.metrics])

    def disable_metrics_collection(self: AutoScalingResponse) -> EmptyResult:
        group_name = self._get_param("AutoScalingGroupName")
        metrics = self._get_param("Metrics") or []
        group = self.autoscaling_backend.describe_auto_scaling_groups([group_name])[0]
        group.metrics = [m for m in group.metrics if metrics and m not in metrics]
        return EmptyResult()

    AutoScalingResponse.disable_metrics_collection = disable_metrics_collection  # type: ignore[attr-defined]


@fix
def autoscaling_tags_sorted_by_key() -> None:
    """moto 5.2.5: an Auto Scaling group's tags come back in insertion order.

    AWS returns them sorted by key. amazon.aws.autoscaling_group sorts the described list in
    place and compares it with a fresh DescribeAutoScalingGroups, so any other order makes it
    report changed on every run.
    """
    from moto.autoscaling.models import FakeAutoScalingGroup

    tags_property = FakeAutoScalingGroup.tags

    def set_tags(self: FakeAutoScalingGroup, tags: list[dict[str, Any]]) -> None:
        tags_property.fset(self, tags)
        self._tags = sorted(self._tags, key=lambda tag: tag["Key"])

    FakeAutoScalingGroup.tags = property(tags_property.fget, set_tags)  # type: ignore[method-assign]


@fix
def autoscaling_instances_spread_across_subnets() -> None:
    """moto 5.2.5: an Auto Scaling group launches every instance into its first subnet.

    AWS balances instances across the Availability Zones (subnets) of ``VPCZoneIdentifier``.
    Launch one instance at a time into the least-used subnet.
    """
    from moto.autoscaling.models import FakeAutoScalingGroup

    @_around(FakeAutoScalingGroup, "replace_autoscaling_group_instances")
    def replace_instances(
        original: Callable[..., None],
        self: FakeAutoScalingGroup,
        count_needed: int,
        propagated_tags: dict[str, str],
    ) -> None:
        subnets = [s for s in (self.vpc_zone_identifier or "").split(",") if s]
        if len(subnets) < 2:
            original(self, count_needed, propagated_tags)
            return
        zone_identifier = self.vpc_zone_identifier
        try:
            for _ in range(count_needed):
                used = [state.instance.subnet_id for state in self.instance_states]
                # min() keeps the first of equally used subnets, as listed.
                target = min(subnets, key=used.count)
                # moto launches into the first listed subnet: list the target first.
                self.vpc_zone_identifier = ",".join([target, *(s for s in subnets if s != target)])
                original(self, 1, dict(propagated_tags))
        finally:
            self.vpc_zone_identifier = zone_identifier


@fix
def autoscaling_group_tags_override_launch_template_tags() -> None:
    """moto 5.2.5: an instance tag in the launch template beats the group's propagated tag.

    AWS: "If the launch template specifies an instance tag with a key that is also specified
    for the Auto Scaling group, Amazon EC2 Auto Scaling overrides the value of that instance
    tag with the value specified by the Auto Scaling group." moto does the opposite.
    """
    from moto.autoscaling.models import FakeAutoScalingGroup

    @_around(FakeAutoScalingGroup, "replace_autoscaling_group_instances")
    def replace_instances(
        original: Callable[..., None],
        self: FakeAutoScalingGroup,
        count_needed: int,
        propagated_tags: dict[str, str],
    ) -> None:
        group_tags = dict(propagated_tags)
        before = {state.instance.id for state in self.instance_states}
        original(self, count_needed, propagated_tags)
        launched = [s.instance.id for s in self.instance_states if s.instance.id not in before]
        if launched and group_tags:
            self.autoscaling_backend.ec2_backend.create_tags(launched, group_tags)


# --------------------------------------------------------------------------------------------
# Auto Scaling instance refreshes (moto 5.2.5 has none)
# --------------------------------------------------------------------------------------------

# Statuses in which a refresh blocks another (StartInstanceRefresh: InstanceRefreshInProgress).
_REFRESH_ACTIVE = ("Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking")


def _refresh_error(code: str, message: str) -> Exception:
    from moto.autoscaling.exceptions import AutoscalingClientError

    return AutoscalingClientError(code, message)


def _refresh_group(backend: Any, name: str) -> Any:
    group = backend.autoscaling_groups.get(name)
    if group is None:
        raise _refresh_error(
            "ValidationError",
            f"AutoScalingGroup name not found - AutoScalingGroup {name} not found",
        )
    return group


def _refresh_advance(backend: Any, group: Any) -> None:
    """Move the group's refreshes on to where AWS would have them by now: Pending, then
    InProgress, replacing the instances of the refresh a batch at a time (terminate, then the
    group launches from its launch template as it stands), then Successful."""
    from moto.core.utils import utcnow

    for refresh in getattr(group, "fidelity_refreshes", []):
        state = refresh["fidelity"]
        if refresh["Status"] == "Cancelling":
            refresh.update(Status="Cancelled", EndTime=utcnow())
        if refresh["Status"] not in ("Pending", "InProgress"):
            continue
        now = time.monotonic()
        if now < state["pending_until"]:
            continue
        refresh["Status"] = "InProgress"
        todo = [i for i in state["to_replace"] if i not in state["replaced"]]
        batch_seconds = state["batch_seconds"]
        batches = (
            len(todo)
            if batch_seconds <= 0
            else int((now - state["pending_until"]) // batch_seconds)
        )
        due = batches * state["batch_size"] - len(state["replaced"])
        for instance_id in todo[: max(due, 0)]:
            # Noted first: terminating makes the group launch, which may describe it again.
            state["replaced"].append(instance_id)
            if instance_id in {s.instance.id for s in group.instance_states}:
                backend.terminate_instance(instance_id, should_decrement=False)
        total = len(state["to_replace"])
        done = len(state["replaced"])
        remaining = total - done
        percent = 100 if total == 0 else int(done * 100 / total)
        refresh.update(
            PercentageComplete=percent,
            InstancesToUpdate=remaining,
            ProgressDetails={
                "LivePoolProgress": {"PercentageComplete": percent, "InstancesToUpdate": remaining}
            },
        )
        if remaining == 0:
            refresh.update(Status="Successful", StatusReason="", EndTime=utcnow())


def _refresh_public(refresh: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in refresh.items() if k != "fidelity" and v is not None}


@fix
def autoscaling_instance_refreshes_replace_instances() -> None:
    """moto 5.2.5: StartInstanceRefresh, DescribeInstanceRefreshes and CancelInstanceRefresh are
    not implemented (amazon.aws.autoscaling_instance_refresh fails).

    AWS: a refresh is Pending, then InProgress, replacing the group's instances in batches as
    large as MinHealthyPercentage (default 90) and MaxHealthyPercentage (default 100; above it
    launches first) allow, at least one at a time: each batch is replaced (terminated, and the
    group launches from its launch template as it stands), then the refresh waits out the
    instance warm-up (InstanceWarmup, default the group's health check grace period); then
    Successful. SkipMatching leaves instances that already run the group's configuration
    (here: its image and instance type; moto keeps no per-instance template version).
    Cancelling stops further replacements (Cancelling, then Cancelled). DescribeInstanceRefreshes
    lists the group's refreshes newest first. Timings: AWS_DURATIONS, scaled.
    """
    from moto.autoscaling.models import AutoScalingBackend
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow

    def start_instance_refresh(
        self: Any, group_name: str, strategy: str, preferences: dict[str, Any]
    ) -> str:
        group = _refresh_group(self, group_name)
        _refresh_advance(self, group)
        minimum = int(preferences.get("MinHealthyPercentage", 90))
        maximum = preferences.get("MaxHealthyPercentage")
        if not 0 <= minimum <= 100 or (
            maximum is not None
            and not (100 <= int(maximum) <= 200 and int(maximum) - minimum <= 100)
        ):
            raise _refresh_error(
                "ValidationError",
                "MinHealthyPercentage must be 0-100 and MaxHealthyPercentage 100-200, at most "
                "100 above it",
            )
        warmup = preferences.get("InstanceWarmup")
        if warmup is None:
            warmup = group.health_check_grace_period or 0
        skip = _as_bool(preferences.get("SkipMatching", False))
        states = [s for s in group.instance_states if s.lifecycle_state == "InService"]
        if skip:
            states = [
                s
                for s in states
                if (s.instance.image_id, s.instance.instance_type)
                != (group.image_id, group.instance_type)
            ]
        # AWS replaces as many at a time as the room between the two percentages allows
        # (MaxHealthyPercentage above 100: launching before terminating), at least one.
        room = int(maximum if maximum is not None else 100) - minimum
        size = max(1, int(len(group.instance_states) * room / 100))
        scale = _TIMING["scale"]
        refresh = {
            "InstanceRefreshId": str(uuid.uuid4()),
            "AutoScalingGroupName": group_name,
            "Status": "Pending",
            "StatusReason": "Waiting for the instance refresh to start.",
            "StartTime": utcnow(),
            "EndTime": None,
            "PercentageComplete": 0,
            "InstancesToUpdate": len(states),
            "Preferences": {
                "MinHealthyPercentage": minimum,
                "InstanceWarmup": int(warmup),
                "SkipMatching": skip,
                "AutoRollback": _as_bool(preferences.get("AutoRollback", False)),
                "ScaleInProtectedInstances": preferences.get("ScaleInProtectedInstances", "Ignore"),
                "StandbyInstances": preferences.get("StandbyInstances", "Ignore"),
                **({"MaxHealthyPercentage": int(maximum)} if maximum is not None else {}),
            },
            "Strategy": strategy or "Rolling",
            "fidelity": {
                "pending_until": _ready_at("autoscaling.instance_refresh.pending"),
                "batch_seconds": (
                    AWS_DURATIONS["autoscaling.instance_refresh.launch"][0] + int(warmup)
                )
                * scale,
                "batch_size": size,
                "to_replace": [s.instance.id for s in states],
                "replaced": [],
            },
        }
        group.__dict__.setdefault("fidelity_refreshes", []).insert(0, refresh)
        return refresh["InstanceRefreshId"]

    def describe_instance_refreshes(
        self: Any, group_name: str, ids: list[str]
    ) -> list[dict[str, Any]]:
        group = self.autoscaling_groups.get(group_name)
        if group is None:
            return []
        _refresh_advance(self, group)
        return [
            _refresh_public(r)
            for r in getattr(group, "fidelity_refreshes", [])
            if not ids or r["InstanceRefreshId"] in ids
        ]

    def cancel_instance_refresh(self: Any, group_name: str) -> str:
        group = _refresh_group(self, group_name)
        _refresh_advance(self, group)
        for refresh in getattr(group, "fidelity_refreshes", []):
            if refresh["Status"] in ("Pending", "InProgress"):
                refresh["Status"] = "Cancelling"
                return refresh["InstanceRefreshId"]
        raise _refresh_error(
            "ActiveInstanceRefreshNotFound",
            f"No in progress or pending Instance Refresh found for Auto Scaling group {group_name}",
        )

    AutoScalingBackend.start_instance_refresh = start_instance_refresh  # type: ignore[attr-defined]
    AutoScalingBackend.describe_instance_refreshes = describe_instance_refreshes  # type: ignore[attr-defined]
    AutoScalingBackend.cancel_instance_refresh = cancel_instance_refresh  # type: ignore[attr-defined]

    # Other clients see the replacements too (the instances of a group, its capacity).
    for name in ("describe_auto_scaling_groups", "describe_auto_scaling_instances"):

        @_around(AutoScalingBackend, name)
        def advanced(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
            for group in list(self.autoscaling_groups.values()):
                _refresh_advance(self, group)
            return original(self, *args, **kwargs)

    def start(self: AutoScalingResponse) -> ActionResult:
        refresh_id = self.autoscaling_backend.start_instance_refresh(
            self._get_param("AutoScalingGroupName"),
            self._get_param("Strategy"),
            self._get_param("Preferences") or {},
        )
        return ActionResult({"InstanceRefreshId": refresh_id})

    def describe(self: AutoScalingResponse) -> ActionResult:
        refreshes = self.autoscaling_backend.describe_instance_refreshes(
            self._get_param("AutoScalingGroupName"), self._get_param("InstanceRefreshIds") or []
        )
        return ActionResult({"InstanceRefreshes": refreshes})

    def cancel(self: AutoScalingResponse) -> ActionResult:
        refresh_id = self.autoscaling_backend.cancel_instance_refresh(
            self._get_param("AutoScalingGroupName")
        )
        return ActionResult({"InstanceRefreshId": refresh_id})

    AutoScalingResponse.start_instance_refresh = start  # type: ignore[attr-defined]
    AutoScalingResponse.describe_instance_refreshes = describe  # type: ignore[attr-defined]
    AutoScalingResponse.cancel_instance_refresh = cancel  # type: ignore[attr-defined]


@fix
def autoscaling_one_instance_refresh_at_a_time() -> None:
    """AWS: StartInstanceRefresh while another refresh of the group is Pending, InProgress,
    Cancelling, RollbackInProgress or Baking answers InstanceRefreshInProgress (HTTP 400);
    a playbook that starts one on every run must look first."""
    from moto.autoscaling.models import AutoScalingBackend

    @_around(AutoScalingBackend, "start_instance_refresh")
    def start_instance_refresh(
        original: Callable[..., str], self: Any, group_name: str, *args: Any
    ) -> str:
        group = _refresh_group(self, group_name)
        _refresh_advance(self, group)
        if any(r["Status"] in _REFRESH_ACTIVE for r in getattr(group, "fidelity_refreshes", [])):
            raise _refresh_error(
                "InstanceRefreshInProgress",
                "An Instance Refresh is already in progress and blocks the execution of this "
                "Instance Refresh.",
            )
        return original(self, group_name, *args)


# --------------------------------------------------------------------------------------------
# Images (AMIs)
# --------------------------------------------------------------------------------------------


@fix
def ec2_create_image_tags_its_snapshots() -> None:
    """moto 5.2.5: CreateImage with a ``snapshot`` TagSpecification raises NotImplementedError
    (HTTP 500); amazon.aws.ec2_ami always sends image and snapshot tags together.

    AWS tags the image with the ``image`` specification and every snapshot CreateImage makes
    with the ``snapshot`` one.
    """
    from moto.ec2.models.amis import AmiBackend

    @_around(AmiBackend, "create_image")
    def create_image(
        original: Callable[..., Any],
        self: Any,
        instance_id: str,
        name: str,
        description: str,
        tag_specifications: list[dict[str, Any]],
    ) -> Any:
        snapshot_tags = [
            tag
            for spec in tag_specifications
            if spec["ResourceType"] == "snapshot"
            for tag in spec.get("Tags", [])
        ]
        others = [spec for spec in tag_specifications if spec["ResourceType"] != "snapshot"]
        ami = original(self, instance_id, name, description, others)
        if snapshot_tags:
            self.create_tags([ami.ebs_snapshot.id], {t["Key"]: t["Value"] for t in snapshot_tags})
        return ami


@fix
def ec2_image_names_are_unique() -> None:
    """moto 5.2.5: CreateImage accepts a name another image of the account already has.

    AWS: an AMI name is unique per account and region: InvalidAMIName.Duplicate.
    """
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.amis import AmiBackend

    @_around(AmiBackend, "create_image")
    def create_image(
        original: Callable[..., Any],
        self: Any,
        instance_id: str,
        name: str,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        account = self.account_id  # type: ignore[attr-defined]
        for ami in self.amis.values():
            if ami.name == name and ami.owner_id == account:
                raise EC2ClientError(
                    "InvalidAMIName.Duplicate", f"AMI name {name} is already in use by AMI {ami.id}"
                )
        return original(self, instance_id, name, *args, **kwargs)


@fix
def ec2_images_are_pending_for_a_while() -> None:
    """moto 5.2.5: an image made by CreateImage is ``available`` at once.

    AWS: ``pending`` while its snapshots are taken (AWS_DURATIONS); it cannot be launched yet,
    and ec2_ami's ``wait`` polls DescribeImages until it is available.
    """
    from moto.ec2.models.amis import Ami, AmiBackend

    _settling(Ami, "state", settled="available", settling="pending")

    @_around(AmiBackend, "create_image")
    def create_image(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        ami = original(self, *args, **kwargs)
        ami.__dict__["fidelity_ready_at"] = _ready_at("ec2.image.pending")
        return ami


# --------------------------------------------------------------------------------------------
# EC2: managed prefix lists in security group rules
# --------------------------------------------------------------------------------------------

# What a referenced prefix list counts against a security group's rules quota: an AWS-managed
# list its published weight (VPC User Guide, "AWS-managed prefix lists", weights), a
# customer-managed one its MaxEntries.
_AWS_MANAGED_PREFIX_LIST_WEIGHTS = {
    "com.amazonaws.global.cloudfront.origin-facing": 55,
    "com.amazonaws.global.ipv6.cloudfront.origin-facing": 55,
}
# Inbound or outbound rules per security group (VPC quotas, adjustable; moto uses it too).
_SECURITY_GROUP_RULES_QUOTA = 60


@fix
def ec2_security_group_rules_quota_counts_prefix_list_weights() -> None:
    """moto 5.2.5: a prefix list in a security group rule counts as nothing against the quota.

    AWS counts a referenced prefix list as its weight (CloudFront's origin-facing list: 55 of
    the 60 rules a group may have per direction, "leaving room for only 5 additional rules")
    and refuses a rule past the quota with RulesPerSecurityGroupLimitExceeded; moto counted
    CIDRs and groups only, so a group with CloudFront's list and ten CIDRs was accepted.
    """
    from moto.ec2.exceptions import RulesPerSecurityGroupLimitExceededError
    from moto.ec2.models.security_groups import SecurityGroupBackend

    def weight(backend: Any, prefix_list_id: str | None) -> int:
        if prefix_list_id is None:
            return 1
        found = backend.managed_prefix_lists.get(prefix_list_id)
        if found is None:
            return 1
        if found.owner_id == "AWS":
            return _AWS_MANAGED_PREFIX_LIST_WEIGHTS.get(found.prefix_list_name, 1)
        return int(found.max_entries or 1)

    def check(direction: str) -> None:
        @_around(SecurityGroupBackend, f"authorize_security_group_{direction}")
        def authorize(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
            call = inspect.signature(original).bind(self, *args, **kwargs)
            params = call.arguments
            group = self.get_security_group_by_name_or_id(
                params["group_name_or_id"], params.get("vpc_id")
            )
            if group is not None:
                rules = group.egress_rules if direction == "egress" else group.ingress_rules
                used = sum(weight(self, rule.prefix_list_id) for rule in rules)
                ip_ranges = params.get("ip_ranges") or []
                adding = (
                    (len(ip_ranges) if isinstance(ip_ranges, list) else 1)
                    + len(params.get("source_groups") or [])
                    + sum(
                        weight(self, item.get("PrefixListId"))
                        for item in params.get("prefix_list_ids") or []
                    )
                )
                if used + adding > _SECURITY_GROUP_RULES_QUOTA:
                    raise RulesPerSecurityGroupLimitExceededError()
            return original(self, *args, **kwargs)

    check("ingress")
    check("egress")


@fix
def ec2_security_group_prefix_list_rules_keep_their_description() -> None:
    """moto 5.2.5: a rule naming a prefix list loses its ``Description``.

    AWS returns ``PrefixListIds: [{PrefixListId, Description}]`` as authorized, and
    UpdateSecurityGroupRuleDescriptionsIngress/Egress change it; moto kept the id only, so a
    module comparing descriptions updated the rule on every run.
    """
    from moto.ec2.models.security_groups import (
        SecurityGroup,
        SecurityGroupBackend,
        SecurityGroupRule,
    )

    @_around(SecurityGroupRule, "__init__")
    def init(original: Callable[..., None], self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        given = inspect.signature(original).bind(self, *args, **kwargs).arguments
        self.fidelity_prefix_list_description = (given.get("prefix_list_id") or {}).get(
            "Description"
        )

    @_around(SecurityGroupBackend, "_sg_update_description")
    def update(original: Callable[..., None], self: Any, wanted: Any, rule: Any) -> None:
        original(self, wanted, rule)
        described = getattr(wanted, "fidelity_prefix_list_description", None)
        if wanted.prefix_list_id and wanted.prefix_list_id == rule.prefix_list_id and described:
            rule.fidelity_prefix_list_description = described

    @_around(SecurityGroup, "_flattened_rules")
    def flattened(original: Callable[..., list[Any]], self: Any, rules: list[Any]) -> list[Any]:
        views = original(self, rules)
        described = {
            (
                r.ip_protocol,
                r.from_port,
                r.to_port,
                r.prefix_list_id,
            ): r.fidelity_prefix_list_description
            for r in rules
            if r.prefix_list_id and getattr(r, "fidelity_prefix_list_description", None)
        }
        for view in views:
            for entry in view.prefix_list_ids:
                key = (view.ip_protocol, view.from_port, view.to_port, entry["PrefixListId"])
                if key in described:
                    entry["Description"] = described[key]
        return views


@fix
def ec2_flow_logs_to_s3_take_a_key_prefix() -> None:
    """moto 5.2.5: a flow log to ``arn:aws:s3:::BUCKET/PREFIX`` is Unsuccessful ("LogDestination:
    BUCKET/PREFIX does not exist"): moto looked the whole path up as a bucket name.

    AWS takes a folder after the bucket (VPC User Guide, "Create a flow log that publishes to
    Amazon S3": the ARN may end in ``/folder``) and reports the destination as given.
    """
    from moto.ec2.models.flow_logs import FlowLogsBackend

    @_around(FlowLogsBackend, "create_flow_logs")
    def create(original: Callable[..., Any], self: Any, **kwargs: Any) -> Any:
        destination = kwargs.get("log_destination") or ""
        if kwargs.get("log_destination_type") != "s3" or "/" not in destination.split(":::")[-1]:
            return original(self, **kwargs)
        bucket_arn = destination.split("/", 1)[0]
        flow_logs, unsuccessful = original(self, **{**kwargs, "log_destination": bucket_arn})
        for flow_log in flow_logs:
            flow_log.log_destination = destination
        return flow_logs, unsuccessful


# --------------------------------------------------------------------------------------------
# CloudFront (for the streamstack.aws CloudFront modules; self-contained: only needs @fix)
# --------------------------------------------------------------------------------------------


def _cloudfront_extend(owner: type, name: str, after: Callable[..., None]) -> None:
    """Make ``owner.name`` run moto's own code, then ``after(self, result, *args)``."""
    import functools

    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        after(self, result, *args, **kwargs)
        return result

    setattr(owner, name, wrapper)


def _cloudfront_error(code: str, message: str) -> Exception:
    from moto.cloudfront.exceptions import CloudFrontException

    return CloudFrontException(code, message)


@fix
def cloudfront_origins_keep_s3_origin_config_and_oac() -> None:
    """moto 5.2.5: origins lose ``S3OriginConfig`` and ``OriginAccessControlId``.

    AWS returns both as sent (an OAC origin has ``S3OriginConfig.OriginAccessIdentity: ""`` and
    the OAC's ID); moto keeps only the identity, in an attribute no response reads.
    """
    from moto.cloudfront.models import Origin

    def keep(self, _result, origin) -> None:
        if "S3OriginConfig" in origin:
            self.s3_origin_config = dict(origin["S3OriginConfig"])
        self.origin_access_control_id = origin.get("OriginAccessControlId") or ""

    _cloudfront_extend(Origin, "__init__", keep)


@fix
def cloudfront_cache_policy_behaviours_have_no_legacy_ttls() -> None:
    """moto 5.2.5: a cache behaviour with a ``CachePolicyId`` reports ForwardedValues and TTLs.

    AWS omits ``ForwardedValues``, ``MinTTL``, ``DefaultTTL`` and ``MaxTTL`` when a cache policy
    decides the cache key and TTLs (and rejects a configuration that sends both); moto invents
    them, so a configuration read back and sent again would be wrong for AWS.
    """
    from moto.cloudfront.models import DefaultCacheBehaviour

    def drop_legacy(self, _result, config) -> None:
        if config.get("CachePolicyId"):
            self.forwarded_values = None
            self.min_ttl = self.default_ttl = self.max_ttl = None

    _cloudfront_extend(DefaultCacheBehaviour, "__init__", drop_legacy)


@fix
def cloudfront_public_keys_comment_update_and_not_found() -> None:
    """moto 5.2.5: public keys drop their ``Comment``, UpdatePublicKey is missing, and an unknown
    ID is an HTTP 500 (KeyError) instead of ``NoSuchPublicKey``."""
    from moto.cloudfront import urls
    from moto.cloudfront.models import CloudFrontBackend
    from moto.cloudfront.responses import CloudFrontResponse
    from moto.core.responses import ActionResult

    original_get = CloudFrontBackend.get_public_key

    def get_public_key(self, key_id: str):
        if key_id not in self.public_keys:
            raise _cloudfront_error("NoSuchPublicKey", "The specified public key does not exist.")
        return original_get(self, key_id)

    def keep_comment(self, result) -> None:
        config = self._get_param("PublicKeyConfig")
        result.result["PublicKey"].comment = config.get("Comment") or ""

    def update_public_key(self) -> ActionResult:
        key = self.backend.get_public_key(self._get_param("Id"))
        if not self._get_param("IfMatch"):
            raise _cloudfront_error("InvalidIfMatchVersion", "The If-Match version is missing.")
        config = self._get_param("PublicKeyConfig")
        if config.get("EncodedKey", "").strip() != key.encoded_key.strip():
            raise _cloudfront_error(
                "CannotChangeImmutablePublicKeyFields", "A public key's value can't be changed."
            )
        key.comment = config.get("Comment") or ""
        return ActionResult({"PublicKey": key, "ETag": key.etag})

    CloudFrontBackend.get_public_key = get_public_key
    _cloudfront_extend(CloudFrontResponse, "create_public_key", keep_comment)
    CloudFrontResponse.update_public_key = update_public_key
    # moto routes only /public-key/<id>; UpdatePublicKey is PUT /public-key/<id>/config.
    urls.url_paths["{0}/2020-05-31/public-key/(?P<key_name>[^/]+)/config$"] = (
        CloudFrontResponse.dispatch
    )


@fix
def cloudfront_key_groups_comment_update_delete_and_not_found() -> None:
    """moto 5.2.5: key groups drop their ``Comment``, UpdateKeyGroup and DeleteKeyGroup are
    missing, and an unknown ID is an HTTP 500 instead of ``NoSuchResource``."""
    from moto.cloudfront.models import CloudFrontBackend, KeyGroup
    from moto.cloudfront.responses import CloudFrontResponse
    from moto.core.responses import ActionResult, EmptyResult

    KeyGroup.key_group_config = property(
        lambda self: {
            "Items": self.items,
            "Name": self.name,
            "Comment": getattr(self, "comment", ""),
        }
    )
    original_get = CloudFrontBackend.get_key_group

    def get_key_group(self, group_id: str):
        if group_id not in self.key_groups:
            raise _cloudfront_error("NoSuchResource", "The specified key group does not exist.")
        return original_get(self, group_id)

    def keep_comment(self, result) -> None:
        result.result["KeyGroup"].comment = self._get_param("KeyGroupConfig.Comment") or ""

    def update_key_group(self) -> ActionResult:
        group = self.backend.get_key_group(self._get_param("Id"))
        if not self._get_param("IfMatch"):
            raise _cloudfront_error("InvalidIfMatchVersion", "The If-Match version is missing.")
        group.name = self._get_param("KeyGroupConfig.Name")
        group.items = self._get_param("KeyGroupConfig.Items", [])
        group.comment = self._get_param("KeyGroupConfig.Comment") or ""
        return ActionResult({"KeyGroup": group, "ETag": group.etag})

    def delete_key_group(self) -> EmptyResult:
        group_id = self._get_param("Id")
        self.backend.get_key_group(group_id)
        if not self._get_param("IfMatch"):
            raise _cloudfront_error("InvalidIfMatchVersion", "The If-Match version is missing.")
        del self.backend.key_groups[group_id]
        return EmptyResult()

    CloudFrontBackend.get_key_group = get_key_group
    _cloudfront_extend(CloudFrontResponse, "create_key_group", keep_comment)
    CloudFrontResponse.update_key_group = update_key_group
    CloudFrontResponse.delete_key_group = delete_key_group


@fix
def cloudfront_origin_access_identities_exist() -> None:
    """moto 5.2.5: no CloudFront origin access identity API at all (every call is a 404).

    AWS: Create/Get/GetConfig/Update/Delete/ListCloudFrontOriginAccessIdentities. The legacy
    OAI is still what community.aws.cloudfront_origin_access_identity and
    cloudfront_distribution (``s3_origin_access_identity_enabled``) use, and the facts module
    lists them. A small in-memory store on the CloudFront backend is enough.
    """
    from moto.cloudfront import urls
    from moto.cloudfront.models import CloudFrontBackend
    from moto.cloudfront.responses import CloudFrontResponse
    from moto.core.responses import ActionResult, EmptyResult
    from moto.moto_api._internal import mock_random

    OAI_PATH = "2020-05-31/origin-access-identity/cloudfront"

    def store(backend: CloudFrontBackend) -> dict[str, dict[str, Any]]:
        return backend.__dict__.setdefault("fidelity_origin_access_identities", {})

    def find(self: CloudFrontResponse) -> dict[str, Any]:
        oai = store(self.backend).get(self._get_param("Id"))
        if oai is None:
            raise _cloudfront_error(
                "NoSuchCloudFrontOriginAccessIdentity",
                "The specified origin access identity does not exist.",
            )
        return oai

    def shape(oai: dict[str, Any]) -> dict[str, Any]:
        return {
            k: oai[k] for k in ("Id", "S3CanonicalUserId", "CloudFrontOriginAccessIdentityConfig")
        }

    def check_if_match(self: CloudFrontResponse, oai: dict[str, Any]) -> None:
        if self._get_param("IfMatch") != oai["ETag"]:
            raise _cloudfront_error(
                "PreconditionFailed", "The If-Match version is missing or not valid."
            )

    def create(self: CloudFrontResponse) -> ActionResult:
        config = self._get_param("CloudFrontOriginAccessIdentityConfig")
        oais = store(self.backend)
        same_ref = [o for o in oais.values() if o["CallerReference"] == config["CallerReference"]]
        if same_ref:
            # AWS: the same caller reference returns the existing identity (same comment).
            oai = same_ref[0]
        else:
            oai_id = "E" + mock_random.get_random_string(length=13).upper()
            oai = {
                "Id": oai_id,
                "S3CanonicalUserId": mock_random.get_random_hex(length=96),
                "CallerReference": config["CallerReference"],
                "CloudFrontOriginAccessIdentityConfig": {
                    "CallerReference": config["CallerReference"],
                    "Comment": config.get("Comment") or "",
                },
                "ETag": mock_random.get_random_string(length=14).upper(),
            }
            oais[oai_id] = oai
        return ActionResult(
            {
                "CloudFrontOriginAccessIdentity": shape(oai),
                "Location": f"https://cloudfront.amazonaws.com/{OAI_PATH}/{oai['Id']}",
                "ETag": oai["ETag"],
            }
        )

    def get(self: CloudFrontResponse) -> ActionResult:
        oai = find(self)
        return ActionResult({"CloudFrontOriginAccessIdentity": shape(oai), "ETag": oai["ETag"]})

    def get_config(self: CloudFrontResponse) -> ActionResult:
        oai = find(self)
        return ActionResult(
            {
                "CloudFrontOriginAccessIdentityConfig": oai["CloudFrontOriginAccessIdentityConfig"],
                "ETag": oai["ETag"],
            }
        )

    def update(self: CloudFrontResponse) -> ActionResult:
        oai = find(self)
        check_if_match(self, oai)
        config = self._get_param("CloudFrontOriginAccessIdentityConfig")
        if config["CallerReference"] != oai["CallerReference"]:
            raise _cloudfront_error(
                "IllegalUpdate", "The CallerReference of an origin access identity can't change."
            )
        oai["CloudFrontOriginAccessIdentityConfig"]["Comment"] = config.get("Comment") or ""
        oai["ETag"] = mock_random.get_random_string(length=14).upper()
        return ActionResult({"CloudFrontOriginAccessIdentity": shape(oai), "ETag": oai["ETag"]})

    def delete(self: CloudFrontResponse) -> EmptyResult:
        oai = find(self)
        check_if_match(self, oai)
        del store(self.backend)[oai["Id"]]
        return EmptyResult()

    def list_all(self: CloudFrontResponse) -> ActionResult:
        items = [
            {
                "Id": oai["Id"],
                "S3CanonicalUserId": oai["S3CanonicalUserId"],
                "Comment": oai["CloudFrontOriginAccessIdentityConfig"]["Comment"],
            }
            for oai in store(self.backend).values()
        ]
        result: dict[str, Any] = {
            "Marker": self._get_param("Marker") or "",
            "MaxItems": self._get_int_param("MaxItems") or 100,
            "IsTruncated": False,
            "Quantity": len(items),
        }
        if items:
            result["Items"] = items
        return ActionResult({"CloudFrontOriginAccessIdentityList": result})

    for name, handler in {
        "create_cloud_front_origin_access_identity": create,
        "get_cloud_front_origin_access_identity": get,
        "get_cloud_front_origin_access_identity_config": get_config,
        "update_cloud_front_origin_access_identity": update,
        "delete_cloud_front_origin_access_identity": delete,
        "list_cloud_front_origin_access_identities": list_all,
    }.items():
        setattr(CloudFrontResponse, name, handler)
    base = "{0}/" + OAI_PATH
    urls.url_paths[base + "$"] = CloudFrontResponse.dispatch
    urls.url_paths[base + "/(?P<oai_id>[^/]+)$"] = CloudFrontResponse.dispatch
    urls.url_paths[base + "/(?P<oai_id>[^/]+)/config$"] = CloudFrontResponse.dispatch


# AWS's managed response headers policies a test or a user may name (CloudFront Developer
# Guide, "Use managed response headers policies"): id -> configuration.
_CLOUDFRONT_MANAGED_RESPONSE_HEADERS_POLICIES = {
    "67f7725c-6f97-4210-82d7-5512b31e9d03": {
        "Name": "Managed-SecurityHeadersPolicy",
        "Comment": "Adds a set of security headers to every response",
        "SecurityHeadersConfig": {
            "XSSProtection": {"Override": False, "Protection": True, "ModeBlock": True},
            "FrameOptions": {"Override": False, "FrameOption": "SAMEORIGIN"},
            "ReferrerPolicy": {
                "Override": False,
                "ReferrerPolicy": "strict-origin-when-cross-origin",
            },
            "ContentTypeOptions": {"Override": True},
            "StrictTransportSecurity": {
                "Override": False,
                "IncludeSubdomains": False,
                "Preload": False,
                "AccessControlMaxAgeSec": 31536000,
            },
        },
    },
}


@fix
def cloudfront_response_headers_policies_exist() -> None:
    """moto 5.2.5: no CloudFront response headers policy API (every call is a 404), and a
    distribution may name any ResponseHeadersPolicyId.

    AWS: Create/Get/GetConfig/Update/Delete/ListResponseHeadersPolicies (custom and managed,
    ``Type`` filter), names unique among custom policies (ResponseHeadersPolicyAlreadyExists),
    ETags with IfMatch (PreconditionFailed), managed policies neither updated nor deleted
    (IllegalUpdate, IllegalDelete), a policy a distribution names is not deleted
    (ResponseHeadersPolicyInUse), and CreateDistribution/UpdateDistribution refuse a behaviour
    naming a policy that does not exist (NoSuchResponseHeadersPolicy).
    """
    import copy
    import datetime

    from moto.cloudfront import urls
    from moto.cloudfront.models import CloudFrontBackend
    from moto.cloudfront.responses import CloudFrontResponse
    from moto.core.responses import ActionResult, EmptyResult
    from moto.moto_api._internal import mock_random

    PATH = "2020-05-31/response-headers-policy"

    def store(backend: CloudFrontBackend) -> dict[str, dict[str, Any]]:
        policies = backend.__dict__.get("fidelity_response_headers_policies")
        if policies is None:
            policies = backend.__dict__["fidelity_response_headers_policies"] = {
                policy_id: {
                    "Id": policy_id,
                    "Type": "managed",
                    "Config": copy.deepcopy(config),
                    "ETag": mock_random.get_random_string(length=14).upper(),
                    "LastModifiedTime": datetime.datetime(2021, 11, 3, tzinfo=datetime.UTC),
                }
                for policy_id, config in _CLOUDFRONT_MANAGED_RESPONSE_HEADERS_POLICIES.items()
            }
        return policies

    def not_found() -> Exception:
        return _cloudfront_error(
            "NoSuchResponseHeadersPolicy", "The response headers policy does not exist."
        )

    def find(self: CloudFrontResponse) -> dict[str, Any]:
        policy = store(self.backend).get(self._get_param("Id"))
        if policy is None:
            raise not_found()
        return policy

    def shape(policy: dict[str, Any]) -> dict[str, Any]:
        return {
            "Id": policy["Id"],
            "LastModifiedTime": policy["LastModifiedTime"],
            "ResponseHeadersPolicyConfig": policy["Config"],
        }

    def check_if_match(self: CloudFrontResponse, policy: dict[str, Any]) -> None:
        if not self._get_param("IfMatch"):
            raise _cloudfront_error("InvalidIfMatchVersion", "The If-Match version is missing.")
        if self._get_param("IfMatch") != policy["ETag"]:
            raise _cloudfront_error(
                "PreconditionFailed", "The If-Match version is missing or not valid."
            )

    def name_taken(self: CloudFrontResponse, name: str, but: str | None = None) -> None:
        for policy in store(self.backend).values():
            if (
                policy["Type"] == "custom"
                and policy["Config"]["Name"] == name
                and policy["Id"] != but
            ):
                raise _cloudfront_error(
                    "ResponseHeadersPolicyAlreadyExists",
                    "A response headers policy with this name already exists.",
                )

    def create(self: CloudFrontResponse) -> ActionResult:
        config = self._get_param("ResponseHeadersPolicyConfig")
        name_taken(self, config["Name"])
        policy = {
            "Id": str(mock_random.uuid4()),
            "Type": "custom",
            "Config": config,
            "ETag": mock_random.get_random_string(length=14).upper(),
            "LastModifiedTime": datetime.datetime.now(datetime.UTC),
        }
        store(self.backend)[policy["Id"]] = policy
        return ActionResult(
            {
                "ResponseHeadersPolicy": shape(policy),
                "Location": f"https://cloudfront.amazonaws.com/{PATH}/{policy['Id']}",
                "ETag": policy["ETag"],
            }
        )

    def get(self: CloudFrontResponse) -> ActionResult:
        policy = find(self)
        return ActionResult({"ResponseHeadersPolicy": shape(policy), "ETag": policy["ETag"]})

    def get_config(self: CloudFrontResponse) -> ActionResult:
        policy = find(self)
        return ActionResult(
            {"ResponseHeadersPolicyConfig": policy["Config"], "ETag": policy["ETag"]}
        )

    def update(self: CloudFrontResponse) -> ActionResult:
        policy = find(self)
        if policy["Type"] == "managed":
            raise _cloudfront_error("IllegalUpdate", "A managed policy cannot be updated.")
        check_if_match(self, policy)
        config = self._get_param("ResponseHeadersPolicyConfig")
        name_taken(self, config["Name"], but=policy["Id"])
        policy.update(
            Config=config,
            ETag=mock_random.get_random_string(length=14).upper(),
            LastModifiedTime=datetime.datetime.now(datetime.UTC),
        )
        return ActionResult({"ResponseHeadersPolicy": shape(policy), "ETag": policy["ETag"]})

    def in_use(backend: CloudFrontBackend, policy_id: str) -> bool:
        for dist in backend.distributions.values():
            config = dist.distribution_config
            behaviours = [config.DefaultCacheBehavior, *(config.CacheBehaviors.get("Items") or [])]
            if any(getattr(b, "response_headers_policy_id", None) == policy_id for b in behaviours):
                return True
        return False

    def delete(self: CloudFrontResponse) -> EmptyResult:
        policy = find(self)
        if policy["Type"] == "managed":
            raise _cloudfront_error("IllegalDelete", "A managed policy cannot be deleted.")
        check_if_match(self, policy)
        if in_use(self.backend, policy["Id"]):
            raise _cloudfront_error(
                "ResponseHeadersPolicyInUse",
                "Cannot delete the response headers policy because it is attached to one or"
                " more cache behaviors.",
            )
        del store(self.backend)[policy["Id"]]
        return EmptyResult()

    def list_all(self: CloudFrontResponse) -> ActionResult:
        wanted = self._get_param("Type")
        items = [
            {"Type": policy["Type"], "ResponseHeadersPolicy": shape(policy)}
            for policy in store(self.backend).values()
            if wanted in (None, policy["Type"])
        ]
        result: dict[str, Any] = {"MaxItems": self._get_int_param("MaxItems") or 100}
        result["Quantity"] = len(items)
        if items:
            result["Items"] = items
        return ActionResult({"ResponseHeadersPolicyList": result})

    for name, handler in {
        "create_response_headers_policy": create,
        "get_response_headers_policy": get,
        "get_response_headers_policy_config": get_config,
        "update_response_headers_policy": update,
        "delete_response_headers_policy": delete,
        "list_response_headers_policies": list_all,
    }.items():
        setattr(CloudFrontResponse, name, handler)
    base = "{0}/" + PATH
    urls.url_paths[base + "$"] = CloudFrontResponse.dispatch
    urls.url_paths[base + "/(?P<policy_id>[^/]+)$"] = CloudFrontResponse.dispatch
    urls.url_paths[base + "/(?P<policy_id>[^/]+)/config$"] = CloudFrontResponse.dispatch

    def named_policies_exist(backend: CloudFrontBackend, config: dict[str, Any]) -> None:
        behaviours = [
            config.get("DefaultCacheBehavior") or {},
            *((config.get("CacheBehaviors") or {}).get("Items") or []),
        ]
        policies = store(backend)
        for behaviour in behaviours:
            policy_id = (
                behaviour.get("ResponseHeadersPolicyId") if isinstance(behaviour, dict) else None
            )
            if policy_id and policy_id not in policies:
                raise not_found()

    @_around(CloudFrontBackend, "create_distribution_with_tags")
    def create_distribution(
        original: Callable[..., Any], self: CloudFrontBackend, distribution_config: Any, tags: Any
    ) -> Any:
        named_policies_exist(self, distribution_config)
        return original(self, distribution_config, tags)

    @_around(CloudFrontBackend, "update_distribution")
    def update_distribution(
        original: Callable[..., Any], self: CloudFrontBackend, dist_config: Any, **kwargs: Any
    ) -> Any:
        named_policies_exist(self, dist_config or {})
        return original(self, dist_config=dist_config, **kwargs)


@fix
def cloudfront_web_acls_are_cloudfront_scoped_and_held() -> None:
    """moto 5.2.5: a distribution may name any ``WebACLId``, and WAF deletes a web ACL that a
    distribution still uses.

    AWS: CreateDistribution/UpdateDistribution take the ARN of an existing WAFv2 web ACL of
    scope CLOUDFRONT only (InvalidWebACLId otherwise), and DeleteWebACL of one a distribution
    names fails with WAFAssociatedItemException.
    """
    from moto.cloudfront.models import CloudFrontBackend, cloudfront_backends
    from moto.wafv2.exceptions import WAFv2ClientError
    from moto.wafv2.models import WAFV2Backend, wafv2_backends
    from moto.wafv2.utils import make_arn_for_wacl

    def check(backend: CloudFrontBackend, config: dict[str, Any]) -> None:
        acl = config.get("WebACLId") or ""
        if not acl:
            return
        # CLOUDFRONT web ACLs are managed in us-east-1; moto keeps them where it was called.
        held = any(acl in waf.wacls for waf in wafv2_backends[backend.account_id].values())
        if ":global/webacl/" not in acl or not held:
            raise _cloudfront_error(
                "InvalidWebACLId",
                f"Web ACL is not accessible by the requester or is not a CLOUDFRONT web ACL: {acl}",
            )

    @_around(CloudFrontBackend, "create_distribution_with_tags")
    def create_distribution(
        original: Callable[..., Any], self: CloudFrontBackend, distribution_config: Any, tags: Any
    ) -> Any:
        check(self, distribution_config)
        return original(self, distribution_config, tags)

    @_around(CloudFrontBackend, "update_distribution")
    def update_distribution(
        original: Callable[..., Any], self: CloudFrontBackend, dist_config: Any, **kwargs: Any
    ) -> Any:
        check(self, dist_config or {})
        return original(self, dist_config=dist_config, **kwargs)

    @_around(WAFV2Backend, "delete_web_acl")
    def delete_web_acl(
        original: Callable[..., Any], self: Any, name: str, scope: str, _id: str, lock_token: str
    ) -> Any:
        arn = make_arn_for_wacl(
            name=name,
            account_id=self.account_id,
            region_name=self.region_name,
            _id=_id,
            scope=scope,
        )
        for dist in cloudfront_backends[self.account_id]["aws"].distributions.values():
            if dist.distribution_config.WebACLId == arn:
                raise WAFv2ClientError(
                    "WAFAssociatedItemException",
                    "AWS WAF couldn't perform the operation because your resource is being used"
                    " by another resource or it's associated with another resource.",
                )
        return original(self, name, scope, _id, lock_token)


@fix
def cloudfront_distribution_config_omits_unset_fields() -> None:
    """moto 5.2.5: GetDistributionConfig invents empty fields AWS leaves out.

    AWS omits ``Items`` of an empty TrustedSigners/TrustedKeyGroups list, an unset
    ``RealtimeLogConfigArn``/``CachePolicyId``/``OriginRequestPolicyId`` (moto: ``""`` in
    CacheBehaviors), and the ViewerCertificate fields of a certificate that is not
    used; for the default certificate it reports ``SSLSupportMethod: vip`` and
    ``CertificateSource: cloudfront``, for ACM/IAM ``Certificate`` and ``CertificateSource``
    name that certificate. A client that reads the config back and sends it again (as
    community.aws.cloudfront_distribution does) would otherwise send what AWS rejects.
    """
    from moto.cloudfront import models

    def empty_items_omitted(owner: type) -> None:
        @_around(owner, "__init__")
        def init(original: Callable[..., None], self: Any, config: dict[str, Any]) -> None:
            original(self, config)
            if not self.items:
                self.items = None

    empty_items_omitted(models.TrustedSigners)
    empty_items_omitted(models.TrustedKeyGroups)

    def unset_policies_omitted(owner: type) -> None:
        @_around(owner, "__init__")
        def init(original: Callable[..., None], self: Any, config: dict[str, Any]) -> None:
            original(self, config)
            self.realtime_log_config_arn = self.realtime_log_config_arn or None
            self.cache_policy_id = self.cache_policy_id or None
            self.origin_request_policy_id = self.origin_request_policy_id or None

    # CacheBehaviour sets its policy ids again after DefaultCacheBehaviour's __init__.
    unset_policies_omitted(models.DefaultCacheBehaviour)
    unset_policies_omitted(models.CacheBehaviour)

    @_around(models.ViewerCertificate, "__init__")
    def certificate_init(original: Callable[..., None], self: Any, config: dict[str, Any]) -> None:
        original(self, config)
        self.acm_certificate_arn = self.acm_certificate_arn or None
        self.iam_certificate_id = self.iam_certificate_id or None
        if self.acm_certificate_arn:
            self.certificate, self.certificate_source = self.acm_certificate_arn, "acm"
            self.cloud_front_default_certificate = None
        elif self.iam_certificate_id:
            self.certificate, self.certificate_source = self.iam_certificate_id, "iam"
            self.cloud_front_default_certificate = None
        else:
            self.certificate = None
            self.ssl_support_method = config.get("SSLSupportMethod") or "vip"


# --------------------------------------------------------------------------------------------
# CloudWatch Logs: the tagging API
# --------------------------------------------------------------------------------------------


def _logs_log_group_name(arn: str) -> str | None:
    """The log group an ARN names (``...:log-group:NAME``, possibly ``NAME:*``), else None."""
    parts = arn.split(":", 6)
    if len(parts) == 7 and parts[2] == "logs" and parts[5] == "log-group":
        return parts[6]
    return None


@fix
def logs_tagging_api_checks_log_group_arns() -> None:
    """moto 5.2.5: TagResource/UntagResource/ListTagsForResource take any ARN: a log group's ARN
    as DescribeLogGroups' ``arn`` gives it (ending in ``:*``) or one of a deleted group answers
    ``{}``; DeleteLogGroup leaves the group's tags behind for a new group of the same name.

    AWS answers ``ValidationException: Invalid resourceArn`` for the ``:*`` form (the tagging
    API wants ``logGroupArn``, without it) and ResourceNotFoundException for a group that does
    not exist; a deleted group's tags go with it.
    """
    from moto.logs.exceptions import ResourceNotFoundException, ValidationException
    from moto.logs.models import LogsBackend

    def check(backend: LogsBackend, arn: str) -> None:
        name = _logs_log_group_name(arn)
        if name is None:
            return
        if name.endswith(":*"):
            raise ValidationException("Invalid resourceArn")
        if name not in backend.groups:
            raise ResourceNotFoundException()

    for method in ("list_tags_for_resource", "tag_resource", "untag_resource"):

        @_around(LogsBackend, method)
        def checked(original: Callable[..., Any], self: LogsBackend, arn: str, *args: Any) -> Any:
            check(self, arn)
            return original(self, arn, *args)

    @_around(LogsBackend, "delete_log_group")
    def delete_log_group(original: Callable[..., None], self: LogsBackend, name: str) -> None:
        arn = self.groups[name].arn if name in self.groups else None
        original(self, name)
        if arn:
            self.tagger.delete_all_tags_for_resource(arn)


# --------------------------------------------------------------------------------------------
# CloudWatch Logs: vended log deliveries (CloudFront standard logging v2)
# --------------------------------------------------------------------------------------------


@fix
def logs_delivery_source_and_destination_in_use_are_not_deleted() -> None:
    """moto 5.2.5: DeleteDeliverySource and DeleteDeliveryDestination delete a source or a
    destination that a delivery still uses (the delivery is left pointing at nothing).

    AWS: "You can't delete a delivery source (destination) if any current deliveries are
    associated with it" (API reference); it answers ConflictException (the message is ours).
    """
    from moto.logs.exceptions import ConflictException
    from moto.logs.models import LogsBackend

    @_around(LogsBackend, "delete_delivery_source")
    def delete_source(original: Callable[..., None], self: LogsBackend, name: str) -> None:
        if any(d.delivery_source_name == name for d in self.deliveries.values()):
            raise ConflictException(
                f"Delivery Source {name} is used by a delivery: delete it first"
            )
        original(self, name)

    @_around(LogsBackend, "delete_delivery_destination")
    def delete_destination(original: Callable[..., None], self: LogsBackend, name: str) -> None:
        found = self.delivery_destinations.get(name)
        if found and any(d.delivery_destination_arn == found.arn for d in self.deliveries.values()):
            raise ConflictException(
                f"Delivery Destination {name} is used by a delivery: delete it first"
            )
        original(self, name)


@fix
def logs_delivery_source_one_per_resource() -> None:
    """moto 5.2.5: PutDeliverySource accepts a second source (under another name) for a
    resource that already has one.

    AWS answers ConflictException "This ResourceId has already been used in another Delivery
    Source in this account" (a CloudFront distribution has one delivery source).
    """
    from moto.logs.exceptions import ConflictException
    from moto.logs.models import LogsBackend

    @_around(LogsBackend, "put_delivery_source")
    def put_delivery_source(
        original: Callable[..., Any], self: LogsBackend, name: str, resource_arn: str, **kw: Any
    ) -> Any:
        if any(
            other.name != name and resource_arn in other.resource_arns
            for other in self.delivery_sources.values()
        ):
            raise ConflictException(
                "This ResourceId has already been used in another Delivery Source in this account"
            )
        return original(self, name=name, resource_arn=resource_arn, **kw)


@fix
def logs_cloudfront_delivery_sources_only_in_us_east_1() -> None:
    """moto 5.2.5: PutDeliverySource accepts a CloudFront distribution's source in any region.

    AWS answers ValidationException "PutDeliverySource action is not supported for this LogType
    in region <region>" outside us-east-1 (CloudFront standard logging: "you must specify the US
    East (N. Virginia) Region (us-east-1)", whatever the destination's region).
    """
    from moto.logs.exceptions import ValidationException
    from moto.logs.models import LogsBackend

    @_around(LogsBackend, "put_delivery_source")
    def put_delivery_source(
        original: Callable[..., Any], self: LogsBackend, name: str, resource_arn: str, **kw: Any
    ) -> Any:
        if resource_arn.split(":")[2:3] == ["cloudfront"] and self.region_name != "us-east-1":
            raise ValidationException(
                "PutDeliverySource action is not supported for this LogType in region "
                f"{self.region_name}"
            )
        return original(self, name=name, resource_arn=resource_arn, **kw)


@fix
def logs_update_delivery_configuration_exists() -> None:
    """moto 5.2.5 has no UpdateDeliveryConfiguration (NotImplemented): a delivery's record
    fields, field delimiter and S3 layout could only change by deleting and creating it.

    AWS updates them in place ("You can't use this operation to change the source or
    destination of the delivery"); ResourceNotFoundException for an unknown id, and an S3
    layout for a delivery whose destination is not S3 is refused (ValidationException, the
    message is ours).
    """
    from moto.logs.exceptions import ResourceNotFoundException, ValidationException
    from moto.logs.responses import LogsResponse

    def update_delivery_configuration(self: LogsResponse) -> str:
        delivery = self.logs_backend.deliveries.get(self._get_param("id"))
        if delivery is None:
            raise ResourceNotFoundException("Requested Delivery does not exist in this account.")
        s3 = self._get_param("s3DeliveryConfiguration")
        if s3 is not None and delivery.destination_type != "S3":
            raise ValidationException(
                "s3DeliveryConfiguration is only valid for a delivery to an S3 destination"
            )
        if self._get_param("recordFields") is not None:
            delivery.record_fields = self._get_param("recordFields")
        if self._get_param("fieldDelimiter") is not None:
            delivery.field_delimiter = self._get_param("fieldDelimiter")
        if s3 is not None:
            delivery.s3_delivery_configuration = {**delivery.s3_delivery_configuration, **s3}
        return "{}"

    LogsResponse.update_delivery_configuration = update_delivery_configuration


# --------------------------------------------------------------------------------------------
# Secrets Manager
# --------------------------------------------------------------------------------------------


@fix
def secretsmanager_awscurrent_moved_by_stage_is_what_get_secret_value_returns() -> None:
    """moto 5.2.5: UpdateSecretVersionStage moves the AWSCURRENT label but GetSecretValue
    without a version still returns the version moto created last as current.

    AWS returns the version labelled AWSCURRENT (a rotation's finishSecret step moves the label
    to the pending version: every client reads the new value from then on). moto keeps its own
    ``default_version_id`` and never updates it there, so after a rotation the app kept
    reading the old login (playbooks/rotate_db_login.yml).
    """
    from moto.secretsmanager.models import SecretsManagerBackend

    @_around(SecretsManagerBackend, "update_secret_version_stage")
    def update_stage(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        bound = inspect.signature(original).bind(self, *args, **kwargs).arguments
        moved_to = bound.get("move_to_version_id")
        if bound.get("version_stage") == "AWSCURRENT" and moved_to:
            self.secrets[bound["secret_id"]].set_default_version_id(moved_to)
        return result


# --------------------------------------------------------------------------------------------
# RDS
# --------------------------------------------------------------------------------------------


def _gp3_baseline(engine: str, allocated_storage: int) -> tuple[int, int]:
    """(IOPS, MiB/s) AWS includes with gp3 storage (RDS User Guide, "gp3 storage")."""
    if engine.startswith("sqlserver"):
        return 3000, 125
    threshold = 200 if engine.startswith("oracle") else 400
    return (3000, 125) if allocated_storage < threshold else (12000, 500)


@fix
def rds_gp3_reports_iops_and_storage_throughput() -> None:
    """moto 5.2.5: a gp3 DB instance created without Iops/StorageThroughput reports neither.

    AWS always reports gp3's baseline (3000 IOPS and 125 MiB/s below 400 GiB, 12000 and 500
    from 400 GiB on; Oracle's threshold is 200 GiB, SQL Server has no threshold).
    amazon.aws.rds_instance reads ``instance["StorageThroughput"]`` and ``["Iops"]`` on every
    update, so its second run failed with KeyError 'StorageThroughput'.
    """
    from moto.rds.models import DBInstance

    def fill_baseline(instance: DBInstance) -> None:
        if instance.storage_type != "gp3":
            return
        iops, throughput = _gp3_baseline(instance.engine or "", int(instance.allocated_storage))
        instance.iops = instance.iops or iops
        instance.storage_throughput = instance.storage_throughput or throughput

    @_around(DBInstance, "__init__")
    def init(original: Callable[..., None], self: DBInstance, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        fill_baseline(self)

    @_around(DBInstance, "update")
    def update(original: Callable[..., None], self: DBInstance, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        fill_baseline(self)


# A snapshot of RDS's PostgreSQL catalogue: RDS deprecates each minor version about a year after
# its release and then refuses to create it (and upgrades instances off it), so playbooks must
# pin the major version only. Source: the RDS for
# PostgreSQL release calendar (docs.aws.amazon.com, "Supported PostgreSQL minor versions").
# As on RDS, a major's default minor lags its newest one (here: the second newest), so an
# automatic minor upgrade has somewhere to go.
_RDS_ENGINE_VERSIONS = {
    "postgres": {
        "14": ["14.18", "14.19", "14.20"],
        "15": ["15.13", "15.14", "15.15"],
        "16": ["16.9", "16.10", "16.11"],
        "17": ["17.5", "17.6", "17.7"],
    },
}


def _rds_default_minor(minors: list[str]) -> str:
    return minors[-2] if len(minors) > 1 else minors[-1]


def _rds_version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _rds_catalogue_version(engine: str, version: str | None) -> str | None:
    """The catalogue version a request names: an exact minor, or a major's default; None when
    RDS does not offer it (retired or unknown). Engines outside the catalogue pass through."""
    majors = _RDS_ENGINE_VERSIONS.get(engine)
    if majors is None or not version:
        return version
    if version in majors:
        return _rds_default_minor(majors[version])
    major = version.split(".")[0]
    return version if version in majors.get(major, []) else None


@fix
def rds_engine_versions_follow_the_catalogue() -> None:
    """moto 5.2.5 has no DescribeDBEngineVersions and creates or modifies an instance to any
    EngineVersion, also a retired minor version or a lower one.

    AWS: DescribeDBEngineVersions lists the offered versions (``DefaultOnly`` the default minor
    of a major); CreateDBInstance with a retired or unknown version answers
    InvalidParameterCombination ("Cannot find version 16.4 for postgres"), with a major version
    only it takes that major's default minor; ModifyDBInstance to a lower version answers
    InvalidParameterCombination ("Cannot upgrade postgres from 16.10 to 16.4"), to a new major
    without AllowMajorVersionUpgrade likewise; and storage never shrinks (InvalidParameterValue).
    So a playbook pinning ``16.4`` fails here as on AWS, and one that sends the version or the
    size it asked for at creation after an automatic minor upgrade or storage autoscaling does.
    """
    from moto.core.responses import ActionResult
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import RDSBackend
    from moto.rds.responses import RDSResponse

    def describe_db_engine_versions(self: RDSResponse) -> ActionResult:
        engine = self._get_param("Engine")
        wanted = self._get_param("EngineVersion")
        default_only = str(self._get_param("DefaultOnly") or "").lower() == "true"
        found = []
        for name, majors in _RDS_ENGINE_VERSIONS.items():
            if engine and engine != name:
                continue
            for major, minors in majors.items():
                if wanted and wanted not in (major, *minors):
                    continue
                chosen = [_rds_default_minor(minors)] if default_only else minors
                if wanted and wanted != major:
                    chosen = [wanted]
                for version in chosen:
                    found.append(
                        {
                            "Engine": name,
                            "EngineVersion": version,
                            "DBParameterGroupFamily": f"{name}{major}",
                            "DBEngineDescription": "PostgreSQL",
                            "DBEngineVersionDescription": f"PostgreSQL {version}-R1",
                            "Status": "available",
                            "ValidUpgradeTarget": [
                                {
                                    "Engine": name,
                                    "EngineVersion": target,
                                    "IsMajorVersionUpgrade": False,
                                    "AutoUpgrade": True,
                                }
                                for target in minors
                                if _rds_version_key(target) > _rds_version_key(version)
                            ],
                        }
                    )
        return ActionResult({"DBEngineVersions": found})

    RDSResponse.describe_db_engine_versions = describe_db_engine_versions  # type: ignore[attr-defined]

    @_around(RDSBackend, "create_db_instance")
    def create_db_instance(original: Callable[..., Any], self: RDSBackend, db_kwargs: Any) -> Any:
        engine, version = db_kwargs.get("engine"), db_kwargs.get("engine_version")
        if version:
            chosen = _rds_catalogue_version(engine or "", version)
            if chosen is None:
                raise RDSClientError(
                    "InvalidParameterCombination", f"Cannot find version {version} for {engine}"
                )
            db_kwargs["engine_version"] = chosen
        return original(self, db_kwargs)

    @_around(RDSBackend, "modify_db_instance")
    def modify_db_instance(
        original: Callable[..., Any], self: RDSBackend, identifier: str, db_kwargs: Any
    ) -> Any:
        database = self.describe_db_instances(identifier)[0]
        version = db_kwargs.get("engine_version")
        if version and version != database.engine_version:
            engine = database.engine
            chosen = _rds_catalogue_version(engine, version)
            if chosen is None:
                raise RDSClientError(
                    "InvalidParameterCombination", f"Cannot find version {version} for {engine}"
                )
            if _rds_version_key(chosen) < _rds_version_key(database.engine_version):
                raise RDSClientError(
                    "InvalidParameterCombination",
                    f"Cannot upgrade {engine} from {database.engine_version} to {chosen}",
                )
            new_major = chosen.split(".")[0] != database.engine_version.split(".")[0]
            allowed = str(db_kwargs.get("allow_major_version_upgrade", "")).lower() == "true"
            if new_major and not allowed:
                raise RDSClientError(
                    "InvalidParameterCombination",
                    "The AllowMajorVersionUpgrade flag must be present when upgrading to a new "
                    "major version.",
                )
            db_kwargs["engine_version"] = chosen
        storage = db_kwargs.get("allocated_storage")
        if storage is not None and int(storage) < int(database.allocated_storage):
            raise RDSClientError(
                "InvalidParameterValue",
                f"Invalid storage size for engine name {database.engine}: allocated storage "
                f"can't be decreased from {database.allocated_storage} GiB to {storage} GiB.",
            )
        return original(self, identifier, db_kwargs)


# --------------------------------------------------------------------------------------------
# AWS's timings: resources that take time to become ready
# --------------------------------------------------------------------------------------------

# How long AWS takes to move a resource from one state to the next, in seconds, and where the
# figure comes from. moto makes every resource ready at once; with a timing scale above 0 the
# emulator holds a new resource in its intermediate state for duration x scale (1/60: a
# 12-minute RDS create takes 12 s), and describe calls and waiters see it. The scale is
# FIDELITY_TIME_SCALE when the emulator starts (default 0: moto's own behaviour) and can change
# at run time: POST /moto-api/fidelity/timing {"scale": 0.02}; GET shows it and the table.
AWS_DURATIONS: dict[str, tuple[float, str]] = {
    "autoscaling.instance_refresh.pending": (
        30,
        "EC2 Auto Scaling User Guide, 'Instance refresh': a refresh is Pending until it starts "
        "its first replacement, typically well under a minute",
    ),
    "autoscaling.instance_refresh.launch": (
        60,
        "EC2 Auto Scaling User Guide, 'Instance refresh': each batch is terminated and its "
        "replacements launched (about a minute to InService) before the instance warm-up, "
        "which is added to this",
    ),
    "ec2.image.pending": (
        300,
        "EC2 User Guide, 'Create an Amazon EBS-backed AMI': pending while the snapshots are "
        "taken, minutes for a first snapshot of a 20 GiB volume",
    ),
    "rds.db_instance.creating": (
        720,
        "RDS User Guide, 'Creating an Amazon RDS DB instance' (minutes); a Single-AZ "
        "PostgreSQL instance typically takes 10-15 min, Multi-AZ 15-20 min",
    ),
    "ec2.nat_gateway.pending": (
        90,
        "VPC User Guide, 'NAT gateways': pending, then available, typically after 1-2 min",
    ),
    "dynamodb.table.continuous_backups_unavailable": (
        60,
        "DynamoDB API Reference, UpdateContinuousBackups: ContinuousBackupsUnavailableException "
        "'Backups have not yet been enabled for this table'; seen for about a minute after "
        "CreateTable (community reports, e.g. terraform-provider-aws issues on PITR)",
    ),
    # Elastic Beanstalk environments (local/emulator/fidelity_elasticbeanstalk.py).
    "elasticbeanstalk.environment.launching": (
        300,
        "Elastic Beanstalk Developer Guide, 'Creating an Elastic Beanstalk environment': a "
        "load-balanced environment takes about 5 minutes (its CloudFormation stack: security "
        "groups, load balancer, Auto Scaling group, instances, the first deployment)",
    ),
    "elasticbeanstalk.environment.updating": (
        240,
        "Elastic Beanstalk Developer Guide, 'Deployment policies': a rolling deployment with an "
        "additional batch launches a batch, deploys batch by batch and terminates the extra "
        "batch, several minutes for a small fleet; configuration updates likewise",
    ),
    "elasticbeanstalk.environment.terminating": (
        300,
        "Elastic Beanstalk Developer Guide, 'Terminating an environment': the stack and its "
        "resources are deleted, typically 5 minutes",
    ),
    # Deletions AWS finishes later (section "Deletions AWS finishes later" below).
    "ec2.nat_gateway.deleting": (
        60,
        "VPC User Guide, 'Delete a NAT gateway': deleting, then deleted once AWS has released "
        "its network interface and disassociated its Elastic IP (about a minute)",
    ),
    "elbv2.load_balancer.network_interfaces": (
        180,
        "community reports (terraform-provider-aws, cloud-nuke): a deleted load balancer's "
        "'ELB app/...' network interfaces stay in use for minutes; DeleteSubnet, "
        "DeleteSecurityGroup and DetachInternetGateway answer DependencyViolation meanwhile",
    ),
    "sqs.queue.deleted_recently": (
        60,
        "SQS API Reference, CreateQueue, QueueDeletedRecently: 'You must wait 60 seconds after "
        "deleting a queue before you can create another queue with the same name'",
    ),
    "s3.server_access_logs.in_flight": (
        3600,
        "S3 API Reference, PutBucketLogging: after logging is turned off or retargeted 'some "
        "logs for the next hour might continue to be delivered'; S3 User Guide: delivery is "
        "best effort, most records within a few hours of the request",
    ),
}
_TIMING = {"scale": float(os.environ.get("FIDELITY_TIME_SCALE") or 0)}


def _ready_at(kind: str) -> float:
    """When a resource created now leaves its intermediate state (a monotonic time)."""
    return time.monotonic() + AWS_DURATIONS[kind][0] * _TIMING["scale"]


@fix
def timing_scale_endpoint() -> None:
    """Not a moto gap: the switch of the timings above, ``/moto-api/fidelity/timing``."""
    from moto.moto_api._internal import urls

    def timing(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
        if request.method == "POST":
            # get_data(): the raw body, whatever the Content-Type (.data is empty for a form).
            scale = float(json.loads(request.get_data() or b"{}").get("scale", 0))
            if not 0 <= scale <= 1:
                return 400, {}, json.dumps({"error": "scale must be between 0 and 1"})
            _TIMING["scale"] = scale
        body = {"scale": _TIMING["scale"], "durations": AWS_DURATIONS}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    urls.url_paths["{0}/moto-api/fidelity/timing"] = timing


@fix
def rds_db_instances_are_creating_for_a_while() -> None:
    """moto 5.2.5: a new DB instance is ``available`` at once, with its endpoint.

    AWS: ``creating`` for 10-20 minutes (AWS_DURATIONS), with no ``Endpoint`` in
    DescribeDBInstances until it is reachable; a playbook that waits for it where it creates it
    holds every other lane of its phase that long.
    """
    from moto.rds.models import DBInstance

    def get_status(self: Any) -> str:
        status = self.__dict__.get("fidelity_status", "available")
        if status != "available":
            return status  # e.g. deleting (realistic_rds_instances_modify_and_delete_for_a_while)
        if time.monotonic() < self.__dict__.get("fidelity_ready_at", 0):
            return "creating"
        if time.monotonic() < self.__dict__.get("fidelity_modifying_until", 0):
            return "modifying"
        return status

    def set_status(self: Any, value: str) -> None:
        self.__dict__["fidelity_status"] = value

    endpoint = DBInstance.endpoint

    def get_endpoint(self: Any) -> Any:
        return None if get_status(self) == "creating" else endpoint.fget(self)

    DBInstance.status = property(get_status, set_status)  # type: ignore[assignment]
    DBInstance.endpoint = property(get_endpoint)  # type: ignore[assignment]

    @_around(DBInstance, "__init__")
    def init(original: Callable[..., None], self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.__dict__["fidelity_ready_at"] = _ready_at("rds.db_instance.creating")


@fix
def ec2_nat_gateways_are_pending_for_a_while() -> None:
    """moto 5.2.5: a new NAT gateway is ``available`` at once.

    AWS: ``pending`` for a minute or two (AWS_DURATIONS); routes to it and the private subnets'
    traffic must wait until it is available (the nat_gateway_available waiter).
    """
    from moto.ec2.models.nat_gateways import NatGateway

    _settling(NatGateway, "state", settled="available", settling="pending")

    @_around(NatGateway, "__init__")
    def init(original: Callable[..., None], self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.__dict__["fidelity_ready_at"] = _ready_at("ec2.nat_gateway.pending")


@fix
def dynamodb_continuous_backups_are_unavailable_on_a_new_table() -> None:
    """moto 5.2.5: UpdateContinuousBackups succeeds right after CreateTable.

    AWS: continuous backups are being enabled on a new table for a while (AWS_DURATIONS) and
    UpdateContinuousBackups answers ContinuousBackupsUnavailableException meanwhile; a module that
    turns point-in-time recovery on right after creating the table must retry.
    """
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
    from moto.dynamodb.models import DynamoDBBackend

    @_around(DynamoDBBackend, "create_table")
    def create_table(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        table = original(self, *args, **kwargs)
        table.fidelity_backups_at = _ready_at("dynamodb.table.continuous_backups_unavailable")
        return table

    @_around(DynamoDBBackend, "update_continuous_backups")
    def update_continuous_backups(
        original: Callable[..., Any], self: Any, table_name: str, spec: dict[str, Any]
    ) -> Any:
        table = self.tables.get(table_name)
        if table is not None and time.monotonic() < getattr(table, "fidelity_backups_at", 0):
            raise DynamodbException(
                ERROR_TYPE_PREFIX + "ContinuousBackupsUnavailableException",
                f"Backups are being enabled for the table: {table_name}. Please retry later",
            )
        return original(self, table_name, spec)


# --------------------------------------------------------------------------------------------
# A request journal: what the clients sent
# --------------------------------------------------------------------------------------------

_JOURNAL: list[dict[str, Any]] = []
_JOURNAL_LIMIT = 5000


def _journal_record(response: Any, **extra: Any) -> None:
    try:
        params = {k: v for k, v in (response.querystring or {}).items() if k != "Action"}
        if not params and isinstance(getattr(response, "body", None), str | bytes):
            params = json.loads(response.body or "{}")
        _JOURNAL.append(
            {"service": response.service_name, "action": response._get_action(), "params": params}
            | extra
        )
        del _JOURNAL[:-_JOURNAL_LIMIT]
    except Exception:  # noqa: S110 - the journal must never break a request
        pass


@fix
def journal_of_requests() -> None:
    """Not a moto gap: a record of what clients sent, for tests that must prove a playbook did
    NOT send a parameter (e.g. no EngineVersion or AllocatedStorage after an automatic upgrade).

    ``GET /moto-api/fidelity/journal`` returns the last requests as JSON
    ``[{"service", "action", "params"}]`` (query-protocol parameters, or the JSON body; a
    request the realistic mode refused also has ``"fault": <error code>``); ``POST`` empties it.
    """
    from moto.core.responses import BaseResponse
    from moto.moto_api._internal import urls

    @_around(BaseResponse, "call_action")
    def call_action(original: Callable[..., Any], self: BaseResponse) -> Any:
        _journal_record(self)
        return original(self)

    def journal(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
        if request.method == "POST":
            _JOURNAL.clear()
            return 200, {}, "[]"
        return 200, {"Content-Type": "application/json"}, json.dumps(_JOURNAL, default=str)

    urls.url_paths["{0}/moto-api/fidelity/journal"] = journal


# --------------------------------------------------------------------------------------------
# The realistic mode: AWS's durations, eventual consistency and seeded faults
# --------------------------------------------------------------------------------------------
# One switch, for the suite that proves the playbooks converge on an AWS that is slow, lagging
# and flaky, and for the benchmarks:
#   POST /moto-api/fidelity/realistic {"scale": 1/60, "fault_rate": 0.05, "seed": 7}
# or FIDELITY_REALISTIC='{"scale": ..., "fault_rate": ..., "seed": ...}' when the emulator
# starts. It sets the timing scale above (every AWS_DURATIONS entry, including the transitions
# only this mode plays: RDS modifying/deleting, CloudFront InProgress, ALB provisioning, Auto
# Scaling instances Pending), makes new resources briefly unknown where AWS is eventually
# consistent ("consistency", a factor of AWS_CONSISTENCY's seconds, default 1: they are short
# already), and refuses a share of requests with the service's own throttling or 5xx error.
# A fault is decided per (seed, service, action, nth call of that action): a run replays with
# the same seed even when lanes interleave differently. Faults come before the action (nothing
# was done) and are in the journal ("fault": code). {"scale": 0, "fault_rate": 0} turns it off.
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
# 'Common Errors' pages; EC2's and DynamoDB's own codes differ.
_FAULTS: dict[str, dict[str, tuple[int, str, str]]] = {
    "query": {
        "throttle": (400, "Throttling", "Rate exceeded"),
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
    },
    "json": {
        "throttle": (400, "ThrottlingException", "Rate exceeded"),
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
    },
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


@fix
def realistic_new_instance_profiles_are_not_usable_for_a_moment() -> None:
    """AWS: an instance profile just created (or just given its role) is not yet known to EC2:
    RunInstances answers InvalidParameterValue 'Value (<name>) for parameter
    iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name', and
    CreateAutoScalingGroup/UpdateAutoScalingGroup with a launch template naming it answer
    ValidationError 'You must use a valid fully-formed launch template. ...' (AWS_CONSISTENCY).
    CreateLaunchTemplate does not check the profile. moto accepts it at once."""
    from moto.autoscaling.exceptions import ValidationError
    from moto.autoscaling.models import FakeAutoScalingGroup
    from moto.ec2.exceptions import InvalidParameterValue
    from moto.ec2.models.instances import InstanceBackend
    from moto.iam.models import IAMBackend

    @_around(IAMBackend, "create_instance_profile")
    def create_instance_profile(
        original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any
    ) -> Any:
        profile = original(self, *args, **kwargs)
        _made_now(profile.name, profile.arn, kind="iam.instance_profile")
        return profile

    @_around(IAMBackend, "add_role_to_instance_profile")
    def add_role(original: Callable[..., Any], self: Any, profile_name: str, role: str) -> Any:
        result = original(self, profile_name, role)
        profile = self.get_instance_profile(profile_name)
        _made_now(profile.name, profile.arn, kind="iam.instance_profile")
        return result

    def invalid(parameter: str, value: str) -> str:
        kind = "name" if parameter.endswith("name") else "ARN"
        return (
            f"Value ({value}) for parameter {parameter} is invalid. "
            f"Invalid IAM Instance Profile {kind}"
        )

    @_around(InstanceBackend, "run_instances")
    def run_instances(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        if _YOUNG and not getattr(_ASG_LAUNCH, "active", False):
            profile = {
                "Name": kwargs.get("iam_instance_profile_name"),
                "Arn": kwargs.get("iam_instance_profile_arn"),
            }
            if not (profile["Name"] or profile["Arn"]):
                profile = _profile_of_template(self, kwargs.get("launch_template"))
            if young := _young_profile(profile):
                raise InvalidParameterValue(invalid(*young))
        return original(self, *args, **kwargs)

    @_around(FakeAutoScalingGroup, "_set_launch_configuration")
    def set_launch_configuration(
        original: Callable[..., Any],
        self: Any,
        launch_config_name: str,
        launch_template: dict[str, Any],
        mixed_instances_policy: dict[str, Any] | None,
    ) -> Any:
        if _YOUNG:
            spec = launch_template or (
                (mixed_instances_policy or {}).get("LaunchTemplate", {})
            ).get("LaunchTemplateSpecification")
            if young := _young_profile(_profile_of_template(self.ec2_backend, spec)):
                raise ValidationError(
                    "You must use a valid fully-formed launch template. " + invalid(*young)
                )
        _ASG_LAUNCH.active = True
        try:
            return original(self, launch_config_name, launch_template, mixed_instances_policy)
        finally:
            _ASG_LAUNCH.active = False


# The Auto Scaling group's own launches were checked when the group was created or updated.
_ASG_LAUNCH = threading.local()


@fix
def realistic_rds_instances_modify_and_delete_for_a_while() -> None:
    """moto 5.2.5: ModifyDBInstance is applied at once, DeleteDBInstance removes the instance at
    once, and a subnet group in use is deleted. AWS: a class, storage or version change with
    ApplyImmediately leaves the instance 'modifying', a deleted instance is 'deleting' for
    minutes (AWS_DURATIONS, realistic mode), and DeleteDBSubnetGroup of a group an instance
    still uses answers InvalidDBSubnetGroupStateFault."""
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import RDSBackend

    lasting = {
        "db_instance_class",
        "allocated_storage",
        "engine_version",
        "storage_type",
        "iops",
        "multi_az",
        "storage_throughput",
        "ca_certificate_identifier",
    }

    @_around(RDSBackend, "modify_db_instance")
    def modify(original: Callable[..., Any], self: Any, identifier: str, db_kwargs: dict) -> Any:
        database = original(self, identifier, db_kwargs)
        if db_kwargs.get("apply_immediately") and lasting & {
            key for key, value in db_kwargs.items() if value is not None
        }:
            database.__dict__["fidelity_modifying_until"] = _realistic_ready_at(
                "rds.db_instance.modifying"
            )
        return database

    @_around(RDSBackend, "delete_db_instance")
    def delete(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        database = original(self, *args, **kwargs)
        identifier = database.db_instance_identifier
        if _REALISTIC["on"] and _TIMING["scale"]:
            self.databases[identifier] = database  # 'deleting' until AWS is done
            _later(
                _ready_at("rds.db_instance.deleting"),
                lambda: self.databases.pop(identifier, None),
            )
        return database

    @_around(RDSBackend, "delete_subnet_group")
    def delete_subnet_group(original: Callable[..., Any], self: Any, name: str) -> Any:
        for database in self.databases.values():
            if getattr(database, "_db_subnet_group_name", None) == name:
                raise RDSClientError(
                    "InvalidDBSubnetGroupStateFault",
                    f"Cannot delete the subnet group '{name}' because at least one database "
                    f"instance: {database.db_instance_identifier} is still using it.",
                )
        return original(self, name)


@fix
def realistic_cloudfront_distributions_deploy_for_a_while() -> None:
    """moto 5.2.5: a distribution is Deployed at once after CreateDistribution/UpdateDistribution.
    AWS: InProgress until the change reached every edge location (AWS_DURATIONS, realistic
    mode), and DeleteDistribution meanwhile answers DistributionNotDisabled."""
    from moto.cloudfront.models import CloudFrontBackend, Distribution

    def deploying(distribution: Any) -> None:
        distribution.__dict__["fidelity_deployed_at"] = _realistic_ready_at(
            "cloudfront.distribution.deploying"
        )

    def get_status(self: Any) -> str:
        if time.monotonic() < self.__dict__.get("fidelity_deployed_at", 0):
            return "InProgress"
        return "Deployed"

    Distribution.status = property(get_status, lambda self, value: None)  # type: ignore[assignment]

    @_around(CloudFrontBackend, "create_distribution_with_tags")
    def create(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        deploying(result[0])
        return result

    @_around(CloudFrontBackend, "update_distribution")
    def update(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        deploying(result[0])
        return result

    @_around(CloudFrontBackend, "delete_distribution")
    def delete(original: Callable[..., Any], self: Any, distribution_id: str, if_match: Any):
        distribution = self.distributions.get(distribution_id)
        if distribution is not None and distribution.status == "InProgress":
            raise _cloudfront_error(
                "DistributionNotDisabled",
                "The distribution you are trying to delete has not been disabled.",
            )
        return original(self, distribution_id, if_match)


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


# --------------------------------------------------------------------------------------------
# S3 server access logging, ELBv2 attributes, Debian's public AMI parameter
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


# Debian's official images are published as SSM public parameters (one per release/arch).
_DEBIAN_AMIS = {
    "/aws/service/debian/release/12/latest/amd64": ("ami-0d5eb1f0e1dbb5e12", "x86_64"),
    "/aws/service/debian/release/12/latest/arm64": ("ami-0a3d1c7f6d8e2b9a4", "arm64"),
}
_DEBIAN_OWNER = "136693071363"


@fix
def debian_public_ami_parameters_exist() -> None:
    """moto 5.2.5 knows only Amazon Linux/ECS public parameters and no Debian image.

    AWS publishes ``/aws/service/debian/release/12/latest/<arch>`` naming Debian's official
    AMI (owner 136693071363) in every region; the launch templates look the AMI up there.
    """
    from moto.ec2.models.amis import Ami, AmiBackend
    from moto.ssm.models import Parameter, ParameterDict

    @_around(AmiBackend, "_load_amis")
    def load_amis(original: Callable[..., None], self: Any) -> None:
        original(self)
        for name, (ami_id, arch) in _DEBIAN_AMIS.items():
            self.amis[ami_id] = Ami(
                self,
                ami_id=ami_id,
                name=f"debian-12-{'amd64' if arch == 'x86_64' else 'arm64'}-20261101-2000",
                description=f"Debian 12 (stand-in for {name})",
                owner_id=_DEBIAN_OWNER,
                owner_alias="",
                architecture=arch,
                root_device_name="/dev/xvda",
                root_device_type="ebs",
                virtualization_type="hvm",
                hypervisor="xen",
                state="available",
                public=True,
            )

    @_around(ParameterDict, "_check_loading_status")
    def check_loading(original: Callable[..., None], self: Any, key: str) -> None:
        original(self, key)
        if str(key or "").startswith("/aws/service/debian/") and not getattr(self, "_debian", 0):
            self._debian = 1
            for name, (ami_id, _arch) in _DEBIAN_AMIS.items():
                super(ParameterDict, self).__getitem__(name).append(
                    Parameter(
                        account_id=self.account_id,
                        name=name,
                        value=ami_id,
                        parameter_type="String",
                        description=None,
                        allowed_pattern=None,
                        keyid=None,
                        last_modified_date=0,
                        version=1,
                        data_type="aws:ec2:image",
                    )
                )


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
# IAM as AWS enforces it, and the instances' credentials (IMDS)
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


def _web_identity_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT (its payload); the signature is not checked here (below)."""
    import base64

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        claims = None
    if not isinstance(claims, dict):
        from moto.sts.exceptions import STSClientError

        raise STSClientError("InvalidIdentityToken", "Token is not a valid JWT")
    return claims


@fix
def sts_web_identity_checks_the_provider_the_audience_and_the_trust_policy() -> None:
    """moto 5.2.5's AssumeRoleWithWebIdentity hands out credentials for any role and any token.

    AWS (STS API Reference, AssumeRoleWithWebIdentity; IAM User Guide, "Available keys for AWS
    web identity federation") finds the IAM OIDC provider of the token's issuer (``iss``, none:
    InvalidIdentityToken), requires the token's ``aud`` among the provider's client ids
    (InvalidIdentityToken) and an unexpired ``exp`` (ExpiredTokenException), refuses a duration
    beyond the role's MaxSessionDuration (ValidationError), and evaluates the role's trust policy
    for ``sts:AssumeRoleWithWebIdentity`` by the provider (``Principal.Federated``) with the
    claims as condition keys ``<issuer host/path>:aud`` and ``:sub`` (AccessDenied otherwise).
    Not done here: the token's signature (AWS checks it against the issuer's published keys;
    the emulator has none), so a test may sign its tokens with nothing.
    """
    from urllib.parse import unquote

    from moto.iam.models import iam_backends
    from moto.sts.exceptions import STSClientError, STSValidationError
    from moto.sts.responses import TokenResponse

    from local.emulator.iam_policy import Principal, evaluate

    @_around(TokenResponse, "assume_role_with_web_identity")
    def assume(original: Callable[..., Any], self: Any) -> Any:
        claims = _web_identity_claims(self._get_param("WebIdentityToken") or "")
        backend = iam_backends[self.current_account]["aws"]
        issuer = str(claims.get("iss", "")).removeprefix("https://").rstrip("/")
        provider = next(
            (p for p in backend.open_id_providers.values() if p.url.rstrip("/") == issuer), None
        )
        if provider is None:
            raise STSClientError(
                "InvalidIdentityToken",
                f"No OpenIDConnect provider found in your account for https://{issuer}",
            )
        audiences = claims.get("aud", [])
        audiences = audiences if isinstance(audiences, list) else [audiences]
        if not set(audiences) & set(provider.client_id_list):
            raise STSClientError("InvalidIdentityToken", "Incorrect token audience")
        now = time.time()
        if float(claims.get("exp", 0)) <= now:
            raise STSClientError(
                "ExpiredTokenException",
                f"Token expired: current date/time {int(now)} must be before the expiration "
                f"date/time {claims.get('exp')}",
            )
        role_arn = self._get_param("RoleArn") or ""
        role = next((r for r in backend.roles.values() if r.arn == role_arn), None)
        duration = self._get_int_param("DurationSeconds", 3600)
        if role is not None and duration > int(role.max_session_duration or 3600):
            raise STSValidationError(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        context = {f"{issuer}:{key}": claims[key] for key in ("aud", "sub") if key in claims}
        provider_arn = f"arn:aws:iam::{self.current_account}:oidc-provider/{issuer}"
        allowed = (
            role is not None
            and evaluate(
                [],
                "sts:AssumeRoleWithWebIdentity",
                role_arn,
                context,
                resource_policies=[unquote(role.assume_role_policy_document)],
                principal=Principal(federated=provider_arn),
            ).allowed
        )
        if not allowed:
            raise STSClientError(
                "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"
            )
        return original(self)


# Instance credentials last 6 hours and rotate an hour before they expire (EC2 User Guide,
# "Retrieve security credentials from instance metadata").
_IMDS_CREDENTIAL_SECONDS = 6 * 3600
_IMDS_ROTATE_BEFORE_SECONDS = 3600
_IMDS_TOKENS: dict[str, float] = {}
_IMDS_CREDENTIALS: dict[str, Any] = {}


def _imds_instance(instance_id: str) -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends

    for backend in list(ec2_backends[DEFAULT_ACCOUNT_ID].values()):
        for reservation in backend.reservations.values():
            for instance in reservation.instances:
                if instance.id == instance_id:
                    return backend, instance
    return None, None


def _imds_credentials(backend: Any, instance: Any) -> dict[str, str] | None:
    """The instance profile role's temporary credentials, as IMDS hands them out."""
    import datetime

    from moto.sts.models import sts_backends

    association = backend.iam_instance_profile_associations.get(instance.id)
    if association is None or not association.iam_instance_profile.roles:
        return None
    role = association.iam_instance_profile.roles[0]
    now = datetime.datetime.now(datetime.UTC)
    found = _IMDS_CREDENTIALS.get(instance.id)
    if (
        found is None
        or found["role"] != role.arn
        or found["expires"] - now < datetime.timedelta(seconds=_IMDS_ROTATE_BEFORE_SECONDS)
    ):
        session = sts_backends[backend.account_id]["aws"].assume_role(
            region_name=backend.region_name,
            role_session_name=instance.id,
            role_arn=role.arn,
            policy="",
            duration=_IMDS_CREDENTIAL_SECONDS,
            external_id="",
        )
        found = _IMDS_CREDENTIALS[instance.id] = {
            "role": role.arn,
            "name": role.name,
            "session": session,
            "updated": now,
            "expires": now + datetime.timedelta(seconds=_IMDS_CREDENTIAL_SECONDS),
        }
    session = found["session"]
    return {
        "name": found["name"],
        "Code": "Success",
        "LastUpdated": found["updated"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Type": "AWS-HMAC",
        "AccessKeyId": session.access_key_id,
        "SecretAccessKey": session.secret_access_key,
        "Token": session.session_token,
        "Expiration": found["expires"].strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


@fix
def instance_metadata_per_instance() -> None:
    """moto 5.2.5's instance metadata hands every caller test-key/test-session-token, tied to no
    role. AWS's IMDS gives an instance its profile role's temporary credentials (rotated before
    they expire) and, when the instance requires IMDSv2 (HttpTokens=required), answers only a
    caller holding a session token (PUT latest/api/token).

    Each emulated instance has its own at ``/moto-api/fidelity/imds/<instance id>/``: the host
    that plays the instance sets ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` to it, and botocore's
    credential chain then signs with the instance role, which the IAM checks above enforce.
    Served: the token, instance-id, placement, the identity document, iam/info,
    iam/security-credentials/ and user-data.
    """
    import base64
    import secrets

    from moto.moto_api._internal import urls

    def imds(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
        path = full_url.split("/moto-api/fidelity/imds/", 1)[1].split("?", 1)[0]
        instance_id, _, path = path.partition("/")
        backend, instance = _imds_instance(instance_id)
        if instance is None or instance.state not in ("pending", "running"):
            return 404, {}, ""
        if path == "latest/api/token" and request.method == "PUT":
            ttl = request.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
            if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return 400, {}, ""
            token = secrets.token_urlsafe(32)
            _IMDS_TOKENS[token] = time.monotonic() + int(ttl)
            return 200, {"X-aws-ec2-metadata-token-ttl-seconds": ttl}, token
        token = request.headers.get("X-aws-ec2-metadata-token")
        valid = token is not None and _IMDS_TOKENS.get(token, 0) > time.monotonic()
        if token is not None and not valid:
            return 401, {}, ""
        if instance.metadata_options.http_tokens == "required" and not valid:
            return 401, {}, ""  # IMDSv2 only: no token, no answer
        zone = (
            instance.placement.zone if hasattr(instance.placement, "zone") else instance.placement
        )
        document = {
            "accountId": backend.account_id,
            "availabilityZone": zone,
            "imageId": instance.image_id,
            "instanceId": instance.id,
            "instanceType": instance.instance_type,
            "privateIp": instance.private_ip,
            "region": backend.region_name,
        }
        credentials = _imds_credentials(backend, instance)
        answers: dict[str, str] = {
            "latest/meta-data/instance-id": instance.id,
            "latest/meta-data/instance-type": instance.instance_type,
            "latest/meta-data/local-ipv4": instance.private_ip or "",
            "latest/meta-data/placement/availability-zone": zone,
            "latest/meta-data/placement/region": backend.region_name,
            "latest/dynamic/instance-identity/document": json.dumps(document),
        }
        if path == "latest/user-data" and instance.user_data:
            user_data = instance.user_data
            user_data = user_data[0] if isinstance(user_data, list) else user_data
            # moto keeps it as a Base64EncodedString (or a base64 str in older releases).
            answers[path] = (
                user_data.decode()
                if hasattr(user_data, "decode") and not isinstance(user_data, str)
                else base64.b64decode(user_data).decode()
            )
        if credentials:
            name = credentials.pop("name")
            association = backend.iam_instance_profile_associations[instance.id]
            answers["latest/meta-data/iam/info"] = json.dumps(
                {
                    "Code": "Success",
                    "LastUpdated": credentials["LastUpdated"],
                    "InstanceProfileArn": association.iam_instance_profile.arn,
                    "InstanceProfileId": association.iam_instance_profile.id,
                }
            )
            answers["latest/meta-data/iam/security-credentials/"] = name
            answers[f"latest/meta-data/iam/security-credentials/{name}"] = json.dumps(credentials)
        found = answers.get(path) or answers.get(path.rstrip("/") + "/")
        if found is None:
            return 404, {}, ""
        return 200, {"Content-Type": "text/plain"}, found

    urls.url_paths["{0}/moto-api/fidelity/imds/(?P<instance>[^/]+)/(?P<path>.*)"] = imds


# The ALB as CloudFront's origin: its certificate, its hosted zone, the alias record naming it
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
def route53_alias_records_name_an_existing_target() -> None:
    """moto 5.2.5: an alias record may name any DNS name in any zone.

    AWS refuses (InvalidChangeBatch) an alias whose target is not there: "Tried to create an
    alias that targets <name>., type A in zone <zone>, but that target was not found", and
    "... but the alias target name does not lie within the target zone" when the name is not in
    the zone given (e.g. a load balancer with another region's zone). Checked here for what the
    emulator can know: load balancers (the ``dualstack.`` form included) by their region's zone
    in _ALB_HOSTED_ZONES, and records of the same hosted zone; other targets as moto does.
    """
    from moto.elbv2.models import elbv2_backends
    from moto.route53.exceptions import Route53ClientError
    from moto.route53.models import Route53Backend

    zone_regions = {zone: region for region, zone in _ALB_HOSTED_ZONES.items()}

    def refuse(name: str, kind: str, zone: str, why: str) -> None:
        raise Route53ClientError(
            "InvalidChangeBatch",
            f"[Tried to create an alias that targets {name}., type {kind} in zone {zone},"
            f" but {why}]",
        )

    @_around(Route53Backend, "change_resource_record_sets")
    def change_resource_record_sets(
        original: Callable[..., Any], self: Route53Backend, zoneid: str, change_list: Any
    ) -> Any:
        for change in change_list:
            record = change["ResourceRecordSet"]
            alias = record.get("AliasTarget")
            if change["Action"] not in ("CREATE", "UPSERT") or not alias:
                continue
            name = alias["DNSName"].lower().rstrip(".")
            zone, kind = alias["HostedZoneId"], record["Type"]
            if zone in zone_regions:
                region = zone_regions[zone]
                balancer = name.removeprefix("dualstack.")
                if not balancer.endswith(f".{region}.elb.amazonaws.com"):
                    refuse(
                        name,
                        kind,
                        zone,
                        "the alias target name does not lie within the target zone",
                    )
                known = {
                    lb.dns_name.lower()
                    for lb in elbv2_backends[self.account_id][region].load_balancers.values()
                }
                if balancer not in known:
                    refuse(name, kind, zone, "that target was not found")
            elif zone == zoneid.split("/")[-1]:
                records = self.get_hosted_zone(zoneid).rrsets
                if not any(r.name.lower().rstrip(".") == name and r.type == kind for r in records):
                    refuse(name, kind, zone, "that target was not found")
        return original(self, zoneid, change_list)


# --------------------------------------------------------------------------------------------
# Deletions AWS finishes later: what a teardown meets on a real account
# --------------------------------------------------------------------------------------------

# Work AWS finishes some time after a request (AWS_DURATIONS, scaled): (monotonic time, action).
# Due work runs before the next request is answered (deferred_work_runs_before_each_request),
# so the emulator needs no thread of its own; at timing scale 0 it runs at once, as moto does.
_LATER: list[tuple[float, Callable[[], None]]] = []
_LATER_LOCK = threading.Lock()


def _later(at: float, action: Callable[[], None]) -> None:
    with _LATER_LOCK:
        _LATER.append((at, action))
    _settle()


def _settle() -> None:
    now = time.monotonic()
    with _LATER_LOCK:
        due = [action for at, action in _LATER if at <= now]
        _LATER[:] = [(at, action) for at, action in _LATER if at > now]
    for action in due:
        # The resource may have gone another way meanwhile (a reset, a deleted VPC).
        with contextlib.suppress(Exception):
            action()


@fix
def deferred_work_runs_before_each_request() -> None:
    """Not a moto gap: the work AWS finishes later (``_later``) is done before the first request
    answered after its time, so describe calls, waiters and refusals all see the same state."""
    from moto.core.responses import BaseResponse

    @_around(BaseResponse, "call_action")
    def call_action(original: Callable[..., Any], self: BaseResponse) -> Any:
        _settle()
        return original(self)


def _release_network_interface(ec2_backend: Any, eni_id: str) -> None:
    """AWS releases a service's interface: it is gone and its address is free again."""
    eni = ec2_backend.enis.get(eni_id)
    if eni is not None:
        eni.delete()


@fix
def ec2_launch_network_interfaces_are_deleted_with_their_instance() -> None:
    """moto 5.2.5: an instance launched without an explicit ``DeleteOnTermination`` keeps its
    primary network interface after it is terminated.

    AWS: an interface that RunInstances creates (not an existing one it attaches) is deleted on
    termination unless the request says otherwise, so the instance's subnet and security groups
    are free once it is gone (an Auto Scaling group's instances included).
    """
    from moto.ec2.models.instances import Instance

    @_around(Instance, "prep_nics")
    def prep_nics(
        original: Callable[..., None], self: Any, nic_spec: list[dict[str, Any]], *args, **kwargs
    ) -> None:
        original(self, nic_spec, *args, **kwargs)
        specs = {int(nic.get("DeviceIndex") or 0): nic for nic in nic_spec or []}
        for index, eni in self.nics.items():
            spec = specs.get(index, {})
            if not spec.get("NetworkInterfaceId") and spec.get("DeleteOnTermination") is None:
                eni.delete_on_termination = True


@fix
def ec2_nat_gateway_deleting_holds_its_network_interface() -> None:
    """moto 5.2.5: a deleted NAT gateway is ``deleted`` at once, and its network interface (with
    its Elastic IP) stays for ever, ``available`` and not requester-managed.

    AWS: the gateway's interface is requester-managed and in use (``Interface for NAT Gateway
    nat-...``); DeleteNatGateway leaves the gateway ``deleting`` until AWS has released the
    interface and disassociated the Elastic IP (AWS_DURATIONS), then ``deleted``. Meanwhile its
    subnet cannot be deleted, the internet gateway not detached (a mapped public address) and
    the Elastic IP not released. Deleting a gateway already deleting changes nothing.
    """
    from moto.ec2.models.nat_gateways import NatGateway, NatGatewayBackend

    @_around(NatGateway, "__init__")
    def init(original: Callable[..., None], self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        eni = self._eni
        eni.requester_managed, eni.interface_type, eni.status = True, "nat_gateway", "in-use"
        eni.description = f"Interface for NAT Gateway {self.id}"

    @_around(NatGatewayBackend, "delete_nat_gateway")
    def delete(original: Callable[..., Any], self: Any, nat_gateway_id: str) -> Any:
        gateway = self.nat_gateways.get(nat_gateway_id)
        if gateway is None:
            return original(self, nat_gateway_id)
        if gateway.state in ("deleting", "deleted"):
            return gateway
        original(self, nat_gateway_id)
        gateway.state = "deleting"

        def released() -> None:
            for address in self.addresses:
                if address.eni is gateway._eni:
                    self.disassociate_address(association_id=address.association_id)
            _release_network_interface(self, gateway._eni.id)
            gateway.state = "deleted"

        _later(_ready_at("ec2.nat_gateway.deleting"), released)
        return gateway


@fix
def ec2_release_address_refuses_an_address_in_use() -> None:
    """moto 5.2.5: ReleaseAddress silently disassociates an address in use, then releases it.

    AWS, ReleaseAddress: "[Nondefault VPC] You must disassociate the Elastic IP address before
    you can release it. Otherwise, Amazon EC2 returns an error (InvalidIPAddress.InUse)." A NAT
    gateway's address stays associated until the gateway is ``deleted``: releasing it while the
    gateway is ``deleting`` fails.
    """
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.elastic_ip_addresses import ElasticAddressBackend

    @_around(ElasticAddressBackend, "release_address")
    def release_address(
        original: Callable[..., None],
        self: Any,
        address: str | None = None,
        allocation_id: str | None = None,
    ) -> None:
        eips = [
            eip
            for eip in self.addresses
            if (address and eip.public_ip == address)
            or (allocation_id and eip.allocation_id == allocation_id)
        ]
        eni = eips[0].eni if eips else None
        if eni is not None and not self.get_vpc(eni.subnet.vpc_id).is_default:
            raise EC2ClientError(
                "InvalidIPAddress.InUse",
                f"Address {eips[0].public_ip} is in use by {eni.id}: disassociate it first.",
            )
        return original(self, address=address, allocation_id=allocation_id)


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


@fix
def ec2_network_interfaces_in_use_block_subnets_groups_and_gateway_detach() -> None:
    """moto 5.2.5: DeleteSubnet, DeleteSecurityGroup and DetachInternetGateway ignore the
    network interfaces still there.

    AWS answers DependencyViolation while an interface remains: "The subnet '<id>' has
    dependencies and cannot be deleted." (an interface in the subnet), "resource <sg id> has a
    dependent object" (an interface using the group), "Network <vpc id> has some mapped public
    address(es). Please unmap those public address(es) before detaching the gateway." (an
    interface of the VPC with a public address). A teardown meets these after a load balancer,
    NAT gateway or instance is deleted, until AWS has released its interfaces.
    """
    from moto.ec2.exceptions import DependencyViolationError
    from moto.ec2.models.internet_gateways import InternetGatewayBackend
    from moto.ec2.models.security_groups import SecurityGroupBackend
    from moto.ec2.models.subnets import SubnetBackend

    @_around(SubnetBackend, "delete_subnet")
    def delete_subnet(original: Callable[..., Any], self: Any, subnet_id: str) -> Any:
        if any(eni.subnet.id == subnet_id for eni in self.enis.values()):
            raise DependencyViolationError(
                f"The subnet '{subnet_id}' has dependencies and cannot be deleted."
            )
        return original(self, subnet_id)

    @_around(SecurityGroupBackend, "delete_security_group")
    def delete_group(
        original: Callable[..., Any], self: Any, name: Any = None, group_id: Any = None
    ) -> Any:
        group = self.get_security_group_by_name_or_id(group_id or name)
        if group is not None and any(
            group.id in {g.id for g in eni.group_set} for eni in self.enis.values()
        ):
            raise DependencyViolationError(f"resource {group.id} has a dependent object")
        return original(self, name=name, group_id=group_id)

    @_around(InternetGatewayBackend, "detach_internet_gateway")
    def detach(original: Callable[..., None], self: Any, internet_gateway_id: str, vpc_id: str):
        if any(eni.public_ip and eni.subnet.vpc_id == vpc_id for eni in self.enis.values()):
            raise DependencyViolationError(
                f"Network {vpc_id} has some mapped public address(es). Please unmap those public"
                " address(es) before detaching the gateway."
            )
        return original(self, internet_gateway_id, vpc_id)


@fix
def sqs_queue_name_reusable_60_seconds_after_delete() -> None:
    """moto 5.2.5: a queue may be created again right after DeleteQueue.

    AWS answers AWS.SimpleQueueService.QueueDeletedRecently (CreateQueue: "You must wait 60
    seconds after deleting a queue before you can create another queue with the same name.",
    AWS_DURATIONS); provisioning right after a teardown must wait and retry.
    """
    from moto.sqs.exceptions import SQSException
    from moto.sqs.models import SQSBackend

    def deleted(backend: Any) -> dict[str, float]:
        """queue name -> when the name is free again."""
        return backend.__dict__.setdefault("fidelity_deleted_queues", {})

    @_around(SQSBackend, "delete_queue")
    def delete_queue(original: Callable[..., None], self: Any, queue_name: str) -> None:
        original(self, queue_name)
        deleted(self)[queue_name] = _ready_at("sqs.queue.deleted_recently")

    @_around(SQSBackend, "create_queue")
    def create_queue(original: Callable[..., Any], self: Any, name: str, *args, **kwargs) -> Any:
        if name not in self.queues and time.monotonic() < deleted(self).get(name, 0):
            raise SQSException(
                "AWS.SimpleQueueService.QueueDeletedRecently",
                "You must wait 60 seconds after deleting a queue before you can create another"
                " queue with the same name.",
            )
        return original(self, name, *args, **kwargs)


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


# --------------------------------------------------------------------------------------------
# The local platform's hosts: target health from real health checks, Auto Scaling acting on it
# --------------------------------------------------------------------------------------------

# Where the platform serves an instance's ports on this machine (the local EC2 of `make up`,
# local/ec2/hosts.py): {instance id: {target port: "127.0.0.1:<published port>"}}. The
# target groups check these addresses for real; instances with none keep moto's answer.
_HOST_ADDRESSES: dict[str, dict[str, str]] = {}
# (target group ARN, target id) -> the target's health as the load balancer last found it.
_TARGET_HEALTH: dict[tuple[str, str], dict[str, Any]] = {}
_HEALTH_LOCK = threading.Lock()
_HEALTH_CHECKER: list[threading.Thread] = []  # started when a first host is declared
# What the checker does every tick: the load balancers' checks, then Auto Scaling's.
_HEALTH_TICKS: list[Callable[[Any], None]] = []
_HEALTH_TICK_SECONDS = 0.5


def _health_check(address: str, group: Any, private_ip: str) -> tuple[bool, str, str]:
    """One health check as the load balancer sends it: (passed, reason, description)."""
    import http.client

    host, _, port = address.rpartition(":")
    connection_cls = (
        http.client.HTTPSConnection
        if (group.health_check_protocol or "HTTP") == "HTTPS"
        else http.client.HTTPConnection
    )
    kwargs: dict[str, Any] = {"timeout": int(group.health_check_timeout_seconds)}
    if connection_cls is http.client.HTTPSConnection:
        import ssl

        kwargs["context"] = ssl._create_unverified_context()  # noqa: S323 - the ALB does not verify
    connection = connection_cls(host, int(port), **kwargs)
    try:
        connection.request(
            "GET",
            group.health_check_path or "/",
            headers={"Host": private_ip, "User-Agent": "ELB-HealthChecker/2.0"},
        )
        status = connection.getresponse().status
    except TimeoutError:
        return False, "Target.Timeout", "Request timed out"
    except (OSError, http.client.HTTPException):
        return False, "Target.FailedHealthChecks", "Health checks failed"
    finally:
        connection.close()
    if _matches(status, (group.matcher or {}).get("HttpCode", "200")):
        return True, "", ""
    codes = f"Health checks failed with these codes: [{status}]"
    return False, "Target.ResponseCodeMismatch", codes


def _matches(status: int, codes: str) -> bool:
    """An ELB matcher: "200", "200,202" or "200-299"."""
    for part in codes.split(","):
        low, _, high = part.strip().partition("-")
        if int(low) <= status <= int(high or low):
            return True
    return False


def _health_record(result: tuple[bool, str, str], health: dict[str, Any], group: Any) -> None:
    """Apply one check's result to a target's health, with the group's thresholds. A new
    target is healthy after one passed check (ELB User Guide, "Health checks for Application
    Load Balancer target groups"); afterwards HealthyThresholdCount consecutive passes make an
    unhealthy target healthy and UnhealthyThresholdCount consecutive failures make any target
    unhealthy."""
    passed, reason, description = result
    health["checks"] += 1
    if passed:
        health["passes"], health["failures"] = health["passes"] + 1, 0
        needed = 1 if health["state"] == "initial" else int(group.healthy_threshold_count)
        if health["state"] != "healthy" and health["passes"] >= needed:
            health.update(state="healthy", reason=None, description=None)
        elif health["state"] == "initial":
            health.update(reason="Elb.InitialHealthChecking")
    else:
        health["passes"], health["failures"] = 0, health["failures"] + 1
        if health["failures"] >= int(group.unhealthy_threshold_count):
            health.update(state="unhealthy", reason=reason, description=description)
        elif health["state"] == "initial":
            health.update(
                reason="Elb.InitialHealthChecking", description="Initial health checks in progress"
            )


def _health_new() -> dict[str, Any]:
    return {
        "state": "initial",
        "reason": "Elb.RegistrationInProgress",
        "description": "Target registration is in progress",
        "checks": 0,
        "passes": 0,
        "failures": 0,
        "due": 0.0,
        "running": False,
    }


def _health_targets() -> list[tuple[Any, dict[str, Any], str, str]]:
    """Registered targets whose host the platform declared: (group, target, address, ip)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.elbv2.models import elbv2_backends

    found = []
    for backend in list(elbv2_backends[DEFAULT_ACCOUNT_ID].values()):
        for group in list(backend.target_groups.values()):
            if not group.health_check_enabled or group.health_check_protocol not in (
                "HTTP",
                "HTTPS",
            ):
                continue
            for target in list(group.targets.values()):
                ports = _HOST_ADDRESSES.get(target["Id"])
                port = group.health_check_port
                port = str(target["Port"] if port in (None, "traffic-port") else port)
                if not ports or port not in ports:
                    continue
                instance = backend.ec2_backend.get_instance_by_id(target["Id"])
                if instance is None or instance.state != "running":
                    continue
                found.append((group, target, ports[port], instance.private_ip or ""))
    return found


def _health_tick(pool: Any) -> None:
    """Start the checks that are due; forget targets no longer registered."""
    now = time.monotonic()
    seen = set()
    for group, target, address, private_ip in _health_targets():
        key = (group.arn, target["Id"])
        seen.add(key)
        with _HEALTH_LOCK:
            health = _TARGET_HEALTH.setdefault(key, _health_new())
            if health["running"] or health["due"] > now:
                continue
            health["running"] = True
            health["due"] = now + int(group.health_check_interval_seconds)

        def run(group: Any = group, address: str = address, ip: str = private_ip, key=key):
            result = _health_check(address, group, ip)
            with _HEALTH_LOCK:
                health = _TARGET_HEALTH.get(key)
                if health is not None:
                    health["running"] = False
                    _health_record(result, health, group)

        pool.submit(run)
    with _HEALTH_LOCK:
        for key in [k for k in _TARGET_HEALTH if k not in seen]:
            del _TARGET_HEALTH[key]


def _health_checker() -> None:
    """The load balancer's health checks and Auto Scaling's health checks, every tick, for as
    long as the emulator runs (a daemon thread of its process)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="elb-health") as pool:
        while True:
            for tick in _HEALTH_TICKS:
                try:
                    tick(pool)
                except Exception as exc:  # keep checking: the next tick tries again
                    print(f"fidelity: {tick.__name__}: {type(exc).__name__}: {exc}", flush=True)
            time.sleep(_HEALTH_TICK_SECONDS)


@fix
def platform_hosts_endpoint() -> None:
    """Not a moto gap: where the local platform serves each instance's ports, for the checks
    below. ``POST /moto-api/fidelity/hosts {"i-...": {"80": "127.0.0.1:43210"}}`` declares an
    instance's host (``null`` forgets it), ``GET`` lists them. Loopback addresses only: the
    emulator checks the hosts of this machine, nothing else."""
    import ipaddress
    import threading

    from moto.moto_api._internal import urls

    def hosts(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
        if request.method == "POST":
            try:
                body = json.loads(request.get_data() or b"{}")
                for ports in body.values():
                    for address in (ports or {}).values():
                        host, _, port = address.rpartition(":")
                        if not ipaddress.ip_address(host).is_loopback or not port.isdigit():
                            raise ValueError(f"{address}: not a loopback host:port")
            except (ValueError, AttributeError) as exc:
                return 400, {}, json.dumps({"error": str(exc)})
            with _HEALTH_LOCK:
                for instance_id, ports in body.items():
                    if ports:
                        _HOST_ADDRESSES[instance_id] = {str(k): v for k, v in ports.items()}
                    else:
                        _HOST_ADDRESSES.pop(instance_id, None)
                if _HOST_ADDRESSES and not _HEALTH_CHECKER:
                    thread = threading.Thread(
                        target=_health_checker, name="fidelity-health", daemon=True
                    )
                    _HEALTH_CHECKER.append(thread)
                    thread.start()
        return 200, {"Content-Type": "application/json"}, json.dumps(_HOST_ADDRESSES)

    urls.url_paths["{0}/moto-api/fidelity/hosts"] = hosts


@fix
def elbv2_target_health_is_the_targets_real_health_check() -> None:
    """moto 5.2.5: every registered running instance is ``healthy``, checked by nothing.

    AWS: the load balancer sends each registered target the target group's health check
    (protocol, port, path, matcher) every HealthCheckIntervalSeconds with its timeout; a new
    target is ``initial`` (Elb.RegistrationInProgress, then Elb.InitialHealthChecking) until
    one check passes, and UnhealthyThresholdCount consecutive failures make a target
    ``unhealthy`` (Target.ResponseCodeMismatch, Target.Timeout, Target.FailedHealthChecks),
    HealthyThresholdCount consecutive passes healthy again; it routes only to healthy targets.
    Here the targets whose host the platform declared (``/moto-api/fidelity/hosts``) are checked
    for real, at AWS's intervals (not scaled); the others keep moto's answer. Registering a
    target again starts its checks afresh.
    """
    from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup

    _HEALTH_TICKS.insert(0, _health_tick)

    @_around(FakeTargetGroup, "register")
    def register(original: Callable[..., None], self: FakeTargetGroup, targets: Any) -> None:
        fresh = [t["Id"] for t in targets if t["Id"] not in self.targets]
        original(self, targets)
        with _HEALTH_LOCK:
            for target_id in fresh:
                _TARGET_HEALTH.pop((self.arn, target_id), None)

    @_around(FakeTargetGroup, "health_for")
    def health_for(original: Callable[..., Any], self: FakeTargetGroup, target: Any, ec2: Any):
        registered = self.targets.get(target["Id"])
        ports = _HOST_ADDRESSES.get(target["Id"])
        instance = ec2.get_instance_by_id(target["Id"]) if registered and ports else None
        if instance is None or instance.state != "running" or not self.health_check_enabled:
            return original(self, target, ec2)
        with _HEALTH_LOCK:
            health = dict(_TARGET_HEALTH.get((self.arn, target["Id"])) or _health_new())
        return FakeHealthStatus(
            registered["Id"],
            registered["Port"],
            self.health_check_port,
            health["state"],
            health["reason"],
            health["description"],
        )


def _autoscaling_health_tick(_pool: Any) -> None:
    """Auto Scaling's ELB health checks: an InService instance of a group with HealthCheckType
    ELB that one of the group's target groups finds ``unhealthy`` after the grace period is
    marked Unhealthy and replaced (unless HealthCheck or ReplaceUnhealthy is suspended)."""
    import datetime

    from moto.autoscaling.models import autoscaling_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    now = datetime.datetime.now(datetime.UTC)
    for backend in list(autoscaling_backends[DEFAULT_ACCOUNT_ID].values()):
        for group in list(backend.autoscaling_groups.values()):
            suspended = {p["ProcessName"] for p in group.suspended_processes}
            if group.health_check_type != "ELB" or "HealthCheck" in suspended:
                continue
            grace = datetime.timedelta(seconds=int(group.health_check_grace_period or 0))
            for state in list(group.instance_states):
                if state.lifecycle_state != "InService":
                    continue
                launched = state.instance.launch_time  # moto: a naive UTC datetime
                if launched.tzinfo is None:
                    launched = launched.replace(tzinfo=datetime.UTC)
                if now - launched < grace:
                    continue
                with _HEALTH_LOCK:
                    unhealthy = any(
                        (_TARGET_HEALTH.get((arn, state.instance.id)) or {}).get("state")
                        == "unhealthy"
                        for arn in group.target_group_arns
                    )
                if not unhealthy:
                    continue
                state.health_status = "Unhealthy"
                if "ReplaceUnhealthy" not in suspended:
                    backend.terminate_instance(state.instance.id, should_decrement=False)


@fix
def autoscaling_replaces_instances_its_elb_health_check_finds_unhealthy() -> None:
    """moto 5.2.5: an Auto Scaling group never looks at its instances' health.

    AWS (EC2 Auto Scaling User Guide, "Health checks for instances in an Auto Scaling group"):
    with HealthCheckType ELB, an InService instance that a target group of the group reports
    unhealthy, once HealthCheckGracePeriod has passed since it was launched, is marked Unhealthy
    and terminated, and a replacement is launched; suspending the HealthCheck process stops
    these checks, suspending ReplaceUnhealthy leaves the instance marked Unhealthy. Run by the
    health checker above after its checks, so it acts on the targets checked for real (moto's
    own answers are never unhealthy).
    """
    _HEALTH_TICKS.append(_autoscaling_health_tick)


@fix
def autoscaling_deregisters_the_instances_it_detaches_or_terminates() -> None:
    """moto 5.2.5: an instance that leaves an Auto Scaling group (scale-in, a replacement,
    TerminateInstanceInAutoScalingGroup, DetachInstances) stays registered in the group's
    target groups, terminated, and moto calls it ``healthy``.

    AWS deregisters it from the group's target groups first: it drains for the deregistration
    delay (see the draining fix above) and is then ``unused``.
    """
    from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup

    def deregister(group: FakeAutoScalingGroup, before: set[str]) -> None:
        gone = before - {state.instance.id for state in group.instance_states}
        if not gone or not group.target_group_arns:
            return
        elbv2 = group.autoscaling_backend.elbv2_backend
        for arn in group.target_group_arns:
            target_group = elbv2.target_groups.get(arn)
            if target_group is None:
                continue
            targets = [{"Id": i} for i in sorted(gone) if i in target_group.targets]
            if targets:
                target_group.deregister(targets)

    @_around(FakeAutoScalingGroup, "set_desired_capacity")
    def set_desired_capacity(
        original: Callable[..., None], self: FakeAutoScalingGroup, new_capacity: Any
    ) -> None:
        before = {state.instance.id for state in self.instance_states}
        original(self, new_capacity)
        deregister(self, before)

    @_around(AutoScalingBackend, "detach_instances")
    def detach_instances(
        original: Callable[..., Any], self: AutoScalingBackend, group_name: str, *args: Any
    ) -> Any:
        group = self.autoscaling_groups[group_name]
        before = {state.instance.id for state in group.instance_states}
        activities = original(self, group_name, *args)
        deregister(group, before)
        return activities
