"""CloudFront fixes (for the streamstack.aws CloudFront modules)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from local.emulator.fidelity.core import _around, fix
from local.emulator.fidelity.realistic import _realistic_ready_at

# --------------------------------------------------------------------------------------------
# CloudFront (for the streamstack.aws CloudFront modules)
# --------------------------------------------------------------------------------------------


def _cloudfront_extend(owner: type, name: str, after: Callable[..., None]) -> None:
    """Make ``owner.name`` run moto's own code, then ``after(self, result, *args)``."""
    import functools

    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        after(self, result, *args, **kwargs)
        return result

    setattr(owner, name, wrapper)


def _cloudfront_error(code: str, message: str) -> Exception:
    from moto.cloudfront.exceptions import CloudFrontException

    return CloudFrontException(code, message)


@fix
def cloudfront_origins_keep_s3_origin_config_and_oac() -> None:
    """moto 5.2.5: origins lose ``S3OriginConfig`` and ``OriginAccessControlId``.

    AWS returns both as sent (an OAC origin has ``S3OriginConfig.OriginAccessIdentity: ""`` and
    the OAC's ID); moto keeps only the identity, in an attribute no response reads.
    """
    from moto.cloudfront.models import Origin

    def keep(self, _result, origin) -> None:
        if "S3OriginConfig" in origin:
            self.s3_origin_config = dict(origin["S3OriginConfig"])
        self.origin_access_control_id = origin.get("OriginAccessControlId") or ""

    _cloudfront_extend(Origin, "__init__", keep)


@fix
def cloudfront_cache_policy_behaviours_have_no_legacy_ttls() -> None:
    """moto 5.2.5: a cache behaviour with a ``CachePolicyId`` reports ForwardedValues and TTLs.

    AWS omits ``ForwardedValues``, ``MinTTL``, ``DefaultTTL`` and ``MaxTTL`` when a cache policy
    decides the cache key and TTLs (and rejects a configuration that sends both); moto invents
    them, so a configuration read back and sent again would be wrong for AWS.
    """
    from moto.cloudfront.models import DefaultCacheBehaviour

    def drop_legacy(self, _result, config) -> None:
        if config.get("CachePolicyId"):
            self.forwarded_values = None
            self.min_ttl = self.default_ttl = self.max_ttl = None

    _cloudfront_extend(DefaultCacheBehaviour, "__init__", drop_legacy)


@fix
def cloudfront_public_keys_comment_update_and_not_found() -> None:
    """moto 5.2.5: public keys drop their ``Comment``, UpdatePublicKey is missing, and an unknown
    ID is an HTTP 500 (KeyError) instead of ``NoSuchPublicKey``."""
    from moto.cloudfront import urls
    from moto.cloudfront.models import CloudFrontBackend
    from moto.cloudfront.responses import CloudFrontResponse
    from moto.core.responses import ActionResult

    original_get = CloudFrontBackend.get_public_key

    def get_public_key(self, key_id: str):
        if key_id not in self.public_keys:
            raise _cloudfront_error("NoSuchPublicKey", "The specified public key does not exist.")
        return original_get(self, key_id)

    def keep_comment(self, result) -> None:
        config = self._get_param("PublicKeyConfig")
        result.result["PublicKey"].comment = config.get("Comment") or ""

    def update_public_key(self) -> ActionResult:
        key = self.backend.get_public_key(self._get_param("Id"))
        if not self._get_param("IfMatch"):
            raise _cloudfront_error("InvalidIfMatchVersion", "The If-Match version is missing.")
        config = self._get_param("PublicKeyConfig")
        if config.get("EncodedKey", "").strip() != key.encoded_key.strip():
            raise _cloudfront_error(
                "CannotChangeImmutablePublicKeyFields", "A public key's value can't be changed."
            )
        key.comment = config.get("Comment") or ""
        return ActionResult({"PublicKey": key, "ETag": key.etag})

    CloudFrontBackend.get_public_key = get_public_key
    _cloudfront_extend(CloudFrontResponse, "create_public_key", keep_comment)
    CloudFrontResponse.update_public_key = update_public_key
    # moto routes only /public-key/<id>; UpdatePublicKey is PUT /public-key/<id>/config.
    urls.url_paths["{0}/2020-05-31/public-key/(?P<key_name>[^/]+)/config$"] = (
        CloudFrontResponse.dispatch
    )


@fix
def cloudfront_key_groups_comment_update_delete_and_not_found() -> None:
    """moto 5.2.5: key groups drop their ``Comment``, UpdateKeyGroup and DeleteKeyGroup are
    missing, and an unknown ID is an HTTP 500 instead of ``NoSuchResource``."""
    from moto.cloudfront.models import CloudFrontBackend, KeyGroup
    from moto.cloudfront.responses import CloudFrontResponse
    from moto.core.responses import ActionResult, EmptyResult

    KeyGroup.key_group_config = property(
        lambda self: {
            "Items": self.items,
            "Name": self.name,
            "Comment": getattr(self, "comment", ""),
        }
    )
    original_get = CloudFrontBackend.get_key_group

    def get_key_group(self, group_id: str):
        if group_id not in self.key_groups:
            raise _cloudfront_error("NoSuchResource", "The specified key group does not exist.")
        return original_get(self, group_id)

    def keep_comment(self, result) -> None:
        result.result["KeyGroup"].comment = self._get_param("KeyGroupConfig.Comment") or ""

    def update_key_group(self) -> ActionResult:
        group = self.backend.get_key_group(self._get_param("Id"))
        if not self._get_param("IfMatch"):
            raise _cloudfront_error("InvalidIfMatchVersion", "The If-Match version is missing.")
        group.name = self._get_param("KeyGroupConfig.Name")
        group.items = self._get_param("KeyGroupConfig.Items", [])
        group.comment = self._get_param("KeyGroupConfig.Comment") or ""
        return ActionResult({"KeyGroup": group, "ETag": group.etag})

    def delete_key_group(self) -> EmptyResult:
        group_id = self._get_param("Id")
        self.backend.get_key_group(group_id)
        if not self._get_param("IfMatch"):
            raise _cloudfront_error("InvalidIfMatchVersion", "The If-Match version is missing.")
        del self.backend.key_groups[group_id]
        return EmptyResult()

    CloudFrontBackend.get_key_group = get_key_group
    _cloudfront_extend(CloudFrontResponse, "create_key_group", keep_comment)
    CloudFrontResponse.update_key_group = update_key_group
    CloudFrontResponse.delete_key_group = delete_key_group


