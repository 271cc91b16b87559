"""streamstack.aws.ec2_vpc_flow_log against the emulator, in two playbook runs (one task per
step; playbooks/ec2_vpc_flow_log.yml): a VPC's flow log into an S3 bucket under a prefix;
--check, create, run again, --check of a change, the change (a new flow log replaces the old
one, which AWS cannot modify), tags in place, another destination left alone; then delete,
delete again, delete every flow log of the VPC. The outcome is asserted with boto3."""

from __future__ import annotations

import uuid
from pathlib import Path

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"

PLAYBOOK = PLAYBOOKS / "ec2_vpc_flow_log.yml"


def test_lifecycle(playbook, aws):
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.94.0.0/16")["Vpc"]["VpcId"]
    bucket = f"fl-{uuid.uuid4().hex[:8]}"
    aws("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    ours, other = f"arn:aws:s3:::{bucket}/vpc-flow-logs", f"arn:aws:s3:::{bucket}/other"

    def run(stage):
        result = playbook(
            PLAYBOOK,
            extra_vars={
                "fl_stage": stage,
                "fl_vpc": vpc,
                "fl_destination": ours,
                "fl_other_destination": other,
            },
            diff=True,
        )
        assert result.ok, result.messages()
        return {name: res for name, _host, res in result.task_results()}

    def flow_logs():
        found = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])
        return {f["LogDestination"]: f for f in found["FlowLogs"]}

    step = run("present")
    changed = {name for name, res in step.items() if res.get("changed")}
    assert changed == {"Plan", "Create", "Plan a change", "Change", "Retag", "Another destination"}
    assert step["Plan"]["flow_log"] == {}
    created = step["Create"]["flow_log"]["flow_log_id"]
    assert step["Plan a change"]["diff"]["after"]["traffic_type"] == "REJECT"
    # The change replaced the flow log (the check before it did not), and the retag kept it.
    assert step["Change"]["replaced"] == created
    replacement = step["Change"]["flow_log"]["flow_log_id"]
    assert replacement != created
    live = flow_logs()
    assert set(live) == {ours, other}
    assert live[ours]["FlowLogId"] == replacement
    assert (live[ours]["TrafficType"], live[ours]["LogDestinationType"]) == ("REJECT", "s3")
    assert {t["Key"]: t["Value"] for t in live[ours]["Tags"]} == {"Owner": "ops"}

    step = run("absent")
    changed = {name for name, res in step.items() if res.get("changed")}
    assert changed == {"Delete", "Delete every flow log of the VPC to S3"}
    assert list(step["Delete"]["diff"]["before"]) == [replacement]
    # Only the other destination's flow log was left for the task without a destination.
    assert list(step["Delete every flow log of the VPC to S3"]["diff"]["before"]) == [
        live[other]["FlowLogId"]
    ]
    assert flow_logs() == {}
