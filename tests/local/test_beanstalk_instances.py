"""The Elastic Beanstalk stand-in's instances (local/beanstalk/instances.py) without podman: the
source bundle of a version is fetched from its S3 location once, however many environments deploy
it at the same time (the web and worker environments launch side by side with one version)."""

from __future__ import annotations

import concurrent.futures
import io
import threading
import uuid
import zipfile

import pytest

from local.beanstalk.instances import Instances, Spec

pytestmark = pytest.mark.beanstalk


def test_environments_deploying_one_version_at_once_share_one_bundle(aws, emulator, tmp_path):
    suffix = uuid.uuid4().hex[:8]
    bucket, application, label = f"bundles-{suffix}", f"app-{suffix}", "v1"
    content = io.BytesIO()
    with zipfile.ZipFile(content, "w") as bundle:
        bundle.writestr("Procfile", "web: true\n")
    s3, eb = aws("s3"), aws("elasticbeanstalk")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=bucket, Key=f"{label}.zip", Body=content.getvalue())
    eb.create_application(ApplicationName=application)
    eb.create_application_version(
        ApplicationName=application,
        VersionLabel=label,
        SourceBundle={"S3Bucket": bucket, "S3Key": f"{label}.zip"},
    )
    spec = Spec(f"env-{suffix}", "e-0", application, "web", label, "arn:platform", {})
    instances = Instances(f"fleet-{suffix}", aws, emulator.endpoint, tmp_path)
    start = threading.Barrier(8)

    def fetch():
        start.wait()
        return instances.bundle(spec)

    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            paths = {f.result() for f in [pool.submit(fetch) for _ in range(8)]}
        (path,) = paths
        assert path.read_bytes() == content.getvalue()
        assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    finally:
        eb.delete_application(ApplicationName=application, TerminateEnvByForce=True)
        s3.delete_object(Bucket=bucket, Key=f"{label}.zip")
        s3.delete_bucket(Bucket=bucket)
