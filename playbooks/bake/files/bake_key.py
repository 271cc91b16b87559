#!/usr/bin/env python3
"""The content key of a golden image (playbooks/bake.yml), printed as JSON on the controller.

    bake_key.py ROOT INVENTORY_DIR [EXTRA ...]  ->  {"key": "...", "revision": "..."}

The key hashes what a baked host is made of: the files under SOURCES (and the inventory folder
in use: its settings) that Git sees, tracked or untracked and not ignored (every file when ROOT
is not a Git work tree), each with its path, executable bit and content, plus the EXTRA strings
(the base image id, the Ansible version). The same sources give the same key, so a second bake
finds its image and builds nothing; any change in them gives a new image. The revision is the
commit (``-dirty`` with changes in those files): a tag for people, not part of the key.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

SOURCES = (
    "roles",
    "group_vars",
    "collections/ansible_collections/streamstack/hosts",
    "app",
    "playbooks/configure.yml",
    "playbooks/bake.yml",
    "playbooks/bake/tasks/clean.yml",
    "requirements.txt",
    "ansible.cfg",
)
EXCLUDED_PARTS = {"__pycache__", ".pytest_cache", "tests", ".egg-info"}
# The bake's own settings (image count, refresh percentages) make no host different.
EXCLUDED_FILES = {"group_vars/all/bake.yml"}


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.decode()


def _excluded(name: str) -> bool:
    parts = Path(name).parts
    return (
        name in EXCLUDED_FILES
        or name.endswith(".pyc")
        or any(p in EXCLUDED_PARTS or p.endswith(".egg-info") for p in parts)
    )


def files(root: Path, sources: list[str]) -> list[str]:
    listed = _git(
        root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *sources
    )
    if listed is None:
        found = []
        for source in sources:
            path = root / source
            if path.is_file() or path.is_symlink():
                found.append(source)
            for folder, dirs, names in os.walk(path):
                dirs[:] = [d for d in dirs if not _excluded(d)]
                found += [str((Path(folder) / n).relative_to(root)) for n in names]
        listed = "\0".join(found)
    return sorted({f for f in listed.split("\0") if f and not _excluded(f)})


def key(root: Path, sources: list[str], extra: list[str]) -> str:
    digest = hashlib.sha256()
    for item in extra:
        digest.update(f"{item}\n".encode())
    for name in files(root, sources):
        path = root / name
        if path.is_symlink():
            content = os.readlink(path).encode()
        elif path.is_file():
            content = path.read_bytes()
        else:  # listed by Git, deleted in the work tree
            continue
        mode = "x" if os.access(path, os.X_OK) else "-"
        digest.update(f"{name}\0{mode}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()[:24]


def revision(root: Path, sources: list[str]) -> str:
    commit = (_git(root, "rev-parse", "--short=12", "HEAD") or "").strip()
    if not commit:
        return "unknown"
    dirty = (_git(root, "status", "--porcelain", "--", *sources) or "").strip()
    return f"{commit}-dirty" if dirty else commit


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(argv[0]).resolve()
    inventory = os.path.relpath(Path(argv[1]).resolve(), root)
    sources = [*SOURCES, inventory]
    print(json.dumps({"key": key(root, sources, argv[2:]), "revision": revision(root, sources)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
