"""Every plugin of our collections documents itself in YAML that parses: ansible-doc, ansible-lint
and the argument specs read DOCUMENTATION, EXAMPLES and RETURN (a stray ": " inside a list item
once broke one module's documentation and ansible-lint's run with it)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

COLLECTIONS = Path(__file__).resolve().parents[3]
PLUGINS = sorted(COLLECTIONS.glob("*/plugins/*/*.py"))
BLOCKS = ("DOCUMENTATION", "EXAMPLES", "RETURN")


def _blocks(path: Path) -> dict[str, str]:
    found = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            name = getattr(node.targets[0], "id", "")
            if name in BLOCKS:
                found[name] = node.value.value
    return found


def test_the_scan_finds_the_modules():
    modules = [p for p in PLUGINS if p.parent.name == "modules"]
    assert len(modules) >= 20
    assert all("DOCUMENTATION" in _blocks(p) for p in modules)


@pytest.mark.parametrize(
    "path", PLUGINS, ids=lambda p: f"{p.parents[2].name}/{p.parent.name}/{p.name}"
)
def test_documentation_parses(path):
    for name, text in _blocks(path).items():
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as err:
            pytest.fail(f"{name} of {path.name}: {err}")
