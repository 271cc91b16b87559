"""CI's roles on the emulator: playbooks/ci_bootstrap.yml run by the account's operator, then
a pipeline's credentials for them, from a GitHub Actions job's ID token (AssumeRoleWithWebIdentity,
which the fidelity layer checks against the roles' trust policies).

    roles = ci_roles.bootstrap("provtest", endpoint)
    run_playbook(PROVISION, env=roles.deploy)    # as the environment's deploy job
    run_playbook(PROVISION, check=True, env=roles.plan)    # as a pull request's plan job

The emulator enforces IAM for these sessions (README, "IAM: one role per tier"), so a playbook
run with them does only what the roles' policies (playbooks/ci_bootstrap/vars/policy.yml) allow.
"""

from __future__ import annotations

from dataclasses import dataclass

from local.ansible import ROOT, PlaybookResult, run_playbook
from tests.harness.web_identity import assumed_role_env, github_token

BOOTSTRAP = ROOT / "playbooks" / "ci_bootstrap.yml"
REPOSITORY = "octo/streamstack"  # the GitHub repository the roles trust
GITLAB_PROJECT = "grp/streamstack"  # the GitLab project they trust
ACCOUNT = "123456789012"  # the emulator's account
REGION = "eu-west-1"


@dataclass(frozen=True)
class CiRoles:
    """The AWS variables of a deploy job and of a plan job of one environment."""

    deploy: dict[str, str]
    plan: dict[str, str]
    deploy_role: str
    plan_role: str


def run_bootstrap(
    platform_name: str, endpoint: str, check: bool = False, diff: bool = False, **extra_vars
) -> PlaybookResult:
    """ci_bootstrap.yml for ``platform_name``'s environment, trusting REPOSITORY (GitHub) and
    GITLAB_PROJECT (GitLab), as the account's operator."""
    return run_playbook(
        BOOTSTRAP,
        extra_vars={
            "platform_name": platform_name,
            "aws_endpoint_url": endpoint,
            "ci_github_repository": REPOSITORY,
            "ci_gitlab_project_path": GITLAB_PROJECT,
            **extra_vars,
        },
        check=check,
        diff=diff,
        timeout=300,
    )


def bootstrap(platform_name: str, endpoint: str, env: str = "local") -> CiRoles:
    """CI's roles of ``platform_name``'s environment ``env`` (run_bootstrap), then each role's
    credentials as GitHub's jobs get them."""
    result = run_bootstrap(platform_name, endpoint)
    if not result.ok:
        raise RuntimeError(f"ci_bootstrap.yml failed: {result.messages()}")
    prefix = f"{platform_name}-{env}"
    deploy_role = f"arn:aws:iam::{ACCOUNT}:role/ci-deploy-{prefix}"
    plan_role = f"arn:aws:iam::{ACCOUNT}:role/ci-plan-{prefix}"
    deploy_token = github_token(REPOSITORY, f"environment:{env}")
    plan_token = github_token(REPOSITORY, "pull_request")
    return CiRoles(
        deploy=assumed_role_env(endpoint, deploy_role, deploy_token, REGION),
        plan=assumed_role_env(endpoint, plan_role, plan_token, REGION),
        deploy_role=deploy_role,
        plan_role=plan_role,
    )
