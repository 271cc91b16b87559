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
  tags:
    description:
      - Tags of the distribution.
    type: dict
    aliases: [resource_tags]
  purge_tags:
    description:
      - Whether tags not in O(tags) are removed. Tags are left alone when O(tags) is not given.
    type: bool
    default: true
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

import hashlib
import math
import re

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.botocore import (
    is_boto3_error_code,
    normalize_boto3_result,
)
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
    compare_aws_tags,
)
from ansible_collections.streamstack.aws.plugins.module_utils.cloudfront import (
    STALE_ETAG_CODES,
    cloudfront_client,
    diff_result,
    list_all,
    normalize,
    prune,
    to_cf_list,
)
from ansible_collections.streamstack.aws.plugins.module_utils.sets import AWS_ERRORS

LEGACY_CACHE_OPTIONS = (
    "min_ttl",
    "default_ttl",
    "max_ttl",
    "forward_query_string",
    "forward_headers",
    "forward_cookies",
)
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
ALLOWED_METHOD_SETS = ({"GET", "HEAD"}, {"GET", "HEAD", "OPTIONS"}, set(ALL_METHODS))
CACHED_METHOD_SETS = ({"GET", "HEAD"}, {"GET", "HEAD", "OPTIONS"})
S3_REST_ENDPOINT = re.compile(r"\.s3([.-][a-z0-9-]+)?\.amazonaws\.com(\.cn)?$")

# Keys of an origin / cache behaviour that the specification decides alone: when the
# specification leaves one out, the live value goes too (S3 -> custom origin, TTLs -> policy).
ORIGIN_OWNED = {"S3OriginConfig", "CustomOriginConfig", "OriginAccessControlId"}
BEHAVIOR_OWNED = {
    "CachePolicyId",
    "OriginRequestPolicyId",
    "ResponseHeadersPolicyId",
    "ForwardedValues",
    "MinTTL",
    "DefaultTTL",
    "MaxTTL",
}
# Deprecated ViewerCertificate fields AWS still returns; they are derived, never sent.
DERIVED_CERTIFICATE_KEYS = {"Certificate", "CertificateSource"}


# --- the desired configuration from the module options -------------------------------------


