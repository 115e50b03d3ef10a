"""Live fan-out: a change published on a topic reaches every subscriber (the console,
a driver's phone, a customer's tracking page) over Server-Sent Events.

Each process has one in-process hub of subscriber queues. With ``LASTMILE_REDIS_URL``
set, a publish goes to Redis pub/sub and every process (uvicorn workers, the job
worker, the MQTT ingest) relays what Redis sends into its own hub, so a fix received
by one process reaches browsers connected to another. Without Redis (the embedded
single-process default) a publish goes straight to the local hub.

With Redis, publishing never waits on the network: messages go to an outbox that one
sender thread per process drains, all it finds in one pipelined round trip (in order;
a driver's position still waiting there is replaced by the driver's newer one -- only
the newest matters to a map). The relay of each event loop subscribes only to the
topics someone in this process listens to (a worker with 20 tracking pages open does
not decode the whole fleet's traffic) and a new subscriber's topics are confirmed by
Redis before ``subscribe`` yields, so nothing published after that is missed.

A subscriber that falls ``QUEUE_SIZE`` messages behind (a stalled browser) gets its
queue replaced by one ``{"type": "resync"}``: it must reload its state; nothing is
lost silently. The same happens after the relay lost Redis for a while.

Topics: ``org:<organization id>``, ``route:<route id>``, ``driver:<driver id>``, ``order:<order id>``.
Messages are JSON objects with a ``type``. Endpoints decide who may subscribe to what.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from sqlalchemy.orm import Session

log = logging.getLogger("lastmile.broadcast")
CHANNEL_PREFIX = "lastmile:"
QUEUE_SIZE = 256  # per subscriber; past this, the subscriber is told to resync (nothing is dropped silently)
SUBSCRIBE_WAIT_S = 5.0
Sub = tuple[asyncio.AbstractEventLoop, "asyncio.Queue[dict[str, Any]]"]


def _dumps(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message, default=str)


class Hub:
    """In-process fan-out to asyncio queues; safe to publish from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: dict[str, set[Sub]] = {}
        self.resyncs = 0  # subscribers told to reload (fell behind, or the relay lost Redis)

    def add(self, topics: list[str], q: asyncio.Queue[dict[str, Any]]) -> list[str]:
        """Subscribe ``q``; returns the topics nobody on this event loop listened to before."""
        loop = asyncio.get_running_loop()
        new = []
        with self._lock:
            for t in topics:
                subs = self._subs.setdefault(t, set())
                if not any(lp is loop for lp, _ in subs):
                    new.append(t)
                subs.add((loop, q))
        return new

    def remove(self, topics: list[str], q: asyncio.Queue[dict[str, Any]]) -> list[str]:
        """Unsubscribe ``q``; returns the topics nobody on its event loop listens to any more."""
        gone = []
        with self._lock:
            for t in topics:
                subs = self._subs.get(t)
                if subs is None:
                    continue
                loops = {lp for lp, qq in subs if qq is q}
                for entry in [e for e in subs if e[1] is q]:
                    subs.discard(entry)
                if not subs:
                    del self._subs[t]
                if any(not any(lp is loop for lp, _ in subs) for loop in loops):
                    gone.append(t)
        return gone

    def topics_of(self, loop: asyncio.AbstractEventLoop) -> list[str]:
        with self._lock:
            return [t for t, subs in self._subs.items() if any(lp is loop for lp, _ in subs)]

    def subscriber_count(self, topic: str) -> int:
        with self._lock:
            return len(self._subs.get(topic, ()))

    def has(self, topic: str) -> bool:
        return topic in self._subs  # a racy read is fine: a miss only skips an unwanted message

    def deliver(self, topic: str, message: dict[str, Any], *, loop: asyncio.AbstractEventLoop | None = None) -> None:
        with self._lock:
            targets = list(self._subs.get(topic, ()))
        item = {**message, "topic": topic}
        for lp, q in targets:
            if loop is not None and lp is not loop:
                continue
            if loop is not None:  # already on that loop (the relay)
                self._put(q, item)
                continue
            try:
                lp.call_soon_threadsafe(self._put, q, item)
            except RuntimeError:  # that loop is closed: its subscriber is gone
                pass

    def resync(self, loop: asyncio.AbstractEventLoop, reason: str) -> None:
        """Tell every subscriber on ``loop`` to reload its state (called on that loop)."""
        with self._lock:
            queues = {id(q): (t, q) for t, subs in self._subs.items() for lp, q in subs if lp is loop}
        for t, q in queues.values():
            self._overflow(q, {"type": "resync", "reason": reason, "topic": t})

    def _put(self, q: asyncio.Queue[dict[str, Any]], item: dict[str, Any]) -> None:
        if q.full():
            self._overflow(q, {"type": "resync", "reason": "behind", "topic": item.get("topic")})
            return  # the resync covers this message too
        q.put_nowait(item)

    def _overflow(self, q: asyncio.Queue[dict[str, Any]], resync: dict[str, Any]) -> None:
        while not q.empty():
            try:
                q.get_nowait()
            except asyncio.QueueEmpty:
                break
        q.put_nowait(resync)
        self.resyncs += 1


