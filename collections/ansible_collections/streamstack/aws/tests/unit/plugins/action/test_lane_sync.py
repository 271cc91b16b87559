"""streamstack.aws.lane_sync's waits and leaving, on a run folder (no Ansible run: provision.yml's
lanes are proven by tests/playbooks/test_provision.py's step record)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
from ansible.errors import AnsibleActionFail

sys.path.insert(0, str(Path(__file__).resolve().parents[7]))  # the repository's collections/
from ansible_collections.streamstack.aws.plugins.action.lane_sync import (
    ActionModule,
    _marker,
    _touch,
)


def test_a_wait_ends_when_the_needed_steps_are_done(tmp_path):
    threading.Timer(
        0.3, _touch, [_marker(tmp_path, "vpc_subnets_and_routes:subnets", "done")]
    ).start()
    _touch(_marker(tmp_path, "ec2_security_group", "done"))
    began = time.monotonic()
    ActionModule._wait(str(tmp_path), ["ec2_security_group", "vpc_subnets_and_routes:subnets"], 10)
    assert 0.25 < time.monotonic() - began < 2


def test_a_failed_lane_fails_every_wait_at_once(tmp_path):
    threading.Timer(0.3, _touch, [_marker(tmp_path, "edge", "failed")]).start()
    began = time.monotonic()
    with pytest.raises(
        AnsibleActionFail, match=r"lane edge failed .* needs cloudfront_distribution"
    ):
        ActionModule._wait(str(tmp_path), ["cloudfront_distribution"], 60)
    assert time.monotonic() - began < 2


def test_a_wait_gives_up_at_its_timeout(tmp_path):
    with pytest.raises(AnsibleActionFail, match="waited 0 s for rds"):
        ActionModule._wait(str(tmp_path), ["rds"], 0.2)


def test_the_last_lane_to_leave_removes_the_folder(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    ActionModule._leave(str(run), "network", ["network", "edge"])
    assert run.is_dir()
    ActionModule._leave(str(run), "edge", ["network", "edge"])
    assert not run.exists()
