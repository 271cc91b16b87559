"""API latency: the real app (gunicorn + uvicorn workers, the production command) on loopback
against a throwaway PostgreSQL and the AWS emulator, driven open-loop at a constant rate.

    .venv/bin/python bench/api.py [--rate 200] [--seconds 20] [--items 200] [--workers 2]

Seeds a catalog of ``--items`` ready items straight into the database and signs a viewer up
through the API (session cookie in DynamoDB), then, per endpoint, sends ``--rate`` requests
per second for ``--seconds`` (after a short unmeasured warm-up) from an asyncio load generator:
requests leave on a fixed schedule whatever the server does, and latency is measured from the
scheduled send time, so a stall is not hidden by the generator waiting for it (no coordinated
omission). Prints p50/p90/p99/max, the achieved rate and errors, and where the CPU went per
request (the app's gunicorn workers, PostgreSQL, the emulator answering session lookups, and
this load generator itself, which shares the machine's cores); exits non-zero if p99 is not
below ``--p99-ms``, the achieved rate falls short or any request fails. Only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "app" / "src"))

from streamapp import db  # noqa: E402
from streamapp.config import Settings  # noqa: E402
from streamapp.migrate import upgrade  # noqa: E402
from streamapp.models import Kind, MediaItem, Role, Status, User, Visibility  # noqa: E402
from streamapp.passwords import hash_password  # noqa: E402

from local.app_resources import create_app_resources  # noqa: E402
from local.emulator import Emulator  # noqa: E402
from local.postgres import Postgres  # noqa: E402

WORDS = [
    *("ocean", "mountain", "city", "night", "jazz", "piano", "river", "forest", "desert"),
    *("storm", "sunrise", "drums", "violin", "guitar", "winter", "summer", "dance"),
    *("lecture", "cooking", "travel", "football", "comedy", "history", "science"),
]
HOST = "127.0.0.1"


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# -- the stack -------------------------------------------------------------------------------
def create_aws_resources(endpoint: str, region: str) -> dict[str, str]:
    """What the provisioning playbooks make for the app, as the app's tests make it."""
    kw = {"endpoint_url": endpoint, "region_name": region}
    suffix = uuid.uuid4().hex[:8]
    return create_app_resources(
        lambda service: boto3.client(service, **kw), lambda kind: f"bench-{kind}-{suffix}", region
    ).environment()


def seed_catalog(settings: Settings, count: int) -> list[str]:
    """``count`` ready public items (3 videos : 1 song) of one uploader; returns their ids."""
    rng = random.Random(4)  # noqa: S311 - test data, not secrets
    now = datetime.now(UTC)
    with db.new_session(settings) as session:
        owner = User(
            email=f"uploader-{uuid.uuid4().hex[:8]}@bench.test",
            display_name="Bench uploader",
            password_hash=hash_password(uuid.uuid4().hex),
            role=Role.uploader,
        )
        session.add(owner)
        session.flush()
        ids = []
        for n in range(count):
            item_id = uuid.uuid4()
            video = n % 4 != 3
            rungs = (
                [("1080p", 1920, 1080, 5000), ("720p", 1280, 720, 2800), ("360p", 640, 360, 800)]
                if video
                else [("a192k", 0, 0, 0), ("a64k", 0, 0, 0)]
            )
            session.add(
                MediaItem(
                    id=item_id,
                    owner_id=owner.id,
                    kind=Kind.video if video else Kind.audio,
                    title=" ".join(rng.sample(WORDS, 3)).title() + f" #{n}",
                    description=" ".join(rng.choices(WORDS, k=20)),
                    visibility=Visibility.public,
                    status=Status.ready,
                    progress=1.0,
                    duration_seconds=rng.uniform(30, 3600),
                    source_key=f"sources/{item_id}/source.mp4",
                    source_bytes=rng.randint(10**6, 10**9),
                    probe={"kind": "video" if video else "audio"},
                    hls_prefix=f"hls/{item_id}",
                    thumbnail_key=f"thumbs/{item_id}.{'jpg' if video else 'png'}",
                    renditions=[
                        {
                            "name": name,
                            "kind": "video" if video else "audio",
                            "width": w,
                            "height": h,
                            "video_kbps": v,
                            "audio_kbps": 128 if video else int(name[1:-1]),
                            "bandwidth": (v + 128) * 1000,
                            "playlist": f"{name}/index.m3u8",
                        }
                        for name, w, h, v in rungs
                    ],
                    created_at=now - timedelta(minutes=n),
                    updated_at=now - timedelta(minutes=n),
                )
            )
            ids.append(str(item_id))
        session.commit()
    return ids


