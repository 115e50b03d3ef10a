"""The hidden "true" world a simulated day is played against -- what the planner
does not see. ``Truth(world)`` answers how long things really take.

Public API (stable; later additions only add):

* ``Truth(world, *, provider=None)`` -- ``provider``: the base ``MatrixProvider``
  (default ``HaversineProvider()``, the planner's own default; pass a road-graph
  provider to play the day on roads);
* ``travel_s(a, b, depart_s) -> int`` seconds from place ``a`` to ``b`` leaving at
  ``depart_s`` (seconds since local midnight). Places are ids: a depot id or an
  order id of the world. FIFO: leaving later never arrives earlier;
* ``distance_m(a, b) -> int`` metres actually driven on that leg;
* ``path(a, b, depart_s, every_s=10) -> tuple[(t, LatLon), ...]`` timed positions
  along the leg (first at ``depart_s`` at ``a``, last at the arrival at ``b``), for
  simulated drivers to report pings; a border crossing waits at its bridge;
* ``service_s(order_id, arrival_s, first_visit=True) -> int`` true time at the door;
* ``at_home(order_id, arrival_s, notified) -> bool``;
* ``reply(order_id, eta_s) -> Reply | None`` how a notified customer who will be
  away at ``eta_s`` answers (a new window today, or another day); None: no answer;
* ``location(place_id)``, ``ids``, ``model`` (the underlying ``TimeDependentModel``)
  and ``profile`` (the hidden ``TrafficProfile``).

Assumptions (each a defensible guess, none tuned to favour any dispatcher; the
planner's static ``laredo`` profile -- ``routing/matrix/profiles.py`` -- is the
reference they differ from):

* Roads: the same base travel model as the planner (great circle x 1.5 at
  40 km/h, or the provider given), with a fixed per-leg deviation drawn per seed:
  durations x lognormal(sigma 0.12), distances x lognormal(sigma 0.04) (lights,
  turns, the way a driver really goes). The same geography: the Rio Grande is
  crossed only at the international bridges (``profiles.laredo_bridges``).
* Time of day (weekdays), on top of free flow, intensities drawn per seed:
  city-wide morning rush 06:45-09:15 x1.25-1.45, lunch 12:00-13:30 x1.15, evening
  rush 16:00-18:45 x1.30-1.50; the I-35 / US-83 corridor x1.8-2.2 at 07:00-09:00
  and x1.9-2.3 at 16:30-18:30, x1.2 at midday; the downtown bridge approaches
  x1.8-2.2 at the commutes, x1.3 through the day; school zones (400 m around each
  school of ``profiles.SCHOOLS``) x2.5 at 07:00-08:15 and 14:30-15:45; one
  incident per day (a crash or road works) on the I-35 corridor, x1.8 within
  1 km for 45-90 minutes at a random time 09:00-16:00.
* Bridge queues: the planner's typical waits x a per-seed factor 0.9-1.4.
* Service: nominal x the order's hidden factor (building type: house 1.0,
  apartment 1.35 -- stairs, intercom --, business 0.8 -- a front desk --, gated
  community 1.25 -- the guard house; x a per-customer lognormal(0.25)) x a
  per-visit lognormal(0.15); +90 s to count cash on delivery; +60 s on a first
  visit to an apartment or gated community (finding the door), a repeat visit
  x0.8; businesses x1.2 at lunch (12:00-14:00). Per order the truth is ~12 %
  slower at the door than the nominal figure shippers send; over a day's
  delivered orders (COD and stairs weigh on the short stops) the total is
  14-23 % more (seeds 1001-1003).
* Customers: about 8 % are away for most of their promised window (house 8 %,
  apartment 10 %, business 3 %, gated 7 %, per customer x lognormal(0.4)). Not
  notified, they are simply not home. Notified (a message with the expected
  arrival), 60 % reply with a new time (after they are back, today if that is
  before 18:30, else another day), 25 % arrange to receive it anyway (a
  neighbour, a safe place, they come back) and 15 % ignore the message.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace

import numpy as np

from ..routing.domain import LatLon, TimeWindow
from ..routing.matrix.bridges import WaitProfile
from ..routing.matrix.haversine import HaversineProvider, distance_m
from ..routing.matrix.profiles import BRIDGES, SCHOOLS, laredo
from ..routing.matrix.timedep import (EVERY_DAY, WEEKDAYS, Slowdown, TimeDependentModel, TrafficProfile, Zone,
                                      matrix_with_bridges)
from ..routing.ports import Matrix, MatrixProvider
from .world import World

__all__ = ["Reply", "Truth", "true_profile"]

H = 3600
# The corridor as the planner's profile draws it (one geography for both).
I35: tuple[LatLon, ...] = next(z.path for z in laredo().zones if z.name == "I-35 corridor")
LATEST_SAME_DAY = 18 * H + 30 * 60


def _sd(start: float, end: float, factor: float, weekdays: frozenset[int] = WEEKDAYS) -> Slowdown:
    return Slowdown(int(start), int(end), round(factor, 3), weekdays)


def true_profile(seed: int) -> TrafficProfile:
    """The hidden traffic of the day for ``seed`` (see the module's assumptions)."""
    rng = np.random.default_rng([seed, 35])
    u = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
    zones = [
        Zone("citywide", (
            _sd(6.75 * H, 9.25 * H, u(1.25, 1.45)),
            _sd(12 * H, 13.5 * H, 1.15),
            _sd(16 * H, 18.75 * H, u(1.30, 1.50)),
        )),
        Zone("I-35 corridor", (
            _sd(7 * H, 9 * H, u(1.8, 2.2)),
            _sd(11.5 * H, 14 * H, 1.2),
            _sd(16.5 * H, 18.5 * H, u(1.9, 2.3)),
        ), path=I35, radius_m=800.0),
        Zone("downtown bridges", (
            _sd(6.5 * H, 9.5 * H, u(1.8, 2.2)),
            _sd(16 * H, 19 * H, u(1.8, 2.2)),
            _sd(9.5 * H, 16 * H, 1.3, EVERY_DAY),
        ), path=(BRIDGES["Gateway to the Americas"],), radius_m=1200.0),
    ]
    for name, (lat, lon) in SCHOOLS.items():
        zones.append(Zone(f"school zone {name}", (_sd(7 * H, 8.25 * H, 2.5), _sd(14.5 * H, 15.75 * H, 2.5)),
                          path=(LatLon(lat, lon),), radius_m=400.0))
    # one incident on the corridor
    seg = int(rng.integers(0, len(I35) - 1))
    f = float(rng.uniform(0, 1))
    a, b = I35[seg], I35[seg + 1]
    spot = LatLon(a.lat + f * (b.lat - a.lat), a.lon + f * (b.lon - a.lon))
    start = int(rng.uniform(9 * H, 16 * H)) // 60 * 60
    zones.append(Zone("incident", (_sd(start, start + int(rng.uniform(45, 90)) * 60, 1.8, EVERY_DAY),),
                      path=(spot,), radius_m=1000.0))
    planned = laredo().border
    assert planned is not None
    k = u(0.9, 1.4)

    def scaled(p: WaitProfile) -> WaitProfile:
        s = lambda h: None if h is None else tuple(round(m * k, 1) for m in h)  # noqa: E731
        return WaitProfile(s(p.weekday), s(p.saturday), s(p.sunday))  # type: ignore[arg-type]

    bridges = tuple(replace(b, into_left=scaled(b.into_left), into_right=scaled(b.into_right)) for b in planned.bridges)
    return TrafficProfile(tuple(zones), replace(planned, bridges=bridges), name=f"truth-{seed}")


@dataclass(frozen=True)
class Reply:
    order_id: str
    window: TimeWindow | None  # the new window today; None: another day


def _unit(*parts: object) -> float:
    """A deterministic uniform(0, 1) from the parts (stable across runs and platforms)."""
    h = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return (int.from_bytes(h, "big") + 0.5) / 2**64


def _normal(*parts: object) -> float:
    u1, u2 = _unit(*parts, 1), _unit(*parts, 2)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2 * math.pi * u2)


