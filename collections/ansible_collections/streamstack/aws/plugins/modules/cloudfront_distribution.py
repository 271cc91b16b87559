#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cloudfront_distribution
version_added: 0.1.0
short_description: Manage a CloudFront distribution with OAC origins and signed-URL key groups
description:
  - Create, update, disable and delete a CloudFront web distribution from a compact,
    AWS-shaped specification - origins, a default cache behaviour and ordered cache
    behaviours - with first-class options for what C(community.aws.cloudfront_distribution)
    lacks - origin access control (O(origins[].origin_access_control_id)) on S3 origins and
    trusted key groups (O(default_cache_behavior.trusted_key_groups)) for signed URLs.
  - The distribution is found by its O(caller_reference), fixed at creation.
  - The specification is complete for what it covers - origins, cache behaviours, aliases,
    certificate, geo restriction, price class, HTTP versions - so settings removed from it are
    removed from the distribution. Settings it does not cover (logging, custom error
    responses, origin groups, function associations, ...) are kept as they are.
  - Idempotent - the live configuration with the specification laid over it is compared to
    the live configuration; only a difference updates the distribution, quoting the ETag it
    read (C(IfMatch)).
  - Each cache behaviour uses either a cache policy (O(default_cache_behavior.cache_policy_id),
    for example a managed policy) or the legacy explicit TTLs and forwarded values, not both.
author:
  - StreamStack contributors (@streamstack)
