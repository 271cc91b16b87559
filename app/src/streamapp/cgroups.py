"""Each ffmpeg and ffprobe that reads an upload runs in a cgroup of its own.

A hostile file can make a decoder take all the memory, threads or CPU it is given. Under
systemd the app's units are bounded as a whole (MemoryMax, TasksMax, CPUQuota); with
``Delegate=`` the unit's cgroup also belongs to the service user, and then every media process
gets a child cgroup with its own ``memory.max``, ``pids.max`` and ``cpu.max``, below the unit's:
a file that outgrows them gets that process killed by the kernel, inside its own cgroup, and
the worker or API process that started it stays up to report the failure.

- :func:`enter` (once, at process start: ``streamapp-worker``, the API's gunicorn master before
  it forks) moves the process into a leaf, ``<unit>/main``, and hands the unit's controllers to
  its children (cgroup v2 forbids processes in a cgroup whose children have controllers).
- :func:`child` makes ``<unit>/media-<id>`` with the limits; :meth:`Child.wrap` prefixes a
  command with a shell that writes its own pid into the child's ``cgroup.procs`` and then execs
  the command, so the tool is inside before its first instruction (and no Python runs between
  fork and exec in a threaded process). The child is removed afterwards, its processes killed
  first if any is left; :attr:`Child.oom_killed` says whether the kernel killed one for memory.
- Without a delegated cgroup (a developer's shell, tests, a unit without ``Delegate=``, a
  container whose cgroups are read-only), :func:`enter` logs why once and media processes run
  in the process's own cgroup, bounded only by the unit's limits and the probes' address-space
  limit; :func:`child` then changes nothing.

cgroup v2 (Debian 12, Ubuntu 24.04, Amazon Linux 2023) and v1 (the ``memory``, ``pids`` and
``cpu`` hierarchies of a legacy or hybrid host) are both understood.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamapp.config import Settings

log = logging.getLogger("streamapp.cgroups")

ROOT = Path("/sys/fs/cgroup")
LEAF = "main"
CHILD_PREFIX = "media-"
CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000
# Joins the cgroup.procs files given (count first), then execs the command.
JOIN_FAILED = 125
_JOIN = (
    'n=$1; shift; while [ "$n" -gt 0 ]; do if ! echo $$ > "$1"; then'
    f' echo "streamapp-cgroup: cannot join $1" >&2; exit {JOIN_FAILED}; fi;'
    ' n=$((n - 1)); shift; done; exec "$@"'
)


@dataclass(frozen=True)
class Limits:
    """One media process's limits; 0 leaves one to the unit."""

    memory_bytes: int = 0
    tasks: int = 0
    cpu_percent: int = 0  # of one CPU (200: two CPUs' time)


@dataclass
class Delegation:
    """This process's delegated cgroup: v2, one directory; v1, one per controller."""

    version: int
    dirs: dict[str, Path]  # v2: {"": unit}; v1: {"memory": ..., "pids": ..., "cpu": ...}

    def describe(self) -> str:
        return ", ".join(str(p) for p in self.dirs.values())


@dataclass
class _State:
    delegation: Delegation | None = None
    reason: str = "not checked yet"
    entered: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


_state = _State()


def _own_paths(proc_cgroup: str) -> dict[str, str]:
    """/proc/self/cgroup as {controller or "": path} ("" is cgroup v2's line)."""
    found: dict[str, str] = {}
    for line in proc_cgroup.splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            found[name] = path
    return found


def _unit_dir(path: Path) -> Path:
    # A process started from a leaf already (a gunicorn worker forked after its master moved,
    # a re-exec): the unit is its parent.
    return path.parent if path.name == LEAF else path


def _delegated_to_us(path: Path) -> bool:
    """The kernel's own rule: an unprivileged user may write a cgroup only where systemd gave
    it (Delegate=, which chowns the unit's cgroup). Root may write anywhere, so for root only
    systemd's mark counts."""
    try:
        if os.geteuid() != 0:
            return path.stat().st_uid == os.geteuid() and os.access(path / "cgroup.procs", os.W_OK)
        return os.getxattr(path, "trusted.delegate") == b"1"
    except OSError:
        return False