class Truth:
    """The true travel, service and customer behaviour of one world's day."""

    def __init__(self, world: World, *, provider: MatrixProvider | None = None) -> None:
        self.world = world
        self.ids: tuple[str, ...] = tuple(x.id for x in world.depots) + tuple(o.id for o in world.orders)
        self._row = {pid: i for i, pid in enumerate(self.ids)}
        self._loc: tuple[LatLon, ...] = tuple(x.location for x in world.depots) + tuple(o.location for o in world.orders)
        self.profile = true_profile(world.seed)
        base = matrix_with_bridges(provider or HaversineProvider(), self._loc, self.profile)
        rng = np.random.default_rng([world.seed, 7])
        n = base.size
        dur_noise = np.exp(rng.normal(0.0, 0.12, (n, n)))
        dist_noise = np.exp(rng.normal(0.0, 0.04, (n, n)))
        noisy = replace(base, durations=np.rint(base.durations * dur_noise).astype(np.int64),
                        distances=np.rint(base.distances * dist_noise).astype(np.int64))
        assert isinstance(noisy, Matrix)
        self.model = TimeDependentModel(noisy, self._loc, self.profile, world.weekday)
        self._bridge_at = {b.name: b.location for b in (self.profile.border.bridges if self.profile.border else ())}

    # --- places ---

    def location(self, place_id: str) -> LatLon:
        return self._loc[self._row[place_id]]

    def _r(self, place_id: str) -> int:
        try:
            return self._row[place_id]
        except KeyError:
            raise KeyError(f"unknown place {place_id!r}: a depot or order id of the world") from None

    # --- travel ---

    def travel_s(self, a: str, b: str, depart_s: int) -> int:
        return self.model.travel(self._r(a), self._r(b), int(depart_s))

    def distance_m(self, a: str, b: str) -> int:
        return self.model.distance(self._r(a), self._r(b))

    def path(self, a: str, b: str, depart_s: int, every_s: int = 10) -> tuple[tuple[int, LatLon], ...]:
        """Timed positions from ``a`` to ``b`` every ``every_s`` seconds. Straight
        lines (the base model has no geometry); a crossing leg drives to its bridge,
        waits in the queue there, and drives on."""
        if every_s <= 0:
            raise ValueError("every_s must be positive")
        i, j = self._r(a), self._r(b)
        t0 = int(depart_s)
        total = self.model.travel(i, j, t0)
        pa, pb = self._loc[i], self._loc[j]
        bridge = self.model.bridge_for(i, j, t0)
        if bridge is None or total <= 0:
            legs = [(pa, pb, total)]
        else:
            pm = self._bridge_at[bridge]
            d1, d2 = distance_m(pa, pm), distance_m(pm, pb)
            drive = min(total, self.model.free_flow(i, j) * 1.0)
            drive1 = int(drive * d1 / max(d1 + d2, 1.0))
            drive2 = int(drive) - drive1
            legs = [(pa, pm, drive1), (pm, pm, total - drive1 - drive2), (pm, pb, drive2)]
        out: list[tuple[int, LatLon]] = []
        t_leg = t0
        for p, q, secs in legs:
            end = t_leg + secs
            t = t_leg if not out else out[-1][0] + every_s
            while t < end:
                f = (t - t_leg) / secs if secs > 0 else 1.0
                out.append((t, LatLon(p.lat + f * (q.lat - p.lat), p.lon + f * (q.lon - p.lon))))
                t += every_s
            t_leg = end
        out.append((t0 + total, pb))
        return tuple(out)

    # --- at the door ---

    def service_s(self, order_id: str, arrival_s: int, first_visit: bool = True) -> int:
        o = self.world.order(order_id)
        h = self.world.hidden_of(order_id)
        s = o.service_s * h.service_factor * math.exp(0.15 * _normal(self.world.seed, order_id, first_visit))
        tod = int(arrival_s) % (24 * H)
        if o.building == "business" and 12 * H <= tod < 14 * H:
            s *= 1.2
        if not first_visit:
            s *= 0.8
        if o.cod_amount:
            s += 90
        if first_visit and o.building in ("apartment", "gated community"):
            s += 60
        return max(30, int(round(s)))

    def away(self, order_id: str, t: int) -> bool:
        a = self.world.hidden_of(order_id).away
        return a is not None and a[0] <= t < a[1]

    def at_home(self, order_id: str, arrival_s: int, notified: bool) -> bool:
        """Whether the delivery can be handed over at ``arrival_s``: the customer is
        in, or (notified, and the kind who arranges) a neighbour or safe place takes it."""
        if not self.away(order_id, int(arrival_s)):
            return True
        return notified and self.world.hidden_of(order_id).response == "arrange"

    def reply(self, order_id: str, eta_s: int) -> Reply | None:
        """A notified customer's answer to "we arrive at about ``eta_s``": only those
        who will be away then and are the kind who reschedule answer -- with a
        two-hour window from when they are back, or another day if that is too late."""
        h = self.world.hidden_of(order_id)
        if h.away is None or h.response != "reschedule" or not (h.away[0] <= eta_s < h.away[1]):
            return None
        start = (h.away[1] + 15 * 60 + 899) // 900 * 900
        if start > LATEST_SAME_DAY:
            return Reply(order_id, None)
        return Reply(order_id, TimeWindow(start, min(start + 2 * H, 20 * H)))

