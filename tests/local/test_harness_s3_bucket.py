"""The first end-to-end proof of the harness: a real module, the emulator, boto3 assertions."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT

PLAYBOOK = ROOT / "tests" / "local" / "harness_s3_bucket.yml"
BUCKET = "harness-private-bucket"


@pytest.fixture(scope="module")
def first_run(playbook):
    result = playbook(PLAYBOOK)
    assert result.ok, result.messages()
    return result


def test_first_run_creates_the_bucket(first_run):
    assert first_run.changed >= 1


def test_bucket_is_private_and_encrypted(first_run, aws):
    s3 = aws("s3")
    bpa = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert bpa == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    assert tags["ManagedBy"] == "ansible"


def test_second_run_changes_nothing(first_run, playbook):
    again = playbook(PLAYBOOK)
    assert again.ok, again.messages()
    assert again.changed == 0, again.changed_tasks()
