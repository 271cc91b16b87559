"""EC2 fixes: tags, NAT gateways, launch templates, instances, images (AMIs), security group
rules with managed prefix lists, flow logs, network interfaces and addresses a deletion meets.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any

from local.emulator.fidelity.core import _around, _as_bool, _settling, fix
from local.emulator.fidelity.deferred import _later
from local.emulator.fidelity.realistic import (
    _YOUNG,
    _made_now,
    _profile_of_template,
    _young_profile,
)
from local.emulator.fidelity.timing import _ready_at

# --------------------------------------------------------------------------------------------
# EC2: tags, NAT gateways, launch templates, instances launched from a template
# --------------------------------------------------------------------------------------------

# DescribeTags' resource-type names where moto's differ from AWS's (moto prefix -> AWS name).
_AWS_TAG_RESOURCE_TYPES = {
    "nat": "natgateway",
    "eipalloc": "elastic-ip",
    "h": "dedicated-host",
    "sir": "spot-instances-request",
}


@fix
def ec2_tag_resource_types_use_aws_names() -> None:
    """moto 5.2.5: DescribeTags calls a NAT gateway ``nat-gateway``; AWS says ``natgateway``.

    amazon.aws's ensure_ec2_tags filters on ``resource-type=natgateway``: moto found no tags,
    so ec2_vpc_nat_gateway re-tagged (changed) on every run. Same for elastic-ip and friends.
    """
    from moto.ec2 import utils

    # models/tags.py imported the very same dict object: update it in place.
    utils.EC2_PREFIX_TO_RESOURCE.update(_AWS_TAG_RESOURCE_TYPES)


@fix
def ec2_describe_nat_gateways_filters_by_tag() -> None:
    """moto 5.2.5: DescribeNatGateways ignores ``tag:<key>``, ``tag-key`` and ``tag-value``.

    AWS supports them (as for every EC2 Describe call); without them a lookup by Name tag
    returns every NAT gateway of the account.
    """
    from moto.ec2.models.nat_gateways import NatGatewayBackend
    from moto.ec2.utils import is_tag_filter, tag_filter_matches

    @_around(NatGatewayBackend, "describe_nat_gateways")
    def describe_nat_gateways(
        original: Callable[..., list[Any]],
        self: NatGatewayBackend,
        filters: dict[str, list[str]] | None,
        nat_gateway_ids: list[str] | None,
    ) -> list[Any]:
        filters = filters or {}
        tag_filters = {k: v for k, v in filters.items() if is_tag_filter(k)}
        rest = {k: v for k, v in filters.items() if not is_tag_filter(k)}
        gateways = original(self, rest or None, nat_gateway_ids)
        return [
            gw
            for gw in gateways
            if all(tag_filter_matches(gw, name, values) for name, values in tag_filters.items())
        ]


# The MetadataOptions AWS fills in on a launch template version when only some are given.
_METADATA_OPTION_DEFAULTS = {
    "HttpTokens": "optional",
    "HttpPutResponseHopLimit": 1,
    "HttpEndpoint": "enabled",
    "HttpProtocolIpv6": "disabled",
    "InstanceMetadataTags": "disabled",
}


@fix
def ec2_launch_template_data_is_what_was_put() -> None:
    """moto 5.2.5: CreateLaunchTemplate copies the template's own tags into its version data.

    AWS keeps CreateLaunchTemplate's ``TagSpecifications`` (resource type launch-template) on
    the template only; moto also appended them to version 1's ``LaunchTemplateData``, so
    amazon.aws.ec2_launch_template saw a difference and created a new version on every run.
    AWS also completes a partial ``MetadataOptions`` block with its defaults, and
    DescribeLaunchTemplates shows the template's current tags (moto: those at creation).
    """
    from moto.ec2.models.launch_templates import LaunchTemplate, LaunchTemplateBackend

    @_around(LaunchTemplateBackend, "create_launch_template")
    def create_launch_template(
        original: Callable[..., LaunchTemplate],
        self: LaunchTemplateBackend,
        name: str,
        description: str,
        template_data: dict[str, Any],
        tag_spec: dict[str, Any],
    ) -> LaunchTemplate:
        # The response handler appended one entry per top-level tag specification.
        specs = template_data.get("TagSpecifications") or []
        if tag_spec and specs:
            del specs[len(specs) - len(tag_spec) :]
            if not specs:
                template_data.pop("TagSpecifications")
        return original(self, name, description, template_data, tag_spec)

    @_around(LaunchTemplate, "create_version")
    def create_version(
        original: Callable[..., Any], self: LaunchTemplate, data: dict[str, Any], description: str
    ) -> Any:
        if isinstance(data.get("MetadataOptions"), dict):
            data["MetadataOptions"] = {**_METADATA_OPTION_DEFAULTS, **data["MetadataOptions"]}
        return original(self, data, description)

    # Live tags (CreateTags/DeleteTags on the template show up in DescribeLaunchTemplates).
    LaunchTemplate.tags = property(  # type: ignore[attr-defined]
        lambda self: self.get_tags(), lambda self, value: None
    )


@fix
def ec2_launch_template_versions_launch_with_their_user_data() -> None:
    """moto 5.2.5: CreateLaunchTemplateVersion keeps ``UserData`` as a plain string (only
    CreateLaunchTemplate parses it), and every launch from such a version, e.g. an Auto Scaling
    group on ``$Latest`` after a new version, fails an assertion (HTTP 500).

    AWS launches from any version of a template with that version's user data.
    """
    from moto.core.types import Base64EncodedString
    from moto.ec2.models.launch_templates import LaunchTemplate
    from moto.ec2.utils import parse_user_data

    @_around(LaunchTemplate, "create_version")
    def create_version(
        original: Callable[..., Any], self: LaunchTemplate, data: dict[str, Any], description: str
    ) -> Any:
        if data.get("UserData") is not None and not isinstance(
            data["UserData"], Base64EncodedString
        ):
            data["UserData"] = parse_user_data(data["UserData"])
        return original(self, data, description)


@fix
def ec2_delete_launch_template_versions() -> None:
    """moto 5.2.5: DeleteLaunchTemplateVersions is not implemented (HTTP 500), and
    amazon.aws.ec2_launch_template deletes a template's other versions with it before the
    template itself (teardown of a template that has more than one version).

    AWS deletes each version given and lists it as deleted, or as not deleted with a reason:
    launchTemplateVersionDoesNotExist, or the default version (never deleted while default).
    A deleted version is gone from DescribeLaunchTemplateVersions; $Latest is the highest
    version left. Version numbers are never reused.
    """
    from moto.core.responses import ActionResult
    from moto.ec2.exceptions import InvalidLaunchTemplateVersionNotFound
    from moto.ec2.models.launch_templates import LaunchTemplate, LaunchTemplateBackend
    from moto.ec2.responses.launch_templates import LaunchTemplates

    def deleted(template: Any) -> set[int]:
        return template.__dict__.setdefault("fidelity_deleted", set())

    @_around(LaunchTemplate, "get_version")
    def get_version(original: Callable[..., Any], self: Any, num: Any) -> Any:
        if str(num).lower() == "$latest":
            return max(
                (v for v in self.versions if v.number not in deleted(self)), key=lambda v: v.number
            )
        version = original(self, num)
        if version.number in deleted(self):
            raise InvalidLaunchTemplateVersionNotFound(template_id=self.id, version=num)
        return version

    LaunchTemplate.latest_version = lambda self: self.get_version("$Latest")  # type: ignore[method-assign]

    @_around(LaunchTemplateBackend, "describe_launch_template_versions")
    def describe(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        return [(t, v) for t, v in original(self, *args, **kwargs) if v.number not in deleted(t)]

    def delete_launch_template_versions(self: Any) -> ActionResult:
        name = self._get_param("LaunchTemplateName")
        template_id = self._get_param("LaunchTemplateId")
        template = (
            self.ec2_backend.get_launch_template_by_name(name)
            if name
            else self.ec2_backend.get_launch_template(template_id)
        )
        done, refused = [], []
        for text in self._get_param("Versions", []):
            item = {"LaunchTemplateId": template.id, "LaunchTemplateName": template.name}
            number = int(text) if str(text).isdigit() else 0
            exists = 1 <= number <= len(template.versions) and number not in deleted(template)
            if not exists:
                error = {"Code": "launchTemplateVersionDoesNotExist", "Message": f"{text}"}
            elif template.is_default(template.versions[number - 1]):
                error = {
                    "Code": "unexpectedError",
                    "Message": "Cannot delete the default version of a launch template",
                }
            else:
                deleted(template).add(number)
                done.append({**item, "VersionNumber": number})
                continue
            refused.append({**item, "VersionNumber": number, "ResponseError": error})
        return ActionResult(
            {
                "SuccessfullyDeletedLaunchTemplateVersions": done,
                "UnsuccessfullyDeletedLaunchTemplateVersions": refused,
            }
        )

    LaunchTemplates.delete_launch_template_versions = delete_launch_template_versions  # type: ignore[attr-defined]


@fix
def ec2_run_instances_honours_launch_template() -> None:
    """moto 5.2.5: RunInstances from a launch template ignores several of its settings.

    AWS applies the template's ``MetadataOptions`` (IMDSv2 ``HttpTokens=required``),
    ``IamInstanceProfile``, and the primary network interface's ``Groups`` and
    ``AssociatePublicIpAddress``; moto launched with IMDSv1, no profile and no security group.
    This also covers instances an Auto Scaling group launches, which go through the same path.
    """
    from moto.ec2.models.instances import InstanceBackend

    @_around(InstanceBackend, "run_instances")
    def run_instances(
        original: Callable[..., Any],
        self: Any,
        image_id: str,
        count: int,
        user_data: Any,
        security_group_names: list[str],
        **kwargs: Any,
    ) -> Any:
        template: dict[str, Any] = {}
        if kwargs.get("launch_template"):
            template = self._get_template_from_args(kwargs["launch_template"]).data
        if template.get("MetadataOptions") and not kwargs.get("metadata_options"):
            kwargs["metadata_options"] = template["MetadataOptions"]
        primary = next(
            (
                nic
                for nic in template.get("NetworkInterfaces") or []
                if int(nic.get("DeviceIndex", 0)) == 0
            ),
            {},
        )
        if (
            primary.get("Groups")
            and not kwargs.get("security_group_ids")
            and not security_group_names
            and not template.get("SecurityGroupIds")
        ):
            kwargs["security_group_ids"] = list(primary["Groups"])
        if "AssociatePublicIpAddress" in primary and kwargs.get("associate_public_ip") is None:
            kwargs["associate_public_ip"] = _as_bool(primary["AssociatePublicIpAddress"])
        reservation = original(self, image_id, count, user_data, security_group_names, **kwargs)

        profile = template.get("IamInstanceProfile") or {}
        explicit = kwargs.get("iam_instance_profile_name") or kwargs.get("iam_instance_profile_arn")
        if profile and not explicit:
            for instance in reservation.instances:
                if instance.id not in self.iam_instance_profile_associations:
                    self.associate_iam_instance_profile(
                        instance_id=instance.id,
                        iam_instance_profile_name=profile.get("Name"),
                        iam_instance_profile_arn=profile.get("Arn"),
                    )
        return reservation


@fix
def ec2_instances_report_their_network_interface_groups() -> None:
    """moto 5.2.5: an instance launched with its security groups on the primary network
    interface (``NetworkInterfaces[0].Groups``, as amazon.aws.ec2_instance launches) reports no
    ``SecurityGroups`` of its own, so ec2_instance "fixes" them with ModifyInstanceAttribute.

    AWS: the instance's groups are its primary interface's groups.
    """
    from moto.ec2.models.instances import InstanceBackend

    @_around(InstanceBackend, "run_instances")
    def run_instances(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        reservation = original(self, *args, **kwargs)
        for instance in reservation.instances:
            primary = instance.nics.get(0)
            if not instance.security_groups and primary is not None:
                instance.security_groups = list(primary._group_set)
        return reservation


# --------------------------------------------------------------------------------------------
# Images (AMIs)
# --------------------------------------------------------------------------------------------


@fix
def ec2_create_image_tags_its_snapshots() -> None:
    """moto 5.2.5: CreateImage with a ``snapshot`` TagSpecification raises NotImplementedError
    (HTTP 500); amazon.aws.ec2_ami always sends image and snapshot tags together.

    AWS tags the image with the ``image`` specification and every snapshot CreateImage makes
    with the ``snapshot`` one.
    """
    from moto.ec2.models.amis import AmiBackend

    @_around(AmiBackend, "create_image")
    def create_image(
        original: Callable[..., Any],
        self: Any,
        instance_id: str,
        name: str,
        description: str,
        tag_specifications: list[dict[str, Any]],
    ) -> Any:
        snapshot_tags = [
            tag
            for spec in tag_specifications
            if spec["ResourceType"] == "snapshot"
            for tag in spec.get("Tags", [])
        ]
        others = [spec for spec in tag_specifications if spec["ResourceType"] != "snapshot"]
        ami = original(self, instance_id, name, description, others)
        if snapshot_tags:
            self.create_tags([ami.ebs_snapshot.id], {t["Key"]: t["Value"] for t in snapshot_tags})
        return ami


@fix
def ec2_image_names_are_unique() -> None:
    """moto 5.2.5: CreateImage accepts a name another image of the account already has.

    AWS: an AMI name is unique per account and region: InvalidAMIName.Duplicate.
    """
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.amis import AmiBackend

    @_around(AmiBackend, "create_image")
    def create_image(
        original: Callable[..., Any],
        self: Any,
        instance_id: str,
        name: str,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        account = self.account_id  # type: ignore[attr-defined]
        for ami in self.amis.values():
            if ami.name == name and ami.owner_id == account:
                raise EC2ClientError(
                    "InvalidAMIName.Duplicate", f"AMI name {name} is already in use by AMI {ami.id}"
                )
        return original(self, instance_id, name, *args, **kwargs)


@fix
def ec2_images_are_pending_for_a_while() -> None:
    """moto 5.2.5: an image made by CreateImage is ``available`` at once.

    AWS: ``pending`` while its snapshots are taken (AWS_DURATIONS); it cannot be launched yet,
    and ec2_ami's ``wait`` polls DescribeImages until it is available.
    """
    from moto.ec2.models.amis import Ami, AmiBackend

    _settling(Ami, "state", settled="available", settling="pending")

    @_around(AmiBackend, "create_image")
    def create_image(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        ami = original(self, *args, **kwargs)
        ami.__dict__["fidelity_ready_at"] = _ready_at("ec2.image.pending")
        return ami


# --------------------------------------------------------------------------------------------
# EC2: managed prefix lists in security group rules
# --------------------------------------------------------------------------------------------

# What a referenced prefix list counts against a security group's rules quota: an AWS-managed
# list its published weight (VPC User Guide, "AWS-managed prefix lists", weights), a
# customer-managed one its MaxEntries.
_AWS_MANAGED_PREFIX_LIST_WEIGHTS = {
    "com.amazonaws.global.cloudfront.origin-facing": 55,
    "com.amazonaws.global.ipv6.cloudfront.origin-facing": 55,
}
# Inbound or outbound rules per security group (VPC quotas, adjustable; moto uses it too).
_SECURITY_GROUP_RULES_QUOTA = 60


@fix
def ec2_security_group_rules_quota_counts_prefix_list_weights() -> None:
    """moto 5.2.5: a prefix list in a security group rule counts as nothing against the quota.

    AWS counts a referenced prefix list as its weight (CloudFront's origin-facing list: 55 of
    the 60 rules a group may have per direction, "leaving room for only 5 additional rules")
    and refuses a rule past the quota with RulesPerSecurityGroupLimitExceeded; moto counted
    CIDRs and groups only, so a group with CloudFront's list and ten CIDRs was accepted.
    """
    from moto.ec2.exceptions import RulesPerSecurityGroupLimitExceededError
    from moto.ec2.models.security_groups import SecurityGroupBackend

    def weight(backend: Any, prefix_list_id: str | None) -> int:
        if prefix_list_id is None:
            return 1
        found = backend.managed_prefix_lists.get(prefix_list_id)
        if found is None:
            return 1
        if found.owner_id == "AWS":
            return _AWS_MANAGED_PREFIX_LIST_WEIGHTS.get(found.prefix_list_name, 1)
        return int(found.max_entries or 1)

    def check(direction: str) -> None:
        @_around(SecurityGroupBackend, f"authorize_security_group_{direction}")
        def authorize(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
            call = inspect.signature(original).bind(self, *args, **kwargs)
            params = call.arguments
            group = self.get_security_group_by_name_or_id(
                params["group_name_or_id"], params.get("vpc_id")
            )
            if group is not None:
                rules = group.egress_rules if direction == "egress" else group.ingress_rules
                used = sum(weight(self, rule.prefix_list_id) for rule in rules)
                ip_ranges = params.get("ip_ranges") or []
                adding = (
                    (len(ip_ranges) if isinstance(ip_ranges, list) else 1)
                    + len(params.get("source_groups") or [])
                    + sum(
                        weight(self, item.get("PrefixListId"))
                        for item in params.get("prefix_list_ids") or []
                    )
                )
                if used + adding > _SECURITY_GROUP_RULES_QUOTA:
                    raise RulesPerSecurityGroupLimitExceededError()
            return original(self, *args, **kwargs)

    check("ingress")
    check("egress")


@fix
def ec2_security_group_prefix_list_rules_keep_their_description() -> None:
    """moto 5.2.5: a rule naming a prefix list loses its ``Description``.

    AWS returns ``PrefixListIds: [{PrefixListId, Description}]`` as authorized, and
    UpdateSecurityGroupRuleDescriptionsIngress/Egress change it; moto kept the id only, so a
    module comparing descriptions updated the rule on every run.
    """
    from moto.ec2.models.security_groups import (
        SecurityGroup,
        SecurityGroupBackend,
        SecurityGroupRule,
    )

    @_around(SecurityGroupRule, "__init__")
    def init(original: Callable[..., None], self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        given = inspect.signature(original).bind(self, *args, **kwargs).arguments
        self.fidelity_prefix_list_description = (given.get("prefix_list_id") or {}).get(
            "Description"
        )

    @_around(SecurityGroupBackend, "_sg_update_description")
    def update(original: Callable[..., None], self: Any, wanted: Any, rule: Any) -> None:
        original(self, wanted, rule)
        described = getattr(wanted, "fidelity_prefix_list_description", None)
        if wanted.prefix_list_id and wanted.prefix_list_id == rule.prefix_list_id and described:
            rule.fidelity_prefix_list_description = described

    @_around(SecurityGroup, "_flattened_rules")
    def flattened(original: Callable[..., list[Any]], self: Any, rules: list[Any]) -> list[Any]:
        views = original(self, rules)
        described = {
            (
                r.ip_protocol,
                r.from_port,
                r.to_port,
                r.prefix_list_id,
            ): r.fidelity_prefix_list_description
            for r in rules
            if r.prefix_list_id and getattr(r, "fidelity_prefix_list_description", None)
        }
        for view in views:
            for entry in view.prefix_list_ids:
                key = (view.ip_protocol, view.from_port, view.to_port, entry["PrefixListId"])
                if key in described:
                    entry["Description"] = described[key]
        return views


@fix
def ec2_flow_logs_to_s3_take_a_key_prefix() -> None:
    """moto 5.2.5: a flow log to ``arn:aws:s3:::BUCKET/PREFIX`` is Unsuccessful ("LogDestination:
    BUCKET/PREFIX does not exist"): moto looked the whole path up as a bucket name.

    AWS takes a folder after the bucket (VPC User Guide, "Create a flow log that publishes to
    Amazon S3": the ARN may end in ``/folder``) and reports the destination as given.
    """
    from moto.ec2.models.flow_logs import FlowLogsBackend

    @_around(FlowLogsBackend, "create_flow_logs")
    def create(original: Callable[..., Any], self: Any, **kwargs: Any) -> Any:
        destination = kwargs.get("log_destination") or ""
        if kwargs.get("log_destination_type") != "s3" or "/" not in destination.split(":::")[-1]:
            return original(self, **kwargs)
        bucket_arn = destination.split("/", 1)[0]
        flow_logs, unsuccessful = original(self, **{**kwargs, "log_destination": bucket_arn})
        for flow_log in flow_logs:
            flow_log.log_destination = destination
        return flow_logs, unsuccessful


@fix
def ec2_nat_gateways_are_pending_for_a_while() -> None:
    """moto 5.2.5: a new NAT gateway is ``available`` at once.

    AWS: ``pending`` for a minute or two (AWS_DURATIONS); routes to it and the private subnets'
    traffic must wait until it is available (the nat_gateway_available waiter).
    """
    from moto.ec2.models.nat_gateways import NatGateway

    _settling(NatGateway, "state", settled="available", settling="pending")

    @_around(NatGateway, "__init__")
    def init(original: Callable[..., None], self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.__dict__["fidelity_ready_at"] = _ready_at("ec2.nat_gateway.pending")


@fix
def realistic_new_instance_profiles_are_not_usable_for_a_moment() -> None:
    """AWS: an instance profile just created (or just given its role) is not yet known to EC2:
    RunInstances answers InvalidParameterValue 'Value (<name>) for parameter
    iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name', and
    CreateAutoScalingGroup/UpdateAutoScalingGroup with a launch template naming it answer
    ValidationError 'You must use a valid fully-formed launch template. ...' (AWS_CONSISTENCY).
    CreateLaunchTemplate does not check the profile. moto accepts it at once."""
    from moto.autoscaling.exceptions import ValidationError
    from moto.autoscaling.models import FakeAutoScalingGroup
    from moto.ec2.exceptions import InvalidParameterValue
    from moto.ec2.models.instances import InstanceBackend
    from moto.iam.models import IAMBackend

    @_around(IAMBackend, "create_instance_profile")
    def create_instance_profile(
        original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any
    ) -> Any:
        profile = original(self, *args, **kwargs)
        _made_now(profile.name, profile.arn, kind="iam.instance_profile")
        return profile

    @_around(IAMBackend, "add_role_to_instance_profile")
    def add_role(original: Callable[..., Any], self: Any, profile_name: str, role: str) -> Any:
        result = original(self, profile_name, role)
        profile = self.get_instance_profile(profile_name)
        _made_now(profile.name, profile.arn, kind="iam.instance_profile")
        return result

    def invalid(parameter: str, value: str) -> str:
        kind = "name" if parameter.endswith("name") else "ARN"
        return (
            f"Value ({value}) for parameter {parameter} is invalid. "
            f"Invalid IAM Instance Profile {kind}"
        )

    @_around(InstanceBackend, "run_instances")
    def run_instances(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        if _YOUNG and not getattr(_ASG_LAUNCH, "active", False):
            profile = {
                "Name": kwargs.get("iam_instance_profile_name"),
                "Arn": kwargs.get("iam_instance_profile_arn"),
            }
            if not (profile["Name"] or profile["Arn"]):
                profile = _profile_of_template(self, kwargs.get("launch_template"))
            if young := _young_profile(profile):
                raise InvalidParameterValue(invalid(*young))
        return original(self, *args, **kwargs)

    @_around(FakeAutoScalingGroup, "_set_launch_configuration")
    def set_launch_configuration(
        original: Callable[..., Any],
        self: Any,
        launch_config_name: str,
        launch_template: dict[str, Any],
        mixed_instances_policy: dict[str, Any] | None,
    ) -> Any:
        if _YOUNG:
            spec = launch_template or (
                (mixed_instances_policy or {}).get("LaunchTemplate", {})
            ).get("LaunchTemplateSpecification")
            if young := _young_profile(_profile_of_template(self.ec2_backend, spec)):
                raise ValidationError(
                    "You must use a valid fully-formed launch template. " + invalid(*young)
                )
        _ASG_LAUNCH.active = True
        try:
            return original(self, launch_config_name, launch_template, mixed_instances_policy)
        finally:
            _ASG_LAUNCH.active = False


# The Auto Scaling group's own launches were checked when the group was created or updated.
_ASG_LAUNCH = threading.local()


def _release_network_interface(ec2_backend: Any, eni_id: str) -> None:
    """AWS releases a service's interface: it is gone and its address is free again."""
    eni = ec2_backend.enis.get(eni_id)
    if eni is not None:
        eni.delete()


@fix
def ec2_launch_network_interfaces_are_deleted_with_their_instance() -> None:
    """moto 5.2.5: an instance launched without an explicit ``DeleteOnTermination`` keeps its
    primary network interface after it is terminated.

    AWS: an interface that RunInstances creates (not an existing one it attaches) is deleted on
    termination unless the request says otherwise, so the instance's subnet and security groups
    are free once it is gone (an Auto Scaling group's instances included).
    """
    from moto.ec2.models.instances import Instance

    @_around(Instance, "prep_nics")
    def prep_nics(
        original: Callable[..., None], self: Any, nic_spec: list[dict[str, Any]], *args, **kwargs
    ) -> None:
        original(self, nic_spec, *args, **kwargs)
        specs = {int(nic.get("DeviceIndex") or 0): nic for nic in nic_spec or []}
        for index, eni in self.nics.items():
            spec = specs.get(index, {})
            if not spec.get("NetworkInterfaceId") and spec.get("DeleteOnTermination") is None:
                eni.delete_on_termination = True


@fix
def ec2_nat_gateway_deleting_holds_its_network_interface() -> None:
    """moto 5.2.5: a deleted NAT gateway is ``deleted`` at once, and its network interface (with
    its Elastic IP) stays for ever, ``available`` and not requester-managed.

    AWS: the gateway's interface is requester-managed and in use (``Interface for NAT Gateway
    nat-...``); DeleteNatGateway leaves the gateway ``deleting`` until AWS has released the
    interface and disassociated the Elastic IP (AWS_DURATIONS), then ``deleted``. Meanwhile its
    subnet cannot be deleted, the internet gateway not detached (a mapped public address) and
    the Elastic IP not released. Deleting a gateway already deleting changes nothing.
    """
    from moto.ec2.models.nat_gateways import NatGateway, NatGatewayBackend

    @_around(NatGateway, "__init__")
    def init(original: Callable[..., None], self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        eni = self._eni
        eni.requester_managed, eni.interface_type, eni.status = True, "nat_gateway", "in-use"
        eni.description = f"Interface for NAT Gateway {self.id}"

    @_around(NatGatewayBackend, "delete_nat_gateway")
    def delete(original: Callable[..., Any], self: Any, nat_gateway_id: str) -> Any:
        gateway = self.nat_gateways.get(nat_gateway_id)
        if gateway is None:
            return original(self, nat_gateway_id)
        if gateway.state in ("deleting", "deleted"):
            return gateway
        original(self, nat_gateway_id)
        gateway.state = "deleting"

        def released() -> None:
            for address in self.addresses:
                if address.eni is gateway._eni:
                    self.disassociate_address(association_id=address.association_id)
            _release_network_interface(self, gateway._eni.id)
            gateway.state = "deleted"

        _later(_ready_at("ec2.nat_gateway.deleting"), released)
        return gateway


@fix
def ec2_release_address_refuses_an_address_in_use() -> None:
    """moto 5.2.5: ReleaseAddress silently disassociates an address in use, then releases it.

    AWS, ReleaseAddress: "[Nondefault VPC] You must disassociate the Elastic IP address before
    you can release it. Otherwise, Amazon EC2 returns an error (InvalidIPAddress.InUse)." A NAT
    gateway's address stays associated until the gateway is ``deleted``: releasing it while the
    gateway is ``deleting`` fails.
    """
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.elastic_ip_addresses import ElasticAddressBackend

    @_around(ElasticAddressBackend, "release_address")
    def release_address(
        original: Callable[..., None],
        self: Any,
        address: str | None = None,
        allocation_id: str | None = None,
    ) -> None:
        eips = [
            eip
            for eip in self.addresses
            if (address and eip.public_ip == address)
            or (allocation_id and eip.allocation_id == allocation_id)
        ]
        eni = eips[0].eni if eips else None
        if eni is not None and not self.get_vpc(eni.subnet.vpc_id).is_default:
            raise EC2ClientError(
                "InvalidIPAddress.InUse",
                f"Address {eips[0].public_ip} is in use by {eni.id}: disassociate it first.",
            )
        return original(self, address=address, allocation_id=allocation_id)


@fix
def ec2_network_interfaces_in_use_block_subnets_groups_and_gateway_detach() -> None:
    """moto 5.2.5: DeleteSubnet, DeleteSecurityGroup and DetachInternetGateway ignore the
    network interfaces still there.

    AWS answers DependencyViolation while an interface remains: "The subnet '<id>' has
    dependencies and cannot be deleted." (an interface in the subnet), "resource <sg id> has a
    dependent object" (an interface using the group), "Network <vpc id> has some mapped public
    address(es). Please unmap those public address(es) before detaching the gateway." (an
    interface of the VPC with a public address). A teardown meets these after a load balancer,
    NAT gateway or instance is deleted, until AWS has released its interfaces.
    """
    from moto.ec2.exceptions import DependencyViolationError
    from moto.ec2.models.internet_gateways import InternetGatewayBackend
    from moto.ec2.models.security_groups import SecurityGroupBackend
    from moto.ec2.models.subnets import SubnetBackend

    @_around(SubnetBackend, "delete_subnet")
    def delete_subnet(original: Callable[..., Any], self: Any, subnet_id: str) -> Any:
        if any(eni.subnet.id == subnet_id for eni in self.enis.values()):
            raise DependencyViolationError(
                f"The subnet '{subnet_id}' has dependencies and cannot be deleted."
            )
        return original(self, subnet_id)

    @_around(SecurityGroupBackend, "delete_security_group")
    def delete_group(
        original: Callable[..., Any], self: Any, name: Any = None, group_id: Any = None
    ) -> Any:
        group = self.get_security_group_by_name_or_id(group_id or name)
        if group is not None and any(
            group.id in {g.id for g in eni.group_set} for eni in self.enis.values()
        ):
            raise DependencyViolationError(f"resource {group.id} has a dependent object")
        return original(self, name=name, group_id=group_id)

    @_around(InternetGatewayBackend, "detach_internet_gateway")
    def detach(original: Callable[..., None], self: Any, internet_gateway_id: str, vpc_id: str):
        if any(eni.public_ip and eni.subnet.vpc_id == vpc_id for eni in self.enis.values()):
            raise DependencyViolationError(
                f"Network {vpc_id} has some mapped public address(es). Please unmap those public"
                " address(es) before detaching the gateway."
            )
        return original(self, internet_gateway_id, vpc_id)
