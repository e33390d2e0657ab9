"""The Inspector (/ui/) in Debian's Chromium against a live `sandbox-agent server`, located by role and name.

Every test fails on any JS console error. Screenshots of each view at 1440 and 390 px go to artifacts/inspector/.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from .conftest import ServerProcess
from .inspector_helpers import (  # the *_fixture names register the browser and console fixtures
    ARTIFACTS,
    NARROW,
    ROOT,
    WIDE,
    ConsoleGuard,
    both_widths,
    browser_fixture,  # noqa: F401
    console_fixture,  # noqa: F401
    login,
    new_page,
    shot,
    unnamed_controls,
)

TOKEN = "inspector-token"
CONNECTED = re.compile(r"^Connected$")  # not "Disconnected, retrying…"
STATIC = ROOT / "sandbox_agent" / "ui" / "static"
VENDOR = STATIC / "vendor"


def create(server: ServerProcess, **params: Any) -> str:
    reply = server.rpc("sessions/create", {"agent": "mock", **params})
    assert "result" in reply, reply
    return reply["result"]["session_id"]


def prompt(server: ServerProcess, session_id: str, text: str) -> dict:
    reply = server.rpc("sessions/prompt", {"session_id": session_id, "message": text, "timeout": 30})
    assert "result" in reply, reply
    return reply["result"]


def send(page: Any, text: str) -> None:
    box = page.get_by_role("textbox", name="Message", exact=True)
    box.fill(text)
    page.get_by_role("button", name="Send").click()
    expect(box).to_have_value("")


def open_session(page: Any, server: ServerProcess, session_id: str) -> None:
    page.goto(f"{server.url}/ui/#/session/{session_id}")
    expect(page.get_by_role("heading", name=f"Session {session_id}")).to_be_visible()
    expect(page.locator("section.session[data-loaded=true]")).to_have_count(1)


# --- serving and auth (no browser) ---------------------------------------------------------------------------


def test_static_files_are_open_and_the_api_is_not(server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(token=TOKEN)
    page = httpx.get(srv.url + "/ui/")
    assert page.status_code == 200 and "<title>Sandbox Agent Inspector</title>" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert httpx.get(srv.url + "/ui/js/app.js").status_code == 200
    assert httpx.get(srv.url + "/ui", follow_redirects=False).headers["location"] == "/ui/"
    assert httpx.get(srv.url + "/v1/health").json()["auth"] == "bearer"
    # only the static files: the API, SSE, metrics and a POST under /ui/ still need the token
    body = {"jsonrpc": "2.0", "id": 1, "method": "sessions/list", "params": {}}
    assert httpx.post(srv.url + "/v1/rpc", json=body).status_code == 401
    assert httpx.post(srv.url + "/ui/", json=body).status_code == 401
    assert httpx.get(srv.url + "/v1/metrics").status_code == 401
    assert httpx.get(srv.url + "/ui/../v1/metrics").status_code in (401, 404)
    assert httpx.get(srv.url + "/ui/nothing-here.js").status_code == 404


def test_cors_allow_origin_flag(server_factory) -> None:  # type: ignore[no-untyped-def]
    origin = "http://inspector.example"
    srv = server_factory(token=TOKEN, extra=["--cors-allow-origin", origin])
    pre = httpx.options(
        srv.url + "/v1/rpc",
        headers={"origin": origin, "access-control-request-method": "POST",
                 "access-control-request-headers": "authorization, content-type"},
    )
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == origin
    body = {"jsonrpc": "2.0", "id": 1, "method": "sessions/list", "params": {}}
    ok = httpx.post(srv.url + "/v1/rpc", json=body, headers={"origin": origin, **srv.headers()})
    assert ok.headers["access-control-allow-origin"] == origin and ok.json()["result"] == []
    other = httpx.post(srv.url + "/v1/rpc", json=body, headers={"origin": "http://evil.example", **srv.headers()})
    assert "access-control-allow-origin" not in other.headers


def test_inspector_served_elsewhere_drives_another_daemon(server_factory, browser, console: ConsoleGuard,  # type: ignore[no-untyped-def]
                                                          tmp_path: Path) -> None:
    """A page from one origin drives a daemon on another that allows it with --cors-allow-origin."""
    page_host = server_factory(token=None, state_dir=tmp_path / "a")
    origin = page_host.url
    daemon = server_factory(token=TOKEN, state_dir=tmp_path / "b", extra=["--cors-allow-origin", origin])
    sid = create(daemon)
    page = new_page(browser, console)
    page.goto(origin + "/ui/")
    expect(page.get_by_role("status").filter(has_text=CONNECTED)).to_be_visible()
    page.get_by_role("button", name="Set token").click()
    page.get_by_text("Another daemon").click()
    page.get_by_role("textbox", name="Daemon address").fill(daemon.url)
    page.get_by_role("textbox", name="Token").fill(TOKEN)
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("link", name=sid)).to_be_visible()
    page.get_by_role("link", name=sid).click()
    send(page, "hello from elsewhere")
    expect(page.get_by_role("article", name="Assistant message").last).to_contain_text("You said: hello from elsewhere")


def test_vendored_xterm_matches_its_lock() -> None:
    """The committed xterm.js copy is what scripts/ui-vendor wrote (sha256 in vendor/LOCK)."""
    lines = [ln for ln in (VENDOR / "LOCK").read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines, "vendor/LOCK lists no files"
    for line in lines:
        digest, name = line.split()
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, f"{name} differs from vendor/LOCK"


@pytest.mark.slow
def test_vendored_xterm_is_reproducible(tmp_path: Path) -> None:
    """scripts/ui-vendor, run again from npm, produces the committed files byte for byte."""
    done = subprocess.run([str(ROOT / "scripts" / "ui-vendor"), str(tmp_path)], capture_output=True, text=True,
                          timeout=300)
    offline = any(code in done.stderr for code in ("ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNREFUSED"))
    if done.returncode != 0 and offline:
        pytest.skip(f"the npm registry is unreachable: {done.stderr.strip()[-200:]}")
    assert done.returncode == 0, done.stderr
    for name in ("xterm.js", "xterm.css", "xterm.LICENSE", "LOCK"):
        assert (tmp_path / name).read_bytes() == (VENDOR / name).read_bytes(), f"vendor/{name} is stale"


# --- the browser ---------------------------------------------------------------------------------------------


def test_no_token_shows_no_data(server_factory, browser, console: ConsoleGuard) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(token=TOKEN)
    sid = create(srv)
    page = new_page(browser, console)
    page.goto(srv.url + "/ui/")
    expect(page.get_by_role("dialog", name="Bearer token")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="No token")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("heading", name="Token needed")).to_be_visible()
    page.goto(srv.url + f"/ui/#/session/{sid}")
    page.wait_for_timeout(500)
    assert sid not in page.content()
    assert page.get_by_role("table").count() == 0
    both_widths(page, "no-token")


def test_wrong_token_is_refused_and_never_in_a_url(server_factory, browser) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(token=TOKEN)
    create(srv)
    # the refused WebSocket handshake is logged by Chromium itself; nothing else may be
    guard = ConsoleGuard(allowed=("WebSocket connection to",))
    page = new_page(browser, guard)
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(srv.url + "/ui/")
    page.get_by_role("textbox", name="Token").fill("not-the-token")
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("heading", name="Token refused")).to_be_visible()
    page.get_by_role("button", name="Enter token").click()
    page.get_by_role("textbox", name="Token").fill(TOKEN)
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("table", name="Sessions").get_by_role("row")).to_have_count(2)
    assert page.evaluate("sessionStorage.getItem('sandbox-agent.token')") == TOKEN
    assert page.evaluate("localStorage.length") == 0
    assert not [u for u in [*urls, page.url] if TOKEN in u or "not-the-token" in u]
    guard.check()


def test_mock_session_end_to_end(server_factory, browser, console: ConsoleGuard, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(token=TOKEN)
    page = new_page(browser, console)
    login(page, srv.url, TOKEN, "#/new")
    expect(page.get_by_role("combobox", name="Agent", exact=True)).to_contain_text("Mock agent")
    page.get_by_role("combobox", name="Agent", exact=True).select_option("mock")
    page.get_by_role("combobox", name="Permission mode").select_option("default")
    page.get_by_role("button", name="Add variable").click()
    page.get_by_role("textbox", name="Name 1").fill("MOCK_SECRET")
    page.get_by_label("Value 1").fill("s3cret-value")
    both_widths(page, "create")
    assert unnamed_controls(page) == []
    page.get_by_role("button", name="Create session").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Session ses_"))).to_be_visible()
    sid = page.url.rsplit("/", 1)[-1]
    assert "s3cret-value" not in page.content()

    # streaming deltas: the assistant message grows while the turn runs, then the turn can be interrupted
    send(page, "slow 20")
    reply = page.get_by_role("article", name="Assistant message").last
    expect(reply).to_contain_text("tick3")
    first = reply.inner_text()
    expect(reply).to_contain_text("tick8")
    assert len(reply.inner_text()) > len(first)
    expect(page.get_by_role("status", name="Session status")).to_have_text("running")
    shot(page, "streaming")
    page.get_by_role("toolbar", name="Session actions").get_by_role("button", name="Interrupt").click()
    expect(page.get_by_text("Turn interrupted")).to_be_visible()
    expect(page.get_by_role("status", name="Session status")).to_have_text("idle")

    # a permission, approved once: the card goes away and the diff of the written file shows
    send(page, "permission granted.txt")
    card = page.get_by_role("article", name="Permission request: write_file")
    expect(card.get_by_label("Requested")).to_have_text("granted.txt")
    expect(page.get_by_role("status", name="Session status")).to_have_text("awaiting input")
    both_widths(page, "permission", card)
    assert unnamed_controls(page) == []
    card.get_by_role("button", name="Allow once").click()
    expect(card).to_have_count(0)
    diff = page.get_by_role("region", name="Diff of granted.txt")
    expect(diff).to_contain_text("+written by the mock agent")
    expect(page.get_by_role("article", name="Assistant message").last).to_contain_text("Permission granted (once)")
    usage = page.get_by_role("definition").filter(has_text=re.compile(r"^\d+ turns?, \d+ tokens in, \d+ out$"))
    expect(usage).to_be_visible()  # the session's usage, refreshed when a turn ends

    # another, rejected with a note the agent sees
    send(page, "permission nope.txt")
    card = page.get_by_role("article", name="Permission request: write_file")
    card.get_by_role("textbox", name="Note for the agent").fill("not that file")
    card.get_by_role("button", name="Reject").click()
    expect(card).to_have_count(0)
    expect(page.get_by_role("article", name="Assistant message").last).to_contain_text(
        "Permission denied: not that file")

    # a question, answered with an option
    send(page, "question Which color?")
    q = page.get_by_role("article", name="Question: Which color?")
    q.get_by_role("radio", name="Green").check()
    both_widths(page, "question", q)
    assert unnamed_controls(page) == []
    q.get_by_role("button", name="Answer").click()
    expect(q).to_have_count(0)
    expect(page.get_by_role("article", name="Assistant message").last).to_contain_text("You chose Green.")

    # everything: reasoning (collapsed), a tool call with its nested result, a command with output and exit code
    send(page, "everything")
    expect(page.get_by_role("article", name="Assistant message").last).to_contain_text("Done with everything.")
    reasoning = page.get_by_role("group", name="Reasoning").last
    expect(reasoning).not_to_have_attribute("open", "")
    call = page.get_by_role("group", name="Tool call search").last
    expect(call.get_by_role("group", name="Tool result")).to_contain_text("1 result")
    command = page.get_by_role("article", name="Command echo hello").last
    expect(command.get_by_label("Command output")).to_have_text("hello\n")
    expect(command).to_contain_text("exit code 0")
    expect(page.get_by_role("region", name="Diff of everything.txt")).to_be_visible()
    send(page, "error boom")
    expect(page.get_by_role("alert", name="Error")).to_contain_text("boom")
    both_widths(page, "conversation")

    # attachments: one image and one file, as content parts the agent counts
    image = tmp_path / "dot.png"
    image.write_bytes(bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360f8cf000001010100184dd5d40000000049454e44ae426082"))
    notes = tmp_path / "notes.txt"
    notes.write_text("hello notes\n")
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach files").click()
    chooser.value.set_files([str(image), str(notes)])
    expect(page.get_by_role("list", name="Attachments").get_by_role("listitem")).to_have_count(2)
    send(page, "look at these")
    expect(page.get_by_role("article", name="Assistant message").last).to_contain_text("(with 1 image, 1 file)")
    expect(page.get_by_role("img", name="Attached image").last).to_be_visible()

    # raw events: filter by type, the JSON of an event, jump to a sequence
    page.get_by_role("tab", name="Raw events").click()
    events = page.get_by_role("listbox", name="Events")
    page.get_by_role("combobox", name="Event type").select_option("permission.resolved")
    expect(events.get_by_role("option")).to_have_count(2)  # the one allowed, the one rejected
    events.get_by_role("option").first.click()
    expect(page.get_by_role("region", name="Event JSON")).to_contain_text('"status": "accept"')
    both_widths(page, "raw-events")
    assert unnamed_controls(page) == []
    page.get_by_role("combobox", name="Event type").select_option("")
    page.get_by_role("spinbutton", name="Jump to sequence").fill("5")
    page.get_by_role("button", name="Go").click()
    expect(events.get_by_role("option", selected=True)).to_contain_text("#5")
    expect(page.get_by_role("region", name="Event JSON")).to_contain_text('"sequence": 5')
    events.press("ArrowDown")
    expect(page.get_by_role("region", name="Event JSON")).to_contain_text('"sequence": 6')

    # the sessions list shows it, with live status; the journal never saw the env value
    page.get_by_role("link", name="Sessions").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=sid))
    expect(row).to_contain_text("idle")
    assert "s3cret-value" not in json.dumps(srv.rpc("sessions/get", {"session_id": sid}))


def test_sessions_list_filters_and_updates_live(server_factory, browser, console: ConsoleGuard) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(token=TOKEN)
    done = create(srv)
    prompt(srv, done, "hello")
    srv.rpc("sessions/terminate", {"session_id": done})
    busy = create(srv)
    page = new_page(browser, console)
    login(page, srv.url, TOKEN)
    table = page.get_by_role("table", name="Sessions")
    expect(table.get_by_role("row")).to_have_count(3)
    row = table.get_by_role("row").filter(has=page.get_by_role("link", name=busy))
    expect(row).to_contain_text("idle")
    srv.rpc("sessions/send_message", {"session_id": busy, "message": "slow 5"})
    expect(row).to_contain_text("running")
    expect(row).to_contain_text(re.compile(r"\d+ s ago"))
    page.get_by_role("combobox", name="Status").select_option("ended")
    expect(table.get_by_role("row")).to_have_count(2)
    expect(table.get_by_role("link", name=done)).to_be_visible()
    page.get_by_role("combobox", name="Status").select_option("")
    page.get_by_role("combobox", name="Agent").select_option("mock")
    expect(table.get_by_role("row")).to_have_count(3)
    both_widths(page, "sessions")
    assert unnamed_controls(page) == []
    srv.rpc("sessions/interrupt", {"session_id": busy})
    expect(row).to_contain_text("idle")


def test_terminate_and_resume(server_factory, browser, console: ConsoleGuard) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(token=TOKEN)
    sid = create(srv)
    prompt(srv, sid, "hello")
    page = new_page(browser, console)
    login(page, srv.url, TOKEN)
    open_session(page, srv, sid)
    actions = page.get_by_role("toolbar", name="Session actions")
    expect(actions.get_by_role("button", name="Resume")).to_be_disabled()
    actions.get_by_role("button", name="Terminate").click()
    expect(page.get_by_text("Session ended: terminated by daemon")).to_be_visible()
    expect(page.get_by_role("status", name="Session status")).to_have_text("ended")
    actions.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("status", name="Session status")).to_have_text("idle")
    send(page, "history")
    expect(page.get_by_role("article", name="Assistant message").last).to_contain_text("hello")


def test_reconnects_after_a_daemon_restart(server_factory, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    state = tmp_path / "state"
    srv = server_factory(token=TOKEN, state_dir=state, extra=["--port", str(port)])
    sid = create(srv)
    prompt(srv, sid, "hello before")
    # while the daemon is down, Chromium itself logs each refused reconnect; nothing else may be logged
    guard = ConsoleGuard(allowed=("WebSocket connection to",))
    page = new_page(browser, guard)
    login(page, srv.url, TOKEN)
    open_session(page, srv, sid)
    srv.kill9()
    expect(page.get_by_role("status").filter(has_text="Disconnected, retrying")).to_be_visible()
    again = server_factory(token=TOKEN, state_dir=state, extra=["--port", str(port)])
    expect(page.get_by_role("status").filter(has_text=CONNECTED)).to_be_visible(timeout=30_000)
    expect(page.locator("section.session[data-loaded=true]")).to_have_count(1)
    again.rpc("sessions/resume", {"session_id": sid})
    send(page, "hello after")
    expect(page.get_by_text("Session resumed")).to_be_visible()
    expect(page.get_by_role("article", name="Assistant message").last).to_contain_text("You said: hello after")
    expect(page.get_by_role("article", name="User message").first).to_contain_text("hello before")
    guard.check()


def test_two_browsers_on_one_session(server_factory, browser, console: ConsoleGuard) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(token=TOKEN)
    sid = create(srv)
    a = new_page(browser, console)
    b = new_page(browser, console, NARROW)
    for page in (a, b):
        login(page, srv.url, TOKEN)
        open_session(page, srv, sid)
    send(a, "question Ship it?")
    cards = [p.get_by_role("article", name="Question: Ship it?") for p in (a, b)]
    for card in cards:
        expect(card).to_be_visible()
    shot(b, "two-clients")
    cards[1].get_by_role("textbox", name="Other answer").fill("Yes, today")
    cards[1].get_by_role("button", name="Answer").click()
    for page, card in zip((a, b), cards, strict=True):
        expect(card).to_have_count(0)
        expect(page.get_by_role("article", name="Assistant message").last).to_contain_text("You chose Yes, today.")
    # both live: a turn started elsewhere streams into both
    srv.rpc("sessions/send_message", {"session_id": sid, "message": "tool weather"})
    for page in (a, b):
        expect(page.get_by_role("group", name="Tool call search").last).to_contain_text("3 results for 'weather'")


def tab_to(page: Any, target: Any, limit: int = 60) -> None:
    """Press Tab until `target` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {target}")


