"""Entry point of the emulator process: moto's server with the fidelity layer applied first.

Started by local.emulator; runs in its own process so that its PID is the server's.
"""

from __future__ import annotations

import sys

from local.emulator import fidelity


def main(argv: list[str] | None = None) -> None:
    fidelity.apply()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
