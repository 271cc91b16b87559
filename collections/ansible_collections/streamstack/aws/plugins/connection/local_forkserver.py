# Copyright: StreamStack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: local_forkserver
short_description: Run modules on the controller, forked from a pre-warmed Python
description:
  - The C(ansible.builtin.local) connection, except that a pipelined Python module run by the
    controller's own interpreter is forked from a per-run server process that has already
    imported ansible's module utilities and boto3 and parsed the AWS service models. Each
    module call then costs its API calls, not an interpreter start and half a second of imports;
    a no-op run of an AWS playbook, made of module calls that each ask AWS a few questions,
    gets several times faster.
  - The module runs in a fresh child process with the caller's environment (including the
    task's C(environment)), working directory and umask, and its own stdin, stdout and stderr,
    so its result, failure and output are what the local connection gives.
  - Anything else (become, a different interpreter, no pipelining, async, a raw command) runs as
    the local connection runs it. So does every module when the server cannot be started.
  - One server per ansible-playbook process, started in the background by the run's first task
    on this connection (so its imports overlap the tasks before the first module call); it
    exits with ansible-playbook or after O(idle_timeout) seconds without a request. Its socket
    is in a directory only the controller's user can enter.
author: StreamStack contributors
version_added: 1.0.0
extends_documentation_fragment:
  - ansible.builtin.connection_pipelining
options:
  preload_modules:
    description: Python modules the server imports once for every module it runs.
    type: list
    elements: str
    default:
      - ansible.module_utils.basic
      - ansible.module_utils.common.arg_spec
      - ansible.module_utils.common.json
      - boto3
      - botocore.session
      - botocore.config
      - botocore.exceptions
      - botocore.waiter
      - cryptography.hazmat.primitives.serialization
    vars:
      - name: ansible_forkserver_preload_modules
  preload_services:
    description:
      - AWS services whose models (API, endpoint rules, paginators, waiters) the server parses
        once. A module calling another service parses its model itself, as usual.
    type: list
    elements: str
    default: [acm, autoscaling, cloudfront, cloudwatch, dynamodb, ec2, elbv2, iam, logs, rds,
              route53, s3, secretsmanager, sns, sqs, ssm, sts]
    vars:
      - name: ansible_forkserver_preload_services
  code_cache:
    description:
      - Folder where the server keeps the code compiled from the modules' payloads, by source
        (a payload is a zip, which Python's zipimport compiles from source in every process;
        the server compiles each source once, for this run and the next ones). It must belong
        to the controller's user and be closed to others, or only the run's own compilations
        are kept. Empty to compile every module from source.
    type: path
    default: ~/.cache/streamstack/module-code
    vars:
      - name: ansible_forkserver_code_cache
  idle_timeout:
    description: Seconds without a module call after which the server exits.
    type: int
    default: 600
    vars:
      - name: ansible_forkserver_idle_timeout
"""

EXAMPLES = r"""
# A play of AWS API calls from the controller
- name: Provision
  hosts: localhost
  connection: streamstack.aws.local_forkserver
  gather_facts: false
  tasks:
    - name: VPC
      amazon.aws.ec2_vpc_net:
        name: example
        cidr_block: 10.0.0.0/16
