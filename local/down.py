"""`make down` (python -m local down): remove everything `make up` started, and its state.

One function per step, run in this order by ``down()``: the local EC2 first (so that no host
is started again while the others go), the load balancer, the fleet's containers (found by
their podman label, so a half-finished `make up` is cleaned too), the emulator (its state is in
memory: gone), PostgreSQL (stopped, data deleted) and the state folder. Kept, because they are
caches, not state: the test-host image, the baked hosts (`python -m local.hosts.bake remove`
deletes them), .venv, the app's wheel cache, the apt/pip caches the hosts share, the stand-in
agent package.

`python -m local status` says what of it runs. Same settings as `make up`: UP_FLEET,
UP_STATE_DIR, EMULATOR_STATE_DIR, PG_STATE_DIR.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from local import ROOT
from local.alb import controller as alb
from local.beanstalk import controller as beanstalk
from local.ec2 import controller as ec2
from local.ec2.hosts import aws_factory
from local.emulator import Emulator
from local.hosts import image as hostimage
from local.hosts.fleet import Fleet
from local.postgres import Postgres
from local.up import Settings


@dataclass
class Platform:
    """What `make up` started, found by its settings (no UP_* value is checked here: a bad one
    must not keep a platform from going down)."""

    fleet: str = field(default_factory=lambda: os.environ.get("UP_FLEET", Settings.fleet))
    state: Path = field(
        default_factory=lambda: Path(os.environ.get("UP_STATE_DIR", str(Settings.state_dir)))
    )
    emulator: Emulator = field(default_factory=Emulator)
    postgres: Postgres = field(default_factory=Postgres)

    def __post_init__(self) -> None:
        self.state = self.state.resolve()
        os.environ["FLEET_STATE_DIR"] = str(self.state / "fleet")
        os.environ.update(hostimage.env())  # CONTAINERS_CONF for podman

    def hosts(self) -> Fleet:
        state = Fleet(self.fleet, {})._state()
        return Fleet(self.fleet, {h: v["role"] for h, v in state.get("hosts", {}).items()})


def stop_local_ec2(p: Platform) -> None:
    ec2.stop(p.state)
    print("down: local EC2 stopped")


def stop_beanstalk_standin(p: Platform) -> None:
    beanstalk.stop(p.state / "beanstalk")


def stop_load_balancer(p: Platform) -> None:
    alb.stop(p.state)
    print("down: load balancer stopped")


def remove_containers(p: Platform) -> None:
    """The containers of the fleet's label: the instances' hosts and any paired by hand (their
    instances unpaired while the emulator still runs)."""
    running = p.emulator.running()
    if running:
        os.environ.update(p.emulator.env())
    p.hosts().remove(aws_factory() if running else None)
    print(f"down: containers of fleet {p.fleet} removed")


def stop_emulator(p: Platform) -> None:
    p.emulator.stop()
    print("down: emulator stopped")


def remove_postgres(p: Platform) -> None:
    p.postgres.destroy()
    print("down: PostgreSQL stopped, its data removed")


def remove_state(p: Platform) -> None:
    shutil.rmtree(p.state, ignore_errors=True)
    print(f"down: state removed ({p.state})")


def down(p: Platform) -> None:
    stop_local_ec2(p)
    stop_beanstalk_standin(p)
    stop_load_balancer(p)
    remove_containers(p)
    stop_emulator(p)
    remove_postgres(p)
    remove_state(p)


def main() -> int:
    os.chdir(ROOT)
    down(Platform())
    return 0


def status() -> int:
    """What of the platform runs, a line each; 0 when all of it does, 3 otherwise."""
    p = Platform()
    port_file = p.state / "lb.port"
    url = f"http://127.0.0.1:{port_file.read_text().strip()}" if port_file.is_file() else "-"
    parts = {
        "emulator": p.emulator.endpoint if p.emulator.running() else None,
        "PostgreSQL": f"127.0.0.1:{p.postgres.port}" if p.postgres.running() else None,
        "local EC2": f"pid {ec2.running(p.state)}" if ec2.running(p.state) else None,
        "load balancer": f"{url} (pid {alb.running(p.state)})" if alb.running(p.state) else None,
        "hosts": ", ".join(sorted(p.hosts().containers())) or None,
    }
    for name, what in parts.items():
        print(f"{name + ':':<15}{what or 'not running'}")
    return 0 if all(parts.values()) else 3
