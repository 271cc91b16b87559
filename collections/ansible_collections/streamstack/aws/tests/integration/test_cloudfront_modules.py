"""The streamstack.aws CloudFront modules against the emulator, asserted with boto3.

One module-scoped sequence of playbook runs (each costs seconds): create, run again, --check
of an update, the update, edge cases (key replacement, bad input), delete.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"

STACK = PLAYBOOKS / "cloudfront_stack.yml"
EDGE_CASES = PLAYBOOKS / "cloudfront_edge_cases.yml"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
SEGMENTS = ["*.ts", "*.m4s", "*.aac"]
ALL_TASKS = (
    "Origin access control",
    "Upload the signing",
    "Key group",
    "Response headers policy",
    "Distribution",
)


@pytest.fixture(scope="module")
def prefix() -> str:
    # Unique per run: the session emulator may be shared with other tests.
    return f"cft-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def stack(playbook, prefix, tmp_path_factory):
    """Runs the stack playbook with this module's prefix and key directory."""
    key_dir = tmp_path_factory.mktemp("cloudfront-keys")

    def run(path=STACK, *, check=False, diff=False, **extra):
        return playbook(
            path,
            extra_vars={"cf_prefix": prefix, "cf_key_dir": str(key_dir), **extra},
            check=check,
            diff=diff,
        )

    return run


def find(items, **match):
    return next((i for i in items if all(i.get(k) == v for k, v in match.items())), None)


class State:
    """What the emulator holds for this test's prefix, read with boto3."""

    def __init__(self, cf, prefix):
        self.cf, self.prefix = cf, prefix

    def oac(self):
        items = self.cf.list_origin_access_controls()["OriginAccessControlList"].get("Items") or []
        return find(items, Name=f"{self.prefix}-media")

    def public_key(self, suffix="media-signing"):
        items = self.cf.list_public_keys()["PublicKeyList"].get("Items") or []
        return find(items, Name=f"{self.prefix}-{suffix}")

    def key_group(self):
        items = self.cf.list_key_groups()["KeyGroupList"].get("Items") or []
        groups = [i["KeyGroup"] for i in items]
        return next(
            (g for g in groups if g["KeyGroupConfig"]["Name"] == f"{self.prefix}-media-signers"),
            None,
        )

    def headers_policy(self):
        items = self.cf.list_response_headers_policies(Type="custom")["ResponseHeadersPolicyList"]
        policies = [i["ResponseHeadersPolicy"] for i in items.get("Items") or []]
        name = f"{self.prefix}-security-headers"
        return next((p for p in policies if p["ResponseHeadersPolicyConfig"]["Name"] == name), None)

    def distribution(self):
        """(distribution, config) found by caller reference, or (None, None)."""
        items = self.cf.list_distributions()["DistributionList"].get("Items") or []
        for item in items:
            config = self.cf.get_distribution_config(Id=item["Id"])["DistributionConfig"]
            if config["CallerReference"] == f"{self.prefix}-media":
                return item, config
        return None, None

    def behaviors(self):
        _, config = self.distribution()
        return {b["PathPattern"]: b for b in config["CacheBehaviors"]["Items"]}


@pytest.fixture(scope="module")
def state(aws, prefix):
    return State(aws("cloudfront"), prefix)


@pytest.fixture(scope="module")
def created(stack):
    result = stack()
    assert result.ok, result.messages()
    return result


def test_create_reports_changes(created):
    changed = created.changed_tasks()
    for task in ALL_TASKS:
        assert any(task in name for name in changed), changed


def test_origin_header_values_never_show(created, stack):
    """A custom origin header is the origin's shared secret: no output shows its value, not even
    the diff of a check run."""
    checked = stack(cf_revision=2, check=True, diff=True)
    for result in (created, checked):
        assert "not-a-real-secret" not in json.dumps(result.plays) + result.stderr


def test_origin_access_control_and_keys(created, state):
    oac = state.oac()
    assert oac["OriginAccessControlOriginType"] == "s3"
    assert oac["SigningBehavior"] == "always"
    assert oac["SigningProtocol"] == "sigv4"
    key = state.public_key()
    assert key["Comment"] == "Signs HLS URLs"
    assert "BEGIN PUBLIC KEY" in key["EncodedKey"]
    group = state.key_group()
    assert group["KeyGroupConfig"]["Items"] == [key["Id"]]
    assert group["KeyGroupConfig"]["Comment"] == "API signers"


