"""Playwright fixtures for browser tests (Debian's /usr/bin/chromium; never `playwright install`).

Use in any app's tests:

    @pytest.mark.browser
    def test_customer_list(browser_page, screenshot):
        page = browser_page(user=make_user(username="ann"), language="zh-hans")  # logged in
        page.goto("/customers/")
        screenshot(page, "customer-list-zh")   # docs/user-guide/screenshots/ with `make screenshots`

Browser tests run only in the SQLite pass of `make test` (marker `browser`).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread


class OneRequestAtATime(ThreadedWSGIServer):
    """The live server of the browser tests, running one request at a time.

    Their database is SQLite in memory: one connection, shared by the live server's threads. Two
    requests at once (an htmx live count and a click) used it concurrently and failed ("bad parameter
    or other API misuse"). Connections keep their own threads (kept-alive ones do not block others);
    only the application runs under a lock, and a response is read to its end inside it.
    """

    _lock = threading.Lock()

    def get_app(self) -> Any:
        app: Any = super().get_app()

        def locked(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            with self._lock:
                result = app(environ, start_response)
                try:
                    return list(result)
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()

        return locked


LiveServerThread.server_class = OneRequestAtATime

CHROMIUM = os.environ.get("CRM_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "user-guide" / "screenshots"
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browsers` (apt: chromium, fonts-wqy-microhei)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": LAUNCH_ARGS}


@pytest.fixture
def browser_page(browser: Any, live_server: Any, transactional_db: Any) -> Iterator[Callable[..., Any]]:
    """Factory: `browser_page(user=None, language="en", viewport=DESKTOP, javascript=True)` → a Page.

    With a user, the page is already logged in (session cookie made server-side, so two-factor
    or throttling on the login form does not get in the way). Relative `goto("/x/")` URLs work.
    """
    contexts: list[Any] = []

    def make(
        *, user: Any = None, language: str = "en", viewport: dict[str, int] | None = None, javascript: bool = True
    ) -> Any:
        context = browser.new_context(
            java_script_enabled=javascript,
            base_url=live_server.url,
            viewport=viewport or DESKTOP,
            locale="zh-CN" if language.startswith("zh") else "en-US",
            extra_http_headers={"Accept-Language": "zh-Hans,zh;q=0.9" if language.startswith("zh") else "en"},
        )
        contexts.append(context)
        if user is not None:
            context.add_cookies([_session_cookie(user, live_server.url)])
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield make
    for context in contexts:
        context.close()


def _session_cookie(user: Any, base_url: str) -> dict[str, Any]:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return {"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
            "url": base_url}  # fmt: skip


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[Any, str], Path]:
    """`screenshot(page, "login-en")` saves a full-page PNG.

    With CRM_SCREENSHOTS=1 (`make screenshots`) into docs/user-guide/screenshots/ for the user
    guide; otherwise into the test's temporary directory, so normal runs leave the docs alone.
    """
    directory = SCREENSHOTS if os.environ.get("CRM_SCREENSHOTS") == "1" else tmp_path
    directory.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> Path:
        if not re.fullmatch(r"[a-z0-9-]+", name):
            raise ValueError("screenshot names are lower-case words joined by hyphens")
        path = directory / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def horizontal_overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the viewport (0 = no sideways scrolling)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))
