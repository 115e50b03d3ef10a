"""Live fan-out: a change published on a topic reaches every subscriber (the console,
a driver's phone, a customer's tracking page) over Server-Sent Events.

Each process has one in-process hub of subscriber queues. With ``LASTMILE_REDIS_URL``
set, a publish goes to Redis pub/sub and every process (uvicorn workers, the job
worker, the MQTT ingest) relays what Redis sends into its own hub, so a fix received
by one process reaches browsers connected to another. Without Redis (the embedded
single-process default) a publish goes straight to the local hub.

Topics: ``org:<organization id>``, ``route:<route id>``, ``driver:<driver id>``, ``order:<order id>``.
Messages are JSON objects with a ``type``. Endpoints decide who may subscribe to what.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy.orm import Session

log = logging.getLogger("lastmile.broadcast")
CHANNEL_PREFIX = "lastmile:"
QUEUE_SIZE = 256  # per subscriber; a slow browser loses the oldest updates, not the server


class Hub:
    """In-process fan-out to asyncio queues; safe to publish from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]]] = {}

    def add(self, topics: list[str], q: asyncio.Queue[dict[str, Any]]) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            for t in topics:
                self._subs.setdefault(t, set()).add((loop, q))

    def remove(self, topics: list[str], q: asyncio.Queue[dict[str, Any]]) -> None:
        with self._lock:
            for t in topics:
                subs = self._subs.get(t)
                if subs is None:
                    continue
                for entry in [e for e in subs if e[1] is q]:
                    subs.discard(entry)
                if not subs:
                    del self._subs[t]

    def subscriber_count(self, topic: str) -> int:
        with self._lock:
            return len(self._subs.get(topic, ()))

    def deliver(self, topic: str, message: dict[str, Any]) -> None:
        with self._lock:
            targets = list(self._subs.get(topic, ()))
        for loop, q in targets:
            try:
                loop.call_soon_threadsafe(_put_dropping_oldest, q, {**message, "topic": topic})
            except RuntimeError:  # that loop is closed: its subscriber is gone
                pass


def _put_dropping_oldest(q: asyncio.Queue[dict[str, Any]], item: dict[str, Any]) -> None:
    if q.full():
        try:
            q.get_nowait()
        except asyncio.QueueEmpty:
            pass
    q.put_nowait(item)


class Broadcaster:
    def __init__(self, redis_url: str | None = None) -> None:
        self.redis_url = redis_url
        self.hub = Hub()
        self._redis: Any = None
        self._relays: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
        self._relay_ready: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}

    # -- publishing (sync; callable from request threads and jobs) --
    def publish(self, topic: str, message: dict[str, Any]) -> None:
        if self.redis_url is None:
            self.hub.deliver(topic, message)
            return
        try:
            if self._redis is None:
                import redis

                self._redis = redis.Redis.from_url(self.redis_url, socket_timeout=2)
            self._redis.publish(CHANNEL_PREFIX + topic, json.dumps(message, default=str, separators=(",", ":")))
        except Exception as exc:  # a live update is best effort; the database has the truth
            log.warning("broadcast to Redis failed (%s); delivering locally only", exc)
            self.hub.deliver(topic, message)

    def publish_many(self, topics: list[str], message: dict[str, Any]) -> None:
        for t in topics:
            self.publish(t, message)

    # -- subscribing (async; one relay task per event loop when Redis is used) --
    async def _ensure_relay(self) -> None:
        if self.redis_url is None:
            return
        loop = asyncio.get_running_loop()
        task = self._relays.get(loop)
        if task is None or task.done():
            ready = asyncio.Event()
            self._relay_ready[loop] = ready
            self._relays[loop] = loop.create_task(self._relay(ready))
        await asyncio.wait_for(self._relay_ready[loop].wait(), timeout=5)

    async def _relay(self, ready: asyncio.Event) -> None:
        import redis.asyncio as aredis

        while True:
            client = aredis.Redis.from_url(self.redis_url)
            try:
                pubsub = client.pubsub()
                await pubsub.psubscribe(CHANNEL_PREFIX + "*")
                ready.set()
                async for msg in pubsub.listen():
                    if msg.get("type") != "pmessage":
                        continue
                    channel = msg["channel"].decode() if isinstance(msg["channel"], bytes) else msg["channel"]
                    try:
                        data = json.loads(msg["data"])
                    except (ValueError, TypeError):
                        continue
                    self.hub.deliver(channel[len(CHANNEL_PREFIX):], data)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Redis relay lost (%s); reconnecting", exc)
                ready.set()  # do not block subscribers while Redis is away
                await asyncio.sleep(1)
            finally:
                try:
                    await client.aclose()
                except Exception:
                    pass

    async def subscribe(self, topics: list[str]) -> AsyncIterator[dict[str, Any]]:
        await self._ensure_relay()
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self.hub.add(topics, q)
        try:
            while True:
                yield await q.get()
        finally:
            self.hub.remove(topics, q)


_instances: dict[str | None, Broadcaster] = {}
_instances_lock = threading.Lock()


def get_broadcaster(redis_url: str | None = None, *, from_settings: bool = True) -> Broadcaster:
    """The process's broadcaster for this Redis URL (None: in-process only)."""
    if redis_url is None and from_settings:
        from ..config import get_settings

        redis_url = get_settings().redis_url
    with _instances_lock:
        if redis_url not in _instances:
            _instances[redis_url] = Broadcaster(redis_url)
        return _instances[redis_url]


def publish(topic: str, message: dict[str, Any]) -> None:
    get_broadcaster().publish(topic, message)


def publish_after_commit(session: Session, topics: list[str] | str, message: dict[str, Any]) -> None:
    """Broadcast once the session's transaction commits (never for a rollback)."""
    from ..jobs.queue import after_commit

    b = get_broadcaster()
    after_commit(session, b.publish_many, [topics] if isinstance(topics, str) else list(topics), message)


def sse(
    request: Any,
    topics: list[str],
    *,
    initial: dict[str, Any] | None = None,
    transform: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
    heartbeat_s: float = 15.0,
    broadcaster: Broadcaster | None = None,
) -> Any:
    """A ``text/event-stream`` response: ``initial`` first, then every message on the
    topics (passed through ``transform``, which may drop one by returning None), and a
    comment line every ``heartbeat_s`` so proxies keep the connection open."""
    from starlette.responses import StreamingResponse

    b = broadcaster or get_broadcaster()

    async def stream() -> AsyncIterator[str]:
        if initial is not None:
            yield _event(initial)
        sub = b.subscribe(topics)
        nxt: asyncio.Task[dict[str, Any]] | None = None
        try:
            while True:
                if nxt is None:
                    nxt = asyncio.ensure_future(sub.__anext__())
                done, _ = await asyncio.wait({nxt}, timeout=heartbeat_s)
                if await request.is_disconnected():
                    break
                if not done:
                    yield ": keep-alive\n\n"
                    continue
                msg = nxt.result()
                nxt = None
                out = transform(msg) if transform else msg
                if out is not None:
                    yield _event(out)
        finally:
            if nxt is not None:
                nxt.cancel()
                with contextlib.suppress(BaseException):
                    await nxt
            with contextlib.suppress(RuntimeError):
                await sub.aclose()

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})


def _event(message: dict[str, Any]) -> str:
    return "data: " + json.dumps(message, default=str, separators=(",", ":"), ensure_ascii=False) + "\n\n"