def test_distribution_is_shaped_for_hls(created, state):
    summary, config = state.distribution()
    assert summary is not None
    origins = {o["Id"]: o for o in config["Origins"]["Items"]}
    # S3 over OAC: the OAC's ID and an empty legacy origin access identity.
    assert origins["media"]["OriginAccessControlId"] == state.oac()["Id"]
    assert origins["media"]["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert origins["api"]["CustomOriginConfig"]["OriginProtocolPolicy"] == "http-only"
    assert origins["api"]["CustomHeaders"]["Items"] == [
        {"HeaderName": "X-Origin-Verify", "HeaderValue": "not-a-real-secret"}
    ]

    default = config["DefaultCacheBehavior"]
    assert default["TargetOriginId"] == "api"
    policy = state.headers_policy()
    assert default["ResponseHeadersPolicyId"] == policy["Id"]
    headers = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert headers == {
        "StrictTransportSecurity": {
            "Override": True,
            "IncludeSubdomains": True,
            "Preload": False,
            "AccessControlMaxAgeSec": 31536000,
        },
        "ContentTypeOptions": {"Override": True},
    }
    assert default["CachePolicyId"] == CACHING_DISABLED
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    assert default["AllowedMethods"]["Quantity"] == 7
    assert default["TrustedKeyGroups"]["Enabled"] is False

    # Order is precedence: playlists first, then the segments.
    patterns = [b["PathPattern"] for b in config["CacheBehaviors"]["Items"]]
    assert patterns == ["*.m3u8", *SEGMENTS]
    behaviors = state.behaviors()
    group_id = state.key_group()["Id"]
    playlist = behaviors["*.m3u8"]
    assert (playlist["MinTTL"], playlist["DefaultTTL"], playlist["MaxTTL"]) == (0, 2, 5)
    for pattern in SEGMENTS:
        assert behaviors[pattern]["DefaultTTL"] == 86400
        assert behaviors[pattern]["MaxTTL"] == 31536000
    for pattern in ["*.m3u8", *SEGMENTS]:
        signed = behaviors[pattern]["TrustedKeyGroups"]
        assert signed == {"Enabled": True, "Quantity": 1, "Items": [group_id]}, pattern
        assert behaviors[pattern]["ViewerProtocolPolicy"] == "https-only"
        assert behaviors[pattern]["TargetOriginId"] == "media"

    assert config["HttpVersion"] == "http2and3"
    assert config["PriceClass"] == "PriceClass_100"
    assert config["Enabled"] is True
    assert config["ViewerCertificate"]["CloudFrontDefaultCertificate"] is True
    tags = state.cf.list_tags_for_resource(Resource=summary["ARN"])["Tags"]["Items"]
    assert {t["Key"]: t["Value"] for t in tags} == {
        "Project": state.prefix,
        "Environment": "test",
        "ManagedBy": "ansible",
    }


def test_second_run_changes_nothing(created, stack):
    again = stack()
    assert again.ok, again.messages()
    assert again.changed == 0, again.changed_tasks()


def test_check_mode_reports_the_update_but_changes_nothing(created, stack, state):
    checked = stack(cf_revision=2, check=True, diff=True)
    assert checked.ok, checked.messages()
    changed = checked.changed_tasks()
    for task in ALL_TASKS:
        assert any(task in name for name in changed), changed
    headers_diff = next(
        res["diff"] for name, _, res in checked.task_results() if name.startswith("Response")
    )
    hsts = headers_diff["after"]["SecurityHeadersConfig"]["StrictTransportSecurity"]
    assert hsts["AccessControlMaxAgeSec"] == 63072000
    diff = next(
        res["diff"] for name, _, res in checked.task_results() if name.startswith("Distribution")
    )
    assert diff["before"]["PriceClass"] == "PriceClass_100"
    assert diff["after"]["PriceClass"] == "PriceClass_200"
    assert diff["after"]["Tags"]["Tier"] == "media"

    assert state.oac()["Description"] == "CloudFront reads the media bucket"
    assert state.public_key()["Comment"] == "Signs HLS URLs"
    assert state.key_group()["KeyGroupConfig"]["Comment"] == "API signers"
    _, config = state.distribution()
    assert config["PriceClass"] == "PriceClass_100"
    assert state.behaviors()["*.m3u8"]["MaxTTL"] == 5
    live = state.headers_policy()["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert live["StrictTransportSecurity"]["AccessControlMaxAgeSec"] == 31536000


def test_update(created, stack, state):
    key_id = state.public_key()["Id"]
    updated = stack(cf_revision=2)
    assert updated.ok, updated.messages()
    assert updated.changed == 5, updated.changed_tasks()

    assert state.oac()["Description"] == "CloudFront reads the media bucket (v2)"
    key = state.public_key()
    assert (key["Id"], key["Comment"]) == (key_id, "Signs HLS URLs (rotated yearly)")
    assert state.key_group()["KeyGroupConfig"]["Comment"] == "API signers, v2"
    headers = state.headers_policy()["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] == 63072000
    assert headers["ReferrerPolicy"] == {"Override": True, "ReferrerPolicy": "same-origin"}
    summary, config = state.distribution()
    assert config["PriceClass"] == "PriceClass_200"
    playlist = state.behaviors()["*.m3u8"]
    assert (playlist["MinTTL"], playlist["DefaultTTL"], playlist["MaxTTL"]) == (0, 4, 10)
    # What the update did not touch stayed as it was.
    assert config["Origins"]["Items"][0]["OriginAccessControlId"] == state.oac()["Id"]
    assert state.behaviors()["*.ts"]["TrustedKeyGroups"]["Enabled"] is True
    tags = state.cf.list_tags_for_resource(Resource=summary["ARN"])["Tags"]["Items"]
    assert {t["Key"]: t["Value"] for t in tags}["Tier"] == "media"


@pytest.fixture(scope="module")
def edge_cases(created, stack):
    result = stack(EDGE_CASES)
    assert result.ok, result.messages()
    return {name: res for name, _, res in result.task_results()}


def test_public_key_replacement_gets_a_new_id(edge_cases, state):
    first = edge_cases["Upload the first standalone key"]
    replaced = edge_cases["Replace it with the second key"]
    assert replaced["changed"] and replaced["replaced"]
    assert replaced["previous_id"] == first["public_key"]["id"]
    assert replaced["public_key"]["id"] != first["public_key"]["id"]
    assert any("new ID" in w for w in replaced.get("warnings", [])), replaced.get("warnings")
    # The edge cases clean up their standalone key.
    assert state.public_key("standalone") is None


def test_clear_errors_on_bad_input(edge_cases, state):
    no_replace = edge_cases["Refuse a different key with replace=false"]
    assert no_replace["failed"] and "cannot change in place" in no_replace["msg"]

    in_group = edge_cases["Refuse to replace a key that a key group lists"]
    assert in_group["failed"]
    assert f"{state.prefix}-media-signers" in in_group["msg"]
    assert state.public_key() is not None  # nothing was deleted

    unknown = edge_cases["Refuse a key group with an unknown key"]
    assert unknown["failed"] and f"{state.prefix}-no-such-key" in unknown["msg"]

    bad = edge_cases["Refuse a distribution with contradictory settings"]
    assert bad["failed"]
    for expected in ("target_origin_id nowhere", "min_ttl <= default_ttl <= max_ttl", "S3 REST"):
        assert expected in bad["msg"], bad["msg"]

    exclusive = edge_cases["Refuse a cache policy together with legacy TTLs"]
    assert exclusive["failed"] and "mutually exclusive" in exclusive["msg"]

    in_use = edge_cases["Refuse to delete a response headers policy a distribution names"]
    assert in_use["failed"] and "still named by a distribution" in in_use["msg"]
    assert state.headers_policy() is not None
    preload = edge_cases["Refuse a preload without includeSubDomains"]
    assert preload["failed"] and "preload needs include_subdomains" in preload["msg"]


def test_delete(edge_cases, stack, state):
    deleted = stack(cf_state="absent")
    assert deleted.ok, deleted.messages()
    assert deleted.changed == 5, deleted.changed_tasks()
    assert state.distribution() == (None, None)
    assert state.headers_policy() is None
    assert state.key_group() is None
    assert state.public_key() is None
    assert state.oac() is None
