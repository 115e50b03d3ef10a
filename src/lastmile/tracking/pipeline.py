"""The ingest pipeline: decoded fixes go through an ordered chain of handlers, like
Traccar's (decoder -> filter -> store -> geofence/ETA -> broadcast):

1. **filter** -- out-of-range or zero coordinates, accuracy worse than the setting,
   fix times too old or in the future beyond the clock skew allowance, duplicates
   (the same fix time as the driver's last fix) and impossible jumps (faster than
   ``max_speed_mps`` from the driver's last fix, beyond both fixes' accuracy);
2. **store** -- one ``COPY`` into ``positions`` per batch on PostgreSQL (one
   executemany on SQLite);
3. **ETA** -- ``dispatch.eta.on_positions`` once for the batch: every driver's new
   fixes (at most one per ``eta_min_interval_s``) in fix-time order, in the same
   transaction (arrival/departure, ETAs at most once per route, "approaching");
4. **live** -- ``driver_live`` gets the newest fix, its route and the driver's state;
5. **broadcast** -- after commit, the newest fix per driver on ``org:``, ``driver:``,
   ``route:``, and on ``order:<id>`` only for the order of the stop the driver is
   heading to (privacy: a customer sees the driver only on the way to them).

A batch (one HTTP request, or up to a few hundred MQTT messages) is handled with a
constant number of queries, whatever its size. Older fixes that arrive late (a
phone's offline buffer) are stored as history but move nothing live. The caller
owns the transaction (commits) -- the broadcast waits for that commit.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from ..depots.models import Depot
from ..dispatch.models import Plan, Route, RouteStop
from ..kit.broadcast import publish_after_commit
from ..kit.time import utcnow
from ..orders.models import Order
from .config import TrackingSettings
from .decoders import Fix
from .models import Device, DriverLive, Position

log = logging.getLogger("lastmile.tracking")
HEADING_TO = ("planned", "en_route", "arrived")  # stop statuses the driver is still heading to / at
EARTH_M = 6_371_008.8


def now() -> datetime:
    """The ingest clock (tests move it onto the fixture day)."""
    return utcnow()


@dataclass(frozen=True, slots=True)
class Sender:
    """Who a fix belongs to, as authenticated by the endpoint or the MQTT topic."""

    organization_id: str
    driver_id: str
    device_id: str | None
    source: str


@dataclass(slots=True)
class _Last:
    at: datetime
    lat: float
    lon: float
    accuracy: float | None


@dataclass
class Outcome:
    """Per item of the batch: None (accepted) or the rejection reason."""

    reasons: list[str | None]
    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (org, source, reason) -> n

    @property
    def accepted(self) -> int:
        return sum(1 for r in self.reasons if r is None)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(a)))


# -- 1. filter ------------------------------------------------------------------------

def check_fix(fix: Fix, last: _Last | None, now_: datetime, cfg: TrackingSettings) -> str | None:
    """Why this fix cannot be used, or None. ``last`` is the driver's latest accepted fix."""
    if not (-90.0 <= fix.lat <= 90.0 and -180.0 <= fix.lon <= 180.0):
        return "out_of_range"
    if fix.lat == 0.0 and fix.lon == 0.0:
        return "zero_coordinates"
    if fix.accuracy is not None and (fix.accuracy < 0 or fix.accuracy > cfg.max_accuracy_m):
        return "inaccurate"
    if fix.at > now_ + timedelta(seconds=cfg.future_skew_s):
        return "future"
    if fix.at < now_ - timedelta(seconds=cfg.max_age_s):
        return "too_old"
    if last is not None:
        if fix.at == last.at:
            return "duplicate"
        if fix.at > last.at:
            dt = (fix.at - last.at).total_seconds()
            moved = distance_m(last.lat, last.lon, fix.lat, fix.lon)
            allowance = cfg.jump_slack_m + (fix.accuracy or 0.0) + (last.accuracy or 0.0)
            if moved - allowance > cfg.max_speed_mps * dt:
                return "impossible_jump"
    return None