@fix
def cloudfront_origin_access_identities_exist() -> None:
    """moto 5.2.5: no CloudFront origin access identity API at all (every call is a 404).

    AWS: Create/Get/GetConfig/Update/Delete/ListCloudFrontOriginAccessIdentities. The legacy
    OAI is still what community.aws.cloudfront_origin_access_identity and
    cloudfront_distribution (``s3_origin_access_identity_enabled``) use, and the facts module
    lists them. A small in-memory store on the CloudFront backend is enough.
    """
    from moto.cloudfront import urls
    from moto.cloudfront.models import CloudFrontBackend
    from moto.cloudfront.responses import CloudFrontResponse
    from moto.core.responses import ActionResult, EmptyResult
    from moto.moto_api._internal import mock_random

    OAI_PATH = "2020-05-31/origin-access-identity/cloudfront"

    def store(backend: CloudFrontBackend) -> dict[str, dict[str, Any]]:
        return backend.__dict__.setdefault("fidelity_origin_access_identities", {})

    def find(self: CloudFrontResponse) -> dict[str, Any]:
        oai = store(self.backend).get(self._get_param("Id"))
        if oai is None:
            raise _cloudfront_error(
                "NoSuchCloudFrontOriginAccessIdentity",
                "The specified origin access identity does not exist.",
            )
        return oai

    def shape(oai: dict[str, Any]) -> dict[str, Any]:
        return {
            k: oai[k] for k in ("Id", "S3CanonicalUserId", "CloudFrontOriginAccessIdentityConfig")
        }

    def check_if_match(self: CloudFrontResponse, oai: dict[str, Any]) -> None:
        if self._get_param("IfMatch") != oai["ETag"]:
            raise _cloudfront_error(
                "PreconditionFailed", "The If-Match version is missing or not valid."
            )

    def create(self: CloudFrontResponse) -> ActionResult:
        config = self._get_param("CloudFrontOriginAccessIdentityConfig")
        oais = store(self.backend)
        same_ref = [o for o in oais.values() if o["CallerReference"] == config["CallerReference"]]
        if same_ref:
            # AWS: the same caller reference returns the existing identity (same comment).
            oai = same_ref[0]
        else:
            oai_id = "E" + mock_random.get_random_string(length=13).upper()
            oai = {
                "Id": oai_id,
                "S3CanonicalUserId": mock_random.get_random_hex(length=96),
                "CallerReference": config["CallerReference"],
                "CloudFrontOriginAccessIdentityConfig": {
                    "CallerReference": config["CallerReference"],
                    "Comment": config.get("Comment") or "",
                },
                "ETag": mock_random.get_random_string(length=14).upper(),
            }
            oais[oai_id] = oai
        return ActionResult(
            {
                "CloudFrontOriginAccessIdentity": shape(oai),
                "Location": f"https://cloudfront.amazonaws.com/{OAI_PATH}/{oai['Id']}",
                "ETag": oai["ETag"],
            }
        )

    def get(self: CloudFrontResponse) -> ActionResult:
        oai = find(self)
        return ActionResult({"CloudFrontOriginAccessIdentity": shape(oai), "ETag": oai["ETag"]})

    def get_config(self: CloudFrontResponse) -> ActionResult:
        oai = find(self)
        return ActionResult(
            {
                "CloudFrontOriginAccessIdentityConfig": oai["CloudFrontOriginAccessIdentityConfig"],
                "ETag": oai["ETag"],
            }
        )

    def update(self: CloudFrontResponse) -> ActionResult:
        oai = find(self)
        check_if_match(self, oai)
        config = self._get_param("CloudFrontOriginAccessIdentityConfig")
        if config["CallerReference"] != oai["CallerReference"]:
            raise _cloudfront_error(
                "IllegalUpdate", "The CallerReference of an origin access identity can't change."
            )
        oai["CloudFrontOriginAccessIdentityConfig"]["Comment"] = config.get("Comment") or ""
        oai["ETag"] = mock_random.get_random_string(length=14).upper()
        return ActionResult({"CloudFrontOriginAccessIdentity": shape(oai), "ETag": oai["ETag"]})

    def delete(self: CloudFrontResponse) -> EmptyResult:
        oai = find(self)
        check_if_match(self, oai)
        del store(self.backend)[oai["Id"]]
        return EmptyResult()

    def list_all(self: CloudFrontResponse) -> ActionResult:
        items = [
            {
                "Id": oai["Id"],
                "S3CanonicalUserId": oai["S3CanonicalUserId"],
                "Comment": oai["CloudFrontOriginAccessIdentityConfig"]["Comment"],
            }
            for oai in store(self.backend).values()
        ]
        result: dict[str, Any] = {
            "Marker": self._get_param("Marker") or "",
            "MaxItems": self._get_int_param("MaxItems") or 100,
            "IsTruncated": False,
            "Quantity": len(items),
        }
        if items:
            result["Items"] = items
        return ActionResult({"CloudFrontOriginAccessIdentityList": result})

    for name, handler in {
        "create_cloud_front_origin_access_identity": create,
        "get_cloud_front_origin_access_identity": get,
        "get_cloud_front_origin_access_identity_config": get_config,
        "update_cloud_front_origin_access_identity": update,
        "delete_cloud_front_origin_access_identity": delete,
        "list_cloud_front_origin_access_identities": list_all,
    }.items():
        setattr(CloudFrontResponse, name, handler)
    base = "{0}/" + OAI_PATH
    urls.url_paths[base + "$"] = CloudFrontResponse.dispatch
    urls.url_paths[base + "/(?P<oai_id>[^/]+)$"] = CloudFrontResponse.dispatch
    urls.url_paths[base + "/(?P<oai_id>[^/]+)/config$"] = CloudFrontResponse.dispatch


