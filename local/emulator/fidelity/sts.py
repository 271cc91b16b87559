"""STS fixes: AssumeRoleWithWebIdentity checks the provider, the audience and the trust policy."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from local.emulator.fidelity.core import _around, fix


def _web_identity_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT (its payload); the signature is not checked here (below)."""
    import base64

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        claims = None
    if not isinstance(claims, dict):
        from moto.sts.exceptions import STSClientError

        raise STSClientError("InvalidIdentityToken", "Token is not a valid JWT")
    return claims


@fix
def sts_web_identity_checks_the_provider_the_audience_and_the_trust_policy() -> None:
    """moto 5.2.5's AssumeRoleWithWebIdentity hands out credentials for any role and any token.

    AWS (STS API Reference, AssumeRoleWithWebIdentity; IAM User Guide, "Available keys for AWS
    web identity federation") finds the IAM OIDC provider of the token's issuer (``iss``, none:
    InvalidIdentityToken), requires the token's ``aud`` among the provider's client ids
    (InvalidIdentityToken) and an unexpired ``exp`` (ExpiredTokenException), refuses a duration
    beyond the role's MaxSessionDuration (ValidationError), and evaluates the role's trust policy
    for ``sts:AssumeRoleWithWebIdentity`` by the provider (``Principal.Federated``) with the
    claims as condition keys ``<issuer host/path>:aud`` and ``:sub`` (AccessDenied otherwise).
    Not done here: the token's signature (AWS checks it against the issuer's published keys;
    the emulator has none), so a test may sign its tokens with nothing.
    """
    from urllib.parse import unquote

    from moto.iam.models import iam_backends
    from moto.sts.exceptions import STSClientError, STSValidationError
    from moto.sts.responses import TokenResponse

    from local.emulator.iam_policy import Principal, evaluate

    @_around(TokenResponse, "assume_role_with_web_identity")
    def assume(original: Callable[..., Any], self: Any) -> Any:
        claims = _web_identity_claims(self._get_param("WebIdentityToken") or "")
        backend = iam_backends[self.current_account]["aws"]
        issuer = str(claims.get("iss", "")).removeprefix("https://").rstrip("/")
        provider = next(
            (p for p in backend.open_id_providers.values() if p.url.rstrip("/") == issuer), None
        )
        if provider is None:
            raise STSClientError(
                "InvalidIdentityToken",
                f"No OpenIDConnect provider found in your account for https://{issuer}",
            )
        audiences = claims.get("aud", [])
        audiences = audiences if isinstance(audiences, list) else [audiences]
        if not set(audiences) & set(provider.client_id_list):
            raise STSClientError("InvalidIdentityToken", "Incorrect token audience")
        now = time.time()
        if float(claims.get("exp", 0)) <= now:
            raise STSClientError(
                "ExpiredTokenException",
                f"Token expired: current date/time {int(now)} must be before the expiration "
                f"date/time {claims.get('exp')}",
            )
        role_arn = self._get_param("RoleArn") or ""
        role = next((r for r in backend.roles.values() if r.arn == role_arn), None)
        duration = self._get_int_param("DurationSeconds", 3600)
        if role is not None and duration > int(role.max_session_duration or 3600):
            raise STSValidationError(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
            )
        context = {f"{issuer}:{key}": claims[key] for key in ("aud", "sub") if key in claims}
        provider_arn = f"arn:aws:iam::{self.current_account}:oidc-provider/{issuer}"
        allowed = (
            role is not None
            and evaluate(
                [],
                "sts:AssumeRoleWithWebIdentity",
                role_arn,
                context,
                resource_policies=[unquote(role.assume_role_policy_document)],
                principal=Principal(federated=provider_arn),
            ).allowed
        )
        if not allowed:
            raise STSClientError(
                "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"
            )
        return original(self)
