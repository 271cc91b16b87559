"""The local platform: StreamStack on this machine, offline (`make up`, `make down`).

The AWS emulator (moto with the fidelity layer), PostgreSQL in the RDS instance's place, podman
hosts for the Auto Scaling groups' instances, haproxy as the load balancer and the demo's seed.
README.md in this folder describes it.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository


def platform_name_and_env() -> tuple[str, str]:
    """The local environment's platform_name and platform_env, read where they are written
    (group_vars/all/platform.yml, inventories/local/group_vars/all/env.yml), never repeated."""
    import yaml

    name = yaml.safe_load((ROOT / "group_vars" / "all" / "platform.yml").read_text())
    env = yaml.safe_load(
        (ROOT / "inventories" / "local" / "group_vars" / "all" / "env.yml").read_text()
    )
    return name["platform_name"], env["platform_env"]