# -- route lookup ------------------------------------------------------------------------

@dataclass(slots=True)
class _RouteInfo:
    id: str
    status: str
    day: date
    zone: str


def _routes_by_driver(session: Session, driver_ids: list[str], first: datetime, last: datetime) -> dict[
        str, list[_RouteInfo]]:
    """Published, unfinished routes of these drivers on days near the fixes."""
    rows = session.execute(
        select(Route.id, Route.driver_id, Route.status, Plan.date, Depot.timezone)
        .join(Plan, Plan.id == Route.plan_id)
        .join(Depot, Depot.id == Route.depot_id)
        .where(Route.driver_id.in_(driver_ids), Route.published.is_(True), Route.status != "finished",
               Plan.date >= (first - timedelta(days=1)).date(), Plan.date <= (last + timedelta(days=1)).date())
    ).all()
    out: dict[str, list[_RouteInfo]] = defaultdict(list)
    for rid, did, status, day, zone in rows:
        out[did].append(_RouteInfo(rid, status, day, zone))
    return out


def _route_for(routes: list[_RouteInfo], at: datetime) -> _RouteInfo | None:
    """The driver's route for the fix's local date (started before planned)."""
    found = [r for r in routes if at.astimezone(ZoneInfo(r.zone)).date() == r.day]
    found.sort(key=lambda r: (r.status != "started", r.id))
    return found[0] if found else None


@dataclass(slots=True)
class NextStop:
    id: str
    seq: int
    status: str
    order_id: str
    lat: float
    lon: float
    eta_at: datetime | None


def next_stops(session: Session, route_ids: list[str]) -> dict[str, NextStop]:
    """Per route, the first stop not yet done (planned, en_route or arrived)."""
    if not route_ids:
        return {}
    rows = session.execute(
        select(RouteStop.route_id, RouteStop.id, RouteStop.seq, RouteStop.status, RouteStop.order_id, Order.lat,
               Order.lon, RouteStop.eta_at)
        .join(Order, Order.id == RouteStop.order_id)
        .where(RouteStop.route_id.in_(route_ids), RouteStop.status.in_(HEADING_TO))
        .order_by(RouteStop.route_id, RouteStop.seq)
    ).all()
    out: dict[str, NextStop] = {}
    for rid, sid, seq, status, oid, lat, lon, eta in rows:
        if rid not in out:
            out[rid] = NextStop(sid, seq, status, oid, lat, lon, eta)
    return out


def driver_state(fix: Fix, prev: _Last | Fix | None, stop: NextStop | None, cfg: TrackingSettings) -> str:
    """driving / at_stop / stopped from the fix alone (offline is decided by age on read)."""
    speed = fix.speed_mps
    if speed is None and prev is not None and fix.at > prev.at:
        speed = distance_m(prev.lat, prev.lon, fix.lat, fix.lon) / (fix.at - prev.at).total_seconds()
    if speed is not None and speed >= cfg.moving_mps:
        return "driving"
    if stop is not None and (stop.status == "arrived"
                             or distance_m(fix.lat, fix.lon, stop.lat, stop.lon) <= cfg.at_stop_m):
        return "at_stop"
    return "stopped"


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def position_message(driver_id: str, route_id: str | None, fix: Fix, state: str) -> dict[str, Any]:
    return {"type": "position", "driver_id": driver_id, "route_id": route_id, "lat": fix.lat, "lon": fix.lon,
            "at": _iso(fix.at), "speed": fix.speed_mps, "bearing": fix.bearing, "accuracy": fix.accuracy,
            "state": state}


# -- the chain ---------------------------------------------------------------------------

