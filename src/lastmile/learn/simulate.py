"""History for training and evaluation: simulated Laredo days (``lastmile.sim``)
recorded in the database the way the live system records a real day.

Per day: the world's depots, fleet, shifts and morning orders become rows; the
engine plans them on the *static* time-of-day model (what the platform does today)
and the plan is published; then each driver drives their route against the hidden
truth (``sim.truth``): pings every ``ping_s`` seconds on the road (and every
``still_ping_s`` while standing) go into ``positions``; the route is started, each
stop ``arrived`` and then ``done`` (or ``failed``: not home) through
``dispatch/live.py``, the only writer of live stop status, which keeps
``arrived_at`` / ``departed_at`` / ``completed_at`` exactly as the driver app and the
geofence would. Drivers follow the planned sequence, wait for a window to open at
the door, and take their break when its window opens (before driving on).

Not simulated here (``sim/execute.py`` and the demo do the whole living day): new
orders during the day, the driver who falls ill, notifications and re-planning.
Those change which legs are driven, not how long a leg or a visit takes, which is
all the models learn from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from ..auth.models import Shipper
from ..auth.service import get_or_create_organization
from ..depots.models import Depot
from ..dispatch import live
from ..dispatch.models import Plan, Route, RouteStop
from ..fleet.models import Driver, Shift, Vehicle
from ..kit.time import at_seconds
from ..orders.models import Order
from ..pod.models import DriverAction
from ..routing import domain as d
from ..routing.matrix.haversine import great_circle_m
from ..routing.matrix.profiles import laredo
from ..routing.solve import solve
from ..tracking.models import Position

ACTOR = "system:simulation"
FIRST_DAY = date(2026, 3, 2)  # a Monday
NOT_HOME_S = 120  # knocking, calling, a photo of the door


@dataclass(frozen=True)
class SimDay:
    seed: int
    day: date
    plan_id: str
    routes: int
    stops: int
    pings: int


def history_days(n: int, first: date = FIRST_DAY) -> list[date]:
    """``n`` service days from ``first``, Monday to Saturday (no Sunday deliveries)."""
    out, day = [], first
    while len(out) < n:
        if day.weekday() != 6:
            out.append(day)
        day += timedelta(days=1)
    return out


def simulate_day(session: Session, seed: int, day: date, *, orders: int = 300, drivers: int = 15,
                 iterations: int | None = 30, time_limit_s: float = 10.0, ping_s: int = 30,
                 still_ping_s: int = 120, via_live: bool = True) -> SimDay:
    """Plan and drive one simulated day and record it (flushes; the caller commits).

    ``iterations``: the planner's search budget (history needs plausible routes, not
    the best ones). ``via_live=False`` writes the stop and route columns that
    ``dispatch/live.py`` would write (arrived, departed, completed, statuses) without
    its events and customer notifications -- many times faster, for long histories."""
    from ..sim.truth import Truth
    from ..sim.world import make_world, to_problem

    world = make_world(seed, orders=orders, drivers=drivers, day=day)
    truth = Truth(world)
    org = get_or_create_organization(session, "Laredo Fleet")
    ids = _rows_for_world(session, org.id, world)
    morning = world.morning_orders()
    problem = to_problem(world, orders=morning)
    result = solve(problem, d.Options(time_limit_s=time_limit_s, iterations=iterations, seed=seed),
                   traffic=laredo())
    zone = {x.id: x.timezone for x in world.depots}
    plan = Plan(organization_id=org.id, date=day, depot_ids=[ids[x.id] for x in world.depots], status="published",
                progress=1.0, created_by=ACTOR, backend=result.backend, options={"simulated_seed": seed},
                stats={"simulated": True})
    session.add(plan)
    session.flush()
    pings = stops = 0
    routes: list[tuple[Route, d.Route, list[RouteStop]]] = []
    for r in result.routes:
        drv = world.driver(r.vehicle_id)
        tz = zone[drv.depot_id]
        at = lambda s, _tz=tz: at_seconds(day, _tz, int(s))  # noqa: E731
        route = Route(plan_id=plan.id, organization_id=org.id, vehicle_id=ids["veh:" + drv.vehicle_id],
                      driver_id=ids["drv:" + drv.id], shift_id=ids[f"shf:{drv.id}:{day}"], depot_id=ids[drv.depot_id],
                      depart_at=at(r.depart), arrive_at=at(r.arrive), distance_m=r.distance_m,
                      duration_s=r.duration_s, published=True)
        session.add(route)
        session.flush()
        rows = []
        seq = 0
        for v in r.visits:
            if v.kind is not d.VisitKind.STOP:
                continue
            seq += 1
            rows.append(RouteStop(route_id=route.id, order_id=ids[v.ref], seq=seq, arrival_at=at(v.arrival),
                                  start_at=at(v.start), end_at=at(v.end), travel_s=v.travel_s,
                                  distance_m=v.distance_m))
        session.add_all(rows)
        session.flush()
        routes.append((route, r, rows))
    for route, r, rows in routes:
        drv = world.driver(r.vehicle_id)
        p, s = _drive(session, truth, world, org.id, day, zone[drv.depot_id], route, r, rows, ids, ping_s,
                      still_ping_s, _Live() if via_live else _Direct(session))
        pings += p
        stops += s
    session.flush()
    return SimDay(seed, day, plan.id, len(routes), stops, pings)


def simulate_history(session_factory, days: int, *, first_seed: int = 1, first: date = FIRST_DAY,
                     progress=None, **kw) -> list[SimDay]:
    """``days`` simulated days (seeds ``first_seed``..), each committed on its own."""
    out = []
    for k, day in enumerate(history_days(days, first)):
        with session_factory() as s:
            out.append(simulate_day(s, first_seed + k, day, **kw))
            s.commit()
        if progress is not None:
            progress(out[-1])
    return out


# --- rows for the world (reused across days: the same fleet, new orders) ---


def _rows_for_world(session: Session, org_id: str, world) -> dict[str, str]:
    ids: dict[str, str] = {}
    for x in world.depots:
        dep = session.scalar(select(Depot).where(Depot.organization_id == org_id, Depot.code == x.id))
        if dep is None:
            dep = Depot(organization_id=org_id, code=x.id, name=x.name, address=x.address, lat=x.location.lat,
                        lon=x.location.lon, timezone=x.timezone, opens_s=x.opens_s, closes_s=x.closes_s)
            session.add(dep)
            session.flush()
        ids[x.id] = dep.id
    for x in world.shippers:
        shp = session.scalar(select(Shipper).where(Shipper.organization_id == org_id, Shipper.code == x.id))
        if shp is None:
            shp = Shipper(organization_id=org_id, code=x.id, name=x.name, contact_email=x.email or None)
            session.add(shp)
            session.flush()
        ids["shp:" + x.id] = shp.id
    zone = {x.id: x.timezone for x in world.depots}
    for drv in world.drivers:
        veh = world.vehicle(drv.vehicle_id)
        v = session.scalar(select(Vehicle).where(Vehicle.organization_id == org_id, Vehicle.plate == veh.plate))
        if v is None:
            v = Vehicle(organization_id=org_id, depot_id=ids[drv.depot_id], name=f"{veh.name} {veh.id}",
                        plate=veh.plate, capacity_kg=veh.capacity[0], capacity_litres=veh.capacity[1],
                        capacity_parcels=veh.capacity[2], skills=sorted(veh.skills), fixed_cost=veh.fixed_cost,
                        cost_per_km=veh.cost_per_km, cost_per_hour=veh.cost_per_hour)
            session.add(v)
        dr = session.scalar(select(Driver).where(Driver.organization_id == org_id, Driver.phone == drv.phone))
        if dr is None:
            dr = Driver(organization_id=org_id, name=drv.name, phone=drv.phone, skills=sorted(drv.skills))
            session.add(dr)
        session.flush()
        tz = zone[drv.depot_id]
        shift = Shift(organization_id=org_id, driver_id=dr.id, vehicle_id=v.id, depot_id=ids[drv.depot_id],
                      date=world.day, start_at=at_seconds(world.day, tz, drv.shift_start),
                      end_at=at_seconds(world.day, tz, drv.shift_end),
                      break_start_at=at_seconds(world.day, tz, drv.break_start),
                      break_end_at=at_seconds(world.day, tz, drv.break_end), break_s=drv.break_s,
                      max_work_s=drv.max_work_s)
        session.add(shift)
        session.flush()
        ids["veh:" + drv.vehicle_id], ids["drv:" + drv.id], ids[f"shf:{drv.id}:{world.day}"] = v.id, dr.id, shift.id
    rows = []
    for o in world.morning_orders():
        tz = zone[o.depot_id]
        row = Order(organization_id=org_id, shipper_id=ids["shp:" + o.shipper_id], depot_id=ids[o.depot_id],
                    reference=f"{o.id}@{world.day}", date=world.day, kind=o.kind.value, status="assigned",
                    address=o.address, lat=o.location.lat, lon=o.location.lon, geocoded=True,
                    contact_name=o.customer.name, contact_phone=o.customer.phone, contact_email=o.customer.email,
                    language=o.customer.language,
                    windows=[{"start": at_seconds(world.day, tz, w.start).isoformat(),
                              "end": at_seconds(world.day, tz, w.end).isoformat()} for w in o.windows],
                    service_s=o.service_s, demand_kg=o.demand[0], demand_litres=o.demand[1],
                    demand_parcels=o.demand[2], skills=sorted(o.skills), priority=o.priority,
                    cod_amount=o.cod_amount, cod_currency=o.cod_currency or None, instructions=o.instructions)
        rows.append((o.id, row))
    session.add_all([r for _, r in rows])
    session.flush()
    ids.update({wid: r.id for wid, r in rows})
    return ids


# --- driving a route against the truth ---


def _drive(session: Session, truth, world, org_id: str, day: date, tz: str, route: Route, r: d.Route,
           rows: list[RouteStop], ids: dict[str, str], ping_s: int, still_ping_s: int,
           rec: "_Live | _Direct") -> tuple[int, int]:
    drv = world.driver(r.vehicle_id)
    driver_id = ids["drv:" + drv.id]
    at = lambda s: at_seconds(day, tz, int(s))  # noqa: E731
    track: list[tuple[int, float, float]] = []
    brk = (drv.break_start, drv.break_end, drv.break_s)
    taken = False

    def took_break(t0: int, lat: float, lon: float) -> None:
        for kind, when in (("break_start", t0), ("break_end", t0 + brk[2])):
            session.add(DriverAction(organization_id=org_id, driver_id=driver_id, client_id=f"sim-{route.id}-{kind}",
                                     type=kind, route_id=route.id, device_time=at(when), server_time=at(when),
                                     position={"lat": lat, "lon": lon}, data={}, result={}))

    def stand(place_lat: float, place_lon: float, t0: int, t1: int) -> None:
        t = t0
        while t < t1:
            track.append((t, place_lat, place_lon))
            t += still_ping_s

    def drive(a: str, b: str, t0: int) -> int:
        path = truth.path(a, b, t0, every_s=ping_s)
        track.extend((t, p.lat, p.lon) for t, p in path[:-1])
        return path[-1][0]

    t = r.depart
    rec.start(session, route, at(t))
    prev = drv.depot_id
    served = 0
    for st, oid in zip(rows, r.stop_ids):
        here = truth.location(prev)
        if not taken and brk[0] <= t <= brk[1]:  # the break's window is open: take it before driving on
            stand(here.lat, here.lon, t, t + brk[2])
            took_break(t, here.lat, here.lon)
            t += brk[2]
            taken = True
        arrival = drive(prev, oid, t)
        o = world.order(oid)
        rec.stop(session, st, "arrived", at(arrival))
        start = arrival
        for w in o.windows:  # wait at the door for the first window that has not closed
            if arrival <= w.end:
                start = max(arrival, w.start)
                break
        loc = truth.location(oid)
        if not taken and brk[0] <= start <= brk[1] and start > arrival:  # waiting anyway: the break absorbs it
            took_break(arrival, loc.lat, loc.lon)
            start = max(start, arrival + brk[2])
            taken = True
        if truth.at_home(oid, start, False):
            done = start + truth.service_s(oid, start, True)
            rec.stop(session, st, "done", at(done))
        else:
            done = start + NOT_HOME_S
            rec.stop(session, st, "failed", at(done), "not_home")
        stand(loc.lat, loc.lon, arrival, done)
        t, prev = done, oid
        served += 1
    end = drive(prev, drv.depot_id, t)
    track.append((end, truth.location(drv.depot_id).lat, truth.location(drv.depot_id).lon))
    rec.finish(session, route, at(end))
    _store_pings(session, org_id, driver_id, route.id, day, tz, track)
    return len(track), served


class _Live:
    """Through dispatch/live.py, as the driver app and the geofence do."""

    def start(self, session: Session, route: Route, at: datetime) -> None:
        live.start_route(session, route, at, ACTOR)

    def stop(self, session: Session, st: RouteStop, status: str, at: datetime, reason: str = "") -> None:
        live.mark_stop(session, st, status, at=at, actor=ACTOR, reason=reason)

    def finish(self, session: Session, route: Route, at: datetime) -> None:
        live.finish_route(session, route, at, ACTOR)


class _Direct:
    """The same columns live.py writes, without its events and notifications."""

    def __init__(self, session: Session) -> None:
        pass

    def start(self, session: Session, route: Route, at: datetime) -> None:
        route.status, route.started_at = "started", at

    def stop(self, session: Session, st: RouteStop, status: str, at: datetime, reason: str = "") -> None:
        st.status = status
        if status == "arrived":
            st.arrived_at = at
        else:
            st.departed_at = st.completed_at = at
            session.execute(update(Order).where(Order.id == st.order_id).values(
                status="delivered" if status == "done" else "failed", completed_at=at, updated_at=at))

    def finish(self, session: Session, route: Route, at: datetime) -> None:
        route.status, route.finished_at = "finished", at


def _store_pings(session: Session, org_id: str, driver_id: str, route_id: str, day: date, tz: str,
                 track: list[tuple[int, float, float]]) -> None:
    track.sort()
    if not track:
        return
    t = np.array([p[0] for p in track], np.float64)
    lat = np.array([p[1] for p in track])
    lon = np.array([p[2] for p in track])
    speed = np.zeros(len(t))
    if len(t) > 1:
        dt = np.maximum(np.diff(t), 1.0)
        speed[1:] = great_circle_m(lat[:-1], lon[:-1], lat[1:], lon[1:]) / dt
    midnight = at_seconds(day, tz, 0)
    rows = []
    for k in range(len(t)):
        when = midnight + timedelta(seconds=float(t[k]))
        rows.append({"organization_id": org_id, "driver_id": driver_id, "device_id": None, "route_id": route_id,
                     "source": "app", "at": when, "received_at": when + timedelta(seconds=2),
                     "lat": float(lat[k]), "lon": float(lon[k]), "accuracy_m": 8.0,
                     "speed_mps": round(float(speed[k]), 2), "bearing": None, "altitude_m": None, "battery": None})
    for k in range(0, len(rows), 5000):
        session.execute(insert(Position), rows[k:k + 5000])


__all__ = ["SimDay", "history_days", "simulate_day", "simulate_history"]
