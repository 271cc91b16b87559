"""SSM fixes: Debian's public AMI parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local.emulator.fidelity.core import _around, fix

# Debian's official images are published as SSM public parameters (one per release/arch).
_DEBIAN_AMIS = {
    "/aws/service/debian/release/12/latest/amd64": ("ami-0d5eb1f0e1dbb5e12", "x86_64"),
    "/aws/service/debian/release/12/latest/arm64": ("ami-0a3d1c7f6d8e2b9a4", "arm64"),
}
_DEBIAN_OWNER = "136693071363"


@fix
def debian_public_ami_parameters_exist() -> None:
    """moto 5.2.5 knows only Amazon Linux/ECS public parameters and no Debian image.

    AWS publishes ``/aws/service/debian/release/12/latest/<arch>`` naming Debian's official
    AMI (owner 136693071363) in every region; the launch templates look the AMI up there.
    """
    from moto.ec2.models.amis import Ami, AmiBackend
    from moto.ssm.models import Parameter, ParameterDict

    @_around(AmiBackend, "_load_amis")
    def load_amis(original: Callable[..., None], self: Any) -> None:
        original(self)
        for name, (ami_id, arch) in _DEBIAN_AMIS.items():
            self.amis[ami_id] = Ami(
                self,
                ami_id=ami_id,
                name=f"debian-12-{'amd64' if arch == 'x86_64' else 'arm64'}-20261101-2000",
                description=f"Debian 12 (stand-in for {name})",
                owner_id=_DEBIAN_OWNER,
                owner_alias="",
                architecture=arch,
                root_device_name="/dev/xvda",
                root_device_type="ebs",
                virtualization_type="hvm",
                hypervisor="xen",
                state="available",
                public=True,
            )

    @_around(ParameterDict, "_check_loading_status")
    def check_loading(original: Callable[..., None], self: Any, key: str) -> None:
        original(self, key)
        if str(key or "").startswith("/aws/service/debian/") and not getattr(self, "_debian", 0):
            self._debian = 1
            for name, (ami_id, _arch) in _DEBIAN_AMIS.items():
                super(ParameterDict, self).__getitem__(name).append(
                    Parameter(
                        account_id=self.account_id,
                        name=name,
                        value=ami_id,
                        parameter_type="String",
                        description=None,
                        allowed_pattern=None,
                        keyid=None,
                        last_modified_date=0,
                        version=1,
                        data_type="aws:ec2:image",
                    )
                )