def ingest(session: Session, items: list[tuple[Sender, Fix]], *, cfg: TrackingSettings,
           at: datetime | None = None) -> Outcome:
    """Run a batch of decoded fixes through the handlers. Flushes, never commits."""
    now_ = at or now()
    reasons: list[str | None] = [None] * len(items)
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    by_driver: dict[str, list[int]] = defaultdict(list)
    for i, (sender, _) in enumerate(items):
        by_driver[sender.driver_id].append(i)
    if not items:
        return Outcome(reasons, counts)
    driver_ids = list(by_driver)
    lives = {r[0]: _Last(*r[1:]) for r in session.execute(
        select(DriverLive.driver_id, DriverLive.at, DriverLive.lat, DriverLive.lon, DriverLive.accuracy_m)
        .where(DriverLive.driver_id.in_(driver_ids)))}

    # 1. filter, per driver in fix-time order against the last accepted fix
    fresh: dict[str, list[int]] = {}  # driver -> accepted items newer than its live fix, in time order
    accepted: list[int] = []
    for driver_id, idx in by_driver.items():
        last = lives.get(driver_id)
        seen: set[datetime] = set()
        newer: list[int] = []
        for i in sorted(idx, key=lambda i: items[i][1].at):
            fix = items[i][1]
            reason = check_fix(fix, last, now_, cfg)
            if reason is None and fix.at in seen:
                reason = "duplicate"
            if reason is not None:
                reasons[i] = reason
                continue
            seen.add(fix.at)
            accepted.append(i)
            if last is None or fix.at > last.at:
                last = _Last(fix.at, fix.lat, fix.lon, fix.accuracy)
                newer.append(i)
        if newer:
            fresh[driver_id] = newer
    for i, (sender, _) in enumerate(items):
        counts[(sender.organization_id, sender.source, reasons[i] or "accepted")] += 1
    if not accepted:
        return Outcome(reasons, counts)

    # routes of the drivers for the days of their fixes
    times = [items[i][1].at for i in accepted]
    routes = _routes_by_driver(session, list({items[i][0].driver_id for i in accepted}), min(times), max(times))
    route_of: dict[int, _RouteInfo | None] = {i: _route_for(routes.get(items[i][0].driver_id, []), items[i][1].at)
                                              for i in accepted}

    # 2. store
    received = utcnow()
    rows = []
    for i in sorted(accepted):
        sender, fix = items[i]
        r = route_of[i]
        rows.append({"organization_id": sender.organization_id, "driver_id": sender.driver_id,
                     "device_id": sender.device_id, "route_id": r.id if r else None, "source": fix.source,
                     "at": fix.at, "received_at": received, "lat": fix.lat, "lon": fix.lon,
                     "accuracy_m": fix.accuracy, "speed_mps": fix.speed_mps, "bearing": fix.bearing,
                     "altitude_m": fix.altitude, "battery": fix.battery})
    _store(session, rows)
    devices = {items[i][0].device_id for i in accepted} - {None}
    if devices:  # last seen, written at most once a minute per device
        session.execute(update(Device).where(Device.id.in_(devices), or_(
            Device.last_seen_at.is_(None), Device.last_seen_at < received - timedelta(seconds=60)))
            .values(last_seen_at=received).execution_options(synchronize_session=False))

    # 3. ETA and arrival detection: one call for the batch (routes locked once, in id
    #    order; ETAs refreshed at most once per route, from its newest fix). A bug there
    #    must not lose the positions: its work is rolled back to a savepoint and logged.
    if fresh and cfg.eta:
        from ..dispatch import eta

        work = []
        for driver_id, idx in fresh.items():
            by_route: dict[str | None, list[eta.Fix]] = {}
            for i in _thinned(items, idx, cfg.eta_min_interval_s):
                fix, r = items[i][1], route_of[i]
                by_route.setdefault(r.id if r else None, []).append(eta.Fix(fix.lat, fix.lon, fix.at, fix.speed_mps))
            work += [(driver_id, rid, fixes) for rid, fixes in by_route.items()]
        try:
            with session.begin_nested():
                eta.on_positions(session, work, min_wall_s=cfg.eta_refresh_wall_s)
        except Exception:
            log.exception("ETA update failed for a batch of %d fixes; positions kept", len(accepted))

    # 4. driver_live, and 5. broadcast after commit
    newest = {d: idx[-1] for d, idx in fresh.items()}
    route_ids = list({r.id for i in newest.values() if (r := route_of[i]) is not None})
    stops = next_stops(session, route_ids)
    live_rows = []
    for driver_id, i in newest.items():
        sender, fix = items[i]
        r = route_of[i]
        stop = stops.get(r.id) if r else None
        idx = fresh[driver_id]
        prev = items[idx[-2]][1] if len(idx) > 1 else lives.get(driver_id)
        state = driver_state(fix, prev, stop, cfg)
        live_rows.append(dict(
            driver_id=driver_id, organization_id=sender.organization_id, device_id=sender.device_id,
            route_id=r.id if r else None, source=fix.source, at=fix.at, received_at=received, lat=fix.lat,
            lon=fix.lon, accuracy_m=fix.accuracy, speed_mps=fix.speed_mps, bearing=fix.bearing, battery=fix.battery,
            state=state))
        topics = [f"org:{sender.organization_id}", f"driver:{driver_id}"]
        if r is not None:
            topics.append(f"route:{r.id}")
            if stop is not None and r.status == "started":
                topics.append(f"order:{stop.order_id}")  # only the customer the driver is heading to
        publish_after_commit(session, topics, position_message(driver_id, r.id if r else None, fix, state))
    if live_rows:
        live_rows.sort(key=lambda r: r["driver_id"])  # rows locked in one order by every batch: no deadlock
        _upsert_live(session, live_rows)
    return Outcome(reasons, counts)