class _Relay:
    """One event loop's Redis subscription: the channels of the topics subscribed on it."""

    def __init__(self) -> None:
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.pubsub: Any = None
        self.commands: asyncio.Queue[tuple[str, list[str]]] = asyncio.Queue()
        self.confirm: dict[str, list[asyncio.Future[None]]] = {}
        self.channels: set[str] = set()


class Broadcaster:
    def __init__(self, redis_url: str | None = None) -> None:
        self.redis_url = redis_url
        self.hub = Hub()
        self._redis: Any = None
        self._relays: dict[asyncio.AbstractEventLoop, _Relay] = {}
        # the outbox drained by the sender thread
        self._out: list[list[Any]] = []
        self._latest: dict[tuple[Any, ...], list[Any]] = {}  # coalescing key -> its entry in _out
        self._out_lock = threading.Condition()
        self._busy = False
        self._sender: threading.Thread | None = None
        self.sent = 0
        self.coalesced = 0

    # -- publishing (sync; callable from request threads and jobs; never blocks on I/O) --
    def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.publish_many([topic], message)

    def publish_many(self, topics: list[str], message: dict[str, Any]) -> None:
        if self.redis_url is None:
            for t in topics:
                self.hub.deliver(t, message)
            return
        key = _coalescing_key(topics, message)
        with self._out_lock:
            if self._sender is None or not self._sender.is_alive():
                self._start_sender()
            if key is not None:
                old = self._latest.get(key)
                if old is not None:
                    old[1] = None  # a newer position of the same driver replaces it
                    self.coalesced += 1
            entry = [list(topics), message]
            self._out.append(entry)
            if key is not None:
                self._latest[key] = entry
            self._out_lock.notify_all()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything published so far has been handed to Redis."""
        deadline = time.monotonic() + timeout
        with self._out_lock:
            while self._out or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._out_lock.wait(left)
        return True

    def _start_sender(self) -> None:
        self._sender = threading.Thread(target=self._send_loop, name="broadcast-sender", daemon=True)
        self._sender.start()
        atexit.register(self.flush, 2.0)

    def _send_loop(self) -> None:
        while True:
            with self._out_lock:
                while not self._out:
                    self._out_lock.wait()
                batch, self._out, self._latest = self._out, [], {}
                self._busy = True
            try:
                self._send(batch)
            finally:
                with self._out_lock:
                    self._busy = False
                    self._out_lock.notify_all()

    def _send(self, batch: list[list[Any]]) -> None:
        items = [(topics, msg) for topics, msg in batch if msg is not None]
        try:
            if self._redis is None:
                import redis

                self._redis = redis.Redis.from_url(self.redis_url, socket_timeout=2)
            pipe = self._redis.pipeline(transaction=False)
            for topics, msg in items:
                data = _dumps(msg)
                for t in topics:
                    pipe.publish(CHANNEL_PREFIX + t, data)
            pipe.execute()
            self.sent += len(items)
        except Exception as exc:  # a live update is best effort; the database has the truth
            log.warning("broadcast to Redis failed (%s); delivering locally only", exc)
            self._redis = None
            for topics, msg in items:
                for t in topics:
                    self.hub.deliver(t, msg)

    # -- subscribing (async; one relay task per event loop when Redis is used) --
    async def _ensure_relay(self) -> _Relay | None:
        if self.redis_url is None:
            return None
        loop = asyncio.get_running_loop()
        relay = self._relays.get(loop)
        if relay is None or relay.task is None or relay.task.done():
            relay = self._relays[loop] = _Relay()
            relay.task = loop.create_task(self._relay(relay))
        await asyncio.wait_for(relay.ready.wait(), timeout=SUBSCRIBE_WAIT_S)
        return relay

    async def _relay(self, relay: _Relay) -> None:
        import redis.asyncio as aredis

        loop = asyncio.get_running_loop()
        first = True
        while True:
            client = aredis.Redis.from_url(self.redis_url)
            commander: asyncio.Task[None] | None = None
            try:
                pubsub = client.pubsub()
                channels = {CHANNEL_PREFIX + t for t in self.hub.topics_of(loop)}
                # a channel of its own keeps the connection subscribed while nobody listens
                await pubsub.subscribe(CHANNEL_PREFIX + "~relay", *channels)
                relay.pubsub, relay.channels = pubsub, channels
                commander = loop.create_task(self._commands(relay))
                if not first:  # messages may have been missed while Redis was away
                    self.hub.resync(loop, "reconnected")
                first = False
                relay.ready.set()
                async for msg in pubsub.listen():
                    kind = msg.get("type")
                    channel = msg["channel"].decode() if isinstance(msg["channel"], bytes) else msg["channel"]
                    if kind == "subscribe":
                        for fut in relay.confirm.pop(channel, ()):
                            if not fut.done():
                                fut.set_result(None)
                        continue
                    if kind != "message":
                        continue
                    topic = channel[len(CHANNEL_PREFIX):]
                    if not self.hub.has(topic):
                        continue
                    try:
                        data = orjson.loads(msg["data"])
                    except (orjson.JSONDecodeError, TypeError):
                        continue
                    self.hub.deliver(topic, data, loop=loop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("Redis relay lost (%s); reconnecting", exc)
                relay.ready.set()  # do not block subscribers while Redis is away
                await asyncio.sleep(1)
            finally:
                if commander is not None:
                    commander.cancel()
                for futs in relay.confirm.values():
                    for fut in futs:
                        if not fut.done():
                            fut.set_result(None)
                relay.confirm.clear()
                relay.pubsub = None
                with contextlib.suppress(Exception):
                    await client.aclose()

    async def _commands(self, relay: _Relay) -> None:
        """Subscribe and unsubscribe channels in the order asked (one at a time)."""
        while True:
            op, topics = await relay.commands.get()
            chans = [CHANNEL_PREFIX + t for t in topics]
            if op == "sub":
                chans = [c for c in chans if c not in relay.channels]
                if chans:
                    relay.channels.update(chans)
                    await relay.pubsub.subscribe(*chans)
                else:  # already subscribed: nothing to wait for
                    for c in [CHANNEL_PREFIX + t for t in topics]:
                        for fut in relay.confirm.pop(c, ()):
                            if not fut.done():
                                fut.set_result(None)
            else:
                loop = asyncio.get_running_loop()
                still = set(self.hub.topics_of(loop))
                chans = [c for c in chans if c in relay.channels and c[len(CHANNEL_PREFIX):] not in still]
                if chans:
                    relay.channels.difference_update(chans)
                    await relay.pubsub.unsubscribe(*chans)

    async def subscribe(self, topics: list[str]) -> AsyncIterator[dict[str, Any]]:
        relay = await self._ensure_relay()
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        new = self.hub.add(topics, q)
        if relay is not None and new and relay.pubsub is not None:
            loop = asyncio.get_running_loop()
            futs = []
            for t in new:
                fut = loop.create_future()
                relay.confirm.setdefault(CHANNEL_PREFIX + t, []).append(fut)
                futs.append(fut)
            relay.commands.put_nowait(("sub", new))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*futs), SUBSCRIBE_WAIT_S)
        try:
            while True:
                yield await q.get()
        finally:
            gone = self.hub.remove(topics, q)
            if relay is not None and gone:
                relay.commands.put_nowait(("unsub", gone))


def _coalescing_key(topics: list[str], message: dict[str, Any]) -> tuple[Any, ...] | None:
    """Messages with the same key replace each other while waiting to be sent."""
    if message.get("type") == "position" and message.get("driver_id"):
        return ("position", message["driver_id"], tuple(topics))
    return None


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
