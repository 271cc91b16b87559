"""streamapp.hostconfig: the one mapping "provisioning outputs -> app settings", the environment
file it renders (for the app role and the boot unit alike), and the boot unit's run."""

from __future__ import annotations

import grp
import importlib.util
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from streamapp import hostconfig

from local.ansible import ROOT

OUTPUTS = {
    "region": "eu-west-1",
    "media_bucket": "stream-prod-media-123456789012",
    "sessions_table": "stream-prod-sessions",
    "transcode_queue_url": "https://sqs.eu-west-1.amazonaws.com/123456789012/stream-prod-transcode",
    "db_host": "stream-prod-db.abc.eu-west-1.rds.amazonaws.com",
    "db_port": 5432,
    "db_name": "streamapp",
    "db_app_secret_arn": (
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stream/prod/db-app-a1B2c3"
    ),
    "media_prefixes": {"sources": "sources/", "hls": "hls/", "thumbs": "thumbs/"},
    "cloudfront_domain": "d111111abcdef8.cloudfront.net",
    "cloudfront_key_pair_id": "K2JCJMDEHXQW5F",
    "cloudfront_signing_key_secret": "arn:aws:secretsmanager:eu-west-1:1:secret:cf-key-d4E5f6",
}


def spec(**changes: Any) -> dict[str, Any]:
    """What the role keeps on the host (roles/app/vars/main.yml: _app_hostconfig)."""
    return {
        "source": "ssm",
        "role": "web",
        "signing_mode": "cloudfront",
        "database_user": "streamapp_app_user",
        "env_file": "/etc/streamapp/streamapp.env",
        "group": "streamapp",
        "units": ["streamapp-api.service"],
        "base": {
            "STREAMAPP_AWS_REGION": "us-east-1",
            "STREAMAPP_AWS_ENDPOINT_URL": "",
            "STREAMAPP_DATABASE_URL": "postgresql+psycopg://streamapp@127.0.0.1:5432/streamapp",
            "STREAMAPP_DATABASE_PASSWORD": "inline-is-replaced",
            "STREAMAPP_DATABASE_SSLMODE": "verify-full",
            "STREAMAPP_DATABASE_SSLROOTCERT": "/etc/streamapp/database-ca.pem",
            "STREAMAPP_MEDIA_BUCKET": "",
            "STREAMAPP_LOG_LEVEL": "INFO",
        },
        "extra": {"STREAMAPP_LOG_LEVEL": "DEBUG", "STREAMAPP_WORKERS": 4},
    } | changes


def parse(content: str) -> dict[str, str]:
    lines = [line for line in content.splitlines() if line and not line.startswith("#")]
    return {k: json.loads(v) for k, v in (line.split("=", 1) for line in lines)}


def test_outputs_become_the_app_settings_with_secret_arns_only():
    settings = hostconfig.settings(spec(), OUTPUTS)
    assert settings == {
        "STREAMAPP_AWS_REGION": "eu-west-1",  # the outputs' region wins over the variable
        # The app's own login (its secret names the user too), over TLS checked against the
        # RDS CA bundle and the endpoint's name; never the master user.
        "STREAMAPP_DATABASE_URL": (
            "postgresql+psycopg://streamapp_app_user@stream-prod-db.abc.eu-west-1.rds.amazonaws.com"
            ":5432/streamapp"
        ),
        "STREAMAPP_DATABASE_PASSWORD_SECRET_ARN": OUTPUTS["db_app_secret_arn"],
        "STREAMAPP_DATABASE_SSLMODE": "verify-full",
        "STREAMAPP_DATABASE_SSLROOTCERT": "/etc/streamapp/database-ca.pem",
        "STREAMAPP_MEDIA_BUCKET": OUTPUTS["media_bucket"],
        "STREAMAPP_SESSIONS_TABLE": "stream-prod-sessions",
        "STREAMAPP_JOBS_QUEUE_URL": OUTPUTS["transcode_queue_url"],
        "STREAMAPP_SOURCE_PREFIX": "sources/",
        "STREAMAPP_HLS_PREFIX": "hls/",
        "STREAMAPP_THUMBS_PREFIX": "thumbs/",
        "STREAMAPP_CLOUDFRONT_DOMAIN": OUTPUTS["cloudfront_domain"],
        "STREAMAPP_CLOUDFRONT_KEY_PAIR_ID": "K2JCJMDEHXQW5F",
        "STREAMAPP_CLOUDFRONT_PRIVATE_KEY_SECRET_ARN": OUTPUTS["cloudfront_signing_key_secret"],
        # extra last: it overrides; empty values (the inline password, the endpoint) left out
        "STREAMAPP_LOG_LEVEL": "DEBUG",
        "STREAMAPP_WORKERS": "4",
    }


