"""Login sessions in DynamoDB (table key ``pk``, TTL attribute ``expires_at``).

Only a SHA-256 of the token is stored, so a table dump does not hand out live sessions. TTL
deletion is lazy, hence the explicit expiry check on every lookup.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from streamapp.aws import client
from streamapp.config import Settings


@dataclass(frozen=True)
class SessionInfo:
    user_id: str
    role: str
    expires_at: int


def _pk(token: str) -> str:
    return "session#" + hashlib.sha256(token.encode()).hexdigest()


def create(settings: Settings, user_id: str, role: str) -> tuple[str, int]:
    token = secrets.token_urlsafe(32)
    expires_at = int(time.time()) + settings.session_ttl_seconds
    client(settings, "dynamodb").put_item(
        TableName=settings.sessions_table,
        Item={
            "pk": {"S": _pk(token)},
            "user_id": {"S": user_id},
            "role": {"S": role},
            "created_at": {"N": str(int(time.time()))},
            "expires_at": {"N": str(expires_at)},
        },
    )
    return token, expires_at


def lookup(settings: Settings, token: str) -> SessionInfo | None:
    if not token or len(token) > 200:
        return None
    item = (
        client(settings, "dynamodb")
        .get_item(TableName=settings.sessions_table, Key={"pk": {"S": _pk(token)}})
        .get("Item")
    )
    if not item:
        return None
    expires_at = int(item["expires_at"]["N"])
    if expires_at <= time.time():
        return None
    return SessionInfo(item["user_id"]["S"], item["role"]["S"], expires_at)


def delete(settings: Settings, token: str) -> None:
    client(settings, "dynamodb").delete_item(
        TableName=settings.sessions_table, Key={"pk": {"S": _pk(token)}}
    )
