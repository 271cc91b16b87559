"""The STAND-IN CloudWatch agent package of the local hosts (the real one is AWS-hosted).

Built from the files in local/standin/cloudwatch_agent (the Molecule scenario's too: same
package name and paths as AWS's package, ships nothing) into a folder laid out like AWS's
download bucket,
``<dir>/ubuntu/<arch>/<version>/amazon-cloudwatch-agent.deb`` with the version the
cloudwatch_agent role pins, so the role's default URL with ``cloudwatch_agent_download_base_url``
pointed at the folder finds it. Used by `make up` (local/up.py) and the patching harness:

    python -m local.standin.cwagent build DIR     # prints the package's SHA-256
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from local import ROOT

SOURCE = Path(__file__).resolve().parent / "cloudwatch_agent"
ROLE_DEFAULTS = ROOT / "roles" / "cloudwatch_agent" / "defaults" / "main.yml"


def version() -> str:
    """The agent version the role pins (its package URL names it)."""
    return str(yaml.safe_load(ROLE_DEFAULTS.read_text())["cloudwatch_agent_version"])


def arch() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], check=True, capture_output=True, text=True
    ).stdout.strip()


def relative_path() -> str:
    """Where the package sits below the download base URL, as in AWS's bucket."""
    return f"ubuntu/{arch()}/{version()}/amazon-cloudwatch-agent.deb"


def build(out_dir: Path) -> str:
    """Build the package under ``out_dir`` (again only when its sources changed); its SHA-256."""
    deb = out_dir / relative_path()
    key = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(SOURCE.iterdir()))).hexdigest()
    stamp = deb.parent / ".source"
    if not (deb.exists() and stamp.exists() and stamp.read_text() == key):
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp)
            opt = tree / "opt" / "aws" / "amazon-cloudwatch-agent"
            for path in (
                tree / "DEBIAN",
                opt / "bin",
                opt / "etc" / "amazon-cloudwatch-agent.d",
                opt / "logs",
                tree / "etc" / "systemd" / "system",
            ):
                path.mkdir(parents=True, exist_ok=True)
            for name in ("amazon-cloudwatch-agent-ctl", "start-amazon-cloudwatch-agent"):
                shutil.copy(SOURCE / name, opt / "bin" / name)
                (opt / "bin" / name).chmod(0o755)
            shutil.copy(
                SOURCE / "amazon-cloudwatch-agent.service",
                tree / "etc" / "systemd" / "system" / "amazon-cloudwatch-agent.service",
            )
            shutil.copy(SOURCE / "postinst", tree / "DEBIAN" / "postinst")
            (tree / "DEBIAN" / "postinst").chmod(0o755)
            (tree / "DEBIAN" / "control").write_text(
                f"Package: amazon-cloudwatch-agent\nVersion: 0.0.0-streamstack-standin\n"
                f"Architecture: {arch()}\nMaintainer: StreamStack tests <noreply@example.invalid>\n"
                "Depends: python3\nDescription: STAND-IN for the Amazon CloudWatch agent\n"
                " Same package name and paths as the official package; it ships nothing.\n"
            )
            deb.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["dpkg-deb", "--root-owner-group", "--build", str(tree), str(deb)],
                check=True,
                capture_output=True,
            )
        stamp.write_text(key)
    return hashlib.sha256(deb.read_bytes()).hexdigest()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "build":
        print("usage: python -m local.standin.cwagent build DIR", file=sys.stderr)
        return 2
    print(build(Path(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
