"""Delivery slots for an address over a few days: what the fleet can still serve and
at what marginal cost (routing/slots.py prices them; this module reads the day's
routes -- published, or the newest finished plan -- and the orders already booked).

A day's quotes for a place are kept per *version of that day* (its routes' ids and
versions, and the count and latest change of its orders at the depot): asking again
for the same address -- the reschedule page, a checkout retrying -- reads that
fingerprint (two small queries) instead of rebuilding the live day; any change to the
day's routes or orders, or ``CACHE_S`` passing, prices it afresh."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import threading
import time
from collections import OrderedDict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..depots.models import Depot
from ..errors import Invalid, NotFound
from ..kit.time import at_seconds, seconds_since_midnight, utcnow
from ..orders.models import Order
from ..routing import domain as d
from ..routing import slots as rs
from .moves import day_routes, load_day

MAX_DAYS = 14
CACHE_S = 60.0  # a cached quote is also re-priced after this long (time moves on: slots close)
CACHE_MAX = 5000
_CACHE: OrderedDict[tuple[Any, ...], tuple[float, list[dict[str, Any]]]] = OrderedDict()
_CACHE_LOCK = threading.Lock()
stats = {"hits": 0, "misses": 0}


def _day_version(session: Session, organization_id: str, day: date, depot_id: str,
                 routes: list[Any]) -> tuple[Any, ...]:
    """What the day's quotes depend on in the database, cheaply."""
    n, latest = session.execute(
        select(func.count(Order.id), func.max(Order.updated_at)).where(
            Order.organization_id == organization_id, Order.date == day, Order.depot_id == depot_id)).one()
    return (tuple((r.id, r.version, r.status) for r in routes), n, str(latest))


def _cached(key: tuple[Any, ...]) -> list[dict[str, Any]] | None:
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is None or time.monotonic() - hit[0] > CACHE_S:
            return None
        _CACHE.move_to_end(key)
        return hit[1]


def _keep(key: tuple[Any, ...], rows: list[dict[str, Any]]) -> None:
    with _CACHE_LOCK:
        _CACHE[key] = (time.monotonic(), rows)
        while len(_CACHE) > CACHE_MAX:
            _CACHE.popitem(last=False)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def offer_slots(session: Session, organization_id: str, *, lat: float, lon: float, depot_id: str, start: date,
                days: int, demand_parcels: int = 1, service_s: int = 300, now: datetime | None = None) -> list[dict]:
    """Slots from ``start`` for ``days`` days, each ``{"start","end","feasible","cost_delta",
    "extra_km","green"}`` (UTC ISO times, cost in minor units), plus ``"estimated"``
    (no routes that day yet) and ``"date"``. Slots already over are left out."""
    if not 1 <= days <= MAX_DAYS:
        raise Invalid(f"days must be within 1..{MAX_DAYS}", field="days")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise Invalid("coordinates out of range", field="lat")
    depot = session.get(Depot, depot_id)
    if depot is None or depot.organization_id != organization_id:
        raise NotFound("depot not found", field="depot_id")
    from .proposals import policy_for

    template = rs.template_from(policy_for(session, organization_id).slot_template or None)
    from .moves import clock

    now = now or clock()
    place = d.LatLon(lat, lon)
    base = d.Stop("slot", place, service_s=service_s, demand=(0, 0, max(0, demand_parcels)))
    out: list[dict[str, Any]] = []
    for k in range(days):
        day = start + timedelta(days=k)
        zone = depot.timezone
        now_s = seconds_since_midnight(now, day, zone)
        windows = [w for w in rs.windows_for(template, day.weekday()) if w.end > now_s]
        if not windows:
            continue
        routes = [r for r in day_routes(session, organization_id, day, planned=True) if r.depot_id == depot_id]
        key = (organization_id, depot_id, day, round(lat, 5), round(lon, 5), demand_parcels, service_s,
               tuple((w.start, w.end) for w in windows), _day_version(session, organization_id, day, depot_id, routes))
        rows = _cached(key)
        if rows is not None:
            stats["hits"] += 1
            out += [dict(r) for r in rows]
            continue
        stats["misses"] += 1
        first = len(out)
        if routes:
            stops = {w: rs.slot_stop(base, w, f"slot:{i}") for i, w in enumerate(windows)}
            ld = load_day(session, organization_id, day, now=now, routes=routes, extra_stops=tuple(stops.values()))
            quotes = rs.quote_live(ld.plan, {w: s.id for w, s in stops.items()})
        else:
            booked = []
            for o in session.scalars(select(Order).where(Order.organization_id == organization_id, Order.date == day,
                                                         Order.depot_id == depot_id,
                                                         Order.status.in_(("pending", "assigned")))):
                ws = [d.TimeWindow(seconds_since_midnight(datetime.fromisoformat(w["start"]), day, zone),
                                   seconds_since_midnight(datetime.fromisoformat(w["end"]), day, zone))
                      for w in (o.windows or [])]
                loc = d.LatLon(o.lat, o.lon)
                booked += [(loc, w) for w in ws] if ws else [(loc, None)]
            quotes = rs.quote_estimate(place, d.LatLon(depot.lat, depot.lon), windows, booked)
        for q in quotes:
            out.append({
                "date": day.isoformat(),
                "start": _iso(at_seconds(day, zone, q.window.start)),
                "end": _iso(at_seconds(day, zone, q.window.end)),
                "feasible": q.feasible, "cost_delta": q.cost_cents, "extra_km": round(q.extra_m / 1000, 2),
                "green": q.green, "estimated": q.estimated,
            })
        _keep(key, [dict(r) for r in out[first:]])
    return out
