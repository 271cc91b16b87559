"""streamstack.aws.warm_controller (enabled in ansible.cfg): module payloads kept between runs
are used only while their sources are unchanged, and only from a folder closed to others."""

from __future__ import annotations

import json
from pathlib import Path

from local.ansible import run_playbook
from tests.conftest import ROOT

# Written by the test: ansible-lint cannot resolve the throwaway collection's module.
PLAYBOOK = """
- name: Warm controller | A module whose answer comes from its module_utils
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Ask the module
      demo.cache.answer:
      register: __warm_answer

    - name: What the module answered
      ansible.builtin.debug:
        msg: "{{ __warm_answer.value }}"
"""
MODULE = """#!/usr/bin/python
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.demo.cache.plugins.module_utils.value import VALUE

AnsibleModule(argument_spec={}).exit_json(changed=False, value=VALUE)
"""


def collection(root: Path, value: str) -> None:
    base = root / "ansible_collections" / "demo" / "cache"
    (base / "plugins" / "modules").mkdir(parents=True, exist_ok=True)
    (base / "plugins" / "module_utils").mkdir(parents=True, exist_ok=True)
    (base / "galaxy.yml").write_text("namespace: demo\nname: cache\nversion: 1.0.0\n")
    (base / "plugins" / "modules" / "answer.py").write_text(MODULE)
    (base / "plugins" / "module_utils" / "value.py").write_text(f"VALUE = {value!r}\n")
    (root.parent / "playbook.yml").write_text(PLAYBOOK)


def answer(tmp_path: Path) -> tuple[str, str]:
    """(what the module answered, what the run said)."""
    result = run_playbook(
        tmp_path / "playbook.yml",
        env={
            "ANSIBLE_COLLECTIONS_PATH": f"{tmp_path / 'collections'}:{ROOT / 'collections'}",
            "STREAMSTACK_PAYLOAD_CACHE": str(tmp_path / "cache"),
            "ANSIBLE_VERBOSITY": "3",
        },
    )
    assert result.ok, result.messages()
    (said,) = [res["msg"] for name, _, res in result.task_results() if name.endswith("answered")]
    return said, result.raw + result.stderr


def kept(tmp_path: Path) -> dict:
    (index,) = (tmp_path / "cache").glob("*/ansible_collections.demo.cache.*.json")
    return json.loads(index.read_text())


def test_a_kept_payload_serves_the_next_run_until_a_source_changes(tmp_path):
    collection(tmp_path / "collections", "one")
    assert answer(tmp_path)[0] == "one"
    sources = kept(tmp_path)["sources"]
    assert "ansible_collections/demo/cache/plugins/module_utils/value.py" in sources
    value, said = answer(tmp_path)
    assert value == "one"
    assert "1 module payloads from earlier runs" in said
    # A changed module_utils file: the kept payload would still answer "one".
    collection(tmp_path / "collections", "two")
    value, said = answer(tmp_path)
    assert value == "two"
    assert "0 module payloads from earlier runs" in said
    assert kept(tmp_path)["sources"] != sources


def test_a_cache_folder_others_can_write_is_not_used(tmp_path):
    collection(tmp_path / "collections", "one")
    answer(tmp_path)
    (folder,) = (tmp_path / "cache").iterdir()
    folder.chmod(0o777)
    collection(tmp_path / "collections", "two")
    # Not a stale answer: a planted payload there would have been loaded.
    for payload in folder.glob("ansible_collections.demo.cache.*[!n]"):
        payload.write_bytes(b"planted")
    value, said = answer(tmp_path)
    assert value == "two"
    assert "is open to others; not used" in said
