"""Browser tests: the real app under uvicorn on a free local port, driven by Debian's
Chromium (/usr/bin/chromium) through Playwright -- no browser download.

Fixtures:

* ``live`` (session): the running server -- ``live.url``, ``live.db``, ``live.settings``,
  and ``live.users[role]`` = (email, password) for an admin, a dispatcher and a driver
  (the driver has a Driver record) in one organization, on a fresh SQLite database.
* ``browser`` (session): headless Chromium.
* ``page``: a new context and page with ``base_url=live.url``. Every request to a host
  other than 127.0.0.1 is aborted (our pages must work offline, with no CDN); the
  aborted URLs are in ``blocked`` and uncaught page errors in ``page_errors``.
* ``login(page, role)``: signs the page's context in through ``POST /auth/login``
  (session cookie + CSRF cookie, as a browser would).
* ``screenshot(page, name)``: saves a full-page PNG under tests/browser/screenshots/
  (gitignored; ``LASTMILE_SCREENSHOTS`` overrides) and returns its path.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("LASTMILE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
SCREENSHOTS = Path(os.environ.get("LASTMILE_SCREENSHOTS", Path(__file__).parent / "screenshots"))
PASSWORD = "correct horse battery staple"
LOCAL_HOSTS = {"127.0.0.1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Live:
    url: str
    settings: object
    db: object
    users: dict[str, tuple[str, str]] = field(default_factory=dict)


@pytest.fixture(scope="session")
def live() -> Iterator[Live]:
    import uvicorn
    from argon2 import PasswordHasher

    from lastmile.app import create_app
    from lastmile.auth import passwords
    from lastmile.auth.service import create_user, get_or_create_organization
    from lastmile.config import Settings
    from lastmile.fleet.models import Driver
    from lastmile.web.vendor import installed, not_installed_message

    if not installed():
        pytest.fail(not_installed_message())
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # cheap in tests
    tmp = Path(tempfile.mkdtemp(prefix="lastmile-browser-"))
    settings = Settings(env="test", data_dir=tmp / "data", cookie_secure=False, auto_migrate=True)
    app = create_app(settings)  # migrates the fresh SQLite file
    db = app.state.db
    users: dict[str, tuple[str, str]] = {}
    with db.session() as s:
        org = get_or_create_organization(s, "Laredo Fleet")
        for role in ("admin", "dispatcher", "driver"):
            email = f"{role}@example.com"
            user = create_user(s, org.id, email, PASSWORD, role, name=role.title())
            users[role] = (email, PASSWORD)
            if role == "driver":
                s.add(Driver(organization_id=org.id, name="Jorge", user_id=user.id))
        s.commit()

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="uvicorn-browser-tests", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    try:
        yield Live(url=f"http://127.0.0.1:{port}", settings=settings, db=db, users=users)
    finally:
        server.should_exit = True
        thread.join(15)
        db.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def playwright_instance():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is required in CI (.ci/run installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} not found: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance):
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield b
    b.close()


@pytest.fixture
def blocked() -> list[str]:
    return []


@pytest.fixture
def page_errors() -> list[str]:
    return []


@pytest.fixture
def page(browser, live, blocked, page_errors):
    context = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 900}, locale="es-MX")
    yield open_page(context, blocked, page_errors)
    context.close()


def open_page(context, blocked: list[str], page_errors: list[str]):
    """A page of ``context`` that may reach only this machine (anything else is aborted
    and listed in ``blocked``) and records uncaught page errors in ``page_errors``."""

    def gate(route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    context.route("**/*", gate)
    page = context.new_page()
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    return page


@pytest.fixture
def login(live) -> Callable[..., dict]:
    def sign_in(page, role: str) -> dict:
        email, password = live.users[role]
        r = page.request.post("/auth/login", form={"email": email, "password": password})
        assert r.ok, r.text()
        return r.json()

    return sign_in


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    def shoot(page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot
