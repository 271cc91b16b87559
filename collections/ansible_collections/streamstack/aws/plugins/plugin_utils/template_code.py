# Copyright: StreamStack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compiled Jinja templates kept by their source, across a run's workers and across runs.

ansible-core compiles a template string (lexing, parsing, generating Python, compiling it) each
time it renders it, and each task runs in a freshly forked worker: the same task arguments, `when`
conditions and template files are compiled again by every task and every run, a sixth of a
no-op provision's worker CPU. What Jinja compiles a source to depends only on that source, its
name and file name, the environment's syntax settings (delimiters, whitespace handling: the
overrides a template may carry) and ansible-core's compile-time backslash escaping, and on the
Python, Jinja and ansible-core versions: `install()` keys the code object by all of them and
keeps it in memory and in a folder of the user's (marshal, like a .pyc), so that a worker finds
what an earlier worker or run compiled. Rendering is unchanged: a template is still built from
the code object with the environment of the moment and its globals.

Not kept: templates Jinja compiles to source (`raw`), and any compile while ansible-core's
template debugging (which writes the generated source to files) is on.
"""

from __future__ import annotations

import contextvars
import hashlib
import marshal
import os
import sys
import types

from ansible_collections.streamstack.aws.plugins.plugin_utils.forkserver import private_folder

_VERSION = 1  # of the key's layout
_expression: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "streamstack_template_expression", default=None
)
_memory: dict[str, types.CodeType] = {}
_folder = ""


def _key(env, kind: str, source: str, name, filename, defer_init: bool) -> str | None:
    from ansible._internal._templating._jinja_bits import (
        _TEMPLATE_OVERRIDE_FIELD_NAMES,
        _TemplateCompileContext,
    )

    if env._debuggable_template_source:
        return None
    compiling = _TemplateCompileContext.current(optional=True)
    described = repr(
        (
            _VERSION,
            kind,
            type(env).__qualname__,
            tuple(getattr(env, field) for field in _TEMPLATE_OVERRIDE_FIELD_NAMES),
            sorted(env.extensions),
            env.optimized,
            env.is_async,
            bool(compiling and compiling.escape_backslashes),
            name,
            filename,
            defer_init,
            source,
        )
    )
    return hashlib.sha256(described.encode("utf-8", "surrogatepass")).hexdigest()


def _load(key: str) -> types.CodeType | None:
    code = _memory.get(key)
    if code is None and _folder:
        try:
            with open(os.path.join(_folder, key[:2], key), "rb") as handle:
                code = marshal.loads(handle.read())  # noqa: S302 - the user's own private folder
        except (OSError, ValueError, EOFError, TypeError):
            return None
        _memory[key] = code
    return code


def _keep(key: str, code: types.CodeType) -> None:
    _memory[key] = code
    if not _folder:
        return
    folder = os.path.join(_folder, key[:2])
    temporary = os.path.join(folder, f"{key}.{os.getpid()}-part")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
            out.write(marshal.dumps(code))
        os.replace(temporary, os.path.join(folder, key))
    except (OSError, ValueError):  # not kept: compiled again next time
        pass


def install(folder: str) -> str:
    """Keep compiled templates in memory and, when `folder` is the user's own and closed to
    others, in a subfolder of it for these Python, Jinja and ansible-core versions. Returns the
    subfolder used ("" for memory only). Call it once, before the workers are forked."""
    global _folder
    import jinja2
    from ansible import release
    from ansible._internal._templating._jinja_bits import AnsibleEnvironment
    from jinja2.environment import TemplateExpression

    if folder:
        versions = f"py{sys.version_info[0]}{sys.version_info[1]}-jinja{jinja2.__version__}"
        where = os.path.join(os.path.expanduser(folder), f"{versions}-core{release.__version__}")
        _folder = where if private_folder(os.path.dirname(where)) and private_folder(where) else ""
    if getattr(AnsibleEnvironment, "_streamstack_template_code", False):
        return _folder
    compile_source = AnsibleEnvironment.compile
    compile_expression = AnsibleEnvironment.compile_expression

    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
        text = source if isinstance(source, str) else _expression.get()
        key = None if raw or text is None else _key(
            self, "template" if isinstance(source, str) else "expression",
            text, name, filename, defer_init,
        )  # fmt: skip
        if key is None:
            return compile_source(self, source, name, filename, raw, defer_init)
        code = _load(key)
        if code is None:
            code = compile_source(self, source, name, filename, raw, defer_init)
            _keep(key, code)
        return code

    def expression(self, source, undefined_to_none=True):
        key = _key(self, "expression", source, None, None, False)
        code = _load(key) if key else None
        if code is None:  # parsed and compiled as usual; compile() above keeps the code
            token = _expression.set(source if key else None)
            try:
                return compile_expression(self, source, undefined_to_none)
            finally:
                _expression.reset(token)
        template = self.template_class.from_code(self, code, self.make_globals(None), None)
        return TemplateExpression(template, undefined_to_none)

    AnsibleEnvironment.compile = compile
    AnsibleEnvironment.compile_expression = expression
    AnsibleEnvironment._streamstack_template_code = True
    return _folder
