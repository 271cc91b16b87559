"""The local STAND-IN for Elastic Beanstalk's Python platform (local/beanstalk/) runs the source
bundle `make bundle` builds (playbooks/bundle.yml), registered as an application version in the
emulator: a web and a worker environment's instance each, deployed by the stand-in engine
(bundle under /var/app/current, the prebuild hook, the bundle's nginx configuration, the
Procfile's web process behind nginx), with the environments' properties and the instance
role's credentials from the emulated instance's metadata. A video uploaded through the web
instance's nginx is transcoded by the worker instance: its SQS daemon stand-in receives the job
from the queue and POSTs it to the app, which runs the real ffmpeg, and deletes it on the 200.
Each instance's postdeploy hook hands its tier's log files to the platform's CloudWatch agent.

Podman: run under the podman lock (HELPER_RULES). About 3 minutes (image cached)."""

from __future__ import annotations

import concurrent.futures
import json
import os
import time
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from local.beanstalk import image as standin_image
from local.beanstalk.instances import DATABASE_CA, Host, Instances, Spec
from local.hosts import image as hostimage
from local.hosts.fleet import CONTROLLER_ADDRESS, podman
from local.postgres import Postgres
from tests.app.conftest import (  # noqa: F401 - the app's fixtures, shared
    APP_DB_PASSWORD,
    APP_DB_USER,
    AppResources,
    Media,
    app,
    app_resources,
    client,
    media,
    settings,
    uploader,
)
from tests.conftest import ROOT

pytestmark = [pytest.mark.podman, pytest.mark.beanstalk, pytest.mark.slow]

FLEET = f"eb-standin-{uuid.uuid4().hex[:6]}"
SQSD_PATH = "/internal/sqsd/jobs"


@pytest.fixture(scope="module")
def bundle(playbook, tmp_path_factory) -> dict[str, Any]:
    """`make bundle`'s playbook, as provisioning runs it."""
    out = tmp_path_factory.mktemp("bundle")
    result = playbook(
        ROOT / "playbooks" / "bundle.yml",
        inventory=ROOT / "inventories" / "local",
        extra_vars={"beanstalk_bundle_dir": str(out)},
    )
    assert result.ok, result.messages()
    (path,) = out.glob("streamapp-*.zip")
    return {"path": path, "label": path.stem}


@pytest.fixture(scope="module")
def environments(
    aws,
    bundle,
    app_resources: AppResources,  # noqa: F811
    settings,  # noqa: F811
) -> dict[str, Spec]:
    """The application, its version from the bundle in S3, and a web and a worker environment
    with the app's settings as environment properties (what provisioning writes, in short)."""
    name = FLEET
    eb, s3, iam = aws("elasticbeanstalk"), aws("s3"), aws("iam")
    bucket = f"{name}-bundles"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.upload_file(str(bundle["path"]), bucket, f"{bundle['label']}.zip")
    eb.create_application(ApplicationName=name)
    eb.create_application_version(
        ApplicationName=name,
        VersionLabel=bundle["label"],
        SourceBundle={"S3Bucket": bucket, "S3Key": f"{bundle['label']}.zip"},
    )
    iam.create_role(RoleName=f"{name}-instance", AssumeRolePolicyDocument="{}")
    iam.create_instance_profile(InstanceProfileName=f"{name}-instance")
    iam.add_role_to_instance_profile(
        InstanceProfileName=f"{name}-instance", RoleName=f"{name}-instance"
    )
    # The emulator checks the instance role's policy (the tiers' real policies are
    # tests/playbooks/test_iam_policies.py's): here the app's services, on the test's resources.
    iam.put_role_policy(
        RoleName=f"{name}-instance",
        PolicyName="app",
        PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sqs:*", "dynamodb:*"],
                           "Resource": "*"}],
        }),
    )  # fmt: skip
    properties = {
        "STREAMAPP_AWS_REGION": settings.aws_region,
        "STREAMAPP_DATABASE_URL": "postgresql+psycopg://placeholder@db.invalid:5432/streamapp",
        "STREAMAPP_DATABASE_SSLMODE": "verify-full",
        "STREAMAPP_DATABASE_SSLROOTCERT": DATABASE_CA,
        "STREAMAPP_MEDIA_BUCKET": app_resources.bucket,
        "STREAMAPP_SESSIONS_TABLE": app_resources.table,
        "STREAMAPP_JOBS_QUEUE_URL": app_resources.queue_url,
        "STREAMAPP_SIGNING_MODE": "local",
        "STREAMAPP_SIGNING_SECRET": settings.signing_secret,
        "STREAMAPP_PUBLIC_MEDIA_BASE_URL": settings.public_media_base_url,
        "STREAMAPP_VIDEO_RUNGS": settings.video_rungs,
        "STREAMAPP_AUDIO_RUNGS": settings.audio_rungs,
        "STREAMAPP_HLS_SEGMENT_SECONDS": str(settings.hls_segment_seconds),
        "STREAMAPP_MAX_UPLOAD_BYTES": str(settings.max_upload_bytes),
        "STREAMAPP_SESSION_COOKIE_SECURE": "false",
    }
    common = [
        ("aws:autoscaling:launchconfiguration", "IamInstanceProfile", f"{name}-instance"),
        ("aws:elasticbeanstalk:environment", "EnvironmentType", "SingleInstance"),
    ]
    tiers = {
        "web": ({"Name": "WebServer", "Type": "Standard"}, [
            ("aws:elasticbeanstalk:environment:process:default", "HealthCheckPath", "/healthz"),
        ]),
        "worker": ({"Name": "Worker", "Type": "SQS/HTTP"}, [
            ("aws:elasticbeanstalk:sqsd", "WorkerQueueURL", app_resources.queue_url),
            ("aws:elasticbeanstalk:sqsd", "HttpPath", SQSD_PATH),
            ("aws:elasticbeanstalk:sqsd", "HttpConnections", "1"),
            ("aws:elasticbeanstalk:sqsd", "ErrorVisibilityTimeout", "1"),
            ("aws:elasticbeanstalk:application:environment", "STREAMAPP_SQSD_PATH", SQSD_PATH),
        ]),
    }  # fmt: skip
    specs = {}
    for tier, (kind, own) in tiers.items():
        options = [*common, *own] + [
            ("aws:elasticbeanstalk:application:environment", k, v)
            for k, v in {**properties, "STREAMSTACK_TIER": tier}.items()
        ]
        eb.create_environment(
            ApplicationName=name,
            EnvironmentName=f"{name}-{tier}",
            Tier=kind,
            SolutionStackName=_python_stack(eb),
            VersionLabel=bundle["label"],
            OptionSettings=[{"Namespace": ns, "OptionName": o, "Value": v} for ns, o, v in options],
        )
    deadline = time.monotonic() + 60
    for tier in tiers:
        while (
            eb.describe_environments(EnvironmentNames=[f"{name}-{tier}"])["Environments"][0][
                "Status"
            ]
            != "Ready"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.5)
        specs[tier] = Spec.of_environment(aws, f"{name}-{tier}")
    return specs