class Spec:
    """Builds the DistributionConfig the options describe; ``errors`` collects bad input."""

    def __init__(self, module, resolver):
        self.module = module
        self.params = module.params
        self.resolver = resolver
        self.errors = []

    def build(self):
        params = self.params
        origins = [self.origin(o) for o in params["origins"] or []]
        if not origins:
            self.errors.append("origins must list at least one origin")
        origin_ids = [o["Id"] for o in origins]
        for dup in sorted({i for i in origin_ids if origin_ids.count(i) > 1}):
            self.errors.append(f"origin id {dup} is used more than once")
        if not params["default_cache_behavior"]:
            self.errors.append("default_cache_behavior is required with state=present")
            default = {}
        else:
            default = self.behavior(
                params["default_cache_behavior"], "default_cache_behavior", origin_ids
            )
        behaviors = [
            self.behavior(b, f"cache_behaviors[{b['path_pattern']}]", origin_ids)
            for b in params["cache_behaviors"]
        ]
        patterns = [b["path_pattern"] for b in params["cache_behaviors"]]
        for dup in sorted({p for p in patterns if patterns.count(p) > 1}):
            self.errors.append(f"cache behaviour path_pattern {dup} is used more than once")
        if len(params["comment"]) > 128:
            self.errors.append("comment must be at most 128 characters")
        config = {
            "CallerReference": params["caller_reference"],
            "Aliases": to_cf_list(sorted(params["aliases"])),
            "DefaultRootObject": params["default_root_object"],
            "Origins": to_cf_list(origins),
            "DefaultCacheBehavior": default,
            "CacheBehaviors": to_cf_list(behaviors),
            "Comment": params["comment"],
            "PriceClass": params["price_class"],
            "Enabled": params["enabled"],
            "ViewerCertificate": self.viewer_certificate(),
            "Restrictions": {"GeoRestriction": self.geo_restriction()},
            "WebACLId": params["web_acl_id"],
            "HttpVersion": params["http_version"],
            "IsIPV6Enabled": params["ipv6_enabled"],
        }
        if self.errors:
            self.module.fail_json(
                msg="Invalid distribution specification: " + "; ".join(self.errors)
            )
        return config

    def origin(self, spec):
        origin = {
            "Id": spec["id"],
            "DomainName": spec["domain_name"],
            "OriginPath": spec["origin_path"],
            "CustomHeaders": to_cf_list(
                [
                    {"HeaderName": h["header_name"], "HeaderValue": h["header_value"]}
                    for h in spec["custom_headers"]
                ]
            ),
            "ConnectionAttempts": spec["connection_attempts"],
            "ConnectionTimeout": spec["connection_timeout"],
        }
        custom = spec["custom_origin_config"]
        if custom:
            origin["CustomOriginConfig"] = {
                "HTTPPort": custom["http_port"],
                "HTTPSPort": custom["https_port"],
                "OriginProtocolPolicy": custom["origin_protocol_policy"],
                "OriginSslProtocols": to_cf_list(sorted(custom["origin_ssl_protocols"])),
                "OriginReadTimeout": custom["origin_read_timeout"],
                "OriginKeepaliveTimeout": custom["origin_keepalive_timeout"],
            }
        elif (
            S3_REST_ENDPOINT.search(spec["domain_name"].lower())
            and "s3-website" not in spec["domain_name"]
        ):
            # With OAC the legacy origin access identity must be present and empty.
            origin["S3OriginConfig"] = {"OriginAccessIdentity": ""}
        else:
            self.errors.append(
                f"origin {spec['id']}: {spec['domain_name']} is not an S3 REST endpoint"
                " (<bucket>.s3.<region>.amazonaws.com); give custom_origin_config for other origins"
            )
        if spec["origin_access_control_id"]:
            origin["OriginAccessControlId"] = self.resolver.origin_access_control(
                spec["origin_access_control_id"]
            )
        return origin

    def behavior(self, spec, label, origin_ids):
        if spec["target_origin_id"] not in origin_ids:
            self.errors.append(
                f"{label}: target_origin_id {spec['target_origin_id']} is not one of the origins"
                f" ({', '.join(origin_ids)})"
            )
        allowed, cached = set(spec["allowed_methods"]), set(spec["cached_methods"])
        if allowed not in ALLOWED_METHOD_SETS:
            self.errors.append(
                f"{label}: allowed_methods must be [GET, HEAD], [GET, HEAD, OPTIONS]"
                f" or all of {ALL_METHODS}"
            )
        if cached not in CACHED_METHOD_SETS or not cached <= allowed:
            self.errors.append(
                f"{label}: cached_methods must be [GET, HEAD] or [GET, HEAD, OPTIONS] and allowed"
            )
        behavior = {
            "TargetOriginId": spec["target_origin_id"],
            "ViewerProtocolPolicy": spec["viewer_protocol_policy"],
            "AllowedMethods": dict(
                to_cf_list([m for m in ALL_METHODS if m in allowed]),
                CachedMethods=to_cf_list([m for m in ALL_METHODS if m in cached]),
            ),
            "Compress": spec["compress"],
            # Legacy trusted signers (root account key pairs) are off; key groups replace them.
            "TrustedSigners": {"Enabled": False, "Quantity": 0},
        }
        key_groups = [self.resolver.key_group(ref) for ref in spec["trusted_key_groups"]]
        behavior["TrustedKeyGroups"] = dict(
            Enabled=bool(key_groups), **to_cf_list(sorted(set(key_groups)))
        )
        if spec.get("path_pattern") is not None:
            behavior = {"PathPattern": spec["path_pattern"], **behavior}
        if spec["cache_policy_id"]:
            behavior["CachePolicyId"] = spec["cache_policy_id"]
        else:
            ttls = [
                spec["min_ttl"] if spec["min_ttl"] is not None else 0,
                spec["default_ttl"] if spec["default_ttl"] is not None else 86400,
                spec["max_ttl"] if spec["max_ttl"] is not None else 31536000,
            ]
            if not ttls[0] <= ttls[1] <= ttls[2]:
                self.errors.append(
                    f"{label}: TTLs must be min_ttl <= default_ttl <= max_ttl, not {ttls}"
                )
            behavior["MinTTL"], behavior["DefaultTTL"], behavior["MaxTTL"] = ttls
            behavior["ForwardedValues"] = {
                "QueryString": bool(spec["forward_query_string"]),
                "Cookies": {"Forward": spec["forward_cookies"] or "none"},
                "Headers": to_cf_list(sorted(spec["forward_headers"] or [])),
                "QueryStringCacheKeys": to_cf_list([]),
            }
        if spec["origin_request_policy_id"]:
            behavior["OriginRequestPolicyId"] = spec["origin_request_policy_id"]
        if spec["response_headers_policy_id"]:
            behavior["ResponseHeadersPolicyId"] = spec["response_headers_policy_id"]
        return behavior

    def viewer_certificate(self):
        cert = self.params["viewer_certificate"]
        if not cert:
            if self.params["aliases"]:
                self.errors.append(
                    "aliases need viewer_certificate.acm_certificate_arn covering them"
                )
            return {"CloudFrontDefaultCertificate": True}
        if ":us-east-1:" not in cert["acm_certificate_arn"]:
            self.errors.append(
                "viewer_certificate.acm_certificate_arn must be an ACM certificate in us-east-1"
            )
        return {
            "ACMCertificateArn": cert["acm_certificate_arn"],
            "SSLSupportMethod": cert["ssl_support_method"],
            "MinimumProtocolVersion": cert["minimum_protocol_version"],
        }

    def geo_restriction(self):
        geo = self.params["geo_restriction"] or {"restriction_type": "none", "locations": []}
        locations = sorted({code.upper() for code in geo["locations"]})
        if (geo["restriction_type"] == "none") != (not locations):
            self.errors.append(
                "geo_restriction: locations go with whitelist/blacklist, and only with them"
            )
        return dict(RestrictionType=geo["restriction_type"], **to_cf_list(locations))


