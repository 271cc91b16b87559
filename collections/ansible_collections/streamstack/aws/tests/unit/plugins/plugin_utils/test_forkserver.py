"""The fork server's caches (plugin_utils/forkserver.py): a payload module's code compiled once
and taken again, with its own file name, from the folder; one client class per service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from ansible_collections.streamstack.aws.plugins.plugin_utils import forkserver

# In a process of its own (cache_compiles changes zipimport for the process): import `mod` from
# the zip, say where its code says it comes from and which sources were compiled.
IMPORT = """
import builtins, json, sys
sys.path.insert(0, {plugin_utils!r})
import forkserver
compiled = []
real = builtins.compile
builtins.compile = lambda text, name, *a, **k: compiled.append(name) or real(text, name, *a, **k)
forkserver.cache_compiles({folder!r})
sys.path.insert(0, {archive!r})
import mod
print(json.dumps({{"file": mod.answer.__code__.co_filename, "answer": mod.answer(),
                  "compiled": [name for name in compiled if ".zip" in name]}}))
"""


def payload(path: Path, source: str) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mod.py", source)
    return path


def imported(archive: Path, folder: Path | None) -> dict:
    code = IMPORT.format(
        plugin_utils=os.path.dirname(forkserver.__file__),
        folder=str(folder) if folder else None,
        archive=str(archive),
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    return json.loads(done.stdout)


def test_a_module_is_compiled_once_then_taken_from_the_cache_with_its_own_file_name(tmp_path):
    folder = tmp_path / "cache"
    first = imported(payload(tmp_path / "one.zip", "def answer():\n    return 1\n"), folder)
    # Another run's payload: another zip, the same source.
    again = imported(payload(tmp_path / "two.zip", "def answer():\n    return 1\n"), folder)
    assert first["compiled"] == [str(tmp_path / "one.zip" / "mod.py")]
    assert again["compiled"] == []
    assert again["file"] == str(tmp_path / "two.zip" / "mod.py")
    assert again["answer"] == 1
    assert (folder.stat().st_mode & 0o777) == 0o700


def test_a_changed_source_is_compiled_again(tmp_path):
    folder = tmp_path / "cache"
    imported(payload(tmp_path / "one.zip", "def answer():\n    return 1\n"), folder)
    changed = imported(payload(tmp_path / "two.zip", "def answer():\n    return 2\n"), folder)
    assert changed["compiled"] == [str(tmp_path / "two.zip" / "mod.py")]
    assert changed["answer"] == 2


def test_a_folder_others_can_write_to_is_not_used(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o777)
    source = "def answer():\n    return 1\n"
    imported(payload(tmp_path / "one.zip", source), folder)
    again = imported(payload(tmp_path / "two.zip", source), folder)
    assert list(folder.iterdir()) == []
    assert again["compiled"] == [str(tmp_path / "two.zip" / "mod.py")]
    assert again["answer"] == 1


CLIENTS = """
import sys
sys.path.insert(0, {plugin_utils!r})
import forkserver
forkserver.preload([], ["s3"])
import boto3
clients = [boto3.session.Session(region_name="eu-west-1").client("s3") for _ in range(2)]
assert type(clients[0]) is type(clients[1]), "one class for the service"
assert hasattr(clients[1], "upload_file"), "boto3's own handlers shaped it"
assert clients[1].meta.region_name == "eu-west-1"
print(clients[1].list_buckets.__doc__.split()[0:1])
"""


def test_clients_of_a_service_share_one_class_shaped_by_boto3():
    code = CLIENTS.format(plugin_utils=os.path.dirname(forkserver.__file__))
    env = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")  # noqa: S106
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd="/")


def test_an_interpreter_without_zipimports_private_compile_is_left_as_it_is(monkeypatch, tmp_path):
    """zipimport._compile_source is CPython's private function: without it nothing is cached and
    nothing breaks (the module processes compile as usual)."""
    import zipimport

    monkeypatch.delattr(zipimport, "_compile_source", raising=False)
    forkserver.cache_compiles(str(tmp_path / "code"))
    assert not hasattr(zipimport, "_compile_source")
