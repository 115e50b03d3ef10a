"""Fixed-window counters shared by every server process.

Two stores with one interface: Redis when ``LASTMILE_REDIS_URL`` is set (``INCRBY``
on a key that expires with its window), otherwise the database (one row per key
and window, upserted), so several uvicorn workers on SQLite or PostgreSQL count
together. A window is ``floor(now / window_s)``; its key lives until the window ends.

:class:`RequestLimiter` sits on the hot path (every authenticated request) and
must not write to the database on every call: it counts locally and adds its
local count to the shared store at most every ``sync_s`` seconds, or on every
call once a credential has used half its allowance (so the limit itself is
exact within one process and at most ``sync_s`` of traffic late across
processes). ``sync_s = 0`` makes every call go to the shared store.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from ..errors import TooManyRequests

log = logging.getLogger("lastmile.ratelimit")


class RateLimited(TooManyRequests):
    """429 with a Retry-After header (seconds until the window ends)."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, math.ceil(retry_after_s))

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class Store(Protocol):
    def add(self, key: str, n: int, window_s: int) -> tuple[int, float]:
        """Add ``n`` to ``key`` in the current window: (total, seconds until it ends)."""

    def get(self, key: str, window_s: int) -> tuple[int, float]: ...

    def clear(self, key: str, window_s: int) -> None: ...


