"""Short-lived playback URLs: CloudFront signed URLs on AWS, nginx secure_link locally.

Both signers offer the same two operations:

* ``object_url(key)``: one S3 object (thumbnails).
* ``hls_url(prefix, entry)``: an HLS tree (``hls/<item id>/``): the master playlist URL, signed
  so that every rung playlist and segment under the prefix is allowed too.

The local contract is written down in app/README.md ("Local signed URLs"); the nginx role
implements the checking side and tests/app/test_signed_urls_nginx.py proves both agree.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from streamapp import secrets
from streamapp.config import Settings


@dataclass(frozen=True)
class SignedUrl:
    url: str
    expires_at: int
    # CloudFront HLS only: the query string to append to every request under the prefix
    # (hls.js xhrSetup), and the same grant as signed cookies for same-site deployments.
    query: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)


class Signer(Protocol):
    mode: str

    def object_url(self, key: str, *, now: float | None = None) -> SignedUrl: ...

    def hls_url(self, prefix: str, entry: str, *, now: float | None = None) -> SignedUrl: ...


def _b64url_nopad(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def secure_link_token(expires: int, signed: str, secret: str) -> str:
    """nginx ``secure_link_md5 "$expires<signed> $secret"`` token, base64url without padding."""
    return _b64url_nopad(hashlib.md5(f"{expires}{signed} {secret}".encode()).digest())  # noqa: S324 - nginx secure_link is md5 by design


class LocalSigner:
    """URLs that nginx's secure_link module checks (see app/README.md, "Local signed URLs")."""

    mode = "local"

    def __init__(self, base_url: str, secret: str, ttl: int) -> None:
        self.base_url, self.secret, self.ttl = base_url.rstrip("/"), secret, ttl

    def object_url(self, key: str, *, now: float | None = None) -> SignedUrl:
        expires = int(now if now is not None else time.time()) + self.ttl
        uri = "/media/" + quote(key.lstrip("/"), safe="/")
        token = secure_link_token(expires, uri, self.secret)
        return SignedUrl(f"{self.base_url}{uri}?expires={expires}&md5={token}", expires)

    def hls_url(self, prefix: str, entry: str, *, now: float | None = None) -> SignedUrl:
        expires = int(now if now is not None else time.time()) + self.ttl
        prefix = prefix.strip("/")
        token = secure_link_token(expires, prefix, self.secret)
        # Token and expiry live in the path, so the playlists' relative URLs inherit them.
        return SignedUrl(f"{self.base_url}/media/s/{token}/{expires}/{prefix}/{entry}", expires)


def _cf_b64(raw: bytes) -> str:
    # CloudFront's URL-safe base64 variant: + -> -, = -> _, / -> ~
    return base64.b64encode(raw).decode().translate(str.maketrans("+=/", "-_~"))


_REUSE_SECONDS = 60  # CloudFront thumbnail URLs: one signature per key and minute
_REUSE_MAX = 20_000


def cloudfront_base(domain: str) -> str:
    """Where viewers reach the distribution (STREAMAPP_CLOUDFRONT_DOMAIN): https://<domain>, or
    an explicit base; an http:// one is a local stand-in's (config: on the loopback only)."""
    explicit = domain.startswith(("https://", "http://"))
    return (domain if explicit else "https://" + domain).rstrip("/")


class CloudFrontSigner:
    """CloudFront signed URLs (RSA-SHA1 as CloudFront requires) with the key group's key."""

    mode = "cloudfront"

    def __init__(self, domain: str, key_pair_id: str, private_key_pem: str, ttl: int) -> None:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the CloudFront private key must be an RSA key")
        self.key, self.key_pair_id, self.ttl = key, key_pair_id, ttl
        self.origin = cloudfront_base(domain)
        self._reuse: dict[tuple[str, int], SignedUrl] = {}
        self._reuse_lock = threading.Lock()

    def _sign(self, policy: str) -> str:
        return _cf_b64(self.key.sign(policy.encode(), padding.PKCS1v15(), hashes.SHA1()))  # noqa: S303 - CloudFront mandates SHA1

    @staticmethod
    def policy(resource: str, expires: int) -> str:
        statement = {
            "Resource": resource,
            "Condition": {"DateLessThan": {"AWS:EpochTime": expires}},
        }
        return json.dumps({"Statement": [statement]}, separators=(",", ":"))

    def object_url(self, key: str, *, now: float | None = None) -> SignedUrl:
        """Canned policy: the URL itself is the resource.

        An RSA signature costs about a millisecond of CPU and a catalog page shows up to 100
        thumbnails, so without an explicit ``now`` the expiry is rounded up to the next
        ``_REUSE_SECONDS`` boundary (the URL lives between ttl and ttl + that long) and the
        signed URL is reused until the boundary moves on."""
        if now is not None:
            return self._object_url(key, int(now) + self.ttl)
        expires = -(-(int(time.time()) + self.ttl) // _REUSE_SECONDS) * _REUSE_SECONDS
        cached = self._reuse.get((key, expires))
        if cached is None:
            cached = self._object_url(key, expires)
            with self._reuse_lock:
                if len(self._reuse) >= _REUSE_MAX:
                    self._reuse.clear()
                self._reuse[(key, expires)] = cached
        return cached

    def _object_url(self, key: str, expires: int) -> SignedUrl:
        url = f"{self.origin}/{quote(key.lstrip('/'), safe='/')}"
        signature = self._sign(self.policy(url, expires))
        query = f"Expires={expires}&Signature={signature}&Key-Pair-Id={self.key_pair_id}"
        return SignedUrl(f"{url}?{query}", expires)

    def hls_url(self, prefix: str, entry: str, *, now: float | None = None) -> SignedUrl:
        """Custom policy with a wildcard over the item's HLS prefix."""
        expires = int(now if now is not None else time.time()) + self.ttl
        base = f"{self.origin}/{quote(prefix.strip('/'), safe='/')}"
        policy = self.policy(f"{base}/*", expires)
        encoded, signature = _cf_b64(policy.encode()), self._sign(policy)
        query = f"Policy={encoded}&Signature={signature}&Key-Pair-Id={self.key_pair_id}"
        cookies = {
            "CloudFront-Policy": encoded,
            "CloudFront-Signature": signature,
            "CloudFront-Key-Pair-Id": self.key_pair_id,
        }
        return SignedUrl(f"{base}/{entry}?{query}", expires, query=query, cookies=cookies)


def make_signer(settings: Settings) -> Signer:
    if settings.signing_mode == "cloudfront":
        if not settings.cloudfront_domain or not settings.cloudfront_key_pair_id:
            raise secrets.SecretMissing(
                "STREAMAPP_CLOUDFRONT_DOMAIN and STREAMAPP_CLOUDFRONT_KEY_PAIR_ID are required"
            )
        pem = secrets.require(settings, "cloudfront_private_key")
        return CloudFrontSigner(
            settings.cloudfront_domain,
            settings.cloudfront_key_pair_id,
            pem,
            settings.url_ttl_seconds,
        )
    secret = secrets.require(settings, "signing_secret")
    return LocalSigner(settings.public_media_base_url, secret, settings.url_ttl_seconds)
