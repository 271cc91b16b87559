"""The STAND-IN instance image for Elastic Beanstalk's Python platform: the test-host image
(local/hosts/image.py: debootstrapped Debian 12 with systemd, its recipe and caches) plus what
the Amazon Linux 2023 Python platform puts on an instance for a source bundle - nginx in front,
a Python with venv, the deployment engine, get-config and the worker tier's SQS daemon (our
stand-ins, local/beanstalk/platform/), the CloudWatch agent (the hosts' stand-in package,
local/standin/cwagent.py: it ships nothing) and ffmpeg, which the bundle's prebuild hook then
only checks
(``beanstalk_ffmpeg_url: ""`` in inventories/local: nothing is downloaded).

    python -m local.beanstalk.image build [--force]   # build (or find up to date)

It is built on the test-host image with ``podman build`` and labelled with a hash of that
image's recipe, the packages and the platform files: the same inputs find the image at once.
Debian's Python (3.11) and nginx (1.22) play the platform's Python 3.13 and nginx.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from local.hosts import image as hostimage
from local.standin import cwagent

IMAGE = "localhost/streamstack-beanstalk-standin:python-al2023"
LABEL = "org.streamstack.beanstalk.recipe"
PLATFORM = Path(__file__).parent / "platform"
# The CloudWatch agent, which the platform's instances run: the hosts' stand-in package
# (local/standin/cwagent.py), built here and installed into the image.
AGENT_REPO = hostimage.CACHE / "cwagent-standin"
AGENT_DEB = "amazon-cloudwatch-agent.deb"
PACKAGES = ("nginx", "python3-venv", "python3-boto3", "ffmpeg", "unzip", "curl")
# platform file -> where it goes in the image.
FILES = {
    "engine.py": "/opt/elasticbeanstalk/bin/engine",
    "sqsd.py": "/opt/elasticbeanstalk/bin/sqsd",
    "get_config.py": "/opt/elasticbeanstalk/bin/get-config",
    "nginx.conf": "/opt/elasticbeanstalk/platform/nginx.conf",
    "00_application.conf": "/etc/nginx/conf.d/elasticbeanstalk/00_application.conf",
    "aws-sqsd.service": "/etc/systemd/system/aws-sqsd.service",
}


def recipe(host_recipe: str, agent_sha256: str) -> str:
    """What decides the image: the host image's recipe, the packages, the agent's package, this
    file, the files."""
    digest = hashlib.sha256()
    for part in (host_recipe, " ".join(PACKAGES), agent_sha256, Path(__file__).read_text()):
        digest.update(part.encode() + b"\0")
    for name in sorted(FILES):
        digest.update(name.encode() + b"\0" + (PLATFORM / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def containerfile(digest: str) -> str:
    copies = "".join(f"COPY {name} {dest}\n" for name, dest in FILES.items())
    return (
        f"FROM {hostimage.IMAGE}\n"
        "RUN apt-get update \\\n"
        " && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\\n"
        f"    {' '.join(PACKAGES)} \\\n"
        " && rm -rf /var/lib/apt/lists/* && mkdir -p /var/lib/apt/lists/partial \\\n"
        " && rm -f /etc/nginx/sites-enabled/default \\\n"
        " && useradd --system --create-home --home-dir /home/webapp"
        " --shell /sbin/nologin webapp \\\n"
        " && mkdir -p /etc/nginx/conf.d/elasticbeanstalk /opt/elasticbeanstalk/bin \\\n"
        "    /opt/elasticbeanstalk/platform /opt/elasticbeanstalk/deployment/incoming /var/app \\\n"
        "    /var/log/aws-sqsd\n"
        f"{copies}"
        f"COPY {AGENT_DEB} /tmp/{AGENT_DEB}\n"
        f"RUN dpkg -i /tmp/{AGENT_DEB} && rm /tmp/{AGENT_DEB} \\\n"
        " && cp /opt/elasticbeanstalk/platform/nginx.conf /etc/nginx/nginx.conf \\\n"
        " && chmod 0755 /opt/elasticbeanstalk/bin/engine /opt/elasticbeanstalk/bin/sqsd \\\n"
        "    /opt/elasticbeanstalk/bin/get-config \\\n"
        " && systemctl enable nginx\n"
        f"LABEL {LABEL}={digest}\n"
    )


def label(image: str = IMAGE) -> str | None:
    proc = hostimage.podman(
        "image", "inspect", "--format", f'{{{{index .Labels "{LABEL}"}}}}', image,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return proc.stdout.strip() if proc.returncode == 0 else None


def build(force: bool = False) -> dict:
    """Build the stand-in image unless one of the same recipe exists (the test-host image
    first, which is cached the same way)."""
    started = time.monotonic()
    host = hostimage.build()
    agent_sha256 = cwagent.build(AGENT_REPO)
    digest = recipe(host["recipe"], agent_sha256)
    if not force and label() == digest:
        return {"image": IMAGE, "recipe": digest, "built": False,
                "seconds": round(time.monotonic() - started, 2)}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="beanstalk-standin-") as context:
        for name in FILES:
            shutil.copy(PLATFORM / name, Path(context) / name)
        shutil.copy(AGENT_REPO / cwagent.relative_path(), Path(context) / AGENT_DEB)
        (Path(context) / "Containerfile").write_text(containerfile(digest))
        (hostimage.APT_ARCHIVES / "partial").mkdir(parents=True, exist_ok=True)
        hostimage.log(f"podman build {IMAGE}")
        hostimage.podman(
            "build", "--network", "host", "--pull=never",
            "-v", f"{hostimage.APT_ARCHIVES}:/var/cache/apt/archives:rw",
            "-f", str(Path(context) / "Containerfile"), "-t", IMAGE, context,
            stdout=sys.stderr,
        )  # fmt: skip
    return {"image": IMAGE, "recipe": digest, "built": True,
            "seconds": round(time.monotonic() - started, 2)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.beanstalk.image")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help=f"build {IMAGE} unless it is up to date")
    b.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(build(force=args.force)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
