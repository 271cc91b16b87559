"""Filter of the cloudwatch_agent role: validate an agent configuration against the agent's
own JSON schema (draft-04) on the controller, before the configuration reaches a host."""

from __future__ import annotations

import json
from functools import cache

from ansible.errors import AnsibleFilterError


@cache
def _validator(schema_path: str):
    try:
        from jsonschema import Draft4Validator  # optional controller dependency
    except ImportError as err:
        raise AnsibleFilterError(
            "cloudwatch_agent needs the Python package jsonschema on the controller "
            "(pip install jsonschema) to validate the agent configuration"
        ) from err
    with open(schema_path, encoding="utf-8") as handle:
        schema = json.load(handle)
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema)


def cloudwatch_agent_schema_errors(config, schema_path: str) -> list[str]:
    """Every schema violation of ``config`` as "path: message"; empty when valid."""
    if not isinstance(config, dict):
        return [f"(root): the configuration must be a JSON object, not {type(config).__name__}"]
    # Round-trip through JSON so Ansible's own string/dict types validate as plain JSON.
    document = json.loads(json.dumps(config))
    errors = sorted(_validator(schema_path).iter_errors(document), key=lambda e: list(e.path))
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in errors
    ]


class FilterModule:
    def filters(self):
        return {"cloudwatch_agent_schema_errors": cloudwatch_agent_schema_errors}
