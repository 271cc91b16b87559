"""Shared fixtures: one emulator per test session, boto3 clients on it, the playbook runner."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest

from local import prepared_account
from local.ansible import ROOT, PlaybookResult, run_playbook
from local.emulator import Emulator
from local.postgres import Postgres

__all__ = ["ROOT", "PlaybookResult"]


def _session_dir(variable: str, name: str) -> Path:
    """State dir of a session service: $variable, else one per pytest process, so that
    concurrent sessions in one work tree never stop or wipe each other's services."""
    return Path(os.environ.get(variable) or ROOT / ".cache" / name / str(os.getpid()))


@pytest.fixture(scope="session", autouse=True)
def payload_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The session's own folders for streamstack.aws.warm_controller (enabled in ansible.cfg):
    the session's runs share the module payloads and compiled templates they make, and nothing
    kept by an earlier session or by the user's own runs (~/.cache) takes part in a test."""
    folder = tmp_path_factory.mktemp("payloads")
    folders = {
        "STREAMSTACK_PAYLOAD_CACHE": folder,
        "STREAMSTACK_TEMPLATE_CODE_CACHE": tmp_path_factory.mktemp("template-code"),
    }
    saved = {name: os.environ.get(name) for name in folders}
    os.environ.update({name: str(path) for name, path in folders.items()})
    yield folder
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """The moto server (with the fidelity layer) shared by the whole session, holding what a
    user prepares in an account before provisioning (local/prepared_account.py).

    Its own state dir keeps it apart from `make up`'s and from other pytest sessions. The AWS
    variables go into os.environ so that ansible-playbook, boto3 and the aws_ec2 inventory
    all reach it.
    """
    emu = Emulator(state_dir=_session_dir("PYTEST_EMULATOR_STATE_DIR", "pytest-emulator"))
    emu.start()
    saved = {key: os.environ.get(key) for key in emu.env()}
    os.environ.update(emu.env())
    try:
        prepared_account.prepare(
            lambda service: boto3.client(service, region_name=emu.region, endpoint_url=emu.endpoint)
        )
        yield emu
    finally:
        emu.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def aws(emulator: Emulator) -> Callable[..., object]:
    """boto3 client factory on the emulator: ``aws("s3").list_buckets()``."""

    def client(service: str, region: str | None = None):
        return boto3.client(
            service, region_name=region or emulator.region, endpoint_url=emulator.endpoint
        )

    return client


@pytest.fixture(scope="session")
def playbook(emulator: Emulator) -> Callable[..., PlaybookResult]:
    """ansible-playbook against the emulator, with its endpoint passed as a variable."""

    def run(path, *, extra_vars=None, **kwargs) -> PlaybookResult:
        merged = {"aws_endpoint_url": emulator.endpoint, **(extra_vars or {})}
        return run_playbook(path, extra_vars=merged, **kwargs)

    return run


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (Debian binaries), stopped at session end.

    Its own state dir keeps it apart from the one `make up` runs; the data is wiped first so
    every session starts from an empty database.
    """
    pg = Postgres(state_dir=_session_dir("PYTEST_POSTGRES_STATE_DIR", "pytest-postgres"))
    pg.destroy()
    pg.start()
    yield pg
    pg.stop()


@pytest.fixture(scope="session")
def host_image() -> dict:
    """The test-host image (local/hosts/image.py), built or found up to date once per
    session; CONTAINERS_CONF goes into os.environ so podman and Molecule use this host's
    containers.conf."""
    from local.hosts import image as hostimage

    os.environ.update(hostimage.env())
    return hostimage.build()


def assert_a_rotation_keeps_serving(
    rotate: Callable[[dict], PlaybookResult], secrets, postgres_port: int, url: str
) -> PlaybookResult:
    """playbooks/rotate_db_login.yml asked to rotate now (``rotate(extra_vars)`` runs it on a
    running platform): the secret moves to the other user of the pair with a new password, the
    previous version kept as AWSPREVIOUS; both logins read the catalog (hosts that read the old
    one keep serving); the platform at ``url`` is ready; a run with nothing due changes nothing.
    Returns the rotating run."""
    import json
    import urllib.request

    import psycopg

    name = "stream-local/db-app"
    before = json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])
    result = rotate({"db_app_login_rotate": True})
    assert result.ok, result.messages()
    assert result.changed >= 3, result.changed_tasks()  # create, set, finish
    after = json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])
    user = before["username"]
    assert after["username"] == (
        user.removesuffix("_clone") if user.endswith("_clone") else user + "_clone"
    )
    assert after["password"] != before["password"]
    previous = secrets.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
    assert json.loads(previous["SecretString"]) == before
    for login in (before, after):
        with psycopg.connect(
            host="127.0.0.1", port=postgres_port, dbname="streamapp", user=login["username"],
            password=login["password"], sslmode="require", connect_timeout=10,
        ) as conn:  # fmt: skip
            assert conn.execute("SELECT count(*) FROM media_items").fetchone()[0] >= 2
    with urllib.request.urlopen(f"{url}/readyz", timeout=10) as resp:
        assert resp.status == 200
    again = rotate({})
    assert again.ok, again.messages()
    assert again.changed == 0, again.changed_tasks()
    return result
