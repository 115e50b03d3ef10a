"""OwnTracks over MQTT: ``lastmile ingest-mqtt`` subscribes to ``owntracks/#`` on the
broker and feeds locations into the same pipeline as the HTTP endpoints.

**Who may publish is the broker's business.** MQTT publishers authenticate to the
broker (Mosquitto: ``password_file`` + ``acl_file`` with ``pattern write
owntracks/%u/#``), so a phone can only publish on its own topic. lastmile maps a
topic ``owntracks/<user>/<device>`` to the device registered with it (POST
/devices, kind owntracks) and refuses -- counting the reason -- anything else:
topics it does not know (``unknown_topic``), topics of the wrong shape
(``bad_topic``), oversized (``too_large``) or unreadable (``malformed``) messages,
floods from one device (``rate_limited``). Other OwnTracks subtopics of a known
device (``/event``, ``/info``, ...) and non-location messages (``lwt``) are ignored.

Messages are taken from paho's network thread into a queue and handled in batches
(one transaction for up to ``batch_max`` messages), so throughput does not depend on
one commit per message. They are acknowledged to the broker when received (QoS 1):
a crash of this process loses at most the batch in hand, which the phone does not
resend -- the next fix follows seconds later.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson

from ..kit.ratelimit import RateLimited, RequestLimiter, Store
from . import pipeline, service
from .config import TrackingSettings, get_tracking_settings
from .decoders import Fix, Malformed, decode_owntracks
from .stats import counters_for

log = logging.getLogger("lastmile.tracking.mqtt")


class MemoryStore:
    """Rate-limit counters in this process (kit.ratelimit's Store protocol)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def _key(self, key: str, window_s: int) -> tuple[str, float]:
        now = time.time()
        idx = int(now // window_s)
        return f"{key}:{window_s}:{idx}", (idx + 1) * window_s - now

    def add(self, key: str, n: int, window_s: int) -> tuple[int, float]:
        k, left = self._key(key, window_s)
        with self._lock:
            if len(self._counts) > 100_000:
                self._counts.clear()
            self._counts[k] = total = self._counts.get(k, 0) + n
        return total, left

    def get(self, key: str, window_s: int) -> tuple[int, float]:
        k, left = self._key(key, window_s)
        return self._counts.get(k, 0), left

    def clear(self, key: str, window_s: int) -> None:
        self._counts.pop(self._key(key, window_s)[0], None)


@dataclass
class Message:
    topic: str
    payload: bytes


class MqttIngest:
    def __init__(self, db: Any, *, host: str = "127.0.0.1", port: int = 1883, topics: tuple[str, ...] = ("owntracks/#",),
                 username: str | None = None, password: str | None = None, client_id: str = "",
                 cfg: TrackingSettings | None = None, limit_store: Store | None = None,
                 batch_max: int = 500, tls: bool = False) -> None:
        self.db, self.host, self.port, self.topics = db, host, port, topics
        self.cfg = cfg or get_tracking_settings()
        self.batch_max = batch_max
        self.counters = counters_for(db)
        # one ingest consumes a subscription, so it counts floods in memory (exact, no I/O);
        # a shared store (Redis) is for several ingests sharing one subscription
        self.limiter = RequestLimiter(limit_store or MemoryStore(), self.cfg.device_requests_per_window,
                                      self.cfg.device_window_s, 0 if limit_store is None else 5.0)
        self.queue: queue.Queue[Message] = queue.Queue(maxsize=100_000)
        self.handled = 0  # messages taken off the queue and decided (stored, rejected or ignored)
        self.stored = 0
        self._handled_cond = threading.Condition()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._worker: threading.Thread | None = None

        import paho.mqtt.client as mqtt

        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=not client_id)  # a named client keeps its session
        if username:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()

    # -- paho callbacks (network thread) --
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if getattr(reason_code, "is_failure", False):
            log.error("MQTT connection refused: %s", reason_code)
            return
        client.subscribe([(t, 1) for t in self.topics])

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        try:
            self.queue.put_nowait(Message(msg.topic, msg.payload))
        except queue.Full:  # the database cannot keep up: shed load, visibly
            self.counters.add(None, "owntracks", "overloaded")

    # -- lifecycle --
    def start(self, timeout: float = 10.0) -> None:
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        self._worker = threading.Thread(target=self._work, name="mqtt-ingest", daemon=True)
        self._worker.start()
        if not self._subscribed.wait(timeout):
            raise RuntimeError(f"could not subscribe on MQTT broker {self.host}:{self.port}")

    def stop(self) -> None:
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()
        if self._worker is not None:
            self._worker.join(10)
        self.counters.flush()

    def wait_handled(self, n: int, timeout: float = 10.0) -> bool:
        """Block until ``n`` messages in all have been handled (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        with self._handled_cond:
            while self.handled < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._handled_cond.wait(left)
        return True

    # -- the batch loop (worker thread) --
    def _work(self) -> None:
        while not self._stop.is_set() or not self.queue.empty():
            try:
                first = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < self.batch_max:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            self._handle_with_retry(batch)
            with self._handled_cond:
                self.handled += len(batch)
                self._handled_cond.notify_all()

    def _handle_with_retry(self, batch: list[Message]) -> None:
        delay = 0.5
        while True:
            try:
                self.handle(batch)
                return
            except Exception:
                if self._stop.is_set():
                    log.exception("dropping %d MQTT messages at shutdown", len(batch))
                    return
                log.exception("MQTT batch of %d failed; retrying in %.1fs", len(batch), delay)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)

    def handle(self, batch: list[Message]) -> int:
        """Decode, identify and run one batch through the pipeline; returns fixes stored."""
        items: list[tuple[pipeline.Sender, Fix]] = []
        topics = ["/".join(m.topic.split("/", 3)[:3]) for m in batch]
        with self.db.read_sessions() as s:
            devices = service.devices_by_topic(s, topics)
        for m in batch:
            reason, org = self._decode(devices, m, items)
            if reason is not None:
                self.counters.add(org, "owntracks", reason)
        if not items:
            return 0
        with self.db.session() as s:
            out = pipeline.ingest(s, items, cfg=self.cfg)
            s.commit()
        self.counters.add_many(out.counts)
        self.stored += out.accepted
        return out.accepted

    def _decode(self, devices: dict[str, service.DeviceRef | None], m: Message,
                items: list[tuple[pipeline.Sender, Fix]]) -> tuple[str | None, str | None]:
        if len(m.payload) > self.cfg.max_message_bytes:
            return "too_large", None
        parts = m.topic.split("/")
        if len(parts) < 3 or parts[0] != "owntracks" or not parts[1] or not parts[2]:
            return "bad_topic", None
        dev = devices.get("/".join(parts[:3]))
        if dev is None:
            return "unknown_topic", None
        if len(parts) > 3:
            return "ignored_topic", dev.organization_id  # /event, /info, /cmd, ...: no position
        try:
            fix = decode_owntracks(orjson.loads(m.payload))
        except orjson.JSONDecodeError:
            return "malformed", dev.organization_id
        except Malformed as e:
            return e.reason, dev.organization_id
        if fix is None:
            return "ignored_type", dev.organization_id
        try:
            key = f"trk:dev:{dev.id}"
            self.limiter.hit(key, self.limiter.needs_sync(key))
        except RateLimited:
            return "rate_limited", dev.organization_id
        items.append((dev.sender("owntracks"), fix))
        return None, None

    def run_forever(self) -> None:
        """For the CLI: run until interrupted (SIGINT/SIGTERM)."""
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._stop.set())
        self.start()
        log.info("ingesting %s from %s:%d", ", ".join(self.topics), self.host, self.port)
        while not self._stop.wait(1.0):
            pass
        self.stop()
