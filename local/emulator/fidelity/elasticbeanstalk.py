"""Elastic Beanstalk as AWS answers it, for what the streamstack.aws modules call.

moto 5.2.5 has little of Elastic Beanstalk: applications without descriptions, tags or a
version lifecycle, environments that are ``Ready`` at once with no platform, no version, no
option settings and no events, and no application versions, UpdateEnvironment,
TerminateEnvironment, DescribeConfigurationSettings, DescribeEvents or platform catalogue at
all. The fix below replaces its handlers with an emulation of the API our modules use, with the
refusals AWS gives (the messages as AWS words them where they are documented or reported) and
the environment's status and health moving as AWS moves them, timed by the fidelity layer's
AWS_DURATIONS table (timing.py; scaled: at scale 0 a new environment is ``Launching`` in
CreateEnvironment's answer and ``Ready`` at the next request).

Registered with the fidelity layer's ``fix`` (local/emulator/fidelity/core.py). The state
lives on moto's EBBackend object, so /moto-api/reset empties it as it does moto's own.

A web environment on a shared load balancer (LoadBalancerIsShared, SharedLoadBalancer: an ALB
of the account's ELB) gets what AWS adds to it: a target group (the default process) and, on
the listener its `Rules: default` names (port 80 otherwise), a rule forwarding requests whose
Host is the environment's CNAME to it, both in the emulated ELB and removed at termination, and
the balancer's elasticbeanstalk:shared-elb-environment-count tag.

What it does not emulate: the other resources Beanstalk creates for an environment (its
CloudFormation stack, Auto Scaling group, launch template, dedicated load balancer, security
groups and the worker's own queue when none is given): environments name them but they are not
in EC2, ELB or SQS;
configuration templates, saved configurations, custom platforms, swap of CNAMEs, rebuild,
restart, logs retrieval.
"""

from __future__ import annotations

import io
import json
import random
import re
import string
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from local.emulator.fidelity.core import fix
from local.emulator.fidelity.deferred import _later
from local.emulator.fidelity.timing import _ready_at

_PLATFORM_OWNER = "AWSElasticBeanstalk"
# moto's solution stack names, e.g. "64bit Amazon Linux 2023 v4.6.0 running Python 3.13".
_STACK_NAME = re.compile(
    r"^64bit (?P<os>Amazon Linux(?: \d+)?) v(?P<version>[\d.]+) running (?P<runtime>.+)$"
)
_ENVIRONMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,38}[A-Za-z0-9]$")
_WEB_TIER = {"Name": "WebServer", "Type": "Standard", "Version": "1.0"}
_WORKER_TIER = {"Name": "Worker", "Type": "SQS/HTTP", "Version": "1.0"}
_BOOLEAN = ("true", "false")
_RETENTION_DAYS = tuple(
    str(d) for d in (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)
)
_WEEKLY_WINDOW = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d$", re.I)
# How long AWS lists a terminated environment (DescribeEnvironments' IncludeDeleted).
_TERMINATED_VISIBLE_SECONDS = 3600


# The options AWS knows, with the default DescribeConfigurationSettings reports (None: not
# reported unless set) and the values it accepts (None: any). From the Elastic Beanstalk
# Developer Guide, "General options for all environments" and "Platform specific options"
# (Python). Namespaces whose option names are free (environment properties) are in
# _FREE_NAMESPACES; "process:<name>" and "listener:<port>" namespaces take the options of
# their template below.
_Option = tuple[str | None, tuple[str, ...] | None]
_OPTIONS: dict[str, dict[str, _Option]] = {
    "aws:autoscaling:asg": {
        "Availability Zones": ("Any", ("Any", "Any 1", "Any 2", "Any 3")),
        "Cooldown": ("360", None),
        "Custom Availability Zones": (None, None),
        "MinSize": ("1", None),
        "MaxSize": ("4", None),
    },
    "aws:autoscaling:launchconfiguration": {
        "DisableIMDSv1": ("false", _BOOLEAN),
        "DisableDefaultEC2SecurityGroup": ("false", _BOOLEAN),
        "EC2KeyName": (None, None),
        "IamInstanceProfile": (None, None),
        "ImageId": (None, None),
        "InstanceType": (None, None),
        "MonitoringInterval": ("5 minute", ("1 minute", "5 minute")),
        "SecurityGroups": (None, None),
        "SSHSourceRestriction": (None, None),
        "BlockDeviceMappings": (None, None),
        "RootVolumeType": (None, ("standard", "gp2", "gp3", "io1")),
        "RootVolumeSize": (None, None),
        "RootVolumeIOPS": (None, None),
        "RootVolumeThroughput": (None, None),
    },
    "aws:autoscaling:trigger": {
        "MeasureName": ("NetworkOut", None),
        "Statistic": ("Average", ("Minimum", "Maximum", "Sum", "Average")),
        "Unit": ("Bytes", None),
        "Period": ("5", None),
        "BreachDuration": ("5", None),
        "EvaluationPeriods": ("1", None),
        "UpperThreshold": ("6000000", None),
        "LowerThreshold": ("2000000", None),
        "UpperBreachScaleIncrement": ("1", None),
        "LowerBreachScaleIncrement": ("-1", None),
    },
    "aws:autoscaling:updatepolicy:rollingupdate": {
        "RollingUpdateEnabled": ("false", _BOOLEAN),
        "RollingUpdateType": ("Time", ("Time", "Health", "Immutable")),
        "MaxBatchSize": (None, None),
        "MinInstancesInService": (None, None),
        "PauseTime": (None, None),
        "Timeout": ("PT30M", None),
    },
    "aws:ec2:instances": {
        "EnableSpot": ("false", _BOOLEAN),
        "InstanceTypes": ("t3.micro, t3.small", None),
        "SpotFleetOnDemandBase": ("0", None),
        "SpotFleetOnDemandAboveBasePercentage": ("70", None),
        "SpotMaxPrice": (None, None),
        "SupportedArchitectures": ("x86_64", None),
    },
    "aws:ec2:vpc": {
        "VPCId": (None, None),
        "Subnets": (None, None),
        "ELBSubnets": (None, None),
        "ELBScheme": ("public", None),  # AWS ignores a value other than public/internal
        "DBSubnets": (None, None),
        "AssociatePublicIpAddress": (None, _BOOLEAN),
    },
    "aws:elasticbeanstalk:application": {"Application Healthcheck URL": ("", None)},
    "aws:elasticbeanstalk:cloudwatch:logs": {
        "StreamLogs": ("false", _BOOLEAN),
        "DeleteOnTerminate": ("false", _BOOLEAN),
        "RetentionInDays": ("7", _RETENTION_DAYS),
    },
    "aws:elasticbeanstalk:cloudwatch:logs:health": {
        "HealthStreamingEnabled": ("false", _BOOLEAN),
        "DeleteOnTerminate": ("false", _BOOLEAN),
        "RetentionInDays": ("7", _RETENTION_DAYS),
    },
    "aws:elasticbeanstalk:command": {
        "DeploymentPolicy": (
            "AllAtOnce",
            ("AllAtOnce", "Rolling", "RollingWithAdditionalBatch", "Immutable", "TrafficSplitting"),
        ),
        "Timeout": ("600", None),
        "BatchSizeType": ("Percentage", ("Percentage", "Fixed")),
        "BatchSize": ("100", None),
        "IgnoreHealthCheck": ("false", _BOOLEAN),
    },
    "aws:elasticbeanstalk:environment": {
        "EnvironmentType": ("LoadBalanced", ("SingleInstance", "LoadBalanced")),
        "ServiceRole": (None, None),
        "LoadBalancerType": ("classic", ("classic", "application", "network")),
        "LoadBalancerIsShared": ("false", _BOOLEAN),
    },
    "aws:elasticbeanstalk:environment:process:default": {
        "DeregistrationDelay": ("20", None),
        "HealthCheckInterval": ("15", None),
        "HealthCheckPath": ("/", None),
        "HealthCheckTimeout": ("5", None),
        "HealthyThresholdCount": ("3", None),
        "MatcherHTTPCode": ("200", None),
        "Port": ("80", None),
        "Protocol": ("HTTP", ("HTTP", "HTTPS", "TCP")),
        "StickinessEnabled": ("false", _BOOLEAN),
        "StickinessLBCookieDuration": ("86400", None),
        "StickinessType": ("lb_cookie", ("lb_cookie",)),
        "UnhealthyThresholdCount": ("5", None),
    },
    "aws:elasticbeanstalk:environment:proxy": {"ProxyServer": ("nginx", ("nginx", "none"))},
    "aws:elasticbeanstalk:healthreporting:system": {
        "SystemType": ("basic", ("basic", "enhanced")),
        "ConfigDocument": (None, None),
        "HealthCheckSuccessThreshold": ("Ok", ("Ok", "Warning", "Degraded", "Severe")),
        "EnhancedHealthAuthEnabled": ("false", _BOOLEAN),
    },
    "aws:elasticbeanstalk:hostmanager": {"LogPublicationControl": ("false", _BOOLEAN)},
    "aws:elasticbeanstalk:managedactions": {
        "ManagedActionsEnabled": ("false", _BOOLEAN),
        "PreferredStartTime": (None, None),
        "ServiceRoleForManagedUpdates": (None, None),
    },
    "aws:elasticbeanstalk:managedactions:platformupdate": {
        "UpdateLevel": (None, ("patch", "minor")),
        "InstanceRefreshEnabled": ("false", _BOOLEAN),
    },
    "aws:elasticbeanstalk:monitoring": {
        "Automatically Terminate Unhealthy Instances": ("true", _BOOLEAN)
    },
    "aws:elasticbeanstalk:sns:topics": {
        "Notification Endpoint": (None, None),
        "Notification Protocol": ("email", ("http", "https", "email", "email-json", "sqs")),
        "Notification Topic ARN": (None, None),
        "Notification Topic Name": (None, None),
    },
    "aws:elasticbeanstalk:sqsd": {
        "WorkerQueueURL": (None, None),
        "HttpPath": ("/", None),
        "MimeType": ("application/json", None),
        "HttpConnections": ("50", None),
        "ConnectTimeout": ("5", None),
        "InactivityTimeout": ("299", None),
        "VisibilityTimeout": ("300", None),
        "ErrorVisibilityTimeout": ("2", None),
        "RetentionPeriod": ("345600", None),
        "MaxRetries": ("10", None),
    },
    "aws:elasticbeanstalk:trafficsplitting": {
        "NewVersionPercent": ("10", None),
        "EvaluationTime": ("5", None),
    },
    "aws:elasticbeanstalk:xray": {"XRayEnabled": ("false", _BOOLEAN)},
    "aws:elbv2:listener:default": {
        "DefaultProcess": ("default", None),
        "ListenerEnabled": ("true", _BOOLEAN),
        "Protocol": ("HTTP", ("HTTP", "HTTPS", "TCP")),
        "Rules": (None, None),
        "SSLCertificateArns": (None, None),
        "SSLPolicy": (None, None),
    },
    "aws:elbv2:loadbalancer": {
        "AccessLogsS3Bucket": (None, None),
        "AccessLogsS3Enabled": ("false", _BOOLEAN),
        "AccessLogsS3Prefix": (None, None),
        "IdleTimeout": (None, None),
        "ManagedSecurityGroup": (None, None),
        "SecurityGroups": (None, None),
        "SharedLoadBalancer": (None, None),
    },
    "aws:elbv2:listenerrule:default": {
        "HostHeaders": (None, None),
        "PathPatterns": (None, None),
        "Priority": ("1", None),
        "Process": ("default", None),
    },
    "aws:elasticbeanstalk:container:python": {
        "WSGIPath": ("application", None),
        "NumProcesses": ("1", None),
        "NumThreads": ("15", None),
    },
}
# Namespaces whose option names are the user's (environment properties, static file paths).
_FREE_NAMESPACES = (
    "aws:elasticbeanstalk:application:environment",
    "aws:elasticbeanstalk:application:environmentsecrets",
    "aws:elasticbeanstalk:environment:proxy:staticfiles",
)
# Named instances of a template namespace: (prefix, template).
_TEMPLATE_NAMESPACES = (
    (
        "aws:elasticbeanstalk:environment:process:",
        "aws:elasticbeanstalk:environment:process:default",
    ),
    ("aws:elbv2:listener:", "aws:elbv2:listener:default"),
    ("aws:elbv2:listenerrule:", "aws:elbv2:listenerrule:default"),
)
# The CloudFormation resource AWS names in DescribeConfigurationSettings for some namespaces.
_RESOURCE_NAMES = {
    "aws:autoscaling:asg": "AWSEBAutoScalingGroup",
    "aws:autoscaling:launchconfiguration": "AWSEBAutoScalingLaunchConfiguration",
    "aws:autoscaling:updatepolicy:rollingupdate": "AWSEBAutoScalingGroup",
    "aws:autoscaling:trigger": "AWSEBCloudwatchAlarmLow",
    "aws:elbv2:loadbalancer": "AWSEBV2LoadBalancer",
}
# Namespaces reported for each tier (a worker has no load balancer; a web server no daemon).
_WEB_ONLY = (
    "aws:elasticbeanstalk:environment:process:default",
    "aws:elbv2:listener:default",
    "aws:elbv2:loadbalancer",
    "aws:elasticbeanstalk:application",
    "aws:elasticbeanstalk:environment:proxy",
)
_WORKER_ONLY = ("aws:elasticbeanstalk:sqsd",)
_NOT_REPORTED = ("aws:elbv2:listenerrule:default",)


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _suffix(length: int, alphabet: str = string.ascii_lowercase + string.digits) -> str:
    return "".join(random.choice(alphabet) for _ in range(length))  # noqa: S311 - ids, not secrets


