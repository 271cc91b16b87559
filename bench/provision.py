"""Wall time of provisioning the whole platform on the emulator: first run, no-op re-run,
check mode. Each measurement runs on a fresh emulator of its own (first run) or the same
provisioned one (re-runs).

    .venv/bin/python bench/provision.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.harness.ansible import run_playbook  # noqa: E402
from tests.harness.emulator import Emulator  # noqa: E402

PLAYBOOK = ROOT / "playbooks" / "provision.yml"


def timed(**kwargs) -> tuple[float, int]:
    started = time.monotonic()
    result = run_playbook(PLAYBOOK, **kwargs)
    elapsed = time.monotonic() - started
    if not result.ok:
        sys.exit(f"provision failed:\n{result.messages()}")
    return elapsed, result.changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="rounds (fresh emulator each)")
    args = parser.parse_args()
    rows: dict[str, list[float]] = {"first run": [], "no-op re-run": [], "--check": []}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as state:
            emulator = Emulator(state_dir=Path(state))
            emulator.start()
            os.environ.update(emulator.env())
            try:
                extra = {"aws_endpoint_url": emulator.endpoint}
                first, changed = timed(extra_vars=extra)
                rows["first run"].append(first)
                again, changed_again = timed(extra_vars=extra)
                rows["no-op re-run"].append(again)
                check, changed_check = timed(extra_vars=extra, check=True)
                rows["--check"].append(check)
                print(
                    f"round: first {first:.1f}s (changed={changed}), "
                    f"no-op {again:.1f}s (changed={changed_again}), "
                    f"check {check:.1f}s (changed={changed_check})",
                    flush=True,
                )
            finally:
                emulator.stop()
    print(f"\nprovision.yml on the emulator, {os.cpu_count()} cores, {args.repeat} round(s):")
    for name, values in rows.items():
        print(f"  {name:<14} median {statistics.median(values):6.1f} s   min {min(values):6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
