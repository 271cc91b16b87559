"""The host call table (tests/iam/calls.yml): what the hosts call on AWS, and what IAM checks.

    from tests.harness import call_table
    table = call_table.load()
    names = call_table.names(context)          # context.json of the rendered policies
    for call in table.calls:
        call.tiers, call.service, call.operation, call.action
        call.resource_for(names), call.context_for(names)
    table.operations("web")                    # {("s3", "PutObject"), ...}: what a tier may call
    table.deploy, table.deploy_denied          # CI's deploy/plan roles (Elastic Beanstalk path)

Only the standard library and PyYAML: the emulator process loads it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "tests" / "iam" / "calls.yml"
TIERS = ("web", "worker", "cloudfront")
# CI's roles (playbooks/ci_bootstrap.yml): the table's `deploy` section (the Elastic Beanstalk
# path's calls as the deploy role, reads also as the plan role).
CI_ROLES = ("deploy", "plan")
# How the app is hosted (app_hosting): a call made on one only says so (`hosting: [...]`).
HOSTINGS = ("ec2", "beanstalk")
# An item's id in the table's example resources.
EXAMPLE_ITEM = "0f8fad5b-d9cb-469f-a165-70867728950e"
# The request context every call has: clients reach AWS over TLS, in the platform's region.
BASE_CONTEXT = {"aws:SecureTransport": True}


@dataclass(frozen=True)
class Entry:
    tiers: tuple[str, ...]
    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)
    call: str = ""  # botocore "service.Operation"; empty for denied entries
    by: str = ""
    why: str = ""
    agent_api: bool = False  # an SSM agent API botocore does not model (ssmmessages, ...)
    hosting: tuple[str, ...] = HOSTINGS

    @property
    def service(self) -> str:
        return self.call.split(".", 1)[0]

    @property
    def operation(self) -> str:
        return self.call.split(".", 1)[1]

    def resource_for(self, names: Mapping[str, str]) -> str:
        return self.resource.format_map(names)

    def context_for(self, names: Mapping[str, str]) -> dict[str, Any]:
        found = {"aws:RequestedRegion": names["region"], **BASE_CONTEXT}
        for key, value in self.context.items():
            found[key] = value.format_map(names) if isinstance(value, str) else value
        return found

    def label(self) -> str:
        return f"{'+'.join(self.tiers)} {self.call or self.action} {self.resource}"


@dataclass(frozen=True)
class CallTable:
    calls: tuple[Entry, ...]
    denied: tuple[Entry, ...]
    deploy: tuple[Entry, ...] = ()
    deploy_denied: tuple[Entry, ...] = ()

    def operations(self, tier: str) -> set[tuple[str, str]]:
        """The (botocore service, operation) pairs a tier's hosts may make (any hosting)."""
        return {(c.service, c.operation) for c in self.calls if tier in c.tiers}

    def hosted(self, hosting: str) -> CallTable:
        """The calls and refusals of one hosting (app_hosting)."""
        return CallTable(
            calls=tuple(c for c in self.calls if hosting in c.hosting),
            denied=tuple(d for d in self.denied if hosting in d.hosting),
            deploy=tuple(c for c in self.deploy if hosting in c.hosting),
            deploy_denied=tuple(d for d in self.deploy_denied if hosting in d.hosting),
        )


def _entries(
    raw: Mapping[str, Any], *, denied: bool, roles: tuple[str, ...] = TIERS
) -> list[Entry]:
    """A row's entries: one, or one per hosting where `hosting` maps each to its own tiers
    (e.g. ``{ec2: [web, worker], beanstalk: [web]}``)."""
    hosting = raw.get("hosting")
    if isinstance(hosting, Mapping):
        if not hosting:
            raise ValueError(f"{TABLE.name}: hosting must name some of {HOSTINGS} in {raw}")
        return [
            _entry({**raw, "hosting": [name], "tiers": tiers}, denied=denied, roles=roles)
            for name, tiers in hosting.items()
        ]
    return [_entry(raw, denied=denied, roles=roles)]


def _entry(raw: Mapping[str, Any], *, denied: bool, roles: tuple[str, ...] = TIERS) -> Entry:
    tiers = tuple(raw["tiers"])
    unknown = set(tiers) - set(roles)
    if unknown:
        raise ValueError(f"{TABLE.name}: unknown tiers {sorted(unknown)} in {raw}")
    hosting = tuple(raw.get("hosting", HOSTINGS))
    if not hosting or set(hosting) - set(HOSTINGS):
        raise ValueError(f"{TABLE.name}: hosting must be some of {HOSTINGS} in {raw}")
    if not denied and "." not in str(raw.get("call", "")):
        raise ValueError(f"{TABLE.name}: call must be 'service.Operation' in {raw}")
    return Entry(
        tiers=tiers,
        action=raw["action"],
        resource=str(raw["resource"]),
        context=dict(raw.get("context") or {}),
        call=str(raw.get("call", "")),
        by=str(raw.get("by", "")),
        why=str(raw.get("why", "")),
        agent_api=bool(raw.get("agent_api", False)),
        hosting=hosting,
    )


def load(path: Path = TABLE) -> CallTable:
    data = yaml.safe_load(path.read_text())

    def entries(section: str, *, denied: bool, roles: tuple[str, ...] = TIERS) -> tuple:
        return tuple(e for raw in data[section] for e in _entries(raw, denied=denied, roles=roles))

    return CallTable(
        calls=entries("calls", denied=False),
        denied=entries("denied", denied=True),
        deploy=entries("deploy", denied=False, roles=CI_ROLES),
        deploy_denied=entries("deploy_denied", denied=True, roles=CI_ROLES),
    )


def names(context: Mapping[str, Any]) -> dict[str, str]:
    """The placeholders' values from a rendered environment's names (context.json)."""
    prefix, env = context["prefix"], context["env"]
    other_prefix = f"{context['name']}-other"
    found = {key: str(value) for key, value in context.items() if not isinstance(value, dict)}
    found.update(context["prefixes"])
    found.update(
        item=EXAMPLE_ITEM,
        other_prefix=other_prefix,
        other_bucket=context["bucket"].replace(prefix, other_prefix, 1),
        other_ssm_prefix=context["ssm_prefix"].replace(f"/{env}", "/other", 1),
        other_distribution=context["distribution"].rsplit("/", 1)[0] + "/E2OTHEREXAMPLE",
    )
    return found
