"""Time helpers: store UTC, present in a zone -- and the one "now" of the server.

``utcnow()`` is what every part of the server calls "now". It is the wall clock,
unless a simulation clock is configured (the demo runs a day faster than real time):

- across processes, ``LASTMILE_SIM_CLOCK="<sim start, ISO 8601>@<real start, Unix s>x<speed>"``,
  e.g. ``2026-11-25T13:40:00+00:00@1764100000.0x30``: the server workers, the job worker,
  the MQTT ingest and the simulator started with the same value agree on the time;
- or ``LASTMILE_SIM_CLOCK="file:<path>"``: the same value read from a file, re-read when it
  changes (checked at most every quarter second), so one process can hold, move or
  speed up every process's clock (the live demo holds it while it sets up, then runs it);
- in one process, ``use_clock(SimClock(...))`` and then ``clock.set(t)`` / ``clock.advance(s)``
  step it (the headless demo runs a day at full speed this way).

Only "now" is simulated. Rate limits, leases on real resources and every timer keep
using ``time.monotonic()`` / ``time.time()``: those are about this machine, not the day.
A simulation clock is refused in production (``LASTMILE_ENV=production``).
"""

from __future__ import annotations

import os
import threading
import time as _time
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ZONES = ("America/Chicago", "America/Matamoros")
CLOCK_ENV = "LASTMILE_SIM_CLOCK"


class SimClockRefused(RuntimeError):
    """A simulation clock was configured where only real time may be used."""


class SimClock:
    """Simulated time: ``start`` at real Unix time ``real_start``, running ``speed``
    times faster than real time; or stopped at a set instant (stepped by hand)."""

    def __init__(self, start: datetime, real_start: float | None = None, speed: float = 1.0) -> None:
        if speed < 0:
            raise ValueError("the clock's speed must be >= 0")
        self._lock = threading.Lock()
        self.start = as_utc(start)
        self.real_start = _time.time() if real_start is None else float(real_start)
        self.speed = float(speed)
        self._fixed: datetime | None = None

    @property
    def stepped(self) -> bool:
        return self._fixed is not None

    def now(self) -> datetime:
        fixed = self._fixed
        if fixed is not None:
            return fixed
        return self.start + timedelta(seconds=(_time.time() - self.real_start) * self.speed)

    def set(self, at: datetime) -> None:
        """Stop the clock at ``at`` (it moves only by ``set``/``advance`` from now on)."""
        with self._lock:
            self._fixed = as_utc(at)

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._fixed = (self._fixed if self._fixed is not None else self.now()) + timedelta(seconds=seconds)
            return self._fixed

    def run(self, speed: float | None = None, real_start: float | None = None) -> None:
        """Let the clock run again from its current instant (at ``speed``)."""
        with self._lock:
            self.start = self._fixed if self._fixed is not None else self.now()
            self.real_start = _time.time() if real_start is None else real_start
            self.speed = self.speed if speed is None else float(speed)
            self._fixed = None

    def env_value(self) -> str:
        """The ``LASTMILE_SIM_CLOCK`` value other processes need to agree with this clock
        (a stepped clock is handed on as running from its instant at its speed)."""
        start, real = (self._fixed, _time.time()) if self._fixed is not None else (self.start, self.real_start)
        return f"{start.isoformat()}@{real:.3f}x{self.speed:g}"

    @classmethod
    def parse(cls, value: str) -> SimClock:
        try:
            start_s, rest = value.strip().rsplit("@", 1)
            real_s, _, speed_s = rest.partition("x")
            start = datetime.fromisoformat(start_s)
            return cls(start, float(real_s), float(speed_s or 1))
        except ValueError:
            raise ValueError(f"{CLOCK_ENV}={value!r}: expected <ISO start>@<Unix real start>x<speed>, "
                             "e.g. 2026-11-25T13:40:00+00:00@1764100000x30") from None


