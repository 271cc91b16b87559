"""A host's app settings: the provisioning outputs turned into the app's environment file.

One place for the mapping "provisioning outputs -> app settings", used by:

- the Ansible role (roles/app, through its ``streamapp_hostconfig`` filters, on the
  controller, with the outputs playbooks/configure.yml read: ``--check`` and ``--diff`` keep
  working, and a re-converge compares the file it would write with the host's);
- the hosts' boot unit (``streamapp-boot.service``: ``streamapp-hostconfig boot``), which
  writes the same file at boot on an instance the Auto Scaling Group launched from a golden
  image, with no Ansible: it reads the instance's ``/etc/streamstack/host.json`` (written from
  the launch template's user data), the settings the role left in the image
  (``/etc/streamapp/hostconfig.json``: the role's variables) and the outputs parameter in SSM
  with the instance role. Secrets stay in Secrets Manager: only their ARNs reach the file, and
  the app reads them itself.

The file is ``KEY="value"`` lines (values JSON-quoted, which systemd's EnvironmentFile= and
the app's settings loader both read), sorted, empty values left out (the app's defaults apply).

This module imports only the standard library at load time (boto3 is imported by ``boot``
alone), so the role's filters can load it on any controller.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

HOST_JSON = "/etc/streamstack/host.json"
SPEC_FILE = "/etc/streamapp/hostconfig.json"

# The outputs every host needs, and those a CloudFront-signing host needs too.
REQUIRED_OUTPUTS = (
    "region",
    "media_bucket",
    "sessions_table",
    "transcode_queue_url",
    "db_host",
    "db_port",
    "db_name",
    "db_app_secret_arn",
    "media_prefixes",
)
REQUIRED_CLOUDFRONT_OUTPUTS = (
    "cloudfront_domain",
    "cloudfront_key_pair_id",
    "cloudfront_signing_key_secret",
)


def required_outputs(signing_mode: str) -> list[str]:
    return list(REQUIRED_OUTPUTS) + (
        list(REQUIRED_CLOUDFRONT_OUTPUTS) if signing_mode == "cloudfront" else []
    )


def missing_outputs(outputs: Mapping[str, Any], signing_mode: str) -> list[str]:
    """The outputs the app needs that ``outputs`` lacks."""
    return [key for key in required_outputs(signing_mode) if key not in outputs]


def settings_from_outputs(
    outputs: Mapping[str, Any], *, signing_mode: str, database_user: str, region: str = ""
) -> dict[str, str]:
    """The app settings the provisioning outputs determine (``STREAMAPP_*`` -> value).

    The database login is never inline: the app reads it from its own secret (db-app: the
    user and password of the DML-only login), by ARN; the master user's secret is not an
    output."""
    prefixes = outputs.get("media_prefixes") or {}
    settings = {
        "STREAMAPP_AWS_REGION": _text(outputs.get("region") or region),
        "STREAMAPP_DATABASE_URL": (
            f"postgresql+psycopg://{database_user}@{_text(outputs.get('db_host'))}:"
            f"{_text(outputs.get('db_port', 5432))}/{_text(outputs.get('db_name'))}"
        ),
        "STREAMAPP_DATABASE_PASSWORD": "",
        "STREAMAPP_DATABASE_PASSWORD_SECRET_ARN": _text(outputs.get("db_app_secret_arn")),
        "STREAMAPP_MEDIA_BUCKET": _text(outputs.get("media_bucket")),
        "STREAMAPP_SESSIONS_TABLE": _text(outputs.get("sessions_table")),
        "STREAMAPP_JOBS_QUEUE_URL": _text(outputs.get("transcode_queue_url")),
        "STREAMAPP_SOURCE_PREFIX": _text(prefixes.get("sources")),
        "STREAMAPP_HLS_PREFIX": _text(prefixes.get("hls")),
        "STREAMAPP_THUMBS_PREFIX": _text(prefixes.get("thumbs")),
    }
    if signing_mode == "cloudfront":
        settings |= {
            "STREAMAPP_CLOUDFRONT_DOMAIN": _text(outputs.get("cloudfront_domain")),
            "STREAMAPP_CLOUDFRONT_KEY_PAIR_ID": _text(outputs.get("cloudfront_key_pair_id")),
            "STREAMAPP_CLOUDFRONT_PRIVATE_KEY_SECRET_ARN": _text(
                outputs.get("cloudfront_signing_key_secret")
            ),
        }
    return settings


def settings(spec: Mapping[str, Any], outputs: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The app's settings: the role's ``base`` settings, then (ssm source) those the outputs
    determine, then the role's ``extra`` settings; empty values left out."""
    merged = {k: _text(v) for k, v in (spec.get("base") or {}).items()}
    if spec.get("source") == "ssm":
        merged |= settings_from_outputs(
            outputs or {},
            signing_mode=str(spec.get("signing_mode", "local")),
            database_user=str(spec.get("database_user", "streamapp")),
            region=merged.get("STREAMAPP_AWS_REGION", ""),
        )
    merged |= {k: _text(v) for k, v in (spec.get("extra") or {}).items()}
    return {k: v for k, v in merged.items() if v != ""}