def test_keyboard_only(server_factory, browser, console: ConsoleGuard) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(token=TOKEN)
    sid = create(srv)
    page = new_page(browser, console)
    login(page, srv.url, TOKEN)
    link = page.get_by_role("link", name=sid)
    expect(link).to_be_visible()
    tab_to(page, link)
    page.keyboard.press("Enter")
    expect(page.locator("section.session[data-loaded=true]")).to_have_count(1)
    box = page.get_by_role("textbox", name="Message", exact=True)
    tab_to(page, box)
    page.keyboard.type("question Pick one?")
    page.keyboard.press("Enter")
    card = page.get_by_role("article", name="Question: Pick one?")
    red = card.get_by_role("radio", name="Red")
    tab_to(page, red)
    page.keyboard.press("Space")
    expect(red).to_be_checked()
    tab_to(page, card.get_by_role("button", name="Answer"))
    page.keyboard.press("Enter")
    expect(card).to_have_count(0)
    expect(page.get_by_role("article", name="Assistant message").last).to_contain_text("You chose Red.")
    conversation_tab = page.get_by_role("tab", name="Conversation")
    conversation_tab.focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Raw events")).to_have_attribute("aria-selected", "true")
    events = page.get_by_role("listbox", name="Events")
    tab_to(page, events)
    page.keyboard.press("Home")
    expect(page.get_by_role("region", name="Event JSON")).to_contain_text('"sequence": 1,')
    page.keyboard.press("End")
    expect(page.get_by_role("region", name="Event JSON")).to_contain_text('"type": "turn.ended"')


