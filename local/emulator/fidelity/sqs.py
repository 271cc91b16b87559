"""SQS fixes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from local.emulator.fidelity.core import _around, fix
from local.emulator.fidelity.timing import _ready_at


@fix
def sqs_queue_name_reusable_60_seconds_after_delete() -> None:
    """moto 5.2.5: a queue may be created again right after DeleteQueue.

    AWS answers AWS.SimpleQueueService.QueueDeletedRecently (CreateQueue: "You must wait 60
    seconds after deleting a queue before you can create another queue with the same name.",
    AWS_DURATIONS); provisioning right after a teardown must wait and retry.
    """
    from moto.sqs.exceptions import SQSException
    from moto.sqs.models import SQSBackend

    def deleted(backend: Any) -> dict[str, float]:
        """queue name -> when the name is free again."""
        return backend.__dict__.setdefault("fidelity_deleted_queues", {})

    @_around(SQSBackend, "delete_queue")
    def delete_queue(original: Callable[..., None], self: Any, queue_name: str) -> None:
        original(self, queue_name)
        deleted(self)[queue_name] = _ready_at("sqs.queue.deleted_recently")

    @_around(SQSBackend, "create_queue")
    def create_queue(original: Callable[..., Any], self: Any, name: str, *args, **kwargs) -> Any:
        if name not in self.queues and time.monotonic() < deleted(self).get(name, 0):
            raise SQSException(
                "AWS.SimpleQueueService.QueueDeletedRecently",
                "You must wait 60 seconds after deleting a queue before you can create another"
                " queue with the same name.",
            )
        return original(self, name, *args, **kwargs)
