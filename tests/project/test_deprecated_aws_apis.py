"""No module the project runs calls an AWS operation that AWS has deprecated.

botocore's service models mark deprecated operations (``"deprecated": true``, e.g. CloudWatch
Logs' TagLogGroup/ListTagsLogGroup/UntagLogGroup, replaced by the generic tagging API
TagResource/ListTagsForResource/UntagResource). This reads, without running anything, every
boto3 call of our modules (streamstack.aws), of the upstream modules our playbooks and roles
use (amazon.aws, community.aws) and of the app, and checks each against the models of the
services that file makes clients for. (A call made through another file's client, e.g. in
upstream module_utils, is not seen.)
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import ansible_collections
import botocore.session
from botocore import xform_name

from tests.conftest import ROOT

OURS = ROOT / "collections" / "ansible_collections" / "streamstack" / "aws" / "plugins"
# The installed collections' folder: when the collections' own tests ran first in this process,
# the namespace package also lists collections/ansible_collections, and not always last.
UPSTREAM = next(
    Path(p) for p in ansible_collections.__path__ if (Path(p) / "amazon" / "aws").is_dir()
)
APP = ROOT / "app" / "src"
PLAYBOOK_DIRS = [ROOT / "playbooks", ROOT / "roles", ROOT / "inventories"]
FQCN = re.compile(r"\b(amazon|community)\.aws\.([a-z0-9_]+)\b")


@cache
def deprecated_operations(service: str) -> dict[str, str]:
    """boto3 method name -> AWS operation name, for the service's deprecated operations."""
    model = botocore.session.get_session().get_service_model(service)
    return {
        xform_name(name): name
        for name in model.operation_names
        if model.operation_model(name).deprecated
    }


def boto3_usage(files: list[Path]) -> tuple[set[str], set[tuple[Path, str]]]:
    """Services named by ``client(...)`` calls (their first string argument:
    ``module.client("logs")``, the app's ``aws.client(settings, "s3")``), and (file, method) of
    every attribute call (and of every operation named to get_paginator/get_waiter)."""
    services, calls = set(), set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            literals = [a.value for a in node.args if isinstance(a, ast.Constant)]
            literal = next((value for value in literals if isinstance(value, str)), None)
            if name == "client" and literal:
                services.add(literal)
            elif name in ("get_paginator", "get_waiter") and literal:
                calls.add((path, literal))
            if isinstance(func, ast.Attribute):
                calls.add((path, name))
    return services, calls


def deprecated_calls(files: list[Path]) -> list[str]:
    services, calls = boto3_usage(files)
    return sorted(
        f"{_label(path)}: {method} ({service} {operations[method]})"
        for service in services
        for operations in [deprecated_operations(service)]
        for path, method in calls
        if method in operations
    )


def _label(path: Path) -> str:
    for base in (UPSTREAM, ROOT):
        if path.is_relative_to(base):
            return str(path.relative_to(base))
    return path.name


def upstream_modules_in_use() -> list[Path]:
    """The amazon.aws/community.aws modules our playbooks, roles and inventories name."""
    found = set()
    for folder in PLAYBOOK_DIRS:
        for path in folder.rglob("*.yml"):
            for namespace, name in FQCN.findall(path.read_text()):
                module = UPSTREAM / namespace / "aws" / "plugins" / "modules" / f"{name}.py"
                if module.exists():
                    found.add(module)
    return sorted(found)


def test_the_scan_finds_the_deprecated_tagging_calls_it_looks_for(tmp_path):
    module = tmp_path / "plugins" / "modules" / "old.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "client = module.client('logs')\n"
        "client.list_tags_log_group(logGroupName='x')\n"
        "client.describe_log_groups()\n"
    )
    assert deprecated_calls([module]) == ["old.py: list_tags_log_group (logs ListTagsLogGroup)"]


def test_our_modules_call_no_deprecated_operation():
    # One unit: module_utils get their clients from the modules.
    assert deprecated_calls(sorted(OURS.rglob("*.py"))) == []


def test_upstream_modules_we_run_call_no_deprecated_operation():
    modules = upstream_modules_in_use()
    assert len(modules) > 20  # the scan found the playbooks' modules
    found = [call for module in modules for call in deprecated_calls([module])]
    assert found == []


def test_the_app_calls_no_deprecated_operation():
    files = sorted(APP.rglob("*.py"))
    assert {"s3", "sqs", "dynamodb"} <= boto3_usage(files)[0]  # the scan sees the app's clients
    assert deprecated_calls(files) == []
