"""What a user prepares in an AWS account before the first provisioning, done in the emulator.

On AWS (README, "Using a real AWS account") the user creates a public Route 53 hosted zone and
an ACM certificate in the region that covers the origin's name; provisioning only reads them
(preflight) and keeps the origin's alias record in the zone. The local environment takes the
same path: its inventory names the zone (``origin_hosted_zone`` in
inventories/local/group_vars/all/env.yml), and this module makes that zone and an ISSUED
``*.<zone>`` certificate in the emulator, the one preparation `make up`, the tests and the
benchmarks share. Idempotent: what exists is kept.

    python -m local.prepared_account   # on the emulator of AWS_ENDPOINT_URL

The certificate is self-signed, made offline and imported (ACM accepts a self-signed
certificate with its key; moto issues a requested one after a minute without any DNS
validation, which AWS never does). On AWS, CloudFront trusts only a public CA's certificate on
its origin: there it is an ACM-issued certificate, validated through DNS in the zone.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import yaml

from local import ROOT

LOCAL_ENV = ROOT / "inventories" / "local" / "group_vars" / "all" / "env.yml"
REGION = "eu-west-1"  # group_vars/all/platform.yml's aws_region; the local inventory keeps it

Client = Callable[..., Any]


def local_zone() -> str:
    """The hosted zone the local inventory names."""
    return yaml.safe_load(LOCAL_ENV.read_text())["origin_hosted_zone"]


def prepare(aws: Client, zone: str | None = None) -> dict[str, str]:
    """Make sure the account holds the public hosted zone ``zone`` and an ISSUED ACM
    certificate for ``*.<zone>`` and ``<zone>`` in the client's region; return their ids."""
    zone = (zone or local_zone()).lower().rstrip(".")
    return {
        "zone_id": _hosted_zone(aws("route53"), zone),
        "certificate_arn": _certificate(aws("acm"), zone),
    }


def _hosted_zone(route53: Any, zone: str) -> str:
    zones = route53.list_hosted_zones_by_name(DNSName=zone)["HostedZones"]
    for found in zones:
        if found["Name"] == f"{zone}." and not found["Config"]["PrivateZone"]:
            return found["Id"].split("/")[-1]
    created = route53.create_hosted_zone(
        Name=zone,
        CallerReference=f"streamstack-prepared-{uuid.uuid4()}",
        HostedZoneConfig={"Comment": "prepared like a user's zone", "PrivateZone": False},
    )
    return created["HostedZone"]["Id"].split("/")[-1]


def _certificate(acm: Any, zone: str) -> str:
    names = {f"*.{zone}", zone}
    issued = acm.list_certificates(CertificateStatuses=["ISSUED"])["CertificateSummaryList"]
    for summary in issued:
        described = acm.describe_certificate(CertificateArn=summary["CertificateArn"])
        if names <= set(described["Certificate"].get("SubjectAlternativeNames", [])):
            return summary["CertificateArn"]
    certificate, key = self_signed(sorted(names, key=len))
    return acm.import_certificate(Certificate=certificate, PrivateKey=key)["CertificateArn"]


def self_signed(names: list[str], days: int = 365) -> tuple[bytes, bytes]:
    """A self-signed certificate (PEM) for ``names`` (the first is the subject) and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
    )


def main() -> int:
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        print("prepared_account: AWS_ENDPOINT_URL names no emulator (source .emulator/env)")
        return 2

    def aws(service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint)

    print(json.dumps(prepare(aws)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