POSITION_COLUMNS = ("organization_id", "driver_id", "device_id", "route_id", "source", "at", "received_at", "lat",
                    "lon", "accuracy_m", "speed_mps", "bearing", "altitude_m", "battery")


def _store(session: Session, rows: list[dict[str, Any]]) -> None:
    """The batch's positions: on PostgreSQL one COPY (the database's bulk path: no
    statement per row), elsewhere one executemany."""
    conn = session.connection()
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        raw = conn.connection.driver_connection
        cols = ", ".join(POSITION_COLUMNS)
        with raw.cursor() as cur, cur.copy(f"COPY positions ({cols}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row([r[c] for c in POSITION_COLUMNS])
        return
    session.execute(insert(Position), rows)


def _thinned(items: list[tuple[Sender, Fix]], idx: list[int], min_s: float) -> list[int]:
    """The fixes (in time order) the ETA work sees: at most one per ``min_s`` seconds,
    and always the newest -- a phone's buffered batch of 1 Hz fixes need not cost one
    ETA pass each; arrival dwell is still timed to within ``min_s``."""
    out: list[int] = []
    for k, i in enumerate(idx):
        last = k == len(idx) - 1
        if last or not out or (items[i][1].at - items[out[-1]][1].at).total_seconds() >= min_s:
            out.append(i)
    return out


_UPSERTS: dict[str, Any] = {}  # dialect -> the driver_live upsert, built once


def _upsert_live(session: Session, rows: list[dict[str, Any]]) -> None:
    """One INSERT .. ON CONFLICT for every driver's newest fix; a concurrent batch
    with a newer fix for the same driver wins."""
    dialect = session.get_bind().dialect.name
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        ins = (sqlite_insert if dialect == "sqlite" else pg_insert)(DriverLive)
        cols = [c for c in rows[0] if c != "driver_id"]
        stmt = _UPSERTS[dialect] = ins.on_conflict_do_update(
            index_elements=[DriverLive.driver_id], set_={c: ins.excluded[c] for c in cols},
            where=DriverLive.at < ins.excluded.at)
    # one cached statement run for all rows (executemany), not a fresh multi-row VALUES to compile
    session.execute(stmt, rows)
