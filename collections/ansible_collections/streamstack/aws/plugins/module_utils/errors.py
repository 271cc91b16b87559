# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Error handling for the streamstack.aws modules, amazon.aws's way: the functions that call
AWS carry an error-handler decorator instead of their own try/except, the decorator turns a
botocore error into an AnsibleAWSError saying what failed (``"Failed to delete log group
{name}"``, the function's arguments filled in; ``"Timeout trying to ..."`` for a waiter), and
the module's main() fails with it once:

    @LOGS_ERRORS.deletion_error_handler("delete log group {name}")
    def delete_group(client, name): ...

    try:
        ...
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)
"""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.errors import AWSErrorHandler
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError

__all__ = ["AWSErrorHandler", "AnsibleAWSError", "aws_call", "error_handler"]


def error_handler(*missing_codes):
    """An AWSErrorHandler for a service that answers ``missing_codes`` for a resource that is
    not there: its list_error_handler then returns None and its deletion_error_handler False
    (deleted meanwhile: the goal is reached); common_error_handler reports every error."""

    class ServiceErrorHandler(AWSErrorHandler):
        @classmethod
        def _is_missing(cls):
            return is_boto3_error_code(list(missing_codes))

    return ServiceErrorHandler


@AWSErrorHandler.common_error_handler("{what}")
def aws_call(what, call, **request):
    """``call(aws_retry=True, **request)``, an error failing as "Failed to <what>" (a waiter's
    as "Timeout trying to <what>"): for a call that needs no function of its own."""
    return call(aws_retry=True, **request)
