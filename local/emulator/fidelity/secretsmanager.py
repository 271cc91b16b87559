"""Secrets Manager fixes."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from local.emulator.fidelity.core import _around, fix

# --------------------------------------------------------------------------------------------
# Secrets Manager
# --------------------------------------------------------------------------------------------


@fix
def secretsmanager_awscurrent_moved_by_stage_is_what_get_secret_value_returns() -> None:
    """moto 5.2.5: UpdateSecretVersionStage moves the AWSCURRENT label but GetSecretValue
    without a version still returns the version moto created last as current.

    AWS returns the version labelled AWSCURRENT (a rotation's finishSecret step moves the label
    to the pending version: every client reads the new value from then on). moto keeps its own
    ``default_version_id`` and never updates it there, so after a rotation the app kept
    reading the old login (playbooks/rotate_db_login.yml).
    """
    from moto.secretsmanager.models import SecretsManagerBackend

    @_around(SecretsManagerBackend, "update_secret_version_stage")
    def update_stage(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        bound = inspect.signature(original).bind(self, *args, **kwargs).arguments
        moved_to = bound.get("move_to_version_id")
        if bound.get("version_stage") == "AWSCURRENT" and moved_to:
            self.secrets[bound["secret_id"]].set_default_version_id(moved_to)
        return result


@fix
def secretsmanager_list_secret_version_ids_dates_each_version_by_its_creation() -> None:
    """moto 5.2.5: ListSecretVersionIds answers every version's CreatedDate (and
    LastAccessedDate) as the time of the request.

    AWS answers the date each version was created, the one GetSecretValue returns for it: the
    rotation module dates the current login from this list (a rotation due after N days), so
    with moto's answer every login looked created just now and was never due.
    """
    import json

    from moto.secretsmanager.models import SecretsManagerBackend

    @_around(SecretsManagerBackend, "list_secret_version_ids")
    def list_versions(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        answer = json.loads(original(self, *args, **kwargs))
        secret_id = inspect.signature(original).bind(self, *args, **kwargs).arguments["secret_id"]
        versions = self.secrets[secret_id].versions
        for listed in answer["Versions"]:
            listed["CreatedDate"] = versions[listed["VersionId"]]["createdate"]
            listed.pop("LastAccessedDate", None)
        return json.dumps(answer)
