"""Bad role variables fail in preflight, with a clear message, before any change.

Each case runs the role's argument-spec validation and preflight tasks (``--tags
<role>_preflight --check``) against the controller itself (connection local): nothing on the
machine can change, and the assertions prove the run stopped in preflight with the expected
message. A valid set of variables passes the same preflight, so the failures are the ones meant.
"""

from __future__ import annotations

import pytest

from tests.harness.ansible import ROOT, run_playbook

PLAYBOOK = ROOT / "tests" / "roles" / "preflight.yml"
SHA = "0" * 64
PLATFORM = {"platform_name": "stream", "platform_env": "test"}
SIGNED = {
    "nginx_signed_urls_enabled": True,
    "nginx_media_origin_url": "http://127.0.0.1:9000",
    "nginx_media_secure_link_secret": "a-long-enough-secret-123",
}

VALID = {
    "common": {},
    "nginx": SIGNED,
    "ffmpeg": {},
    "cloudwatch_agent": {**PLATFORM, "cloudwatch_agent_package_sha256": SHA},
}

BAD = [
    # (role, variables, expected text in the failure)
    ("common", {"common_time_sync": "ntpd"}, "common_time_sync must be one of"),
    ("common", {"common_nofile_limit": "lots"}, "common_nofile_limit"),
    ("common", {"common_service_user": "root"}, "must be valid, unprivileged POSIX names"),
    ("common", {"common_sysctl_extra": {"not a key": 1}}, "not kernel parameters"),
    ("nginx", {"nginx_http_port": "eighty"}, "nginx_http_port"),
    ("nginx", {"nginx_error_log_level": "verbose"}, "nginx_error_log_level must be one of"),
    ("nginx", {"nginx_auth_rate_limit": "fast"}, "nginx_auth_rate_limit like 5r/s"),
    (
        "nginx",
        {**SIGNED, "nginx_media_secure_link_secret": ""},
        "needs nginx_media_secure_link_secret",
    ),
    (
        "nginx",
        {**SIGNED, "nginx_media_origin_url": "s3://bucket/"},
        "nginx_media_origin_url (an http(s) URL",
    ),
    ("nginx", {"nginx_tls_enabled": True}, "nginx_tls_enabled needs a certificate"),
    ("ffmpeg", {"ffmpeg_smoke_test_seconds": "long"}, "ffmpeg_smoke_test_seconds"),
    ("ffmpeg", {"ffmpeg_smoke_test_size": "big"}, "ffmpeg_smoke_test_size like 320x240"),
    ("ffmpeg", {"ffmpeg_required_encoders": {"x": 1}}, "ffmpeg_required_encoders"),
    (
        "cloudwatch_agent",
        {**VALID["cloudwatch_agent"], "cloudwatch_agent_mode": "lambda"},
        "cloudwatch_agent_mode must be one of",
    ),
    (
        "cloudwatch_agent",
        {**PLATFORM},
        "cloudwatch_agent_package_sha256 the package's SHA-256",
    ),
    (
        "cloudwatch_agent",
        {"cloudwatch_agent_package_sha256": SHA},
        # The spec validation itself stops here: the defaults name platform_name.
        "'platform_name' is undefined",
    ),
    (
        "cloudwatch_agent",
        {
            **VALID["cloudwatch_agent"],
            "cloudwatch_agent_log_files": [{"file_path": "/x.log", "log_group_name": ""}],
        },
        "invalid against amazon-cloudwatch-agent-schema.json",
    ),
    (
        "cloudwatch_agent",
        {**VALID["cloudwatch_agent"], "cloudwatch_agent_metrics_interval": 0},
        "metrics_collection_interval",
    ),
]


def _run(role: str, variables: dict):
    return run_playbook(
        PLAYBOOK,
        inventory="localhost,",
        extra_vars={"target_role": role, **variables},
        check=True,
        tags=f"{role}_preflight",
        timeout=300,
    )


@pytest.mark.parametrize("role", sorted(VALID))
def test_valid_variables_pass_preflight(role):
    result = _run(role, VALID[role])
    assert result.ok, result.messages()
    assert result.changed == 0


@pytest.mark.parametrize(
    ("role", "variables", "expected"),
    BAD,
    ids=[f"{role}-{next(iter(v))}-{i}" for i, (role, v, _) in enumerate(BAD)],
)
def test_bad_variables_fail_in_preflight(role, variables, expected):
    result = _run(role, variables)
    assert not result.ok, f"{role} accepted {variables}"
    assert result.changed == 0, result.changed_tasks()
    failed = result.failed_tasks()
    assert len(failed) == 1, result.messages()
    task = failed[0]
    assert (
        "Validating arguments against arg spec" in task
        or "Assert" in task
        or ("Validate the agent configuration" in task)
    ), task
    assert expected in result.messages(), result.messages()