def test_local_signing_takes_no_cloudfront_setting_and_vars_mode_no_output():
    local = hostconfig.settings(spec(signing_mode="local"), OUTPUTS)
    assert not [k for k in local if "CLOUDFRONT" in k]
    assert hostconfig.settings(spec(source="vars"), OUTPUTS) == {
        "STREAMAPP_AWS_REGION": "us-east-1",
        "STREAMAPP_DATABASE_URL": "postgresql+psycopg://streamapp@127.0.0.1:5432/streamapp",
        "STREAMAPP_DATABASE_PASSWORD": "inline-is-replaced",
        "STREAMAPP_DATABASE_SSLMODE": "verify-full",
        "STREAMAPP_DATABASE_SSLROOTCERT": "/etc/streamapp/database-ca.pem",
        "STREAMAPP_LOG_LEVEL": "DEBUG",
        "STREAMAPP_WORKERS": "4",
    }


def test_missing_outputs_named():
    partial = {k: v for k, v in OUTPUTS.items() if k not in ("db_host", "cloudfront_domain")}
    assert hostconfig.missing_outputs(partial, "local") == ["db_host"]
    assert hostconfig.missing_outputs(partial, "cloudfront") == ["db_host", "cloudfront_domain"]


def test_env_file_is_sorted_json_quoted_and_read_back_by_the_app(tmp_path, monkeypatch):
    content = hostconfig.env_file(spec(extra={"STREAMAPP_X264_PRESET": 'a"b@x, é'}), OUTPUTS)
    keys = [line.split("=")[0] for line in content.splitlines() if not line.startswith("#")]
    assert keys == sorted(keys)
    assert 'STREAMAPP_X264_PRESET="a\\"b@x, é"' in content
    assert parse(content)["STREAMAPP_X264_PRESET"] == 'a"b@x, é'
    # The app reads the file as it is written (STREAMAPP_ENV_FILE, pydantic-settings).
    from streamapp.config import Settings

    path = tmp_path / "streamapp.env"
    path.write_text(content)
    for key in [k for k in os.environ if k.startswith("STREAMAPP_")]:
        monkeypatch.delenv(key)
    settings = Settings(_env_file=str(path))  # type: ignore[call-arg]
    assert settings.media_bucket == OUTPUTS["media_bucket"]
    assert settings.x264_preset == 'a"b@x, é'
    assert settings.cloudfront_private_key_secret_arn == OUTPUTS["cloudfront_signing_key_secret"]


def test_the_roles_filters_render_the_same_file_from_the_source_tree():
    """roles/app's filters load app/src/streamapp/hostconfig.py from app_source_dir: the role
    and the boot unit of the wheel it installs render one file."""
    path = ROOT / "roles" / "app" / "filter_plugins" / "streamapp_hostconfig.py"
    loaded = importlib.util.spec_from_file_location("role_filters", path)
    filters = importlib.util.module_from_spec(loaded)  # type: ignore[arg-type]
    loaded.loader.exec_module(filters)  # type: ignore[union-attr]
    plugin = filters.FilterModule().filters()
    source = str(ROOT / "app")
    assert plugin["streamapp_env_file"](spec(), source, OUTPUTS) == hostconfig.env_file(
        spec(), OUTPUTS
    )
    assert plugin["streamapp_missing_outputs"]({}, source, "local") == list(
        hostconfig.REQUIRED_OUTPUTS
    )


