"""A real nginx implementing the local signed-URL contract (app/README.md), for tests.

The configuration below is the contract's reference implementation: the nginx role renders the
same two locations (with its own origin and secret).
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

CONTRACT_LOCATIONS = r"""
    # HLS: token and expiry in the path, signed over the item's prefix (hls/<item id>), so the
    # relative rung-playlist and segment URLs inside the master playlist carry them too.
    location ~ "^/media/s/(?<sl_token>[A-Za-z0-9_-]{22})/(?<sl_expires>[0-9]{1,12})/(?<hls_prefix>hls/[0-9a-f-]{36})/(?<hls_path>[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)?)$" {
        secure_link $sl_token,$sl_expires;
        secure_link_md5 "$secure_link_expires$hls_prefix $secure_link_secret";
        if ($secure_link = "") { return 403; }   # bad or missing token
        if ($secure_link = "0") { return 403; }  # expired
        proxy_pass ORIGIN/$hls_prefix/$hls_path;
    }
    location ~ ^/media/s/ { return 403; }  # anything else under the signed-HLS tree

    # One object: /media/<key>?expires=<epoch>&md5=<token>, signed over the whole path.
    location /media/ {
        secure_link $arg_md5,$arg_expires;
        secure_link_md5 "$secure_link_expires$uri $secure_link_secret";
        if ($secure_link = "") { return 403; }
        if ($secure_link = "0") { return 403; }
        rewrite ^/media/(.*)$ ORIGIN_PATH/$1 break;
        proxy_pass ORIGIN_HOST;
    }
"""  # noqa: E501 - nginx regexes do not wrap


def publish_media(aws, bucket: str) -> str:  # type: ignore[no-untyped-def]
    """The media origin nginx reads the published trees (hls/, thumbs/) from, as on AWS: a
    distribution whose behaviours for them read the bucket through origin access control, and
    the bucket policy's grant to CloudFront for that distribution (provisioning's statement);
    no statement grants public read. Returns the origin's URL, the emulator's origin request
    of the distribution (local/emulator/fidelity/cloudfront.py); sources/ stays private."""
    from botocore.exceptions import ClientError

    cloudfront, s3 = aws("cloudfront"), aws("s3")
    oac = cloudfront.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": f"{bucket}-{time.monotonic_ns()}",
            "SigningProtocol": "sigv4",
            "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3",
        }
    )["OriginAccessControl"]["Id"]
    published = ("hls/", "thumbs/")
    behaviour = {
        "TargetOriginId": "media",
        "ViewerProtocolPolicy": "https-only",
        "TrustedSigners": {"Enabled": False, "Quantity": 0},
        "TrustedKeyGroups": {"Enabled": False, "Quantity": 0},
        "AllowedMethods": {"Quantity": 2, "Items": ["HEAD", "GET"]},
        "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",  # Managed-CachingOptimized
    }
    distribution = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": f"{bucket}-{time.monotonic_ns()}",
            "Comment": "tests/app/nginx.py media origin",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "media",
                        "DomainName": f"{bucket}.s3.eu-west-1.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                        "OriginAccessControlId": oac,
                    }
                ],
            },
            "DefaultCacheBehavior": behaviour,
            "CacheBehaviors": {
                "Quantity": len(published),
                "Items": [behaviour | {"PathPattern": f"/{p}*"} for p in published],
            },
        }
    )["Distribution"]
    statement = {
        "Sid": "CloudFrontReadsServedMedia",
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": [f"arn:aws:s3:::{bucket}/{p}*" for p in published],
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution["ARN"]}},
    }
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError:
        policy = {"Version": "2012-10-17", "Statement": []}
    others = [x for x in policy["Statement"] if x.get("Sid") != statement["Sid"]]
    s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps(policy | {"Statement": [*others, statement]})
    )
    endpoint = s3.meta.endpoint_url.rstrip("/")
    return f"{endpoint}/moto-api/fidelity/cloudfront-origin/{distribution['DomainName']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Nginx:
    prefix: Path
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


APP_LOCATION = """
    # Everything else is the app (pages, static files, the JSON API), as the nginx role does.
    client_max_body_size 64m;
    location / {
        # Stream request bodies (uploads) to the app: no temp file the worker user must write.
        proxy_request_buffering off;
        proxy_http_version 1.1;
        proxy_pass APP;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_read_timeout 120s;
    }
"""


def render(
    port: int,
    prefix: Path,
    origin: str,
    secret: str,
    app_upstream: str | None = None,
) -> str:
    """``origin``: the media origin's URL (publish_media), no trailing slash."""
    parts = urlsplit(origin)
    locations = (
        CONTRACT_LOCATIONS.replace("ORIGIN_PATH", parts.path)
        .replace("ORIGIN_HOST", f"{parts.scheme}://{parts.netloc}")
        .replace("ORIGIN", origin)
    )
    if app_upstream:
        locations += APP_LOCATION.replace("APP", app_upstream)
    temp = "".join(
        f"    {kind}_temp_path {prefix}/tmp/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
{temp}
    server {{
        listen 127.0.0.1:{port};
        set $secure_link_secret "{secret}";
{locations}
    }}
}}
"""


def start(
    prefix: Path,
    origin: str,
    secret: str,
    timeout: float = 15,
    app_upstream: str | None = None,
) -> Nginx:
    """nginx on a free port; with `app_upstream` (http://host:port) it also fronts the app."""
    port = free_port()
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / kind).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(render(port, prefix, origin, secret, app_upstream))
    check = subprocess.run(
        ["nginx", "-t", "-p", str(prefix), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen(
        ["nginx", "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
            break
        except urllib.error.HTTPError:
            break  # any HTTP answer means it is serving
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"nginx exited: {proc.stderr.read() if proc.stderr else ''}"
                ) from None
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("nginx did not start")
    return Nginx(prefix, port, proc)