class FileClock:
    """The clock written in a file (``<ISO start>@<Unix real start>x<speed>``); until the
    file exists, real time. Write it with :func:`write_clock_file` (atomic)."""

    CHECK_S = 0.25

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._clock: SimClock | None = None
        self._stamp: int | None = None
        self._checked = -1e9

    def current(self) -> SimClock | None:
        now = _time.monotonic()
        if now - self._checked < self.CHECK_S:
            return self._clock
        with self._lock:
            self._checked = now
            try:
                stamp = os.stat(self.path).st_mtime_ns
            except FileNotFoundError:
                self._clock, self._stamp = None, None
                return None
            if stamp != self._stamp:
                with open(self.path, encoding="utf-8") as f:
                    self._clock = SimClock.parse(f.read())
                self._stamp = stamp
            return self._clock

    def now(self) -> datetime:
        clock = self.current()
        return datetime.now(UTC) if clock is None else clock.now()

    def env_value(self) -> str:
        return f"file:{self.path}"


def write_clock_file(path: str | os.PathLike[str], clock: SimClock) -> None:
    """Publish ``clock`` to every process reading ``path`` (replaced atomically)."""
    tmp = f"{os.fspath(path)}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(clock.env_value())
    os.replace(tmp, path)


_clock: SimClock | FileClock | None = None
_loaded = False


def _production() -> bool:
    return os.environ.get("LASTMILE_ENV", "").strip().lower() == "production"


def _load() -> SimClock | FileClock | None:
    global _clock, _loaded
    value = os.environ.get(CLOCK_ENV, "").strip()
    if value and _production():
        raise SimClockRefused(f"{CLOCK_ENV} (a simulation clock) is refused in production")
    if value.startswith("file:"):
        _clock = FileClock(value[5:])
    else:
        _clock = SimClock.parse(value) if value else None
    _loaded = True
    return _clock


def use_clock(clock: SimClock | FileClock | None) -> SimClock | FileClock | None:
    """Make ``clock`` this process's "now" (``None``: the wall clock again)."""
    global _clock, _loaded
    if clock is not None and _production():
        raise SimClockRefused("a simulation clock is refused in production")
    _clock, _loaded = clock, True
    return clock


def sim_clock() -> SimClock | FileClock | None:
    """The simulation clock in use, or ``None`` for real time."""
    return _clock if _loaded else _load()


def utcnow() -> datetime:
    clock = _clock if _loaded else _load()
    return datetime.now(UTC) if clock is None else clock.now()


class ServerTimeHeader:
    """Pure ASGI middleware: every answer says the server's "now" (``X-Server-Time``),
    so pages can show lateness and "now" lines on the server's clock rather than the
    browser's (a phone or laptop clock that is off, or the demo's simulated day)."""

    def __init__(self, app: object) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # type: ignore[operator]
            return

        async def send_with_time(message: dict) -> None:  # type: ignore[type-arg]
            if message["type"] == "http.response.start":
                stamp = utcnow().isoformat().replace("+00:00", "Z").encode()
                message = {**message, "headers": [*message.get("headers", []), (b"x-server-time", stamp)]}
            await send(message)  # type: ignore[operator]

        await self.app(scope, receive, send_with_time)  # type: ignore[operator]


def as_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def local_midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone))


def seconds_since_midnight(dt: datetime, day: date, zone: str) -> int:
    return int((as_utc(dt) - local_midnight(day, zone).astimezone(UTC)).total_seconds())


def at_seconds(day: date, zone: str, seconds: int) -> datetime:
    """The UTC instant ``seconds`` after local midnight of ``day`` in ``zone``."""
    return (local_midnight(day, zone) + timedelta(seconds=seconds)).astimezone(UTC)


def hhmm(seconds: int) -> str:
    """Seconds since local midnight as ``HH:MM`` (``+1d`` past midnight)."""
    day, rest = divmod(int(seconds), 86400)
    h, m = divmod(rest // 60, 60)
    return f"{h:02d}:{m:02d}" + (f"+{day}d" if day else "")


def hours_minutes(seconds: int) -> str:
    """A duration as ``9h05``."""
    h, m = divmod(int(seconds) // 60, 60)
    return f"{h}h{m:02d}"
