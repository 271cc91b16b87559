"""python -m local up|down|status: the local platform (local/README.md)."""

import sys

USAGE = "usage: python -m local up|down|status"


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("up", "down", "status"):
        print(USAGE, file=sys.stderr)
        return 2
    if argv[0] == "up":
        from local.up import main as up

        return up()
    if argv[0] == "down":
        from local.down import main as down

        return down()
    from local.down import status

    return status()


sys.exit(main(sys.argv[1:]))
