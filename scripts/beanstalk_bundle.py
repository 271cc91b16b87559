#!/usr/bin/env python3
"""The app as an Elastic Beanstalk source bundle (playbooks/bundle.yml runs this after it has
rendered the platform files into the staging directory).

Adds the app's wheel (wheels/) and a requirements.txt that pins every package the app needs at
the version the project tests with (requirements.txt at the top, the lock), then zips the
staging directory reproducibly - fixed timestamps, sorted entries, file modes kept (the
platform runs hooks only when they are executable) - as
``<out>/streamapp-<version>-<sha256 of the zip, 12 hex>.zip``. The same sources make the same
bytes, hence the same label: a second run changes nothing. Prints one JSON line: label, path,
sha256, created.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
# 1980-01-01, the first time a zip can hold; also SOURCE_DATE_EPOCH for the wheel.
EPOCH = (1980, 1, 1, 0, 0, 0)
SOURCE_DATE_EPOCH = "315532800"


# The instances: the platform's Python on Linux x86_64 (markers are evaluated for it).
TARGET = {
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_requirements() -> list[str]:
    """``name==version`` for the app's dependencies and theirs (with the extras asked for, for
    the platform's Python on Linux), at the versions of the project's lock."""
    from packaging.requirements import Requirement

    lock = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if match:
            lock[_canonical(match[1])] = match[2]
    project = tomllib.loads((APP / "pyproject.toml").read_text())["project"]
    wanted = [(Requirement(r), "") for r in project["dependencies"]]
    seen: dict[str, set[str]] = {}
    while wanted:
        requirement, extra = wanted.pop()
        if requirement.marker and not requirement.marker.evaluate({**TARGET, "extra": extra}):
            continue
        name = _canonical(requirement.name)
        new_extras = set(requirement.extras) - seen.get(name, set())
        if name in seen and not new_extras:
            continue
        seen.setdefault(name, set()).update(requirement.extras)
        dist = metadata.distribution(name)
        for sub in dist.requires or []:
            sub_requirement = Requirement(sub)
            for chosen in {"", *new_extras}:
                wanted.append((sub_requirement, chosen))
    missing = sorted(n for n in seen if n not in lock)
    if missing:
        sys.exit(f"not in the lock (requirements.txt): {', '.join(missing)}")
    return [f"{n}=={lock[n]}" for n in sorted(seen)]


def agent_config_errors(stage: Path) -> list[str]:
    """The bundle's CloudWatch agent configurations (.platform/cloudwatch-agent/*.json) checked
    against the agent's schema with the cloudwatch_agent role's own validator: an instance would
    refuse them at deployment."""
    role = ROOT / "roles" / "cloudwatch_agent"
    spec = importlib.util.spec_from_file_location(
        "cloudwatch_agent_filters", role / "filter_plugins" / "cloudwatch_agent.py"
    )
    filters = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(filters)
    schema = str(role / "files" / "amazon-cloudwatch-agent-schema.json")
    errors = []
    for path in sorted((stage / ".platform" / "cloudwatch-agent").glob("*.json")):
        for error in filters.cloudwatch_agent_schema_errors(json.loads(path.read_text()), schema):
            errors.append(f"{path.relative_to(stage)}: {error}")
    return errors


def build_wheel(stage: Path) -> str:
    wheels = stage / "wheels"
    wheels.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--wheel-dir",
                tmp,
                str(APP),
            ],
            check=True,
            env={**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH},
            cwd=tmp,
        )
        (wheel,) = Path(tmp).glob("streamapp-*.whl")
        (wheels / wheel.name).write_bytes(wheel.read_bytes())
    return f"wheels/{wheel.name}"


def zip_bytes(stage: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in stage.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(stage)), date_time=EPOCH)
            info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stage", type=Path, required=True, help="the rendered platform files")
    parser.add_argument("--out", type=Path, required=True, help="where the bundle goes")
    args = parser.parse_args(argv)
    errors = agent_config_errors(args.stage)
    if errors:
        sys.exit(
            "the CloudWatch agent would refuse the bundle's configuration:\n" + "\n".join(errors)
        )
    wheel = build_wheel(args.stage)
    (args.stage / "requirements.txt").write_text(
        "# The app's packages at the versions the project tests with (make bundle).\n"
        + "\n".join(pinned_requirements())
        + f"\n{wheel}\n"
    )
    data = zip_bytes(args.stage)
    digest = hashlib.sha256(data).hexdigest()
    version = tomllib.loads((APP / "pyproject.toml").read_text())["project"]["version"]
    label = f"streamapp-{version}-{digest[:12]}"
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{label}.zip"
    created = not path.exists() or path.read_bytes() != data
    if created:
        path.write_bytes(data)
    print(json.dumps({"label": label, "path": str(path), "sha256": digest, "created": created}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