def test_agents_view_and_install_progress(server_factory, browser, console: ConsoleGuard) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(token=TOKEN)
    page = new_page(browser, console)
    login(page, srv.url, TOKEN, "#/agents")
    agents = page.get_by_role("table", name="Agents", exact=True)
    mock = agents.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Mock agent"))
    expect(mock).to_contain_text("0.1.0")
    matrix = page.get_by_role("table", name="Coverage matrix")
    expect(matrix.get_by_role("columnheader", name="Mock agent")).to_be_visible()
    deltas = matrix.get_by_role("row").filter(has=page.get_by_role("rowheader", name="streaming deltas"))
    expect(deltas).to_contain_text("yes")
    both_widths(page, "agents")
    assert unnamed_controls(page) == []
    mock.get_by_role("button", name="Reinstall Mock agent").click()
    expect(mock.get_by_role("status")).to_contain_text("last step: installed")


def test_terminal_tab(server_factory, browser, console: ConsoleGuard) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(token=TOKEN)
    sid = create(srv)
    page = new_page(browser, console)
    login(page, srv.url, TOKEN)
    open_session(page, srv, sid)
    page.get_by_role("tab", name="Terminal").click()
    page.get_by_role("button", name="Open terminal").click()
    expect(page.get_by_role("status").filter(has_text="Terminal ")).to_be_visible()
    expect(page.locator(".xterm-rows")).to_contain_text(re.compile(r"[$#]"))  # the shell's prompt
    page.keyboard.type("echo inspector-$((40+2))\n")
    expect(page.locator(".xterm-rows")).to_contain_text("inspector-42")
    both_widths(page, "terminal")
    assert unnamed_controls(page) == []
    page.get_by_role("button", name="Close terminal").click()
    expect(page.get_by_role("status").filter(has_text="Closed.")).to_be_visible()