# AWS's managed response headers policies a test or a user may name (CloudFront Developer
# Guide, "Use managed response headers policies"): id -> configuration.
_CLOUDFRONT_MANAGED_RESPONSE_HEADERS_POLICIES = {
    "67f7725c-6f97-4210-82d7-5512b31e9d03": {
        "Name": "Managed-SecurityHeadersPolicy",
        "Comment": "Adds a set of security headers to every response",
        "SecurityHeadersConfig": {
            "XSSProtection": {"Override": False, "Protection": True, "ModeBlock": True},
            "FrameOptions": {"Override": False, "FrameOption": "SAMEORIGIN"},
            "ReferrerPolicy": {
                "Override": False,
                "ReferrerPolicy": "strict-origin-when-cross-origin",
            },
            "ContentTypeOptions": {"Override": True},
            "StrictTransportSecurity": {
                "Override": False,
                "IncludeSubdomains": False,
                "Preload": False,
                "AccessControlMaxAgeSec": 31536000,
            },
        },
    },
}


@fix
def cloudfront_response_headers_policies_exist() -> None:
    """moto 5.2.5: no CloudFront response headers policy API (every call is a 404), and a
    distribution may name any ResponseHeadersPolicyId.

    AWS: Create/Get/GetConfig/Update/Delete/ListResponseHeadersPolicies (custom and managed,
    ``Type`` filter), names unique among custom policies (ResponseHeadersPolicyAlreadyExists),
    ETags with IfMatch (PreconditionFailed), managed policies neither updated nor deleted
    (IllegalUpdate, IllegalDelete), a policy a distribution names is not deleted
    (ResponseHeadersPolicyInUse), and CreateDistribution/UpdateDistribution refuse a behaviour
    naming a policy that does not exist (NoSuchResponseHeadersPolicy).
    """
    import copy
    import datetime

    from moto.cloudfront import urls
    from moto.cloudfront.models import CloudFrontBackend
    from moto.cloudfront.responses import CloudFrontResponse
    from moto.core.responses import ActionResult, EmptyResult
    from moto.moto_api._internal import mock_random

    PATH = "2020-05-31/response-headers-policy"

    def store(backend: CloudFrontBackend) -> dict[str, dict[str, Any]]:
        policies = backend.__dict__.get("fidelity_response_headers_policies")
        if policies is None:
            policies = backend.__dict__["fidelity_response_headers_policies"] = {
                policy_id: {
                    "Id": policy_id,
                    "Type": "managed",
                    "Config": copy.deepcopy(config),
                    "ETag": mock_random.get_random_string(length=14).upper(),
                    "LastModifiedTime": datetime.datetime(2021, 11, 3, tzinfo=datetime.UTC),
                }
                for policy_id, config in _CLOUDFRONT_MANAGED_RESPONSE_HEADERS_POLICIES.items()
            }
        return policies

    def not_found() -> Exception:
        return _cloudfront_error(
            "NoSuchResponseHeadersPolicy", "The response headers policy does not exist."
        )

    def find(self: CloudFrontResponse) -> dict[str, Any]:
        policy = store(self.backend).get(self._get_param("Id"))
        if policy is None:
            raise not_found()
        return policy

    def shape(policy: dict[str, Any]) -> dict[str, Any]:
        return {
            "Id": policy["Id"],
            "LastModifiedTime": policy["LastModifiedTime"],
            "ResponseHeadersPolicyConfig": policy["Config"],
        }

    def check_if_match(self: CloudFrontResponse, policy: dict[str, Any]) -> None:
        if not self._get_param("IfMatch"):
            raise _cloudfront_error("InvalidIfMatchVersion", "The If-Match version is missing.")
        if self._get_param("IfMatch") != policy["ETag"]:
            raise _cloudfront_error(
                "PreconditionFailed", "The If-Match version is missing or not valid."
            )

    def name_taken(self: CloudFrontResponse, name: str, but: str | None = None) -> None:
        for policy in store(self.backend).values():
            if (
                policy["Type"] == "custom"
                and policy["Config"]["Name"] == name
                and policy["Id"] != but
            ):
                raise _cloudfront_error(
                    "ResponseHeadersPolicyAlreadyExists",
                    "A response headers policy with this name already exists.",
                )

    def create(self: CloudFrontResponse) -> ActionResult:
        config = self._get_param("ResponseHeadersPolicyConfig")
        name_taken(self, config["Name"])
        policy = {
            "Id": str(mock_random.uuid4()),
            "Type": "custom",
            "Config": config,
            "ETag": mock_random.get_random_string(length=14).upper(),
            "LastModifiedTime": datetime.datetime.now(datetime.UTC),
        }
        store(self.backend)[policy["Id"]] = policy
        return ActionResult(
            {
                "ResponseHeadersPolicy": shape(policy),
                "Location": f"https://cloudfront.amazonaws.com/{PATH}/{policy['Id']}",
                "ETag": policy["ETag"],
            }
        )

    def get(self: CloudFrontResponse) -> ActionResult:
        policy = find(self)
        return ActionResult({"ResponseHeadersPolicy": shape(policy), "ETag": policy["ETag"]})

    def get_config(self: CloudFrontResponse) -> ActionResult:
        policy = find(self)
        return ActionResult(
            {"ResponseHeadersPolicyConfig": policy["Config"], "ETag": policy["ETag"]}
        )

    def update(self: CloudFrontResponse) -> ActionResult:
        policy = find(self)
        if policy["Type"] == "managed":
            raise _cloudfront_error("IllegalUpdate", "A managed policy cannot be updated.")
        check_if_match(self, policy)
        config = self._get_param("ResponseHeadersPolicyConfig")
        name_taken(self, config["Name"], but=policy["Id"])
        policy.update(
            Config=config,
            ETag=mock_random.get_random_string(length=14).upper(),
            LastModifiedTime=datetime.datetime.now(datetime.UTC),
        )
        return ActionResult({"ResponseHeadersPolicy": shape(policy), "ETag": policy["ETag"]})

    def in_use(backend: CloudFrontBackend, policy_id: str) -> bool:
        for dist in backend.distributions.values():
            config = dist.distribution_config
            behaviours = [config.DefaultCacheBehavior, *(config.CacheBehaviors.get("Items") or [])]
            if any(getattr(b, "response_headers_policy_id", None) == policy_id for b in behaviours):
                return True
        return False

    def delete(self: CloudFrontResponse) -> EmptyResult:
        policy = find(self)
        if policy["Type"] == "managed":
            raise _cloudfront_error("IllegalDelete", "A managed policy cannot be deleted.")
        check_if_match(self, policy)
        if in_use(self.backend, policy["Id"]):
            raise _cloudfront_error(
                "ResponseHeadersPolicyInUse",
                "Cannot delete the response headers policy because it is attached to one or"
                " more cache behaviors.",
            )
        del store(self.backend)[policy["Id"]]
        return EmptyResult()

    def list_all(self: CloudFrontResponse) -> ActionResult:
        wanted = self._get_param("Type")
        items = [
            {"Type": policy["Type"], "ResponseHeadersPolicy": shape(policy)}
            for policy in store(self.backend).values()
            if wanted in (None, policy["Type"])
        ]
        result: dict[str, Any] = {"MaxItems": self._get_int_param("MaxItems") or 100}
        result["Quantity"] = len(items)
        if items:
            result["Items"] = items
        return ActionResult({"ResponseHeadersPolicyList": result})

    for name, handler in {
        "create_response_headers_policy": create,
        "get_response_headers_policy": get,
        "get_response_headers_policy_config": get_config,
        "update_response_headers_policy": update,
        "delete_response_headers_policy": delete,
        "list_response_headers_policies": list_all,
    }.items():
        setattr(CloudFrontResponse, name, handler)
    base = "{0}/" + PATH
    urls.url_paths[base + "$"] = CloudFrontResponse.dispatch
    urls.url_paths[base + "/(?P<policy_id>[^/]+)$"] = CloudFrontResponse.dispatch
    urls.url_paths[base + "/(?P<policy_id>[^/]+)/config$"] = CloudFrontResponse.dispatch

    def named_policies_exist(backend: CloudFrontBackend, config: dict[str, Any]) -> None:
        behaviours = [
            config.get("DefaultCacheBehavior") or {},
            *((config.get("CacheBehaviors") or {}).get("Items") or []),
        ]
        policies = store(backend)
        for behaviour in behaviours:
            policy_id = (
                behaviour.get("ResponseHeadersPolicyId") if isinstance(behaviour, dict) else None
            )
            if policy_id and policy_id not in policies:
                raise not_found()

    @_around(CloudFrontBackend, "create_distribution_with_tags")
    def create_distribution(
        original: Callable[..., Any], self: CloudFrontBackend, distribution_config: Any, tags: Any
    ) -> Any:
        named_policies_exist(self, distribution_config)
        return original(self, distribution_config, tags)

    @_around(CloudFrontBackend, "update_distribution")
    def update_distribution(
        original: Callable[..., Any], self: CloudFrontBackend, dist_config: Any, **kwargs: Any
    ) -> Any:
        named_policies_exist(self, dist_config or {})
        return original(self, dist_config=dist_config, **kwargs)


