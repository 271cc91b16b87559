"""An IAM policy evaluator: is this request allowed by these policies, as AWS decides it?

No package on PyPI answers that offline (parliament lints policies, policy_sentry knows actions,
resource ARN formats and condition keys), and moto's own checks differ from AWS (its action names
come from the signing name, it matches resource ARNs only for S3 and SQS, treats conditions as
true and never grants through a bucket policy). This module follows AWS's documented logic for a
request within one account, enough for our instance roles, bucket policies and trust policies:

- "Policy evaluation logic": an explicit Deny in any policy wins; otherwise an Allow in an
  identity policy or in a resource policy naming the principal grants; otherwise implicit deny.
- "IAM JSON policy elements": Action/NotAction (case-insensitive, ``*`` and ``?``),
  Resource/NotResource (case-sensitive; ARN segments matched one by one, the resource part as a
  whole), Principal/NotPrincipal (resource policies).
- "Condition operators": String*, Numeric*, Date*, Bool, IpAddress/NotIpAddress, Arn*, Null, the
  ``...IfExists`` suffix and the ``ForAnyValue:``/``ForAllValues:`` set qualifiers. Operators
  AND, keys of one operator AND, values of one key OR (negated operators: none may match). A key
  missing from the request context fails a condition, except for negated operators (true),
  ``...IfExists`` (true), ``Null`` (its own test) and ``ForAllValues`` (true, AWS's warned-about
  default). Condition key names are case-insensitive; policy variables (``${aws:username}``,
  ``${*}``...) are resolved from the context and an unresolvable one matches nothing.

    from local.emulator.iam_policy import evaluate
    decision = evaluate([policy_doc], "s3:ListBucket", "arn:aws:s3:::bucket", {"s3:prefix": "hls/"})
    decision.allowed, decision.effect, decision.statement
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Effect = Literal["allow", "explicit_deny", "implicit_deny"]
ContextValue = str | bool | int | float | list[Any] | tuple[Any, ...]


@dataclass(frozen=True)
class Principal:
    """Who makes the request: its ARN (an assumed-role session, a user, a role), its account,
    for AWS services the service principal (``cloudfront.amazonaws.com``), and for a web
    identity the IAM OIDC provider that vouched for it (``arn:aws:iam::...:oidc-provider/...``)."""

    arn: str = ""
    account: str = ""
    service: str = ""
    federated: str = ""

    @property
    def role_arn(self) -> str:
        """The role behind an assumed-role session ARN (``...:assumed-role/NAME/SESSION``)."""
        match = re.match(r"arn:([^:]+):sts::(\d+):assumed-role/([^/]+)/", self.arn)
        return f"arn:{match[1]}:iam::{match[2]}:role/{match[3]}" if match else ""


@dataclass(frozen=True)
class Policy:
    name: str
    document: Mapping[str, Any]

    @property
    def statements(self) -> list[Mapping[str, Any]]:
        found = self.document.get("Statement", [])
        return list(found) if isinstance(found, list) else [found]


@dataclass(frozen=True)
class Decision:
    effect: Effect
    policy: str | None = None
    statement: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def allowed(self) -> bool:
        return self.effect == "allow"

    def __str__(self) -> str:
        if self.statement is None:
            return f"{self.effect} (no statement applies)"
        sid = self.statement.get("Sid") or json.dumps(self.statement, sort_keys=True)[:120]
        return f"{self.effect} by {self.policy}: {sid}"


def as_policy(policy: Policy | Mapping[str, Any] | str, name: str = "policy") -> Policy:
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, str):
        return Policy(name, json.loads(policy))
    return Policy(name, policy)


def evaluate(
    identity_policies: Iterable[Policy | Mapping[str, Any] | str],
    action: str,
    resource: str,
    context: Mapping[str, ContextValue] | None = None,
    *,
    resource_policies: Iterable[Policy | Mapping[str, Any] | str] = (),
    principal: Principal | None = None,
) -> Decision:
    """The decision AWS makes for one request of ``principal`` within its own account."""
    ctx = _normalise_context(context or {}, principal)
    identity = [as_policy(p, f"identity policy {i}") for i, p in enumerate(identity_policies)]
    resource_side = [as_policy(p, f"resource policy {i}") for i, p in enumerate(resource_policies)]

    allow: Decision | None = None
    for policy, is_resource_policy in [(p, False) for p in identity] + [
        (p, True) for p in resource_side
    ]:
        for statement in policy.statements:
            applies, grants = _statement_applies(
                statement, action, resource, ctx, principal, is_resource_policy
            )
            if not applies:
                continue
            if statement.get("Effect") == "Deny":
                return Decision("explicit_deny", policy.name, statement)
            if statement.get("Effect") == "Allow" and grants and allow is None:
                allow = Decision("allow", policy.name, statement)
    return allow or Decision("implicit_deny")


# --------------------------------------------------------------------------------------------
# Statements
# --------------------------------------------------------------------------------------------


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _statement_applies(
    statement: Mapping[str, Any],
    action: str,
    resource: str,
    ctx: dict[str, list[str]],
    principal: Principal | None,
    is_resource_policy: bool,
) -> tuple[bool, bool]:
    """(the statement applies to the request, an Allow of it grants on its own)."""
    if "Action" in statement:
        if not any(_match_action(p, action) for p in _listed(statement["Action"])):
            return False, False
    elif "NotAction" in statement:
        if any(_match_action(p, action) for p in _listed(statement["NotAction"])):
            return False, False
    else:
        return False, False

    if "Resource" in statement:
        if not any(_match_resource(p, resource, ctx) for p in _listed(statement["Resource"])):
            return False, False
    elif "NotResource" in statement:
        if any(_match_resource(p, resource, ctx) for p in _listed(statement["NotResource"])):
            return False, False
    elif not is_resource_policy:
        return False, False  # an identity policy statement needs Resource or NotResource

    grants = True
    if is_resource_policy:
        if "Principal" in statement:
            matched, grants = _match_principal(statement["Principal"], principal)
            if not matched:
                return False, False
        elif "NotPrincipal" in statement:
            matched, _ = _match_principal(statement["NotPrincipal"], principal)
            if matched:
                return False, False
        else:
            return False, False

    for operator, block in (statement.get("Condition") or {}).items():
        if not _condition_block_holds(operator, block, ctx):
            return False, False
    return True, grants


def _wildcard(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """``*`` and ``?`` as wildcards; ``${*}`` and ``${?}`` (resolved to sentinels) as literals."""
    parts = []
    i = 0
    while i < len(pattern):
        sentinel = next((s for s in _LITERALS if pattern.startswith(s, i)), None)
        if sentinel:
            parts.append(re.escape(_LITERALS[sentinel]))
            i += len(sentinel)
            continue
        char = pattern[i]
        parts.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _match_action(pattern: str, action: str) -> bool:
    return bool(_wildcard(pattern, ignore_case=True).fullmatch(action))


def _match_arn(pattern: str, arn: str) -> bool:
    """ARN matching: the first five segments one by one, the resource part as a whole."""
    if pattern == "*":
        return True
    want, have = pattern.split(":", 5), arn.split(":", 5)
    if len(want) < 6 or len(have) < 6:
        return bool(_wildcard(pattern).fullmatch(arn))
    return all(_wildcard(w).fullmatch(h) for w, h in zip(want, have, strict=True))


def _match_resource(pattern: str, resource: str, ctx: dict[str, list[str]]) -> bool:
    resolved = _resolve_variables(pattern, ctx)
    return resolved is not None and _match_arn(resolved, resource)


def _match_principal(element: Any, principal: Principal | None) -> tuple[bool, bool]:
    """(the Principal element names the requester, an Allow to it grants on its own).

    Same-account rule: naming the account (``123456789012`` or ``arn:aws:iam::123...:root``)
    delegates to the account's identity policies, so such an Allow does not grant by itself."""
    if element == "*":
        return True, True
    if principal is None or not isinstance(element, Mapping):
        return False, False
    for kind, values in element.items():
        for value in _listed(values):
            if kind == "Service" and principal.service and value == principal.service:
                return True, True
            if kind == "Federated" and principal.federated and value == principal.federated:
                return True, True
            if kind != "AWS":
                continue
            if value == "*":
                return True, True
            if value in (principal.arn, principal.role_arn) and value:
                return True, True
            root = re.fullmatch(r"(?:arn:[^:]+:iam::)?(\d{12})(?::root)?", str(value))
            if root and principal.account == root[1] and not principal.service:
                return True, False
    return False, False