# --- performance ---------------------------------------------------------------------------------------------


def fill_session(srv: ServerProcess, sid: str, events: int) -> int:
    """Turns of `everything` (about 28 events each) until the session holds `events`."""
    with httpx.Client(headers=srv.headers(), timeout=30) as http:
        count = 0
        while count < events:
            body = {"jsonrpc": "2.0", "id": 1, "method": "sessions/prompt",
                    "params": {"session_id": sid, "message": "everything", "timeout": 30}}
            assert "result" in http.post(srv.url + "/v1/rpc", json=body).json()
            get = {"jsonrpc": "2.0", "id": 2, "method": "sessions/get", "params": {"session_id": sid}}
            count = http.post(srv.url + "/v1/rpc", json=get).json()["result"]["event_count"]
    return count


@pytest.mark.slow
def test_performance_first_paint_big_session_and_weight(server_factory, browser, console: ConsoleGuard) -> None:  # type: ignore[no-untyped-def]
    srv = server_factory(token=TOKEN)
    sid = create(srv)
    t0 = time.perf_counter()
    count = fill_session(srv, sid, 10_000)
    print(f"filled {count} events in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    # bypass_csp: Playwright's raf-polled wait_for_function evaluates a string, which the page's CSP forbids
    context = browser.new_context(viewport=WIDE, bypass_csp=True)
    page = console.watch(context.new_page())
    sizes: dict[str, int] = {}

    def weigh(response: Any) -> None:
        if "/ui/" in response.url and response.status == 200:  # repeat loads revalidate: 304 without a body
            with contextlib.suppress(Exception):  # the page may be gone by the time the body is asked for
                sizes[response.url] = len(response.body())

    page.on("response", weigh)
    paints = []
    for _ in range(5):
        page.goto(srv.url + "/ui/", wait_until="load")
        paints.append(page.evaluate("""() => new Promise((resolve) => {
          new PerformanceObserver((list, obs) => {
            const fcp = list.getEntriesByName('first-contentful-paint')[0];
            if (fcp) { obs.disconnect(); resolve(fcp.startTime); }
          }).observe({ type: 'paint', buffered: true });
        })"""))
    first_paint = sorted(paints)[len(paints) // 2]
    page.get_by_role("textbox", name="Token").fill(TOKEN)
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("status").filter(has_text=CONNECTED)).to_be_visible()
    shell_weight = sum(sizes.values())

    opens = []
    for _ in range(3):
        page.goto(srv.url + "/ui/#/sessions")
        expect(page.get_by_role("table", name="Sessions")).to_be_visible()
        t0 = time.perf_counter()
        page.get_by_role("link", name=sid).click()
        page.wait_for_function("document.querySelector('section.session[data-loaded=true]')", polling="raf",
                               timeout=60_000)
        opens.append(time.perf_counter() - t0)
    open_s = sorted(opens)[1]
    # scrolling: long frames while scrolling the conversation and the raw events listbox
    # incremental: only the newest entries are in the DOM; older ones come on request
    earlier = page.get_by_role("button", name=re.compile(r"^Show earlier items \(\d+\)$"))
    expect(earlier).to_be_visible()
    entries = page.get_by_role("log", name="Conversation").locator("[data-seq]")
    before = entries.count()
    assert before <= 200, before
    earlier.click()
    expect(entries.nth(before + 100)).to_be_attached()
    jank = page.evaluate("""async () => {
      const frames = [];
      let last = performance.now();
      const el = document.scrollingElement;
      for (let i = 0; i < 60; i++) {
        el.scrollTop -= 400;
        await new Promise(r => requestAnimationFrame(r));
        const now = performance.now(); frames.push(now - last); last = now;
      }
      frames.sort((a, b) => a - b);
      return [frames[Math.floor(frames.length / 2)], frames[Math.floor(frames.length * 0.95)]];
    }""")
    page.get_by_role("tab", name="Raw events").click()
    raw_jank = page.evaluate("""async () => {
      const list = document.querySelector('[role=listbox]');
      const frames = []; let last = performance.now();
      for (let i = 0; i < 60; i++) {
        list.scrollTop += 3000;
        await new Promise(r => requestAnimationFrame(r));
        const now = performance.now(); frames.push(now - last); last = now;
      }
      frames.sort((a, b) => a - b);
      return [frames[Math.floor(frames.length / 2)], frames[Math.floor(frames.length * 0.95)]];
    }""")
    expect(page.get_by_role("listbox", name="Events").get_by_role("option").first).to_be_visible()
    page.get_by_role("spinbutton", name="Jump to sequence").fill(str(count - 3))
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_role("region", name="Event JSON")).to_contain_text(f'"sequence": {count - 3}')
    shot(page, "raw-events-10k")
    total_weight = sum(sizes.values())
    figures = {
        "events": count,
        "first_paint_ms_median_of_5": round(first_paint, 1),
        "open_10k_session_s_median_of_3": round(open_s, 3),
        "scroll_conversation_frame_ms_median_p95": [round(x, 1) for x in jank],
        "scroll_raw_events_frame_ms_median_p95": [round(x, 1) for x in raw_jank],
        "shell_weight_kb": round(shell_weight / 1024, 1),
        "all_views_weight_kb_without_xterm": round(total_weight / 1024, 1),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures), file=sys.stderr)
    assert first_paint < 300, figures
    assert open_s < 5, figures
    # medians, not p95: this machine's two cores are shared, so single frames stall now and then
    assert jank[0] < 50 and raw_jank[0] < 50, figures