def _python_stack(eb) -> str:
    stacks = eb.list_available_solution_stacks()["SolutionStacks"]
    return sorted(s for s in stacks if "Amazon Linux 2023" in s and "Python" in s)[-1]


@pytest.fixture(scope="module")
def instances(
    emulator, aws, postgres: Postgres, environments: dict[str, Spec], tmp_path_factory
) -> Iterator[dict[str, Host]]:
    """One stand-in instance per environment, launched and deployed side by side."""
    os.environ.update(hostimage.env())
    built = standin_image.build()
    print(f"stand-in image: {built}")
    # The instances verify the database under the controller's address, against its CA.
    postgres.tls_names(CONTROLLER_ADDRESS)
    platform = Instances(
        FLEET, aws, emulator.endpoint, tmp_path_factory.mktemp("standin"), log=print,
        database_ca=postgres.ca_file,
    )  # fmt: skip
    # What differs locally: the database is the controller's PostgreSQL (the RDS endpoint the
    # properties name serves nothing), with the app's login.
    overlay = {
        "STREAMAPP_DATABASE_URL": (
            f"postgresql+psycopg://{APP_DB_USER}@{CONTROLLER_ADDRESS}:{postgres.port}/streamapp"
        ),
        "STREAMAPP_DATABASE_PASSWORD": APP_DB_PASSWORD,
    }
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = {t: pool.submit(platform.launch, s, overlay) for t, s in environments.items()}
        hosts = {t: f.result() for t, f in futures.items()}
    print(f"both instances deployed in {time.monotonic() - started:.0f} s")
    try:
        for tier, host in hosts.items():
            try:
                platform.healthy(host, environments[tier].health_check_path, timeout=90)
            except TimeoutError:
                journal = _exec(host, "journalctl", "--no-pager", "-n", "80")
                pytest.fail(f"{host.name} not healthy:\n{journal}")
        yield hosts
    finally:
        for host in hosts.values():
            platform.remove(host)


def _exec(host: Host, *argv: str) -> str:
    return podman("exec", host.name, *argv, check=True).stdout