"""

import contextlib
import fcntl
import multiprocessing
import os
import shlex
import socket
import stat
import subprocess
import sys
import tempfile
import time

from ansible.plugins.connection.local import Connection as LocalConnection
from ansible.utils.display import Display
from ansible_collections.streamstack.aws.plugins.plugin_utils import forkserver

display = Display()

_START_TIMEOUT = 30.0


class Connection(LocalConnection):
    """The local connection; pipelined modules of this interpreter are forked from a server."""

    # Ansible treats the connection as the local one (working directory, delegation, facts).
    transport = "local"

    def exec_command(self, cmd, in_data=None, sudoable=True):
        env = self._module_environment(cmd, in_data, sudoable)
        if env is None:
            return super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        try:
            sock = self._server_connection()
        except OSError as error:
            display.vvv(f"fork server unavailable ({error}); running the module as a process")
            return super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        display.vvv(f"EXEC (fork server) {cmd}", host=self._play_context.remote_addr)
        umask = os.umask(0)
        os.umask(umask)
        header = {"env": env, "cwd": self.cwd or os.getcwd(), "umask": umask}
        with sock:
            forkserver.send_request(sock, header, in_data)
            return forkserver.read_response(sock)

    def _module_environment(self, cmd, in_data, sudoable):
        """The environment to run the module in, or None when the server must not run it.

        The action plugin asks for a pipelined module as `<shell> -c '[NAME=value ...]
        <interpreter>'`: only that form, with this controller's interpreter, goes to the server.
        """
        if not in_data or not self.get_option("pipelining") or (sudoable and self.become):
            return None
        try:
            outer = shlex.split(cmd)
            if len(outer) != 3 or outer[1] != "-c":
                return None
            words = shlex.split(outer[2])
        except ValueError:
            return None
        if words[-3:] == ["&&", "sleep", "0"]:
            words = words[:-3]
        if not words:
            return None
        *assignments, interpreter = words
        env = dict(os.environ)
        for assignment in assignments:
            name, equals, value = assignment.partition("=")
            if not equals or not name.isidentifier():
                return None
            env[name] = value
        try:
            if not os.path.samefile(interpreter, sys.executable):
                return None
        except OSError:
            return None
        return env

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self._start_early()

    def _start_early(self):
        """Start the run's server with the run's first task on this connection, whatever it is,
        without waiting: its imports then overlap the tasks before the first module call."""
        if multiprocessing.parent_process() is None:
            return  # not a task's worker: the parent of this process is not the run
        try:
            folder, run = _folder(), os.getppid()
            if os.path.isdir(os.path.join(folder, str(run))):
                return  # started, or being started
            with _run_lock(folder, run):
                if not os.path.isdir(os.path.join(folder, str(run))):
                    self._launch(folder, run)
        except OSError as error:
            display.vvv(f"fork server not started early ({error})")

    def _server_connection(self):
        """A connection to this ansible-playbook's fork server, started if need be."""
        folder = _folder()
        # Workers are forked by the ansible-playbook process: their parent names the run.
        run = os.getppid()
        path = os.path.join(folder, str(run), "socket")
        try:
            return _connect(path)
        except OSError:
            pass
        with _run_lock(folder, run):
            try:
                return _connect(path)
            except OSError:
                pass
            server = _starting(folder, run) or self._launch(folder, run)
            deadline = time.monotonic() + _START_TIMEOUT
            while True:
                try:
                    return _connect(path)
                except OSError:
                    if not _alive(server) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)

    def _launch(self, folder, run):
        """Start the server in the background; return its pid (also kept in the run's folder)."""
        os.makedirs(os.path.join(folder, str(run)), mode=0o700, exist_ok=True)
        pid = self._start_server(os.path.join(folder, str(run), "socket"), run).pid
        with open(os.path.join(folder, str(run), "server.pid"), "w") as handle:
            handle.write(str(pid))
        return pid

    def _start_server(self, path, run):
        preload = list(self.get_option("preload_modules"))
        preload += [f"service:{name}" for name in self.get_option("preload_services")]
        if self.get_option("code_cache"):
            preload.append(f"codecache:{os.path.expanduser(self.get_option('code_cache'))}")
        idle = str(self.get_option("idle_timeout"))
        return subprocess.Popen(
            [sys.executable, forkserver.__file__, path, str(run), idle, *preload],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )


def _folder():
    folder = os.path.join(tempfile.gettempdir(), f"ansible-forkserver-{os.getuid()}")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise OSError(f"{folder} is not a private directory of this user")
    return folder


@contextlib.contextmanager
def _run_lock(folder, run):
    """The run's lock. The server removes the file (under this lock) when it exits: a lock
    taken on a file no longer at the path is taken again on the new one."""
    path = os.path.join(folder, f"{run}.lock")
    while True:
        with open(path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if os.fstat(lock.fileno()).st_ino != os.stat(path).st_ino:
                    continue
            except FileNotFoundError:
                continue
            yield
            return


def _starting(folder, run):
    """The pid of the run's server another task started, if it still runs."""
    try:
        with open(os.path.join(folder, str(run), "server.pid")) as handle:
            pid = int(handle.read())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A server started by this worker and already exited is a zombie until reaped.
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return True


def _connect(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock
