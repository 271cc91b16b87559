"""The local platform's hosts: target health from real health checks, Auto Scaling acting on it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from local.emulator.fidelity.core import _around, fix

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
