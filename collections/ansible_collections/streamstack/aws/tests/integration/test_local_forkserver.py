"""streamstack.aws.local_forkserver, the controller's connection in our inventories: modules
forked from a pre-warmed server answer exactly as the local connection's processes do, the
server is private to its user and goes away with its run."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from local.ansible import run_playbook

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"

PLAYBOOK = PLAYBOOKS / "local_forkserver.yml"


def answers(**kwargs) -> dict:
    result = run_playbook(PLAYBOOK, **kwargs)
    assert result.ok, result.messages()
    (said,) = [
        res["msg"] for name, _, res in result.task_results() if name == "What the modules answered"
    ]
    return said


def test_modules_answer_as_the_local_connections_processes_do():
    forked, local = answers(), answers(extra_vars={"ansible_connection": "local"})
    assert "forkserver.py" in forked["starter"], forked["starter"]
    assert "forkserver.py" not in local["starter"]
    for key in ("environment", "cwd", "refused", "failed", "timed_out"):
        assert forked[key] == local[key], key
    assert forked["environment"] == "from the task"
    assert forked["cwd"] == str(PLAYBOOKS)
    assert "no_such_option" in forked["refused"]


def test_the_server_and_its_modules_go_away_with_their_run():
    """Its folder and every process of it: the module that outlived its task's timeout too."""
    starter = answers()["starter"]
    socket_path = Path(re.search(r"forkserver\.py (\S+)", starter).group(1))
    deadline = time.monotonic() + 10
    while _still_there(socket_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _still_there(socket_path)
    assert not Path(f"{socket_path.parent}.lock").exists()  # no file left per run


def test_the_server_starts_with_the_runs_first_task_before_any_module(tmp_path):
    """Started in the background by a task that runs no module: no wait at the first module."""
    result = run_playbook(
        PLAYBOOKS / "local_forkserver_early.yml",
        env={"TMPDIR": str(tmp_path)},
        extra_vars={"fs_folder": str(tmp_path / f"ansible-forkserver-{os.getuid()}")},
    )
    assert result.ok, result.messages()
    (sockets,) = [
        res["msg"] for name, _, res in result.task_results() if name == "Where it listens"
    ]
    assert len(sockets) == 1


def test_a_server_folder_others_can_enter_is_not_used(tmp_path):
    shared = tmp_path / f"ansible-forkserver-{os.getuid()}"
    shared.mkdir()
    shared.chmod(0o777)
    said = answers(env={"TMPDIR": str(tmp_path)})
    assert "forkserver.py" not in said["starter"]
    assert said["environment"] == "from the task"
    assert list(shared.iterdir()) == []


def _still_there(socket_path: Path) -> bool:
    """The server's folder, or a process whose command line names its socket."""
    return socket_path.parent.exists() or any(
        pid.isdigit() and str(socket_path).encode() in _cmdline(pid) for pid in os.listdir("/proc")
    )


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
