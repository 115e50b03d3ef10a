"""Time helpers: store UTC, present in a zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ZONES = ("America/Chicago", "America/Matamoros")


def utcnow() -> datetime:
    return datetime.now(UTC)


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
