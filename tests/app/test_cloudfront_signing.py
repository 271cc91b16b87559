"""CloudFront signed URLs: canned and custom policies verify with the public key (RSA-SHA1),
and the private key is read from Secrets Manager."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from streamapp.config import Settings
from streamapp.signing import CloudFrontSigner, make_signer


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.translate(str.maketrans("-_~", "+=/")))


def test_canned_and_custom_policies(settings: Settings, aws: Callable[..., Any]) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    arn = aws("secretsmanager").create_secret(Name="stream-test-cf-key", SecretString=pem)["ARN"]
    cf = settings.model_copy(
        update={
            "signing_mode": "cloudfront",
            "cloudfront_domain": "d111.cloudfront.net",
            "cloudfront_key_pair_id": "K2JCJMDEHXQW5F",
            "cloudfront_private_key_secret_arn": arn,
        }
    )
    signer = make_signer(cf)
    assert isinstance(signer, CloudFrontSigner)
    public = key.public_key()

    thumb = signer.object_url("thumbs/abc.jpg", now=1_700_000_000)
    parts = urlsplit(thumb.url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.netloc == "d111.cloudfront.net" and q["Key-Pair-Id"] == "K2JCJMDEHXQW5F"
    assert int(q["Expires"]) == thumb.expires_at == 1_700_000_000 + cf.url_ttl_seconds
    canned = CloudFrontSigner.policy("https://d111.cloudfront.net/thumbs/abc.jpg", thumb.expires_at)
    public.verify(_unb64(q["Signature"]), canned.encode(), padding.PKCS1v15(), hashes.SHA1())  # noqa: S303

    hls = signer.hls_url("hls/abc", "master.m3u8")
    q = {k: v[0] for k, v in parse_qs(urlsplit(hls.url).query).items()}
    policy = _unb64(q["Policy"])
    public.verify(_unb64(q["Signature"]), policy, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    statement = json.loads(policy)["Statement"][0]
    assert statement["Resource"] == "https://d111.cloudfront.net/hls/abc/*"
    assert statement["Condition"]["DateLessThan"]["AWS:EpochTime"] == hls.expires_at
    assert hls.query and hls.url.endswith(hls.query)
    assert hls.cookies["CloudFront-Policy"] == q["Policy"]


def test_thumbnail_signatures_are_reused_within_a_minute() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    signer = CloudFrontSigner("d111.cloudfront.net", "K2JCJMDEHXQW5F", pem, 900)
    before = int(time.time())
    first = signer.object_url("thumbs/abc.jpg")
    second = signer.object_url("thumbs/abc.jpg")
    assert second is first or second.url == first.url  # one RSA signature, not two
    assert first.expires_at % 60 == 0
    assert before + 900 <= first.expires_at <= int(time.time()) + 900 + 60
    q = {k: v[0] for k, v in parse_qs(urlsplit(first.url).query).items()}
    assert int(q["Expires"]) == first.expires_at
    canned = CloudFrontSigner.policy("https://d111.cloudfront.net/thumbs/abc.jpg", first.expires_at)
    key.public_key().verify(
        _unb64(q["Signature"]),
        canned.encode(),
        padding.PKCS1v15(),
        hashes.SHA1(),  # noqa: S303
    )
    assert signer.object_url("thumbs/other.jpg").url != first.url


def test_the_distribution_is_reached_over_https_and_a_plain_http_base_only_on_loopback() -> None:
    """A domain means https://; an http:// base is a local CloudFront stand-in's (the emulator's
    edge for the local Elastic Beanstalk stand-in) and is refused anywhere but on 127.0.0.1."""
    import pytest
    from pydantic import ValidationError

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    assert CloudFrontSigner("d111.cloudfront.net", "K1", pem, 60).origin == (
        "https://d111.cloudfront.net"
    )
    local = "http://127.0.0.1:5000/moto-api/fidelity/cloudfront-edge/d111.cloudfront.net/"
    assert Settings(cloudfront_domain=local).cloudfront_domain == local
    url = CloudFrontSigner(local, "K1", pem, 60).object_url("thumbs/a.jpg").url
    assert url.startswith(local + "thumbs/a.jpg?Expires=")
    for refused in ("http://media.example.com", "http://10.0.0.5/edge"):
        with pytest.raises(ValidationError, match=r"local stand-in on 127\.0\.0\.1 only"):
            Settings(cloudfront_domain=refused)
