"""Route 53 fixes: alias records name an existing target."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local.emulator.fidelity.core import _around, fix
from local.emulator.fidelity.elbv2 import _ALB_HOSTED_ZONES


@fix
def route53_alias_records_name_an_existing_target() -> None:
    """moto 5.2.5: an alias record may name any DNS name in any zone.

    AWS refuses (InvalidChangeBatch) an alias whose target is not there: "Tried to create an
    alias that targets <name>., type A in zone <zone>, but that target was not found", and
    "... but the alias target name does not lie within the target zone" when the name is not in
    the zone given (e.g. a load balancer with another region's zone). Checked here for what the
    emulator can know: load balancers (the ``dualstack.`` form included) by their region's zone
    in _ALB_HOSTED_ZONES, and records of the same hosted zone; other targets as moto does.
    """
    from moto.elbv2.models import elbv2_backends
    from moto.route53.exceptions import Route53ClientError
    from moto.route53.models import Route53Backend

    zone_regions = {zone: region for region, zone in _ALB_HOSTED_ZONES.items()}

    def refuse(name: str, kind: str, zone: str, why: str) -> None:
        raise Route53ClientError(
            "InvalidChangeBatch",
            f"[Tried to create an alias that targets {name}., type {kind} in zone {zone},"
            f" but {why}]",
        )

    @_around(Route53Backend, "change_resource_record_sets")
    def change_resource_record_sets(
        original: Callable[..., Any], self: Route53Backend, zoneid: str, change_list: Any
    ) -> Any:
        for change in change_list:
            record = change["ResourceRecordSet"]
            alias = record.get("AliasTarget")
            if change["Action"] not in ("CREATE", "UPSERT") or not alias:
                continue
            name = alias["DNSName"].lower().rstrip(".")
            zone, kind = alias["HostedZoneId"], record["Type"]
            if zone in zone_regions:
                region = zone_regions[zone]
                balancer = name.removeprefix("dualstack.")
                if not balancer.endswith(f".{region}.elb.amazonaws.com"):
                    refuse(
                        name,
                        kind,
                        zone,
                        "the alias target name does not lie within the target zone",
                    )
                known = {
                    lb.dns_name.lower()
                    for lb in elbv2_backends[self.account_id][region].load_balancers.values()
                }
                if balancer not in known:
                    refuse(name, kind, zone, "that target was not found")
            elif zone == zoneid.split("/")[-1]:
                records = self.get_hosted_zone(zoneid).rrsets
                if not any(r.name.lower().rstrip(".") == name and r.type == kind for r in records):
                    refuse(name, kind, zone, "that target was not found")
        return original(self, zoneid, change_list)
