"""Secret values from the environment, Secrets Manager or SSM Parameter Store.

Only ARNs/parameter names travel through configuration (the project's convention); the values
are fetched once at start-up with the instance's own credentials.
"""

from __future__ import annotations

import json

from streamapp.aws import client
from streamapp.config import Settings


class SecretMissing(RuntimeError):
    pass


def resolve(settings: Settings, name: str, *, json_key: str | None = None) -> str | None:
    """Value of secret ``name``: inline, else ``<name>_secret_arn``, else ``<name>_parameter``."""
    value = fetch(settings, name)
    return None if value is None else _pick(value, json_key)


def fetch(settings: Settings, name: str) -> str | None:
    """The whole value of secret ``name`` as stored (a JSON document stays one), or None."""
    inline = getattr(settings, name)
    if inline:
        return str(inline)
    arn = getattr(settings, f"{name}_secret_arn", None)
    if arn:
        return str(
            client(settings, "secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
        )
    parameter = getattr(settings, f"{name}_parameter", None)
    if parameter:
        resp = client(settings, "ssm").get_parameter(Name=parameter, WithDecryption=True)
        return str(resp["Parameter"]["Value"])
    return None


def refreshable(settings: Settings, name: str) -> bool:
    """True when secret ``name`` comes from a store that may change it (not inline)."""
    return not getattr(settings, name) and bool(
        getattr(settings, f"{name}_secret_arn", None)
        or getattr(settings, f"{name}_parameter", None)
    )


def require(settings: Settings, name: str, *, json_key: str | None = None) -> str:
    value = resolve(settings, name, json_key=json_key)
    if not value:
        env = f"STREAMAPP_{name.upper()}"
        raise SecretMissing(f"{env} (or {env}_SECRET_ARN / {env}_PARAMETER) is not set")
    return value


def _pick(value: str, json_key: str | None) -> str:
    # RDS-managed secrets are JSON documents; plain strings are used as they are.
    if json_key and value.lstrip().startswith("{"):
        try:
            return str(json.loads(value)[json_key])
        except (ValueError, KeyError):
            return value
    return value
