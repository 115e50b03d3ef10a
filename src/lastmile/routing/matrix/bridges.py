"""International bridges: where a leg may cross the border, when, and how long it waits.

A ``Bridge`` is a crossing point with a location, opening hours (by weekday),
the kinds of traffic it takes (``passenger``, ``commercial``) and a
``WaitProfile`` per direction: minutes of wait at each hour of the day, for
weekdays, Saturdays and Sundays, read linearly between the hours.

Queues are first in, first out: whoever reaches a bridge later does not leave
it earlier. A raw profile can break that (a 60-minute queue at 09:59 that drops
to 25 minutes at 10:00), and so can a closed bridge (reach it at 23:59 and you
leave after it opens). ``ExitTable`` therefore keeps, per bridge, direction and
weekday, the *earliest time you can be across* when you reach the bridge at
``t``: ``E(t) = min over t' >= t, open at t' of (t' + wait(t'))`` -- the raw
wait where the queue behaves, the wait for the opening where it is closed, and
never a later arrival for a later start. It is tabulated every minute over
three days (the planned day and the two after it) and interpolated, so
``E`` is non-decreasing and ``E(t) >= t`` everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..domain import DAY, LatLon

EVERY_DAY = frozenset(range(7))
GRID_S = 60
HORIZON_DAYS = 3
PASSENGER = "passenger"
COMMERCIAL = "commercial"


@dataclass(frozen=True)
class OpenHours:
    """Open from ``start`` to ``end`` (seconds since midnight) on ``weekdays`` (0 = Monday)."""

    start: int
    end: int
    weekdays: frozenset[int] = EVERY_DAY

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= DAY:
            raise ValueError("opening hours must be within one day and end after they start")


ALWAYS_OPEN = (OpenHours(0, DAY),)


@dataclass(frozen=True)
class WaitProfile:
    """Minutes of wait at 00:00, 01:00 ... 23:00 (linear in between) for Monday-Friday;
    Saturday and Sunday default to the weekday values (Sunday to Saturday's)."""

    weekday: tuple[float, ...]
    saturday: tuple[float, ...] | None = None
    sunday: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        for hours in (self.weekday, self.saturday, self.sunday):
            if hours is not None and (len(hours) != 24 or any(not (m >= 0 and math.isfinite(m)) for m in hours)):
                raise ValueError("a wait profile has 24 hourly values of minutes, each >= 0")

    def hours(self, weekday: int) -> tuple[float, ...]:
        if weekday % 7 == 5:
            return self.saturday or self.weekday
        if weekday % 7 == 6:
            return self.sunday or self.saturday or self.weekday
        return self.weekday

    def minutes(self, weekday: int, t: float) -> float:
        """The raw wait (minutes) at time of day ``t`` on ``weekday``."""
        tod = float(t) % DAY
        h = int(tod // 3600)
        a = self.hours(weekday)[h]
        b = self.hours(weekday)[h + 1] if h < 23 else self.hours(weekday + 1)[0]
        return a + (b - a) * (tod - h * 3600) / 3600.0


def constant_wait(minutes: float) -> WaitProfile:
    return WaitProfile((float(minutes),) * 24)


@dataclass(frozen=True)
class Bridge:
    """A crossing point. ``into_left`` / ``into_right`` name the direction by the
    side of the border it leads into (see ``timedep.Border``)."""

    name: str
    location: LatLon
    into_left: WaitProfile
    into_right: WaitProfile
    hours: tuple[OpenHours, ...] = ALWAYS_OPEN
    serves: frozenset[str] = frozenset({PASSENGER, COMMERCIAL})

    def is_open(self, weekday: int, t: float) -> bool:
        tod = float(t) % DAY
        return any(weekday % 7 in h.weekdays and h.start <= tod < h.end for h in self.hours)

    def wait_s(self, into_left: bool, weekday: int, t: float) -> float:
        """The raw wait (seconds) on reaching the bridge at ``t``; infinite when closed."""
        if not self.is_open(weekday, t):
            return math.inf
        return 60.0 * (self.into_left if into_left else self.into_right).minutes(weekday, t)

    def exit_table(self, into_left: bool, weekday: int) -> ExitTable:
        return ExitTable.build(self, into_left, weekday)


@dataclass(frozen=True)
class ExitTable:
    """``at(t)``: when you are across, having reached the bridge at ``t`` (FIFO)."""

    grid: np.ndarray  # seconds, every GRID_S over HORIZON_DAYS days (inclusive end)
    exit: np.ndarray  # non-decreasing, >= grid
    typical_wait_s: float  # mean wait over the planned day, for picking a route without a clock

    @classmethod
    def build(cls, bridge: Bridge, into_left: bool, weekday: int) -> ExitTable:
        profile = bridge.into_left if into_left else bridge.into_right
        grid = np.arange(0, HORIZON_DAYS * DAY + 1, GRID_S, dtype=np.float64)
        hourly = [m for d in range(HORIZON_DAYS) for m in profile.hours(weekday + d)]
        hourly.append(profile.hours(weekday + HORIZON_DAYS)[0])
        wait = np.interp(grid, np.arange(len(hourly)) * 3600.0, np.asarray(hourly) * 60.0)
        open_ = np.zeros(grid.shape, dtype=bool)
        for d in range(HORIZON_DAYS + 1):
            for h in bridge.hours:
                if (weekday + d) % 7 in h.weekdays:
                    open_ |= (grid >= d * DAY + h.start) & (grid < d * DAY + h.end)
        raw = np.where(open_, grid + wait, np.inf)
        exit_ = np.minimum.accumulate(raw[::-1])[::-1]
        # Closed until the end of the horizon: "never" becomes a time well past it.
        exit_ = np.where(np.isfinite(exit_), exit_, grid[-1] + 2 * DAY)
        day0 = grid < DAY
        typical = float(np.mean(exit_[day0] - grid[day0]))
        return cls(grid, exit_, typical)

    def at(self, t):
        """Vectorized; times outside the first two days are folded back by whole days."""
        t = np.asarray(t, dtype=np.float64)
        fold = (t < 0) | (t >= (HORIZON_DAYS - 1) * DAY)
        shift = np.where(fold, np.floor(t / DAY) * DAY, 0.0)
        return np.interp(t - shift, self.grid, self.exit) + shift
