# Copyright: StreamStack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fork server for modules the controller runs on itself (the local connection).

A module run by the local connection is a new Python process that imports ansible's module
utilities and boto3, and loads the JSON models of the AWS services it calls, before it makes its
first (millisecond) API call: about 0.5 CPU-seconds each, most of a no-op provision's time. This
server does that work once per ansible-playbook run: it imports what the modules import, creates
a client for each preloaded service (so botocore's parsed models are shared by every later
session), then forks one child per module, which runs the module's AnsiballZ payload exactly as
``python`` reading it from stdin would, with the caller's environment, working directory and
umask, and its own stdin/stdout/stderr.

A payload is a zip, from which zipimport compiles every module it imports from source, twice
(once for its file name, once for its code), in every module process: a third of the modules'
CPU. The server keeps the compiled code by source (``code_cache``), as a folder of ``.pyc``
files would, so that each source is compiled once.

Run as a script (stdlib only until it preloads): ``python forkserver.py SOCKET WATCH_PID
IDLE_SECONDS [codecache:FOLDER] MODULE... [service:NAME]...``. It listens on SOCKET (in a
directory only its user can enter), exits when WATCH_PID (the ansible-playbook process) exits
or after IDLE_SECONDS without a request, and removes its socket directory. One request per
connection:

    request:  <u32 header length><JSON header: env, cwd, umask><u32 payload length><payload>
    response: <JSON line: rc>\\n<u64 stdout length><stdout><u64 stderr length><stderr>
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import marshal
import os
import selectors
import shutil
import signal
import socket
import struct
import sys
import traceback
import types
import zipimport

_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")
MAX_HEADER = 16 * 1024 * 1024
MAX_PAYLOAD = 512 * 1024 * 1024


def recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise ConnectionError("peer closed the connection early")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def send_request(sock: socket.socket, header: dict, payload: bytes) -> None:
    encoded = json.dumps(header).encode()
    sock.sendall(_U32.pack(len(encoded)) + encoded + _U32.pack(len(payload)) + payload)


def read_response(sock: socket.socket) -> tuple[int, bytes, bytes]:
    line = b""
    while not line.endswith(b"\n"):
        byte = sock.recv(1)
        if not byte:
            raise ConnectionError("fork server closed the connection before answering")
        line += byte
    rc = json.loads(line)["rc"]
    out = recv_exact(sock, _U64.unpack(recv_exact(sock, _U64.size))[0])
    err = recv_exact(sock, _U64.unpack(recv_exact(sock, _U64.size))[0])
    return rc, out, err


def _read_request(sock: socket.socket) -> tuple[dict, bytes]:
    (size,) = _U32.unpack(recv_exact(sock, _U32.size))
    if size > MAX_HEADER:
        raise ValueError("request header too large")
    header = json.loads(recv_exact(sock, size))
    (size,) = _U32.unpack(recv_exact(sock, _U32.size))
    if size > MAX_PAYLOAD:
        raise ValueError("payload too large")
    return header, recv_exact(sock, size)


