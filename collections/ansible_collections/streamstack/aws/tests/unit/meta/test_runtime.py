"""meta/runtime.yml: every module of the collection is in its `aws` action group, so that
`module_defaults: {group/streamstack.aws.aws: ...}` (the playbooks' aws_api_defaults: region,
endpoint, botocore retries) reaches each of them."""

from __future__ import annotations

from pathlib import Path

import yaml

COLLECTION = Path(__file__).resolve().parents[3]


def test_every_module_is_in_the_aws_action_group():
    runtime = yaml.safe_load((COLLECTION / "meta" / "runtime.yml").read_text())
    modules = {path.stem for path in (COLLECTION / "plugins" / "modules").glob("*.py")}
    assert modules - set(runtime["action_groups"]["aws"]) == set()
