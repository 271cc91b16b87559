#!/usr/bin/env python3
"""STAND-IN for the Amazon Linux 2023 platforms' /opt/elasticbeanstalk/bin/get-config (platform
hooks read the environment's settings with it), on a stand-in instance (local/beanstalk/): not
AWS's code. Only what our bundle's hooks use:

    get-config environment            # the environment properties, as JSON
    get-config environment -k NAME    # one property's value (exit 1 when it is not set)

The properties are the ones of the deployment under way (the engine's incoming/config.json), as
the platform's tool gives them to prebuild hooks already.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

CONFIG = Path("/opt/elasticbeanstalk/deployment/incoming/config.json")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="get-config")
    parser.add_argument("category", choices=["environment"])
    parser.add_argument("-k", "--key")
    args = parser.parse_args(argv)
    properties = json.loads(CONFIG.read_text()).get("environment") or {}
    if args.key is None:
        print(json.dumps(properties))
        return 0
    if args.key not in properties:
        print(f"get-config (stand-in): no environment property {args.key}", file=sys.stderr)
        return 1
    print(properties[args.key])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
