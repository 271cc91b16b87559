#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudfront_response_headers_policy
version_added: 0.3.0
short_description: Manage a CloudFront response headers policy (HSTS and other security headers)
description:
  - Create, update and delete a custom CloudFront response headers policy, the headers
    CloudFront adds to (or removes from) the responses of the cache behaviours that name it -
    for example C(Strict-Transport-Security) on every response of a distribution, whatever
    its origin sends.
  - The policy is found by its O(name), unique among the account's custom policies.
  - The specification is complete for what it covers - security headers, custom headers,
    removed headers and the comment - so a header removed from it is removed from the policy.
    Settings it does not cover (CORS, C(Server-Timing)) are kept as they are.
  - Idempotent - only a difference updates the policy, quoting the ETag read just before
    (C(IfMatch)). Unlike M(community.aws.cloudfront_response_headers_policy), a run with
    nothing to change makes no update call and reports no change, in check mode too.
author:
  - StreamStack contributors (@streamstack)
options:
  name:
    description:
      - Name of the policy, unique among the account's custom response headers policies.
    type: str
    required: true
  comment:
    description: A comment.
    type: str
    default: ""
  security_headers:
    description:
      - The security headers CloudFront adds. A header left out is not added.
      - Each has C(override) - whether CloudFront's value replaces one the origin sent
        (V(true)) or is only added when the origin sent none.
    type: dict
    default: {}
    suboptions:
      strict_transport_security:
        description: C(Strict-Transport-Security) (HSTS).
        type: dict
        suboptions:
          max_age:
            description: Seconds browsers remember to use HTTPS only (C(max-age)).
            type: int
            required: true
          include_subdomains:
            description: Adds C(includeSubDomains).
            type: bool
            default: false
          preload:
            description:
              - Adds C(preload) (the browsers' preload list needs C(includeSubDomains) and a
                C(max-age) of one year or more; leaving the list takes months).
            type: bool
            default: false
          override:
            description: Replace the origin's header.
            type: bool
            default: true
      content_type_options:
        description: C(X-Content-Type-Options nosniff).
        type: dict
        suboptions:
          override:
            description: Replace the origin's header.
            type: bool
            default: true
      frame_options:
        description: C(X-Frame-Options).
        type: dict
        suboptions:
          frame_option:
            description: The value.
            type: str
            choices: [DENY, SAMEORIGIN]
            required: true
          override:
            description: Replace the origin's header.
            type: bool
            default: true
      referrer_policy:
        description: C(Referrer-Policy).
        type: dict
        suboptions:
          referrer_policy:
            description: The value.
            type: str
            required: true
            choices:
              - no-referrer
              - no-referrer-when-downgrade
              - origin
              - origin-when-cross-origin
              - same-origin
              - strict-origin
              - strict-origin-when-cross-origin
              - unsafe-url
          override:
            description: Replace the origin's header.
            type: bool
            default: true
      content_security_policy:
        description: C(Content-Security-Policy).
        type: dict
        suboptions:
          content_security_policy:
            description: The policy.
            type: str
            required: true
          override:
            description: Replace the origin's header.
            type: bool
            default: true
      xss_protection:
        description: C(X-XSS-Protection).
        type: dict
        suboptions:
          protection:
            description: V(true) for C(1), V(false) for C(0).
            type: bool
            required: true
          mode_block:
            description: Adds C(mode=block).
            type: bool
            default: false
          report_uri:
            description: Adds C(report=<uri>).
            type: str
          override:
            description: Replace the origin's header.
            type: bool
            default: true
  custom_headers:
    description: Other headers CloudFront adds.
    type: list
    elements: dict
    default: []
    suboptions:
      header:
        description: Header name.
        type: str
        required: true
      value:
        description: Header value.
        type: str
        required: true
      override:
        description: Replace the origin's header.
        type: bool
        default: true
  remove_headers:
    description: Headers CloudFront removes from the origin's responses.
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) creates or updates the policy, V(absent) deletes it.
      - A policy still named by a distribution's cache behaviour cannot be deleted; the task
        fails with CloudFront's C(ResponseHeadersPolicyInUse) error.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Supports C(check_mode) and C(diff).
  - CloudFront is a global service; the region only selects the API endpoint.
  - Response headers policies take no tags.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: HSTS on every response of the distribution
  streamstack.aws.cloudfront_response_headers_policy:
    name: stream-production-security-headers
    comment: HSTS and nosniff on pages and media
    security_headers:
      strict_transport_security:
        max_age: 63072000
        include_subdomains: true
      content_type_options: {}
  register: headers_policy