# --------------------------------------------------------------------------------------------
# Conditions
# --------------------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{([^}]+)\}")
# ${*} and ${?} stand for the literal characters, not wildcards: resolved to private sentinels.
_LITERALS = {"\x00star": "*", "\x00qm": "?"}


def _resolve_variables(value: str, ctx: dict[str, list[str]]) -> str | None:
    """Replace ``${key}`` by the context's single value; None when one cannot be resolved."""
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        name = match[1]
        if name in ("*", "?", "$"):
            return {"*": "\x00star", "?": "\x00qm", "$": "$"}[name]
        key, _, default = name.partition(",")
        found = ctx.get(key.strip().lower())
        if found and len(found) == 1:
            return found[0]
        if default:
            return default.strip().strip("'")
        missing = True
        return ""

    resolved = _VARIABLE.sub(replace, value)
    if missing:
        return None
    return resolved


def _plain(value: str) -> str:
    """A resolved value with its literal-character sentinels turned back into the characters."""
    for sentinel, char in _LITERALS.items():
        value = value.replace(sentinel, char)
    return value


def _to_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _to_date(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _cmp(convert, compare):  # type: ignore[no-untyped-def]
    def test(actual: str, expected: str) -> bool:
        a, e = convert(actual), convert(expected)
        return a is not None and e is not None and compare(a, e)

    return test


def _in_network(actual: str, expected: str) -> bool:
    try:
        return ipaddress.ip_address(actual) in ipaddress.ip_network(expected, strict=False)
    except ValueError:
        return False


# Base operator -> (test of one context value against one policy value, negated, resolves
# policy variables). Negated operators use the positive test and invert the outcome.
_OPERATORS: dict[str, tuple[Any, bool, bool]] = {
    "StringEquals": (lambda a, e: a == e, False, True),
    "StringNotEquals": (lambda a, e: a == e, True, True),
    "StringEqualsIgnoreCase": (lambda a, e: a.lower() == e.lower(), False, True),
    "StringNotEqualsIgnoreCase": (lambda a, e: a.lower() == e.lower(), True, True),
    "StringLike": (lambda a, e: bool(_wildcard(e).fullmatch(a)), False, True),
    "StringNotLike": (lambda a, e: bool(_wildcard(e).fullmatch(a)), True, True),
    "NumericEquals": (_cmp(_to_number, lambda a, e: a == e), False, False),
    "NumericNotEquals": (_cmp(_to_number, lambda a, e: a == e), True, False),
    "NumericLessThan": (_cmp(_to_number, lambda a, e: a < e), False, False),
    "NumericLessThanEquals": (_cmp(_to_number, lambda a, e: a <= e), False, False),
    "NumericGreaterThan": (_cmp(_to_number, lambda a, e: a > e), False, False),
    "NumericGreaterThanEquals": (_cmp(_to_number, lambda a, e: a >= e), False, False),
    "DateEquals": (_cmp(_to_date, lambda a, e: a == e), False, False),
    "DateNotEquals": (_cmp(_to_date, lambda a, e: a == e), True, False),
    "DateLessThan": (_cmp(_to_date, lambda a, e: a < e), False, False),
    "DateLessThanEquals": (_cmp(_to_date, lambda a, e: a <= e), False, False),
    "DateGreaterThan": (_cmp(_to_date, lambda a, e: a > e), False, False),
    "DateGreaterThanEquals": (_cmp(_to_date, lambda a, e: a >= e), False, False),
    "Bool": (lambda a, e: a.lower() == e.lower(), False, True),
    "IpAddress": (_in_network, False, False),
    "NotIpAddress": (_in_network, True, False),
    "ArnEquals": (lambda a, e: _match_arn(e, a), False, True),
    "ArnLike": (lambda a, e: _match_arn(e, a), False, True),
    "ArnNotEquals": (lambda a, e: _match_arn(e, a), True, True),
    "ArnNotLike": (lambda a, e: _match_arn(e, a), True, True),
}


# Operators whose policy values may hold wildcards (ArnEquals behaves as ArnLike on AWS).
_WILDCARD_OPERATORS = {
    "StringLike",
    "StringNotLike",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
}


class UnknownOperator(ValueError):
    pass


def _condition_block_holds(operator: str, block: Mapping[str, Any], ctx: dict[str, list[str]]):
    qualifier = ""
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
        if qualifier not in ("ForAnyValue", "ForAllValues"):
            raise UnknownOperator(f"unknown set qualifier {qualifier!r}")
    if_exists = operator.endswith("IfExists") and operator != "IfExists"
    base = operator[: -len("IfExists")] if if_exists else operator
    for key, expected in block.items():
        values = [_text(v) for v in _listed(expected)]
        actual = ctx.get(key.lower())
        if base == "Null":
            want_missing = values[0].lower() == "true"
            if (actual is None or actual == []) != want_missing:
                return False
            continue
        if base not in _OPERATORS:
            raise UnknownOperator(f"unknown condition operator {operator!r}")
        test, negated, variables = _OPERATORS[base]
        if variables:
            resolved = [_resolve_variables(v, ctx) for v in values]
            values = [v for v in resolved if v is not None]
            if base not in _WILDCARD_OPERATORS:
                values = [_plain(v) for v in values]
        if not _key_holds(qualifier, test, negated, if_exists, actual, values):
            return False
    return True


def _key_holds(qualifier, test, negated, if_exists, actual, values) -> bool:  # type: ignore[no-untyped-def]
    def one(value: str) -> bool:
        matched = any(test(value, expected) for expected in values)
        return not matched if negated else matched

    if actual is None or actual == []:
        if if_exists:
            return True
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return negated
    if qualifier == "ForAllValues":
        return all(one(v) for v in actual)
    if qualifier == "ForAnyValue":
        return any(one(v) for v in actual)
    # A single-valued operator on a multivalued key: any value decides a positive match; a
    # negated operator needs every value to differ.
    return all(one(v) for v in actual) if negated else any(one(v) for v in actual)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _normalise_context(
    context: Mapping[str, ContextValue], principal: Principal | None
) -> dict[str, list[str]]:
    ctx = {key.lower(): [_text(v) for v in _listed(value)] for key, value in context.items()}
    if principal is not None:
        if principal.arn:
            ctx.setdefault("aws:principalarn", [principal.role_arn or principal.arn])
        if principal.account:
            ctx.setdefault("aws:principalaccount", [principal.account])
        if principal.service:
            ctx.setdefault("aws:principalservicename", [principal.service])
    return ctx
