"""streamstack.aws.cloudfront_distribution's transforms (module_utils/cloudfront_distribution.py):
the desired configuration laid over the live one, and the comparable form."""

from __future__ import annotations

from ansible_collections.streamstack.aws.plugins.module_utils.cloudfront_distribution import (
    canonical,
    overlay,
)

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"


def test_overlay_keeps_uncovered_settings_and_drops_owned_ones():
    live = {
        "Logging": {"Enabled": True, "Bucket": "logs.s3.amazonaws.com"},
        "DefaultCacheBehavior": {
            "TargetOriginId": "api",
            "FunctionAssociations": {"Quantity": 1, "Items": [{"FunctionARN": "arn:f"}]},
            "ForwardedValues": {"QueryString": False},
            "MinTTL": 0,
        },
        "Origins": {
            "Quantity": 1,
            "Items": [{"Id": "media", "S3OriginConfig": {}, "OriginShield": {"Enabled": True}}],
        },
    }
    desired = {
        "DefaultCacheBehavior": {"TargetOriginId": "api", "CachePolicyId": CACHING_DISABLED},
        "Origins": {
            "Quantity": 1,
            "Items": [{"Id": "media", "CustomOriginConfig": {"HTTPPort": 80}}],
        },
    }
    merged = overlay(live, desired)
    assert merged["Logging"] == live["Logging"]
    behavior = merged["DefaultCacheBehavior"]
    assert behavior["FunctionAssociations"] == live["DefaultCacheBehavior"]["FunctionAssociations"]
    assert "ForwardedValues" not in behavior and "MinTTL" not in behavior
    origin = merged["Origins"]["Items"][0]
    assert "S3OriginConfig" not in origin and origin["OriginShield"] == {"Enabled": True}


def test_certificate_overlay():
    default_live = {
        "CloudFrontDefaultCertificate": True,
        "SSLSupportMethod": "vip",
        "MinimumProtocolVersion": "TLSv1",
        "CertificateSource": "cloudfront",
    }
    same = overlay(
        {"ViewerCertificate": default_live},
        {"ViewerCertificate": {"CloudFrontDefaultCertificate": True}},
    )
    assert canonical(same) == canonical({"ViewerCertificate": default_live})
    acm = {
        "ACMCertificateArn": "arn:aws:acm:us-east-1:1:certificate/x",
        "SSLSupportMethod": "sni-only",
    }
    switched = overlay({"ViewerCertificate": default_live}, {"ViewerCertificate": acm})
    assert switched["ViewerCertificate"] == acm


def test_canonical_ignores_order_of_sets_and_empty_values():
    a = {"AllowedMethods": {"Quantity": 2, "Items": ["HEAD", "GET"]}, "WebACLId": ""}
    b = {"AllowedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]}}
    assert canonical(a) == canonical(b)
    behaviors = {
        "CacheBehaviors": {"Quantity": 2, "Items": [{"PathPattern": "a"}, {"PathPattern": "b"}]}
    }
    reordered = {
        "CacheBehaviors": {"Quantity": 2, "Items": [{"PathPattern": "b"}, {"PathPattern": "a"}]}
    }
    assert canonical(behaviors) != canonical(reordered)
