"""The web UI in a real headless Chromium, through a real nginx, on real transcoded HLS.

One user's journey, in order (the tests share the signed-in browser profile): sign up,
upload a video and watch it transcode, play it, switch quality, resume after a reload; upload
and play a song; leave a page open past the playback URL's expiry; browse, search and filter;
history and preferences; error messages; the page's security headers.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import URL_TTL, Console, Stack

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PASSWORD = "a long enough password"
EMAIL = f"ui-{uuid.uuid4().hex[:8]}@example.com"
READY_TIMEOUT_MS = 120_000
STATE: dict[str, Any] = {}


def current_time(page: Any) -> float:
    return float(page.evaluate("document.getElementById('player').currentTime"))


def wait_playing_past(page: Any, seconds: float, timeout_ms: int = 20_000) -> None:
    page.wait_for_function(
        "t => { const m = document.getElementById('player');"
        " return m && !m.paused && m.currentTime > t; }",
        arg=seconds,
        timeout=timeout_ms,
    )


def assert_advances(page: Any, by: float = 1.0) -> None:
    """currentTime grows while the element reports it is playing."""
    start = current_time(page)
    wait_playing_past(page, start + by)


def start_playback(page: Any, timeout_ms: int = 30_000) -> None:
    # The player attaches its stream after fetching a signed URL (hls.js: a MediaSource), and
    # that load aborts a play() made before it; so wait for the stream's metadata first.
    page.wait_for_function(
        "() => { const m = document.getElementById('player'); return m && m.readyState >= 1; }",
        timeout=timeout_ms,
    )
    # Playwright's evaluate runs with a user gesture, like a click on the play button.
    page.evaluate("document.getElementById('player').play()")


def new_page(context: Any) -> tuple[Any, Console]:
    page = context.new_page()
    console = Console()
    console.attach(page)
    return page, console


def upload_through_ui(page: Any, path: Path, title: str) -> str:
    page.goto("/upload")
    page.get_by_label("Media file").set_input_files(str(path))
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Description (optional)").fill(f"{title}, made by ffmpeg lavfi")
    page.get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_function(
        "() => document.getElementById('upload-progress').value === 1", timeout=30_000
    )
    # The transcoding job's progress is shown until the item is ready.
    watch = page.locator("#watch-now")
    page.locator("#watch-now, #failure-reason").wait_for(timeout=READY_TIMEOUT_MS)
    assert watch.count() == 1, page.locator("#failure-reason").inner_text()
    assert page.locator("#job-status").inner_text() == "Ready"
    href = watch.get_attribute("href")
    assert href and href.startswith("/watch/")
    return href


def test_sign_up_upload_and_watch(context: Any, stack: Stack, media_files: dict, artifacts: Path):
    page, console = new_page(context)
    page.goto("/")
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Display name (optional)").fill("UI Tester")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"{stack.base_url}/")
    assert page.locator("#nav .name").inner_text() == "UI Tester"

    href = upload_through_ui(page, media_files["video"], "Test pattern")
    STATE["video"] = href
    page.locator("#watch-now").click()
    page.wait_for_url(f"{stack.base_url}{href}")
    page.wait_for_function("() => document.querySelectorAll('#quality option').length === 3")
    options = page.locator("#quality option").all_inner_texts()
    assert options[1:] == ["240p", "144p"], options
    start_playback(page)
    assert_advances(page, 1.0)
    first_level = page.locator(".stage").get_attribute("data-level")
    assert first_level in ("240p", "144p")
    # The sound comes from the rendition every rung shares (HLS audio group): hls.js loads
    # its segments and the browser decodes them.
    page.wait_for_function(
        "() => document.getElementById('player').webkitAudioDecodedByteCount > 0",
        timeout=15_000,
    )
    assert any("/audio/seg_" in url for _, _, url in console.media), console.media

    # Switch quality: lock to the other rung; the stream switches and keeps playing.
    other = "144p" if first_level == "240p" else "240p"
    page.get_by_label("Quality").select_option(label=other)
    page.wait_for_function(
        "l => document.querySelector('.stage')?.dataset.level === l", arg=other, timeout=15_000
    )
    assert_advances(page, 1.0)
    level_index = page.evaluate("document.getElementById('quality').value")
    assert level_index != "-1"

    # Pause past 3 s: the position is saved; a reload resumes there.
    wait_playing_past(page, 3.0)
    with page.expect_response(
        lambda r: r.url.endswith("/progress") and r.request.method == "PUT"
    ) as saved:
        page.evaluate("document.getElementById('player').pause()")
    assert saved.value.status == 200
    position = saved.value.json()["position_seconds"]
    assert position >= 3.0

    page.reload()
    page.wait_for_function(
        "() => { const m = document.getElementById('player'); return m && m.readyState >= 1; }"
    )
    assert "Resuming at" in page.locator(".resume").inner_text()
    resumed = current_time(page)
    assert abs(resumed - position) < 1.0, (resumed, position)
    start_playback(page)
    assert_advances(page, 0.5)
    assert current_time(page) >= position

    page.evaluate("document.getElementById('player').pause()")
    page.screenshot(path=str(artifacts / "watch-page.png"))
    statuses = {status for _, status, _ in console.media}
    assert statuses <= {200, 206}, console.media
    assert not console.errors, console.errors
    page.close()


def test_upload_and_play_a_song(context: Any, media_files: dict, artifacts: Path):
    page, console = new_page(context)
    href = upload_through_ui(page, media_files["song"], "Sine song")
    STATE["song"] = href
    page.goto(href)
    page.wait_for_function("() => document.querySelectorAll('#quality option').length === 3")
    assert page.locator("audio#player").count() == 1
    assert page.locator(".cover img").evaluate("img => img.complete && img.naturalWidth > 0")
    options = page.locator("#quality option").all_inner_texts()
    assert options[1:] == ["96 kbps", "48 kbps"], options
    start_playback(page)
    assert_advances(page, 1.0)
    page.screenshot(path=str(artifacts / "listen-page.png"))
    assert not console.errors, console.errors
    page.close()


def test_page_left_open_past_url_expiry_keeps_playing(context: Any, stack: Stack):
    page, console = new_page(context)
    page.goto(STATE["video"])
    page.wait_for_function("() => document.querySelectorAll('#quality option').length === 3")
    stage = page.locator(".stage")
    first_expiry = int(stage.get_attribute("data-url-expires") or 0)
    page.evaluate("document.getElementById('player').pause()")
    # Leave the page open well past the first URL's expiry.
    wait = first_expiry - time.time() + 2
    assert 0 < wait <= URL_TTL + 2
    page.wait_for_timeout(wait * 1000)
    assert int(stage.get_attribute("data-grants") or 0) >= 2  # renewed in the background
    assert int(stage.get_attribute("data-url-expires") or 0) > first_expiry

    # Now the player needs new requests: a rung it has not loaded yet, from the start.
    expired_at = time.time()
    page.evaluate("document.getElementById('player').currentTime = 0")
    current = stage.get_attribute("data-level")
    other = "144p" if current == "240p" else "240p"
    page.get_by_label("Quality").select_option(label=other)
    start_playback(page)
    page.wait_for_function(
        "l => document.querySelector('.stage')?.dataset.level === l", arg=other, timeout=15_000
    )
    assert_advances(page, 1.5)
    later = [(status, url) for t, status, url in console.media if t > expired_at]
    assert later, "no media requests after expiry"
    assert all(status in (200, 206) for status, _ in later), later
    # Those requests carried a renewed signature: the expiry in their path is a newer one.
    expiries = {int(url.split("/media/s/")[1].split("/")[1]) for _, url in later}
    assert min(expiries) > first_expiry, (expiries, first_expiry)
    assert not console.errors, console.errors
    page.close()


def test_browse_search_filter_and_thumbnails(context: Any, artifacts: Path):
    page, console = new_page(context)
    page.goto("/?kind=")
    cards = page.locator(".grid .item")
    cards.first.wait_for()
    assert cards.count() >= 2
    page.wait_for_function(
        "() => [...document.querySelectorAll('.grid img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    titles = page.locator(".item-title").all_inner_texts()
    assert "Test pattern" in titles and "Sine song" in titles
    assert page.locator(".grid .duration").first.inner_text() in ("0:10", "0:06")

    page.get_by_label("Show").select_option(label="Music")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.item .badge')].every(b => b.textContent === 'Music')"
        " && document.querySelectorAll('.item').length > 0"
    )
    assert "kind=audio" in page.url

    page.get_by_label("Show").select_option(label="All")
    page.get_by_label("Search").fill("pattern")
    page.get_by_role("button", name="Search").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.item-title')].map(t => t.textContent)"
        ".every(t => t === 'Test pattern')"
    )
    page.get_by_label("Search").fill("no such thing 42")
    page.get_by_role("button", name="Search").click()
    page.get_by_text("Nothing matches").wait_for()

    # A phone-sized screen: one column, nothing wider than the viewport.
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto("/?kind=")
    cards.first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(artifacts / "browse-phone.png"), full_page=True)
    page.goto(STATE["video"])
    page.wait_for_function("() => document.querySelectorAll('#quality option').length === 3")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(artifacts / "watch-phone.png"))
    assert not console.errors, console.errors
    page.close()


def test_history_and_preferences(context: Any):
    page, console = new_page(context)
    page.goto("/history")
    rows = page.locator(".history-row")
    rows.first.wait_for()
    assert any("Test pattern" in row for row in rows.all_inner_texts())

    page.goto("/preferences")
    page.get_by_label("Preferred video quality").select_option("144p")
    page.get_by_label("Start playing automatically").uncheck()
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved.").wait_for()
    page.reload()
    assert page.get_by_label("Preferred video quality").input_value() == "144p"
    assert not page.get_by_label("Start playing automatically").is_checked()

    # The player honours them: starts on the preferred rung, does not autoplay.
    page.goto(STATE["video"])
    page.wait_for_function("() => document.querySelector('.stage')?.dataset.level === '144p'")
    assert page.get_by_label("Quality").input_value() != "-1"
    page.wait_for_timeout(500)
    assert page.evaluate("document.getElementById('player').paused")
    assert not console.errors, console.errors
    page.close()


def test_error_messages_and_log_out(browser: Any, stack: Stack):
    ctx = browser.new_context(base_url=stack.base_url)
    page = ctx.new_page()
    page.goto("/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill("wrong password here")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "Wrong email or password."

    page.goto("/signup")
    page.get_by_label("Email").fill("not-an-email")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    assert page.get_by_role("alert").inner_text() == "Enter a valid email address."
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    assert "at least 10 characters" in page.get_by_role("alert").inner_text()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.get_by_text("An account with this email already exists.").wait_for()

    # Pages behind the login send you to it, and back afterwards.
    page.goto(STATE["video"])
    page.wait_for_url("**/login?next=*")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{stack.base_url}{STATE['video']}")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{stack.base_url}/")
    page.get_by_role("link", name="Log in").wait_for()
    ctx.close()


def test_pages_have_a_strict_csp_and_no_inline_script(context: Any, stack: Stack):
    page = context.new_page()
    for path in ("/", "/login", STATE["video"], "/upload"):
        resp = page.goto(path)
        assert resp is not None and resp.status == 200
        csp = resp.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe" not in csp
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert resp.headers["x-content-type-options"] == "nosniff"
        html = page.content()
        assert "<script>" not in html
        assert page.evaluate("[...document.scripts].every(s => s.src.startsWith(location.origin))")
        # No secrets or tokens in the page: the session lives in an HttpOnly cookie.
        assert "test-secure-link-secret" not in html
        assert page.evaluate("document.cookie") == ""
    page.close()


def test_expired_signature_is_renewed_after_a_403(context: Any, stack: Stack):
    """A page whose timers did not renew in time (a sleeping tab, a clock running behind the
    server's) sends an expired URL: nginx answers 403 and the player renews and goes on."""
    page, console = new_page(context)
    # Date.now() a minute behind: the page believes its grant is good for TTL + 60 s, so no
    # timer renews it before it really expires; timers themselves keep running.
    page.clock.set_fixed_time(time.time() - 60)
    page.goto(STATE["video"])
    page.wait_for_function("() => document.querySelectorAll('#quality option').length === 3")
    stage = page.locator(".stage")
    first_expiry = int(stage.get_attribute("data-url-expires") or 0)
    page.evaluate("document.getElementById('player').pause()")
    page.wait_for_timeout((first_expiry - time.time() + 1.5) * 1000)
    assert stage.get_attribute("data-grants") == "1"  # nothing renewed it

    expired_at = time.time()
    page.evaluate("document.getElementById('player').currentTime = 0")
    current = stage.get_attribute("data-level")
    other = "144p" if current == "240p" else "240p"
    page.get_by_label("Quality").select_option(label=other)
    start_playback(page)
    page.wait_for_function(
        "l => document.querySelector('.stage')?.dataset.level === l", arg=other, timeout=20_000
    )
    assert_advances(page, 1.5)
    later = [(status, url) for t, status, url in console.media if t > expired_at]
    assert 403 in {status for status, _ in later}, later  # the expired URL really was refused
    assert int(stage.get_attribute("data-grants") or 0) >= 2
    assert any(
        s == 200 and int(u.split("/media/s/")[1].split("/")[1]) > first_expiry for s, u in later
    ), later
    unexpected = [e for e in console.errors if "status of 403" not in e]
    assert not unexpected, unexpected
    page.close()


@pytest.mark.parametrize(
    "target", ["/%5Cevil.example", "//evil.example", "/%09/evil.example", "https://evil.example/"]
)
def test_login_never_redirects_off_site(browser: Any, stack: Stack, target: str):
    """`next` is resolved against the page's origin: "/\\evil.example" is "//evil.example" to a
    browser, another site."""
    import json
    import urllib.request

    email = f"ui-next-{uuid.uuid4().hex[:8]}@example.com"
    signup = urllib.request.Request(
        f"{stack.base_url}/api/auth/signup",
        data=json.dumps({"email": email, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(signup, timeout=30).close()
    ctx = browser.new_context(base_url=stack.base_url)
    page = ctx.new_page()
    page.goto(f"/login?next={target}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # Wherever the login sends the browser (a site that does not resolve: an error page).
    page.wait_for_url(lambda url: "/login" not in url)
    assert page.url == f"{stack.base_url}/", page.url
    ctx.close()


def test_a_page_of_another_origin_cannot_upload_for_the_user(
    browser: Any, stack: Stack, media_files: dict[str, Path]
):
    """A page on another port of the same host is the same site: Chromium sends it the
    user's SameSite=Lax cookie, and a multipart POST needs no CORS preflight. Before the app
    checked Sec-Fetch-Site/Origin, such a page uploaded media as the signed-in user."""
    import base64
    import http.server
    import threading

    class Attacker(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>Free prizes</title><p>hello</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    # A real server on 127.0.0.1 (a page Playwright made up would not be in the loopback
    # address space, and Chromium's local network access checks would stop it anyway).
    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    ctx = browser.new_context(base_url=stack.base_url)
    try:
        email = f"ui-csrf-{uuid.uuid4().hex[:8]}@example.com"
        body = {"email": email, "password": PASSWORD}
        signed_up = ctx.request.post("/api/auth/signup", data=body)
        assert signed_up.status == 201, signed_up.text()
        page = ctx.new_page()
        page.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
        song = base64.b64encode(media_files["song"].read_bytes()).decode()
        with page.expect_response(lambda r: r.url.endswith("/api/items")) as answer:
            page.evaluate(
                """async ([target, b64]) => {
                  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                  const form = new FormData();
                  form.append('title', 'Forged by another page');
                  form.append('file', new Blob([bytes], { type: 'audio/mpeg' }), 'song.mp3');
                  await fetch(target, { method: 'POST', mode: 'no-cors', credentials: 'include',
                                        body: form });
                }""",
                [f"{stack.base_url}/api/items", song],
            )
        assert answer.value.status == 403
        mine = ctx.request.get("/api/items?mine=true").json()
        assert mine["total"] == 0, mine
    finally:
        ctx.close()
        evil.shutdown()


def _log_in(browser: Any, stack: Stack, email: str, password: str) -> Any:
    ctx = browser.new_context(base_url=stack.base_url)
    page = ctx.new_page()
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{stack.base_url}/")
    return page


def test_password_change_and_sign_out_everywhere(browser: Any, stack: Stack):
    """Changing the password (it asks for the current one) signs the other devices out and
    keeps this one in; "Sign out everywhere" ends every session."""
    import json
    import urllib.request

    email = f"ui-pw-{uuid.uuid4().hex[:8]}@example.com"
    signup = urllib.request.Request(
        f"{stack.base_url}/api/auth/signup",
        data=json.dumps({"email": email, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(signup, timeout=30).close()
    phone, laptop = (_log_in(browser, stack, email, PASSWORD) for _ in range(2))

    laptop.goto("/preferences")
    laptop.get_by_label("Current password").fill("not my password")
    laptop.get_by_label("New password").fill("a new and longer password")
    laptop.get_by_role("button", name="Change password").click()
    assert laptop.get_by_role("alert").inner_text() == "The current password is wrong."
    laptop.get_by_label("Current password").fill(PASSWORD)
    laptop.get_by_role("button", name="Change password").click()
    laptop.get_by_text("Password changed. Your other devices are signed out.").wait_for()

    phone.goto("/history")
    phone.wait_for_url("**/login?next=*")  # signed out
    laptop.goto("/history")
    assert laptop.url == f"{stack.base_url}/history"  # still signed in, with a new session

    phone = _log_in(browser, stack, email, "a new and longer password")
    laptop.goto("/preferences")
    laptop.get_by_role("button", name="Sign out everywhere").click()
    laptop.wait_for_url(f"{stack.base_url}/")
    laptop.get_by_role("link", name="Log in").wait_for()
    phone.goto("/history")
    phone.wait_for_url("**/login?next=*")
    for page in (phone, laptop):
        page.context.close()
