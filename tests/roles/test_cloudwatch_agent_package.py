"""The CloudWatch agent's package: a pinned version at a versioned URL with its checksum.

AWS's ``.../latest/amazon-cloudwatch-agent.deb`` changes with every agent release; with a pinned
checksum every run then fails on release day. The role's defaults name one version, in the URL
and in the checksum, and the local stand-in package (local/standin/cwagent.py) sits at
the path that URL names below its download base.
"""

from __future__ import annotations

import pytest

from local.ansible import ROOT, run_playbook
from local.standin import cwagent as cwagent_standin

PLAYBOOK = ROOT / "tests" / "roles" / "cloudwatch_agent_package.yml"
PLATFORM = {"platform_name": "stream", "platform_env": "test"}


def package(**variables) -> dict:
    result = run_playbook(
        PLAYBOOK, inventory="localhost,", extra_vars={**PLATFORM, **variables}, check=True
    )
    assert result.ok, result.messages()
    reports = [
        res["msg"] for name, _h, res in result.task_results() if name == "Report the package"
    ]
    (report,) = reports
    return report


@pytest.fixture(scope="module")
def default() -> dict:
    return package()


def test_default_url_names_the_pinned_version_not_latest(default):
    assert "/latest/" not in default["url"]
    assert default["url"] == (
        "https://amazoncloudwatch-agent.s3.amazonaws.com/"
        f"ubuntu/{cwagent_standin.arch()}/{default['version']}/amazon-cloudwatch-agent.deb"
    )


@pytest.mark.skipif(cwagent_standin.arch() != "amd64", reason="a checksum is known for amd64")
def test_default_checksum_is_the_pinned_packages(default):
    # AWS's ubuntu/amd64/1.300072.0b1766 package; its .deb.sig verifies with AWS's agent key.
    assert default["version"] == "1.300072.0b1766"
    assert default["sha256"] == "05baeadca96c4bb8e43906ed09cf0bebd0f321ff6d41987bdc46ce681de0978d"


def test_the_standin_sits_where_the_url_points_below_a_mirror():
    report = package(cloudwatch_agent_download_base_url="file:///srv/streamstack-standin")
    assert report["url"] == f"file:///srv/streamstack-standin/{cwagent_standin.relative_path()}"
