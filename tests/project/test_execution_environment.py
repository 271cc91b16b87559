"""The execution environment (execution-environment.yml, built by `make ee`).

The definition's checks are cheap and run with every test. The image's test is marked ``ee``
and runs under its own target (`make test-ee`, which builds the image first; README,
"Execution environment"): ansible-navigator runs provision.yml inside the image (podman, pull
policy never, the repository's ansible-navigator.yml) against the session's emulator, reached
from the container as the fleet's hosts reach it (slirp4netns: the controller's loopback is
10.0.2.2), and the run must count what the same playbook counts in the controller's venv.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from local.ansible import _json_document
from local.emulator import aws_env
from local.hosts.fleet import CONTROLLER_ADDRESS, NETWORK
from local.hosts.image import env as podman_env
from tests.conftest import ROOT

DEFINITION = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
IMAGE = DEFINITION["options"]["tags"][0]
NAVIGATOR = ROOT / ".cache" / "ee-tools" / "bin" / "ansible-navigator"
PROVISION = ROOT / "playbooks" / "provision.yml"


def pins() -> dict[str, str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return dict(line.split("==", 1) for line in lines if "==" in line and not line.startswith("#"))


def test_the_image_takes_the_controllers_pins_and_collections():
    dependencies, pinned = DEFINITION["dependencies"], pins()
    # ansible-core as the controller's (ansible-runner is the image's alone, pinned there).
    assert dependencies["ansible_core"]["package_pip"] == f"ansible-core=={pinned['ansible-core']}"
    assert dependencies["ansible_runner"]["package_pip"].startswith("ansible-runner==")
    # Galaxy's collections as pinned for Galaxy users, ours from the repository (the build
    # context's copy sits where requirements.yml's relative paths point from /build).
    assert dependencies["galaxy"] == "collections/requirements.yml"
    wanted = yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())
    ours = [c["name"] for c in wanted["collections"] if c.get("type") == "dir"]
    copied = {f["src"]: f["dest"] for f in DEFINITION["additional_build_files"]}
    ours_dest = copied["collections/ansible_collections/streamstack"]
    assert ours and all(name.startswith(ours_dest) for name in ours), (ours, ours_dest)
    # Python packages without versions: the controller's pins are the build's constraints.
    listed = (ROOT / dependencies["python"]).read_text().splitlines()
    names = [line for line in listed if line and not line.startswith("#")]
    assert all(name in pinned and "=" not in name for name in names), names
    assert copied["requirements.txt"] == "constraints"


def navigator(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(NAVIGATOR), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.ee
@pytest.mark.podman
def test_navigator_provisions_in_the_image_as_the_venv_does(playbook, emulator):
    """provision.yml's first run of one environment in the venv and of another in the image:
    both succeed with the same ok/changed/skipped counts for every host. The image's own
    collections serve the run (ANSIBLE_COLLECTIONS_PATH), not the repository's."""
    assert (
        NAVIGATOR.is_file()
        and subprocess.run(
            ["podman", "image", "exists", IMAGE], env={**podman_env(), "PATH": "/usr/bin:/bin"}
        ).returncode
        == 0
    ), f"{IMAGE} missing: make ee (or make test-ee)"
    venv = playbook(PROVISION, extra_vars={"platform_name": "eevenv"})
    assert venv.ok, venv.messages()

    inside = aws_env(emulator.endpoint.replace("127.0.0.1", CONTROLLER_ADDRESS))
    endpoint = inside["AWS_ENDPOINT_URL"]
    set_env = {
        **inside,
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_COLLECTIONS_PATH": "/usr/share/ansible/collections",
        "ANSIBLE_NOCOLOR": "1",
        # The image runs as its user (1000), the repository here is root's: facts go elsewhere.
        "ANSIBLE_CACHE_PLUGIN_CONNECTION": "/tmp/ansible-facts",
    }
    extra_vars = {"platform_name": "eeimage", "aws_endpoint_url": endpoint}
    args = ["run", str(PROVISION), "--mode", "stdout", "-e", json.dumps(extra_vars)]
    for key, value in set_env.items():
        args += ["--senv", f"{key}={value}"]
    args.append(f"--container-options=--network={NETWORK}")  # one word: it starts with --
    env = {**podman_env(), "PATH": f"{NAVIGATOR.parent}:/usr/sbin:/usr/bin:/sbin:/bin"}
    env["HOME"] = str(ROOT / ".cache" / "ee-home")  # navigator's own state
    (ROOT / ".cache" / "ee-home").mkdir(parents=True, exist_ok=True)
    proc = navigator(*args, env=env, timeout=1200)
    # ansible-runner interleaves its event markers (ESC[K base64 ESC[nD ESC[K) with the output.
    plain = re.sub(r"\x1b\[K(?:[A-Za-z0-9+/=]+\x1b\[\d+D)*\x1b\[K", "", proc.stdout)
    image = _json_document(re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", plain))
    assert proc.returncode == 0 and image, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert image["stats"] == venv.stats
    print(f"counts (venv = image): {json.dumps(venv.stats)}", file=sys.stderr)