class Resolver:
    """Turns key group and origin access control names into IDs, listing each kind once."""

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self._cache = {}

    def _lookup(self, kind, operation, list_key, item_key, ref):
        if kind not in self._cache:
            try:
                items = list_all(self.client, operation, list_key, item_key=item_key)
            except AWS_ERRORS as e:
                self.module.fail_json_aws(e, msg=f"Failed to list {kind}s")
            names = {}
            for item in items:
                config = item.get("KeyGroupConfig", item)
                names[item["Id"]] = item["Id"]
                names.setdefault(config["Name"], item["Id"])
            self._cache[kind] = names
        found = self._cache[kind].get(ref)
        if found:
            return found
        if self.module.check_mode:
            self.module.warn(
                f"{kind} {ref} does not exist (yet); assuming an earlier task creates it"
            )
            return ref
        self.module.fail_json(
            msg=f"Unknown {kind} {ref}: give the ID or the name of an existing one"
        )

    def key_group(self, ref):
        return self._lookup("key group", "list_key_groups", "KeyGroupList", "KeyGroup", ref)

    def origin_access_control(self, ref):
        return self._lookup(
            "origin access control",
            "list_origin_access_controls",
            "OriginAccessControlList",
            None,
            ref,
        )


# --- desired over live ---------------------------------------------------------------------


def overlay(live, desired, key=None):
    """The configuration to send: ``desired`` laid over ``live``, keeping what it doesn't cover.

    Quantity/Items lists are the specification's alone, except origins and cache behaviours,
    whose items are matched by Id / PathPattern so that their uncovered settings survive.
    """
    if not isinstance(desired, dict) or not isinstance(live, dict):
        return desired
    if key == "Origins":
        return _overlay_items(live, desired, "Id", ORIGIN_OWNED)
    if key == "CacheBehaviors":
        return _overlay_items(live, desired, "PathPattern", BEHAVIOR_OWNED)
    if key == "DefaultCacheBehavior":
        return _overlay_item(live, desired, BEHAVIOR_OWNED)
    if key == "ViewerCertificate":
        return _overlay_certificate(live, desired)
    if "Quantity" in desired:
        return desired
    merged = dict(live)
    for name, value in desired.items():
        merged[name] = overlay(live.get(name), value, name)
    return merged


