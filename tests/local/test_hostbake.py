"""The baked hosts' key (local/hosts/bake.py): it must change whenever what a converged
host is made of changes, or a stale bake would be used; and only then, or every run would
converge from scratch. (Baking and starting from baked hosts: tests/local/test_make_up.py.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from local.hosts import bake as hostbake


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    files = {
        "roles/app/tasks/main.yml": "- name: A task\n",
        "app/src/streamapp/__init__.py": "",
        "app/tests/test_x.py": "def test_x(): pass\n",
        "playbooks/configure.yml": "---\n",
        "ansible.cfg": "[defaults]\n",
        "README.md": "# readme\n",
        ".gitignore": "*.pyc\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", "-A"], check=True)
    return tmp_path


def test_key_is_stable(repo):
    assert hostbake.key(repo) == hostbake.key(repo)


@pytest.mark.parametrize(
    "name",
    [
        "roles/app/tasks/main.yml",  # a tracked file edited
        "roles/app/templates/new.j2",  # a new file, not yet added to Git
        "app/src/streamapp/__init__.py",
        "playbooks/configure.yml",
        "ansible.cfg",
    ],
)
def test_key_follows_what_a_host_is_made_of(repo, name):
    before = hostbake.key(repo)
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((path.read_text() if path.exists() else "") + "changed\n")
    assert hostbake.key(repo) != before


def test_key_follows_the_executable_bit(repo):
    before = hostbake.key(repo)
    (repo / "roles/app/tasks/main.yml").chmod(0o755)
    assert hostbake.key(repo) != before


@pytest.mark.parametrize("name", ["README.md", "roles/app/x.pyc"])
def test_key_ignores_what_no_host_contains(repo, name):
    before = hostbake.key(repo)
    (repo / name).write_text("changed\n")
    assert hostbake.key(repo) == before
