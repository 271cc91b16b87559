"""Web identity tokens as a CI host issues them (GitHub Actions, GitLab CI), for the emulator.

A job's OIDC token is a JWT whose claims say which repository, branch or environment it runs
for; STS exchanges it for a role's credentials when the role's trust policy allows those claims
(AssumeRoleWithWebIdentity). The emulator checks the issuer, audience, expiry and trust policy
(the fidelity layer) but not the signature, so these tokens carry none.

    token = github_token("octo/streamstack", "environment:staging")
    sts.assume_role_with_web_identity(RoleArn=..., RoleSessionName=..., WebIdentityToken=token)
"""

from __future__ import annotations

import base64
import json
import time

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"
AUDIENCE = "sts.amazonaws.com"


def _part(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def token(issuer: str, sub: str, *, audience: str = AUDIENCE, ttl: int = 300) -> str:
    """An unsigned JWT from ``issuer`` for subject ``sub``, valid ``ttl`` seconds from now."""
    now = int(time.time())
    claims = {"iss": issuer, "sub": sub, "aud": audience, "iat": now, "nbf": now, "exp": now + ttl}
    return f"{_part({'typ': 'JWT', 'alg': 'RS256', 'kid': 'unsigned'})}.{_part(claims)}.unsigned"


def github_token(repository: str, context: str, **kwargs) -> str:
    """GitHub Actions' token of a job in ``repository`` (owner/name): ``context`` is
    ``environment:<name>`` for a job with an environment, ``ref:refs/heads/<branch>`` for a
    push, ``pull_request`` for a pull request."""
    return token(GITHUB_ISSUER, f"repo:{repository}:{context}", **kwargs)


def gitlab_token(project_path: str, branch: str, **kwargs) -> str:
    """GitLab CI's token (``id_tokens``) of a job on ``branch`` of ``project_path``
    (group/project): GitLab's default ``sub`` names the branch, not the environment."""
    sub = f"project_path:{project_path}:ref_type:branch:ref:{branch}"
    return token(GITLAB_ISSUER, sub, **kwargs)


def assumed_role_env(endpoint: str, role_arn: str, jwt: str, region: str) -> dict[str, str]:
    """The AWS variables of a CI job that exchanged ``jwt`` for ``role_arn``'s credentials
    (what aws-actions/configure-aws-credentials exports), on the emulator at ``endpoint``."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    sts = boto3.client(
        "sts", endpoint_url=endpoint, region_name=region, config=Config(signature_version=UNSIGNED)
    )
    credentials = sts.assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName="ci-job", WebIdentityToken=jwt
    )["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }
