"""A local stand-in for the ALB: haproxy on 127.0.0.1 whose membership follows a target group.

haproxy (Debian's) forwards to the web hosts' published nginx ports; a controller thread polls
the emulator's DescribeTargetHealth for one target group and sets each server's admin state over
haproxy's runtime API (stats socket), the way the ALB treats its targets:

    target state (emulator)      haproxy server state
    healthy                      ready   (haproxy's own health checks still gate traffic)
    draining                     drain   (no new requests; in-flight ones finish)
    initial / unhealthy / unused maint   (no traffic: the ALB routes only to healthy targets)
    / not registered

So a playbook that deregisters a host (and waits for draining) before restarting its app takes
it out of this pool exactly as it would take it out of the ALB's. haproxy checks the path the
target group's health check names (the app's shallow liveness, ``/healthz``, behind nginx).
With ``discover``, the servers themselves follow the platform: a target that appears (an
instance the Auto Scaling group launched) is added to the running haproxy, one that is gone is
taken out and deleted (runtime API ``add server`` / ``del server``: no reload, no dropped
connection).

``LoadGenerator`` sends a bounded number of requests (bounded in count and in time, loopback
only) through it and records every failure.
"""

from __future__ import annotations

import collections
import http.client
import ipaddress
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HAPROXY = "/usr/sbin/haproxy"
BACKEND = "web"
# Target health state -> haproxy admin state; any other state is maint. The ALB routes only to
# healthy targets ("initial" ones wait for their first passed check).
ADMIN_STATE = {"healthy": "ready", "draining": "drain"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LoadBalancer:
    """haproxy on 127.0.0.1 plus the controller that follows ``target_group_arn``.

    ``servers`` maps a target id (EC2 instance id) to the (address, port) its traffic goes to
    (the paired podman host's published nginx port). ``elbv2`` is a boto3 ELBv2 client on the
    emulator. ``health_check_path``: what haproxy checks, by default the target group's own
    ``HealthCheckPath``. ``discover``: called on every poll, the servers there should be now
    (same shape as ``servers``); None keeps ``servers`` fixed.
    """

    name: str
    state_dir: Path
    servers: dict[str, tuple[str, int]]
    target_group_arn: str
    elbv2: Any
    health_check_path: str | None = None
    poll_interval: float = 0.2
    port: int = 0
    discover: Callable[[], dict[str, tuple[str, int]]] | None = None
    # CloudFront in front of the ALB, for the media paths only (the local Elastic Beanstalk
    # stand-in): requests under ``media_paths`` go to the emulator's viewer-side edge of the
    # distribution (``media_edge``: http://127.0.0.1:<port>/moto-api/fidelity/cloudfront-edge/
    # <domain>), which checks their signed URLs; the page and its media share one origin, as
    # on AWS where viewers reach both through the distribution.
    media_edge: str | None = None
    media_paths: tuple[str, ...] = ()
    events: list[tuple[float, str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir)
        self._proc: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._applied: dict[str, str] = {}

    # -- haproxy ----------------------------------------------------------------------------

    @property
    def socket_path(self) -> Path:
        return self.state_dir / "admin.sock"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        lines = [
            "global",
            f"    stats socket {self.socket_path} mode 600 level admin",
            "    maxconn 4096",
            "defaults",
            "    mode http",
            "    timeout connect 2s",
            "    timeout client 30s",
            "    timeout server 30s",
            "    timeout http-keep-alive 5s",
            # The target group's 5 s timeout, not `inter`.
            "    timeout check 5s",
            # No retries on another server: a request sent to a host that is going away fails
            # and the load generator sees it, as a client of the ALB would.
            "    retries 0",
            "frontend fe",
            f"    bind 127.0.0.1:{self.port}",
            *self._media_frontend(),
            f"    default_backend {BACKEND}",
            "    http-response set-header X-Served-By %[srv_name]",
            *self._media_backend(),
            f"backend {BACKEND}",
            "    balance roundrobin",
            "    option httpchk",
            f"    http-check send meth GET uri {self.health_check_path} ver HTTP/1.1"
            " hdr Host localhost",
            "    http-check expect status 200",
            "    default-server inter 2s fastinter 1s fall 3 rise 2",
        ]
        for target_id, (address, port) in self.servers.items():
            # Every server starts in maintenance: the controller admits what the target group has.
            lines.append(f"    server {target_id} {address}:{port} check disabled")
        return "\n".join(lines) + "\n"

    def _media_frontend(self) -> list[str]:
        if not self.media_edge or not self.media_paths:
            return []
        return [
            f"    acl media path_beg {' '.join(self.media_paths)}",
            "    use_backend media if media",
        ]

    def _media_backend(self) -> list[str]:
        if not self.media_edge or not self.media_paths:
            return []
        edge = urlsplit(self.media_edge)
        # The viewer's own path and query ride along: the edge checks the URL the viewer signed.
        return [
            "backend media",
            "    http-request set-header X-Forwarded-Uri %[url]",
            f"    http-request set-path {edge.path.rstrip('/')}%[path]",
            f"    server edge {edge.hostname}:{edge.port}",
        ]

    def start(self, timeout: float = 15.0) -> str:
        if not ipaddress.ip_address("127.0.0.1").is_loopback:  # pragma: no cover - sanity
            raise RuntimeError("loopback only")
        for address, _port in self.servers.values():
            _loopback(address)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        if self.health_check_path is None:
            (group,) = self.elbv2.describe_target_groups(TargetGroupArns=[self.target_group_arn])[
                "TargetGroups"
            ]
            self.health_check_path = group.get("HealthCheckPath") or "/"
        cfg = self.state_dir / "haproxy.cfg"
        cfg.write_text(self.config())
        subprocess.run([HAPROXY, "-c", "-q", "-f", str(cfg)], check=True)
        self.socket_path.unlink(missing_ok=True)
        log = open(self.state_dir / "haproxy.log", "ab")  # noqa: SIM115 - handed to the child
        # -db: stay in the foreground, so the PID is haproxy's own and stop() signals only it.
        self._proc = subprocess.Popen(
            [HAPROXY, "-db", "-f", str(cfg)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        (self.state_dir / "pid").write_text(str(self._proc.pid))
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self._proc.poll() is not None:
                raise RuntimeError(f"haproxy exited; see {self.state_dir / 'haproxy.log'}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("haproxy's runtime API did not answer")
            time.sleep(0.05)
        self.sync()
        self._stop.clear()
        self._thread = threading.Thread(target=self._follow, name=f"lb-{self.name}", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
            self._thread = None
        if self._proc and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
        self._proc = None
        (self.state_dir / "pid").unlink(missing_ok=True)

    def __enter__(self) -> LoadBalancer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def command(self, line: str) -> str:
        """One runtime API command; its answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket_path))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def _answers(self) -> bool:
        try:
            return "Name:" in self.command("show info")
        except OSError:
            return False

    def server_states(self) -> dict[str, dict[str, str]]:
        """Per server: ``admin`` (ready/drain/maint) and ``up`` (haproxy's health checks)."""
        states = {}
        for line in self.command(f"show servers state {BACKEND}").splitlines():
            parts = line.split()
            if len(parts) < 8 or not parts[0].isdigit():
                continue
            name, op_state, admin = parts[3], int(parts[5]), int(parts[6])
            # srv_admin_state bits: 0x01 forced, 0x02 inherited, 0x20 DNS, 0x40 hostname
            # maintenance; 0x04 only records the `disabled` keyword; 0x08/0x10 drain.
            if admin & 0x63:
                admin_state = "maint"
            elif admin & 0x18:
                admin_state = "drain"
            else:
                admin_state = "ready"
            states[name] = {"admin": admin_state, "up": "yes" if op_state == 2 else "no"}
        return states

    # -- controller -------------------------------------------------------------------------

    def target_states(self) -> dict[str, str]:
        found = self.elbv2.describe_target_health(TargetGroupArn=self.target_group_arn)
        return {
            d["Target"]["Id"]: d["TargetHealth"]["State"] for d in found["TargetHealthDescriptions"]
        }

    def sync(self) -> None:
        """Follow the servers (with ``discover``), then set every server's admin state from the
        target group (only what changed)."""
        if self.discover is not None:
            self._follow_servers(self.discover())
        targets = self.target_states()
        for target_id in self.servers:
            wanted = ADMIN_STATE.get(targets.get(target_id, "unused"), "maint")
            if self._applied.get(target_id) != wanted:
                answer = self.command(f"set server {BACKEND}/{target_id} state {wanted}").strip()
                if answer:
                    raise RuntimeError(f"haproxy refused {target_id} -> {wanted}: {answer}")
                self._applied[target_id] = wanted
                self.events.append((time.monotonic(), target_id, wanted))

    def _follow_servers(self, wanted: dict[str, tuple[str, int]]) -> None:
        for target_id, (address, port) in wanted.items():
            if self.servers.get(target_id) == (address, port):
                continue
            _loopback(address)
            if target_id in self.servers:  # the same target served from elsewhere now
                self._runtime(f"set server {BACKEND}/{target_id} addr {address} port {port}", "")
            else:
                self._runtime(
                    f"add server {BACKEND}/{target_id} {address}:{port} check disabled",
                    "New server registered.",
                )
                self._runtime(f"enable health {BACKEND}/{target_id}", "")
                self._applied[target_id] = "maint"
                self.events.append((time.monotonic(), target_id, "added"))
            self.servers[target_id] = (address, port)
        for target_id in [t for t in self.servers if t not in wanted]:
            if self._applied.get(target_id) != "maint":
                self._runtime(f"set server {BACKEND}/{target_id} state maint", "")
                self._applied[target_id] = "maint"
            # Refused while connections are still open: tried again at the next poll.
            if "Server deleted." in self.command(f"del server {BACKEND}/{target_id}"):
                del self.servers[target_id]
                self._applied.pop(target_id, None)
                self.events.append((time.monotonic(), target_id, "removed"))

    def _runtime(self, line: str, expected: str) -> None:
        answer = self.command(line).strip()
        if answer != expected:
            raise RuntimeError(f"haproxy refused {line!r}: {answer}")

    def _follow(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.sync()
            except Exception as exc:  # keep following; the test reads errors
                self.errors.append(f"{time.strftime('%H:%M:%S')} {type(exc).__name__}: {exc}")

    def wait_until(self, predicate: Callable[[dict[str, dict[str, str]]], bool], timeout: float):
        """Wait until ``predicate(server_states())`` holds; the states, or TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.server_states()
            if predicate(states):
                return states
            if time.monotonic() > deadline:
                raise TimeoutError(f"load balancer servers never reached the state: {states}")
            time.sleep(0.2)


def _loopback(address: str) -> None:
    if not ipaddress.ip_address(address).is_loopback:
        raise ValueError(f"server {address} is not on the loopback network")


@dataclass
class LoadResult:
    sent: int = 0
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    served_by: collections.Counter[str] = field(default_factory=collections.Counter)
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.sent} requests in {self.seconds:.1f} s, {self.ok} ok, "
            f"{len(self.failures)} failed, served by {dict(self.served_by)}"
        )


class LoadGenerator:
    """Requests through the load balancer from a few threads until stopped, at most
    ``max_requests`` in all and ``max_seconds`` long, at most ``rate`` per second. Loopback only.

    A request fails when it gets no response, or a 5xx (haproxy's 502/503 included).
    """

    def __init__(
        self,
        url: str,
        paths: tuple[str, ...] = ("/healthz", "/api/items?limit=5"),
        *,
        threads: int = 4,
        rate: float = 40.0,
        max_requests: int = 20000,
        max_seconds: float = 600.0,
        timeout: float = 10.0,
    ) -> None:
        host, _, port = url.removeprefix("http://").partition(":")
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"{url}: the load generator only sends to the loopback network")
        self.host, self.port = host, int(port or 80)
        self.paths = paths
        self.threads, self.rate, self.timeout = threads, rate, timeout
        self.max_requests, self.max_seconds = max_requests, max_seconds
        self.result = LoadResult()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._started = 0.0

    def start(self) -> LoadGenerator:
        self._started = time.monotonic()
        self._workers = [
            threading.Thread(target=self._run, args=(n,), name=f"load-{n}", daemon=True)
            for n in range(self.threads)
        ]
        for worker in self._workers:
            worker.start()
        return self

    def stop(self) -> LoadResult:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=self.timeout + 5)
        self.result.seconds = time.monotonic() - self._started
        return self.result

    def __enter__(self) -> LoadGenerator:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _take(self) -> int | None:
        """The next request's number, or None when a bound is reached."""
        with self._lock:
            if self.result.sent >= self.max_requests:
                return None
            if time.monotonic() - self._started > self.max_seconds:
                return None
            self.result.sent += 1
            return self.result.sent

    def _record(self, ok: bool, what: str, server: str) -> None:
        with self._lock:
            if ok:
                self.result.ok += 1
                self.result.served_by[server] += 1
            else:
                self.result.failures.append(f"{time.strftime('%H:%M:%S')} {what}")

    def _run(self, worker: int) -> None:
        interval = self.threads / self.rate
        next_at = time.monotonic() + worker * interval / self.threads
        while not self._stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            next_at += interval
            number = self._take()
            if number is None:
                break
            path = self.paths[number % len(self.paths)]
            # A new connection per request: no client-side retry or keep-alive subtleties.
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                conn.request("GET", path, headers={"Host": "localhost", "Connection": "close"})
                resp = conn.getresponse()
                resp.read()
                server = resp.getheader("X-Served-By", "?")
                self._record(
                    resp.status < 500, f"GET {path} -> {resp.status} from {server}", server
                )
            except (OSError, http.client.HTTPException) as exc:
                self._record(False, f"GET {path} -> {type(exc).__name__}: {exc}", "")
            finally:
                conn.close()