# --- The boot unit ------------------------------------------------------------------------------


@pytest.fixture
def host(tmp_path) -> dict[str, Path]:
    """host.json (as cloud-init writes it from the user data) and the role's spec."""
    group = grp.getgrgid(os.getgid()).gr_name
    env = tmp_path / "etc" / "streamapp.env"
    env.parent.mkdir()
    host_json = tmp_path / "host.json"
    host_json.write_text(
        json.dumps(
            {
                "platform": "stream",
                "environment": "prod",
                "role": "web",
                "region": "eu-west-1",
                "parameters": "/stream/prod",
            }
        )
    )
    spec_file = tmp_path / "hostconfig.json"
    spec_file.write_text(json.dumps(spec(env_file=str(env), group=group)))
    return {"host": host_json, "spec": spec_file, "env": env}


def test_boot_writes_the_file_once_and_restarts_only_on_a_change(host):
    reads, restarts = [], []

    def read(parameter: str, **kwargs: Any) -> dict[str, Any]:
        reads.append((parameter, kwargs))
        return OUTPUTS

    def boot() -> bool:
        return hostconfig.boot(
            host["host"], host["spec"], read=read, systemctl=restarts.append, log=lambda _: None
        )

    assert boot() is True
    assert reads == [("/stream/prod/outputs", {"region": "eu-west-1", "endpoint_url": None})]
    assert host["env"].read_text() == hostconfig.env_file(spec(), OUTPUTS)
    assert host["env"].stat().st_mode & 0o777 == 0o640
    assert restarts == [["try-restart", "--no-block", "streamapp-api.service"]]
    assert boot() is False  # unchanged: nothing written, nothing restarted
    assert len(restarts) == 1


def test_boot_refuses_an_image_of_another_role_and_missing_outputs(host):
    host["spec"].write_text(json.dumps(spec(role="worker", env_file=str(host["env"]))))
    with pytest.raises(SystemExit, match="configured for 'worker'"):
        hostconfig.boot(host["host"], host["spec"], read=lambda *a, **k: OUTPUTS)
    host["spec"].write_text(json.dumps(spec(env_file=str(host["env"]))))
    with pytest.raises(SystemExit, match=r"lacks \['db_host'\]"):
        hostconfig.boot(
            host["host"],
            host["spec"],
            read=lambda *a, **k: {k: v for k, v in OUTPUTS.items() if k != "db_host"},
        )
    assert not host["env"].exists()


def test_outputs_read_from_ssm(aws, emulator):
    """What the boot unit reads (streamapp-hostconfig boot), with the instance role on AWS."""
    name = f"/hostconfig-{uuid.uuid4().hex[:8]}/outputs"
    aws("ssm").put_parameter(Name=name, Value=json.dumps(OUTPUTS), Type="String")
    assert (
        hostconfig.read_outputs(name, region="eu-west-1", endpoint_url=emulator.endpoint) == OUTPUTS
    )


def test_the_api_and_the_worker_refuse_to_start_without_their_resources(monkeypatch):
    """No guessed bucket or table name: the API and the worker name what is missing."""
    from streamapp import worker
    from streamapp.app import create_app
    from streamapp.config import Settings, get_settings

    for name in ("STREAMAPP_MEDIA_BUCKET", "STREAMAPP_SESSIONS_TABLE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert (settings.media_bucket, settings.sessions_table) == ("", "")
    message = "STREAMAPP_MEDIA_BUCKET and STREAMAPP_SESSIONS_TABLE must be set"
    with pytest.raises(ValueError, match=message):
        create_app(settings, configure_logging=False)
    monkeypatch.delenv("STREAMAPP_ENV_FILE", raising=False)
    get_settings.cache_clear()
    try:
        with pytest.raises(ValueError, match=message):
            worker.main(["--exit-when-idle"])
    finally:
        get_settings.cache_clear()
