#!/usr/bin/python3
"""Which systemd units still run replaced code after a package upgrade (checkrestart-like).

A process needs a restart when its executable or a file it maps (shared libraries) was deleted
or replaced since it started: /proc/<pid>/exe or /proc/<pid>/maps say "(deleted)". Each such
process is attributed to the systemd unit of its cgroup. Prints JSON:

    {"units": ["nginx.service", ...],      # service units to restart
     "pid1": false,                        # systemd itself (systemctl daemon-reexec)
     "other": [{"pid": 1234, "comm": "bash", "cgroup": "/user.slice/..."}]}

Run by playbooks/patch.yml with the host's own Python (3.9+), standard library only.
"""

from __future__ import annotations

import json
import os
import re

# Only code from the system's package directories counts (not /tmp, /dev/shm, memfd: ...).
CODE_PREFIXES = ("/usr/", "/lib", "/bin/", "/sbin/", "/opt/", "/etc/")
UNIT = re.compile(r"/([^/]+\.service)(?:/|$)")


def replaced_files(pid: str) -> list[str]:
    found = []
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
        if exe.endswith(" (deleted)"):
            found.append(exe)
    except OSError:
        pass  # kernel threads have no exe
    for line in read_maps(pid).splitlines():
        if not line.rstrip().endswith("(deleted)"):
            continue
        parts = line.split(None, 5)
        path = parts[5].rstrip() if len(parts) == 6 else ""
        if path.startswith(CODE_PREFIXES):
            found.append(path)
    return found


def read_maps(pid: str) -> str:
    """/proc/<pid>/maps; as the process's own user when root may not read it (root without
    CAP_SYS_PTRACE, e.g. in a container, cannot read another user's maps; the owner can)."""
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as maps:
            return maps.read()
    except PermissionError:
        pass
    except OSError:
        return ""  # the process is gone
    try:
        stat = os.stat(f"/proc/{pid}")
    except OSError:
        return ""
    if os.geteuid() != 0 or stat.st_uid == 0:
        return ""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        os.close(read_end)
        try:
            os.setgroups([])
            os.setgid(stat.st_gid)
            os.setuid(stat.st_uid)
            with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as maps:
                os.write(write_end, maps.read().encode())
        except OSError:
            pass
        os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(child, 0)
    return b"".join(chunks).decode(errors="replace")


def unit_of(pid: str) -> tuple[str | None, str]:
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8") as cgroup:
            lines = cgroup.read().splitlines()
    except OSError:
        return None, ""
    # cgroup v2 ("0::/system.slice/x.service") or v1's systemd hierarchy ("1:name=systemd:/...").
    paths = [line.split(":", 2)[2] for line in lines if line.count(":") >= 2]
    preferred = [p for p in paths if ".service" in p] or paths
    for path in preferred:
        match = UNIT.findall(path)
        if match:
            return match[-1], path
    return None, preferred[0] if preferred else ""


def main() -> None:
    units, other, pid1 = set(), [], False
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if pid == str(os.getpid()) or not replaced_files(pid):
            continue
        if pid == "1":
            pid1 = True
            continue
        unit, cgroup = unit_of(pid)
        if unit:
            units.add(unit)
        else:
            try:
                with open(f"/proc/{pid}/comm", encoding="utf-8") as comm:
                    name = comm.read().strip()
            except OSError:
                name = "?"
            other.append({"pid": int(pid), "comm": name, "cgroup": cgroup})
    print(json.dumps({"units": sorted(units), "pid1": pid1, "other": other}))


if __name__ == "__main__":
    main()
