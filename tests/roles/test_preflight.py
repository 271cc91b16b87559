"""Bad role variables fail in preflight, with a clear message, before any change.

Each case runs the role's argument-spec validation and preflight tasks (``--tags
<role>_preflight --check``) against the controller itself (connection local): nothing on the
machine can change, and the assertions prove the run stopped in preflight with the expected
message. A valid set of variables passes the same preflight, so the failures are the ones meant.
"""

from __future__ import annotations

import pytest

from local.ansible import ROOT, run_playbook

PLAYBOOK = ROOT / "tests" / "roles" / "preflight.yml"
SHA = "0" * 64
PLATFORM = {"platform_name": "stream", "platform_env": "test"}
SIGNED = {
    "nginx_signed_urls_enabled": True,
    "nginx_media_origin_url": "http://127.0.0.1:9000",
    "nginx_media_secure_link_secret": "a-long-enough-secret-123",
}

APP = {
    "app_media_bucket": "stream-test-media",
    "app_sessions_table": "stream-test-sessions",
    "app_jobs_queue_url": "http://127.0.0.1:5000/123456789012/stream-test-transcode",
    "app_signing_secret": "a-long-enough-secret-123",
}
# The provisioning outputs configure.yml reads from SSM (provision/resources/ssm_parameter.yml).
OUTPUTS = {
    "region": "eu-west-1",
    "media_bucket": "stream-test-media-123456789012",
    "media_prefixes": {"sources": "sources/", "hls": "hls/", "thumbs": "thumbs/"},
    "sessions_table": "stream-test-sessions",
    "transcode_queue_url": "https://sqs.eu-west-1.amazonaws.com/123456789012/stream-test-transcode",
    "db_host": "stream-test-db.example.eu-west-1.rds.amazonaws.com",
    "db_port": 5432,
    "db_name": "streamapp",
    "db_app_secret_arn": (
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stream-test/db-app-a1B2c3"
    ),
}
APP_SSM = {
    "app_settings_source": "ssm",
    "app_outputs": OUTPUTS,
    "app_signing_secret": "a-long-enough-secret-123",
    "app_database_admin_username": "streamapp",
    "app_database_admin_password": "the-master-password-0123",
}

VALID = {
    "common": {},
    "app": APP,
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
    ("nginx", {"nginx_real_ip_from": ["0.0.0.0/0"]}, "nginx_real_ip_from must list"),
    ("nginx", {"nginx_real_ip_from": ["the-alb"]}, "nginx_real_ip_from must list"),
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
    ("app", {**APP, "app_role": "database"}, "app_role must be one of"),
    ("app", {**APP, "app_settings_source": "consul"}, "app_settings_source must be one of"),
    ("app", {**APP, "app_api_port": "eighty"}, "app_api_port"),
    ("app", {**APP, "app_api_port": 70000}, "app_api_port a port"),
    # Removed (issue 16.6): an inventory that still sets it must not believe admins are made.
    ("app", {**APP, "app_admin_emails": ["a@example.com"]}, "app_admin_emails is gone"),
    ("app", {**APP, "app_user": "root"}, "unprivileged POSIX names"),
    ("app", {**APP, "app_worker_memory_max": "lots"}, "a size or a percentage"),
    ("app", {**APP, "app_ffmpeg_tasks_max": 256}, "below both units' tasks limits"),
    ("app", {**APP, "app_ffmpeg_memory_max": "all"}, "app_ffmpeg_memory_max a size"),
    ("app", {**APP, "app_media_bucket": ""}, "app_settings_source=vars needs app_media_bucket"),
    ("app", {**APP, "app_jobs_queue_url": "stream-queue"}, "app_jobs_queue_url as an http(s) URL"),
    ("app", {**APP, "app_database_url": "mysql://x/y"}, "app_database_url as postgresql"),
    (
        "app",
        {**APP, "app_signing_secret": "short"},
        "app_signing_mode=local needs app_signing_secret",
    ),
    (
        "app",
        {**APP, "app_signing_mode": "cloudfront"},
        "app_signing_mode=cloudfront with app_settings_source=vars needs",
    ),
    ("app", {**APP_SSM, "app_outputs": {}}, "needs app_outputs, the provisioning outputs"),
    (
        "app",
        {**APP_SSM, "app_outputs": {k: v for k, v in OUTPUTS.items() if k != "db_app_secret_arn"}},
        "with ['db_app_secret_arn']",
    ),
    ("app", {**APP, "app_env_extra": {"lower-case": "x"}}, "app_env_extra keys must be"),
    ("app", {**APP, "app_pip_index_url": "pypi.internal"}, "app_pip_index_url and"),
    ("app", {**APP, "app_home": "/opt/streamapp/"}, "absolute paths without trailing slash"),
    ("app", {**APP, "app_database_sslmode": "sometimes"}, "app_database_sslmode must be one of"),
    (
        "app",
        {**APP, "app_database_ca_bundle_url": ""},
        "app_database_sslmode verify-full needs app_database_ca_bundle_url",
    ),
    ("app", {**APP, "app_database_ca_bundle_sha256": "abc"}, "64 hex digits"),
    (
        "app",
        # On AWS the app's own login may not change the schema: no master user, no migration.
        {**APP_SSM, "app_database_admin_username": "", "app_database_admin_password": ""},
        "the migration step needs app_database_admin_username/password",
    ),
    (
        "app",
        {**APP, "app_database_admin_username": "streamapp_app_user"},
        "is none of those roles nor app_database_user",
    ),
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
        # No checksum is known for another version: it must come with its own.
        {**PLATFORM, "cloudwatch_agent_version": "1.300071.0b1720"},
        "cloudwatch_agent_package_sha256 the package's SHA-256",
    ),
    (
        "cloudwatch_agent",
        {**VALID["cloudwatch_agent"], "cloudwatch_agent_version": "latest"},
        "not 'latest'",
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


def test_app_ssm_variables_pass_preflight():
    result = _run("app", APP_SSM)
    assert result.ok, result.messages()
    assert result.changed == 0
