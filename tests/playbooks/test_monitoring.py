"""The alarms watch what the CloudWatch agent publishes.

An alarm on a metric nobody publishes sits in INSUFFICIENT_DATA forever and never fires. The
agent's configuration is rendered by the cloudwatch_agent role itself (its variables and
preflight, with the production inventory's group_vars, as playbooks/configure.yml applies it)
and the alarms from playbooks/provision/vars/cloudwatch_alarms.yml, both by
tests/playbooks/render_monitoring.yml.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.ansible import run_playbook
from tests.conftest import ROOT

# Dimensions each metrics section adds of its own (CloudWatch agent User Guide, "Manually
# create or edit the CloudWatch agent configuration file", metrics_collected).
PLUGIN_DIMENSIONS = {
    "cpu": {"cpu"},
    "disk": {"path", "device", "fstype"},
    "diskio": {"name"},
    "net": {"interface"},
    "mem": set(),
    "swap": set(),
    "netstat": set(),
    "processes": set(),
}
# What append_dimensions may add (the same page): EC2 metadata the agent resolves itself.
APPENDABLE = {"ImageId", "InstanceId", "InstanceType", "AutoScalingGroupName"}


def published_metrics(config: dict[str, Any]) -> set[tuple[str, str, frozenset[str]]]:
    """(namespace, metric name, dimension names) of every series the agent publishes.

    Metric names are "<section>_<measurement>" unless the measurement already carries the
    section's prefix or is renamed; each series has the appended dimensions plus the section's
    own; every aggregation_dimensions entry adds a series with exactly those dimensions (the
    agent rolls the others up), when the series has them all."""
    metrics = config["metrics"]
    namespace = metrics.get("namespace", "CWAgent")
    appended = set(metrics.get("append_dimensions", {}))
    assert appended <= APPENDABLE, appended
    rollups = [frozenset(dims) for dims in metrics.get("aggregation_dimensions", [])]
    found = set()
    for section, spec in metrics["metrics_collected"].items():
        if section not in PLUGIN_DIMENSIONS:
            continue  # statsd and friends: the app names those series itself
        for measurement in spec.get("measurement", []):
            name = measurement["name"] if isinstance(measurement, dict) else measurement
            metric = name if name.startswith(f"{section}_") else f"{section}_{name}"
            if isinstance(measurement, dict) and measurement.get("rename"):
                metric = measurement["rename"]
            dimensions = frozenset(appended | PLUGIN_DIMENSIONS[section])
            found.add((namespace, metric, dimensions))
            found.update((namespace, metric, rollup) for rollup in rollups if rollup <= dimensions)
    return found


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("monitoring") / "rendered.json"
    result = run_playbook(
        ROOT / "tests" / "playbooks" / "render_monitoring.yml",
        inventory=ROOT / "inventories" / "production",
        extra_vars={"monitoring_render_file": str(out)},
        timeout=180,
    )
    assert result.ok, result.messages()
    return json.loads(out.read_text())


def agent_alarms(rendered: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in rendered["alarms"] if not a["namespace"].startswith("AWS/")]


def test_the_host_alarms_exist(rendered):
    names = {a["name"] for a in agent_alarms(rendered)}
    assert {"web-memory-high", "worker-memory-high", "web-disk-high", "worker-disk-high"} <= names


def test_every_agent_alarm_watches_a_series_the_agent_publishes(rendered):
    published = published_metrics(rendered["agent"])
    for alarm in agent_alarms(rendered):
        series = (alarm["namespace"], alarm["metric"], frozenset(alarm["dimensions"]))
        same_metric = sorted((n, m, sorted(d)) for n, m, d in published if m == alarm["metric"])
        assert series in published, (
            f"alarm {alarm['name']} watches {series}, which the agent never publishes; "
            f"it publishes {same_metric}"
        )


def test_agent_alarms_name_the_tiers_auto_scaling_groups(rendered):
    """${aws:AutoScalingGroupName} resolves to the instance's group: the alarms' values must be
    the groups provisioning creates."""
    for alarm in agent_alarms(rendered):
        group = alarm["dimensions"].get("AutoScalingGroupName")
        assert group in rendered["auto_scaling_groups"], alarm


def test_published_metrics_follow_the_agents_naming():
    """The function above on the agent's documented example shapes."""
    config = {
        "metrics": {
            "append_dimensions": {"InstanceId": "${aws:InstanceId}"},
            "aggregation_dimensions": [["InstanceId"], []],
            "metrics_collected": {
                "disk": {"measurement": ["used_percent"], "resources": ["/"]},
                "mem": {"measurement": ["mem_used_percent"]},
                "cpu": {"measurement": [{"name": "cpu_usage_idle", "rename": "CPU_IDLE"}]},
            },
        }
    }
    found = published_metrics(config)
    assert (
        "CWAgent",
        "disk_used_percent",
        frozenset({"InstanceId", "path", "device", "fstype"}),
    ) in found
    assert ("CWAgent", "disk_used_percent", frozenset({"InstanceId"})) in found
    assert ("CWAgent", "mem_used_percent", frozenset()) in found
    assert ("CWAgent", "CPU_IDLE", frozenset({"InstanceId", "cpu"})) in found
    assert ("CWAgent", "mem_used_percent", frozenset({"AutoScalingGroupName"})) not in found
