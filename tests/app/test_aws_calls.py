"""The app's AWS call recorder (STREAMAPP_AWS_CALL_LOG), which tests/app/conftest.py compares
with the IAM call table at the end of the session."""

from __future__ import annotations

import json

from streamapp import health
from streamapp.aws import reset_clients

from tests.app.conftest import make_settings


def test_each_operation_is_recorded_once_per_process(tmp_path, emulator, postgres, app_resources):
    log = tmp_path / "calls.jsonl"
    reset_clients()
    try:
        settings = make_settings(emulator, postgres, app_resources, aws_call_log=str(log))
        for _ in range(3):
            _ready, checks = health.readiness(settings)
            assert checks["s3"]["ok"] and checks["sqs"]["ok"] and checks["dynamodb"]["ok"], checks
    finally:
        reset_clients()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted((line["service"], line["operation"]) for line in lines) == [
        ("dynamodb", "DescribeTable"),
        ("s3", "ListObjectsV2"),  # the readiness probe lists under the HLS prefix, no HeadBucket
        ("sqs", "GetQueueAttributes"),
    ]