@fix
def cloudfront_web_acls_are_cloudfront_scoped_and_held() -> None:
    """moto 5.2.5: a distribution may name any ``WebACLId``, and WAF deletes a web ACL that a
    distribution still uses.

    AWS: CreateDistribution/UpdateDistribution take the ARN of an existing WAFv2 web ACL of
    scope CLOUDFRONT only (InvalidWebACLId otherwise), and DeleteWebACL of one a distribution
    names fails with WAFAssociatedItemException.
    """
    from moto.cloudfront.models import CloudFrontBackend, cloudfront_backends
    from moto.wafv2.exceptions import WAFv2ClientError
    from moto.wafv2.models import WAFV2Backend, wafv2_backends
    from moto.wafv2.utils import make_arn_for_wacl

    def check(backend: CloudFrontBackend, config: dict[str, Any]) -> None:
        acl = config.get("WebACLId") or ""
        if not acl:
            return
        # CLOUDFRONT web ACLs are managed in us-east-1; moto keeps them where it was called.
        held = any(acl in waf.wacls for waf in wafv2_backends[backend.account_id].values())
        if ":global/webacl/" not in acl or not held:
            raise _cloudfront_error(
                "InvalidWebACLId",
                f"Web ACL is not accessible by the requester or is not a CLOUDFRONT web ACL: {acl}",
            )

    @_around(CloudFrontBackend, "create_distribution_with_tags")
    def create_distribution(
        original: Callable[..., Any], self: CloudFrontBackend, distribution_config: Any, tags: Any
    ) -> Any:
        check(self, distribution_config)
        return original(self, distribution_config, tags)

    @_around(CloudFrontBackend, "update_distribution")
    def update_distribution(
        original: Callable[..., Any], self: CloudFrontBackend, dist_config: Any, **kwargs: Any
    ) -> Any:
        check(self, dist_config or {})
        return original(self, dist_config=dist_config, **kwargs)

    @_around(WAFV2Backend, "delete_web_acl")
    def delete_web_acl(
        original: Callable[..., Any], self: Any, name: str, scope: str, _id: str, lock_token: str
    ) -> Any:
        arn = make_arn_for_wacl(
            name=name,
            account_id=self.account_id,
            region_name=self.region_name,
            _id=_id,
            scope=scope,
        )
        for dist in cloudfront_backends[self.account_id]["aws"].distributions.values():
            if dist.distribution_config.WebACLId == arn:
                raise WAFv2ClientError(
                    "WAFAssociatedItemException",
                    "AWS WAF couldn't perform the operation because your resource is being used"
                    " by another resource or it's associated with another resource.",
                )
        return original(self, name, scope, _id, lock_token)


