"""The app's own settings module (streamapp.hostconfig), as filters of the app role.

The mapping "provisioning outputs -> app settings" and the environment file's format live in
the app (``<app_source_dir>/src/streamapp/hostconfig.py``): the hosts' boot unit runs the same
code at boot. These filters load that file from the source tree the role builds the app's wheel
from, so the role and the boot unit of the wheel it installs cannot disagree.

    {{ spec | streamapp_env_file(app_source_dir, outputs) }}           # the file's content
    {{ outputs | streamapp_missing_outputs(app_source_dir, 'local') }}  # what the app lacks
"""

from __future__ import annotations

import importlib.util
import os
from types import ModuleType
from typing import Any

from ansible.errors import AnsibleFilterError

_loaded: dict[tuple[str, float], ModuleType] = {}


def _hostconfig(source_dir: str) -> ModuleType:
    path = os.path.join(os.path.realpath(source_dir), "src", "streamapp", "hostconfig.py")
    try:
        stamp = os.stat(path).st_mtime
    except OSError as exc:
        raise AnsibleFilterError(
            f"app_source_dir has no src/streamapp/hostconfig.py: {exc}"
        ) from exc
    module = _loaded.get((path, stamp))
    if module is None:
        spec = importlib.util.spec_from_file_location(f"streamapp_hostconfig_{len(_loaded)}", path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        _loaded[(path, stamp)] = module
    return module


def streamapp_env_file(spec: dict[str, Any], source_dir: str, outputs: Any = None) -> str:
    return _hostconfig(source_dir).env_file(spec, outputs or {})


def streamapp_missing_outputs(outputs: Any, source_dir: str, signing_mode: str) -> list[str]:
    return _hostconfig(source_dir).missing_outputs(outputs or {}, signing_mode)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "streamapp_env_file": streamapp_env_file,
            "streamapp_missing_outputs": streamapp_missing_outputs,
        }
