"""AWS's timings: how long AWS takes to move a resource from one state to the next
(``AWS_DURATIONS``, with sources), the timing scale and its endpoint.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from local.emulator.fidelity.core import fix

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
    # Elastic Beanstalk environments (elasticbeanstalk.py).
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
    "elasticbeanstalk.application_version.processing": (
        20,
        "Elastic Beanstalk API Reference, CreateApplicationVersion (Process) and "
        "ApplicationVersionDescription.Status: with Process the version is Processing while "
        "Elastic Beanstalk validates the bundle's manifest and configuration files, then "
        "Processed or Failed ('This application version isn't usable'); seconds",
    ),
    "elasticbeanstalk.environment.terminating": (
        300,
        "Elastic Beanstalk Developer Guide, 'Terminating an environment': the stack and its "
        "resources are deleted, typically 5 minutes",
    ),
    # Deletions AWS finishes later (deferred.py; the fixes in ec2.py, elbv2.py, sqs.py, s3.py).
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
