"""Live ETAs and arrival detection from driver positions (issue 6).

The tracking pipeline calls ``on_position`` for every accepted fix, inside its
transaction (nothing here commits). Per fix, for the driver's live route:

* the route is started (``live.start_route``) on the first movement after the shift
  starts, if the driver app has not started it;
* geofence + dwell: inside ``geofence_radius_m`` of a stop still to serve for
  ``geofence_dwell_s`` (or standing still inside it) -> the stop is ``arrived``;
  leaving the fence again without the stop being completed records ``departed_at``;
  moving away from the depot or a stop -> the next stop is ``en_route``. Stop status
  goes through ``dispatch/live.py`` only;
* ETAs of every remaining stop (``routing/eta.py``: time-of-day model, service times,
  windows, the break still owed) at most every ``eta_refresh_s`` per route unless a
  stop changed: ``RouteStop.eta_at``, history rows (``StopEtaHistory``), a broadcast
  ``{"type": "eta", ...}`` after commit, with ``late_by_s`` for stops that will miss
  their window;
* "approaching": a customer's stop ``approaching_stops`` stops or
  ``approaching_minutes`` minutes away -> ``orders.service.transition(...,
  "approaching")`` (sent once; notifications listen to ``order.approaching``).

``refresh_route`` recomputes without a fix (the driver app reported a delay or a
break); ``late_stops`` lists the stops predicted to miss their window;
``eta_accuracy`` compares the history with actual arrivals.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings, get_settings
from ..depots.models import Depot
from ..errors import Conflict
from ..events.service import emit
from ..fleet.models import Shift
from ..kit.broadcast import publish_after_commit
from ..kit.time import as_utc, at_seconds, seconds_since_midnight
from ..orders.models import Order
from ..orders.service import transition
from ..routing.domain import Break, LatLon, TimeWindow
from ..routing.eta import EtaStop, chain_model, predict_from, service_start
from ..routing.learned import with_learned
from ..routing.matrix.profiles import profile_named
from ..routing.matrix.timedep import TrafficProfile
from . import live
from .models import STOP_FINAL, Route, RouteEtaState, RouteStop, StopEtaHistory

log = logging.getLogger("lastmile.eta")
ACTOR = "system:tracking"
DEPART_FACTOR = 1.5  # leaving = beyond 1.5 x the fence radius (no flapping at its edge)


class _OrderRow(NamedTuple):  # what the ETA work reads of an order (not the entity)
    id: str
    status: str
    lat: float
    lon: float
    service_s: int
    windows: list[dict[str, str]]


@dataclass
class _Stop:
    stop: RouteStop
    order: _OrderRow


# A model of each live route's stop-to-stop legs, kept between fixes (the leg from
# the driver's position is modelled per refresh). Keyed by what it depends on.
_MODELS: OrderedDict[tuple, Any] = OrderedDict()
_MODELS_MAX = 2048
_MODELS_LOCK = threading.Lock()
_ZONES: dict[str, str] = {}  # depot id -> its time zone


def _dist_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(a)))


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt is not None else None


@lru_cache(maxsize=8)
def _profile(name: str) -> TrafficProfile:
    return profile_named(name)


# --- the hook ---


class Fix(NamedTuple):
    """One accepted position as the ETA work sees it."""

    lat: float
    lon: float
    at: datetime
    speed_mps: float | None = None


def on_position(
    session: Session, *, driver_id: str, route_id: str | None, lat: float, lon: float, at: datetime,
    speed_mps: float | None = None, settings: Settings | None = None,
) -> None:
    """React to one accepted position of a driver (``on_positions`` for one fix)."""
    on_positions(session, [(driver_id, route_id, [Fix(lat, lon, as_utc(at), speed_mps)])], settings=settings)


def on_positions(
    session: Session, batch: list[tuple[str, str | None, list[Fix]]], *, settings: Settings | None = None,
    min_wall_s: float = 0.0,
) -> None:
    """React to a batch of drivers' new positions: ``[(driver id, route id or None,
    fixes in time order)]`` -- the ingest pipeline's batch. Never raises for an
    ordinary fix (a route that is not live, a stop someone else just changed).

    Every route of the batch is locked once, all in id order (two concurrent
    batches of many drivers cannot deadlock on each other's routes), and its state
    read in one query. Each fix is geofenced in time order; the ETAs are
    recomputed at most once per route and batch, from the newest fix, and only
    when a stop changed or ``eta_refresh_s`` has passed since the last refresh
    (and, with ``min_wall_s``, that long in real time since this process last
    refreshed the route: a replayed backlog is not recomputed for each 30 s of it)."""
    cfg = settings or get_settings()
    wanted = sorted({rid for _, rid, fixes in batch if rid and fixes})
    routes: dict[str, Route] = {}
    if wanted:
        routes = {r.id: r for r in session.scalars(
            select(Route).where(Route.id.in_(wanted)).order_by(Route.id).with_for_update())}
    work: list[tuple[Route, list[Fix]]] = []
    for driver_id, route_id, fixes in batch:
        if not fixes:
            continue
        fixes = [f if f.at.tzinfo is not None else f._replace(at=as_utc(f.at)) for f in fixes]
        if route_id is not None:
            route = routes.get(route_id)
            if route is None or (route.driver_id is not None and route.driver_id != driver_id):
                continue
        else:
            route = _route_for(session, driver_id, None, fixes[-1].at)
        if route is None or not route.published or route.status == "finished":
            continue
        work.append((route, fixes))
    if not work:
        return
    states = {st.route_id: st for st in session.scalars(
        select(RouteEtaState).where(RouteEtaState.route_id.in_([r.id for r, _ in work])))}
    # the stops of every route that will need them (no snapshot kept, or an ETA
    # refresh due at its newest fix), in one query
    needed = []
    for route, fixes in work:
        st = states.get(route.id)
        due = (st is None or st.refreshed_at is None
               or (fixes[-1].at - as_utc(st.refreshed_at)).total_seconds() >= cfg.eta_refresh_s)
        if due or route.status == "planned" or _cached_snaps(route) is None:
            needed.append(route)
    stops_of = _stops_many(session, needed)
    for route, fixes in work:
        state = states.get(route.id)
        if state is None:
            state = states[route.id] = RouteEtaState(route_id=route.id, break_taken=False, approached=[], logged={})
            session.add(state)
        _on_route(session, route, state, fixes, cfg, stops_of.get(route.id), min_wall_s)


# route id -> when this process last refreshed its ETAs (time.monotonic), for min_wall_s
_REFRESHED: dict[str, float] = {}


def _on_route(session: Session, route: Route, state: RouteEtaState, fixes: list[Fix], cfg: Settings,
              stops: list[_Stop] | None = None, min_wall_s: float = 0.0) -> None:
    changed = False
    newest: Fix | None = None
    for fix in fixes:
        if state.fix_at is not None and fix.at <= state.fix_at:
            continue  # an older (or the same) fix arriving late says nothing new
        moving = _moving(state, fix.lat, fix.lon, fix.at, fix.speed_mps, cfg)
        still = fix.speed_mps is not None and fix.speed_mps <= cfg.geofence_still_mps
        if route.status == "planned":
            if not _may_start(session, route, state, fix.lat, fix.lon, fix.at, moving, cfg):
                _remember_fix(state, fix.lat, fix.lon, fix.at)
                continue
            if live.start_route(session, route, fix.at, ACTOR):
                changed, stops = True, None  # its orders are out for delivery now: read them again
        if stops is not None:
            snaps = _snapshot(stops)  # the stops as this batch left them
        else:
            snaps = None if changed else _cached_snaps(route)
            if snaps is None:
                stops = _stops(session, route)
                snaps = _snapshot(stops)
        actions = _decide(snaps, state, fix.lat, fix.lon, fix.at, moving, still, cfg)
        if actions:
            stops = stops if stops is not None else _stops(session, route)
            changed |= _act(session, route, stops, actions, fix.at)
        _remember_fix(state, fix.lat, fix.lon, fix.at)
        newest = fix
        if route.status == "started" and _back_at_depot(session, route, snaps if stops is None else _snapshot(stops),
                                                        fix, cfg):
            live.finish_route(session, route, fix.at, ACTOR)  # the day is over: nothing left to predict
            return
    if newest is None:
        return
    at = newest.at
    due = (state.refreshed_at is None or changed
           or (at - as_utc(state.refreshed_at)).total_seconds() >= cfg.eta_refresh_s)
    if due and not changed and min_wall_s > 0:
        due = time.monotonic() - _REFRESHED.get(route.id, -1e9) >= min_wall_s
    if due:
        stops = stops if stops is not None else _stops(session, route)
        _refresh(session, route, state, stops, LatLon(newest.lat, newest.lon), at, "position", cfg)
        if min_wall_s > 0:
            if len(_REFRESHED) > 50_000:
                _REFRESHED.clear()
            _REFRESHED[route.id] = time.monotonic()
    if stops is not None and not changed:
        _keep_snaps(route, stops)


def refresh_route(
    session: Session, route: Route, at: datetime, *, source: str = "refresh", delay_s: int | None = None,
    break_taken: bool | None = None, settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Recompute the route's ETAs now, without a new fix (from the last one, or the
    stop the driver is at or last completed, or the depot). ``delay_s``: the driver
    reports being held that long from ``at`` (0: no longer held). ``break_taken=True``:
    the break is being / has been taken (no longer owed; held for its length unless
    ``delay_s`` says otherwise, e.g. 0 when it ends). Returns the stops' ETAs as
    broadcast ([] if the route is not live)."""
    cfg = settings or get_settings()
    at = as_utc(at)
    route = session.get(Route, route.id, with_for_update=True) or route
    if not route.published or route.status == "finished":
        return []
    state = _state(session, route)
    if break_taken is not None:
        state.break_taken = break_taken
        if break_taken and delay_s is None and route.shift_id:
            shift = session.get(Shift, route.shift_id)
            if shift is not None and shift.break_s:
                delay_s = shift.break_s
    if delay_s is not None:  # 0: no longer held (the break or the delay is over)
        until = at + timedelta(seconds=int(delay_s))
        if delay_s <= 0:
            state.held_until = None
        else:
            state.held_until = max(until, as_utc(state.held_until)) if state.held_until else until
    stops = _stops(session, route)
    return _refresh(session, route, state, stops, _last_position(session, route, state, stops), at, source, cfg)


def late_stops(session: Session, route: Route) -> list[dict[str, Any]]:
    """Stops still to serve whose latest ETA misses their window:
    ``[{"stop_id","order_id","seq","eta_at","late_by_s"}]`` (from the stored ETAs;
    nothing is recomputed)."""
    out = []
    day, zone = _clock(session, route)
    for st in _stops(session, route):
        if st.stop.status in STOP_FINAL or st.stop.status == "arrived" or st.stop.eta_at is None:
            continue
        windows = _windows(st.order, day, zone)
        if not windows:
            continue
        _, late = service_start(windows, seconds_since_midnight(st.stop.eta_at, day, zone))
        if late > 0:
            out.append({"stop_id": st.stop.id, "order_id": st.order.id, "seq": st.stop.seq,
                        "eta_at": _iso(st.stop.eta_at), "late_by_s": late})
    return out


def eta_accuracy(session: Session, route_ids: list[str],
                 horizons_min: tuple[int, ...] = (5, 15, 30, 60, 120)) -> dict[str, Any]:
    """Predicted vs actual arrival for the stops of ``route_ids`` that were reached:
    per horizon (how long before the arrival the prediction was made), the number
    of predictions and the mean / 90th-percentile absolute error in seconds."""
    rows = session.execute(
        select(StopEtaHistory.predicted_at, StopEtaHistory.eta_at, RouteStop.arrived_at)
        .join(RouteStop, RouteStop.id == StopEtaHistory.route_stop_id)
        .where(StopEtaHistory.route_id.in_(route_ids), RouteStop.arrived_at.is_not(None))
    ).all()
    buckets: dict[int, list[float]] = {h: [] for h in horizons_min}
    for predicted_at, eta_at, arrived_at in rows:
        ahead = (arrived_at - predicted_at).total_seconds() / 60
        if ahead < 0:
            continue
        h = next((h for h in horizons_min if ahead <= h), None)
        if h is not None:
            buckets[h].append(abs((eta_at - arrived_at).total_seconds()))
    out = {}
    for h, errs in buckets.items():
        errs.sort()
        out[f"<={h}min"] = {"n": len(errs), "mean_abs_s": round(sum(errs) / len(errs)) if errs else None,
                            "p90_abs_s": round(errs[min(len(errs) - 1, int(0.9 * len(errs)))]) if errs else None}
    return out


# --- the route, its state and stops ---


def _route_for(session: Session, driver_id: str, route_id: str | None, at: datetime) -> Route | None:
    if route_id is not None:
        route = session.get(Route, route_id, with_for_update=True)
        if route is None or (route.driver_id is not None and route.driver_id != driver_id):
            return None
    else:
        rid = session.scalar(
            select(Route.id).where(
                Route.driver_id == driver_id, Route.published.is_(True), Route.status != "finished",
                Route.depart_at <= at + timedelta(hours=12), Route.arrive_at >= at - timedelta(hours=12))
            .order_by((Route.status == "started").desc(), Route.depart_at).limit(1))
        route = session.get(Route, rid, with_for_update=True) if rid else None
    if route is None or not route.published or route.status == "finished":
        return None
    return route


def _state(session: Session, route: Route) -> RouteEtaState:
    state = session.get(RouteEtaState, route.id)
    if state is None:
        state = RouteEtaState(route_id=route.id, break_taken=False, approached=[], logged={})
        session.add(state)
    return state


def _stops(session: Session, route: Route) -> list[_Stop]:
    rows = session.execute(
        select(RouteStop, Order.id, Order.status, Order.lat, Order.lon, Order.service_s, Order.windows)
        .join(Order, Order.id == RouteStop.order_id)
        .where(RouteStop.route_id == route.id).order_by(RouteStop.seq)
    ).all()
    return [_Stop(r[0], _OrderRow(*r[1:])) for r in rows]


def _stops_many(session: Session, routes: list[Route]) -> dict[str, list[_Stop]]:
    """``_stops`` of many routes in one query."""
    if not routes:
        return {}
    rows = session.execute(
        select(RouteStop, Order.id, Order.status, Order.lat, Order.lon, Order.service_s, Order.windows)
        .join(Order, Order.id == RouteStop.order_id)
        .where(RouteStop.route_id.in_([r.id for r in routes])).order_by(RouteStop.route_id, RouteStop.seq)
    ).all()
    out: dict[str, list[_Stop]] = {r.id: [] for r in routes}
    for r in rows:
        out[r[0].route_id].append(_Stop(r[0], _OrderRow(*r[1:])))
    return out


def _stops_model(route: Route, stops: list[_Stop], profile_name: str, profile: TrafficProfile, weekday: int,
                 learned: Any = None):
    """The route's stop-to-stop model (rows = ``stops`` in order), built once per
    route, stop list, profile and learned travel model (``lastmile learn``), and kept."""
    key = (route.id, profile_name, weekday, tuple((st.stop.id, st.order.lat, st.order.lon) for st in stops),
           getattr(learned, "id", None))
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is not None:
            _MODELS.move_to_end(key)
    if model is None:
        model = with_learned(chain_model([LatLon(st.order.lat, st.order.lon) for st in stops], profile, weekday),
                             learned)
        with _MODELS_LOCK:
            _MODELS[key] = model
            while len(_MODELS) > _MODELS_MAX:
                _MODELS.popitem(last=False)
    memo = getattr(model, "_memo", None)  # its per-departure cache grows with every refresh
    if memo is not None and len(memo) > 20_000:
        memo.clear()
    return model


def _clock(session: Session, route: Route) -> tuple[date, str]:
    """(local day, zone) of the route: the engine's clock is seconds since that midnight."""
    zone = _ZONES.get(route.depot_id)
    if zone is None:
        depot = session.get(Depot, route.depot_id)
        zone = depot.timezone if depot is not None else "UTC"
        if depot is not None and len(_ZONES) < 10_000:
            _ZONES[route.depot_id] = zone
    return as_utc(route.depart_at).astimezone(ZoneInfo(zone)).date(), zone


def _windows(order: Order, day: date, zone: str) -> tuple[TimeWindow, ...]:
    out = []
    for w in order.windows or ():
        try:
            a = seconds_since_midnight(datetime.fromisoformat(w["start"]), day, zone)
            b = seconds_since_midnight(datetime.fromisoformat(w["end"]), day, zone)
        except (KeyError, TypeError, ValueError):
            continue
        if b >= a:
            out.append(TimeWindow(a, b))
    return tuple(out)


def _remember_fix(state: RouteEtaState, lat: float, lon: float, at: datetime) -> None:
    state.lat, state.lon, state.fix_at = lat, lon, at


def _moving(state: RouteEtaState, lat: float, lon: float, at: datetime, speed_mps: float | None,
            cfg: Settings) -> bool:
    if speed_mps is not None:
        return speed_mps >= cfg.moving_mps
    if state.fix_at is None or state.lat is None or state.lon is None:
        return False
    dt = (at - state.fix_at).total_seconds()
    return dt > 0 and _dist_m(state.lat, state.lon, lat, lon) / dt >= cfg.moving_mps


def _may_start(session: Session, route: Route, state: RouteEtaState, lat: float, lon: float, at: datetime,
               moving: bool, cfg: Settings) -> bool:
    """The first movement after the shift starts (moving, or already away from the depot)."""
    shift = session.get(Shift, route.shift_id) if route.shift_id else None
    starts = shift.start_at if shift is not None else route.depart_at
    if at < as_utc(starts):
        return False
    if moving:
        return True
    depot = session.get(Depot, route.depot_id)
    return depot is not None and _dist_m(depot.lat, depot.lon, lat, lon) > DEPART_FACTOR * cfg.geofence_radius_m


def _last_position(session: Session, route: Route, state: RouteEtaState, stops: list[_Stop]) -> LatLon:
    if state.lat is not None and state.lon is not None:
        return LatLon(state.lat, state.lon)
    for st in reversed(stops):
        if st.stop.arrived_at is not None:
            return LatLon(st.order.lat, st.order.lon)
    depot = session.get(Depot, route.depot_id)
    return LatLon(depot.lat, depot.lon) if depot is not None else LatLon(stops[0].order.lat, stops[0].order.lon)


def _back_at_depot(session: Session, route: Route, snaps: list[_Snap], fix: Fix, cfg: Settings) -> bool:
    """Every stop is served (done, failed or skipped) and the driver is inside the
    depot's fence: the route is over."""
    if not snaps or any(sn.status not in STOP_FINAL for sn in snaps):
        return False
    depot = session.get(Depot, route.depot_id)
    return depot is not None and _dist_m(depot.lat, depot.lon, fix.lat, fix.lon) <= cfg.geofence_radius_m


# --- geofence: arrived / departed / en_route ---


class _Snap(NamedTuple):  # what geofencing needs of a stop
    id: str
    status: str
    departed: bool
    lat: float
    lon: float


# Per route, the stops as geofencing sees them, valid for one route version (every
# stop change bumps it): most fixes then need no stop query at all.
_SNAPS: dict[str, tuple[int, float, list[_Snap]]] = {}
_SNAPS_MAX = 20_000
SNAP_TTL_S = 120.0


def _snapshot(stops: list[_Stop]) -> list[_Snap]:
    return [_Snap(st.stop.id, st.stop.status, st.stop.departed_at is not None, st.order.lat, st.order.lon)
            for st in stops]


def _cached_snaps(route: Route) -> list[_Snap] | None:
    hit = _SNAPS.get(route.id)
    if hit is None or hit[0] != route.version or time.monotonic() - hit[1] > SNAP_TTL_S:
        return None
    return hit[2]


def _keep_snaps(route: Route, stops: list[_Stop]) -> None:
    if len(_SNAPS) >= _SNAPS_MAX:
        _SNAPS.clear()
    _SNAPS[route.id] = (route.version, time.monotonic(), _snapshot(stops))


def _decide(snaps: list[_Snap], state: RouteEtaState, lat: float, lon: float, at: datetime, moving: bool,
            still: bool, cfg: Settings) -> list[tuple[str, str]]:
    """What this fix means at the stops: ``[(action, stop id)]`` with action
    ``departed``, ``arrived`` or ``en_route``; keeps the fence/dwell state."""
    radius = cfg.geofence_radius_m
    actions: list[tuple[str, str]] = []
    for sn in snaps:  # the stop the driver is at (arrived, not left, not completed): left it?
        if sn.status == "arrived" and not sn.departed:
            if _dist_m(sn.lat, sn.lon, lat, lon) > DEPART_FACTOR * radius:
                actions.append(("departed", sn.id))
            else:
                state.fence_stop_id, state.fence_since = None, None
                return actions  # still there: nothing else to detect
    ahead = [sn for sn in snaps if sn.status in ("planned", "en_route")]
    inside = [(d, k, sn) for k, sn in enumerate(ahead) if (d := _dist_m(sn.lat, sn.lon, lat, lon)) <= radius]
    if inside:
        _, _, sn = min(inside, key=lambda x: (x[1] != 0, x[0]))  # the next stop if in its fence, else the nearest
        if state.fence_stop_id != sn.id or state.fence_since is None:
            state.fence_stop_id, state.fence_since = sn.id, at
        if (at - as_utc(state.fence_since)).total_seconds() >= cfg.geofence_dwell_s or still:
            actions.append(("arrived", sn.id))
            state.fence_stop_id, state.fence_since = None, None
        return actions
    if state.fence_stop_id is not None or state.fence_since is not None:
        state.fence_stop_id, state.fence_since = None, None
    if moving and ahead and ahead[0].status == "planned":
        actions.append(("en_route", ahead[0].id))
    return actions


def _act(session: Session, route: Route, stops: list[_Stop], actions: list[tuple[str, str]], at: datetime) -> bool:
    """Carry out ``_decide``'s actions on the stops as they are now. True if one changed."""
    by_id = {st.stop.id: st for st in stops}
    changed = False
    for action, stop_id in actions:
        st = by_id.get(stop_id)
        if st is None:
            continue
        s = st.stop
        if action == "departed":
            if s.status != "arrived" or s.departed_at is not None:
                continue
            s.departed_at = at
            emit(session, route.organization_id, "stop.departed", "route_stop", s.id, ACTOR,
                 {"route_id": route.id, "order_id": st.order.id, "at": _iso(at)})
            live.bump(session, route, {"type": "stop", "stop_id": s.id, "order_id": st.order.id, "seq": s.seq,
                                       "stop_status": s.status, "departed_at": _iso(at)}, st.order.id)
            changed = True
            continue
        try:
            changed |= live.mark_stop(session, s, action, at=at, actor=ACTOR)
        except (Conflict, ValueError) as e:  # the stop changed under us (e.g. completed meanwhile): skip
            log.info("%s of stop %s not recorded: %s", action, s.id, e)
    return changed


# --- ETAs ---


def _refresh(session: Session, route: Route, state: RouteEtaState, stops: list[_Stop], position: LatLon,
             at: datetime, source: str, cfg: Settings) -> list[dict[str, Any]]:
    day, zone = _clock(session, route)
    now = seconds_since_midnight(at, day, zone)
    # travel and dwell times learned from history when a model exists (static otherwise)
    from ..learn.live import learned_service, learned_travel

    learned = learned_travel(session)
    dwell = learned_service(session, [st.stop for st in stops if st.stop.status not in STOP_FINAL], day, zone)
    ready = now
    if state.held_until is not None:
        ready = max(ready, seconds_since_midnight(state.held_until, day, zone))
    ahead: list[_Stop] = []
    for st in stops:
        s = st.stop
        if s.status in STOP_FINAL:
            continue
        if s.status == "arrived":
            if s.departed_at is None and s.arrived_at is not None:  # still serving it
                ready = max(ready, seconds_since_midnight(s.arrived_at, day, zone)
                            + dwell.get(s.id, st.order.service_s))
            continue
        ahead.append(st)
    breaks: list[Break] = []
    if not state.break_taken and route.shift_id:
        shift = session.get(Shift, route.shift_id)
        if shift is not None and shift.break_s and shift.break_start_at and shift.break_end_at:
            breaks.append(Break(TimeWindow(seconds_since_midnight(shift.break_start_at, day, zone),
                                           seconds_since_midnight(shift.break_end_at, day, zone)), shift.break_s))
    eta_stops = [EtaStop(st.stop.id, LatLon(st.order.lat, st.order.lon), dwell.get(st.stop.id, st.order.service_s),
                         _windows(st.order, day, zone)) for st in ahead]
    weekday = day.weekday()
    name = cfg.eta_traffic_profile or getattr(cfg, "traffic_profile", None) or "laredo"
    profile = _profile(name)
    model = _stops_model(route, stops, name, profile, weekday, learned) if ahead else None
    row = {st.stop.id: k for k, st in enumerate(stops)}
    pred = predict_from(position, now, eta_stops, profile=profile, weekday=weekday, breaks=breaks, ready_at=ready,
                        stops_model=model, rows=[row[st.stop.id] for st in ahead], learned=learned)
    state.refreshed_at = at
    logged = dict(state.logged or {})
    approached = list(state.approached or [])
    epoch = int(at.timestamp())
    etas: list[dict[str, Any]] = []
    for k, (st, p) in enumerate(zip(ahead, pred.stops)):
        s, o = st.stop, st.order
        eta_at = at_seconds(day, zone, p.arrival)
        old = s.eta_at
        s.eta_at, s.eta_updated_at = eta_at, at
        last = logged.get(s.id)
        moved = old is None or abs((eta_at - as_utc(old)).total_seconds()) >= cfg.eta_history_min_change_s
        if moved or last is None or epoch - int(last) >= cfg.eta_history_every_s or source != "position":
            session.add(StopEtaHistory(route_stop_id=s.id, route_id=route.id, predicted_at=at, eta_at=eta_at,
                                       late_by_s=p.late_by_s, source=source[:20]))
            logged[s.id] = epoch
        item = {"stop_id": s.id, "order_id": o.id, "seq": s.seq, "eta_at": _iso(eta_at), "late_by_s": p.late_by_s}
        etas.append(item)
        publish_after_commit(session, f"order:{o.id}", {"type": "eta", "route_id": route.id, **item})
        if s.id not in approached and _approaching(k, p.arrival - now, cfg) and o.status == "out_for_delivery":
            try:
                order = session.get(Order, o.id)
                if order is not None:
                    transition(session, ACTOR, order, "approaching")
            except Conflict as e:
                log.info("approaching for order %s not sent: %s", o.id, e)
            approached.append(s.id)
    state.logged, state.approached = logged, approached
    publish_after_commit(session, live.topics(route), {"type": "eta", "route_id": route.id, "at": _iso(at),
                                                      "source": source, "etas": etas})
    return etas


def _approaching(stops_before: int, seconds_away: int, cfg: Settings) -> bool:
    by_stops = cfg.approaching_stops > 0 and stops_before < cfg.approaching_stops
    by_time = cfg.approaching_minutes > 0 and seconds_away <= cfg.approaching_minutes * 60
    return by_stops or by_time


__all__ = ["on_position", "on_positions", "Fix", "refresh_route", "late_stops", "eta_accuracy", "ACTOR"]