# --- a real agent ---------------------------------------------------------------------------------------------


@pytest.fixture
def fake_llm(tmp_path: Path) -> Any:
    """`sandbox-agent fake-llm` as a child process with a script: one Bash tool call, then a closing text."""
    script = tmp_path / "script.json"
    script.write_text(json.dumps([
        {"tool": "Bash", "input": {"command": "echo hi > out.txt", "description": "write out.txt"}},
        {"text": "Wrote out.txt for you."},
    ]))
    proc = subprocess.Popen([sys.executable, "-m", "sandbox_agent", "fake-llm", "--script", str(script)],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, cwd=ROOT)
    assert proc.stderr is not None
    url = None
    for _ in range(50):
        m = re.search(r"listening on (http://\S+)", proc.stderr.readline().decode())
        if m:
            url = m.group(1)
            break
    assert url, "fake-llm did not start"
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.mark.real_agent
def test_claude_tool_turn_with_an_approval(server_factory, browser, console: ConsoleGuard, fake_llm: str,  # type: ignore[no-untyped-def]
                                           tmp_path: Path) -> None:
    # the project's installer, as a child: Playwright's sync API already runs an event loop in this thread
    done = subprocess.run([sys.executable, "-m", "sandbox_agent", "install-agent", "claude"], capture_output=True,
                          text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    srv = server_factory(token=TOKEN)
    work = tmp_path / "work"
    work.mkdir()
    page = new_page(browser, console)
    login(page, srv.url, TOKEN, "#/new")
    page.get_by_role("combobox", name="Agent", exact=True).select_option("claude")
    page.get_by_role("combobox", name="Permission mode").select_option("default")
    page.get_by_role("textbox", name="Working directory").fill(str(work))
    for n, (key, value) in enumerate({"ANTHROPIC_BASE_URL": fake_llm, "ANTHROPIC_API_KEY": "sk-fake-test"}.items(), 1):
        page.get_by_role("button", name="Add variable").click()
        page.get_by_role("textbox", name=f"Name {n}").fill(key)
        page.get_by_label(f"Value {n}").fill(value)
    page.get_by_role("button", name="Create session").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Session ses_"))).to_be_visible(timeout=60_000)
    assert "sk-fake-test" not in page.content()
    send(page, "write out.txt please")
    card = page.get_by_role("article", name="Permission request: Bash")
    expect(card).to_be_visible(timeout=90_000)
    expect(card.get_by_label("Requested")).to_have_text("echo hi > out.txt")
    expect(page.get_by_role("status", name="Session status")).to_have_text("awaiting input")
    both_widths(page, "claude-permission", card)
    card.get_by_role("button", name="Allow once").click()
    expect(card).to_have_count(0)
    expect(page.get_by_role("article", name="Assistant message").last).to_contain_text("Wrote out.txt for you.",
                                                                                       timeout=90_000)
    expect(page.get_by_role("status", name="Session status")).to_have_text("idle")
    assert (work / "out.txt").read_text() == "hi\n"
    command = page.get_by_role("article", name="Command echo hi > out.txt")
    expect(command).to_contain_text("exit code 0")
    both_widths(page, "claude-conversation")
