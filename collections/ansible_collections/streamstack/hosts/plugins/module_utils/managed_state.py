# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the state of managed paths and Debian packages, and compare it with the wanted state.

One place for the comparison: the streamstack.hosts.managed_state module reads and compares on
the host, the streamstack.hosts.managed_drift filter compares again on the controller (for a
wanted state that is only known after the read). Python 3.11+, standard library only.
"""

from __future__ import annotations

import fnmatch
import grp
import hashlib
import os
import pwd
import stat
import subprocess

PATH_STATES = ("directory", "file", "link", "present", "absent")
_KINDS = {stat.S_IFDIR: "directory", stat.S_IFREG: "file", stat.S_IFLNK: "link"}


def _name(lookup, number: int) -> str:
    try:
        return lookup(number)[0]
    except KeyError:
        return str(number)


DIGESTS = ("sha1", "sha256")


def digests_of(path: str, names) -> dict[str, str]:
    """Hex digests of a file's content, read once for all of them."""
    digests = {name: hashlib.new(name) for name in names}
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            for digest in digests.values():
                digest.update(block)
    return {name: digest.hexdigest() for name, digest in digests.items()}


def read_path(path: str, want: dict | None = None) -> dict:
    """What is at `path` (lstat: a link is not followed): state (directory, file, link, other or
    absent), mode, owner, group, uid, gid; a file's SHA-1 when `want` gives one, a link's target."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return {"state": "absent"}
    found = {
        "state": _KINDS.get(stat.S_IFMT(st.st_mode), "other"),
        "mode": f"{stat.S_IMODE(st.st_mode):04o}",
        "owner": _name(pwd.getpwuid, st.st_uid),
        "group": _name(grp.getgrgid, st.st_gid),
        "uid": st.st_uid,
        "gid": st.st_gid,
    }
    wanted_digests = [name for name in DIGESTS if (want or {}).get(name)]
    if found["state"] == "file" and wanted_digests:
        try:
            found.update(digests_of(path, wanted_digests))
        except OSError as exc:  # unreadable: reported, and it counts as different
            found["error"] = str(exc)
    elif found["state"] == "link":
        found["src"] = os.readlink(path)
    return found


def _same_id(wanted: str, name: str, number: int) -> bool:
    return wanted == name or wanted == str(number)


def path_differs(want: dict, have: dict) -> bool:
    """Whether the found state `have` (read_path) differs from the wanted entry `want`.

    `absent`: the path must not exist; `present`: it must exist, in any form; `directory`,
    `file`, `link`: the type must match, and owner, group, mode (not for links), SHA-1 and
    SHA-256 (files) and src (links) where `want` gives them (an omitted attribute is not
    compared).
    """
    state = want.get("state") or "file"
    if state == "absent":
        return have["state"] != "absent"
    if have["state"] == "absent":
        return True
    if state == "present":
        return False
    if have["state"] != state:
        return True
    owner, group, mode = want.get("owner"), want.get("group"), want.get("mode")
    if owner is not None and not _same_id(str(owner), have["owner"], have["uid"]):
        return True
    if group is not None and not _same_id(str(group), have["group"], have["gid"]):
        return True
    if mode is not None and state != "link" and int(str(mode), 8) != int(have["mode"], 8):
        return True
    for name in DIGESTS:
        if state == "file" and want.get(name) and have.get(name) != str(want[name]).lower():
            return True
    return bool(state == "link" and want.get("src") and have.get("src") != want["src"])


def drift(wanted: list[dict], found: dict[str, dict]) -> list[str]:
    """The paths of `wanted` whose found state differs (a path not read counts as different)."""
    return [
        want["path"]
        for want in wanted
        if want.get("path") not in found or path_differs(want, found[want["path"]])
    ]


def validate_path(want: dict) -> str | None:
    """What is wrong with a wanted entry, or None."""
    path = want.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        return f"path must be absolute: {path!r}"
    if (want.get("state") or "file") not in PATH_STATES:
        return f"{path}: state must be one of {', '.join(PATH_STATES)}, not {want.get('state')!r}"
    mode = want.get("mode")
    if mode is not None and not (
        isinstance(mode, str) and 3 <= len(mode) <= 4 and set(mode) <= set("01234567")
    ):
        return f"{path}: mode must be an octal string like '0644', not {mode!r}"
    for name, length in (("sha1", 40), ("sha256", 64)):
        digest = want.get(name)
        if digest and not (
            isinstance(digest, str)
            and len(digest) == length
            and set(digest.lower()) <= set("0123456789abcdef")
        ):
            return f"{path}: {name} must be {length} hex digits, not {digest!r}"
    return None


# ------------------------------------------------------------------------------ packages


_DPKG_FORMAT = "${Package}\t${Architecture}\t${Version}\t${db:Status-Abbrev}\n"


def dpkg_status(run=subprocess.run) -> dict[str, dict]:
    """Every package dpkg's database knows, by name and name:arch: version, status, installed,
    present.

    `installed`: dpkg reports it installed without error (status `i`, no error flag);
    `present`: something of it is on disk (any status but not-installed and config-files).
    """
    proc = run(
        ["dpkg-query", "-W", "-f", _DPKG_FORMAT],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"dpkg-query failed ({proc.returncode}): {proc.stderr.strip()}")
    return parse_dpkg_status(proc.stdout)


def parse_dpkg_status(text: str) -> dict[str, dict]:
    packages: dict[str, dict] = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 4:
            continue
        name, arch, version, abbrev = fields
        abbrev = abbrev.ljust(3)
        entry = {
            "version": version,
            "status": abbrev.strip(),
            "installed": abbrev[1] == "i" and abbrev[2] == " ",
            "present": abbrev[1] not in ("n", "c"),
        }
        for key in (name, f"{name}:{arch}"):
            # A package installed for several architectures: keep the installed one.
            if key not in packages or entry["installed"]:
                packages[key] = entry
    return packages


def split_spec(spec: str) -> tuple[str, str | None]:
    """apt's `name`, `name:arch`, `name=version` (version may be a pattern) -> (name, version)."""
    name, _, version = spec.partition("=")
    return name.strip(), (version.strip() or None) if _ else None


