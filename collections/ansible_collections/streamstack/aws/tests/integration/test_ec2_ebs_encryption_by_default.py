"""streamstack.aws.ec2_ebs_encryption_by_default against the emulator, in one playbook run
(playbooks/ec2_ebs_encryption_by_default.yml) in a region of its own: --check changes nothing,
on, on again unchanged, --check of off reports the change and applies nothing, off. The
outcome is asserted with boto3."""

from __future__ import annotations

from pathlib import Path

PLAYBOOK = Path(__file__).resolve().parent / "playbooks" / "ec2_ebs_encryption_by_default.yml"
REGION = "ap-southeast-2"


def test_lifecycle(playbook, aws):
    ec2 = aws("ec2", region=REGION)
    assert ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is False
    result = playbook(PLAYBOOK, extra_vars={"ebs_region": REGION}, diff=True)
    assert result.ok, result.messages()
    step = {name: res for name, _host, res in result.task_results()}
    changed = {name for name, res in step.items() if res.get("changed")}
    assert changed == {"Plan on", "On", "Plan off", "Off"}
    assert step["Plan on"]["enabled"] is False  # the check applied nothing
    assert step["Plan on"]["diff"] == {"before": {"enabled": False}, "after": {"enabled": True}}
    assert (step["On"]["enabled"], step["On again"]["enabled"]) == (True, True)
    assert step["Plan off"]["enabled"] is True
    assert step["Off"]["enabled"] is False
    assert ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is False
