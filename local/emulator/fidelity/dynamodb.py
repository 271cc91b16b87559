"""DynamoDB fixes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from local.emulator.fidelity.core import _around, fix
from local.emulator.fidelity.timing import _ready_at

# --------------------------------------------------------------------------------------------
# DynamoDB
# --------------------------------------------------------------------------------------------


@fix
def dynamodb_describe_table_has_table_id_and_class() -> None:
    """moto 5.2.5: DescribeTable has no TableId and ignores TableClass.

    AWS returns a stable ``TableId`` (UUID) for every table; community.aws.dynamodb_table reads
    it unconditionally (KeyError 'table_id'). A table created or updated with ``TableClass``
    reports it as ``TableClassSummary`` (the module compares it on every run).
    """
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    @_around(Table, "describe")
    def describe(original: Callable[..., dict[str, Any]], self: Table, *args: Any, **kwargs: Any):
        result = original(self, *args, **kwargs)
        if not hasattr(self, "fidelity_table_id"):
            self.fidelity_table_id = str(uuid.uuid4())
        for desc in result.values():
            desc["TableId"] = self.fidelity_table_id
            if getattr(self, "fidelity_table_class", None):
                desc["TableClassSummary"] = {"TableClass": self.fidelity_table_class}
        return result

    def remember_table_class(name: str) -> None:
        @_around(DynamoHandler, name)
        def handler(original: Callable[..., Any], self: DynamoHandler) -> Any:
            response = original(self)
            table_class = self.body.get("TableClass")
            if table_class:
                table = self.dynamodb_backend.get_table(self.body["TableName"])
                table.fidelity_table_class = table_class
            return response

    remember_table_class("create_table")
    remember_table_class("update_table")


@fix
def dynamodb_continuous_backups_are_unavailable_on_a_new_table() -> None:
    """moto 5.2.5: UpdateContinuousBackups succeeds right after CreateTable.

    AWS: continuous backups are being enabled on a new table for a while (AWS_DURATIONS) and
    UpdateContinuousBackups answers ContinuousBackupsUnavailableException meanwhile; a module that
    turns point-in-time recovery on right after creating the table must retry.
    """
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
    from moto.dynamodb.models import DynamoDBBackend

    @_around(DynamoDBBackend, "create_table")
    def create_table(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        table = original(self, *args, **kwargs)
        table.fidelity_backups_at = _ready_at("dynamodb.table.continuous_backups_unavailable")
        return table

    @_around(DynamoDBBackend, "update_continuous_backups")
    def update_continuous_backups(
        original: Callable[..., Any], self: Any, table_name: str, spec: dict[str, Any]
    ) -> Any:
        table = self.tables.get(table_name)
        if table is not None and time.monotonic() < getattr(table, "fidelity_backups_at", 0):
            raise DynamodbException(
                ERROR_TYPE_PREFIX + "ContinuousBackupsUnavailableException",
                f"Backups are being enabled for the table: {table_name}. Please retry later",
            )
        return original(self, table_name, spec)