class _State:
    """One account and Region's Elastic Beanstalk: applications, versions, environments, events."""

    def __init__(self, backend: Any) -> None:
        self.account = backend.account_id
        self.region = backend.region_name
        self.lock = threading.RLock()
        self.applications: dict[str, dict[str, Any]] = {}
        self.versions: dict[tuple[str, str], dict[str, Any]] = {}
        self.environments: list[dict[str, Any]] = []  # terminated ones too, for an hour
        self.events: list[dict[str, Any]] = []

    def arn(self, kind: str, path: str) -> str:
        return f"arn:aws:elasticbeanstalk:{self.region}:{self.account}:{kind}/{path}"

    def platform_arn(self, branch: str, version: str) -> str:
        return f"arn:aws:elasticbeanstalk:{self.region}::platform/{branch}/{version}"

    def event(
        self,
        message: str,
        *,
        env: dict[str, Any] | None = None,
        app: str = "",
        version: str = "",
        severity: str = "INFO",
    ) -> None:
        record = {
            "EventDate": _now(),
            "Message": message,
            "ApplicationName": env["ApplicationName"] if env else app,
            "Severity": severity,
        }
        if env:
            record["EnvironmentName"] = env["EnvironmentName"]
            record["fidelity_environment_id"] = env["EnvironmentId"]
        if version or (env and env.get("VersionLabel")):
            record["VersionLabel"] = version or env["VersionLabel"]
        self.events.append(record)


def _state(backend: Any) -> _State:
    state = backend.__dict__.get("fidelity_state")
    if state is None:
        state = backend.__dict__["fidelity_state"] = _State(backend)
    return state


def _error(code: str, message: str) -> Exception:
    # moto finds the error's service model by the exception class's module.
    from moto.elasticbeanstalk.exceptions import ElasticBeanstalkException

    return ElasticBeanstalkException(code, message)


def _invalid(message: str) -> Exception:
    return _error("InvalidParameterValue", message)


def _default_tags(env: dict[str, Any]) -> dict[str, str]:
    """The tags AWS puts on every environment and lets nobody add, change or remove (Elastic
    Beanstalk's guide, "Tagging environments"): ListTagsForResource reports them."""
    return {
        "elasticbeanstalk:environment-name": env["EnvironmentName"],
        "elasticbeanstalk:environment-id": env["EnvironmentId"],
        "Name": env["EnvironmentName"],
    }


def _refuse_default_tags(keys: Iterable[str]) -> None:
    reserved = sorted({k for k in keys if k == "Name" or k.startswith("elasticbeanstalk:")})
    if reserved:
        raise _invalid(f"Elastic Beanstalk's default tags cannot be changed: {', '.join(reserved)}")


# --------------------------------------------------------------------------------------------
# Platforms: moto's solution stack list, as platform versions
# --------------------------------------------------------------------------------------------


def _platforms(state: _State) -> list[dict[str, Any]]:
    from moto.elasticbeanstalk.responses import SOLUTION_STACK_DETAILS

    platforms = []
    for detail in [*SOLUTION_STACK_DETAILS, *_PUBLISHED]:
        match = _STACK_NAME.match(detail["SolutionStackName"])
        if not match:
            continue
        runtime, os_name = match["runtime"], match["os"]
        branch = f"{runtime} running on 64bit {os_name}"
        language = runtime.rsplit(" ", 1)[0] if runtime[-1].isdigit() else runtime
        platforms.append(
            {
                "PlatformArn": state.platform_arn(branch, match["version"]),
                "PlatformOwner": _PLATFORM_OWNER,
                "PlatformName": branch,
                "PlatformVersion": match["version"],
                "SolutionStackName": detail["SolutionStackName"],
                "PlatformStatus": "Ready",
                "PlatformCategory": language,
                "OperatingSystemName": "Amazon Linux",
                "OperatingSystemVersion": os_name.rsplit(" ", 1)[-1],
                "SupportedTierList": ["WebServer/Standard", "Worker/SQS/HTTP"],
                "SupportedAddonList": ["Log/S3", "Monitoring/Healthd", "WorkerDaemon/SQSD"],
                "PlatformLifecycleState": "Recommended",
                "PlatformBranchName": branch,
                "PlatformBranchLifecycleState": "Supported",
                "ProgrammingLanguages": [{"Name": language, "Version": runtime.rsplit(" ", 1)[-1]}],
            }
        )
    return platforms


