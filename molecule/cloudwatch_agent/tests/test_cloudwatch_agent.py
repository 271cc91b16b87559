"""cloudwatch_agent, tested with a STAND-IN package.

The official agent .deb cannot be downloaded here, so prepare.yml builds a stand-in with
dpkg-deb (same package name and paths; its amazon-cloudwatch-agent-ctl checks the configuration
and records each call; its daemon only stays up) and serves it from a local HTTP server inside
the container. These tests prove the role's download + checksum + install + configure + start
logic and the configuration itself, which is validated against the agent's real JSON schema.
"""

import json
from pathlib import Path

import jsonschema
import pytest

HOME = "/opt/aws/amazon-cloudwatch-agent"
CONFIG = f"{HOME}/etc/streamstack.json"
SCHEMA = (
    Path(__file__).resolve().parents[3]
    / "roles/cloudwatch_agent/files/amazon-cloudwatch-agent-schema.json"
)


@pytest.fixture(scope="module")
def config(host):
    return json.loads(host.file(CONFIG).content_string)


def test_package_installed_from_the_local_server(host):
    pkg = host.package("amazon-cloudwatch-agent")
    assert pkg.is_installed
    assert pkg.version == "0.0.0-streamstack-standin"
    assert host.file("/var/cache/amazon-cloudwatch-agent/amazon-cloudwatch-agent.deb").exists


def test_agent_running_and_enabled(host):
    service = host.service("amazon-cloudwatch-agent")
    assert service.is_running
    assert service.is_enabled


def test_config_valid_against_the_agents_schema(config):
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft4Validator(schema)
    assert [e.message for e in validator.iter_errors(config)] == []


def test_schema_rejects_a_broken_config(config):
    """The schema copy is strict enough to matter: a wrong type is caught."""
    broken = json.loads(json.dumps(config))
    broken["agent"]["metrics_collection_interval"] = "often"
    validator = jsonschema.Draft4Validator(json.loads(SCHEMA.read_text()))
    assert list(validator.iter_errors(broken))


def test_config_file_mode(host):
    conf = host.file(CONFIG)
    assert (conf.user, conf.group, conf.mode) == ("root", "cwagent", 0o640)


def test_log_groups(config):
    files = config["logs"]["logs_collected"]["files"]["collect_list"]
    groups = {entry["file_path"]: entry["log_group_name"] for entry in files}
    assert groups == {
        "/var/log/nginx/access-json.log": "/stream/test/nginx",
        "/var/log/nginx/error.log": "/stream/test/nginx",
        "/var/log/streamstack/app.log": "/stream/test/app",
        "/var/log/streamstack/worker.log": "/stream/test/worker",
    }
    assert {entry["retention_in_days"] for entry in files} == {30}


def test_metrics(config):
    collected = config["metrics"]["metrics_collected"]
    assert {"cpu", "mem", "disk", "statsd"} <= collected.keys()
    assert collected["statsd"]["service_address"] == "127.0.0.1:8125"
    assert config["metrics"]["namespace"] == "StreamStack/stream-test"


def test_started_with_fetch_config(host):
    lines = host.file(f"{HOME}/logs/standin-ctl-invocations.jsonl").content_string.splitlines()
    calls = [json.loads(line)["argv"] for line in lines]
    assert ["-a", "fetch-config", "-m", "ec2", "-c", f"file:{CONFIG}", "-s"] in calls
    loaded = host.file(f"{HOME}/etc/amazon-cloudwatch-agent.d/file_streamstack.json")
    assert json.loads(loaded.content_string) == json.loads(host.file(CONFIG).content_string)


def test_agent_user_reads_nginx_logs(host):
    assert "adm" in host.user("cwagent").groups
