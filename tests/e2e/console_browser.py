"""Drives Debian's Chromium with Playwright for the console's browser tests (docs/console.md#tests).

Playwright's own browser download cannot work here; it drives /usr/bin/chromium, which `make test`
installs from Debian's packages when it is missing (scripts/ensure-chromium.sh).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".gatehouse" / "screenshots"
# As the machine notes ask: no background traffic from the browser on a closed network.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Chromium logs every non-2xx fetch as a console error; those are expected answers, not script faults.
_EXPECTED_CONSOLE = re.compile(r"Failed to load resource")


@contextmanager
def chromium() -> Iterator[Any]:
    """One headless Chromium; Playwright gives it a fresh, empty --user-data-dir of its own."""
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: run `make test` (it installs Debian's chromium)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Watched:
    """A page with what must never happen recorded: dialogs (alert), uncaught errors, CSP refusals."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", self._console)

    def _dialog(self, dialog: Any) -> None:
        self.problems.append(f"dialog: {dialog.type} {dialog.message}")
        dialog.dismiss()

    def _console(self, message: Any) -> None:
        if message.type == "error" and not _EXPECTED_CONSOLE.search(message.text):
            self.problems.append(f"console error: {message.text}")

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path
