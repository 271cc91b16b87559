"""The local platform's own pieces that need no podman (python -m local up|down|status): the
UP_* settings refused before anything starts, PostgreSQL's set_role_password (what RDS does
with the db-master secret), and the rule that the platform never imports from tests/."""

from __future__ import annotations

import ast
import json
import os
import subprocess
from pathlib import Path

import psycopg
import pytest

from local import ROOT
from local.up import SettingError, Settings

PLATFORM_CODE = [ROOT / "local", ROOT / "bench", ROOT / "scripts", ROOT / "playbooks"]


def test_settings_default_to_what_the_readme_says():
    s = Settings.from_env({})
    assert (s.web, s.workers, s.port, s.fleet, s.serial, s.bake, s.reprovision, s.hosting) == (
        2, 1, 8080, "stream-local", "100%", True, False, "ec2",
    )  # fmt: skip
    assert s.state_dir == ROOT / ".cache" / "up"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"UP_BAKE": "yes"}, "UP_BAKE must be 0 or 1, not 'yes'"),
        ({"UP_WEB": "two"}, "UP_WEB must be a number of hosts, not 'two'"),
        ({"UP_WORKERS": "-1"}, "UP_WORKERS must be a number of hosts, not '-1'"),
        ({"UP_PORT": "http"}, "UP_PORT must be a port number (0: a free one), not 'http'"),
        ({"UP_HOSTING": "lambda"}, "UP_HOSTING must be ec2 or beanstalk, not 'lambda'"),
    ],
)
def test_bad_settings_are_refused_by_name(env, message):
    with pytest.raises(SettingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env(env)


def test_a_bad_setting_stops_make_up_before_anything_starts(tmp_path):
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "local", "up"],
        cwd=ROOT,
        env={"UP_WEB": "many", "UP_STATE_DIR": str(tmp_path / "up"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "up: UP_WEB must be a number of hosts, not 'many' (nothing was started)" in result.stderr
    assert not (tmp_path / "up").exists()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, {"web_asg_desired": 2, "worker_asg_desired": 1, "app_hosting": "ec2"}),
        (
            {"UP_WEB": "3", "UP_WORKERS": "0", "UP_HOSTING": "beanstalk"},
            {"web_asg_desired": 3, "worker_asg_desired": 0, "app_hosting": "beanstalk"},
        ),
    ],
    ids=["defaults", "set"],
)
def test_the_local_inventory_reads_make_ups_settings(env, expected):
    """A playbook run by hand against inventories/local provisions what `make up` would with
    the same UP_* settings (nothing is injected on the command line)."""
    defaults = Settings()
    assert (defaults.web, defaults.workers, defaults.hosting) == (2, 1, "ec2")
    shown = "{{ {" + ", ".join(f"'{name}': {name}" for name in expected) + "} | to_json }}"
    result = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "ansible"),
            "-i",
            "inventories/local",
            "localhost",
            "-m",
            "ansible.builtin.debug",
            "-a",
            f"msg={shown}",
        ],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("UP_")},
            **env,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report, _end = json.JSONDecoder().raw_decode(result.stdout)
    msg = report["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"]
    values = json.loads(msg) if isinstance(msg, str) else msg
    assert {k: v if k == "app_hosting" else int(v) for k, v in values.items()} == expected


def test_set_role_password_takes_any_password_and_never_shows_it(postgres):
    # Quotes, a backslash and a psql variable reference would each break SQL built as text.
    password = "it's a \"pass\\word\" :'role'"
    postgres.set_role_password("streamapp", password)
    login = {"host": "127.0.0.1", "port": postgres.port, "dbname": "streamapp"}
    login |= {"user": "streamapp", "sslmode": "require"}
    with psycopg.connect(**login, password=password) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("streamapp",)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(**login, password="streamapp-test-password").close()
    postgres.set_role_password("streamapp", "streamapp-test-password")  # the session's again


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_code_outside_tests_imports_from_tests():
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in _imports(path) if n.split(".")[0] == "tests")
        for folder in PLATFORM_CODE
        for path in folder.rglob("*.py")
    }
    assert {p: n for p, n in offenders.items() if n} == {}
