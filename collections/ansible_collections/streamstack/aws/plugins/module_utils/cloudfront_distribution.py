# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""streamstack.aws.cloudfront_distribution's specification and transforms: the argument spec,
the DistributionConfig the options describe (Spec, with names resolved to IDs), the desired
configuration laid over the live one (overlay: what the options do not cover is kept), the
comparable form (canonical), origin header values masked for output, and CloudFront's
distribution calls (Distributions).
"""

from __future__ import annotations

import hashlib
import math
import re

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.tagging import (
    ansible_dict_to_boto3_tag_list,
    boto3_tag_list_to_ansible_dict,
)
from ansible_collections.streamstack.aws.plugins.module_utils.cloudfront import (
    STALE_ETAG_CODES,
    list_all,
    normalize,
    prune,
    to_cf_list,
)
from ansible_collections.streamstack.aws.plugins.module_utils.errors import (
    AnsibleAWSError,
    error_handler,
)
from ansible_collections.streamstack.aws.plugins.module_utils.tagging import sync_tags

DISTRIBUTION_ERRORS = error_handler("NoSuchDistribution")

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
            items = list_all(self.client, operation, list_key, item_key=item_key)
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


# --- the module's options ---------------------------------------------------------------------

BEHAVIOR_OPTIONS = dict(
    target_origin_id=dict(type="str", required=True),
    viewer_protocol_policy=dict(
        type="str",
        default="redirect-to-https",
        choices=["allow-all", "https-only", "redirect-to-https"],
    ),
    allowed_methods=dict(type="list", elements="str", default=["GET", "HEAD"], choices=ALL_METHODS),
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
EXCLUSIVE = [("cache_policy_id", option) for option in LEGACY_CACHE_OPTIONS]
ARGUMENT_SPEC = dict(
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
        type="dict", options=BEHAVIOR_OPTIONS, mutually_exclusive=EXCLUSIVE
    ),
    cache_behaviors=dict(
        type="list",
        elements="dict",
        default=[],
        options=dict(path_pattern=dict(type="str", required=True), **BEHAVIOR_OPTIONS),
        mutually_exclusive=EXCLUSIVE,
    ),
    tags=dict(type="dict", aliases=["resource_tags"]),
    purge_tags=dict(type="bool", default=True),
    wait=dict(type="bool", default=False),
    wait_timeout=dict(type="int", default=1800),
)


# --- CloudFront calls ------------------------------------------------------------------------


class Distributions:
    """CloudFront's distribution calls; errors are AnsibleAWSError saying what failed."""

    def __init__(self, module, client):
        self.module = module
        self.client = client

    def find(self, caller_reference, comment):
        """(summary, config, etag) of the distribution with this caller reference, or None."""
        summaries = list_all(self.client, "list_distributions", "DistributionList")
        # The list has no caller reference: read configs, likely matches (same comment) first.
        summaries.sort(key=lambda s: s.get("Comment") != comment)
        for summary in summaries:
            config, etag = self.get_config(summary["Id"])
            if config and config.get("CallerReference") == caller_reference:
                return summary, config, etag
        return None

    @DISTRIBUTION_ERRORS.list_error_handler("read distribution {dist_id}", (None, None))
    def get_config(self, dist_id):
        """(config, etag), or (None, None) when it was deleted since it was listed."""
        response = self.client.get_distribution_config(Id=dist_id, aws_retry=True)
        return response["DistributionConfig"], response["ETag"]

    @DISTRIBUTION_ERRORS.common_error_handler("read distribution {dist_id}")
    def get(self, dist_id):
        response = self.client.get_distribution(Id=dist_id, aws_retry=True)
        return dict(response["Distribution"], ETag=response["ETag"])

    @DISTRIBUTION_ERRORS.common_error_handler("create the distribution")
    def create(self, config, tags):
        if tags:
            response = self.client.create_distribution_with_tags(
                DistributionConfigWithTags={
                    "DistributionConfig": config,
                    "Tags": {"Items": ansible_dict_to_boto3_tag_list(tags)},
                },
                aws_retry=True,
            )
        else:
            response = self.client.create_distribution(DistributionConfig=config, aws_retry=True)
        return dict(response["Distribution"], ETag=response["ETag"])

    @DISTRIBUTION_ERRORS.common_error_handler("update distribution {dist_id}")
    def update(self, dist_id, config, etag):
        try:
            response = self.client.update_distribution(
                Id=dist_id, IfMatch=etag, DistributionConfig=config, aws_retry=True
            )
        except is_boto3_error_code(STALE_ETAG_CODES) as e:
            raise AnsibleAWSError(
                message=f"Distribution {dist_id} changed while updating it; run again", exception=e
            ) from e
        return dict(response["Distribution"], ETag=response["ETag"])

    @DISTRIBUTION_ERRORS.deletion_error_handler("delete distribution {dist_id}")
    def delete(self, dist_id, etag):
        self.client.delete_distribution(Id=dist_id, IfMatch=etag, aws_retry=True)

    @DISTRIBUTION_ERRORS.common_error_handler("wait for distribution {dist_id} to be deployed")
    def wait_deployed(self, dist_id):
        delay = 15
        self.client.get_waiter("distribution_deployed").wait(
            Id=dist_id,
            WaiterConfig={
                "Delay": delay,
                "MaxAttempts": max(1, math.ceil(self.module.params["wait_timeout"] / delay)),
            },
        )

    @DISTRIBUTION_ERRORS.common_error_handler("read the tags of {arn}")
    def tags(self, arn):
        response = self.client.list_tags_for_resource(Resource=arn, aws_retry=True)
        return boto3_tag_list_to_ansible_dict(response["Tags"].get("Items") or [])

    @DISTRIBUTION_ERRORS.common_error_handler("tag {arn}")
    def sync_tags(self, arn, live, wanted, purge):
        """Brings the distribution's tags to ``wanted``; returns whether they change."""
        return sync_tags(
            self.module,
            live,
            wanted,
            purge,
            tag=lambda add: self.client.tag_resource(
                Resource=arn, Tags={"Items": ansible_dict_to_boto3_tag_list(add)}, aws_retry=True
            ),
            untag=lambda keys: self.client.untag_resource(
                Resource=arn, TagKeys={"Items": keys}, aws_retry=True
            ),
        )


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
