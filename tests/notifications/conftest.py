"""Fixtures for the notification tests: the server fixtures (``db`` on SQLite and
PostgreSQL, ``world``, ``published_day`` ...) plus real local servers the channels
talk to -- an SMTP server (aiosmtpd) and a Twilio-speaking HTTP server -- each on a
free port, started and stopped by the test."""

from __future__ import annotations

import base64
import json
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from tests.server.conftest import (  # noqa: F401 -- the server fixtures, reused
    Settings,
    app,
    client,
    db,
    pg_database,
    published_day,
    settings,
    sqlite_template,
    world,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Smtp:
    """A real SMTP server on 127.0.0.1. ``fail_next`` answers DATA with 451 (try later)
    that many times; ``messages`` holds what it accepted."""

    port: int
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    fail_next: int = 0
    refused: int = 0

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        if self.fail_next > 0:
            self.fail_next -= 1
            self.refused += 1
            return "451 4.3.0 temporary failure, try again later"
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    handler = Smtp(port=free_port())
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


@dataclass
class TwilioState:
    sid: str = "AC0123456789abcdef0123456789abcdef"
    token: str = "twilio-test-token"
    received: list[dict] = field(default_factory=list)
    status: int = 201


class _TwilioHandler(BaseHTTPRequestHandler):
    state: TwilioState

    def log_message(self, *a):  # quiet
        pass

    def do_POST(self):
        st = self.state
        length = int(self.headers.get("content-length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        expected = "Basic " + base64.b64encode(f"{st.sid}:{st.token}".encode()).decode()
        if self.path != f"/2010-04-01/Accounts/{st.sid}/Messages.json" or self.headers.get("authorization") != expected:
            code, body = 401, {"code": 20003, "message": "Authenticate", "status": 401}
        elif not form.get("To", "").startswith("+"):
            code, body = 400, {"code": 21211, "message": f"The 'To' number {form.get('To')} is not valid.",
                               "status": 400}
        elif st.status != 201:
            code, body = st.status, {"code": 20500, "message": "Internal error", "status": st.status}
        else:
            st.received.append(form)
            code = 201
            body = {"sid": f"SM{len(st.received):032x}", "status": "queued", "to": form["To"],
                    "from": form.get("From"), "body": form.get("Body")}
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def twilio_server():
    """A local HTTP server that speaks Twilio's Messages API (the parts we use)."""
    state = TwilioState()
    handler = type("H", (_TwilioHandler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def quiet_off(settings: Settings) -> Settings:
    """The test settings without quiet hours (tests run at any hour of the real clock)."""
    settings.notify_quiet_start = ""
    settings.notify_quiet_end = ""
    return settings