def discover(root: Path = ROOT, proc_cgroup: str | None = None) -> tuple[Delegation | None, str]:
    """This process's delegated cgroup, or None and why not."""
    try:
        text = proc_cgroup if proc_cgroup is not None else Path("/proc/self/cgroup").read_text()
    except OSError as exc:
        return None, f"no /proc/self/cgroup ({exc.strerror})"
    paths = _own_paths(text)
    if (root / "cgroup.controllers").is_file():  # cgroup v2 only
        unit = _unit_dir(root / paths.get("", "/").lstrip("/"))
        if not _delegated_to_us(unit):
            return None, f"{unit} is not delegated to this user (systemd: Delegate=)"
        available = set((unit / "cgroup.controllers").read_text().split())
        missing = [c for c in CONTROLLERS if c not in available]
        if missing:
            return (
                None,
                f"{unit} lacks the controllers {', '.join(missing)}"
                f" (systemd: Delegate={' '.join(CONTROLLERS)})",
            )
        return Delegation(2, {"": unit}), ""
    dirs: dict[str, Path] = {}
    for controller in CONTROLLERS:
        if controller not in paths or not (root / controller).is_dir():
            return None, f"no cgroup v1 hierarchy for {controller} under {root}"
        unit = _unit_dir(root / controller / paths[controller].lstrip("/"))
        if not _delegated_to_us(unit):
            return None, (
                f"{unit} is not delegated to this user (cgroup v1: systemd delegates"
                " controllers to an unprivileged service on cgroup v2 only)"
            )
        dirs[controller] = unit
    return Delegation(1, dirs), ""


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _prepare(delegation: Delegation) -> None:
    """Into the leaf; the controllers handed to the children (v2); stale children removed."""
    pid = str(os.getpid())
    for unit in delegation.dirs.values():
        leaf = unit / LEAF
        leaf.mkdir(exist_ok=True)
        procs = leaf / "cgroup.procs"
        if not procs.exists() or pid not in procs.read_text().split():
            _write(procs, pid)
        for stale in unit.glob(CHILD_PREFIX + "*"):
            _remove(stale)
    if delegation.version == 2:
        unit = delegation.dirs[""]
        enabled = set((unit / "cgroup.subtree_control").read_text().split())
        wanted = [c for c in CONTROLLERS if c not in enabled]
        if wanted:
            _write(unit / "cgroup.subtree_control", " ".join(f"+{c}" for c in wanted))


def enter(root: Path = ROOT, proc_cgroup: str | None = None) -> Delegation | None:
    """Once per process (later calls return the first answer): the delegated cgroup, prepared
    for media children, or None (logged once, with the reason)."""
    with _state.lock:
        if _state.entered:
            return _state.delegation
        _state.entered = True
        try:
            delegation, reason = discover(root, proc_cgroup)
        except (OSError, ValueError) as exc:  # an unexpected /proc or /sys: never fatal here
            delegation, reason = None, f"cannot read this process's cgroup: {exc}"
        if delegation is not None:
            try:
                _prepare(delegation)
            except OSError as exc:
                delegation, reason = None, f"cannot use {delegation.describe()}: {exc}"
        _state.delegation, _state.reason = delegation, reason
    if delegation is None:
        log.warning(
            "ffmpeg and ffprobe run in this process's cgroup, without limits of their own: %s",
            reason,
            extra={"cgroup": None, "reason": reason},
        )
    else:
        log.info(
            "ffmpeg and ffprobe run each in a cgroup of its own",
            extra={"cgroup": delegation.describe(), "cgroup_version": delegation.version},
        )
    return delegation


def reset_for_tests() -> None:
    global _state
    _state = _State()


