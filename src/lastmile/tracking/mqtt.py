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

**Delivery: at least once, with backpressure.** The subscription is QoS 1 over MQTT
5; a message is acknowledged (PUBACK) only after the transaction that stored it has
committed, so a crash loses nothing -- the broker redelivers what was not
acknowledged (a named client keeps its session, ``--client-id``; a redelivered fix
is then refused as a ``duplicate``). The client announces a receive window of
``inflight`` messages (MQTT 5 Receive Maximum), so the broker keeps streaming while
a batch is in the database, and holds the rest in the session's queue -- instead of
this process dropping messages it has no room for.

Messages are taken from paho's network thread into a queue and handled in batches
(one transaction for all that waited, up to ``batch_max``), so throughput does not
depend on one commit per message. **Several ingest processes** share the load with
an MQTT 5 shared subscription (``--share GROUP``: the broker hands each message to
one member of the group); with Redis configured they count floods in the shared
store so the per-device limit holds across them.
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
    mid: int = 0
    qos: int = 0


class MqttIngest:
    def __init__(self, db: Any, *, host: str = "127.0.0.1", port: int = 1883, topics: tuple[str, ...] = ("owntracks/#",),
                 username: str | None = None, password: str | None = None, client_id: str = "",
                 cfg: TrackingSettings | None = None, limit_store: Store | None = None,
                 batch_max: int = 2000, tls: bool = False, inflight: int = 20_000, share: str | None = None,
                 session_expiry_s: int = 3600) -> None:
        self.db, self.host, self.port = db, host, port
        # a shared subscription ($share/<group>/<filter>): the broker splits the messages
        # among the group's members (several ingest processes)
        self.topics = tuple(f"$share/{share}/{t}" for t in topics) if share else topics
        self.cfg = cfg or get_tracking_settings()
        self.batch_max = batch_max
        self.counters = counters_for(db)
        # one ingest consumes a subscription, so it counts floods in memory (exact, no I/O);
        # a shared store (Redis) is for several ingests sharing one subscription
        self.limiter = RequestLimiter(limit_store or MemoryStore(), self.cfg.device_requests_per_window,
                                      self.cfg.device_window_s, 0 if limit_store is None else 5.0)
        # holds at most the broker's in-flight window: the broker sends no more than
        # ``inflight`` unacknowledged messages, so nothing needs to be dropped here
        self.queue: queue.Queue[Message] = queue.Queue()
        self.inflight = max(1, min(int(inflight), 65_535))
        self.session_expiry_s = session_expiry_s if client_id else 0
        self.handled = 0  # messages taken off the queue and decided (stored, rejected or ignored)
        self.stored = 0
        self._handled_cond = threading.Condition()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._worker: threading.Thread | None = None

        import paho.mqtt.client as mqtt

        # MQTT 5, acknowledging by hand once the batch is committed
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                                  manual_ack=True)
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
        self.queue.put(Message(msg.topic, msg.payload, msg.mid, msg.qos))

    def _ack(self, batch: list[Message]) -> None:
        for m in batch:  # in the order received, as MQTT wants
            if m.qos > 0:
                self.client.ack(m.mid, m.qos)

    # -- lifecycle --
    def start(self, timeout: float = 10.0) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)
        props.ReceiveMaximum = self.inflight  # how many unacknowledged messages the broker may send us
        if self.session_expiry_s:
            props.SessionExpiryInterval = self.session_expiry_s  # a named client's session outlives a restart
        self.client.connect(self.host, self.port, keepalive=30, clean_start=not self.session_expiry_s,
                            properties=props)
        self.client.loop_start()
        self._worker = threading.Thread(target=self._work, name="mqtt-ingest", daemon=True)
        self._worker.start()
        if not self._subscribed.wait(timeout):
            raise RuntimeError(f"could not subscribe on MQTT broker {self.host}:{self.port}")

    def stop(self) -> None:
        self._stop.set()
        if self._worker is not None:  # the batch in hand is committed and acknowledged first
            self._worker.join(10)
        self.client.disconnect()
        self.client.loop_stop()
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
        while not self._stop.is_set():  # at shutdown what waits stays unacknowledged: redelivered
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
            if self._handle_with_retry(batch):
                self._ack(batch)
            with self._handled_cond:
                self.handled += len(batch)
                self._handled_cond.notify_all()

    def _handle_with_retry(self, batch: list[Message]) -> bool:
        """True once the batch is committed; False at shutdown (not acknowledged: the
        broker redelivers it to the next session)."""
        delay = 0.5
        while True:
            try:
                self.handle(batch)
                return True
            except Exception:
                if self._stop.is_set():
                    log.exception("leaving %d MQTT messages unacknowledged at shutdown", len(batch))
                    return False
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
