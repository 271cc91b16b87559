"""The local platform's own pieces that need no podman (python -m local up|down|status): the
UP_* settings refused before anything starts, PostgreSQL's set_role_password (what RDS does
with the db-master secret), and the rule that the platform never imports from tests/."""

from __future__ import annotations

import ast
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
