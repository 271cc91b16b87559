"""A request journal: what the clients sent (``/moto-api/fidelity/journal``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from local.emulator.fidelity.core import _around, fix

# --------------------------------------------------------------------------------------------
# A request journal: what the clients sent
# --------------------------------------------------------------------------------------------

_JOURNAL: list[dict[str, Any]] = []
_JOURNAL_LIMIT = 5000


def _journal_record(response: Any, **extra: Any) -> None:
    try:
        body = getattr(response, "body", None)
        body = body.decode(errors="replace") if isinstance(body, bytes) else body
        if isinstance(body, str) and body.lstrip().startswith("{"):
            # JSON protocols: moto also parses the body as a query string, into one odd key.
            params = json.loads(body)
        else:
            params = {k: v for k, v in (response.querystring or {}).items() if k != "Action"}
        _JOURNAL.append(
            {"service": response.service_name, "action": response._get_action(), "params": params}
            | extra
        )
        del _JOURNAL[:-_JOURNAL_LIMIT]
    except Exception:  # noqa: S110 - the journal must never break a request
        pass


@fix
def journal_of_requests() -> None:
    """Not a moto gap: a record of what clients sent, for tests that must prove a playbook did
    NOT send a parameter (e.g. no EngineVersion or AllocatedStorage after an automatic upgrade).

    ``GET /moto-api/fidelity/journal`` returns the last requests as JSON
    ``[{"service", "action", "params"}]`` (query-protocol parameters, or the JSON body; a
    request the realistic mode refused also has ``"fault": <error code>``); ``POST`` empties it.
    """
    from moto.core.responses import BaseResponse
    from moto.moto_api._internal import urls

    @_around(BaseResponse, "call_action")
    def call_action(original: Callable[..., Any], self: BaseResponse) -> Any:
        _journal_record(self)
        return original(self)

    def journal(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
        if request.method == "POST":
            _JOURNAL.clear()
            return 200, {}, "[]"
        return 200, {"Content-Type": "application/json"}, json.dumps(_JOURNAL, default=str)

    urls.url_paths["{0}/moto-api/fidelity/journal"] = journal