def _run_payload(header: dict, payload: bytes, out_fd: int, err_fd: int) -> None:
    """In the module's own process: become `python -` reading the payload, run it, exit."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    for fd in (null, out_fd, err_fd):
        os.close(fd)
    os.environ.clear()
    os.environ.update(header["env"])
    os.chdir(header["cwd"])
    os.umask(header["umask"])
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    import random

    random.seed()  # the server's state is every child's: reseed from the OS
    main = types.ModuleType("__main__")  # as stdin's __main__: no __file__
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    sys.argv = [""]
    rc = 0
    try:
        exec(compile(payload, "<stdin>", "exec"), main.__dict__)  # noqa: S102 - the module's payload
    except SystemExit as done:
        code = done.code
        if code is None:
            rc = 0
        elif isinstance(code, int):
            rc = code
        else:
            print(code, file=sys.stderr)
            rc = 1
    except BaseException:  # reported as python would, then exit 1
        traceback.print_exc()
        rc = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # nothing left to report to
                stream.flush()
    os._exit(rc & 0xFF)


def _handle(conn: socket.socket) -> None:
    """In a child of the server: run one module in a grandchild and answer with its outcome."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    header, payload = _read_request(conn)
    out_fd = os.memfd_create("stdout")
    err_fd = os.memfd_create("stderr")
    pid = os.fork()
    if pid == 0:
        conn.close()
        _run_payload(header, payload, out_fd, err_fd)
    # A caller that goes away (task timeout, ansible-playbook interrupted) takes its module
    # with it, as the local connection's process group would.
    with selectors.DefaultSelector() as selector:
        module = os.pidfd_open(pid)
        selector.register(module, selectors.EVENT_READ, "exit")
        selector.register(conn, selectors.EVENT_READ, "caller")
        if all(key.data == "caller" for key, _ in selector.select()):
            os.kill(pid, signal.SIGKILL)
        os.close(module)
    _, status = os.waitpid(pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    answer = [json.dumps({"rc": rc}).encode() + b"\n"]
    for fd in (out_fd, err_fd):
        size = os.lseek(fd, 0, os.SEEK_END)
        os.lseek(fd, 0, os.SEEK_SET)
        data = b""
        while len(data) < size:
            data += os.read(fd, size - len(data))
        os.close(fd)
        answer += [_U64.pack(len(data)), data]
    conn.sendall(b"".join(answer))


def preload(modules: list[str], services: list[str]) -> None:
    """Import the modules; make botocore's loaders share one model cache and fill it."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            continue  # not installed here: the module imports it itself (or fails) as usual
    if not services:
        return
    import boto3
    import botocore.loaders

    shared: dict[tuple, dict] = {}
    original_init = botocore.loaders.Loader.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        # instance_cache keeps parsed models in self._cache; loaders searching the same paths
        # share one (botocore never changes a loaded model: one session's clients share it too)
        self._cache = shared.setdefault(tuple(self.search_paths), {})

    botocore.loaders.Loader.__init__ = init
    _share_client_classes()
    # Placeholder keys: clients are made, never called (no credential lookup, no request).
    session = boto3.session.Session(
        aws_access_key_id="preload",
        aws_secret_access_key="preload",  # noqa: S106
        region_name="us-east-1",
    )
    for service in services:
        try:
            session.client(service)
        except Exception:  # noqa: S112 - an unknown service is loaded by its module
            continue


def private_folder(path: str) -> bool:
    """The folder is the user's own and nobody else may write to it (or read it)."""
    import stat

    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077


def _renamed(code: types.CodeType, filename: str) -> types.CodeType:
    """The code as compiled from ``filename`` (tracebacks name the payload they ran from)."""
    consts = tuple(
        _renamed(const, filename) if isinstance(const, types.CodeType) else const
        for const in code.co_consts
    )
    return code.replace(co_filename=filename, co_consts=consts)


def cache_compiles(folder: str | None) -> None:
    """Make zipimport take a payload module's code from the cache when its source was compiled
    before: in this process (zipimport compiles each module twice), or by any module process of
    this or an earlier run, kept in ``folder`` (None or a folder open to others: this process
    only). The key is the module's path inside the payload, its source's SHA-256, and this
    interpreter's bytecode magic number and optimization level: a changed source is compiled again.
    """
    import importlib.util

    # A private function of zipimport (CPython 3.11-3.13): an interpreter without it compiles
    # as usual, uncached.
    compile_source = getattr(zipimport, "_compile_source", None)
    if compile_source is None:
        return
    if folder and not private_folder(folder):
        folder = None
    memo: dict[str, types.CodeType] = {}
    salt = importlib.util.MAGIC_NUMBER + str(sys.flags.optimize).encode()

    def cached(pathname, source):
        member = pathname.rpartition(".zip" + os.sep)[2]
        key = hashlib.sha256(salt + member.encode() + b"\0" + source).hexdigest()
        code = memo.get(key)
        if code is None and folder:
            with (
                contextlib.suppress(OSError, ValueError, EOFError, TypeError),
                open(os.path.join(folder, key), "rb") as handle,
            ):
                code = marshal.load(handle)  # noqa: S302 - the user's own folder, as a .pyc
        if code is None:
            code = compile_source(pathname, source)
            if folder:
                with contextlib.suppress(OSError):
                    temporary = os.path.join(folder, f"{key}.{os.getpid()}-part")
                    with open(temporary, "wb") as handle:
                        marshal.dump(code, handle)
                    os.replace(temporary, os.path.join(folder, key))
        elif code.co_filename != pathname:
            code = _renamed(code, pathname)
        memo[key] = code
        return code

    zipimport._compile_source = cached


def _share_client_classes() -> None:
    """Make botocore build each service's client class once, here, instead of in every module.

    A client class has a method per operation of its service, each made with the operation's
    model (EC2 has about 700): building one took 40 % of a module's CPU. The class depends only
    on the service's model (shared: one parsed model per run, see preload) and on the handlers of
    the session's ``creating-client-class`` event, which are boto3's own in every session a
    module makes; a module changing them would get the class made without its handler.
    """
    import botocore.client

    build = botocore.client.ClientCreator._create_client_class
    classes: dict[str, tuple[dict, type]] = {}

    def create_client_class(self, service_name, service_model):
        # The model is the run's shared parsed one (botocore never changes it): the same object,
        # the same class.
        model = service_model._service_description
        kept = classes.get(service_name)
        if kept is None or kept[0] is not model:
            kept = classes[service_name] = (model, build(self, service_name, service_model))
        return kept[1]

    botocore.client.ClientCreator._create_client_class = create_client_class


def serve(path: str, watch_pid: int, idle_seconds: float) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path + ".new"):
        os.unlink(path + ".new")  # left by a server of an earlier run that died starting
    listener.bind(path + ".new")
    os.rename(path + ".new", path)  # clients see the socket only once it is bound
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # handlers are reaped by the kernel
    watched = os.pidfd_open(watch_pid)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "request")
    selector.register(watched, selectors.EVENT_READ, "exit")
    try:
        while True:
            events = selector.select(timeout=idle_seconds)
            if not events or any(key.data == "exit" for key, _ in events):
                return
            conn, _ = listener.accept()
            if os.fork() == 0:
                selector.close()
                listener.close()
                os.close(watched)
                try:
                    _handle(conn)
                finally:
                    os._exit(0)
            conn.close()
    finally:
        # Under the connection's lock of this run (local_forkserver._run_lock), so that no task
        # starting a server meanwhile sees this one's folder, then loses it.
        listener.close()
        with contextlib.suppress(OSError), open(os.path.dirname(path) + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)
            os.unlink(os.path.dirname(path) + ".lock")
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)  # if the lock could not be had


def main(argv: list[str]) -> int:
    path, watch_pid, idle_seconds, *names = argv
    if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # a script's folder is no folder of the modules it runs
    options = [name for name in names if name.startswith("codecache:")]
    names = [name for name in names if not name.startswith("codecache:")]
    modules = [name for name in names if not name.startswith("service:")]
    services = [name.removeprefix("service:") for name in names if name.startswith("service:")]
    cache_compiles(options[-1].removeprefix("codecache:") if options else None)
    preload(modules, services)
    serve(path, int(watch_pid), float(idle_seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