@dataclass
class Server:
    port: int
    env: dict[str, str]
    workers: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        # The production command from app/README.md, on a free loopback port.
        cmd = [str(VENV_BIN / "gunicorn"), "-k", "uvicorn.workers.UvicornWorker"]
        cmd += ["-w", str(self.workers), "-b", f"{HOST}:{self.port}", "streamapp.asgi:app"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}); see {self.log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer /readyz within {timeout}s")
            try:
                status, _ = asyncio.run(fetch_once(self.port, "/readyz"))
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)  # gunicorn's graceful stop of its workers
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


# -- a small HTTP/1.1 keep-alive client on asyncio streams -----------------------------------
class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes, bool]:
        lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        fields = {}
        for line in header_lines:
            if ":" in line:
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
        if fields.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                body += await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            body = await self.reader.readexactly(int(fields.get("content-length", "0")))
        return status, body, fields.get("connection", "").lower() != "close"

    def close(self) -> None:
        self.writer.close()


async def fetch_once(
    port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    conn = await Conn.open(port)
    try:
        status, body, _ = await asyncio.wait_for(conn.get(path, headers or {}), 10)
        return status, body
    finally:
        conn.close()


@dataclass
class Result:
    name: str
    sent: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0

    def pct(self, p: float) -> float:
        data = sorted(self.latencies)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, round(p / 100 * len(data) + 0.5) - 1)] * 1000

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


