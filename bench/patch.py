"""Wall time of a rolling patch (playbooks/patch.yml) for 3 and 6 hosts, serial 1 and 2.

One fleet of 6 podman hosts (5 web + 1 worker) of the platform `patchbench`, provisioned on an
emulator of its own and converged with configure.yml once; the 3-host runs are limited to 2 web
hosts and the worker. Before each run the test packages go back to 1.0 (local/hosts/patching.py),
so every host has one security update to take, a restart of the app's units (they preload the
updated library), deregistration with a 3 s deregistration delay and registration again.

    .venv/bin/python bench/patch.py [--keep]   # --keep: leave the fleet running afterwards
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from local.emulator import Emulator  # noqa: E402
from local.hosts import image as hostimage  # noqa: E402
from local.hosts.fleet import Fleet  # noqa: E402
from local.hosts.patching import PATCH, PatchFleet, wait_for  # noqa: E402
from local.postgres import Postgres  # noqa: E402

NAME = "patchbench"
HOSTS = {**{f"web-{i}": "web" for i in range(1, 6)}, "worker-1": "worker"}
SUBSETS = {3: ["web-1", "web-2", "worker-1"], 6: list(HOSTS)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="leave the fleet and emulator up")
    args = parser.parse_args()
    state = ROOT / ".cache" / "bench-patch"
    emulator = Emulator(state_dir=state / "emulator")
    emulator.start()
    os.environ.update(emulator.env())
    postgres = Postgres(state_dir=state / "postgres")
    postgres.start()
    os.environ.update(hostimage.env())
    hostimage.build()

    def aws(service: str):
        return boto3.client(service, region_name=emulator.region, endpoint_url=emulator.endpoint)

    fleet = Fleet(NAME, HOSTS, state_dir=state / "fleet")
    pf = PatchFleet(fleet, NAME, state / "work", aws, emulator.endpoint, postgres)
    rows = []
    try:
        started = time.monotonic()
        pf.up()
        print(
            f"fleet of {len(HOSTS)} provisioned and converged in {time.monotonic() - started:.0f} s"
        )
        for count in (3, 6):
            for serial in (1, 2):
                pf.prepare_packages()
                ids = fleet.instance_ids()
                wait_for(
                    lambda: set(pf.target_states().values()) == {"healthy"},
                    60,
                    "targets healthy",
                )
                limit = ",".join(fleet.container(h) for h in SUBSETS[count])
                before = os.getloadavg()[0]
                started = time.monotonic()
                result = pf.playbook(PATCH, extra_vars={"patch_serial": serial}, limit=limit)
                seconds = time.monotonic() - started
                if not result.ok:
                    sys.exit(f"patch failed ({count} hosts, serial {serial}):\n{result.messages()}")
                patched = {pf.package_version(h) for h in SUBSETS[count]}
                if patched != {"1.1"} or len(ids) != len(HOSTS):
                    sys.exit(f"hosts not patched: {patched}")
                after = os.getloadavg()[0]
                rows.append((count, serial, seconds, before, after))
                print(
                    f"{count} hosts, serial {serial}: {seconds:.1f} s "
                    f"({seconds / count:.1f} s a host; load {before:.1f} -> {after:.1f})",
                    flush=True,
                )
    finally:
        if not args.keep:
            pf.remove()
            postgres.stop()
            emulator.stop()
    print("\n| hosts | serial | wall time | per host | load avg (before -> after) |")
    print("|---|---|---|---|---|")
    for count, serial, seconds, before, after in rows:
        print(
            f"| {count} | {serial} | {seconds:.0f} s | {seconds / count:.1f} s "
            f"| {before:.1f} -> {after:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
