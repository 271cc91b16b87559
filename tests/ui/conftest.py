"""The web UI's stack, all real: PostgreSQL, the emulator, the app under uvicorn and a
transcoding worker as subprocesses, a real nginx in front of both (the signed-URL contract for
/media/, the app for everything else), and Debian's Chromium driven by Playwright.

Playback URLs live only URL_TTL seconds here, so the tests see them expire and renew.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from streamapp.config import Settings

from local.ansible import ROOT
from local.emulator import Emulator
from local.postgres import Postgres
from tests.app import nginx as nginx_harness
from tests.app.conftest import (  # noqa: F401 - app_resources is a fixture
    SIGNING_SECRET,
    app_resources,
    database_settings,
    make_settings,
    migrate,
)

CHROMIUM = os.environ.get("STREAMAPP_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
URL_TTL = 10  # seconds: the Settings minimum; the player must renew its grant several times
ARTIFACTS = ROOT / ".artifacts" / "ui"


@dataclass
class Stack:
    base_url: str
    settings: Settings
    logs: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer:\n{log.read_text()[-3000:]}")


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMAPP_")}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"STREAMAPP_{name.upper()}"] = str(value)
    return env


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    emulator: Emulator,
    postgres: Postgres,
    aws: Callable[..., Any],
    app_resources,  # noqa: F811 - the fixture imported above
) -> Iterator[Stack]:
    res = app_resources
    origin = nginx_harness.publish_media(aws, res.bucket)
    work = tmp_path_factory.mktemp("ui-stack")
    app_port = nginx_harness.free_port()
    server = nginx_harness.start(
        work / "nginx",
        origin,
        SIGNING_SECRET,
        app_upstream=f"http://127.0.0.1:{app_port}",
    )
    postgres.database("streamapp_ui")
    settings = make_settings(
        emulator,
        postgres,
        res,
        # A database of its own: the pages list the whole catalog, not the app suite's items.
        **database_settings(postgres, "streamapp_ui"),
        public_media_base_url=server.base_url,  # the page's own origin: nginx serves both
        url_ttl_seconds=URL_TTL,
        default_role="uploader",  # sign-up in the browser can upload straight away
        max_upload_bytes=20 * 1024 * 1024,
        log_level="INFO",
        host="127.0.0.1",
        port=app_port,
        workers=1,
        work_dir=str(work / "jobs"),
    )
    (work / "jobs").mkdir()
    migrate(settings)
    env = _env(settings)
    bindir = Path(sys.executable).parent
    stack = Stack(server.base_url, settings, work)
    api_log, worker_log = work / "api.log", work / "worker.log"
    try:
        with api_log.open("wb") as out:
            api = subprocess.Popen(
                [str(bindir / "streamapp-api")], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        stack.procs.append(api)
        _wait_http(f"{server.base_url}/healthz", api, api_log)
        with worker_log.open("wb") as out:
            worker = subprocess.Popen(
                [str(bindir / "streamapp-worker")], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        stack.procs.append(worker)
        yield stack
    finally:
        for proc in reversed(stack.procs):
            _stop(proc)
        server.stop()


@pytest.fixture(scope="session")
def media_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 10 s test-pattern video with a tone and a 6 s song, made by ffmpeg's lavfi sources."""
    d = tmp_path_factory.mktemp("ui-media")
    common = ["ffmpeg", "-v", "error", "-y", "-nostdin"]
    video, song = d / "test-pattern.mp4", d / "sine-song.mp3"
    subprocess.run(
        [
            *common,
            *("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=10"),
            *("-f", "lavfi", "-i", "sine=frequency=440:duration=10"),
            *("-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest"),
            str(video),
        ],
        check=True,
        timeout=60,
    )
    subprocess.run(
        [
            *common,
            *("-f", "lavfi", "-i", "sine=frequency=330:duration=6"),
            *("-c:a", "libmp3lame", "-b:a", "96k"),
            str(song),
        ],
        check=True,
        timeout=60,
    )
    return {"video": video, "song": song}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@dataclass
class Console:
    """Console errors, uncaught exceptions and failed requests of one page."""

    errors: list[str] = field(default_factory=list)
    media: list[tuple[float, int, str]] = field(default_factory=list)  # (time, status, url)
    # Where the page's media come from: nginx's /media/, or CloudFront's media paths.
    media_paths: tuple[str, ...] = ("/media/",)

    def attach(self, page: Any) -> None:
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"console.{msg.type}: {msg.text}")
                if msg.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("requestfailed", lambda req: self._failed(req))
        page.on(
            "response",
            lambda resp: (
                self.media.append((time.time(), resp.status, resp.url))
                if any(path in resp.url for path in self.media_paths)
                else None
            ),
        )

    def _failed(self, req: Any) -> None:
        # Aborted media requests are normal: a quality switch cancels the old rung's loads.
        failure = req.failure or ""
        if "ERR_ABORTED" not in failure:
            self.errors.append(f"requestfailed: {req.url} {failure}")


def watch_the_seed(
    url: str, login: dict[str, str], items: dict[str, str], media_paths: tuple[str, ...]
) -> Console:
    """local/seed.py's viewer logs in at ``url`` (make up's load balancer), sees both samples'
    posters in the catalog, picks among the video's three rungs and plays the video and the
    song past 1.5 s. The page's console, with its media responses (URLs under media_paths)."""
    from playwright.sync_api import sync_playwright

    from tests.ui.test_ui import start_playback, wait_playing_past

    console = Console(media_paths=media_paths)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 800})
            context.set_default_timeout(20_000)
            page = context.new_page()
            console.attach(page)
            page.goto("/login")
            page.get_by_label("Email").fill(login["email"])
            page.get_by_label("Password").fill(login["password"])
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{url}/")
            # Both samples are in the catalog.
            page.locator(f'a[href="/watch/{items["video"]}"]').first.wait_for()
            page.locator(f'a[href="/watch/{items["song"]}"]').first.wait_for()
            # Both posters (the video's frame, the song's waveform) load: signed thumbs/ URLs,
            # written by the worker with its instance role.
            for kind in ("video", "song"):
                poster = page.locator(f'a[href="/watch/{items[kind]}"] img').first
                poster.scroll_into_view_if_needed()
                page.wait_for_function(
                    "img => img.complete && img.naturalWidth > 0", arg=poster.element_handle()
                )

            for kind, element in (("video", "video"), ("song", "audio")):
                page.goto(f"/watch/{items[kind]}")
                page.locator(f"{element}#player").wait_for()
                if kind == "video":
                    # The 720p sample's ladder: three rungs to choose from besides Auto.
                    page.wait_for_function(
                        "() => document.querySelectorAll('#quality option').length === 4"
                    )
                    options = page.locator("#quality option").all_inner_texts()
                    assert options[1:] == ["720p", "480p", "360p"], options
                start_playback(page)
                wait_playing_past(page, 1.5, timeout_ms=30_000)
                page.evaluate("document.getElementById('player').pause()")
        finally:
            browser.close()
    return console


@pytest.fixture(scope="session")
def context(browser: Any, stack: Stack) -> Iterator[Any]:
    """One signed-in browser profile shared by the flow (desktop viewport)."""
    ctx = browser.new_context(base_url=stack.base_url, viewport={"width": 1280, "height": 800})
    ctx.set_default_timeout(20_000)
    yield ctx
    ctx.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