options:
  caller_reference:
    description:
      - Unique reference of the distribution, given at creation and never changed; the module
        finds the distribution by it. For example C(<platform>-<env>-media).
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the distribution.
      - V(absent) disables it, waits until the change is deployed (O(wait)) and deletes it, as
        CloudFront only deletes disabled, deployed distributions. With O(wait=false) a task
        that had to disable the distribution ends there (changed, with a message); run it again
        once CloudFront has deployed the change.
    type: str
    choices: [present, absent]
    default: present
  comment:
    description:
      - The distribution's comment (at most 128 characters).
    type: str
    default: ""
  enabled:
    description:
      - Whether the distribution serves requests.
    type: bool
    default: true
  aliases:
    description:
      - Alternate domain names (CNAMEs). They need O(viewer_certificate.acm_certificate_arn)
        covering them.
    type: list
    elements: str
    default: []
  viewer_certificate:
    description:
      - The TLS certificate viewers see. Without it the distribution uses the C(*.cloudfront.net)
        certificate.
    type: dict
    suboptions:
      acm_certificate_arn:
        description:
          - ARN of an ACM certificate, which CloudFront requires in C(us-east-1).
        type: str
        required: true
      ssl_support_method:
        description:
          - V(sni-only) (recommended), V(vip) (dedicated IPs, extra charges) or V(static-ip).
        type: str
        choices: [sni-only, vip, static-ip]
        default: sni-only
      minimum_protocol_version:
        description:
          - Minimum TLS version and ciphers for viewers.
        type: str
        choices:
          - SSLv3
          - TLSv1
          - TLSv1_2016
          - TLSv1.1_2016
          - TLSv1.2_2018
          - TLSv1.2_2019
          - TLSv1.2_2021
          - TLSv1.3_2025
        default: TLSv1.2_2021
  price_class:
    description:
      - Which edge locations serve the distribution.
    type: str
    choices: [PriceClass_100, PriceClass_200, PriceClass_All]
    default: PriceClass_All
  http_version:
    description:
      - Highest HTTP version viewers may use.
    type: str
    choices: [http1.1, http2, http3, http2and3]
    default: http2and3
  ipv6_enabled:
    description:
      - Whether CloudFront answers over IPv6.
    type: bool
    default: true
  default_root_object:
    description:
      - Object returned for a request to the root URL, for example C(index.html).
    type: str
    default: ""
  web_acl_id:
    description:
      - ARN of an AWS WAF web ACL (WAFv2, C(us-east-1), scope CLOUDFRONT) protecting the
        distribution.
    type: str
    default: ""
  geo_restriction:
    description:
      - Countries allowed or blocked (licensing of streamed content).
    type: dict
    suboptions:
      restriction_type:
        description:
          - V(none), V(whitelist) (only O(geo_restriction.locations)) or V(blacklist).
        type: str
        choices: [none, whitelist, blacklist]
        default: none
      locations:
        description:
          - ISO 3166-1 alpha-2 country codes.
        type: list
        elements: str
        default: []
  origins:
    description:
      - The origins, at least one. Required when O(state=present).
    type: list
    elements: dict
    suboptions:
      id:
        description:
          - Unique ID of the origin, referenced by the cache behaviours' C(target_origin_id).
        type: str
        required: true
      domain_name:
        description:
          - Domain name of the origin, for S3 the bucket's regional endpoint
            C(<bucket>.s3.<region>.amazonaws.com); for a load balancer its DNS name.
        type: str
        required: true
      origin_path:
        description:
          - Path prefix CloudFront adds to requests to this origin, for example C(/media).
        type: str
        default: ""
      origin_access_control_id:
        description:
          - ID or name of the origin access control
            (M(streamstack.aws.cloudfront_origin_access_control)) signing requests to this
            origin. For an S3 origin the module sets an empty
            C(S3OriginConfig.OriginAccessIdentity), as CloudFront requires with OAC.
        type: str
      custom_origin_config:
        description:
          - Settings of a custom (HTTP) origin such as a load balancer. Without it the origin
            is an S3 bucket (REST endpoint).
        type: dict
        suboptions:
          origin_protocol_policy:
            description:
              - How CloudFront connects to the origin. Use V(https-only) in production;
                V(http-only) suits a load balancer without a certificate, as in local tests.
            type: str
            choices: [http-only, https-only, match-viewer]
            required: true
          http_port:
            description: HTTP port of the origin.
            type: int
            default: 80
          https_port:
            description: HTTPS port of the origin.
            type: int
            default: 443
          origin_ssl_protocols:
            description: TLS protocols CloudFront may use with the origin.
            type: list
            elements: str
            choices: [SSLv3, TLSv1, TLSv1.1, TLSv1.2]
            default: [TLSv1.2]
          origin_read_timeout:
            description: Seconds CloudFront waits for a response (1-60 without a quota increase).
            type: int
            default: 30
          origin_keepalive_timeout:
            description: Seconds CloudFront keeps an idle connection to the origin (1-60).
            type: int
            default: 5
      custom_headers:
        description:
          - Headers CloudFront adds to requests to the origin, for example a secret header the
            load balancer requires so that only CloudFront reaches it. Values never appear in
            the output (return values and diff show a C(sha256:) fingerprint instead).
        type: list
        elements: dict
        default: []
        suboptions:
          header_name:
            description: Header name.
            type: str
            required: true
          header_value:
            description: Header value (kept out of logs).
            type: str
            required: true
      connection_attempts:
        description: Times CloudFront tries to connect to the origin (1-3).
        type: int
        default: 3
      connection_timeout:
        description: Seconds CloudFront waits for a connection to the origin (1-10).
        type: int
        default: 10
  default_cache_behavior:
    description:
      - How requests no cache behaviour matches are handled. Required when O(state=present).
    type: dict
    suboptions: &behavior_options
      target_origin_id:
        description:
          - ID of the origin (O(origins[].id)) requests are routed to.
        type: str
        required: true
      viewer_protocol_policy:
        description:
          - V(redirect-to-https) redirects HTTP viewers, V(https-only) refuses them,
            V(allow-all) serves both.
        type: str
        choices: [allow-all, https-only, redirect-to-https]
        default: redirect-to-https
      allowed_methods:
        description:
          - HTTP methods CloudFront forwards. CloudFront accepts V([GET, HEAD]),
            V([GET, HEAD, OPTIONS]) or all seven methods.
        type: list
        elements: str
        choices: [GET, HEAD, OPTIONS, PUT, POST, PATCH, DELETE]
        default: [GET, HEAD]
      cached_methods:
        description:
          - Methods whose responses are cached, V([GET, HEAD]) or V([GET, HEAD, OPTIONS]).
        type: list
        elements: str
        choices: [GET, HEAD, OPTIONS]
        default: [GET, HEAD]
      compress:
        description: Whether CloudFront compresses suitable responses.
        type: bool
        default: true
      cache_policy_id:
        description:
          - ID of a cache policy, for example the managed C(CachingOptimized)
            C(658327ea-f89d-4fab-a63d-7e88639e58f6) or C(CachingDisabled)
            C(4135ea2d-6df8-44a3-9df3-4b5a84be39ad).
          - Mutually exclusive with the legacy settings O(default_cache_behavior.min_ttl),
            O(default_cache_behavior.default_ttl), O(default_cache_behavior.max_ttl),
            O(default_cache_behavior.forward_query_string),
            O(default_cache_behavior.forward_headers) and
            O(default_cache_behavior.forward_cookies).
        type: str
      origin_request_policy_id:
        description:
          - ID of an origin request policy, for example the managed C(AllViewerExceptHostHeader)
            C(b689b0a8-53d0-40ab-baf2-68738e2966ac) for a load balancer origin.
        type: str
      response_headers_policy_id:
        description: ID of a response headers policy (CORS, security headers).
        type: str
      min_ttl:
        description: Legacy cache settings - minimum seconds an object stays cached. Default V(0).
        type: int
      default_ttl:
        description:
          - Legacy cache settings - seconds an object stays cached when the origin sends no
            C(Cache-Control). Default V(86400).
        type: int
      max_ttl:
        description:
          - Legacy cache settings - maximum seconds an object stays cached. Default V(31536000).
        type: int
      forward_query_string:
        description:
          - Legacy cache settings - whether the query string is forwarded and cached on.
          - Default V(false).
        type: bool
      forward_headers:
        description: Legacy cache settings - headers forwarded to the origin and cached on.
        type: list
        elements: str
      forward_cookies:
        description: Legacy cache settings - V(none) or V(all) cookies forwarded. Default V(none).
        type: str
        choices: [none, all]
      trusted_key_groups:
        description:
          - IDs or names of key groups (M(streamstack.aws.cloudfront_key_group)) whose keys may
            sign URLs or cookies for this behaviour. When set, CloudFront serves only signed
            requests here.
        type: list
        elements: str
        default: []
  cache_behaviors:
    description:
      - Ordered cache behaviours; the first whose O(cache_behaviors[].path_pattern) matches a
        request handles it. The same options as O(default_cache_behavior) plus the path pattern.
    type: list
    elements: dict
    default: []
    suboptions:
      path_pattern:
        description:
          - Path pattern such as C(*.m3u8) or C(/api/*).
        type: str
        required: true
      <<: *behavior_options
  wait:
    description:
      - Whether to wait until CloudFront has deployed the change (status C(Deployed)); this takes
        minutes on AWS. O(state=absent) needs the disabled distribution deployed before deleting.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait with O(wait=true).
    type: int
    default: 1800
notes:
  - Supports C(check_mode) and C(diff). In check mode, key groups and origin access controls
    that do not exist yet are assumed to be created by earlier tasks.
  - CloudFront is a global service; the region only selects the API endpoint.
  - Finding the distribution reads the configuration of the account's distributions until the
    caller reference matches (those whose comment equals O(comment) first).
extends_documentation_fragment:
  - amazon.aws.tags
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Media distribution - private S3 media over OAC, the API on the load balancer
  streamstack.aws.cloudfront_distribution:
    caller_reference: stream-production-media
    comment: stream-production media and API
    price_class: PriceClass_100
    aliases: [watch.example.com]
    viewer_certificate:
      acm_certificate_arn: arn:aws:acm:us-east-1:123456789012:certificate/abcd-1234
    origins:
      - id: media
        domain_name: stream-production-media.s3.eu-west-1.amazonaws.com
        origin_access_control_id: stream-production-media   # OAC name or ID
      - id: api
        domain_name: stream-production-alb-123.eu-west-1.elb.amazonaws.com
        custom_origin_config:
          origin_protocol_policy: https-only
    default_cache_behavior:
      target_origin_id: api
      allowed_methods: [GET, HEAD, OPTIONS, PUT, POST, PATCH, DELETE]
      cache_policy_id: 4135ea2d-6df8-44a3-9df3-4b5a84be39ad  # Managed-CachingDisabled
      origin_request_policy_id: b689b0a8-53d0-40ab-baf2-68738e2966ac  # AllViewerExceptHostHeader
    cache_behaviors:
      - path_pattern: "*.m3u8"   # playlists change while a stream is live
        target_origin_id: media
        min_ttl: 0
        default_ttl: 2
        max_ttl: 5
        trusted_key_groups: [stream-production-media-signers]
      - path_pattern: "*.ts"     # segments never change
        target_origin_id: media
        default_ttl: 86400
        max_ttl: 31536000
        trusted_key_groups: [stream-production-media-signers]
    tags:
      Project: stream
      Environment: production
      ManagedBy: ansible
  register: cdn

- name: Delete it, waiting until the disabled distribution is deployed
  streamstack.aws.cloudfront_distribution:
    caller_reference: stream-production-media
    state: absent
    wait: true
"""

RETURN = r"""
distribution:
  description:
    - The distribution as CloudFront describes it (keys in snake case), empty when
      O(state=absent) and it is gone. In check mode for a new distribution only
      RV(distribution.distribution_config) is known.
  returned: always
  type: dict
  contains:
    id:
      description: ID of the distribution.
      type: str
      sample: E1F83G1EXAMPLE
    arn:
      description: ARN of the distribution.
      type: str
      sample: arn:aws:cloudfront::123456789012:distribution/E1F83G1EXAMPLE
    domain_name:
      description: The C(*.cloudfront.net) domain name.
      type: str
      sample: d111111abcdef8.cloudfront.net
    status:
      description: C(InProgress) while a change is being deployed, then C(Deployed).
      type: str
      sample: Deployed
    etag:
      description: The configuration's current ETag.
      type: str
    distribution_config:
      description: The configuration, in CloudFront's structure.
      type: dict
tags:
  description: Tags of the distribution.
  returned: when the distribution exists
  type: dict
  sample: {Project: stream, ManagedBy: ansible}
"""

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import normalize_boto3_result
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.streamstack.aws.plugins.module_utils.cloudfront import (
    cloudfront_client,
)
from ansible_collections.streamstack.aws.plugins.module_utils.cloudfront_distribution import (
    ARGUMENT_SPEC,
    Distributions,
    Resolver,
    Spec,
    canonical,
    masked,
    overlay,
)
from ansible_collections.streamstack.aws.plugins.module_utils.errors import AnsibleAWSError
from ansible_collections.streamstack.aws.plugins.module_utils.sets import diff_result
from ansible_collections.streamstack.aws.plugins.module_utils.tagging import planned_tags


def shown_diff(module, before, after):
    return diff_result(module, masked(before), masked(after))


def describe(distribution, tags=None):
    shown = masked(normalize_boto3_result(distribution or {}))
    result = {"distribution": camel_dict_to_snake_dict(shown)}
    if tags is not None:
        result["tags"] = tags
    return result


def ensure_present(module, dists, found):
    desired = Spec(module, Resolver(module, dists.client)).build()
    tags = module.params["tags"]

    if found is None:
        after = canonical(desired)
        if tags is not None:
            after["Tags"] = tags
        if module.check_mode:
            module.exit_json(
                changed=True,
                distribution={"distribution_config": camel_dict_to_snake_dict(masked(desired))},
                **shown_diff(module, {}, after),
            )
        created = dists.create(desired, tags)
        if module.params["wait"]:
            dists.wait_deployed(created["Id"])
            created = dists.get(created["Id"])
        module.exit_json(
            changed=True, **describe(created, tags or {}), **shown_diff(module, {}, after)
        )

    summary, live, etag = found
    dist_id, arn = summary["Id"], summary["ARN"]
    merged = overlay(live, desired)
    before, after = canonical(live), canonical(merged)
    config_changed = before != after

    current_tags = dists.tags(arn)
    before["Tags"] = current_tags
    after["Tags"] = planned_tags(current_tags, tags, module.params["purge_tags"])
    changed = config_changed or after["Tags"] != current_tags

    if module.check_mode or not changed:
        result = dict(dists.get(dist_id), DistributionConfig=merged if changed else live)
        module.exit_json(
            changed=changed,
            **describe(result, after["Tags"]),
            **(shown_diff(module, before, after) if changed else {}),
        )

    if config_changed:
        dists.update(dist_id, merged, etag)
    dists.sync_tags(arn, current_tags, tags, module.params["purge_tags"])
    if module.params["wait"]:
        dists.wait_deployed(dist_id)
    module.exit_json(
        changed=True,
        **describe(dists.get(dist_id), dists.tags(arn)),
        **shown_diff(module, before, after),
    )


def ensure_absent(module, dists, found):
    if found is None:
        module.exit_json(changed=False, distribution={})
    summary, live, etag = found
    dist_id = summary["Id"]
    before = canonical(live)
    if module.check_mode:
        module.exit_json(changed=True, distribution={}, **shown_diff(module, before, {}))

    if live.get("Enabled"):
        # CloudFront deletes only disabled distributions whose change is deployed.
        etag = dists.update(dist_id, dict(live, Enabled=False), etag)["ETag"]
        if not module.params["wait"]:
            module.exit_json(
                changed=True,
                msg=f"Distribution {dist_id} is disabled; run again with state=absent once"
                " CloudFront has deployed the change (or use wait=true) to delete it",
                **describe(dists.get(dist_id)),
                **shown_diff(module, before, dict(before, Enabled=False)),
            )
    current = dists.get(dist_id)
    if current.get("Status") != "Deployed":
        if not module.params["wait"]:
            module.exit_json(
                changed=False,
                msg=f"Distribution {dist_id} is disabled but not yet deployed;"
                " run again later to delete it",
                **describe(current),
            )
        dists.wait_deployed(dist_id)
        current = dists.get(dist_id)
    dists.delete(dist_id, current["ETag"])
    module.exit_json(changed=True, distribution={}, **shown_diff(module, before, {}))


def main():
    module = AnsibleAWSModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
        required_if=[("state", "present", ["origins", "default_cache_behavior"])],
    )
    dists = Distributions(module, cloudfront_client(module))
    try:
        found = dists.find(module.params["caller_reference"], module.params["comment"])
        if module.params["state"] == "present":
            ensure_present(module, dists, found)
        ensure_absent(module, dists, found)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)


if __name__ == "__main__":
    main()
