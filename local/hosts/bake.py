"""Baked hosts: a configured web and worker host saved as local podman images, so the next
`make up` starts hosts that configure.yml has converged before (the golden-AMI pattern).

    python -m local.hosts.bake key                 # the key of the current sources
    python -m local.hosts.bake images              # {role: image} baked for that key
    python -m local.hosts.bake save --fleet NAME [--settings F]  # bake one host per role
    python -m local.hosts.bake remove              # remove every baked image

A baked image is a cache, never a source of truth: configure.yml still runs in full on hosts
started from one and converges them to this run's settings (emulator and PostgreSQL ports,
secrets, bucket, instance ids). What a bake saves is the part that does not change between
runs: the Debian packages, the app's venv and wheel, the rendered units.

The key hashes what a converged host is made of: the files Git sees (tracked or untracked,
not ignored) under roles/, playbooks/, group_vars/, inventories/, collections/, app/ (its tests
left out), local/standin/cloudwatch_agent/ and ansible.cfg, the Ansible versions, and the
test-host image's recipe label. A bake for another key is not used, and the next bake replaces
it: one image per role, ``localhost/streamstack-baked:<role>`` (``UP_BAKE_REPO`` changes the
repository name, so tests keep theirs apart from a developer's).

Baked images hold the generated settings of the run they were baked from (local emulator
credentials only); ``make down`` keeps them like the other caches, ``remove`` deletes them.
With ``--settings`` (the run's settings file: emulator and PostgreSQL ports, the page origin,
the signing secret) a bake of the same key made with other settings is baked again, on top of
itself: the hosts the Auto Scaling groups launch during this run start from it with no
configure.yml, so it must hold this run's nginx and app settings. That bake adds only what
configure.yml changed (a small layer); every SQUASH_AFTER layers the image is squashed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

from local import ROOT
from local.hosts import FLEET_LABEL
from local.hosts import image as hostimage

KEY_LABEL = "org.streamstack.bake.key"
ROLE_LABEL = "org.streamstack.bake.role"
SETTINGS_LABEL = "org.streamstack.bake.settings"
# Layers a bake may stack on the test-host image before the next one squashes them into one.
SQUASH_AFTER = 8
# The test suites' bakes: tests/local/test_make_up.py makes them,
# tests/playbooks/test_patch.py starts from them.
TEST_REPO = "localhost/streamstack-baked-test"
SOURCES = (
    "roles",
    "playbooks",
    "group_vars",
    "inventories",
    "collections",
    "app",
    "local/standin/cloudwatch_agent",
    "ansible.cfg",
)


def repository() -> str:
    return os.environ.get("UP_BAKE_REPO", "localhost/streamstack-baked")


def image(role: str, repo: str | None = None) -> str:
    return f"{repo or repository()}:{role}"


def _files(root: Path = ROOT) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *SOURCES],
        cwd=root,
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout.decode()
    return sorted({f for f in out.split("\0") if f})


def key(root: Path = ROOT) -> str:
    """sha256 (first 24 hex digits) of everything a converged host is made of."""
    digest = hashlib.sha256()
    digest.update(f"base={hostimage.image_label() or ''}\n".encode())
    for dist in ("ansible", "ansible-core"):
        try:
            digest.update(f"{dist}={metadata.version(dist)}\n".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{dist}=-\n".encode())
    for name in _files(root):
        path = root / name
        if path.is_symlink():
            content = os.readlink(path).encode()
        elif path.is_file():
            content = path.read_bytes()
        else:  # listed by git, deleted in the work tree
            continue
        mode = "x" if os.access(path, os.X_OK) else "-"
        digest.update(f"{name}\0{mode}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()[:24]


def _inspect(ref: str, template: str) -> str | None:
    """`podman image inspect --format template` of an image, None when it does not exist."""
    out = hostimage.podman(
        "image", "inspect", "--format", template, ref,
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    return out.stdout.strip() if out.returncode == 0 else None


def _labels(ref: str) -> dict[str, str] | None:
    labels = _inspect(ref, "{{json .Labels}}")
    return None if labels is None else json.loads(labels or "null") or {}


def images(
    for_key: str | None = None, roles: Iterable[str] = ("web", "worker"), repo: str | None = None
) -> dict[str, str]:
    """{role: image} of the baked images made for `for_key` (default: the current key)."""
    for_key = for_key or key()
    found = {}
    for role in roles:
        labels = _labels(image(role, repo))
        if labels and labels.get(KEY_LABEL) == for_key:
            found[role] = image(role, repo)
    return found


def _fleet_hosts(fleet: str) -> dict[str, str]:
    """{role: container} of one running container per role of a fleet."""
    out = hostimage.podman(
        "ps", "--filter", f"label={FLEET_LABEL}={fleet}", "--format", "json",
        capture_output=True, text=True,
    )  # fmt: skip
    chosen: dict[str, str] = {}
    for c in sorted(json.loads(out.stdout or "[]"), key=lambda c: c["Names"][0]):
        role = (c.get("Labels") or {}).get(f"{FLEET_LABEL}.role")
        if role and c.get("State") == "running":
            chosen.setdefault(role, c["Names"][0])
    return chosen


def _bake(role: str, container: str, for_key: str, settings: str | None = None) -> str:
    started = time.monotonic()
    old = _inspect(image(role), "{{.Id}}")
    layers = int(_inspect(container_image(container), "{{len .RootFS.Layers}}") or 0)
    squash = ["--squash"] if layers > SQUASH_AFTER else []
    # The journal is the run's, not the image's; volumes (apt and pip caches, the stand-in
    # package repository) are never part of a commit.
    hostimage.podman(
        "exec", container, "journalctl", "--rotate", "--vacuum-time=1s",
        check=False, capture_output=True, timeout=60,
    )  # fmt: skip
    hostimage.podman(
        "commit", "--quiet",
        "--change", f"LABEL {KEY_LABEL}={for_key}",
        "--change", f"LABEL {ROLE_LABEL}={role}",
        "--change", f"LABEL {SETTINGS_LABEL}={settings or ''}",
        *squash, container, image(role),
        capture_output=True, timeout=900,
    )  # fmt: skip
    if old:  # the bake it replaces; if a container still uses it, `remove` takes it later
        hostimage.podman("rmi", old, check=False, capture_output=True)
    what = "baked" + (" (squashed)" if squash else "")
    return f"{what} {image(role)} from {container} in {time.monotonic() - started:.0f} s"


def container_image(container: str) -> str:
    out = hostimage.podman(
        "inspect", "--format", "{{.Image}}", container, capture_output=True, text=True
    )
    return out.stdout.strip()


def settings_of(ref: str) -> str | None:
    """The settings digest a baked image was made with (None: no such image or label)."""
    return (_labels(ref) or {}).get(SETTINGS_LABEL) or None


def settings_digest(path: Path) -> str:
    """sha256 (first 24 hex digits) of a run's settings file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:24]