def _overlay_item(live, desired, owned):
    if not live:
        return desired
    merged = overlay(live, desired)
    for name in owned - desired.keys():
        merged.pop(name, None)
    return merged


def _overlay_items(live, desired, id_key, owned):
    by_id = {item.get(id_key): item for item in live.get("Items") or []}
    return to_cf_list(
        [_overlay_item(by_id.get(item[id_key]), item, owned) for item in desired.get("Items") or []]
    )


def _overlay_certificate(live, desired):
    """Keep what AWS adds to the same certificate; a different certificate starts afresh."""
    same = bool(live.get("CloudFrontDefaultCertificate")) == bool(
        desired.get("CloudFrontDefaultCertificate")
    ) and live.get("ACMCertificateArn") == desired.get("ACMCertificateArn")
    merged = dict(live, **desired) if same else dict(desired)
    for name in DERIVED_CERTIFICATE_KEYS:
        merged.pop(name, None)
    return merged


def canonical(config):
    """Comparable and readable form of a configuration (for the changed test and the diff)."""
    config = prune(normalize(config or {}))
    if isinstance(config.get("ViewerCertificate"), dict):
        cert = {
            k: v
            for k, v in config["ViewerCertificate"].items()
            if k not in DERIVED_CERTIFICATE_KEYS
        }
        config["ViewerCertificate"] = cert
    return config


# --- CloudFront calls ------------------------------------------------------------------------


class Distributions:
    def __init__(self, module, client):
        self.module = module
        self.client = client

    def find(self, caller_reference, comment):
        """(summary, config, etag) of the distribution with this caller reference, or None."""
        try:
            summaries = list_all(self.client, "list_distributions", "DistributionList")
        except AWS_ERRORS as e:
            self.module.fail_json_aws(e, msg="Failed to list distributions")
        # The list has no caller reference: read configs, likely matches (same comment) first.
        summaries.sort(key=lambda s: s.get("Comment") != comment)
        for summary in summaries:
            config, etag = self.get_config(summary["Id"])
            if config and config.get("CallerReference") == caller_reference:
                return summary, config, etag
        return None

    def get_config(self, dist_id):
        try:
            response = self.client.get_distribution_config(Id=dist_id, aws_retry=True)
        except is_boto3_error_code("NoSuchDistribution"):
            return None, None  # deleted since it was listed
        except AWS_ERRORS as e:  # pylint: disable=duplicate-except
            self.module.fail_json_aws(e, msg=f"Failed to read distribution {dist_id}")
        return response["DistributionConfig"], response["ETag"]

    def get(self, dist_id):
        try:
            response = self.client.get_distribution(Id=dist_id, aws_retry=True)
        except AWS_ERRORS as e:
            self.module.fail_json_aws(e, msg=f"Failed to read distribution {dist_id}")
        return dict(response["Distribution"], ETag=response["ETag"])

    def create(self, config, tags):
        try:
            if tags:
                response = self.client.create_distribution_with_tags(
                    DistributionConfigWithTags={
                        "DistributionConfig": config,
                        "Tags": {"Items": ansible_dict_to_boto3_tag_list(tags)},
                    },
                    aws_retry=True,
                )
            else:
                response = self.client.create_distribution(
                    DistributionConfig=config, aws_retry=True
                )
        except AWS_ERRORS as e:
            self.module.fail_json_aws(e, msg="Failed to create the distribution")
        return dict(response["Distribution"], ETag=response["ETag"])

    def update(self, dist_id, config, etag):
        try:
            response = self.client.update_distribution(
                Id=dist_id, IfMatch=etag, DistributionConfig=config, aws_retry=True
            )
        except is_boto3_error_code(STALE_ETAG_CODES) as e:
            self.module.fail_json_aws(
                e, msg=f"Distribution {dist_id} changed while updating it; run again"
            )
        except AWS_ERRORS as e:  # pylint: disable=duplicate-except
            self.module.fail_json_aws(e, msg=f"Failed to update distribution {dist_id}")
        return dict(response["Distribution"], ETag=response["ETag"])

    def delete(self, dist_id, etag):
        try:
            self.client.delete_distribution(Id=dist_id, IfMatch=etag, aws_retry=True)
        except is_boto3_error_code("NoSuchDistribution"):
            pass  # deleted meanwhile: the goal is reached
        except AWS_ERRORS as e:  # pylint: disable=duplicate-except
            self.module.fail_json_aws(e, msg=f"Failed to delete distribution {dist_id}")

    def wait_deployed(self, dist_id):
        delay = 15
        try:
            self.client.get_waiter("distribution_deployed").wait(
                Id=dist_id,
                WaiterConfig={
                    "Delay": delay,
                    "MaxAttempts": max(1, math.ceil(self.module.params["wait_timeout"] / delay)),
                },
            )
        except AWS_ERRORS as e:  # WaiterError is a BotoCoreError
            self.module.fail_json_aws(e, msg=f"Distribution {dist_id} was not deployed in time")

    def tags(self, arn):
        try:
            response = self.client.list_tags_for_resource(Resource=arn, aws_retry=True)
        except AWS_ERRORS as e:
            self.module.fail_json_aws(e, msg=f"Failed to read the tags of {arn}")
        return boto3_tag_list_to_ansible_dict(response["Tags"].get("Items") or [])

    def set_tags(self, arn, to_add, to_remove):
        try:
            if to_remove:
                self.client.untag_resource(
                    Resource=arn, TagKeys={"Items": to_remove}, aws_retry=True
                )
            if to_add:
                self.client.tag_resource(
                    Resource=arn,
                    Tags={"Items": ansible_dict_to_boto3_tag_list(to_add)},
                    aws_retry=True,
                )
        except AWS_ERRORS as e:
            self.module.fail_json_aws(e, msg=f"Failed to tag {arn}")


