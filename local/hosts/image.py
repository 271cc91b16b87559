"""The test-host image: a systemd-capable Debian bookworm image for podman, built from Debian
packages (debootstrap + ``podman import``), and the containers.conf podman needs on this host.

Used by pytest, Molecule and ``make up`` alike::

    python -m local.hosts.image build [--force]   # build (or reuse) the image
    python -m local.hosts.image conf              # write containers.conf, print export line
    python -m local.hosts.image remove [--cache]  # remove the image (and the cache)

Caching, in two layers under ``.cache/hostimage/``:

1. ``base-<key>.tar``: the bare debootstrap rootfs, keyed by what debootstrap is given (suite,
   variant, packages, mirror, debootstrap version). The downloaded .debs are kept in ``debs/``.
2. The image itself carries the label ``org.streamstack.hostimage.recipe``: a hash of this
   file's source and every input (mirrors, packages, masked units, the host's extra CA
   certificates). When it matches, ``build`` returns at once. When only the customisation
   changed, the base tarball is unpacked again and the debootstrap step is skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Self

from local import ROOT

CACHE = ROOT / ".cache"
IMAGE_CACHE = CACHE / "hostimage"
CONTAINERS_CONF = CACHE / "containers.conf"
# Shared by every test host as /var/cache/apt/archives: a package is downloaded once per
# machine, not once per container (apt's own lock file serialises concurrent installs).
APT_ARCHIVES = CACHE / "apt-archives"

IMAGE = "localhost/streamstack-host:bookworm"
LABEL = "org.streamstack.hostimage.recipe"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
PACKAGES = (
    "python3",
    "python3-apt",
    "python3-packaging",
    "systemd",
    "systemd-sysv",
    "dbus",
    "sudo",
    "ca-certificates",
    "iproute2",
    "procps",
)
# Units that cannot work in a container and only slow the boot down or spam the journal.
MASKED_UNITS = (
    "systemd-remount-fs.service",
    "getty@tty1.service",
    "console-getty.service",
    "sys-kernel-config.mount",
    "sys-kernel-debug.mount",
)
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
_CERT_RE = re.compile(r"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.DOTALL)


def log(msg: str) -> None:
    print(f"[hostimage] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- apt mirrors


def host_mirrors(paths: list[Path] | None = None) -> tuple[str, str]:
    """(main mirror, security mirror) from the host's apt sources, deb822 or one-line."""
    if paths is None:
        apt = Path("/etc/apt")
        paths = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*.list"))]
        paths += sorted((apt / "sources.list.d").glob("*.sources"))
    entries: list[tuple[str, list[str]]] = []  # (uri, suites)
    for path in paths:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line:
                        continue
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
                if fields.get("enabled", "yes").lower() == "no":
                    continue
                if "deb" not in fields.get("types", "").split():
                    continue
                for uri in fields.get("uris", "").split():
                    entries.append((uri, fields.get("suites", "").split()))
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    entries.append((words[1], [words[2]]))
    debian = [
        (uri.rstrip("/"), suites)
        for uri, suites in entries
        if uri.startswith(("http://", "https://", "file:/"))
    ]
    main = next(
        (u for u, s in debian if any(x in (SUITE, f"{SUITE}-updates") for x in s)),
        DEFAULT_MIRROR,
    )
    security = next(
        (u for u, s in debian if f"{SUITE}-security" in s or f"{SUITE}/updates" in s),
        DEFAULT_SECURITY_MIRROR,
    )
    return main, security


# --------------------------------------------------------------------------- recipe


def host_extra_certs(image_bundle: str = "") -> list[str]:
    """Certificates in the host's bundle; with image_bundle, only those the image lacks."""
    if not HOST_CA_BUNDLE.is_file():
        return []
    host = [c.strip() for c in _CERT_RE.findall(HOST_CA_BUNDLE.read_text(errors="replace"))]
    known = {c.strip() for c in _CERT_RE.findall(image_bundle)}
    return [c for c in host if c not in known]