- name: The distribution's behaviours name it
  streamstack.aws.cloudfront_distribution:
    caller_reference: stream-production-media
    # ...
    default_cache_behavior:
      target_origin_id: web
      response_headers_policy_id: "{{ headers_policy.response_headers_policy.id }}"
"""

RETURN = r"""
response_headers_policy:
  description: The policy, empty when O(state=absent).
  returned: always
  type: dict
  contains:
    id:
      description:
        - ID of the policy, what a cache behaviour's C(ResponseHeadersPolicyId) names.
        - Not known in check mode before it exists.
      type: str
      sample: 0b8c2fd4-6f5c-4d39-9b9b-EXAMPLE
    etag:
      description: The configuration's current ETag.
      type: str
    config:
      description: The configuration, in CloudFront's structure.
      type: dict
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.streamstack.aws.plugins.module_utils.cloudfront import (
    ConfigResource,
    cloudfront_client,
    ensure_config,
    ensure_config_absent,
    find_named,
    normalize,
    prune,
    to_cf_list,
)
from ansible_collections.streamstack.aws.plugins.module_utils.errors import AnsibleAWSError

# Parts of the configuration this module decides; others (CORS, Server-Timing) are kept.
OWNED = ("Name", "Comment", "SecurityHeadersConfig", "CustomHeadersConfig", "RemoveHeadersConfig")


# Each security header: its option, CloudFront's key and fields (CloudFront's: the option's),
# besides Override.
SECURITY_HEADERS = (
    (
        "strict_transport_security",
        "StrictTransportSecurity",
        {
            "IncludeSubdomains": "include_subdomains",
            "Preload": "preload",
            "AccessControlMaxAgeSec": "max_age",
        },
    ),
    ("content_type_options", "ContentTypeOptions", {}),
    ("frame_options", "FrameOptions", {"FrameOption": "frame_option"}),
    ("referrer_policy", "ReferrerPolicy", {"ReferrerPolicy": "referrer_policy"}),
    (
        "content_security_policy",
        "ContentSecurityPolicy",
        {"ContentSecurityPolicy": "content_security_policy"},
    ),
    (
        "xss_protection",
        "XSSProtection",
        {"Protection": "protection", "ModeBlock": "mode_block", "ReportUri": "report_uri"},
    ),
)


def security_headers(spec):
    """SecurityHeadersConfig for the option (only the headers given; an unset field left out)."""
    config = {}
    for option, key, fields in SECURITY_HEADERS:
        given = spec.get(option)
        if given is None:
            continue
        config[key] = {"Override": given["override"]}
        config[key].update(
            {api: given[name] for api, name in fields.items() if given[name] not in (None, "")}
        )
    return config


def desired_config(module):
    params = module.params
    errors = []
    hsts = (params["security_headers"] or {}).get("strict_transport_security")
    if hsts and hsts["max_age"] < 0:
        errors.append("strict_transport_security.max_age must be 0 or more")
    if (
        hsts
        and hsts["preload"]
        and not (hsts["include_subdomains"] and hsts["max_age"] >= 31536000)
    ):
        errors.append(
            "strict_transport_security.preload needs include_subdomains and a max_age of one"
            " year (31536000) or more"
        )
    names = [h["header"].lower() for h in params["custom_headers"]]
    names += [h.lower() for h in params["remove_headers"]]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        errors.append(f"header {dup} is given more than once in custom_headers/remove_headers")
    if errors:
        module.fail_json(msg="Invalid response headers policy: " + "; ".join(errors))
    config = {"Name": params["name"], "Comment": params["comment"]}
    headers = security_headers(params["security_headers"] or {})
    if headers:
        config["SecurityHeadersConfig"] = headers
    if params["custom_headers"]:
        config["CustomHeadersConfig"] = to_cf_list(
            [
                {"Header": h["header"], "Value": h["value"], "Override": h["override"]}
                for h in sorted(params["custom_headers"], key=lambda h: h["header"].lower())
            ]
        )
    if params["remove_headers"]:
        config["RemoveHeadersConfig"] = to_cf_list(
            [{"Header": h} for h in sorted(params["remove_headers"], key=str.lower)]
        )
    return config