def _platform_summary(platform: dict[str, Any]) -> dict[str, Any]:
    details = ("PlatformName", "SolutionStackName", "ProgrammingLanguages")
    return {k: v for k, v in platform.items() if k not in details}


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _filter_platforms(platforms: list[dict[str, Any]], filters: list[dict[str, Any]]) -> list:
    """ListPlatformVersions' filters: =, !=, <, <=, >, >=, contains, begins_with, ends_with;
    PlatformVersion also takes ``latest``."""
    field = {
        "PlatformName": "PlatformName",
        "PlatformVersion": "PlatformVersion",
        "PlatformStatus": "PlatformStatus",
        "PlatformBranchName": "PlatformBranchName",
        "PlatformLifecycleState": "PlatformLifecycleState",
        "PlatformOwner": "PlatformOwner",
        "ProgrammingLanguageName": "PlatformCategory",
        "OperatingSystemName": "OperatingSystemName",
    }
    result = list(platforms)
    for spec in filters or []:
        kind, operator, values = spec.get("Type"), spec.get("Operator", "="), spec.get("Values", [])
        if kind == "SupportedTier":
            result = [p for p in result if any(v in p["SupportedTierList"] for v in values)]
            continue
        if kind not in field:
            raise _invalid(f"Invalid filter type: {kind}")
        if kind == "PlatformVersion" and values == ["latest"]:
            newest: dict[str, dict[str, Any]] = {}
            for p in result:
                best = newest.get(p["PlatformName"])
                if best is None or _version_key(p["PlatformVersion"]) > _version_key(
                    best["PlatformVersion"]
                ):
                    newest[p["PlatformName"]] = p
            result = [p for p in result if newest[p["PlatformName"]] is p]
            continue

        def holds(value: str, wanted: str, operator: str = operator, kind: str = kind) -> bool:
            if kind == "PlatformVersion" and operator in ("<", "<=", ">", ">="):
                a, b = _version_key(value), _version_key(wanted)
                return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[operator]
            return {
                "=": value == wanted,
                "!=": value != wanted,
                "contains": wanted in value,
                "begins_with": value.startswith(wanted),
                "ends_with": value.endswith(wanted),
            }.get(operator, False)

        result = [p for p in result if any(holds(str(p.get(field[kind], "")), v) for v in values)]
    return result


# --------------------------------------------------------------------------------------------
# Option settings
# --------------------------------------------------------------------------------------------


def _template(namespace: str) -> dict[str, _Option] | None:
    if namespace in _OPTIONS:
        return _OPTIONS[namespace]
    for prefix, template in _TEMPLATE_NAMESPACES:
        if namespace.startswith(prefix) and len(namespace) > len(prefix):
            return _OPTIONS[template]
    return None


def _check_option(setting: dict[str, Any]) -> None:
    namespace, name = setting.get("Namespace", ""), setting.get("OptionName", "")
    value = setting.get("Value")
    if namespace in _FREE_NAMESPACES:
        return
    options = _template(namespace)
    if options is None or name not in options:
        raise _invalid(
            f"Invalid option specification (Namespace: '{namespace}', OptionName: '{name}'): "
            "Unknown configuration setting."
        )
    allowed = options[name][1]
    if allowed and value is not None and value not in allowed:
        raise _invalid(
            f"Invalid option value: '{value}' (Namespace: '{namespace}', OptionName: '{name}'): "
            f"Value is not one of the allowed values: [{', '.join(allowed)}]"
        )
    if name == "PreferredStartTime" and value and not _WEEKLY_WINDOW.match(value):
        raise _invalid(
            f"Invalid option value: '{value}' (Namespace: '{namespace}', OptionName: '{name}'): "
            "Specify the start time in the format day:hour:minute, e.g. Sun:02:00"
        )


def _effective(options: dict[tuple[str, str], str], namespace: str, name: str) -> str | None:
    if (namespace, name) in options:
        return options[(namespace, name)]
    template = _template(namespace)
    return template[name][0] if template and name in template else None


def _check_combination(state: _State, options: dict[tuple[str, str], str], tier: str) -> None:
    """What AWS refuses about the options taken together (after an update is merged)."""
    env_ns, health_ns = (
        "aws:elasticbeanstalk:environment",
        "aws:elasticbeanstalk:healthreporting:system",
    )
    managed_ns = "aws:elasticbeanstalk:managedactions"
    service_role = _effective(options, env_ns, "ServiceRole")
    if _effective(options, health_ns, "SystemType") == "enhanced" and not service_role:
        raise _invalid(
            "Configuration validation exception: Invalid option value: 'enhanced' (Namespace: "
            f"'{health_ns}', OptionName: 'SystemType'): Enhanced health reporting requires a "
            f"service role (Namespace: '{env_ns}', OptionName: 'ServiceRole')."
        )
    if _effective(options, managed_ns, "ManagedActionsEnabled") == "true":
        for namespace, name in (
            (managed_ns, "PreferredStartTime"),
            ("aws:elasticbeanstalk:managedactions:platformupdate", "UpdateLevel"),
        ):
            if not _effective(options, namespace, name):
                raise _invalid(
                    "Configuration validation exception: Managed platform updates need "
                    f"'{name}' (Namespace: '{namespace}')."
                )
        if _effective(options, health_ns, "SystemType") != "enhanced":
            raise _invalid(
                "Configuration validation exception: Managed platform updates require enhanced "
                f"health reporting (Namespace: '{health_ns}', OptionName: 'SystemType')."
            )
    launch = "aws:autoscaling:launchconfiguration"
    if _effective(options, launch, "DisableDefaultEC2SecurityGroup") == "true" and not _effective(
        options, launch, "SecurityGroups"
    ):
        raise _invalid(
            "Configuration validation exception: DisableDefaultEC2SecurityGroup is true: the "
            f"instances need security groups (Namespace: '{launch}', OptionName: 'SecurityGroups')."
        )
    policy = _effective(options, "aws:elasticbeanstalk:command", "DeploymentPolicy")
    single = _effective(options, env_ns, "EnvironmentType") == "SingleInstance"
    if single and policy in ("Rolling", "RollingWithAdditionalBatch", "TrafficSplitting"):
        raise _invalid(
            f"Configuration validation exception: Deployment policy '{policy}' requires a "
            "load-balanced environment."
        )
    if policy == "TrafficSplitting" and tier == "Worker":
        raise _invalid(
            "Configuration validation exception: Deployment policy 'TrafficSplitting' is not "
            "supported for a worker environment."
        )
    _check_iam(state, options)


def _check_iam(state: _State, options: dict[tuple[str, str], str]) -> None:
    """The instance profile and service roles must exist (AWS checks them when it validates the
    configuration, before anything is launched)."""
    from moto.iam.models import iam_backends

    iam = iam_backends[state.account]["global"]
    profile = options.get(("aws:autoscaling:launchconfiguration", "IamInstanceProfile"))
    if profile:
        try:
            if profile.startswith("arn:"):
                iam.get_instance_profile_by_arn(profile)
            else:
                iam.get_instance_profile(profile)
        except Exception as exc:
            raise _invalid(
                f"Invalid option value: '{profile}' (Namespace: "
                "'aws:autoscaling:launchconfiguration', OptionName: 'IamInstanceProfile'): "
                f"The instance profile {profile} associated "
                "with the environment does not exist."
            ) from exc
    for namespace, name in (
        ("aws:elasticbeanstalk:environment", "ServiceRole"),
        ("aws:elasticbeanstalk:managedactions", "ServiceRoleForManagedUpdates"),
    ):
        role = options.get((namespace, name))
        if not role or role == "AWSServiceRoleForElasticBeanstalkManagedUpdates":
            continue
        try:
            if role.startswith("arn:"):
                iam.get_role_by_arn(role)
            else:
                iam.get_role(role.rsplit("/", 1)[-1])
        except Exception as exc:
            raise _invalid(
                f"Invalid option value: '{role}' (Namespace: '{namespace}', OptionName: '{name}'): "
                f"Role {role} does not exist."
            ) from exc


# --------------------------------------------------------------------------------------------
# Shared load balancer
# --------------------------------------------------------------------------------------------

_SHARED_COUNT_TAG = "elasticbeanstalk:shared-elb-environment-count"
# Set at creation only (AWS: "You can configure this option only during environment creation").
_CREATION_ONLY = (
    ("aws:elasticbeanstalk:environment", "LoadBalancerIsShared"),
    ("aws:elasticbeanstalk:environment", "LoadBalancerType"),
    ("aws:elbv2:loadbalancer", "SharedLoadBalancer"),
)


def _elbv2(state: _State) -> Any:
    from moto.elbv2.models import elbv2_backends

    return elbv2_backends[state.account][state.region]


def _shared_listener(state: _State, options: dict[tuple[str, str], str]) -> Any | None:
    """The listener of the shared load balancer a web environment's default rule goes on (None:
    the environment has a load balancer of its own). AWS checks the balancer and the listener
    when it validates the configuration."""
    env_ns, lb_ns = "aws:elasticbeanstalk:environment", "aws:elbv2:loadbalancer"
    if _effective(options, env_ns, "LoadBalancerIsShared") != "true":
        return None
    if _effective(options, env_ns, "LoadBalancerType") != "application":
        raise _invalid(
            "Configuration validation exception: A shared load balancer must be an Application "
            f"Load Balancer (Namespace: '{env_ns}', OptionName: 'LoadBalancerType')."
        )
    arn = options.get((lb_ns, "SharedLoadBalancer"))
    if not arn:
        raise _invalid(
            "Configuration validation exception: LoadBalancerIsShared is true: specify the "
            f"load balancer (Namespace: '{lb_ns}', OptionName: 'SharedLoadBalancer')."
        )
    balancer = _elbv2(state).load_balancers.get(arn)
    if balancer is None or balancer.type != "application":
        raise _invalid(
            f"Invalid option value: '{arn}' (Namespace: '{lb_ns}', OptionName: "
            "'SharedLoadBalancer'): no Application Load Balancer with this ARN."
        )
    ports = [
        namespace.rsplit(":", 1)[1]
        for (namespace, name), value in options.items()
        if namespace.startswith("aws:elbv2:listener:")
        and name == "Rules"
        and "default" in [r.strip() for r in value.split(",")]
    ] or ["80"]
    for listener in balancer.listeners.values():
        if str(listener.port) == ports[0]:
            return listener
    raise _invalid(
        f"Configuration validation exception: The shared load balancer {balancer.name} has no "
        f"listener on port {ports[0]} for the environment's default rule."
    )