def save(fleet: str, for_key: str | None = None, settings: str | None = None) -> dict[str, str]:
    """Bake one running host per role of `fleet` (in parallel) unless an image for `for_key`
    (and, given, these `settings`) exists. Returns {role: 'baked ... in N s' | 'up to date'}."""
    for_key = for_key or key()
    current = {
        role: ref
        for role, ref in images(for_key).items()
        if settings is None or (_labels(ref) or {}).get(SETTINGS_LABEL) == settings
    }
    hosts = _fleet_hosts(fleet)
    report = {role: "up to date" for role in hosts if role in current}
    todo = {role: c for role, c in hosts.items() if role not in current}
    with ThreadPoolExecutor(max_workers=max(1, len(todo))) as pool:
        futures = {role: pool.submit(_bake, role, c, for_key, settings) for role, c in todo.items()}
        report |= {role: future.result() for role, future in futures.items()}
    return report


def remove(repo: str | None = None) -> list[str]:
    """Remove the images of the baked images' repository (default: ``repository()``) and any
    earlier bake left untagged. An image a container still uses stays (podman refuses); the
    ids that stayed are returned."""
    ids: set[str] = set()
    for filters in (
        ["--filter", f"reference={repo or repository()}"],
        ["--filter", "dangling=true", "--filter", f"label={ROLE_LABEL}"],
    ):
        out = hostimage.podman(
            "images", *filters, "--format", "{{.Id}}", capture_output=True, text=True
        )
        ids |= set(out.stdout.split())
    kept = []
    for image_id in sorted(ids):
        if hostimage.podman("rmi", image_id, check=False, capture_output=True).returncode:
            kept.append(image_id)
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.hosts.bake")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("key", help="the key of the current sources")
    sub.add_parser("images", help="baked images usable with the current sources (JSON)")
    s = sub.add_parser("save", help="bake one running host per role of a fleet")
    s.add_argument("--fleet", required=True)
    s.add_argument("--settings", type=Path, help="the run's settings file (bake again when new)")
    sub.add_parser("remove", help="remove every baked image")
    args = parser.parse_args(argv)
    if args.action == "key":
        print(key())
    elif args.action == "images":
        print(json.dumps(images(), indent=2))
    elif args.action == "save":
        settings = settings_digest(args.settings) if args.settings else None
        for role, what in sorted(save(args.fleet, settings=settings).items()):
            print(f"{role}: {what}")
    else:
        for image_id in remove():
            print(f"kept {image_id[:12]}: a container still uses it", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
