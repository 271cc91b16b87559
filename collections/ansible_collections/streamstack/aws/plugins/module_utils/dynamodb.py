# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DynamoDB helpers shared by the streamstack.aws modules."""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.streamstack.aws.plugins.module_utils.errors import error_handler

DYNAMODB_ERRORS = error_handler("ResourceNotFoundException")

# Right after CreateTable DynamoDB is still enabling a table's continuous backups and answers
# UpdateContinuousBackups with ContinuousBackupsUnavailableException ("Backups are being enabled
# for the table ... Please retry later"), for about a minute: retry for a few minutes (jittered
# backoff from 3 s up to 30 s between attempts; throttling is retried as usual).
_PITR_RETRY = AWSRetry.jittered_backoff(
    retries=20,
    delay=3,
    max_delay=30,
    catch_extra_error_codes=["ContinuousBackupsUnavailableException"],
)


@DYNAMODB_ERRORS.common_error_handler("update continuous backups of {table}")
def update_continuous_backups(client, table, specification):
    """UpdateContinuousBackups, retried until the table's continuous backups are available."""
    return _PITR_RETRY(client.update_continuous_backups)(
        TableName=table, PointInTimeRecoverySpecification=specification
    )
