"""EC2 Auto Scaling fixes: metrics collection, tags, instances across subnets, instance refreshes
(moto 5.2.5 has none), detaching and terminating instances.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from local.emulator.fidelity.core import _around, _as_bool, fix
from local.emulator.fidelity.timing import _TIMING, AWS_DURATIONS, _ready_at

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
