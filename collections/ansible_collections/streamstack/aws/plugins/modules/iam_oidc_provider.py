#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: iam_oidc_provider
version_added: 0.3.0
short_description: Manage an IAM OpenID Connect identity provider
description:
  - Create, update and delete the IAM OIDC identity provider that lets a CI host's jobs
    (GitHub Actions, GitLab CI) exchange their ID token for a role's temporary credentials
    (C(sts:AssumeRoleWithWebIdentity)), so that no long-lived key is stored in the CI host.
  - The provider is found by its O(url), which IAM keeps unique in an account. Its audiences
    (O(client_ids)), thumbprints and tags are updated in place.
  - One provider per issuer serves every role of the account. The roles' trust policies, not the
    provider, say which repositories, branches and environments may assume them.
author:
  - StreamStack contributors (@streamstack)
options:
  url:
    description:
      - The issuer's URL, C(https://) and no query or fragment, as the tokens' C(iss) claim says
        (C(https://token.actions.githubusercontent.com), C(https://gitlab.com)).
    type: str
    required: true
  client_ids:
    description:
      - The audiences (C(aud) claims) IAM accepts from this issuer, for example
        C(sts.amazonaws.com) (the audience of aws-actions/configure-aws-credentials).
      - Required when O(state=present); compared as a set.
    type: list
    elements: str
  thumbprints:
    description:
      - SHA-1 thumbprints (40 hex digits) of the issuer's certificate chain. IAM no longer uses them
        for issuers whose certificates a public CA it trusts signs (GitHub, GitLab.com), and then
        an empty list is fine; a self-managed issuer may need its own. Compared as a set.
    type: list
    elements: str
    default: []
  tags:
    description: Tags of the provider; tags not listed are removed (O(purge_tags)).
    type: dict
    default: {}
  purge_tags:
    description: Whether tags not in O(tags) are removed.
    type: bool
    default: true
  state:
    description: V(present) creates or updates the provider, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Supports C(check_mode) and C(diff).
  - IAM is a global service; the region only selects the API endpoint.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: GitHub Actions may ask STS for roles of this account
  streamstack.aws.iam_oidc_provider:
    url: https://token.actions.githubusercontent.com
    client_ids: [sts.amazonaws.com]
    tags:
      ManagedBy: ansible

- name: Remove it (no role may trust it any more)
  streamstack.aws.iam_oidc_provider:
    url: https://token.actions.githubusercontent.com
    state: absent
"""

RETURN = r"""
provider:
  description: The provider, empty when O(state=absent).
  returned: always
  type: dict
  contains:
    arn:
      description: Its ARN, the C(Principal.Federated) of the roles' trust policies.
      type: str
      sample: arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com
    url:
      description: The issuer, without its scheme (as IAM stores it).
      type: str
      sample: token.actions.githubusercontent.com
    client_ids:
      description: Its audiences, sorted.
      type: list
      elements: str
    thumbprints:
      description: Its thumbprints, sorted.
      type: list
      elements: str
    tags:
      description: Its tags.
      type: dict
"""

from urllib.parse import urlparse

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.streamstack.aws.plugins.module_utils.errors import (
    AnsibleAWSError,
    aws_call,
    error_handler,
)
from ansible_collections.streamstack.aws.plugins.module_utils.sets import diff_result
from ansible_collections.streamstack.aws.plugins.module_utils.tagging import (
    planned_tags,
    sync_tags,
)

IAM_ERRORS = error_handler("NoSuchEntity")


def issuer(url):
    """The issuer as IAM stores it and names it in the ARN: host and path, no scheme."""
    parsed = urlparse(url)
    return (parsed.netloc + parsed.path).rstrip("/")


def find(module, client, url):
    """(arn, provider as returned) of the provider of ``url``, or (None, None)."""
    account_arns = []
    listed = aws_call("list the OpenID Connect providers", client.list_open_id_connect_providers)
    for entry in listed.get("OpenIDConnectProviderList", []):
        account_arns.append(entry["Arn"])
    wanted = issuer(url)
    for arn in account_arns:
        if arn.split(":oidc-provider/", 1)[-1].rstrip("/") != wanted:
            continue
        provider = get_provider(client, arn)
        return (arn, provider) if provider else (None, None)  # None: deleted meanwhile
    return None, None


def view(url, client_ids, thumbprints, tags):
    return {
        "url": issuer(url),
        "client_ids": sorted(set(client_ids)),
        "thumbprints": sorted({t.lower() for t in thumbprints}),
        "tags": dict(tags),
    }


def current_view(provider):
    return view(
        "https://" + provider.get("Url", ""),
        provider.get("ClientIDList", []),
        provider.get("ThumbprintList", []),
        {t["Key"]: t["Value"] for t in provider.get("Tags", [])},
    )


def ensure_present(module, client, arn, provider):
    params = module.params
    if params["client_ids"] is None:
        module.fail_json(msg="client_ids is required when state=present")
    desired = view(params["url"], params["client_ids"], params["thumbprints"], params["tags"])
    if arn is None:
        if not module.check_mode:
            arn = create_provider(client, params["url"], desired)
        module.exit_json(
            changed=True,
            provider=dict(desired, arn=arn),
            **diff_result(module, {}, desired),
        )

    before = current_view(provider)
    after = dict(desired, tags=planned_tags(before["tags"], desired["tags"], params["purge_tags"]))
    if before == after:
        module.exit_json(changed=False, provider=dict(before, arn=arn))
    if not module.check_mode:
        update_provider(module, client, arn, before, after)
    module.exit_json(
        changed=True, provider=dict(after, arn=arn), **diff_result(module, before, after)
    )


@IAM_ERRORS.common_error_handler("update the OpenID Connect provider {arn}")
def update_provider(module, client, arn, before, after):
    for client_id in sorted(set(after["client_ids"]) - set(before["client_ids"])):
        client.add_client_id_to_open_id_connect_provider(
            OpenIDConnectProviderArn=arn, ClientID=client_id, aws_retry=True
        )
    for client_id in sorted(set(before["client_ids"]) - set(after["client_ids"])):
        client.remove_client_id_from_open_id_connect_provider(
            OpenIDConnectProviderArn=arn, ClientID=client_id, aws_retry=True
        )
    if before["thumbprints"] != after["thumbprints"]:
        client.update_open_id_connect_provider_thumbprint(
            OpenIDConnectProviderArn=arn, ThumbprintList=after["thumbprints"], aws_retry=True
        )
    sync_tags(
        module,
        before["tags"],
        module.params["tags"],
        module.params["purge_tags"],
        tag=lambda add: client.tag_open_id_connect_provider(
            OpenIDConnectProviderArn=arn,
            Tags=[{"Key": k, "Value": v} for k, v in add.items()],
            aws_retry=True,
        ),
        untag=lambda keys: client.untag_open_id_connect_provider(
            OpenIDConnectProviderArn=arn, TagKeys=keys, aws_retry=True
        ),
    )


@IAM_ERRORS.list_error_handler("read the OpenID Connect provider {arn}")
def get_provider(client, arn):
    return client.get_open_id_connect_provider(OpenIDConnectProviderArn=arn, aws_retry=True)


@IAM_ERRORS.common_error_handler("create the provider of {url}")
def create_provider(client, url, desired):
    return client.create_open_id_connect_provider(
        Url=url,
        ClientIDList=desired["client_ids"],
        ThumbprintList=desired["thumbprints"],
        Tags=[{"Key": k, "Value": v} for k, v in desired["tags"].items()],
        aws_retry=True,
    )["OpenIDConnectProviderArn"]


@IAM_ERRORS.deletion_error_handler("delete the OpenID Connect provider {arn}")
def delete_provider(client, arn):
    client.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn, aws_retry=True)


def ensure_absent(module, client, arn, provider):
    if arn is None:
        module.exit_json(changed=False, provider={})
    if not module.check_mode:
        delete_provider(client, arn)
    module.exit_json(changed=True, provider={}, **diff_result(module, current_view(provider), {}))


def main():
    argument_spec = dict(
        url=dict(type="str", required=True),
        client_ids=dict(type="list", elements="str"),
        thumbprints=dict(type="list", elements="str", default=[]),
        tags=dict(type="dict", default={}),
        purge_tags=dict(type="bool", default=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    parsed = urlparse(module.params["url"])
    if parsed.scheme != "https" or not parsed.netloc or parsed.query or parsed.fragment:
        module.fail_json(msg=f"url must be https://<host>[/path], got {module.params['url']}")
    client = module.client("iam", retry_decorator=AWSRetry.jittered_backoff())
    try:
        arn, provider = find(module, client, module.params["url"])
        if module.params["state"] == "present":
            ensure_present(module, client, arn, provider)
        else:
            ensure_absent(module, client, arn, provider)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


if __name__ == "__main__":
    main()
