"""The controller tool chain is what the project pins and documents."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml
from ansible.module_utils.compat.version import LooseVersion

from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def installed_collections() -> dict[str, str]:
    out = subprocess.run(
        [
            str(BIN / "ansible-galaxy"),
            "collection",
            "list",
            "--format",
            "json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found: dict[str, str] = {}
    for collections in json.loads(out).values():
        for name, info in collections.items():
            # The first path wins in Ansible's search order; keep the first seen.
            found.setdefault(name, info["version"])
    return found


def test_controller_python_is_at_least_312():
    assert sys.version_info >= (3, 12)


def test_installed_collections_satisfy_requirements_yml():
    wanted = yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())
    have = installed_collections()
    for item in wanted["collections"]:
        if item.get("type") == "dir":  # ours, from this repository
            assert (ROOT / item["name"] / "galaxy.yml").is_file(), item
            continue
        assert item["name"] in have, f"{item['name']} is not installed"
        assert LooseVersion(have[item["name"]]) >= LooseVersion(item["version"]), (
            f"{item['name']} {have[item['name']]} < pinned {item['version']}"
        )


def test_every_collection_the_project_uses_is_required():
    """A Galaxy user (and the execution environment) gets what the plays name: every collection
    whose content a playbook, role, variable or our collections name (FQCN) is in
    collections/requirements.yml (ansible.utils was missing: preflight's network filters)."""
    wanted = yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())
    required = {
        item["name"] if item.get("type") != "dir" else ".".join(item["name"].split("/")[-2:])
        for item in wanted["collections"]
    }
    have = set(installed_collections())
    fqcn = re.compile(r"\b([a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*\b")
    used: dict[str, str] = {}
    folders = ("playbooks", "roles", "group_vars", "inventories", "collections/ansible_collections")
    for folder in folders:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in (".yml", ".yaml", ".j2", ".py") or not path.is_file():
                continue
            for name in fqcn.findall(path.read_text(errors="replace")):
                if name in have and name != "ansible.builtin":
                    used.setdefault(name, str(path.relative_to(ROOT)))
    missing = {name: where for name, where in used.items() if name not in required}
    assert not missing, f"collections used but not in collections/requirements.yml: {missing}"


def test_own_collections_resolve():
    have = installed_collections()
    assert "streamstack.aws" in have
    assert "streamstack.hosts" in have  # the roles' host-side module


def test_requirements_are_exact_pins():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert "==" in line, f"unpinned requirement: {line}"
