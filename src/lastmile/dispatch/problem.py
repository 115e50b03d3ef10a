"""Database rows -> the engine's Problem, and the engine's Plan -> rows.
Times: the engine counts seconds from local midnight of the plan's date in the
first depot's zone; the database stores UTC."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..depots.models import Depot
from ..fleet.models import Driver, Shift, Vehicle
from ..kit.time import at_seconds, seconds_since_midnight
from ..orders.models import Order
from ..routing import domain as d
from .models import Plan, Route, RouteStop

BIG = 10**9  # "no limit" in a dimension when other dimensions are limited


@dataclass(frozen=True)
class ShiftRef:
    id: str
    vehicle_id: str
    driver_id: str
    depot_id: str


@dataclass
class Built:
    problem: d.Problem
    zone: str
    shifts: dict[str, ShiftRef] = field(default_factory=dict)  # engine vehicle id (= shift id) -> shift


def build_problem(session: Session, plan: Plan, order_ids: list[str] | None = None) -> Built:
    """The engine's problem for a plan: its depots' shifts on the day and its pending
    orders -- or, with ``order_ids``, exactly those orders whatever their status (to
    re-play a day that has been planned, e.g. against the naive dispatcher)."""
    depots = list(
        session.scalars(
            select(Depot).where(Depot.organization_id == plan.organization_id, Depot.id.in_(plan.depot_ids))
        )
    )
    if not depots:
        raise ValueError("none of the plan's depots exist")
    depots.sort(key=lambda x: plan.depot_ids.index(x.id))
    zone = depots[0].timezone
    day: date = plan.date

    def secs(dt: datetime) -> int:
        return seconds_since_midnight(dt, day, zone)

    eng_depots = tuple(
        d.Depot(
            id=x.id, location=d.LatLon(x.lat, x.lon), name=x.name,
            hours=d.TimeWindow(x.opens_s, x.closes_s) if x.opens_s is not None and x.closes_s is not None else None,
        )
        for x in depots
    )
    rows = session.execute(
        select(Shift, Vehicle, Driver)
        .join(Vehicle, Vehicle.id == Shift.vehicle_id)
        .join(Driver, Driver.id == Shift.driver_id)
        .where(
            Shift.organization_id == plan.organization_id,
            Shift.date == day,
            Shift.depot_id.in_(plan.depot_ids),
            Shift.available.is_(True),
            Vehicle.active.is_(True),
            Driver.active.is_(True),
        )
        .order_by(Shift.id)
    ).all()
    vehicles = []
    shifts: dict[str, ShiftRef] = {}
    for shift, veh, drv in rows:
        caps = (veh.capacity_kg, veh.capacity_litres, veh.capacity_parcels)
        capacity = () if all(c is None for c in caps) else tuple(BIG if c is None else c for c in caps)
        breaks: tuple[d.Break, ...] = ()
        if shift.break_s and shift.break_start_at and shift.break_end_at:
            breaks = (d.Break(d.TimeWindow(secs(shift.break_start_at), secs(shift.break_end_at)), shift.break_s),)
        vehicles.append(
            d.Vehicle(
                id=shift.id, start_depot=shift.depot_id, capacity=capacity,
                shift=d.TimeWindow(secs(shift.start_at), secs(shift.end_at)), breaks=breaks,
                max_work_s=shift.max_work_s, skills=frozenset(veh.skills) | frozenset(drv.skills),
                fixed_cost=veh.fixed_cost, cost_per_km=veh.cost_per_km, cost_per_hour=veh.cost_per_hour,
                name=veh.name, driver=drv.name,
            )
        )
        shifts[shift.id] = ShiftRef(shift.id, shift.vehicle_id, shift.driver_id, shift.depot_id)
    orders = session.scalars(
        select(Order)
        .where(
            Order.organization_id == plan.organization_id,
            Order.date == day,
            Order.depot_id.in_(plan.depot_ids),
            Order.status == "pending" if order_ids is None else Order.id.in_(order_ids),
        )
        .order_by(Order.id)
    )
    stops = []
    for o in orders:
        windows = tuple(
            d.TimeWindow(secs(datetime.fromisoformat(w["start"])), secs(datetime.fromisoformat(w["end"])))
            for w in o.windows
        )
        stops.append(
            d.Stop(
                id=o.id, location=d.LatLon(o.lat, o.lon), service_s=o.service_s,
                demand=(o.demand_kg, o.demand_litres, o.demand_parcels), windows=windows,
                kind=d.StopKind(o.kind), skills=frozenset(o.skills), priority=o.priority,
                name=o.contact_name, address=o.address,
            )
        )
    problem = d.Problem(
        stops=tuple(stops), vehicles=tuple(vehicles), depots=eng_depots, weekday=day.weekday(), name=plan.id
    )
    return Built(problem, zone, shifts)


def store_plan(session: Session, plan: Plan, built: Built, result: d.Plan) -> None:
    day, zone = plan.date, built.zone

    def at(s: int) -> datetime:
        return at_seconds(day, zone, s).astimezone(UTC)

    for r in result.routes:
        shift = built.shifts[r.vehicle_id]
        route = Route(
            plan_id=plan.id, organization_id=plan.organization_id, vehicle_id=shift.vehicle_id,
            driver_id=shift.driver_id, shift_id=shift.id, depot_id=shift.depot_id,
            depart_at=at(r.depart), arrive_at=at(r.arrive), distance_m=r.distance_m, duration_s=r.duration_s,
        )
        session.add(route)
        session.flush()
        seq = 0
        for v in r.visits:
            if v.kind is not d.VisitKind.STOP:
                continue
            seq += 1
            session.add(
                RouteStop(
                    route_id=route.id, order_id=v.ref, seq=seq, arrival_at=at(v.arrival), start_at=at(v.start),
                    end_at=at(v.end), travel_s=v.travel_s, distance_m=v.distance_m,
                )
            )
    s = result.stats
    plan.stats = {
        "cost": s.cost, "distance_m": s.distance_m, "duration_s": s.duration_s, "travel_s": s.travel_s,
        "routes": s.routes, "assigned": s.assigned, "unassigned": s.unassigned, "late_stops": s.late_stops,
        "solve_s": round(s.solve_s, 3), "matrix_provider": result.matrix_provider, "notes": list(result.notes),
    }
    plan.unassigned = [{"order_id": u.stop_id, "reason": u.reason, "code": u.code} for u in result.unassigned]
    plan.backend = result.backend
