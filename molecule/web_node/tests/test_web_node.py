"""A web node: the roles together (each role's own scenario tests it in depth)."""

import json

import pytest


@pytest.mark.parametrize("service", ["nginx", "streamapp-api", "amazon-cloudwatch-agent"])
def test_services_running_and_enabled(host, service):
    assert host.service(service).is_running
    assert host.service(service).is_enabled


def test_app_readyz_through_nginx(get):
    # The real app: database, table, bucket and queue answer.
    resp = get("http://127.0.0.1/readyz")
    assert resp.status == 200, resp.body


def test_web_node_runs_no_worker(host):
    worker = host.service("streamapp-worker")
    assert not worker.is_running
    assert not worker.is_enabled


def test_playlist_served(get):
    resp = get("http://127.0.0.1/hls/demo/index.m3u8")
    assert resp.headers["content-type"] == "application/vnd.apple.mpegurl"


def test_agent_can_read_the_nginx_logs(host, get):
    get("http://127.0.0.1/readyz")
    line = host.check_output("runuser -u cwagent -- tail -n 1 /var/log/nginx/access-json.log")
    assert json.loads(line)["uri"] == "/readyz"


def test_secrets_modes(host):
    assert host.file("/etc/nginx/nginx.conf").mode == 0o600
    conf = host.file("/opt/aws/amazon-cloudwatch-agent/etc/streamstack.json")
    assert (conf.user, conf.group, conf.mode) == ("root", "cwagent", 0o640)


def test_service_user(host):
    assert host.user("streamstack").shell == "/usr/sbin/nologin"
    assert host.user("streamapp").shell == "/usr/sbin/nologin"


def test_app_env_file_mode(host):
    env = host.file("/etc/streamapp/streamapp.env")
    assert (env.user, env.group, env.mode) == ("root", "streamapp", 0o640)


def test_agent_can_read_the_app_log(host, get):
    get("http://127.0.0.1/readyz")
    line = host.check_output("runuser -u cwagent -- tail -n 1 /var/log/streamstack/app.log")
    assert json.loads(line)["level"]


def test_no_failed_units(host):
    assert host.check_output("systemctl --failed --no-legend --plain") == ""