@fix
def cloudfront_distribution_config_omits_unset_fields() -> None:
    """moto 5.2.5: GetDistributionConfig invents empty fields AWS leaves out.

    AWS omits ``Items`` of an empty TrustedSigners/TrustedKeyGroups list, an unset
    ``RealtimeLogConfigArn``/``CachePolicyId``/``OriginRequestPolicyId`` (moto: ``""`` in
    CacheBehaviors), and the ViewerCertificate fields of a certificate that is not
    used; for the default certificate it reports ``SSLSupportMethod: vip`` and
    ``CertificateSource: cloudfront``, for ACM/IAM ``Certificate`` and ``CertificateSource``
    name that certificate. A client that reads the config back and sends it again (as
    community.aws.cloudfront_distribution does) would otherwise send what AWS rejects.
    """
    from moto.cloudfront import models

    def empty_items_omitted(owner: type) -> None:
        @_around(owner, "__init__")
        def init(original: Callable[..., None], self: Any, config: dict[str, Any]) -> None:
            original(self, config)
            if not self.items:
                self.items = None

    empty_items_omitted(models.TrustedSigners)
    empty_items_omitted(models.TrustedKeyGroups)

    def unset_policies_omitted(owner: type) -> None:
        @_around(owner, "__init__")
        def init(original: Callable[..., None], self: Any, config: dict[str, Any]) -> None:
            original(self, config)
            self.realtime_log_config_arn = self.realtime_log_config_arn or None
            self.cache_policy_id = self.cache_policy_id or None
            self.origin_request_policy_id = self.origin_request_policy_id or None

    # CacheBehaviour sets its policy ids again after DefaultCacheBehaviour's __init__.
    unset_policies_omitted(models.DefaultCacheBehaviour)
    unset_policies_omitted(models.CacheBehaviour)

    @_around(models.ViewerCertificate, "__init__")
    def certificate_init(original: Callable[..., None], self: Any, config: dict[str, Any]) -> None:
        original(self, config)
        self.acm_certificate_arn = self.acm_certificate_arn or None
        self.iam_certificate_id = self.iam_certificate_id or None
        if self.acm_certificate_arn:
            self.certificate, self.certificate_source = self.acm_certificate_arn, "acm"
            self.cloud_front_default_certificate = None
        elif self.iam_certificate_id:
            self.certificate, self.certificate_source = self.iam_certificate_id, "iam"
            self.cloud_front_default_certificate = None
        else:
            self.certificate = None
            self.ssl_support_method = config.get("SSLSupportMethod") or "vip"