def test_the_web_instance_serves_the_bundle_behind_nginx(instances, bundle, environments):
    web = instances["web"]
    # The bundle under the platform's layout, the Procfile's web process behind nginx.
    procfile = _exec(web, "cat", "/var/app/current/Procfile")
    assert procfile == zipfile.ZipFile(bundle["path"]).read("Procfile").decode()
    assert _exec(web, "systemctl", "is-active", "web.service", "nginx.service").split() == [
        "active",
        "active",
    ]
    # The bundle's .platform/nginx in the platform's http block; its prebuild hook ran.
    assert "client_max_body_size" in _exec(web, "cat", "/etc/nginx/conf.d/streamapp.conf")
    engine_log = _exec(web, "cat", "/var/log/eb-engine.log")
    assert "running hook prebuild/01_ffmpeg.sh" in engine_log
    # The database's CA where the app's verify-full reads it (the hook checked it is there).
    assert "running hook prebuild/02_database_ca.sh" in engine_log
    assert "BEGIN CERTIFICATE" in _exec(web, "cat", DATABASE_CA)
    # The app answers through the instance's nginx on port 80, with the database reached
    # (verify-full: the server's certificate from that CA, naming the address connected to).
    base = f"http://127.0.0.1:{web.port}"
    assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
    ready = httpx.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 200, (
        ready.text
        + _exec(web, "tail", "-n", "60", "/var/log/web.stdout.log")
        + _exec(web, "systemctl", "show-environment")
    )
    assert httpx.get(f"{base}/", timeout=10).headers.get("server", "").startswith("nginx")
    # The web tier has no daemon route (STREAMAPP_SQSD_PATH is the worker's property only).
    assert httpx.post(f"{base}{SQSD_PATH}", timeout=10).status_code in (404, 405)
    # The properties are the environment's: nothing else set them.
    env = dict(
        line.split("=", 1)
        for line in _exec(web, "cat", "/opt/elasticbeanstalk/deployment/env").splitlines()
    )
    assert env["STREAMAPP_MEDIA_BUCKET"] == environments["web"].properties["STREAMAPP_MEDIA_BUCKET"]
    _assert_logs_shipped_to_our_groups(web, "web", bundle)
    # The app's JSON log lines in the platform's log of the web process.
    assert '"logger"' in _exec(web, "tail", "-n", "20", "/var/log/web.stdout.log")


def _assert_logs_shipped_to_our_groups(host: Host, tier: str, bundle: dict[str, Any]) -> None:
    """The postdeploy hook appended the tier's configuration to the platform's CloudWatch agent
    (the hosts' stand-in package: it ships nothing) and started it; every file it lists is one
    the platform writes."""
    assert "running hook postdeploy/01_cloudwatch_logs.sh" in _exec(
        host, "cat", "/var/log/eb-engine.log"
    )
    agent = "/opt/aws/amazon-cloudwatch-agent"
    appended = json.loads(
        _exec(host, "cat", f"{agent}/etc/amazon-cloudwatch-agent.d/file_streamstack-logs.json")
    )
    expected = json.loads(
        zipfile.ZipFile(bundle["path"]).read(f".platform/cloudwatch-agent/{tier}.json")
    )
    assert appended == expected
    calls = [
        json.loads(line)["argv"]
        for line in _exec(host, "cat", f"{agent}/logs/standin-ctl-invocations.jsonl").splitlines()
    ]
    # Appended and started, then checked running (the hook's status look).
    append = ["-a", "append-config", "-m", "ec2", "-c", f"file:{agent}/etc/streamstack-logs.json"]
    assert calls[0] == [*append, "-s"], calls
    assert calls[-1] == ["-a", "status"], calls
    assert _exec(host, "systemctl", "is-active", "amazon-cloudwatch-agent").strip() == "active"
    files = [f["file_path"] for f in appended["logs"]["logs_collected"]["files"]["collect_list"]]
    missing = podman("exec", host.name, "ls", *files, check=False)
    assert missing.returncode == 0, missing.stderr


def test_the_worker_daemon_delivers_the_job_and_the_app_transcodes_it(
    instances,
    client: TestClient,  # noqa: F811
    uploader: dict[str, str],  # noqa: F811
    media: Media,  # noqa: F811
    aws,
    app_resources: AppResources,  # noqa: F811
    bundle,
):
    web, worker = instances["web"], instances["worker"]
    base = f"http://127.0.0.1:{web.port}"
    with media.video.open("rb") as fh:
        created = httpx.post(
            f"{base}/api/items",
            headers=uploader,
            files={"file": ("video.mp4", fh, "video/mp4")},
            data={"title": "Through the stand-in"},
            timeout=60,
        )
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]
    deadline, item = time.monotonic() + 180, {}
    while time.monotonic() < deadline:
        item = httpx.get(f"{base}/api/items/{item_id}", headers=uploader, timeout=10).json()
        if item["status"] in ("ready", "failed"):
            break
        time.sleep(1)
    journal = podman(
        "exec", worker.name, "tail", "-n", "200",
        "/var/log/aws-sqsd/default.log", "/var/log/web.stdout.log", check=False,
    )  # fmt: skip
    assert item.get("status") == "ready", f"{item}\n{journal.stdout[-5000:]}{journal.stderr}"
    assert item["renditions"], item
    assert ": 200, deleted" in journal.stdout, journal.stdout[-2000:] + journal.stderr
    _assert_logs_shipped_to_our_groups(worker, "worker", bundle)
    # The playlists the worker's ffmpeg wrote are in the bucket.
    keys = [
        o["Key"]
        for page in aws("s3").get_paginator("list_objects_v2").paginate(Bucket=app_resources.bucket)
        for o in page.get("Contents", [])
    ]
    assert any(item_id in k and k.endswith("master.m3u8") for k in keys), keys
    # Nothing left in the queue (deleted on the 200).
    attributes = aws("sqs").get_queue_attributes(
        QueueUrl=app_resources.queue_url, AttributeNames=["All"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0", json.dumps(attributes)
