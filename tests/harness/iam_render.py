"""Render the IAM policy documents the playbooks write, and lint them with parliament.

    python -m tests.harness.iam_render lint    # `make lint`: parliament on every rendered policy

Rendering runs tests/playbooks/render_iam_policies.yml (Ansible templates the real files with an
inventory's variables); tests/playbooks/test_iam_policies.py evaluates the same documents.
"""

from __future__ import annotations

import json
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from local.ansible import ROOT, run_playbook

PLAYBOOK = ROOT / "tests" / "playbooks" / "render_iam_policies.yml"
# parliament reads identity and resource policies; a role's trust policy has no Resource, which
# it reports as malformed, so the trust policy is left to the evaluator's tests.
NOT_FOR_PARLIAMENT = {"context", "trust-ec2", "trust-ci-deploy", "trust-ci-plan"}


def render(folder: Path, inventory: str = "production") -> dict[str, Any]:
    """{name: document} of every rendered policy, plus "context": the names they were made for."""
    result = run_playbook(
        PLAYBOOK,
        inventory=ROOT / "inventories" / inventory,
        extra_vars={"iam_render_dir": str(folder)},
        timeout=120,
    )
    if not result.ok:
        raise RuntimeError(f"rendering the IAM policies failed:\n{result.messages()}")
    return {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}


def lint(documents: dict[str, Any]) -> list[str]:
    """parliament's findings (unknown actions, resources that do not match an action, ...)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament imports pkg_resources (deprecated)
        from parliament import analyze_policy_string

    findings = []
    for name, document in documents.items():
        if name in NOT_FOR_PARLIAMENT:
            continue
        policy = analyze_policy_string(json.dumps(document))
        findings += [
            f"{name}: {f.issue} {f.detail} {f.location}"
            for f in policy.findings
            if not _reads_on_star(f)
        ]
    return findings


def _reads_on_star(finding: Any) -> bool:
    """RESOURCE_STAR on Describe*/Get*/List* wildcards (CI's roles): most of these reads take no
    resource in IAM, and a wildcard of them is flagged for the few that do; reads only."""
    return finding.issue == "RESOURCE_STAR" and all(
        action.split(":", 1)[1].startswith(("Describe", "Get", "List")) for action in finding.detail
    )


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if args != ["lint"]:
        print("usage: python -m tests.harness.iam_render lint", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        documents = render(Path(folder))
    findings = lint(documents)
    for finding in findings:
        print(f"parliament: {finding}", file=sys.stderr)
    linted = sorted(set(documents) - NOT_FOR_PARLIAMENT)
    print(f"parliament: {len(linted)} policies ({', '.join(linted)}), {len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
