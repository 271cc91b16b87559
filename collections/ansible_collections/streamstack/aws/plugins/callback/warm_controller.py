# Copyright: StreamStack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: warm_controller
type: aggregate
short_description: Start a run warm - module payloads kept between runs, AWS lookups preloaded
description:
  - Ansible builds each module's payload (AnsiballZ - the module and every module_utils file it
    imports, found by parsing them all) once per run, in the worker process of the first task
    that calls it, and forgets it when the run ends. For an AWS module that is about 0.3
    CPU-seconds, a third of a no-op provision's controller CPU.
  - This callback keeps the payloads a run built in a cache of the user's, and before the next
    run's first task puts back into that run's payload folder every payload whose sources are
    unchanged - the module, each module_utils file, the generated package files' location, and
    each collection's C(meta/runtime.yml) (its redirects decide which file an import reaches),
    each resolved again and compared by SHA-256 - for the same ansible-core version.
    Anything else is built as usual, and kept at the end of the run.
  - It also loads the plugins named in O(preload_plugins) and parses the API models of
    O(preload_services) in the ansible-playbook process before any worker is forked, so that
    each task's worker finds them loaded instead of loading them again (the core filters,
    boto3 for an AWS lookup, the models of the service it calls).
  - It keeps the code Jinja compiles each template to, by the template's source and the
    settings it compiles with, in O(template_code_dir), so that a task's worker, and the next
    run, find compiled what an earlier worker or run compiled (ansible-core compiles every task
    argument and condition again in each task's freshly forked worker).
  - The cache folders must belong to the user and be closed to others (payloads are pickles
    that ansible-core loads, compiled templates code that runs); otherwise they are not used.
requirements:
  - enabled in C(callbacks_enabled)
options:
  cache_dir:
    description: Folder of the kept payloads (one subfolder per ansible-core version and project).
    type: path
    default: ~/.cache/streamstack/ansiballz
    env:
      - name: STREAMSTACK_PAYLOAD_CACHE
    ini:
      - section: callback_warm_controller
        key: cache_dir
  template_code_dir:
    description:
      - Folder of the compiled templates (one subfolder per Python, Jinja and ansible-core
        version); empty keeps them in memory only, for the workers forked after a compile in
        this process.
    type: path
    default: ~/.cache/streamstack/template-code
    env:
      - name: STREAMSTACK_TEMPLATE_CODE_CACHE
    ini:
      - section: callback_warm_controller
        key: template_code_dir
  preload_plugins:
    description:
      - Plugins to load before the workers are forked, as C(lookup:<fqcn>), C(filter:<fqcn>),
        C(test:<fqcn>) or C(python:<module>) (e.g. a connection plugin's Python module).
    type: list
    elements: str
    default:
      - lookup:amazon.aws.secretsmanager_secret
      - lookup:amazon.aws.ssm_parameter
      - filter:ansible.builtin.to_json
      - filter:ansible.builtin.min
      - test:ansible.builtin.match
      - test:ansible.builtin.url
      - python:ansible_collections.streamstack.aws.plugins.connection.local_forkserver
    env:
      - name: STREAMSTACK_PRELOAD_PLUGINS
    ini:
      - section: callback_warm_controller
        key: preload_plugins
  preload_services:
    description:
      - AWS services whose API models are parsed before the workers are forked, shared by every
        later botocore session (lookups make a session per call).
    type: list
    elements: str
    default: [secretsmanager, ssm]
    env:
      - name: STREAMSTACK_PRELOAD_SERVICES
    ini:
      - section: callback_warm_controller
        key: preload_services
"""

import base64
import contextlib
import hashlib
import importlib
import io
import json
import os
import pickle
import zipfile

from ansible import constants as C
from ansible import release
from ansible.plugins.callback import CallbackBase
from ansible.plugins.loader import filter_loader, lookup_loader, test_loader
from ansible.utils.collection_loader import AnsibleCollectionConfig
from ansible_collections.streamstack.aws.plugins.plugin_utils import template_code
from ansible_collections.streamstack.aws.plugins.plugin_utils.forkserver import (
    preload,
    private_folder,
)

_PAYLOADS = "ansiballz_cache"  # ansible-core's per-run folder, inside C.DEFAULT_LOCAL_TMP


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _resolve(member: str) -> str | None:
    """The file ansible-core takes ``member`` (a path inside a payload) from: first match wins."""
    if member.startswith("ansible_collections/"):
        roots = list(AnsibleCollectionConfig.collection_paths)
    else:
        import ansible

        roots = [os.path.dirname(os.path.dirname(ansible.__file__))]
    candidates = (os.path.join(root, member) for root in roots)
    return next((path for path in candidates if os.path.isfile(path)), None)


def sources_of(payload: bytes) -> dict[str, list] | None:
    """What a payload was built from, or None when that cannot be told.

    {member: [file, sha256]} for each file copied into it, {member: [file or None, None]} for a
    package ``__init__.py`` ansible-core generates (only where it resolves matters), and
    {"runtime.yml of <collection>": [file, sha256]} for each collection involved (its
    redirects route imports).
    """
    from ansible.executor.module_common import _CachedModule

    cached = pickle.loads(payload)  # noqa: S301 - this run's own payload, as ansible-core does
    if not isinstance(cached, _CachedModule):
        return None
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(cached.zip_data)))
    sources: dict[str, list] = {}
    for member in archive.namelist():
        path = _resolve(member)
        content = archive.read(member)
        if path and _read(path) == content:
            sources[member] = [path, _sha256(content)]
        elif member.endswith("/__init__.py"):
            sources[member] = [path, None]
        else:  # changed since it was built, or made up by an extension: build it again
            return None
        parts = member.split("/")
        if parts[0] == "ansible_collections" and len(parts) > 3:
            runtime = "/".join([*parts[:3], "meta", "runtime.yml"])
            if runtime not in sources:  # once per collection, not once per file of it
                path = _resolve(runtime)
                sources[runtime] = [path, _sha256(_read(path)) if path else None]
    return sources


def unchanged(sources: dict[str, list], hashes: dict[str, str]) -> bool:
    """True when every source resolves to the same file with the same content as when built."""
    for member, (path, digest) in sources.items():
        if _resolve(member) != path:
            return False
        if digest is not None:
            if path not in hashes:
                hashes[path] = _sha256(_read(path))
            if hashes[path] != digest:
                return False
    return True


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "streamstack.aws.warm_controller"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._kept: set[str] = set()
        self._cache = ""

    def v2_playbook_on_start(self, playbook):
        try:
            where = template_code.install(self.get_option("template_code_dir") or "")
            self._display.vvv(f"warm_controller: compiled templates in {where or 'memory'}")
        except (ImportError, AttributeError, OSError) as exc:  # another ansible-core: as usual
            self._display.vvv(f"warm_controller: compiled templates not kept: {exc}")
        self._preload()
        # One folder per ansible-core version and set of collection paths (one per project).
        where = _sha256(json.dumps(AnsibleCollectionConfig.collection_paths).encode())[:12]
        cache = os.path.join(
            os.path.expanduser(self.get_option("cache_dir")), f"{release.__version__}-{where}"
        )
        try:
            if not private_folder(cache):
                self._display.warning(f"warm_controller: {cache} is open to others; not used")
                return
            self._cache = cache
            run_folder = os.path.join(C.DEFAULT_LOCAL_TMP, _PAYLOADS)
            os.makedirs(run_folder, exist_ok=True)
            hashes: dict[str, str] = {}
            for index in os.listdir(cache):
                if not index.endswith(".json"):
                    continue
                name = index[: -len(".json")]
                with open(os.path.join(cache, index), encoding="utf-8") as handle:
                    entry = json.load(handle)
                if unchanged(entry["sources"], hashes):
                    kept = os.path.join(cache, entry["file"])
                    _copy(kept, os.path.join(run_folder, name))
                    self._kept.add(name)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self._display.vvv(f"warm_controller: payload cache not read: {exc}")
        self._display.vvv(f"warm_controller: {len(self._kept)} module payloads from earlier runs")

    def v2_playbook_on_stats(self, stats):
        run_folder = os.path.join(C.DEFAULT_LOCAL_TMP, _PAYLOADS)
        if not self._cache or not os.path.isdir(run_folder):
            return
        for name in os.listdir(run_folder):
            if name in self._kept or name.endswith((".lock", "-part")):
                continue
            try:
                payload = _read(os.path.join(run_folder, name))
                sources = sources_of(payload)
                if sources is None:
                    continue
                # Named by its sources: a file of that name holds a payload built from them,
                # whichever concurrent run wrote it last.
                kept = f"{name}.{_sha256(json.dumps(sources, sort_keys=True).encode())[:20]}"
                _write(os.path.join(self._cache, kept), payload)
                _write(
                    os.path.join(self._cache, f"{name}.json"),
                    json.dumps({"file": kept, "sources": sources}).encode(),
                )
                for old in os.listdir(self._cache):
                    if old.startswith(f"{name}.") and old not in (kept, f"{name}.json"):
                        os.unlink(os.path.join(self._cache, old))
            except Exception as exc:  # a payload not kept is only built again next time
                self._display.vvv(f"warm_controller: {name} not kept: {exc}")

    def _preload(self) -> None:
        """Load in this process, before any worker is forked, what every worker would load."""
        for name in self.get_option("preload_plugins"):
            kind, _, fqcn = name.partition(":")
            try:
                if kind == "lookup":
                    lookup_loader.get(fqcn)
                elif kind in ("filter", "test"):
                    # Jinja plugin files load whole; asking for one of their plugins loads them.
                    (filter_loader if kind == "filter" else test_loader).get(fqcn)
                else:
                    importlib.import_module(fqcn)
            except Exception as exc:  # an absent collection only costs the warm start
                self._display.vvv(f"warm_controller: {name} not preloaded: {exc}")
        services = self.get_option("preload_services")
        if services:
            with contextlib.suppress(ImportError):  # no boto3: nothing to parse
                preload([], services)


def _copy(source: str, target: str) -> None:
    _write(target, _read(source))


def _write(path: str, data: bytes) -> None:
    """Atomically, readable by the user only."""
    temporary = f"{path}.{os.getpid()}-part"
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
