"""The local platform: StreamStack on this machine, offline (`make up`, `make down`).

The AWS emulator (moto with the fidelity layer), PostgreSQL in the RDS instance's place, podman
hosts for the Auto Scaling groups' instances, haproxy as the load balancer and the demo's seed.
README.md in this folder describes it.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository
