"""Driving the Inspector in Debian's Chromium with Playwright: launch, log in, fail on console errors, screenshots."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "inspector"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDE = {"width": 1440, "height": 900}
NARROW = {"width": 390, "height": 844}


def ensure_chromium() -> str:
    """Debian's chromium, installed by the project's scripts/system-deps when missing; skip only if that fails."""
    if not Path(CHROMIUM).exists():
        subprocess.run([str(ROOT / "scripts" / "system-deps")], check=False, timeout=900)
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian's chromium is missing and scripts/system-deps could not install it (needs root and apt)")
    return CHROMIUM


@dataclass
class ConsoleGuard:
    """Every console error and uncaught page error of the pages it watches; tests assert there were none."""

    errors: list[str] = field(default_factory=list)
    allowed: tuple[str, ...] = ()

    def watch(self, page: Any) -> Any:
        page.on("console", lambda m: self._console(m))
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        return page

    def _console(self, message: Any) -> None:
        if message.type in ("error", "assert") and not any(a in message.text for a in self.allowed):
            self.errors.append(f"console.{message.type}: {message.text}")

    def check(self) -> None:
        assert not self.errors, "JS console errors:\n" + "\n".join(self.errors)


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[Any]:
    path = ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(name="console")
def console_fixture() -> Iterator[ConsoleGuard]:
    guard = ConsoleGuard()
    yield guard
    guard.check()


def new_page(browser: Any, console: ConsoleGuard, viewport: dict[str, int] = WIDE) -> Any:
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(20_000)
    return console.watch(context.new_page())


def login(page: Any, base_url: str, token: str | None, route: str = "#/sessions") -> None:
    """Open the Inspector as a person does: the page asks for the token once, in a dialog."""
    from playwright.sync_api import expect

    page.goto(f"{base_url}/ui/{route}")
    if token:
        page.get_by_role("textbox", name="Token").fill(token)
        page.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("status").filter(has_text=re.compile(r"^Connected$"))).to_be_visible()


def shot(page: Any, name: str) -> Path:
    """A screenshot at the page's current width into artifacts/inspector/<name>-<width>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    path = ARTIFACTS / f"{name}-{width}.png"
    page.screenshot(path=str(path))
    return path


def both_widths(page: Any, name: str, focus: Any = None) -> None:
    """Screenshots of the same view at 1440 px and 390 px (the page re-lays out in place), `focus` in view."""
    for size in (WIDE, NARROW):
        page.set_viewport_size(size)
        page.wait_for_timeout(150)
        if focus is not None:
            focus.scroll_into_view_if_needed()
        shot(page, name)
    page.set_viewport_size(WIDE)


CONTROL_ROLES = {"button", "link", "textbox", "combobox", "checkbox", "radio", "tab", "listbox", "spinbutton",
                 "searchbox", "slider", "switch", "menuitem", "option"}


def unnamed_controls(page: Any) -> list[str]:
    """Controls in Chromium's accessibility tree without an accessible name (there should be none)."""
    cdp = page.context.new_cdp_session(page)
    try:
        nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        cdp.detach()
    bad = []
    for node in nodes:
        role = (node.get("role") or {}).get("value")
        if node.get("ignored") or role not in CONTROL_ROLES:
            continue
        if not str((node.get("name") or {}).get("value") or "").strip():
            bad.append(f"{role} (backend node {node.get('backendDOMNodeId')})")
    return bad