def _window(window_s: int, now: float | None = None) -> tuple[int, float]:
    now = time.time() if now is None else now
    idx = int(now // window_s)
    return idx, (idx + 1) * window_s - now


class RedisStore:
    def __init__(self, url: str, prefix: str = "lastmile:rl:") -> None:
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = prefix

    def _key(self, key: str, window_s: int) -> tuple[str, float]:
        idx, left = _window(window_s)
        return f"{self.prefix}{key}:{window_s}:{idx}", left

    def add(self, key: str, n: int, window_s: int) -> tuple[int, float]:
        k, left = self._key(key, window_s)
        pipe = self.redis.pipeline(transaction=True)
        pipe.incrby(k, n)
        pipe.expire(k, window_s + 1)
        total, _ = pipe.execute()
        return int(total), left

    def get(self, key: str, window_s: int) -> tuple[int, float]:
        k, left = self._key(key, window_s)
        return int(self.redis.get(k) or 0), left

    def clear(self, key: str, window_s: int) -> None:
        self.redis.delete(self._key(key, window_s)[0])


class DatabaseStore:
    """Counters in the ``rate_limit_counters`` table. Each call is its own short
    transaction; the caller must not hold SQLite's single writer connection."""

    CLEANUP_S = 60.0

    def __init__(self, db: Any) -> None:
        self.db = db
        self._last_cleanup = 0.0

    def _key(self, key: str, window_s: int) -> tuple[str, float, int]:
        idx, left = _window(window_s)
        return f"{key}:{window_s}:{idx}"[:255], left, idx

    def add(self, key: str, n: int, window_s: int) -> tuple[int, float]:
        from sqlalchemy import delete
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        from ..auth.models import RateLimitCounter as C
        from .time import utcnow

        k, left, idx = self._key(key, window_s)
        expires = utcnow() + timedelta(seconds=left + 1)
        insert = sqlite_insert if self.db.is_sqlite else pg_insert
        stmt = insert(C).values(key=k, count=n, expires_at=expires)
        stmt = stmt.on_conflict_do_update(index_elements=[C.key], set_={"count": C.count + n}).returning(C.count)
        with self.db.session() as s:
            total = s.execute(stmt).scalar_one()
            now = time.monotonic()
            if now - self._last_cleanup > self.CLEANUP_S:
                self._last_cleanup = now
                s.execute(delete(C).where(C.expires_at < utcnow()))
            s.commit()
        return int(total), left

    def get(self, key: str, window_s: int) -> tuple[int, float]:
        from sqlalchemy import select

        from ..auth.models import RateLimitCounter as C

        k, left, _ = self._key(key, window_s)
        with self.db.read_sessions() as s:
            return int(s.scalar(select(C.count).where(C.key == k)) or 0), left

    def clear(self, key: str, window_s: int) -> None:
        from sqlalchemy import delete

        from ..auth.models import RateLimitCounter as C

        k, _, _ = self._key(key, window_s)
        with self.db.session() as s:
            s.execute(delete(C).where(C.key == k))
            s.commit()


def store_for(settings: Any, db: Any) -> Store:
    return RedisStore(settings.redis_url) if settings.redis_url else DatabaseStore(db)


@dataclass
class _Local:
    window: int = -1
    known: int = 0  # the shared total at the last sync
    pending: int = 0  # counted here since then
    synced_at: float = 0.0
    reset_in: float = 0.0


class RequestLimiter:
    """At most ``limit`` requests per ``window_s`` per key, across processes."""

    MAX_KEYS = 50_000

    def __init__(self, store: Store, limit: int, window_s: int, sync_s: float = 1.0) -> None:
        self.store, self.limit, self.window_s, self.sync_s = store, limit, window_s, sync_s
        self._local: dict[str, _Local] = {}
        self._lock = threading.Lock()

    def _entry(self, key: str) -> _Local:
        idx, left = _window(self.window_s)
        e = self._local.get(key)
        if e is None or e.window != idx:
            if len(self._local) > self.MAX_KEYS:
                self._local.clear()
            e = self._local[key] = _Local(window=idx, reset_in=left)
        return e

    def needs_sync(self, key: str) -> bool:
        """Whether this call should go to the shared store (cheap, no I/O)."""
        with self._lock:
            e = self._entry(key)
            return (
                self.sync_s <= 0
                or time.monotonic() - e.synced_at >= self.sync_s
                or 2 * (e.known + e.pending + 1) > self.limit
            )

    def hit(self, key: str, sync: bool) -> None:
        """Count one request; raise :class:`RateLimited` over the limit. With
        ``sync`` this does I/O (call it off the event loop)."""
        with self._lock:
            e = self._entry(key)
            e.pending += 1
            if not sync:
                if e.known + e.pending > self.limit:
                    raise RateLimited("too many requests; slow down", e.reset_in)
                return
            n, e.pending = e.pending, 0
        try:
            total, left = self.store.add(key, n, self.window_s)
        except Exception:  # the shared store is down: keep serving, count locally meanwhile
            log.warning("rate-limit store unavailable; counting in this process only", exc_info=True)
            with self._lock:
                e = self._entry(key)
                e.pending += n
                e.synced_at = time.monotonic()
                over = e.known + e.pending > self.limit
            if over:
                raise RateLimited("too many requests; slow down", e.reset_in) from None
            return
        with self._lock:
            e = self._entry(key)
            e.known, e.synced_at, e.reset_in = total, time.monotonic(), left
        if total > self.limit:
            raise RateLimited("too many requests; slow down", left)


class LoginThrottle:
    """Failed logins per account and per client address, exact (the store is asked
    every time: logins are rare and slow by design)."""

    def __init__(self, store: Store, per_account: int, per_ip: int, window_s: int) -> None:
        self.store, self.per_account, self.per_ip, self.window_s = store, per_account, per_ip, window_s

    def check(self, email: str, ip: str) -> None:
        n, left = self.store.get(f"login:acct:{email}", self.window_s)
        if n >= self.per_account:
            raise RateLimited("too many failed logins for this account; try again later", left)
        if ip:
            n, left = self.store.get(f"login:ip:{ip}", self.window_s)
            if n >= self.per_ip:
                raise RateLimited("too many failed logins from this address; try again later", left)

    def failed(self, email: str, ip: str) -> None:
        self.store.add(f"login:acct:{email}", 1, self.window_s)
        if ip:
            self.store.add(f"login:ip:{ip}", 1, self.window_s)

    def succeeded(self, email: str) -> None:
        self.store.clear(f"login:acct:{email}", self.window_s)
