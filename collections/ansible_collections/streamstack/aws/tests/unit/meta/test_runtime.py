"""meta/runtime.yml: every AWS module of the collection is in its `aws` action group, so that
`module_defaults: {group/streamstack.aws.aws: ...}` (the playbooks' aws_api_defaults: region,
endpoint, botocore retries) reaches each of them. A controller-side action (plugins/action/, its
documentation stub in plugins/modules/: lane_sync) calls no AWS API and takes no such option,
so it stays out."""

from __future__ import annotations

from pathlib import Path

import yaml

COLLECTION = Path(__file__).resolve().parents[3]


def test_every_module_is_in_the_aws_action_group():
    runtime = yaml.safe_load((COLLECTION / "meta" / "runtime.yml").read_text())
    modules = {path.stem for path in (COLLECTION / "plugins" / "modules").glob("*.py")}
    actions = {path.stem for path in (COLLECTION / "plugins" / "action").glob("*.py")}
    group = set(runtime["action_groups"]["aws"])
    assert modules - actions - group == set()
    assert actions & group == set()