def _share_load_balancer(state: _State, env: dict[str, Any], listener: Any) -> None:
    """What AWS adds to a shared load balancer for a new environment: the default process's
    target group and a rule forwarding the environment's CNAME to it (the lowest free
    priority: AWS maps the environment's relative priorities to free absolute ones)."""
    elbv2, options = _elbv2(state), env["fidelity_options"]
    process = "aws:elasticbeanstalk:environment:process:default"
    tags = [
        {"Key": "elasticbeanstalk:environment-name", "Value": env["EnvironmentName"]},
        {"Key": "elasticbeanstalk:environment-id", "Value": env["EnvironmentId"]},
        *({"Key": k, "Value": v} for k, v in env["fidelity_tags"].items()),
    ]
    group = elbv2.create_target_group(
        f"awseb-AWSEB-{_suffix(10).upper()}",
        vpc_id=options.get(("aws:ec2:vpc", "VPCId")),
        protocol=_effective(options, process, "Protocol"),
        port=int(_effective(options, process, "Port") or 80),
        healthcheck_protocol=_effective(options, process, "Protocol"),
        healthcheck_path=_effective(options, process, "HealthCheckPath"),
        matcher={"HttpCode": _effective(options, process, "MatcherHTTPCode")},
        target_type="instance",
        tags=tags,
    )
    taken = {int(r.priority) for r in listener.rules.values() if not r.is_default}
    rule = elbv2.create_rule(
        listener.arn,
        [{"Field": "host-header", "HostHeaderConfig": {"Values": [env["CNAME"]]}}],
        min(p for p in range(1, len(taken) + 2) if p not in taken),
        [{"Type": "forward", "TargetGroupArn": group.arn}],
        tags=tags,
    )
    env["fidelity_shared"] = {
        "balancer": listener.load_balancer_arn,
        "group": group.arn,
        "rule": rule.arn,
    }
    _count_sharing(state, listener.load_balancer_arn)


def _count_sharing(state: _State, balancer_arn: str) -> None:
    elbv2 = _elbv2(state)
    if balancer_arn not in elbv2.load_balancers:
        return
    count = sum(
        1
        for e in state.environments
        if e.get("fidelity_shared", {}).get("balancer") == balancer_arn
        and e["Status"] != "Terminated"
    )
    if count:
        elbv2.add_tags([balancer_arn], [{"Key": _SHARED_COUNT_TAG, "Value": str(count)}])
    else:
        elbv2.remove_tags([balancer_arn], [_SHARED_COUNT_TAG])


def _unshare_load_balancer(state: _State, env: dict[str, Any]) -> None:
    """AWS removes the rule and the target group it added when the environment terminates."""
    shared = env.get("fidelity_shared")
    if not shared:
        return
    elbv2 = _elbv2(state)
    elbv2.delete_rule(shared["rule"])
    if shared["group"] in elbv2.target_groups:
        elbv2.delete_target_group(shared["group"])
    _count_sharing(state, shared["balancer"])


