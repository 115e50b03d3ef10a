"""A small client of the platform's HTTP API, for an in-process app (FastAPI's
TestClient: the headless day) or a live server (httpx: the demo with a browser).
Answers other than the expected ones raise :class:`ApiError` with the error body."""

from __future__ import annotations

import time
from typing import Any

import httpx


class ApiError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} answered {status}: {body[:400]}")
        self.status, self.body = status, body


class Api:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.requests = 0

    def call(self, method: str, path: str, *, token: str | None = None, expect: tuple[int, ...] = (200, 201, 202, 204),
             **kw: Any) -> Any:
        headers = dict(kw.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        for attempt in range(6):
            self.requests += 1
            r = self.http.request(method, path, headers=headers, **kw)
            if r.status_code == 429 and attempt < 5:  # the real rate limits apply to the demo too
                time.sleep(min(2.0, float(r.headers.get("retry-after", "1") or 1)))
                continue
            break
        if r.status_code not in expect:
            raise ApiError(method, path, r.status_code, r.text)
        if r.status_code == 204 or not r.content:
            return None
        if "json" in r.headers.get("content-type", ""):
            return r.json()
        return r.text

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.call("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> Any:
        return self.call("PATCH", path, **kw)
