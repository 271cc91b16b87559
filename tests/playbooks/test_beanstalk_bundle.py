"""`make bundle` (playbooks/bundle.yml, scripts/beanstalk_bundle.py): the app as an Elastic
Beanstalk source bundle carrying the inventory's settings, the same bytes (and label) on a
second run, ffmpeg's download refused without its checksum, log files only to the tier's own
groups. No emulator: a build only."""

from __future__ import annotations

import json
import subprocess
import zipfile

import pytest
import yaml

from local.ansible import run_playbook
from tests.conftest import ROOT

pytestmark = pytest.mark.beanstalk

PLAYBOOK = ROOT / "playbooks" / "bundle.yml"
INVENTORY = ROOT / "inventories" / "local"
SHA256 = "0" * 64  # stands for the publisher's checksum: the hook is only rendered here


def test_bundle(tmp_path):
    def build(**extra):
        result = run_playbook(
            PLAYBOOK,
            inventory=INVENTORY,
            extra_vars={"beanstalk_bundle_dir": str(tmp_path), **extra},
        )
        return result, {name: res for name, _host, res in result.task_results()}

    ffmpeg = {"beanstalk_ffmpeg_url": "https://example.test/ffmpeg-7.0.2.tar.xz"}
    result, tasks = build(**ffmpeg)
    assert not result.ok
    assert (
        "beanstalk_ffmpeg_sha256 must be the SHA-256"
        in tasks["Bundle | Check the ffmpeg and database CA settings"]["msg"]
    )

    ca = {
        "beanstalk_database_ca_bundle_url": "https://truststore.example.test/global-bundle.pem",
        "beanstalk_database_ca_bundle_sha256": SHA256,
    }
    plain = "http://truststore.example.test/ca.pem"
    for bad in ({"beanstalk_database_ca_bundle_sha256": "abc"},
                {"beanstalk_database_ca_bundle_url": plain}):  # fmt: skip
        result, tasks = build(**ffmpeg, beanstalk_ffmpeg_sha256=SHA256, **ca | bad)
        assert not result.ok, bad
        assert "beanstalk_database_ca_bundle_url an https:// URL" in result.messages()

    # The log files: a tier may ship only to the groups its instance role may write, and what the
    # agent's schema refuses stops the build (not the deployment).
    groups = {"nginx": "/stream/local/nginx", "app": "/stream/local/app",
              "worker": "/stream/local/worker"}  # fmt: skip
    good = {"file_path": "/var/log/web.stdout.log", "log_group_name": groups["worker"]}
    for logs, message in (
        ({"web": [good], "worker": [good]}, "nginx or app for web, worker for worker"),
        ({"web": [], "worker": [good | {"file_path": "web.stdout.log"}]}, "an absolute file_path"),
        ({"web": [], "worker": [good | {"retention_in_days": 4}]},
         "worker.json: logs/logs_collected/files/collect_list/0/retention_in_days: 4 is not"),
    ):  # fmt: skip
        result, tasks = build(**ffmpeg, beanstalk_ffmpeg_sha256=SHA256, **ca,
                              beanstalk_log_files=logs)  # fmt: skip
        assert not result.ok, logs
        zipped = tasks.get("Bundle | The app's wheel, its pinned requirements, the zip", {})
        assert message in result.messages() + zipped.get("stderr", ""), result.messages()

    result, tasks = build(**ffmpeg, beanstalk_ffmpeg_sha256=SHA256, **ca)
    assert result.ok, result.messages()
    first = tasks["Bundle | The bundle"]["beanstalk_bundle"]
    assert tasks["Bundle | The app's wheel, its pinned requirements, the zip"]["changed"]
    assert first["label"].startswith("streamapp-0.1.0-")

    bundle = zipfile.ZipFile(first["path"])
    modes = {i.filename: i.external_attr >> 16 & 0o777 for i in bundle.infolist()}
    # Hooks run only when executable; the platform installs requirements.txt and runs the Procfile.
    assert modes[".platform/hooks/prebuild/01_ffmpeg.sh"] == 0o755
    assert modes[".platform/confighooks/prebuild/01_ffmpeg.sh"] == 0o755
    assert (
        bundle.read("Procfile")
        .decode()
        .startswith("web: gunicorn streamapp.asgi:app --worker-class uvicorn.workers.UvicornWorker")
    )
    requirements = bundle.read("requirements.txt").decode().splitlines()
    lock = {
        line.lower().replace("_", "-") for line in (ROOT / "requirements.txt").read_text().split()
    }
    pins = requirements[1:-1]
    assert {"fastapi==0.165.0", "gunicorn==27.0.1", "psycopg-binary==3.3.9"} <= set(pins)
    assert set(pins) <= lock  # every pin is the lock's version
    wheel = requirements[-1]
    assert wheel.startswith("wheels/streamapp-0.1.0-") and wheel in bundle.namelist()
    assert not any(p.startswith(("pytest", "moto", "ansible")) for p in pins)  # the app's only
    nginx = bundle.read(".platform/nginx/conf.d/streamapp.conf").decode()
    # The inventory's upload limit, plus 1 MiB for the form (group_vars/all/compute.yml).
    compute = yaml.safe_load((ROOT / "group_vars" / "all" / "compute.yml").read_text())
    assert f"client_max_body_size {compute['upload_max_bytes'] + 1048576};" in nginx
    # The worker daemon's route waits for the transcode (the queue's visibility timeout), in
    # the platform's server block; the rest keeps the proxy's own timeout.
    data = yaml.safe_load((ROOT / "group_vars" / "all" / "data.yml").read_text())
    sqsd = bundle.read(".platform/nginx/conf.d/elasticbeanstalk/10_sqsd.conf").decode()
    assert "location = /internal/sqsd/jobs {" in sqsd
    assert f"proxy_read_timeout  {data['transcode_queue_visibility_timeout']}s;" in sqsd
    assert "proxy_read_timeout 60s;" in nginx
    hook = bundle.read(".platform/hooks/prebuild/01_ffmpeg.sh").decode()
    assert f'echo "{SHA256}  $work/ffmpeg.tar.xz" | sha256sum --check --strict -' in hook
    assert 'version="7.0.2"' in hook
    subprocess.run(["bash", "-n"], input=hook, text=True, check=True)
    # The database's CA bundle for verify-full, checksum-checked, on deployments and
    # configuration deployments alike.
    assert modes[".platform/hooks/prebuild/02_database_ca.sh"] == 0o755
    assert modes[".platform/confighooks/prebuild/02_database_ca.sh"] == 0o755
    ca_hook = bundle.read(".platform/hooks/prebuild/02_database_ca.sh").decode()
    assert '"https://truststore.example.test/global-bundle.pem"' in ca_hook
    assert f'echo "{SHA256}  $work/ca.pem" | sha256sum --check --strict -' in ca_hook
    assert 'ca="/etc/pki/streamstack/database-ca.pem"' in ca_hook
    subprocess.run(["bash", "-n"], input=ca_hook, text=True, check=True)
    # The logs to our groups: each tier's list for the platform's CloudWatch agent, appended by
    # a postdeploy hook on deployments and configuration deployments alike.
    web = json.loads(bundle.read(".platform/cloudwatch-agent/web.json"))
    worker = json.loads(bundle.read(".platform/cloudwatch-agent/worker.json"))
    assert set(web) == set(worker) == {"logs"}  # the platform's own agent settings stay its own
    shipped = {
        tier: {(f["file_path"], f["log_group_name"], f["log_stream_name"])
               for f in config["logs"]["logs_collected"]["files"]["collect_list"]}
        for tier, config in (("web", web), ("worker", worker))
    }  # fmt: skip
    assert ("/var/log/web.stdout.log", groups["app"], "{instance_id}") in shipped["web"]
    assert ("/var/log/nginx/access.log", groups["nginx"], "{instance_id}/access") in shipped["web"]
    assert ("/var/log/web.stdout.log", groups["worker"], "{instance_id}") in shipped["worker"]
    assert {g for _f, g, _s in shipped["worker"]} == {groups["worker"]}
    for kind in ("hooks", "confighooks"):
        assert modes[f".platform/{kind}/postdeploy/01_cloudwatch_logs.sh"] == 0o755
    logs_hook = bundle.read(".platform/hooks/postdeploy/01_cloudwatch_logs.sh").decode()
    assert "get-config environment -k STREAMSTACK_TIER" in logs_hook
    assert '"$ctl" -a append-config -m ec2 -c "file:$config" -s' in logs_hook
    subprocess.run(["bash", "-n"], input=logs_hook, text=True, check=True)

    result, tasks = build(**ffmpeg, beanstalk_ffmpeg_sha256=SHA256, **ca)
    assert result.ok, result.messages()
    assert tasks["Bundle | The bundle"]["beanstalk_bundle"]["label"] == first["label"]
    assert result.stats["localhost"]["changed"] == 0