def _debootstrap_version() -> str:
    try:
        out = subprocess.run(
            ["debootstrap", "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "missing"
    return out.strip()


@dataclass(frozen=True)
class DebianRecipe:
    """What decides a Debian image built on a debootstrap base (the hosts' image here, the
    execution environment's base in scripts/ee.py): the base tarball is cached by base_key,
    the image labelled with digest."""

    suite: str = SUITE
    mirror: str = DEFAULT_MIRROR
    security_mirror: str = DEFAULT_SECURITY_MIRROR
    packages: tuple[str, ...] = PACKAGES
    debootstrap: str = ""
    host_certs_sha256: str = ""
    source_sha256: str = field(default="")

    @classmethod
    def _from_host(cls, source: bytes) -> Self:
        """The recipe on this machine: its mirrors, debootstrap and extra CA certificates, and
        the builder's source that shapes the image."""
        mirror, security = host_mirrors()
        certs = "\n".join(host_extra_certs())
        return cls(
            mirror=mirror,
            security_mirror=security,
            debootstrap=_debootstrap_version(),
            host_certs_sha256=hashlib.sha256(certs.encode()).hexdigest(),
            source_sha256=hashlib.sha256(source).hexdigest(),
        )

    def _hash(self, data: dict) -> str:
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def digest(self) -> str:
        """Hash of the whole recipe: the builder's source and every input."""
        return self._hash(asdict(self))

    @property
    def base_key(self) -> str:
        """Hash of debootstrap's inputs only: what the cached base tarball depends on."""
        keys = ("suite", "mirror", "packages", "debootstrap")
        return self._hash({k: v for k, v in asdict(self).items() if k in keys})

    def sources_list(self) -> str:
        return (
            f"deb {self.mirror} {self.suite} main\n"
            f"deb {self.mirror} {self.suite}-updates main\n"
            f"deb {self.security_mirror} {self.suite}-security main\n"
        )


@dataclass(frozen=True)
class Recipe(DebianRecipe):
    """Everything that decides the test hosts' image."""

    masked_units: tuple[str, ...] = MASKED_UNITS

    @classmethod
    def from_host(cls) -> Recipe:
        return cls._from_host(Path(__file__).read_bytes())


# --------------------------------------------------------------------------- podman


def podman(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONTAINERS_CONF": str(write_containers_conf())}
    kwargs.setdefault("check", True)
    return subprocess.run(["podman", *args], env=env, **kwargs)


def image_label(image: str = IMAGE) -> str | None:
    """The recipe label of the image, or None when the image does not exist."""
    proc = podman(
        "image",
        "inspect",
        "--format",
        f'{{{{index .Labels "{LABEL}"}}}}',
        image,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def _limit(kind: int, fallback: int) -> int:
    hard = resource.getrlimit(kind)[1]
    return fallback if hard == resource.RLIM_INFINITY else hard


def containers_conf_text() -> str:
    """containers.conf for this host: ulimits within the hard limits (root here lacks
    CAP_SYS_RESOURCE, so a container cannot get more), the shared apt archive cache,
    cgroupfs, file events, runc (crun refuses this host's hybrid cgroups)."""
    nofile = _limit(resource.RLIMIT_NOFILE, 1048576)
    nproc = min(_limit(resource.RLIMIT_NPROC, 32768), 32768)
    return (
        "# Generated by local/hosts/image.py from this host's limits; do not edit.\n"
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        f'volumes = ["{APT_ARCHIVES}:/var/cache/apt/archives:rw"]\n'
        "\n[engine]\n"
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
        'runtime = "runc"\n'
    )


def write_containers_conf(path: Path = CONTAINERS_CONF) -> Path:
    (APT_ARCHIVES / "partial").mkdir(parents=True, exist_ok=True)
    text = containers_conf_text()
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(text)
        tmp.replace(path)
    return path


def env() -> dict[str, str]:
    """Environment for podman, Molecule and testinfra's podman backend."""
    return {"CONTAINERS_CONF": str(write_containers_conf())}


# --------------------------------------------------------------------------- build


@contextlib.contextmanager
def _lock() -> Iterator[None]:
    IMAGE_CACHE.mkdir(parents=True, exist_ok=True)
    with open(IMAGE_CACHE / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(*cmd: str, **kwargs) -> None:
    subprocess.run(cmd, check=True, **kwargs)


def _base_tarball(recipe: Recipe) -> Path:
    """The bare debootstrap rootfs as a tarball, built once per debootstrap input."""
    tarball = IMAGE_CACHE / f"base-{recipe.base_key}.tar"
    if tarball.is_file():
        log(f"reusing {tarball.name}")
        return tarball
    return debootstrap_tarball(
        tarball,
        suite=recipe.suite,
        packages=recipe.packages,
        mirror=recipe.mirror,
        stale="base-*.tar",
    )


def debootstrap_tarball(
    tarball: Path, *, suite: str, packages: Iterable[str], mirror: str, stale: str
) -> Path:
    """A minbase debootstrap of ``suite`` with ``packages`` from ``mirror``, as ``tarball``
    (its folder keeps the downloaded .debs for the next one); older tarballs there matching
    ``stale`` go. The host image and the execution environment's base (scripts/ee.py) both
    start from one."""
    if shutil.which("debootstrap") is None:
        raise SystemExit("debootstrap is missing: apt-get install -y debootstrap podman runc")
    cache = tarball.parent
    rootfs, debs = cache / "debootstrap", cache / "debs"
    shutil.rmtree(rootfs, ignore_errors=True)
    debs.mkdir(parents=True, exist_ok=True)
    log(f"debootstrap {suite} from {mirror} (1-3 minutes)")
    _run(
        "debootstrap",
        "--variant=minbase",
        f"--cache-dir={debs}",
        "--include=" + ",".join(packages),
        suite,
        str(rootfs),
        mirror,
        stdout=subprocess.DEVNULL,
    )
    tmp = tarball.with_suffix(".tmp")
    _run("tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(tmp), ".")
    tmp.replace(tarball)
    shutil.rmtree(rootfs, ignore_errors=True)
    for old in cache.glob(stale):
        if old != tarball:
            old.unlink()
    return tarball


def _customise(rootfs: Path, recipe: Recipe) -> None:
    """What turns a bare debootstrap tree into a host Molecule and Ansible can use."""
    (rootfs / "etc/apt/sources.list").write_text(recipe.sources_list())
    # Empty package lists, dated 1970: apt's cache_valid_time must see them as stale.
    lists = rootfs / "var/lib/apt/lists"
    shutil.rmtree(lists, ignore_errors=True)
    (lists / "partial").mkdir(parents=True)
    os.utime(lists / "partial", (0, 0))
    os.utime(lists, (0, 0))
    for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    # Empty machine-id: systemd makes a fresh one on each container's first boot.
    (rootfs / "etc/machine-id").write_text("")
    dbus_id = rootfs / "var/lib/dbus/machine-id"
    if dbus_id.is_file() or dbus_id.is_symlink():
        dbus_id.unlink()
    for unit in recipe.masked_units:
        link = rootfs / "etc/systemd/system" / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    # Trust the host's extra CA certificates (an intercepting proxy may sit in front of PyPI).
    bundle = rootfs / "etc/ssl/certs/ca-certificates.crt"
    extra = host_extra_certs(bundle.read_text(errors="replace") if bundle.is_file() else "")
    local = rootfs / "usr/local/share/ca-certificates"
    local.mkdir(parents=True, exist_ok=True)
    for index, cert in enumerate(extra):
        (local / f"host-extra-{index:03d}.crt").write_text(cert + "\n")
    if extra:
        log(f"trusting {len(extra)} extra CA certificate(s) of the host")
        _run("chroot", str(rootfs), "update-ca-certificates", stdout=subprocess.DEVNULL)


def build(force: bool = False) -> dict:
    """Build the image unless one with the same recipe exists. Returns what happened."""
    started = time.monotonic()
    recipe = Recipe.from_host()
    with _lock():
        if not force and image_label() == recipe.digest:
            return {
                "image": IMAGE,
                "recipe": recipe.digest,
                "built": False,
                "seconds": round(time.monotonic() - started, 2),
            }
        tarball = _base_tarball(recipe)
        work = IMAGE_CACHE / "rootfs"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            _run("tar", "--numeric-owner", "--xattrs", "-C", str(work), "-xf", str(tarball))
            _customise(work, recipe)
            log(f"podman import {IMAGE}")
            tar = subprocess.Popen(
                ["tar", "--numeric-owner", "--xattrs", "-C", str(work), "-c", "."],
                stdout=subprocess.PIPE,
            )
            podman(
                "import",
                "--change",
                'CMD ["/sbin/init"]',
                "--change",
                "STOPSIGNAL SIGRTMIN+3",
                "--change",
                f"LABEL {LABEL}={recipe.digest}",
                "-",
                IMAGE,
                stdin=tar.stdout,
                stdout=subprocess.DEVNULL,
            )
            if tar.wait() != 0:
                raise RuntimeError("tar of the rootfs failed")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        # Drop the dangling previous image, if any.
        podman("image", "prune", "-f", check=False, capture_output=True)
    return {
        "image": IMAGE,
        "recipe": recipe.digest,
        "built": True,
        "seconds": round(time.monotonic() - started, 2),
    }


def remove(cache: bool = False) -> None:
    with _lock():
        podman("rmi", "-f", IMAGE, check=False, capture_output=True)
        if cache:
            for path in IMAGE_CACHE.iterdir():
                if path.name != ".lock":
                    if path.is_dir():
                        shutil.rmtree(path)
                    else:
                        path.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.hosts.image")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help=f"build {IMAGE} unless it is up to date")
    b.add_argument("--force", action="store_true", help="rebuild even if up to date")
    sub.add_parser("conf", help="write containers.conf and print `export CONTAINERS_CONF=...`")
    r = sub.add_parser("remove", help="remove the image")
    r.add_argument("--cache", action="store_true", help="also delete the cached rootfs/.debs")
    args = parser.parse_args(argv)
    if args.command == "build":
        print(json.dumps(build(force=args.force)))
    elif args.command == "conf":
        print(f"export CONTAINERS_CONF={write_containers_conf()}")
    else:
        remove(cache=args.cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
