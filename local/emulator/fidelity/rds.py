"""RDS fixes: gp3 storage, engine versions from the catalogue, instances creating, modifying and
deleting for a while.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from local.emulator.fidelity.core import _around, fix
from local.emulator.fidelity.deferred import _later
from local.emulator.fidelity.realistic import _REALISTIC, _realistic_ready_at
from local.emulator.fidelity.timing import _TIMING, _ready_at

# --------------------------------------------------------------------------------------------
# RDS
# --------------------------------------------------------------------------------------------


def _gp3_baseline(engine: str, allocated_storage: int) -> tuple[int, int]:
    """(IOPS, MiB/s) AWS includes with gp3 storage (RDS User Guide, "gp3 storage")."""
    if engine.startswith("sqlserver"):
        return 3000, 125
    threshold = 200 if engine.startswith("oracle") else 400
    return (3000, 125) if allocated_storage < threshold else (12000, 500)


@fix
def rds_gp3_reports_iops_and_storage_throughput() -> None:
    """moto 5.2.5: a gp3 DB instance created without Iops/StorageThroughput reports neither.

    AWS always reports gp3's baseline (3000 IOPS and 125 MiB/s below 400 GiB, 12000 and 500
    from 400 GiB on; Oracle's threshold is 200 GiB, SQL Server has no threshold).
    amazon.aws.rds_instance reads ``instance["StorageThroughput"]`` and ``["Iops"]`` on every
    update, so its second run failed with KeyError 'StorageThroughput'.
    """
    from moto.rds.models import DBInstance

    def fill_baseline(instance: DBInstance) -> None:
        if instance.storage_type != "gp3":
            return
        iops, throughput = _gp3_baseline(instance.engine or "", int(instance.allocated_storage))
        instance.iops = instance.iops or iops
        instance.storage_throughput = instance.storage_throughput or throughput

    @_around(DBInstance, "__init__")
    def init(original: Callable[..., None], self: DBInstance, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        fill_baseline(self)

    @_around(DBInstance, "update")
    def update(original: Callable[..., None], self: DBInstance, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        fill_baseline(self)


# A snapshot of RDS's PostgreSQL catalogue: RDS deprecates each minor version about a year after
# its release and then refuses to create it (and upgrades instances off it), so playbooks must
# pin the major version only. Source: the RDS for
# PostgreSQL release calendar (docs.aws.amazon.com, "Supported PostgreSQL minor versions").
# As on RDS, a major's default minor lags its newest one (here: the second newest), so an
# automatic minor upgrade has somewhere to go.
_RDS_ENGINE_VERSIONS = {
    "postgres": {
        "14": ["14.18", "14.19", "14.20"],
        "15": ["15.13", "15.14", "15.15"],
        "16": ["16.9", "16.10", "16.11"],
        "17": ["17.5", "17.6", "17.7"],
    },
}


def _rds_default_minor(minors: list[str]) -> str:
    return minors[-2] if len(minors) > 1 else minors[-1]


def _rds_version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _rds_catalogue_version(engine: str, version: str | None) -> str | None:
    """The catalogue version a request names: an exact minor, or a major's default; None when
    RDS does not offer it (retired or unknown). Engines outside the catalogue pass through."""
    majors = _RDS_ENGINE_VERSIONS.get(engine)
    if majors is None or not version:
        return version
    if version in majors:
        return _rds_default_minor(majors[version])
    major = version.split(".")[0]
    return version if version in majors.get(major, []) else None


@fix
def rds_engine_versions_follow_the_catalogue() -> None:
    """moto 5.2.5 has no DescribeDBEngineVersions and creates or modifies an instance to any
    EngineVersion, also a retired minor version or a lower one.

    AWS: DescribeDBEngineVersions lists the offered versions (``DefaultOnly`` the default minor
    of a major); CreateDBInstance with a retired or unknown version answers
    InvalidParameterCombination ("Cannot find version 16.4 for postgres"), with a major version
    only it takes that major's default minor; ModifyDBInstance to a lower version answers
    InvalidParameterCombination ("Cannot upgrade postgres from 16.10 to 16.4"), to a new major
    without AllowMajorVersionUpgrade likewise; and storage never shrinks (InvalidParameterValue).
    So a playbook pinning ``16.4`` fails here as on AWS, and one that sends the version or the
    size it asked for at creation after an automatic minor upgrade or storage autoscaling does.
    """
    from moto.core.responses import ActionResult
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import RDSBackend
    from moto.rds.responses import RDSResponse

    def describe_db_engine_versions(self: RDSResponse) -> ActionResult:
        engine = self._get_param("Engine")
        wanted = self._get_param("EngineVersion")
        default_only = str(self._get_param("DefaultOnly") or "").lower() == "true"
        found = []
        for name, majors in _RDS_ENGINE_VERSIONS.items():
            if engine and engine != name:
                continue
            for major, minors in majors.items():
                if wanted and wanted not in (major, *minors):
                    continue
                chosen = [_rds_default_minor(minors)] if default_only else minors
                if wanted and wanted != major:
                    chosen = [wanted]
                for version in chosen:
                    found.append(
                        {
                            "Engine": name,
                            "EngineVersion": version,
                            "DBParameterGroupFamily": f"{name}{major}",
                            "DBEngineDescription": "PostgreSQL",
                            "DBEngineVersionDescription": f"PostgreSQL {version}-R1",
                            "Status": "available",
                            "ValidUpgradeTarget": [
                                {
                                    "Engine": name,
                                    "EngineVersion": target,
                                    "IsMajorVersionUpgrade": False,
                                    "AutoUpgrade": True,
                                }
                                for target in minors
                                if _rds_version_key(target) > _rds_version_key(version)
                            ],
                        }
                    )
        return ActionResult({"DBEngineVersions": found})

    RDSResponse.describe_db_engine_versions = describe_db_engine_versions  # type: ignore[attr-defined]

    @_around(RDSBackend, "create_db_instance")
    def create_db_instance(original: Callable[..., Any], self: RDSBackend, db_kwargs: Any) -> Any:
        engine, version = db_kwargs.get("engine"), db_kwargs.get("engine_version")
        if version:
            chosen = _rds_catalogue_version(engine or "", version)
            if chosen is None:
                raise RDSClientError(
                    "InvalidParameterCombination", f"Cannot find version {version} for {engine}"
                )
            db_kwargs["engine_version"] = chosen
        return original(self, db_kwargs)

    @_around(RDSBackend, "modify_db_instance")
    def modify_db_instance(
        original: Callable[..., Any], self: RDSBackend, identifier: str, db_kwargs: Any
    ) -> Any:
        database = self.describe_db_instances(identifier)[0]
        version = db_kwargs.get("engine_version")
        if version and version != database.engine_version:
            engine = database.engine
            chosen = _rds_catalogue_version(engine, version)
            if chosen is None:
                raise RDSClientError(
                    "InvalidParameterCombination", f"Cannot find version {version} for {engine}"
                )
            if _rds_version_key(chosen) < _rds_version_key(database.engine_version):
                raise RDSClientError(
                    "InvalidParameterCombination",
                    f"Cannot upgrade {engine} from {database.engine_version} to {chosen}",
                )
            new_major = chosen.split(".")[0] != database.engine_version.split(".")[0]
            allowed = str(db_kwargs.get("allow_major_version_upgrade", "")).lower() == "true"
            if new_major and not allowed:
                raise RDSClientError(
                    "InvalidParameterCombination",
                    "The AllowMajorVersionUpgrade flag must be present when upgrading to a new "
                    "major version.",
                )
            db_kwargs["engine_version"] = chosen
        storage = db_kwargs.get("allocated_storage")
        if storage is not None and int(storage) < int(database.allocated_storage):
            raise RDSClientError(
                "InvalidParameterValue",
                f"Invalid storage size for engine name {database.engine}: allocated storage "
                f"can't be decreased from {database.allocated_storage} GiB to {storage} GiB.",
            )
        return original(self, identifier, db_kwargs)


@fix
def rds_db_instances_are_creating_for_a_while() -> None:
    """moto 5.2.5: a new DB instance is ``available`` at once, with its endpoint.

    AWS: ``creating`` for 10-20 minutes (AWS_DURATIONS), with no ``Endpoint`` in
    DescribeDBInstances until it is reachable; a playbook that waits for it where it creates it
    holds every other lane of its phase that long.
    """
    from moto.rds.models import DBInstance

    def get_status(self: Any) -> str:
        status = self.__dict__.get("fidelity_status", "available")
        if status != "available":
            return status  # e.g. deleting (realistic_rds_instances_modify_and_delete_for_a_while)
        if time.monotonic() < self.__dict__.get("fidelity_ready_at", 0):
            return "creating"
        if time.monotonic() < self.__dict__.get("fidelity_modifying_until", 0):
            return "modifying"
        return status

    def set_status(self: Any, value: str) -> None:
        self.__dict__["fidelity_status"] = value

    endpoint = DBInstance.endpoint

    def get_endpoint(self: Any) -> Any:
        return None if get_status(self) == "creating" else endpoint.fget(self)

    DBInstance.status = property(get_status, set_status)  # type: ignore[assignment]
    DBInstance.endpoint = property(get_endpoint)  # type: ignore[assignment]

    @_around(DBInstance, "__init__")
    def init(original: Callable[..., None], self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.__dict__["fidelity_ready_at"] = _ready_at("rds.db_instance.creating")


@fix
def realistic_rds_instances_modify_and_delete_for_a_while() -> None:
    """moto 5.2.5: ModifyDBInstance is applied at once, DeleteDBInstance removes the instance at
    once, and a subnet group in use is deleted. AWS: a class, storage or version change with
    ApplyImmediately leaves the instance 'modifying', a deleted instance is 'deleting' for
    minutes (AWS_DURATIONS, realistic mode), and DeleteDBSubnetGroup of a group an instance
    still uses answers InvalidDBSubnetGroupStateFault."""
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import RDSBackend

    lasting = {
        "db_instance_class",
        "allocated_storage",
        "engine_version",
        "storage_type",
        "iops",
        "multi_az",
        "storage_throughput",
        "ca_certificate_identifier",
    }

    @_around(RDSBackend, "modify_db_instance")
    def modify(original: Callable[..., Any], self: Any, identifier: str, db_kwargs: dict) -> Any:
        database = original(self, identifier, db_kwargs)
        if db_kwargs.get("apply_immediately") and lasting & {
            key for key, value in db_kwargs.items() if value is not None
        }:
            database.__dict__["fidelity_modifying_until"] = _realistic_ready_at(
                "rds.db_instance.modifying"
            )
        return database

    @_around(RDSBackend, "delete_db_instance")
    def delete(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        database = original(self, *args, **kwargs)
        identifier = database.db_instance_identifier
        if _REALISTIC["on"] and _TIMING["scale"]:
            self.databases[identifier] = database  # 'deleting' until AWS is done
            _later(
                _ready_at("rds.db_instance.deleting"),
                lambda: self.databases.pop(identifier, None),
            )
        return database

    @_around(RDSBackend, "delete_subnet_group")
    def delete_subnet_group(original: Callable[..., Any], self: Any, name: str) -> Any:
        for database in self.databases.values():
            if getattr(database, "_db_subnet_group_name", None) == name:
                raise RDSClientError(
                    "InvalidDBSubnetGroupStateFault",
                    f"Cannot delete the subnet group '{name}' because at least one database "
                    f"instance: {database.db_instance_identifier} is still using it.",
                )
        return original(self, name)