def masked(value):
    """``value`` with every origin custom header's value replaced by a fingerprint: such a
    header is usually a shared secret, and a live value that this run does not pass (the one
    a rotation replaces) is no no_log value Ansible would mask."""
    if isinstance(value, dict):
        out = {key: masked(item) for key, item in value.items()}
        if "HeaderName" in out and isinstance(out.get("HeaderValue"), str):
            digest = hashlib.sha256(out["HeaderValue"].encode()).hexdigest()[:12]
            out["HeaderValue"] = f"sha256:{digest}"
        return out
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


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
    to_add, to_remove = (
        compare_aws_tags(current_tags, tags, module.params["purge_tags"])
        if tags is not None
        else ({}, [])
    )
    before["Tags"] = current_tags
    after["Tags"] = {k: v for k, v in {**current_tags, **to_add}.items() if k not in to_remove}
    changed = config_changed or bool(to_add or to_remove)

    if module.check_mode or not changed:
        result = dict(dists.get(dist_id), DistributionConfig=merged if changed else live)
        module.exit_json(
            changed=changed,
            **describe(result, after["Tags"]),
            **(shown_diff(module, before, after) if changed else {}),
        )

    if config_changed:
        dists.update(dist_id, merged, etag)
    dists.set_tags(arn, to_add, to_remove)
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
    behavior_options = dict(
        target_origin_id=dict(type="str", required=True),
        viewer_protocol_policy=dict(
            type="str",
            default="redirect-to-https",
            choices=["allow-all", "https-only", "redirect-to-https"],
        ),
        allowed_methods=dict(
            type="list", elements="str", default=["GET", "HEAD"], choices=ALL_METHODS
        ),
        cached_methods=dict(
            type="list", elements="str", default=["GET", "HEAD"], choices=["GET", "HEAD", "OPTIONS"]
        ),
        compress=dict(type="bool", default=True),
        cache_policy_id=dict(type="str"),
        origin_request_policy_id=dict(type="str"),
        response_headers_policy_id=dict(type="str"),
        min_ttl=dict(type="int"),
        default_ttl=dict(type="int"),
        max_ttl=dict(type="int"),
        forward_query_string=dict(type="bool"),
        forward_headers=dict(type="list", elements="str"),
        forward_cookies=dict(type="str", choices=["none", "all"]),
        trusted_key_groups=dict(type="list", elements="str", default=[], no_log=False),
    )
    exclusive = [("cache_policy_id", option) for option in LEGACY_CACHE_OPTIONS]
    argument_spec = dict(
        caller_reference=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        comment=dict(type="str", default=""),
        enabled=dict(type="bool", default=True),
        aliases=dict(type="list", elements="str", default=[]),
        viewer_certificate=dict(
            type="dict",
            options=dict(
                acm_certificate_arn=dict(type="str", required=True),
                ssl_support_method=dict(
                    type="str", default="sni-only", choices=["sni-only", "vip", "static-ip"]
                ),
                minimum_protocol_version=dict(
                    type="str",
                    default="TLSv1.2_2021",
                    choices=[
                        "SSLv3",
                        "TLSv1",
                        "TLSv1_2016",
                        "TLSv1.1_2016",
                        "TLSv1.2_2018",
                        "TLSv1.2_2019",
                        "TLSv1.2_2021",
                        "TLSv1.3_2025",
                    ],
                ),
            ),
        ),
        price_class=dict(
            type="str",
            default="PriceClass_All",
            choices=["PriceClass_100", "PriceClass_200", "PriceClass_All"],
        ),
        http_version=dict(
            type="str", default="http2and3", choices=["http1.1", "http2", "http3", "http2and3"]
        ),
        ipv6_enabled=dict(type="bool", default=True),
        default_root_object=dict(type="str", default=""),
        web_acl_id=dict(type="str", default=""),
        geo_restriction=dict(
            type="dict",
            options=dict(
                restriction_type=dict(
                    type="str", default="none", choices=["none", "whitelist", "blacklist"]
                ),
                locations=dict(type="list", elements="str", default=[]),
            ),
        ),
        origins=dict(
            type="list",
            elements="dict",
            options=dict(
                id=dict(type="str", required=True),
                domain_name=dict(type="str", required=True),
                origin_path=dict(type="str", default=""),
                origin_access_control_id=dict(type="str"),
                custom_origin_config=dict(
                    type="dict",
                    options=dict(
                        origin_protocol_policy=dict(
                            type="str",
                            required=True,
                            choices=["http-only", "https-only", "match-viewer"],
                        ),
                        http_port=dict(type="int", default=80),
                        https_port=dict(type="int", default=443),
                        origin_ssl_protocols=dict(
                            type="list",
                            elements="str",
                            default=["TLSv1.2"],
                            choices=["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2"],
                        ),
                        origin_read_timeout=dict(type="int", default=30),
                        origin_keepalive_timeout=dict(type="int", default=5),
                    ),
                ),
                custom_headers=dict(
                    type="list",
                    elements="dict",
                    default=[],
                    options=dict(
                        header_name=dict(type="str", required=True),
                        header_value=dict(type="str", required=True, no_log=True),
                    ),
                ),
                connection_attempts=dict(type="int", default=3),
                connection_timeout=dict(type="int", default=10),
            ),
        ),
        default_cache_behavior=dict(
            type="dict", options=behavior_options, mutually_exclusive=exclusive
        ),
        cache_behaviors=dict(
            type="list",
            elements="dict",
            default=[],
            options=dict(path_pattern=dict(type="str", required=True), **behavior_options),
            mutually_exclusive=exclusive,
        ),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=1800),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("state", "present", ["origins", "default_cache_behavior"])],
    )
    dists = Distributions(module, cloudfront_client(module))
    found = dists.find(module.params["caller_reference"], module.params["comment"])
    if module.params["state"] == "present":
        ensure_present(module, dists, found)
    else:
        ensure_absent(module, dists, found)


if __name__ == "__main__":
    main()
