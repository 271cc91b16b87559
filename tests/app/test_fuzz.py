"""schemathesis fuzzes every operation of the OpenAPI schema: no input may produce a 5xx.

Bounded (a few examples per operation) so it runs in seconds. The operations are driven with
hypothesis directly: schemathesis' own pytest plugin does not support pytest 9 yet.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

EXAMPLES_PER_OPERATION = 10


def test_no_server_errors(api_schema: Any, fuzz_auth: dict[str, str]) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=fuzz_auth, checks=[not_a_server_error])

        run()