async def drive(
    port: int,
    paths: list[str],
    headers: dict[str, str],
    rate: float,
    seconds: float,
    result: Result | None,
    timeout: float = 5.0,
    max_conns: int = 512,
) -> None:
    """Open-loop constant rate: request i is due at start + i/rate, sent on an idle keep-alive
    connection or a new one; its latency counts from when it was due."""
    clock = time.perf_counter  # uvloop's loop.time() only has millisecond resolution
    idle: list[Conn] = []
    open_conns = 0
    total = int(rate * seconds)
    tasks: set[asyncio.Task[None]] = set()

    def error(kind: str) -> None:
        if result is not None:
            result.errors[kind] = result.errors.get(kind, 0) + 1

    async def one(i: int, due: float) -> None:
        nonlocal open_conns
        conn = idle.pop() if idle else None
        path = paths[i % len(paths)]
        try:
            if conn is not None:
                try:
                    status, _, keep = await asyncio.wait_for(conn.get(path, headers), timeout)
                except (asyncio.IncompleteReadError, ConnectionError):
                    # The server closed this idle keep-alive connection (as HTTP allows):
                    # retry once on a new one, like any HTTP client.
                    conn.close()
                    open_conns -= 1
                    conn = None
            if conn is None:
                if open_conns >= max_conns:
                    error("client connection cap")
                    return
                open_conns += 1
                conn = await asyncio.wait_for(Conn.open(port), timeout)
                status, _, keep = await asyncio.wait_for(conn.get(path, headers), timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            error(type(exc).__name__)
            if conn is not None:
                conn.close()
            open_conns -= 1
            return
        done = clock()
        if keep:
            idle.append(conn)
        else:
            conn.close()
            open_conns -= 1
        if result is None:
            return
        if status != 200:
            error(f"HTTP {status}")
        else:
            result.latencies.append(done - due)

    start = clock()
    for i in range(total):
        due = start + i / rate
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if result is not None:
        result.sent = total
    if tasks:
        await asyncio.wait(tasks, timeout=timeout + 5)
    if result is not None:
        result.elapsed = max(clock() - start, seconds)
    for conn in idle:
        conn.close()


async def settle(port: int, limit: float = 90.0) -> None:
    """Wait (bounded) until a catalog page (thread pool, database) is quick again: requests
    the client gave up on are still worked off server-side and would spill into the next
    measurement."""
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(fetch_once(port, "/api/items?limit=1"), 10)
        except (TimeoutError, OSError):
            continue
        if time.perf_counter() - started < 0.05:
            return
        await asyncio.sleep(0.5)


# -- where the CPU goes ------------------------------------------------------------------------
TICK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, float]:
    """(parent pid, user + system CPU seconds of the process and its reaped children)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[1]), sum(int(x) for x in fields[11:15]) / TICK


def tree_cpu(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process and all its descendants."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):  # gone meanwhile
                stats[int(entry)] = _proc_stat(int(entry))
    totals = {}
    for name, root in roots.items():
        members, grew = {root}, True
        while grew:
            extra = {pid for pid, (ppid, _) in stats.items() if ppid in members} - members
            members |= extra
            grew = bool(extra)
        totals[name] = sum(stats[pid][1] for pid in members if pid in stats)
    return totals


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(
    port: int,
    name: str,
    paths: list[str],
    headers: dict[str, str],
    args: argparse.Namespace,
    roots: dict[str, int],
) -> tuple[Result, dict[str, float]]:
    await settle(port)
    await drive(port, paths, headers, args.rate, args.warmup, None)  # warm pools and caches
    result = Result(name)
    before, mine = tree_cpu(roots), self_cpu()
    await drive(port, paths, headers, args.rate, args.seconds, result)
    after, mine = tree_cpu(roots), self_cpu() - mine
    answered = max(1, len(result.latencies) + result.error_count)
    per_request = {k: 1000 * (after[k] - before.get(k, 0.0)) / answered for k in after}
    per_request["load generator"] = 1000 * mine / answered
    return result, per_request


# -- main --------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200, help="requests per second")
    parser.add_argument("--seconds", type=float, default=20, help="measured time per endpoint")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds first")
    parser.add_argument("--items", type=int, default=200, help="catalog size")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--p99-ms", type=float, default=50.0, help="the bar for p99")
    parser.add_argument("--keep", action="store_true", help="keep the state directory")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    state = Path(tempfile.mkdtemp(prefix="bench-api-"))
    state.chmod(0o755)  # the cluster runs as the postgres user when we are root
    pg = Postgres(state_dir=state / "postgres")
    emulator = Emulator(state_dir=state / "emulator")
    server: Server | None = None
    results: list[Result] = []
    try:
        started = time.monotonic()
        pg.start()
        endpoint = emulator.start()
        os.environ.update(emulator.env())  # fake credentials and region for boto3
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("STREAMAPP_")},
            "STREAMAPP_DATABASE_URL": pg.url(),
            "STREAMAPP_AWS_ENDPOINT_URL": endpoint,
            "STREAMAPP_AWS_REGION": emulator.region,
            "STREAMAPP_SIGNING_MODE": "local",
            "STREAMAPP_SIGNING_SECRET": uuid.uuid4().hex,
            "STREAMAPP_PUBLIC_MEDIA_BASE_URL": "http://127.0.0.1",
            "STREAMAPP_LOG_LEVEL": "INFO",  # production level: one JSON access line a request
            # The load generator is one client: no per-client search budget (ratelimit.py).
            "STREAMAPP_SEARCH_RATE_PER_MINUTE": "1000000",
        }
        env.pop("STREAMAPP_ENV_FILE", None)
        env.update(create_aws_resources(endpoint, emulator.region))
        os.environ.update({k: v for k, v in env.items() if k.startswith(("AWS_", "STREAMAPP_"))})
        settings = Settings()
        upgrade(settings)
        ids = seed_catalog(settings, args.items)

        server = Server(free_port(), env, args.workers, state / "gunicorn.log")
        server.start()
        token = asyncio.run(signup(server.port))
        print(
            f"stack up in {time.monotonic() - started:.1f}s: PostgreSQL, emulator, gunicorn "
            f"-w {args.workers} on {HOST}:{server.port}; {len(ids)} items; "
            f"{os.cpu_count()} cpus, load {loadavg()}",
            flush=True,
        )
        headers = {"Cookie": f"streamapp_session={token}", "Accept": "application/json"}
        rng = random.Random(7)  # noqa: S311 - test data, not secrets
        catalog = []
        for n in range(400):
            if n % 2:
                catalog.append(f"/api/items?q={rng.choice(WORDS)}&limit=24")
            else:
                catalog.append(f"/api/items?limit=24&offset={24 * rng.randrange(8)}")
        playback = [f"/api/items/{rng.choice(ids)}/playback" for _ in range(400)]
        # Sanity: both answer 200 with what they should before we time them.
        for path in (catalog[0], catalog[1], playback[0]):
            status, body = asyncio.run(fetch_once(server.port, path, headers))
            if status != 200:
                raise RuntimeError(f"GET {path} -> {status}: {body[:300]!r}")
        roots = {"app (gunicorn)": server.proc.pid if server.proc else 0}
        postmaster = pg.data_dir / "postmaster.pid"
        if postmaster.is_file():
            roots["PostgreSQL"] = int(postmaster.read_text().split()[0])
        if emulator.pid:
            roots["emulator (DynamoDB)"] = emulator.pid
        for name, paths in (("catalog (list/search)", catalog), ("playback URL", playback)):
            before = loadavg()
            res, cpu = asyncio.run(measure(server.port, name, paths, headers, args, roots))
            results.append(res)
            print(
                f"{name:22s} p50 {res.pct(50):6.1f} ms  p90 {res.pct(90):6.1f} ms  "
                f"p99 {res.pct(99):6.1f} ms  max {max(res.latencies, default=0) * 1000:6.1f} ms  "
                f"rate {res.rate:6.1f}/s of {args.rate:g}  errors {res.error_count}"
                f"{' ' + str(res.errors) if res.errors else ''}  (load {before} -> {loadavg()})",
                flush=True,
            )
            print(
                f"{'':22s} CPU per request: "
                + ", ".join(f"{k} {v:.2f} ms" for k, v in cpu.items())
                + f" (x {args.rate:g}/s = {sum(cpu.values()) * args.rate / 1000:.2f} of "
                f"{os.cpu_count()} cores)",
                flush=True,
            )
    finally:
        if server is not None:
            server.stop()
        emulator.stop()
        pg.stop()
        if args.keep:
            print(f"kept {state}")
        else:
            pg.destroy()
            shutil.rmtree(state, ignore_errors=True)

    failed = []
    for res in results:
        if not res.latencies or res.pct(99) >= args.p99_ms:
            failed.append(f"{res.name}: p99 {res.pct(99):.1f} ms >= {args.p99_ms:g} ms")
        if res.rate < 0.95 * args.rate:
            failed.append(f"{res.name}: achieved {res.rate:.1f}/s < 95% of {args.rate:g}/s")
        if res.error_count:
            failed.append(f"{res.name}: {res.error_count} errors {res.errors}")
    if failed:
        print("FAIL: " + "; ".join(failed), file=sys.stderr)
        return 1
    print(f"OK: p99 < {args.p99_ms:g} ms at {args.rate:g} req/s, no errors")
    return 0


async def signup(port: int) -> str:
    body = json.dumps(
        {"email": f"viewer-{uuid.uuid4().hex[:8]}@bench.test", "password": "bench password 1"}
    ).encode()
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(
            b"POST /api/auth/signup HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        raw = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    head, _, _ = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if " 201 " not in lines[0]:
        raise RuntimeError(f"signup failed: {raw[:300]!r}")
    # The token is only in the session cookie.
    for name, _, value in (line.partition(": ") for line in lines):
        if name.lower() == "set-cookie" and value.startswith("streamapp_session="):
            return value.split(";", 1)[0].split("=", 1)[1]
    raise RuntimeError(f"signup set no session cookie: {raw[:300]!r}")


if __name__ == "__main__":
    sys.exit(main())