@fix
def realistic_cloudfront_distributions_deploy_for_a_while() -> None:
    """moto 5.2.5: a distribution is Deployed at once after CreateDistribution/UpdateDistribution.
    AWS: InProgress until the change reached every edge location (AWS_DURATIONS, realistic
    mode), and DeleteDistribution meanwhile answers DistributionNotDisabled."""
    from moto.cloudfront.models import CloudFrontBackend, Distribution

    def deploying(distribution: Any) -> None:
        distribution.__dict__["fidelity_deployed_at"] = _realistic_ready_at(
            "cloudfront.distribution.deploying"
        )

    def get_status(self: Any) -> str:
        if time.monotonic() < self.__dict__.get("fidelity_deployed_at", 0):
            return "InProgress"
        return "Deployed"

    Distribution.status = property(get_status, lambda self, value: None)  # type: ignore[assignment]

    @_around(CloudFrontBackend, "create_distribution_with_tags")
    def create(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        deploying(result[0])
        return result

    @_around(CloudFrontBackend, "update_distribution")
    def update(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        deploying(result[0])
        return result

    @_around(CloudFrontBackend, "delete_distribution")
    def delete(original: Callable[..., Any], self: Any, distribution_id: str, if_match: Any):
        distribution = self.distributions.get(distribution_id)
        if distribution is not None and distribution.status == "InProgress":
            raise _cloudfront_error(
                "DistributionNotDisabled",
                "The distribution you are trying to delete has not been disabled.",
            )
        return original(self, distribution_id, if_match)


# --------------------------------------------------------------------------------------------
# A distribution's requests to its S3 origin (origin access control)
# --------------------------------------------------------------------------------------------

# What CloudFront passes on to an S3 origin of a viewer's request (none of its cookies or
# Authorization; the cache key headers of our policies are none).
_ORIGIN_REQUEST_HEADERS = ("Range", "If-None-Match", "If-Modified-Since", "If-Match")
_ORIGIN_RESPONSE_HEADERS = (
    "Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "ETag", "Last-Modified",
)  # fmt: skip


def _cloudfront_origin_target(domain: str, path: str) -> tuple[Any, Any, Any, Any] | None:
    """(distribution, origin, origin access control or None, cache behaviour) of the cache
    behaviour that serves ``/path`` on the distribution ``domain`` (its path patterns in order,
    then the default)."""
    from fnmatch import fnmatchcase

    from moto.cloudfront.models import cloudfront_backends

    for account in list(cloudfront_backends.values()):
        backend = account["aws"]
        for dist in list(backend.distributions.values()):
            if dist.domain_name != domain:
                continue
            config = dist.distribution_config
            behaviours = list((config.CacheBehaviors or {}).get("Items") or [])
            chosen = next(
                (b for b in behaviours if fnmatchcase(f"/{path}", b.path_pattern)),
                config.DefaultCacheBehavior,
            )
            origin = next(o for o in config.Origins["Items"] if o.id == chosen.target_origin_id)
            oac_id = getattr(origin, "origin_access_control_id", "")
            oac = backend.origin_access_controls.get(oac_id) if oac_id else None
            return dist, origin, oac, chosen
    return None


def _origin_answer(request: Any, found: tuple, key: str) -> tuple[int, dict, Any]:
    """CloudFront's request to the S3 origin of a behaviour (``found``: what
    ``_cloudfront_origin_target`` answered) for the object ``key``: signed with SigV4 by the keys
    the IAM layer knows as CloudFront's for the distribution when its origin access control
    signs, else anonymous; only Range and the conditional headers passed on."""
    import urllib.error
    import urllib.request

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from local.emulator.fidelity.iam import _service_key

    dist, origin, oac, _behaviour = found
    bucket, s3_host, region = origin.domain_name.partition(".s3.")
    if not s3_host:
        return 502, {}, ""
    region = region.removesuffix(".amazonaws.com")
    port = request.environ.get("SERVER_PORT", "80")
    prefix = origin.origin_path.strip("/")
    url = f"http://127.0.0.1:{port}/{bucket}/{f'{prefix}/' if prefix else ''}{key}"
    passed = {h: request.headers[h] for h in _ORIGIN_REQUEST_HEADERS if h in request.headers}
    signed = AWSRequest(method=request.method, url=url, headers=passed)
    if oac is not None and oac.signing_behavior in ("always", "no-override"):
        keys = _service_key("cloudfront.amazonaws.com", dist.arn, dist.arn.split(":")[4])
        credentials = Credentials(keys.access_key_id, keys.secret_access_key)
        S3SigV4Auth(credentials, "s3", region).add_auth(signed)
    outgoing = urllib.request.Request(url, method=request.method, headers=dict(signed.headers))
    try:
        with urllib.request.urlopen(outgoing, timeout=30) as answer:
            status, body, got = answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as error:
        status, body, got = error.code, error.read(), error.headers
    kept = {h: got[h] for h in _ORIGIN_RESPONSE_HEADERS if got.get(h) is not None}
    return status, kept, body


@fix
def cloudfront_reads_its_s3_origin_through_origin_access_control() -> None:
    """moto 5.2.5: a distribution serves nothing; nothing ever requests its origins, so a bucket
    policy's grant to CloudFront (``Principal: {"Service": "cloudfront.amazonaws.com"}`` with
    ``aws:SourceArn`` the distribution's ARN) is never exercised.

    AWS: for a behaviour whose origin is an S3 bucket with an origin access control (SigV4,
    signing ``always`` or ``no-override``), CloudFront signs its request to the bucket as the
    service principal, with ``aws:SourceArn`` and ``aws:SourceAccount`` of the distribution, and
    the bucket policy alone decides it; without an OAC the request is anonymous.

    ``/moto-api/fidelity/cloudfront-origin/<distribution domain>/<path>`` (GET, HEAD) plays that
    origin request: the behaviour serving ``/<path>`` (its path patterns in order, then the
    default), its S3 origin, the request to the emulator's S3 signed with SigV4 by keys that the
    IAM layer knows as CloudFront's for this distribution (iam._SERVICE_KEYS), passing on only
    Range and the conditional headers. No viewer-side check: the EC2 path's local media origin
    checks its viewers itself (nginx secure_link); the edge route below plays CloudFront's own.
    Any other origin answers 502.
    """
    from moto.moto_api._internal import urls

    def origin_request(request: Any, full_url: str, headers: Any) -> tuple[int, dict, Any]:
        if request.method not in ("GET", "HEAD"):
            return 405, {}, ""
        path = full_url.split("/moto-api/fidelity/cloudfront-origin/", 1)[1].split("?", 1)[0]
        domain, _, key = path.partition("/")
        found = _cloudfront_origin_target(domain, key)
        if found is None:
            return 404, {}, ""
        return _origin_answer(request, found, key)

    urls.url_paths["{0}/moto-api/fidelity/cloudfront-origin/(?P<path>.+)"] = origin_request


# --------------------------------------------------------------------------------------------
# A viewer's request to a distribution (signed URLs through trusted key groups)
# --------------------------------------------------------------------------------------------

# The query parameters of a signed URL: CloudFront checks and removes them (never the origin's).
_SIGNED_URL_PARAMETERS = ("Expires", "Policy", "Signature", "Key-Pair-Id")


def _cloudfront_b64decode(text: str) -> bytes:
    """CloudFront's URL-safe base64: '-' for '+', '_' for '=', '~' for '/'."""
    import base64

    return base64.b64decode(text.translate(str.maketrans("-_~", "+=/")), validate=True)


def _cloudfront_refusal(code: str, message: str) -> tuple[int, dict, str]:
    body = (
        "<?xml version='1.0' encoding='UTF-8'?>"
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return 403, {"Content-Type": "text/xml"}, body


def _cloudfront_viewer_check(
    backend: Any, behaviour: Any, url: str, query: dict[str, str], viewer_ip: str
) -> tuple[int, dict, str] | None:
    """CloudFront's check of a viewer's signed URL for a behaviour with trusted key groups (None:
    served). The canned policy is the one CloudFront builds from the URL and Expires; a custom
    policy comes with the URL. The key pair id must be a public key of one of the behaviour's
    key groups, the signature RSA-SHA1 over the policy by its private key, the URL match the
    statement's Resource (``*`` and ``?`` wildcards) and the time and address its conditions."""
    import fnmatch
    import ipaddress
    import json

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    groups = behaviour.trusted_key_groups
    if not groups.enabled:
        return None
    key_id, signature = query.get("Key-Pair-Id"), query.get("Signature")
    if not key_id or not signature or not ("Policy" in query or "Expires" in query):
        return _cloudfront_refusal(
            "MissingKey", "Missing Key-Pair-Id query parameter or cookie value"
        )
    trusted = {
        item for group in groups.items if group in backend.key_groups
        for item in backend.key_groups[group].items
    }  # fmt: skip
    public_key = backend.public_keys.get(key_id) if key_id in trusted else None
    if public_key is None:
        return _cloudfront_refusal("InvalidKey", "Unknown Key")
    try:
        if "Policy" in query:
            policy = _cloudfront_b64decode(query["Policy"])
        else:
            condition = {"DateLessThan": {"AWS:EpochTime": int(query["Expires"])}}
            policy = json.dumps(
                {"Statement": [{"Resource": url, "Condition": condition}]}, separators=(",", ":")
            ).encode()
        key = serialization.load_pem_public_key(public_key.encoded_key.encode())
        key.verify(_cloudfront_b64decode(signature), policy, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 - CloudFront's algorithm
        (statement,) = json.loads(policy)["Statement"]
    except (InvalidSignature, ValueError, TypeError, KeyError):
        return _cloudfront_refusal("AccessDenied", "Access denied")
    conditions = statement.get("Condition") or {}
    now = time.time()
    resource = statement.get("Resource", "*")
    allowed = (
        fnmatch.fnmatchcase(url, resource.replace("[", "[[]"))
        and now < conditions.get("DateLessThan", {}).get("AWS:EpochTime", 0)
        and now >= conditions.get("DateGreaterThan", {}).get("AWS:EpochTime", 0)
    )
    source = conditions.get("IpAddress", {}).get("AWS:SourceIp")
    if allowed and source:
        allowed = ipaddress.ip_address(viewer_ip) in ipaddress.ip_network(source, strict=False)
    return None if allowed else _cloudfront_refusal("AccessDenied", "Access denied")


# A response headers policy's security headers: (its config key, the header, the value).
_SECURITY_HEADERS: tuple[tuple[str, str, Callable[[dict], str]], ...] = (
    ("StrictTransportSecurity", "Strict-Transport-Security", lambda c: "; ".join(
        [f"max-age={c['AccessControlMaxAgeSec']}"]
        + (["includeSubDomains"] if c.get("IncludeSubdomains") else [])
        + (["preload"] if c.get("Preload") else []))),
    ("ContentTypeOptions", "X-Content-Type-Options", lambda c: "nosniff"),
    ("FrameOptions", "X-Frame-Options", lambda c: c["FrameOption"]),
    ("ReferrerPolicy", "Referrer-Policy", lambda c: c["ReferrerPolicy"]),
    ("ContentSecurityPolicy", "Content-Security-Policy", lambda c: c["ContentSecurityPolicy"]),
)  # fmt: skip


def _cloudfront_response_headers(
    backend: Any, behaviour: Any, request: Any, answered: dict[str, str]
) -> dict[str, str]:
    """What the behaviour's response headers policy adds to an answer: its security and custom
    headers (the origin's own value kept unless Override), and to a CORS request (one with an
    Origin the policy allows) the CORS headers; a preflight also gets the allowed methods and
    headers and the max age."""
    policy_id = getattr(behaviour, "response_headers_policy_id", None)
    policies = backend.__dict__.get("fidelity_response_headers_policies") or {}
    config = (policies.get(policy_id) or {}).get("Config") or {}
    added: dict[str, str] = {}
    security = config.get("SecurityHeadersConfig") or {}
    present = {name.lower() for name in answered}
    for key, header, value in _SECURITY_HEADERS:
        if key in security and (security[key].get("Override") or header.lower() not in present):
            added[header] = value(security[key])
    for custom in (config.get("CustomHeadersConfig") or {}).get("Items") or []:
        if custom.get("Override") or custom["Header"].lower() not in present:
            added[custom["Header"]] = custom["Value"]
    cors, origin = config.get("CorsConfig"), request.headers.get("Origin")
    origins = ((cors or {}).get("AccessControlAllowOrigins") or {}).get("Items") or []
    if not origin or not ("*" in origins or origin in origins):
        return added
    added["Access-Control-Allow-Origin"] = "*" if "*" in origins else origin
    if cors.get("AccessControlAllowCredentials"):
        added["Access-Control-Allow-Credentials"] = "true"
    exposed = (cors.get("AccessControlExposeHeaders") or {}).get("Items") or []
    if exposed:
        added["Access-Control-Expose-Headers"] = ", ".join(exposed)
    if request.method == "OPTIONS":
        methods = cors["AccessControlAllowMethods"]["Items"]
        if "ALL" in methods:
            methods = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
        added["Access-Control-Allow-Methods"] = ", ".join(methods)
        added["Access-Control-Allow-Headers"] = ", ".join(
            cors["AccessControlAllowHeaders"]["Items"]
        )
        if cors.get("AccessControlMaxAgeSec") is not None:
            added["Access-Control-Max-Age"] = str(cors["AccessControlMaxAgeSec"])
    return added


@fix
def cloudfront_serves_viewers_with_signed_urls_of_its_trusted_key_groups() -> None:
    """moto 5.2.5: a distribution serves no viewer, so a signed URL (canned or custom policy,
    signed with a key of a key group a behaviour trusts) is never checked: a wrong key pair id,
    policy or resource would only show on AWS.

    AWS: a behaviour with TrustedKeyGroups serves a request only with a valid signed URL
    (Key-Pair-Id a public key of one of its key groups, Signature RSA-SHA1 over the canned
    policy CloudFront builds from the URL and Expires, or over the custom Policy given), whose
    Resource matches the URL and whose conditions hold (DateLessThan, DateGreaterThan,
    IpAddress); else 403 (MissingKey, InvalidKey, AccessDenied). The signing parameters are
    removed before the origin request; the behaviour's response headers policy adds its headers.

    ``/moto-api/fidelity/cloudfront-edge/<distribution domain>/<path>`` (GET, HEAD; OPTIONS where
    the behaviour allows it and its policy answers CORS preflights) plays that viewer request:
    the URL checked is the one the viewer asked for (its Host, and this route's own path or,
    through a front, X-Forwarded-Uri's when it names the same object), then the origin request
    of the origin route above. The local Elastic Beanstalk stand-in's load balancer sends the
    media paths here and its app signs them for the load balancer's origin
    (local/beanstalk/up.py). Not played: caching, signed cookies, geo restriction, WAF.
    """
    from urllib.parse import parse_qsl, unquote

    from moto.cloudfront.models import cloudfront_backends
    from moto.moto_api._internal import urls

    def edge_request(request: Any, full_url: str, headers: Any) -> tuple[int, dict, Any]:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            return 405, {}, ""
        address, _, raw_query = full_url.partition("?")
        path = address.split("/moto-api/fidelity/cloudfront-edge/", 1)[1]
        domain, _, key = path.partition("/")
        found = _cloudfront_origin_target(domain, key)
        if found is None:
            return 404, {}, ""
        behaviour = found[3]
        account = found[0].arn.split(":")[4]
        backend = cloudfront_backends[account]["aws"]
        if request.method not in behaviour.allowed_methods.items:
            return _cloudfront_refusal(
                "MethodNotAllowed",
                "This distribution is not configured to allow the HTTP request method that was"
                " used for this request.",
            )
        # The URL as the viewer sent it, less the signing parameters (the canned policy's
        # Resource); its own encoding kept, as the signer saw it.
        rest = "&".join(
            part for part in raw_query.split("&")
            if part and unquote(part.partition("=")[0]) not in _SIGNED_URL_PARAMETERS
        )  # fmt: skip
        host = request.headers.get("Host") or request.environ.get("HTTP_HOST", "")
        scheme = request.environ.get("wsgi.url_scheme", "http")
        # Through a front (the local load balancer) the viewer's own path came along; one naming
        # another object than this route serves is not the viewer's (a forged header).
        viewer_path = address[address.index("/moto-api/") :]
        forwarded = request.headers.get("X-Forwarded-Uri", "").split("?", 1)[0]
        if forwarded and unquote(forwarded) == "/" + unquote(key):
            viewer_path = forwarded
        viewer_url = f"{scheme}://{host}{viewer_path}" + (f"?{rest}" if rest else "")
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        viewer_ip = request.environ.get("REMOTE_ADDR", "127.0.0.1")
        refused = _cloudfront_viewer_check(backend, behaviour, viewer_url, query, viewer_ip)
        if refused is not None:
            return refused
        if request.method == "OPTIONS":
            # A preflight is the policy's to answer (no origin request); none: not allowed.
            added = _cloudfront_response_headers(backend, behaviour, request, {})
            if "Access-Control-Allow-Methods" not in added:
                return 403, {}, ""
            return 200, added, ""
        status, answer_headers, body = _origin_answer(request, found, key)
        answer_headers.update(
            _cloudfront_response_headers(backend, behaviour, request, answer_headers)
        )
        return status, answer_headers, body

    urls.url_paths["{0}/moto-api/fidelity/cloudfront-edge/(?P<path>.+)"] = edge_request

    # moto's server adds CORS headers to every answer it gives (flask-cors, any origin); the
    # edge's are the response headers policy's alone, so a media URL's CORS shows as on AWS.
    import flask
    import flask_cors.extension

    emulator_cors = flask_cors.extension.set_cors_headers

    def set_cors_headers(resp: Any, options: Any) -> Any:
        if flask.request.path.startswith("/moto-api/fidelity/cloudfront-edge/"):
            return resp
        return emulator_cors(resp, options)

    flask_cors.extension.set_cors_headers = set_cors_headers