def _matches(spec: str, status: dict[str, dict], key: str) -> list[tuple[str, dict]]:
    name, version = split_spec(spec)
    names = fnmatch.filter(status, name) if any(c in name for c in "*?[") else [name]
    return [
        (found, status[found])
        for found in names
        if found in status
        and status[found][key]
        and (version is None or fnmatch.fnmatchcase(status[found]["version"], version))
    ]


def missing_packages(specs: list[str], status: dict[str, dict]) -> list[str]:
    """The specs no installed package satisfies (name, arch and version, if given)."""
    return [spec for spec in specs if not _matches(spec, status, "installed")]


def unwanted_packages(specs: list[str], status: dict[str, dict]) -> list[str]:
    """The specs that name a package still on the host (apt state=absent would remove it)."""
    return [spec for spec in specs if _matches(spec, status, "present")]


def deb_fields(path: str, run=subprocess.run) -> dict[str, str] | None:
    """Package and Version of a .deb file, or None when it is not there or not readable."""
    if not os.path.isfile(path):
        return None
    proc = run(
        ["dpkg-deb", "-f", path, "Package", "Version"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    )
    if proc.returncode != 0:
        return None
    fields = dict(line.split(": ", 1) for line in proc.stdout.splitlines() if ": " in line)
    return fields if {"Package", "Version"} <= fields.keys() else None


def missing_debs(paths: list[str], status: dict[str, dict], run=subprocess.run) -> list[str]:
    """The .deb files whose package is not installed at exactly the file's version (a file not
    there yet counts as missing: it is about to be downloaded and installed)."""
    missing = []
    for path in paths:
        fields = deb_fields(path, run)
        have = status.get(fields["Package"]) if fields else None
        if not (have and have["installed"] and have["version"] == fields["Version"]):
            missing.append(path)
    return missing