def merged_config(live, desired):
    """The configuration to send: the desired parts, and what this module does not cover."""
    kept = {key: value for key, value in (live or {}).items() if key not in OWNED}
    return {**kept, **desired}


def canonical(config):
    return prune(normalize(config or {}))


def to_result(policy_id, config, etag=None):
    result = {"id": policy_id, "config": config}
    if etag:
        result["etag"] = etag
    return result


def main():
    override = dict(type="bool", default=True)
    argument_spec = dict(
        name=dict(type="str", required=True),
        comment=dict(type="str", default=""),
        security_headers=dict(
            type="dict",
            default={},
            options=dict(
                strict_transport_security=dict(
                    type="dict",
                    options=dict(
                        max_age=dict(type="int", required=True),
                        include_subdomains=dict(type="bool", default=False),
                        preload=dict(type="bool", default=False),
                        override=override,
                    ),
                ),
                content_type_options=dict(type="dict", options=dict(override=override)),
                frame_options=dict(
                    type="dict",
                    options=dict(
                        frame_option=dict(
                            type="str", required=True, choices=["DENY", "SAMEORIGIN"]
                        ),
                        override=override,
                    ),
                ),
                referrer_policy=dict(
                    type="dict",
                    options=dict(
                        referrer_policy=dict(
                            type="str",
                            required=True,
                            choices=[
                                "no-referrer",
                                "no-referrer-when-downgrade",
                                "origin",
                                "origin-when-cross-origin",
                                "same-origin",
                                "strict-origin",
                                "strict-origin-when-cross-origin",
                                "unsafe-url",
                            ],
                        ),
                        override=override,
                    ),
                ),
                content_security_policy=dict(
                    type="dict",
                    options=dict(
                        content_security_policy=dict(type="str", required=True),
                        override=override,
                    ),
                ),
                xss_protection=dict(
                    type="dict",
                    options=dict(
                        protection=dict(type="bool", required=True),
                        mode_block=dict(type="bool", default=False),
                        report_uri=dict(type="str"),
                        override=override,
                    ),
                ),
            ),
        ),
        custom_headers=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(
                header=dict(type="str", required=True),
                value=dict(type="str", required=True),
                override=override,
            ),
        ),
        remove_headers=dict(type="list", elements="str", default=[]),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    client = cloudfront_client(module)
    resource = ConfigResource(
        client,
        "ResponseHeadersPolicy",
        "response headers policy",
        missing_code="NoSuchResponseHeadersPolicy",
        in_use_code="ResponseHeadersPolicyInUse",
        in_use_hint="is still named by a distribution's cache behaviour; remove it there first",
    )
    key = "response_headers_policy"
    try:
        existing = find_named(
            client,
            "list_response_headers_policies",
            "ResponseHeadersPolicyList",
            module.params["name"],
            item_key="ResponseHeadersPolicy",
            config_key="ResponseHeadersPolicyConfig",
            Type="custom",
        )
        existing_id = existing["Id"] if existing else None
        if module.params["state"] == "present":
            desired = desired_config(module)
            ensure_config(
                module,
                resource,
                existing_id,
                desired,
                key=key,
                view=canonical,
                result=to_result,
                merge=lambda live: merged_config(live, desired),
            )
        ensure_config_absent(module, resource, existing_id, key=key, view=canonical)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


if __name__ == "__main__":
    main()