def _settings_from_request(settings: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    result = {}
    for setting in settings or []:
        _check_option(setting)
        result[(setting["Namespace"], setting["OptionName"])] = str(setting.get("Value", ""))
    return result


def _reported_settings(env: dict[str, Any]) -> list[dict[str, Any]]:
    """DescribeConfigurationSettings' list: every option of the environment's tier with its
    default, overridden by what was set (AWS reports its defaults too)."""
    tier = env["Tier"]["Name"]
    options: dict[tuple[str, str], str] = {}
    for namespace, names in _OPTIONS.items():
        if namespace in _NOT_REPORTED:
            continue
        if tier == "Worker" and namespace in _WEB_ONLY:
            continue
        if tier != "Worker" and namespace in _WORKER_ONLY:
            continue
        for name, (default, _allowed) in names.items():
            if default is not None:
                options[(namespace, name)] = default
    if tier == "Worker":
        options[("aws:elasticbeanstalk:sqsd", "WorkerQueueURL")] = env["fidelity_worker_queue"]
    options.update(env["fidelity_options"])
    launch = "aws:autoscaling:launchconfiguration"
    if options.get((launch, "DisableDefaultEC2SecurityGroup")) != "true":
        # The stack's own group (awseb-<id>-stack-AWSEBSecurityGroup-...) joins the instances'.
        given = options.get((launch, "SecurityGroups"))
        groups = [g.strip() for g in given.split(",")] if given else []
        options[(launch, "SecurityGroups")] = ",".join([*groups, env["fidelity_default_group"]])
    reported = []
    for (namespace, name), value in sorted(options.items()):
        entry = {"Namespace": namespace, "OptionName": name, "Value": value}
        if namespace in _RESOURCE_NAMES:
            entry["ResourceName"] = _RESOURCE_NAMES[namespace]
        reported.append(entry)
    return reported


# --------------------------------------------------------------------------------------------
# Environments: status, health and events over time
# --------------------------------------------------------------------------------------------


def _enhanced(env: dict[str, Any]) -> bool:
    return (
        _effective(
            env["fidelity_options"], "aws:elasticbeanstalk:healthreporting:system", "SystemType"
        )
        == "enhanced"
    )


def _set_health(
    env: dict[str, Any], health: str, status: str, causes: list[str] | None = None
) -> None:
    env["Health"] = health
    env["fidelity_causes"] = list(causes or [])
    if _enhanced(env):
        env["HealthStatus"] = status
    else:
        env.pop("HealthStatus", None)


def _settled_health(env: dict[str, Any]) -> None:
    """After an operation: what the instances' health agents report (Green and Ok unless a
    report was given, POST /moto-api/fidelity/elasticbeanstalk/health)."""
    reported = env.get("fidelity_reported")
    if reported:
        _set_health(env, reported["Health"], reported["HealthStatus"], reported["Causes"])
    else:
        _set_health(env, "Green", "Ok")


def _operation(
    state: _State, env: dict[str, Any], status: str, duration_kind: str, finish: Callable[[], None]
) -> None:
    """Put the environment in ``status`` until AWS would have finished, then run ``finish``.
    A newer operation (or a reset) makes an older one's finish a no-op."""
    token = uuid.uuid4().hex
    env["fidelity_operation"] = token
    env["Status"] = status
    env["AbortableOperationInProgress"] = status == "Updating"
    env["DateUpdated"] = _now()

    def done() -> None:
        with state.lock:
            if env.get("fidelity_operation") != token:
                return
            env.pop("fidelity_operation")
            env["AbortableOperationInProgress"] = False
            env["DateUpdated"] = _now()
            finish()

    _later(_ready_at(duration_kind), done)


def _deployment_error(state: _State, env: dict[str, Any]) -> str | None:
    """Why the environment's version would fail to deploy on its platform, as the instances'
    engine would log it (None: it deploys). The Python platform runs the Procfile's ``web``
    process, or gunicorn on ``application:application`` without one."""
    label = env.get("VersionLabel")
    if not label:
        return None  # AWS's sample application
    bundle = state.versions[(env["ApplicationName"], label)].get("SourceBundle")
    if not bundle:
        return None
    from moto.s3.models import s3_backends

    obj = s3_backends[state.account]["aws"].get_object(bundle["S3Bucket"], bundle["S3Key"])
    if obj is None:
        return f"Unable to download the source bundle s3://{bundle['S3Bucket']}/{bundle['S3Key']}."
    try:
        names = set(zipfile.ZipFile(io.BytesIO(obj.value)).namelist())
    except zipfile.BadZipFile:
        return "The source bundle is not a zip file."
    if "Python" in env["SolutionStackName"] and not names & {"Procfile", "application.py"}:
        return (
            "Engine execution has encountered an error: your WSGIPath refers to a file that "
            "does not exist (no Procfile, no application.py)."
        )
    return None


def _failed(state: _State, env: dict[str, Any], reason: str, summary: str) -> None:
    state.event(
        f"[Instance: i-{_suffix(17, '0123456789abcdef')}] Command failed on instance. {reason}",
        env=env,
        severity="ERROR",
    )
    state.event(
        "Instance deployment failed. For details, see 'eb-engine.log'.", env=env, severity="ERROR"
    )
    state.event(summary, env=env, severity="ERROR")
    _set_health(env, "Red", "Severe", [f"{summary} {reason}"])


def _launch(state: _State, env: dict[str, Any]) -> None:
    name = env["EnvironmentName"]
    _set_health(env, "Grey", "Pending")
    state.event("createEnvironment is starting.", env=env)
    state.event(
        f"Using elasticbeanstalk-{state.region}-{state.account} as Amazon S3 storage bucket for "
        "environment data.",
        env=env,
    )

    def finish() -> None:
        env["Status"] = "Ready"
        if env["Tier"]["Name"] != "Worker":
            state.event(f"Created load balancer named: {env['fidelity_load_balancer']}", env=env)
        state.event(f"Created Auto Scaling group named: {env['fidelity_asg']}", env=env)
        error = _deployment_error(state, env)
        if error:
            _failed(state, env, error, "Failed to launch the application.")
            state.event(
                "Create environment operation is complete, but with errors. For more "
                "information, see troubleshooting documentation.",
                env=env,
                severity="WARN",
            )
            return
        state.event("Instance deployment completed successfully.", env=env)
        if _enhanced(env):
            state.event(
                "Environment health has transitioned from Pending to Ok. Initialization "
                "completed 12 seconds ago and took 3 minutes.",
                env=env,
            )
        _settled_health(env)
        state.event(f"Successfully launched environment: {name}", env=env)

    _operation(state, env, "Launching", "elasticbeanstalk.environment.launching", finish)


def _update(
    state: _State, env: dict[str, Any], *, previous: str | None = None, reason: str
) -> None:
    """An update; ``previous`` is the version label before a deployment (None: no deployment)."""
    new_version = previous is not None
    policy = _effective(env["fidelity_options"], "aws:elasticbeanstalk:command", "DeploymentPolicy")
    if not _enhanced(env):
        _set_health(env, "Grey", "Unknown")
    elif new_version and policy in ("Rolling", "RollingWithAdditionalBatch"):
        # A batch at a time out of service while the new version goes on it.
        _set_health(
            env,
            "Yellow",
            "Warning",
            [
                "Application update in progress on 1 instance. 0 out of 2 instances completed "
                "(running for 12 seconds).",
                "1 out of 2 instances are out of service (rolling deployment batch).",
            ],
        )
        state.event(
            "Environment health has transitioned from Ok to Warning. Application update in "
            "progress on 1 instance.",
            env=env,
            severity="WARN",
        )
    else:
        _set_health(env, env["Health"], "Info", ["Configuration update in progress."])
    state.event(reason, env=env)
    if new_version:
        state.event(f"Deploying new version to instance(s) with policy {policy}.", env=env)

    def finish() -> None:
        env["Status"] = "Ready"
        error = _deployment_error(state, env) if new_version else None
        if error:
            # The first batch failed: the instances keep running the previous version.
            if previous:
                env["VersionLabel"] = previous
            else:
                env.pop("VersionLabel", None)
            _failed(state, env, error, "Failed to deploy application.")
            return
        if new_version:
            state.event("New application version was deployed to running EC2 instances.", env=env)
        _settled_health(env)
        state.event("Environment update completed successfully.", env=env)

    _operation(state, env, "Updating", "elasticbeanstalk.environment.updating", finish)


def _terminate(state: _State, env: dict[str, Any]) -> None:
    _set_health(env, "Grey", "Suspended")
    state.event("terminateEnvironment is starting.", env=env)

    def finish() -> None:
        env["Status"] = "Terminated"
        env.pop("HealthStatus", None)
        _unshare_load_balancer(state, env)
        env["fidelity_terminated_at"] = time.monotonic()
        state.event("terminateEnvironment completed successfully.", env=env)

    _operation(state, env, "Terminating", "elasticbeanstalk.environment.terminating", finish)


def _public(env: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in env.items() if not k.startswith("fidelity_")}


def _visible(env: dict[str, Any]) -> bool:
    ended = env.get("fidelity_terminated_at")
    return ended is None or time.monotonic() - ended < _TERMINATED_VISIBLE_SECONDS


def _find_environment(
    state: _State, params: dict[str, Any], *, live: bool = True
) -> dict[str, Any]:
    env_id, name = params.get("EnvironmentId"), params.get("EnvironmentName")
    for env in reversed(state.environments):
        if live and env["Status"] == "Terminated":
            continue
        if (env_id and env["EnvironmentId"] == env_id) or (name and env["EnvironmentName"] == name):
            return env
    if env_id:
        raise _invalid(f"No Environment found for EnvironmentId = '{env_id}'.")
    raise _invalid(f"No Environment found for EnvironmentName = '{name}'.")


def _require_ready(env: dict[str, Any]) -> None:
    if env["Status"] != "Ready":
        raise _invalid(
            f"Environment named {env['EnvironmentName']} is in an invalid state for this "
            "operation. Must be Ready."
        )


# --------------------------------------------------------------------------------------------
# The handlers
# --------------------------------------------------------------------------------------------


def _tags_of(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in items or []}


def _lifecycle(config: dict[str, Any] | None) -> dict[str, Any]:
    config = config or {}
    rules = config.get("VersionLifecycleConfig") or {}
    result: dict[str, Any] = {
        "VersionLifecycleConfig": {
            "MaxCountRule": {"Enabled": False, "MaxCount": 200, "DeleteSourceFromS3": False},
            "MaxAgeRule": {"Enabled": False, "MaxAgeInDays": 180, "DeleteSourceFromS3": False},
        }
    }
    for rule in ("MaxCountRule", "MaxAgeRule"):
        result["VersionLifecycleConfig"][rule].update(rules.get(rule) or {})
    if config.get("ServiceRole"):
        result["ServiceRole"] = config["ServiceRole"]
    return result


def _application_view(state: _State, app: dict[str, Any]) -> dict[str, Any]:
    labels = [
        v["VersionLabel"] for (a, _l), v in state.versions.items() if a == app["ApplicationName"]
    ]
    return {
        **{k: v for k, v in app.items() if k != "Tags"},
        "Versions": sorted(
            labels,
            key=lambda label: state.versions[(app["ApplicationName"], label)]["DateCreated"],
            reverse=True,
        ),
        "ConfigurationTemplates": [],
    }


def _s3_object(state: _State, bucket: str, key: str) -> Any:
    from moto.s3.models import s3_backends

    s3 = s3_backends[state.account]["aws"]
    try:
        bucket_obj = s3.get_bucket(bucket)
    except Exception:
        bucket_obj = None
    obj = s3.get_object(bucket, key) if bucket_obj is not None else None
    if obj is None:
        raise _error(
            "InvalidParameterCombination",
            f"Unable to download from S3 location (Bucket: {bucket}  Key: {key}). "
            "Reason: Not Found",
        )
    if getattr(bucket_obj, "region_name", state.region) != state.region:
        raise _error(
            "InvalidParameterCombination",
            f"Unable to download from S3 location (Bucket: {bucket}  Key: {key}). Reason: Moved "
            "Permanently",
        )
    return s3, obj


def _prune_versions(state: _State, app: dict[str, Any]) -> None:
    """The application version lifecycle's count rule, applied when a version is created."""
    rule = app["ResourceLifecycleConfig"]["VersionLifecycleConfig"]["MaxCountRule"]
    if not rule.get("Enabled"):
        return
    in_use = {e.get("VersionLabel") for e in state.environments if e["Status"] != "Terminated"}
    mine = sorted(
        (v for (a, _l), v in state.versions.items() if a == app["ApplicationName"]),
        key=lambda v: v["DateCreated"],
    )
    for version in mine[: max(0, len(mine) - int(rule.get("MaxCount", 200)))]:
        if version["VersionLabel"] in in_use:
            continue
        _delete_version(state, version, bool(rule.get("DeleteSourceFromS3")))
        state.event(
            f"Deleted application version {version['VersionLabel']} (version lifecycle).",
            app=app["ApplicationName"],
        )


def _delete_version(state: _State, version: dict[str, Any], delete_source: bool) -> None:
    state.versions.pop((version["ApplicationName"], version["VersionLabel"]), None)
    bundle = version.get("SourceBundle")
    if delete_source and bundle:
        from moto.s3.models import s3_backends

        try:
            s3_backends[state.account]["aws"].delete_object(bundle["S3Bucket"], bundle["S3Key"])
        except Exception as exc:
            raise _error(
                "SourceBundleDeletionFailure",
                f"Unable to delete source bundle (Bucket: {bundle['S3Bucket']} Key: "
                f"{bundle['S3Key']}): {exc}",
            ) from exc


def _process(state: _State, version: dict[str, Any], outcome: str) -> None:
    """A version created with Process: Processing while AWS validates its bundle, then
    Processed or Failed."""

    def done() -> None:
        with state.lock:
            version["Status"] = outcome
            version["DateUpdated"] = _now()
            if outcome == "Failed":
                state.event(
                    f"Failed to process application version {version['VersionLabel']}: the "
                    "source bundle is not a valid zip archive.",
                    app=version["ApplicationName"],
                    version=version["VersionLabel"],
                    severity="ERROR",
                )

    _later(_ready_at("elasticbeanstalk.application_version.processing"), done)


def _require_usable(state: _State, app: str, label: str) -> None:
    """AWS deploys a version only once processed: a Failed one "isn't usable", one still
    Processing (or Building) is not ready yet."""
    status = state.versions[(app, label)]["Status"]
    if status in ("Processing", "Building", "Failed"):
        raise _invalid(
            f"Application version {label} is {status}: only a processed (or unprocessed) "
            "version can be deployed."
        )


def _install_handlers() -> None:
    from moto.core.responses import ActionResult, EmptyResult
    from moto.elasticbeanstalk.models import EBBackend
    from moto.elasticbeanstalk.responses import EBResponse

    def handler(func: Callable[[EBResponse, _State], Any]) -> Callable[[EBResponse, _State], Any]:
        def method(self: EBResponse) -> Any:
            state = _state(self.elasticbeanstalk_backend)
            with state.lock:
                result = func(self, state)
            return EmptyResult() if result is None else ActionResult(result)

        setattr(EBResponse, func.__name__, method)
        return func

    # -- applications ---------------------------------------------------------------------
    def new_application(
        state: _State,
        name: str,
        description: str | None = None,
        lifecycle: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        if name in state.applications:
            raise _invalid(f"Application {name} already exists.")
        now = _now()
        app = {
            "ApplicationArn": state.arn("application", name),
            "ApplicationName": name,
            "DateCreated": now,
            "DateUpdated": now,
            "ResourceLifecycleConfig": _lifecycle(lifecycle),
            "Tags": tags or {},
        }
        if description:
            app["Description"] = description
        state.applications[name] = app
        return app

    @handler
    def create_application(self: EBResponse, state: _State) -> Any:
        app = new_application(
            state,
            self._get_param("ApplicationName"),
            self._get_param("Description"),
            self._get_param("ResourceLifecycleConfig"),
            _tags_of(self._get_param("Tags")),
        )
        return {"Application": _application_view(state, app)}

    @handler
    def describe_applications(self: EBResponse, state: _State) -> Any:
        names = self._get_param("ApplicationNames") or list(state.applications)
        return {
            "Applications": [
                _application_view(state, state.applications[n])
                for n in names
                if n in state.applications
            ]
        }

    def application(state: _State, name: str) -> dict[str, Any]:
        if name not in state.applications:
            raise _invalid(f"No Application named '{name}' found.")
        return state.applications[name]

    @handler
    def update_application(self: EBResponse, state: _State) -> Any:
        app = application(state, self._get_param("ApplicationName"))
        description = self._get_param("Description")
        if description:
            app["Description"] = description
        else:
            app.pop("Description", None)
        app["DateUpdated"] = _now()
        return {"Application": _application_view(state, app)}

    @handler
    def update_application_resource_lifecycle(self: EBResponse, state: _State) -> Any:
        app = application(state, self._get_param("ApplicationName"))
        app["ResourceLifecycleConfig"] = _lifecycle(self._get_param("ResourceLifecycleConfig"))
        return {
            "ApplicationName": app["ApplicationName"],
            "ResourceLifecycleConfig": app["ResourceLifecycleConfig"],
        }

    @handler
    def delete_application(self: EBResponse, state: _State) -> Any:
        name = self._get_param("ApplicationName")
        app = application(state, name)
        running = [
            e
            for e in state.environments
            if e["ApplicationName"] == name and e["Status"] not in ("Terminated", "Terminating")
        ]
        if running and not self._get_param("TerminateEnvByForce"):
            raise _invalid(
                f"Unable to delete application {name} because it has running environments: "
                f"{', '.join(e['EnvironmentName'] for e in running)}. Terminate them first."
            )
        for env in running:
            _terminate(state, env)
        for key in [k for k in state.versions if k[0] == name]:
            state.versions.pop(key)
        state.applications.pop(app["ApplicationName"])

    # -- application versions ---------------------------------------------------------------
    @handler
    def create_application_version(self: EBResponse, state: _State) -> Any:
        name, label = self._get_param("ApplicationName"), self._get_param("VersionLabel")
        if name not in state.applications and self._get_param("AutoCreateApplication"):
            new_application(state, name)
        app = application(state, name)
        if (name, label) in state.versions:
            raise _invalid(f"Application Version {label} already exists.")
        bundle = self._get_param("SourceBundle")
        status, outcome = "Unprocessed", None
        if bundle:
            _s3, obj = _s3_object(state, bundle.get("S3Bucket", ""), bundle.get("S3Key", ""))
            if self._get_param("Process"):
                status = "Processing"
                outcome = "Processed" if zipfile.is_zipfile(io.BytesIO(obj.value)) else "Failed"
        now = _now()
        version = {
            "ApplicationVersionArn": state.arn("applicationversion", f"{name}/{label}"),
            "ApplicationName": name,
            "VersionLabel": label,
            "DateCreated": now,
            "DateUpdated": now,
            "Status": status,
            "fidelity_tags": _tags_of(self._get_param("Tags")),
        }
        if bundle:
            version["SourceBundle"] = {"S3Bucket": bundle["S3Bucket"], "S3Key": bundle["S3Key"]}
        if self._get_param("Description"):
            version["Description"] = self._get_param("Description")
        state.versions[(name, label)] = version
        state.event(f"Created new Application Version: {label}", app=name, version=label)
        answer = {"ApplicationVersion": _public(version)}  # as created: Processing
        if outcome:
            _process(state, version, outcome)
        _prune_versions(state, app)
        return answer

    @handler
    def describe_application_versions(self: EBResponse, state: _State) -> Any:
        name, labels = self._get_param("ApplicationName"), self._get_param("VersionLabels")
        found = [
            _public(v)
            for (a, label), v in state.versions.items()
            if (not name or a == name) and (not labels or label in labels)
        ]
        found.sort(key=lambda v: v["DateCreated"], reverse=True)
        return {"ApplicationVersions": found}

    @handler
    def update_application_version(self: EBResponse, state: _State) -> Any:
        name, label = self._get_param("ApplicationName"), self._get_param("VersionLabel")
        application(state, name)
        version = state.versions.get((name, label))
        if version is None:
            raise _invalid(f"No Application Version named '{label}' found.")
        if self._get_param("Description"):
            version["Description"] = self._get_param("Description")
        else:
            version.pop("Description", None)
        version["DateUpdated"] = _now()
        return {"ApplicationVersion": _public(version)}

    @handler
    def delete_application_version(self: EBResponse, state: _State) -> Any:
        name, label = self._get_param("ApplicationName"), self._get_param("VersionLabel")
        application(state, name)
        version = state.versions.get((name, label))
        if version is None:
            raise _invalid(f"No Application Version named '{label}' found.")
        _delete_version(state, version, bool(self._get_param("DeleteSourceBundle")))

    # -- platforms ------------------------------------------------------------------------
    @handler
    def list_platform_versions(self: EBResponse, state: _State) -> Any:
        found = _filter_platforms(_platforms(state), self._get_param("Filters") or [])
        return {"PlatformSummaryList": [_platform_summary(p) for p in found]}

    @handler
    def describe_platform_version(self: EBResponse, state: _State) -> Any:
        arn = self._get_param("PlatformArn")
        for platform in _platforms(state):
            if platform["PlatformArn"] == arn:
                return {"PlatformDescription": platform}
        raise _invalid(f"No Platform named '{arn}' found.")

    def resolve_platform(self: EBResponse, state: _State) -> dict[str, Any] | None:
        stack, arn = self._get_param("SolutionStackName"), self._get_param("PlatformArn")
        if stack and arn:
            raise _error(
                "InvalidParameterCombination",
                "You cannot specify both a solution stack name and a platform ARN.",
            )
        if not stack and not arn:
            return None
        for platform in _platforms(state):
            if (stack and platform["SolutionStackName"] == stack) or platform["PlatformArn"] == arn:
                return platform
        if stack:
            raise _invalid(f"No Solution Stack named '{stack}' found.")
        raise _invalid(f"No Platform named '{arn}' found.")

    # -- environments ---------------------------------------------------------------------
    @handler
    def create_environment(self: EBResponse, state: _State) -> Any:
        name = self._get_param("EnvironmentName") or ""
        app = application(state, self._get_param("ApplicationName"))
        if not _ENVIRONMENT_NAME.match(name):
            raise _invalid(
                f"Value {name} at 'EnvironmentName' failed to satisfy constraint: it must be 4 to "
                "40 characters long and contain only letters, digits and hyphens, not at the "
                "start or end."
            )
        if any(
            e["EnvironmentName"] == name and e["Status"] != "Terminated" for e in state.environments
        ):
            raise _invalid(f"Environment {name} already exists.")
        _refuse_default_tags(_tags_of(self._get_param("Tags")))
        platform = resolve_platform(self, state)
        if platform is None:
            raise _invalid("No Solution Stack named '' found.")
        tier_param = self._get_param("Tier") or {}
        worker = tier_param.get("Name") == "Worker"
        tier = dict(_WORKER_TIER if worker else _WEB_TIER)
        if tier_param.get("Type") and tier_param["Type"] != tier["Type"]:
            raise _invalid(f"Tier {tier['Name']} has no type {tier_param['Type']}.")
        label = self._get_param("VersionLabel")
        if label and (app["ApplicationName"], label) not in state.versions:
            raise _invalid(f"No Application Version named '{label}' found.")
        if label:
            _require_usable(state, app["ApplicationName"], label)
        options = _settings_from_request(self._get_param("OptionSettings"))
        _check_combination(state, options, tier["Name"])
        listener = None if worker else _shared_listener(state, options)
        env_id = f"e-{_suffix(10)}"
        now = _now()
        env: dict[str, Any] = {
            "EnvironmentName": name,
            "EnvironmentId": env_id,
            "ApplicationName": app["ApplicationName"],
            "SolutionStackName": platform["SolutionStackName"],
            "PlatformArn": platform["PlatformArn"],
            "DateCreated": now,
            "DateUpdated": now,
            "Status": "Launching",
            "AbortableOperationInProgress": False,
            "Health": "Grey",
            "Tier": tier,
            "EnvironmentLinks": [],
            "EnvironmentArn": state.arn("environment", f"{app['ApplicationName']}/{name}"),
            "fidelity_options": options,
            "fidelity_tags": _tags_of(self._get_param("Tags")),
            "fidelity_asg": f"awseb-{env_id}-stack-AWSEBAutoScalingGroup-{_suffix(12).upper()}",
            "fidelity_default_group": f"sg-{_suffix(17, '0123456789abcdef')}",
        }
        if label:
            env["VersionLabel"] = label
        if self._get_param("Description"):
            env["Description"] = self._get_param("Description")
        if worker:
            env["fidelity_worker_queue"] = (
                f"https://sqs.{state.region}.amazonaws.com/{state.account}/"
                f"awseb-{env_id}-stack-AWSEBWorkerQueue-{_suffix(12).upper()}"
            )
        else:
            prefix = self._get_param("CNAMEPrefix")
            if prefix and any(
                e.get("CNAME", "").split(".")[0] == prefix
                for e in state.environments
                if e["Status"] != "Terminated"
            ):
                raise _invalid(
                    f"DNS name ({prefix}.{state.region}.elasticbeanstalk.com) is not available."
                )
            env["CNAME"] = (
                f"{prefix}.{state.region}.elasticbeanstalk.com"
                if prefix
                else f"{name}.eba-{_suffix(8)}.{state.region}.elasticbeanstalk.com"
            )
            if listener is not None:
                balancer = _elbv2(state).load_balancers[listener.load_balancer_arn]
                env["fidelity_load_balancer"] = balancer.name
                env["EndpointURL"] = balancer.dns_name
            else:
                lb = f"awseb--AWSEB-{_suffix(12)}"
                env["fidelity_load_balancer"] = lb
                env["EndpointURL"] = (
                    f"{lb}-{random.randint(10**9, 10**10 - 1)}.{state.region}.elb.amazonaws.com"  # noqa: S311
                )
        state.environments.append(env)
        if listener is not None:
            _share_load_balancer(state, env, listener)
        _launch(state, env)
        return _public(env)

    @handler
    def describe_environments(self: EBResponse, state: _State) -> Any:
        app_name, version = self._get_param("ApplicationName"), self._get_param("VersionLabel")
        ids, names = self._get_param("EnvironmentIds"), self._get_param("EnvironmentNames")
        include_deleted = self._get_param("IncludeDeleted")
        found = [
            _public(e)
            for e in state.environments
            if (not app_name or e["ApplicationName"] == app_name)
            and (not version or e.get("VersionLabel") == version)
            and (not ids or e["EnvironmentId"] in ids)
            and (not names or e["EnvironmentName"] in names)
            and (e["Status"] != "Terminated" or (include_deleted is not False and _visible(e)))
        ]
        return {"Environments": found}

    @handler
    def update_environment(self: EBResponse, state: _State) -> Any:
        env = _find_environment(state, self.querystring_params())
        _require_ready(env)
        label = self._get_param("VersionLabel")
        if label and (env["ApplicationName"], label) not in state.versions:
            raise _invalid(f"No Application Version named '{label}' found.")
        if label and label != env.get("VersionLabel"):
            _require_usable(state, env["ApplicationName"], label)
        platform = resolve_platform(self, state)
        options = dict(env["fidelity_options"])
        options.update(_settings_from_request(self._get_param("OptionSettings")))
        for removed in self._get_param("OptionsToRemove") or []:
            options.pop((removed.get("Namespace"), removed.get("OptionName")), None)
        for namespace, name in _CREATION_ONLY:
            if _effective(options, namespace, name) != _effective(
                env["fidelity_options"], namespace, name
            ):
                raise _invalid(
                    f"Invalid option specification (Namespace: '{namespace}', OptionName: "
                    f"'{name}'): it can be set only when the environment is created."
                )
        tier_param = self._get_param("Tier") or {}
        if tier_param.get("Name") and tier_param["Name"] != env["Tier"]["Name"]:
            raise _invalid("Cannot change the tier of an environment: create a new environment.")
        _check_combination(state, options, env["Tier"]["Name"])
        env["fidelity_options"] = options
        if self._get_param("Description") is not None:
            env["Description"] = self._get_param("Description")
        if platform:
            env["SolutionStackName"] = platform["SolutionStackName"]
            env["PlatformArn"] = platform["PlatformArn"]
        previous = (
            env.get("VersionLabel", "") if label and label != env.get("VersionLabel") else None
        )
        if label:
            env["VersionLabel"] = label
        _update(state, env, previous=previous, reason="Environment update is starting.")
        return _public(env)

    @handler
    def terminate_environment(self: EBResponse, state: _State) -> Any:
        env = _find_environment(state, self.querystring_params())
        if env["Status"] != "Ready" and not self._get_param("ForceTerminate"):
            _require_ready(env)
        _terminate(state, env)
        return _public(env)

    @handler
    def describe_configuration_settings(self: EBResponse, state: _State) -> Any:
        if self._get_param("TemplateName"):
            raise _invalid(
                f"No Configuration Template named '{self._get_param('TemplateName')}' found."
            )
        env = _find_environment(state, self.querystring_params())
        return {
            "ConfigurationSettings": [
                {
                    "SolutionStackName": env["SolutionStackName"],
                    "PlatformArn": env["PlatformArn"],
                    "ApplicationName": env["ApplicationName"],
                    "EnvironmentName": env["EnvironmentName"],
                    "DeploymentStatus": "deployed",
                    "DateCreated": env["DateCreated"],
                    "DateUpdated": env["DateUpdated"],
                    "OptionSettings": _reported_settings(env),
                }
            ]
        }

    @handler
    def describe_environment_resources(self: EBResponse, state: _State) -> Any:
        env = _find_environment(state, self.querystring_params())
        resources: dict[str, Any] = {
            "EnvironmentName": env["EnvironmentName"],
            "AutoScalingGroups": [{"Name": env["fidelity_asg"]}],
            "Instances": [],
            "LaunchConfigurations": [],
            "LaunchTemplates": [],
            "LoadBalancers": [],
            "Triggers": [],
            "Queues": [],
        }
        if "fidelity_shared" in env:
            resources["LoadBalancers"] = [{"Name": env["fidelity_shared"]["balancer"]}]
        elif "fidelity_load_balancer" in env:
            resources["LoadBalancers"] = [
                {
                    "Name": f"arn:aws:elasticloadbalancing:{state.region}:{state.account}:"
                    f"loadbalancer/app/{env['fidelity_load_balancer']}/"
                    f"{_suffix(16, '0123456789abcdef')}"
                }
            ]
        if "fidelity_worker_queue" in env:
            queue = _effective(
                env["fidelity_options"], "aws:elasticbeanstalk:sqsd", "WorkerQueueURL"
            )
            queue = queue or env["fidelity_worker_queue"]
            resources["Queues"] = [{"Name": "WorkerQueue", "URL": queue}]
        return {"EnvironmentResources": resources}

    @handler
    def describe_environment_health(self: EBResponse, state: _State) -> Any:
        env = _find_environment(state, self.querystring_params())
        if not _enhanced(env):
            raise _invalid(
                f"Environment {env['EnvironmentName']} does not use enhanced health reporting."
            )
        wanted = set(self._get_param("AttributeNames") or ["All"])
        found = {
            "EnvironmentName": env["EnvironmentName"],
            "HealthStatus": env.get("HealthStatus", "Unknown"),
            "Status": env["Status"],
            "Color": env["Health"],
            "Causes": env.get("fidelity_causes", []),
            "RefreshedAt": _now(),
        }
        if "All" in wanted:
            return found
        return {k: v for k, v in found.items() if k in wanted or k == "EnvironmentName"}

    @handler
    def describe_events(self: EBResponse, state: _State) -> Any:
        wanted = {
            "ApplicationName": self._get_param("ApplicationName"),
            "EnvironmentName": self._get_param("EnvironmentName"),
            "VersionLabel": self._get_param("VersionLabel"),
        }
        env_id = self._get_param("EnvironmentId")
        start, end = self._get_param("StartTime"), self._get_param("EndTime")
        severities = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
        minimum = severities.index(self._get_param("Severity") or "TRACE")
        events = [
            {k: v for k, v in e.items() if not k.startswith("fidelity_")}
            for e in reversed(state.events)
            if all(not want or e.get(k) == want for k, want in wanted.items())
            and (not env_id or e.get("fidelity_environment_id") == env_id)
            and (not start or e["EventDate"] >= _as_datetime(start))
            and (not end or e["EventDate"] < _as_datetime(end))
            and severities.index(e["Severity"]) >= minimum
        ]
        limit = int(self._get_param("MaxRecords") or 1000)
        return {"Events": events[:limit]}

    # -- tags -----------------------------------------------------------------------------
    def tagged(state: _State, arn: str) -> tuple[dict[str, str], dict[str, Any] | None]:
        for app in state.applications.values():
            if app["ApplicationArn"] == arn:
                return app["Tags"], None
        for version in state.versions.values():
            if version["ApplicationVersionArn"] == arn:
                return version["fidelity_tags"], None
        for env in state.environments:
            if env["EnvironmentArn"] == arn and env["Status"] != "Terminated":
                return env["fidelity_tags"], env
        raise _error("ResourceNotFoundException", f"Resource not found for ARN '{arn}'.")

    @handler
    def list_tags_for_resource(self: EBResponse, state: _State) -> Any:
        arn = self._get_param("ResourceArn")
        tags, env = tagged(state, arn)
        if env is not None:
            tags = {**tags, **_default_tags(env)}
        return {
            "ResourceArn": arn,
            "ResourceTags": [{"Key": k, "Value": v} for k, v in tags.items()],
        }

    @handler
    def update_tags_for_resource(self: EBResponse, state: _State) -> Any:
        tags, env = tagged(state, self._get_param("ResourceArn"))
        if env is not None:
            _refuse_default_tags([
                *(self._get_param("TagsToRemove") or []),
                *_tags_of(self._get_param("TagsToAdd")),
            ])  # fmt: skip
            # AWS applies an environment's tags to its resources: an update of the environment.
            _require_ready(env)
        for key in self._get_param("TagsToRemove") or []:
            tags.pop(key, None)
        tags.update(_tags_of(self._get_param("TagsToAdd")))
        if env is not None:
            _update(state, env, reason="Environment tag update is starting.")

    # The Resource Groups Tagging API sees applications, versions and environments.
    def iter_tagged_resources(self: EBBackend) -> Iterator[Any]:
        from moto.core.resource_tagging import TaggedResource

        state = _state(self)
        for app in list(state.applications.values()):
            yield TaggedResource(
                app["ApplicationArn"], dict(app["Tags"]), "elasticbeanstalk:application"
            )
        for version in list(state.versions.values()):
            yield TaggedResource(
                version["ApplicationVersionArn"],
                dict(version["fidelity_tags"]),
                "elasticbeanstalk:applicationversion",
            )
        for env in list(state.environments):
            if env["Status"] != "Terminated":
                yield TaggedResource(
                    env["EnvironmentArn"],
                    dict(env["fidelity_tags"]),
                    "elasticbeanstalk:environment",
                )

    EBBackend.iter_tagged_resources = iter_tagged_resources  # type: ignore[method-assign]


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _querystring_params(self: Any) -> dict[str, Any]:
    return {
        "EnvironmentId": self._get_param("EnvironmentId"),
        "EnvironmentName": self._get_param("EnvironmentName"),
    }


@fix
def elasticbeanstalk_is_emulated_as_aws_answers() -> None:
    """moto 5.2.5: Elastic Beanstalk has applications (no description, tags or version
    lifecycle) and environments that are Ready at once with no platform, version, options or
    events; no application versions, UpdateEnvironment, TerminateEnvironment,
    DescribeConfigurationSettings, DescribeEvents, ListPlatformVersions.

    AWS: see the module docstring. Environments are Launching, Updating and Terminating for
    AWS_DURATIONS' times (scaled); UpdateEnvironment, TerminateEnvironment and an environment's
    UpdateTagsForResource refuse an environment that is not Ready (InvalidParameterValue "...
    is in an invalid state for this operation. Must be Ready."); unknown options and values,
    enhanced health without a service role, managed updates without a window, a missing
    instance profile or role, a source bundle not in S3 are refused as AWS refuses them. A
    version created with Process is Processing (AWS_DURATIONS), then Processed or Failed, and
    only a processed (or unprocessed) one deploys; enhanced health is Yellow (Warning) while a
    rolling deployment's batch is out of service, with DescribeEnvironmentHealth's causes.
    """
    from moto.elasticbeanstalk.responses import EBResponse

    EBResponse.querystring_params = _querystring_params  # type: ignore[attr-defined]
    _install_handlers()


# --------------------------------------------------------------------------------------------
# Managed platform updates
# --------------------------------------------------------------------------------------------

# Platform versions published after moto's catalogue (AWS publishes new ones over time): the
# local platform publishes one with POST /moto-api/fidelity/elasticbeanstalk/platforms
# {"SolutionStackName": "64bit Amazon Linux 2023 v4.6.1 running Python 3.13"}.
_PUBLISHED: list[dict[str, Any]] = []


def _pending_update(state: _State, env: dict[str, Any]) -> dict[str, Any] | None:
    """The managed action AWS lists for the environment: a platform update to the newest
    version of its branch within its UpdateLevel (minor: same major; patch: same minor)."""
    current = next((p for p in _platforms(state) if p["PlatformArn"] == env["PlatformArn"]), None)
    if current is None:
        return None
    level = _effective(
        env["fidelity_options"], "aws:elasticbeanstalk:managedactions:platformupdate", "UpdateLevel"
    )
    have = _version_key(current["PlatformVersion"])
    same = 2 if level == "patch" else 1
    newer = [
        p
        for p in _platforms(state)
        if p["PlatformBranchName"] == current["PlatformBranchName"]
        and _version_key(p["PlatformVersion"]) > have
        and _version_key(p["PlatformVersion"])[:same] == have[:same]
    ]
    if not newer:
        return None
    target = max(newer, key=lambda p: _version_key(p["PlatformVersion"]))
    return {
        "ActionId": str(
            uuid.uuid5(uuid.NAMESPACE_URL, env["EnvironmentId"] + target["PlatformArn"])
        ),
        "ActionDescription": f"Update platform version from {current['PlatformVersion']} to "
        f"{target['PlatformVersion']}.",
        "ActionType": "PlatformUpdate",
        "Status": "Running" if env.get("fidelity_applying") else "Scheduled",
        "fidelity_platform": target,
    }


# AWS starts an applied managed action asynchronously: right after ApplyEnvironmentManagedAction
# answers, the environment may still read Ready on its old platform version (not documented as a
# figure; its describe calls are eventually consistent). Played for this long whatever the
# timing scale, so a caller that takes the first Ready and Green for the update's end fails here.
_MANAGED_ACTION_START_SECONDS = 2.0


@fix
def elasticbeanstalk_managed_platform_updates() -> None:
    """moto 5.2.5 has no DescribeEnvironmentManagedActions or ApplyEnvironmentManagedAction,
    and its platform catalogue never changes.

    AWS: when a newer version of an environment's platform branch is published (within its
    managed updates' UpdateLevel), DescribeEnvironmentManagedActions lists a Scheduled
    ``PlatformUpdate`` action; ApplyEnvironmentManagedAction starts it at once (the environment
    must be Ready: InvalidParameterValue otherwise; an unknown action id:
    ManagedActionInvalidStateException), answering Status ``Running``; the environment is
    Updating on the new platform version (its PlatformArn and SolutionStackName) until done.
    The start is asynchronous: the environment reads Ready on its old version for a moment
    (``_MANAGED_ACTION_START_SECONDS``), the action listed Running meanwhile.
    A new platform version is published with POST /moto-api/fidelity/elasticbeanstalk/platforms.
    """
    from moto.elasticbeanstalk.responses import EBResponse
    from moto.moto_api._internal import urls

    def publish(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
        import json

        body = json.loads(request.get_data() or b"{}")
        name = body.get("SolutionStackName", "")
        if not _STACK_NAME.match(name):
            return 400, {}, json.dumps({"error": f"not a solution stack name: {name!r}"})
        if all(d["SolutionStackName"] != name for d in _PUBLISHED):
            _PUBLISHED.append({"SolutionStackName": name, "PermittedFileTypes": ["zip"]})
        return 200, {"Content-Type": "application/json"}, json.dumps({"published": name})

    urls.url_paths["{0}/moto-api/fidelity/elasticbeanstalk/platforms"] = publish

    def describe_environment_managed_actions(self: EBResponse) -> Any:
        from moto.core.responses import ActionResult

        state = _state(self.elasticbeanstalk_backend)
        with state.lock:
            env = _find_environment(state, self.querystring_params())
            action = _pending_update(state, env)
            wanted = self._get_param("Status")
            actions = [
                {k: v for k, v in action.items() if not k.startswith("fidelity_")}
                for action in [action]
                if action and (not wanted or wanted == action["Status"])
            ]
        return ActionResult({"ManagedActions": actions})

    def apply_environment_managed_action(self: EBResponse) -> Any:
        from moto.core.responses import ActionResult

        state = _state(self.elasticbeanstalk_backend)
        with state.lock:
            env = _find_environment(state, self.querystring_params())
            action = _pending_update(state, env)
            if (
                action is None
                or action["Status"] != "Scheduled"
                or action["ActionId"] != self._get_param("ActionId")
            ):
                raise _error(
                    "ManagedActionInvalidStateException",
                    f"The managed action {self._get_param('ActionId')} is not in a valid state "
                    "to apply.",
                )
            _require_ready(env)
            env["fidelity_applying"] = action["ActionId"]

        def start() -> None:
            with state.lock:
                if env.pop("fidelity_applying", None) != action["ActionId"]:
                    return
                if env["Status"] != "Ready":
                    return  # another operation came first
                target = action["fidelity_platform"]
                env["SolutionStackName"] = target["SolutionStackName"]
                env["PlatformArn"] = target["PlatformArn"]
                state.event(
                    f"Managed platform update is starting: {action['ActionDescription']}", env=env
                )
                _update(state, env, reason="Environment update is starting.")

        _later(time.monotonic() + _MANAGED_ACTION_START_SECONDS, start)
        return ActionResult(
            {
                "ActionId": action["ActionId"],
                "ActionDescription": action["ActionDescription"],
                "ActionType": "PlatformUpdate",
                "Status": "Running",
            }
        )

    EBResponse.describe_environment_managed_actions = describe_environment_managed_actions  # type: ignore[attr-defined]
    EBResponse.apply_environment_managed_action = apply_environment_managed_action  # type: ignore[attr-defined]


@fix
def elasticbeanstalk_instance_health_reports_endpoint() -> None:
    """Not a moto gap: what an environment's instances' health agents report (AWS computes
    enhanced health from them; the emulator has no instances). ``POST
    /moto-api/fidelity/elasticbeanstalk/health {"environment": "<name>", "health": "Yellow",
    "status": "Warning", "causes": ["..."]}`` holds the environment at that health once its
    operations end (at once when Ready); without ``health`` it is Green and Ok again."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.elasticbeanstalk.models import eb_backends
    from moto.moto_api._internal import urls

    def health(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.get_data() or b"{}")
        for backend in list(eb_backends[DEFAULT_ACCOUNT_ID].values()):
            state = _state(backend)
            with state.lock:
                for env in state.environments:
                    if env["EnvironmentName"] != body.get("environment"):
                        continue
                    if env["Status"] == "Terminated":
                        continue
                    env["fidelity_reported"] = (
                        {
                            "Health": body["health"],
                            "HealthStatus": body.get("status", "Warning"),
                            "Causes": list(body.get("causes", [])),
                        }
                        if body.get("health")
                        else None
                    )
                    if env["Status"] == "Ready":
                        _settled_health(env)
                    return (
                        200,
                        {"Content-Type": "application/json"},
                        json.dumps(_public(env), default=str),
                    )
        return 404, {}, json.dumps({"error": f"no environment {body.get('environment')}"})

    urls.url_paths["{0}/moto-api/fidelity/elasticbeanstalk/health"] = health
