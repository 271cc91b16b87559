"""The instances' metadata service (IMDS): per instance, with its role's credentials."""

from __future__ import annotations

import json
import time
from typing import Any

from local.emulator.fidelity.core import fix

# Instance credentials last 6 hours and rotate an hour before they expire (EC2 User Guide,
# "Retrieve security credentials from instance metadata").
_IMDS_CREDENTIAL_SECONDS = 6 * 3600
_IMDS_ROTATE_BEFORE_SECONDS = 3600
_IMDS_TOKENS: dict[str, float] = {}
_IMDS_CREDENTIALS: dict[str, Any] = {}


def _imds_instance(instance_id: str) -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends

    for backend in list(ec2_backends[DEFAULT_ACCOUNT_ID].values()):
        for reservation in backend.reservations.values():
            for instance in reservation.instances:
                if instance.id == instance_id:
                    return backend, instance
    return None, None


def _imds_credentials(backend: Any, instance: Any) -> dict[str, str] | None:
    """The instance profile role's temporary credentials, as IMDS hands them out."""
    import datetime

    from moto.sts.models import sts_backends

    association = backend.iam_instance_profile_associations.get(instance.id)
    if association is None or not association.iam_instance_profile.roles:
        return None
    role = association.iam_instance_profile.roles[0]
    now = datetime.datetime.now(datetime.UTC)
    found = _IMDS_CREDENTIALS.get(instance.id)
    if (
        found is None
        or found["role"] != role.arn
        or found["expires"] - now < datetime.timedelta(seconds=_IMDS_ROTATE_BEFORE_SECONDS)
    ):
        session = sts_backends[backend.account_id]["aws"].assume_role(
            region_name=backend.region_name,
            role_session_name=instance.id,
            role_arn=role.arn,
            policy="",
            duration=_IMDS_CREDENTIAL_SECONDS,
            external_id="",
        )
        found = _IMDS_CREDENTIALS[instance.id] = {
            "role": role.arn,
            "name": role.name,
            "session": session,
            "updated": now,
            "expires": now + datetime.timedelta(seconds=_IMDS_CREDENTIAL_SECONDS),
        }
    session = found["session"]
    return {
        "name": found["name"],
        "Code": "Success",
        "LastUpdated": found["updated"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Type": "AWS-HMAC",
        "AccessKeyId": session.access_key_id,
        "SecretAccessKey": session.secret_access_key,
        "Token": session.session_token,
        "Expiration": found["expires"].strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


@fix
def instance_metadata_per_instance() -> None:
    """moto 5.2.5's instance metadata hands every caller test-key/test-session-token, tied to no
    role. AWS's IMDS gives an instance its profile role's temporary credentials (rotated before
    they expire) and, when the instance requires IMDSv2 (HttpTokens=required), answers only a
    caller holding a session token (PUT latest/api/token).

    Each emulated instance has its own at ``/moto-api/fidelity/imds/<instance id>/``: the host
    that plays the instance sets ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` to it, and botocore's
    credential chain then signs with the instance role, which the IAM checks above enforce.
    Served: the token, instance-id, placement, the identity document, iam/info,
    iam/security-credentials/ and user-data.
    """
    import base64
    import secrets

    from moto.moto_api._internal import urls

    def imds(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
        path = full_url.split("/moto-api/fidelity/imds/", 1)[1].split("?", 1)[0]
        instance_id, _, path = path.partition("/")
        backend, instance = _imds_instance(instance_id)
        if instance is None or instance.state not in ("pending", "running"):
            return 404, {}, ""
        if path == "latest/api/token" and request.method == "PUT":
            ttl = request.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
            if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return 400, {}, ""
            token = secrets.token_urlsafe(32)
            _IMDS_TOKENS[token] = time.monotonic() + int(ttl)
            return 200, {"X-aws-ec2-metadata-token-ttl-seconds": ttl}, token
        token = request.headers.get("X-aws-ec2-metadata-token")
        valid = token is not None and _IMDS_TOKENS.get(token, 0) > time.monotonic()
        if token is not None and not valid:
            return 401, {}, ""
        if instance.metadata_options.http_tokens == "required" and not valid:
            return 401, {}, ""  # IMDSv2 only: no token, no answer
        zone = (
            instance.placement.zone if hasattr(instance.placement, "zone") else instance.placement
        )
        document = {
            "accountId": backend.account_id,
            "availabilityZone": zone,
            "imageId": instance.image_id,
            "instanceId": instance.id,
            "instanceType": instance.instance_type,
            "privateIp": instance.private_ip,
            "region": backend.region_name,
        }
        credentials = _imds_credentials(backend, instance)
        answers: dict[str, str] = {
            "latest/meta-data/instance-id": instance.id,
            "latest/meta-data/instance-type": instance.instance_type,
            "latest/meta-data/local-ipv4": instance.private_ip or "",
            "latest/meta-data/placement/availability-zone": zone,
            "latest/meta-data/placement/region": backend.region_name,
            "latest/dynamic/instance-identity/document": json.dumps(document),
        }
        if path == "latest/user-data" and instance.user_data:
            user_data = instance.user_data
            user_data = user_data[0] if isinstance(user_data, list) else user_data
            # moto keeps it as a Base64EncodedString (or a base64 str in older releases).
            answers[path] = (
                user_data.decode()
                if hasattr(user_data, "decode") and not isinstance(user_data, str)
                else base64.b64decode(user_data).decode()
            )
        if credentials:
            name = credentials.pop("name")
            association = backend.iam_instance_profile_associations[instance.id]
            answers["latest/meta-data/iam/info"] = json.dumps(
                {
                    "Code": "Success",
                    "LastUpdated": credentials["LastUpdated"],
                    "InstanceProfileArn": association.iam_instance_profile.arn,
                    "InstanceProfileId": association.iam_instance_profile.id,
                }
            )
            answers["latest/meta-data/iam/security-credentials/"] = name
            answers[f"latest/meta-data/iam/security-credentials/{name}"] = json.dumps(credentials)
        found = answers.get(path) or answers.get(path.rstrip("/") + "/")
        if found is None:
            return 404, {}, ""
        return 200, {"Content-Type": "text/plain"}, found

    urls.url_paths["{0}/moto-api/fidelity/imds/(?P<instance>[^/]+)/(?P<path>.*)"] = imds
