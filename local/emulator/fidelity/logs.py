"""CloudWatch Logs fixes: the tagging API, vended log deliveries (CloudFront standard logging
v2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local.emulator.fidelity.core import _around, fix

# --------------------------------------------------------------------------------------------
# CloudWatch Logs: the tagging API
# --------------------------------------------------------------------------------------------


def _logs_log_group_name(arn: str) -> str | None:
    """The log group an ARN names (``...:log-group:NAME``, possibly ``NAME:*``), else None."""
    parts = arn.split(":", 6)
    if len(parts) == 7 and parts[2] == "logs" and parts[5] == "log-group":
        return parts[6]
    return None


@fix
def logs_tagging_api_checks_log_group_arns() -> None:
    """moto 5.2.5: TagResource/UntagResource/ListTagsForResource take any ARN: a log group's ARN
    as DescribeLogGroups' ``arn`` gives it (ending in ``:*``) or one of a deleted group answers
    ``{}``; DeleteLogGroup leaves the group's tags behind for a new group of the same name.

    AWS answers ``ValidationException: Invalid resourceArn`` for the ``:*`` form (the tagging
    API wants ``logGroupArn``, without it) and ResourceNotFoundException for a group that does
    not exist; a deleted group's tags go with it.
    """
    from moto.logs.exceptions import ResourceNotFoundException, ValidationException
    from moto.logs.models import LogsBackend

    def check(backend: LogsBackend, arn: str) -> None:
        name = _logs_log_group_name(arn)
        if name is None:
            return
        if name.endswith(":*"):
            raise ValidationException("Invalid resourceArn")
        if name not in backend.groups:
            raise ResourceNotFoundException()

    for method in ("list_tags_for_resource", "tag_resource", "untag_resource"):

        @_around(LogsBackend, method)
        def checked(original: Callable[..., Any], self: LogsBackend, arn: str, *args: Any) -> Any:
            check(self, arn)
            return original(self, arn, *args)

    @_around(LogsBackend, "delete_log_group")
    def delete_log_group(original: Callable[..., None], self: LogsBackend, name: str) -> None:
        arn = self.groups[name].arn if name in self.groups else None
        original(self, name)
        if arn:
            self.tagger.delete_all_tags_for_resource(arn)


# --------------------------------------------------------------------------------------------
# CloudWatch Logs: vended log deliveries (CloudFront standard logging v2)
# --------------------------------------------------------------------------------------------


@fix
def logs_delivery_source_and_destination_in_use_are_not_deleted() -> None:
    """moto 5.2.5: DeleteDeliverySource and DeleteDeliveryDestination delete a source or a
    destination that a delivery still uses (the delivery is left pointing at nothing).

    AWS: "You can't delete a delivery source (destination) if any current deliveries are
    associated with it" (API reference); it answers ConflictException (the message is ours).
    """
    from moto.logs.exceptions import ConflictException
    from moto.logs.models import LogsBackend

    @_around(LogsBackend, "delete_delivery_source")
    def delete_source(original: Callable[..., None], self: LogsBackend, name: str) -> None:
        if any(d.delivery_source_name == name for d in self.deliveries.values()):
            raise ConflictException(
                f"Delivery Source {name} is used by a delivery: delete it first"
            )
        original(self, name)

    @_around(LogsBackend, "delete_delivery_destination")
    def delete_destination(original: Callable[..., None], self: LogsBackend, name: str) -> None:
        found = self.delivery_destinations.get(name)
        if found and any(d.delivery_destination_arn == found.arn for d in self.deliveries.values()):
            raise ConflictException(
                f"Delivery Destination {name} is used by a delivery: delete it first"
            )
        original(self, name)


@fix
def logs_delivery_source_one_per_resource() -> None:
    """moto 5.2.5: PutDeliverySource accepts a second source (under another name) for a
    resource that already has one.

    AWS answers ConflictException "This ResourceId has already been used in another Delivery
    Source in this account" (a CloudFront distribution has one delivery source).
    """
    from moto.logs.exceptions import ConflictException
    from moto.logs.models import LogsBackend

    @_around(LogsBackend, "put_delivery_source")
    def put_delivery_source(
        original: Callable[..., Any], self: LogsBackend, name: str, resource_arn: str, **kw: Any
    ) -> Any:
        if any(
            other.name != name and resource_arn in other.resource_arns
            for other in self.delivery_sources.values()
        ):
            raise ConflictException(
                "This ResourceId has already been used in another Delivery Source in this account"
            )
        return original(self, name=name, resource_arn=resource_arn, **kw)


@fix
def logs_cloudfront_delivery_sources_only_in_us_east_1() -> None:
    """moto 5.2.5: PutDeliverySource accepts a CloudFront distribution's source in any region.

    AWS answers ValidationException "PutDeliverySource action is not supported for this LogType
    in region <region>" outside us-east-1 (CloudFront standard logging: "you must specify the US
    East (N. Virginia) Region (us-east-1)", whatever the destination's region).
    """
    from moto.logs.exceptions import ValidationException
    from moto.logs.models import LogsBackend

    @_around(LogsBackend, "put_delivery_source")
    def put_delivery_source(
        original: Callable[..., Any], self: LogsBackend, name: str, resource_arn: str, **kw: Any
    ) -> Any:
        if resource_arn.split(":")[2:3] == ["cloudfront"] and self.region_name != "us-east-1":
            raise ValidationException(
                "PutDeliverySource action is not supported for this LogType in region "
                f"{self.region_name}"
            )
        return original(self, name=name, resource_arn=resource_arn, **kw)


@fix
def logs_update_delivery_configuration_exists() -> None:
    """moto 5.2.5 has no UpdateDeliveryConfiguration (NotImplemented): a delivery's record
    fields, field delimiter and S3 layout could only change by deleting and creating it.

    AWS updates them in place ("You can't use this operation to change the source or
    destination of the delivery"); ResourceNotFoundException for an unknown id, and an S3
    layout for a delivery whose destination is not S3 is refused (ValidationException, the
    message is ours).
    """
    from moto.logs.exceptions import ResourceNotFoundException, ValidationException
    from moto.logs.responses import LogsResponse

    def update_delivery_configuration(self: LogsResponse) -> str:
        delivery = self.logs_backend.deliveries.get(self._get_param("id"))
        if delivery is None:
            raise ResourceNotFoundException("Requested Delivery does not exist in this account.")
        s3 = self._get_param("s3DeliveryConfiguration")
        if s3 is not None and delivery.destination_type != "S3":
            raise ValidationException(
                "s3DeliveryConfiguration is only valid for a delivery to an S3 destination"
            )
        if self._get_param("recordFields") is not None:
            delivery.record_fields = self._get_param("recordFields")
        if self._get_param("fieldDelimiter") is not None:
            delivery.field_delimiter = self._get_param("fieldDelimiter")
        if s3 is not None:
            delivery.s3_delivery_configuration = {**delivery.s3_delivery_configuration, **s3}
        return "{}"

    LogsResponse.update_delivery_configuration = update_delivery_configuration