class Child:
    """One media process's cgroup (or nothing, without a delegated cgroup)."""

    def __init__(self, delegation: Delegation | None, limits: Limits) -> None:
        self.delegation, self.limits = delegation, limits
        self.name = CHILD_PREFIX + uuid.uuid4().hex[:12]
        self.dirs: dict[str, Path] = {}
        self.oom_killed = False

    @property
    def confined(self) -> bool:
        return bool(self.dirs)

    def create(self) -> None:
        if self.delegation is None:
            return
        for controller, unit in self.delegation.dirs.items():
            path = unit / self.name
            path.mkdir()
            self.dirs[controller] = path
        lim = self.limits
        if self.delegation.version == 2:
            path = self.dirs[""]
            if lim.memory_bytes:
                _write(path / "memory.max", str(lim.memory_bytes))
                _set_if_present(path / "memory.swap.max", "0")
                _set_if_present(path / "memory.oom.group", "1")
            if lim.tasks:
                _write(path / "pids.max", str(lim.tasks))
            if lim.cpu_percent:
                _write(
                    path / "cpu.max", f"{lim.cpu_percent * CPU_PERIOD_US // 100} {CPU_PERIOD_US}"
                )
            return
        if lim.memory_bytes:
            _write(self.dirs["memory"] / "memory.limit_in_bytes", str(lim.memory_bytes))
            _set_if_present(
                self.dirs["memory"] / "memory.memsw.limit_in_bytes", str(lim.memory_bytes)
            )
        if lim.tasks:
            _write(self.dirs["pids"] / "pids.max", str(lim.tasks))
        if lim.cpu_percent:
            # v1 refuses a child's quota above its parent's (EINVAL); v2 nests them as they are.
            quota = lim.cpu_percent * CPU_PERIOD_US // 100
            parent = int((self.delegation.dirs["cpu"] / "cpu.cfs_quota_us").read_text())
            if parent > 0:
                quota = min(quota, parent)
            _write(self.dirs["cpu"] / "cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write(self.dirs["cpu"] / "cpu.cfs_quota_us", str(quota))

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` started inside this cgroup (unchanged without one)."""
        if not self.dirs:
            return argv
        procs = [str(p / "cgroup.procs") for p in self.dirs.values()]
        return ["/bin/sh", "-c", _JOIN, "streamapp-cgroup", str(len(procs)), *procs, *argv]

    def check_joined(self, returncode: int, stderr: bytes) -> None:
        """Raise :class:`CgroupError` when the wrapper could not put the tool into the cgroup
        (it then never ran)."""
        if self.dirs and returncode == JOIN_FAILED and b"streamapp-cgroup: cannot join" in stderr:
            raise CgroupError(
                "a media process could not enter its cgroup: "
                + stderr.decode(errors="replace").strip().splitlines()[-1]
            )

    def close(self) -> None:
        if not self.dirs:
            return
        self.oom_killed = _oom_kills(self.delegation, self.dirs) > 0
        for path in self.dirs.values():
            _remove(path)


def _set_if_present(path: Path, value: str) -> None:
    if path.exists():
        _write(path, value)


def _oom_kills(delegation: Delegation | None, dirs: dict[str, Path]) -> int:
    """The kernel's count of processes it killed in the cgroup for memory."""
    try:
        if delegation is not None and delegation.version == 2:
            text = (dirs[""] / "memory.events").read_text()
        else:
            text = (dirs["memory"] / "memory.oom_control").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value)
    return 0


def _remove(path: Path) -> None:
    """rmdir a child cgroup, killing what is left in it first (a tool's own children)."""
    for _ in range(50):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                log.warning("could not remove cgroup %s: %s", path, exc)
                return
        if (path / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                _write(path / "cgroup.kill", "1")
        else:
            with contextlib.suppress(OSError):
                for pid in (path / "cgroup.procs").read_text().split():
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(int(pid), signal.SIGKILL)
        time.sleep(0.02)
    log.warning("could not remove cgroup %s: still busy", path)


@contextlib.contextmanager
def child(limits: Limits) -> Iterator[Child]:
    """A cgroup for one media process, removed afterwards; see :class:`Child`."""
    media = Child(enter(), limits)
    try:
        media.create()
    except OSError as exc:
        # A delegated cgroup that refuses a child: refuse the media too, rather than run it
        # unbounded where its limits were promised.
        for path in media.dirs.values():
            with contextlib.suppress(OSError):
                path.rmdir()
        raise CgroupError(f"could not make a cgroup for a media process: {exc}") from exc
    try:
        yield media
    finally:
        media.close()


class CgroupError(RuntimeError):
    pass


def memory_bytes(value: str, total: int | None = None) -> int:
    """A size (bytes, or with K, M, G or T) or a percentage of the host's RAM, in bytes."""
    value = value.strip()
    if value.endswith("%"):
        if total is None:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return total * int(value[:-1]) // 100
    units = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    if value[-1:].upper() in units:
        return int(value[:-1]) * units[value[-1:].upper()]
    return int(value)


def limits(settings: Settings, memory: int) -> Limits:
    """A media process's limits: ``memory`` bytes, the settings' tasks and CPU share (of all
    the CPUs this process may run on, as systemd's CPUQuota= counts them)."""
    cpus = len(os.sched_getaffinity(0))
    return Limits(
        memory_bytes=memory,
        tasks=settings.ffmpeg_tasks_max,
        cpu_percent=settings.ffmpeg_cpu_quota_percent * cpus,
    )