def env_file(spec: Mapping[str, Any], outputs: Mapping[str, Any] | None = None) -> str:
    """The environment file's content."""
    lines = [
        "# Managed by StreamStack: rendered by streamapp.hostconfig (the app role, or",
        "# streamapp-boot.service at boot). The app's settings (app/README.md, 'Configuration'),",
        "# read by the systemd units (EnvironmentFile=) and by the tools with STREAMAPP_ENV_FILE.",
        f"# Settings source: {spec.get('source', 'vars')}.",
    ]
    for key, value in sorted(settings(spec, outputs).items()):
        lines.append(f"{key}={json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


# --------------------------------------------------------------------------------------------
# On the host
# --------------------------------------------------------------------------------------------


def aws_environment(spec: Mapping[str, Any]) -> dict[str, str]:
    """The AWS_* variables of the role's extra settings (e.g. the metadata service's address
    on the local platform): the environment the outputs are read with, as the role reads them."""
    return {k: _text(v) for k, v in (spec.get("extra") or {}).items() if k.startswith("AWS_")}


def read_outputs(
    parameter: str, *, region: str, endpoint_url: str | None = None, attempts: int = 10
) -> dict[str, Any]:
    """The outputs parameter, read with the instance role (retried: at boot the network, the
    metadata service or SSM may not answer at once)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    ssm = boto3.client("ssm", region_name=region, endpoint_url=endpoint_url or None)
    for attempt in range(1, attempts + 1):
        try:
            value = ssm.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
            return json.loads(value)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            retry = code in ("ThrottlingException", "InternalServerError") or code.startswith("5")
            if not retry or attempt == attempts:
                raise
        except BotoCoreError:
            if attempt == attempts:
                raise
        time.sleep(min(2**attempt, 20))
    raise AssertionError("unreachable")


def write_if_changed(path: Path, content: str, *, group: str, mode: int = 0o640) -> bool:
    """Write ``content`` to ``path`` atomically (owner root, ``group``, ``mode``) unless it holds
    it already. True when the file changed."""
    try:
        if path.read_text() == content:
            return False
    except FileNotFoundError:
        pass
    import grp

    gid = grp.getgrnam(group).gr_gid
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        os.fchown(fd, 0, gid)
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def boot(
    host_json: Path = Path(HOST_JSON),
    spec_file: Path = Path(SPEC_FILE),
    *,
    read: Callable[..., dict[str, Any]] = read_outputs,
    systemctl: Callable[[list[str]], Any] | None = None,
    log: Callable[[str], None] = print,
) -> bool:
    """Write the app's environment file for this instance. True when it changed.

    ``host.json`` says where the instance is (``role``, ``region``, ``parameters``: the SSM
    prefix of its environment); the spec, written by the role into the image, holds the role's
    settings. Refuses an image baked for another role than the instance's."""
    host = json.loads(host_json.read_text())
    spec = json.loads(spec_file.read_text())
    role, image_role = host.get("role"), spec.get("role", "all")
    if image_role not in ("all", role):
        raise SystemExit(
            f"{host_json} says role {role!r}, but this image was configured for {image_role!r}"
        )
    outputs: dict[str, Any] = {}
    if spec.get("source") == "ssm":
        parameter = f"{host['parameters'].rstrip('/')}/outputs"
        os.environ.update(aws_environment(spec))
        endpoint = (spec.get("base") or {}).get("STREAMAPP_AWS_ENDPOINT_URL") or None
        outputs = read(parameter, region=host["region"], endpoint_url=endpoint)
        missing = missing_outputs(outputs, str(spec.get("signing_mode", "local")))
        if missing:
            raise SystemExit(f"{parameter} lacks {missing} (has {sorted(outputs)})")
        log(f"read {parameter}: {len(outputs)} outputs")
    path = Path(spec.get("env_file", "/etc/streamapp/streamapp.env"))
    changed = write_if_changed(path, env_file(spec, outputs), group=spec.get("group", "streamapp"))
    log(f"{path}: {'written' if changed else 'unchanged'}")
    units = list(spec.get("units") or [])
    if changed and units:
        # A re-run on a running host: restart what reads the file (at boot the units are
        # ordered after this one and not running yet, so this does nothing).
        (systemctl or _systemctl)(["try-restart", "--no-block", *units])
    return changed


def _systemctl(args: list[str]) -> None:
    subprocess.run(["systemctl", *args], check=True, timeout=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="streamapp-hostconfig", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    b = sub.add_parser("boot", help="write the app's environment file for this instance")
    b.add_argument("--host-json", type=Path, default=Path(HOST_JSON))
    b.add_argument("--spec", type=Path, default=Path(SPEC_FILE))
    args = parser.parse_args(argv)
    boot(args.host_json, args.spec, log=lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
