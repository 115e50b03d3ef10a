"""VROOM's JSON problem and solution format, so VROOM users can switch.

Read: ``vehicles`` and ``jobs`` (``shipments`` are refused with a clear message
for now), ``matrices`` when given (otherwise coordinates ``[lon, lat]``).
Write: VROOM's output shape (``code``, ``summary``, ``unassigned``, ``routes``
with ``steps``). Times pass through as seconds; absolute Unix times are shifted
to seconds since that day's midnight (UTC) and shifted back on output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..routing.domain import (Break, Depot, LatLon, Plan, Problem, Stop, StopKind, TimeWindow, Vehicle,
                              VisitKind)
from ..routing.ports import Matrix
from .csvkit import InputError

ABSOLUTE = 7 * 86400  # larger values are Unix timestamps


@dataclass(frozen=True)
class VroomProblem:
    problem: Problem
    matrix: Matrix | None
    offset: int  # seconds subtracted from absolute times
    job_ids: dict[str, Any]  # our stop id -> VROOM job id
    vehicle_ids: dict[str, Any]


def _need(obj: dict, key: str, where: str) -> Any:
    if key not in obj:
        raise InputError(f"{where}: missing {key!r}")
    return obj[key]


def _coord(v: Any, where: str) -> LatLon:
    if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v)):
        raise InputError(f"{where}: location must be [lon, lat]")
    try:
        return LatLon(float(v[1]), float(v[0]))
    except ValueError as e:
        raise InputError(f"{where}: {e}") from None


def read_vroom(data: bytes | str, source: str = "VROOM JSON") -> VroomProblem:
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{source} is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise InputError(f"{source}: expected an object with 'vehicles' and 'jobs'")
    if doc.get("shipments"):
        raise InputError(f"{source}: shipments (pickup-and-delivery pairs) are not supported yet; use jobs")
    vehicles_in = _need(doc, "vehicles", source)
    jobs_in = doc.get("jobs") or []
    if not isinstance(vehicles_in, list) or not vehicles_in:
        raise InputError(f"{source}: 'vehicles' must be a non-empty list")
    if not isinstance(jobs_in, list) or not jobs_in:
        raise InputError(f"{source}: 'jobs' must be a non-empty list")

    times: list[int] = []
    for j in jobs_in:
        for w in j.get("time_windows") or []:
            times.extend(w)
    for v in vehicles_in:
        times.extend(v.get("time_window") or [])
    offset = 0
    if times and min(times) > ABSOLUTE:
        offset = (min(times) // 86400) * 86400

    matrices = doc.get("matrices")
    durations = distances = None
    if matrices:
        prof = matrices.get("car") or next(iter(matrices.values()))
        durations = np.asarray(_need(prof, "durations", f"{source} matrices"), dtype=np.int64)
        if "distances" in prof:
            distances = np.asarray(prof["distances"], dtype=np.int64)
        else:
            distances = durations.copy()
    elif "matrix" in doc:
        durations = np.asarray(doc["matrix"], dtype=np.int64)
        distances = durations.copy()

    dims = max([len(j.get("delivery") or j.get("pickup") or j.get("amount") or []) for j in jobs_in]
               + [len(v.get("capacity") or []) for v in vehicles_in] + [0])
    dimensions = tuple(f"amount{k + 1}" for k in range(dims)) or ("amount1",)
    nd = len(dimensions)

    def amounts(x: list[int] | None, where: str) -> tuple[int, ...]:
        x = list(x or [])
        if any((not isinstance(a, int)) or a < 0 for a in x):
            raise InputError(f"{where}: amounts must be non-negative integers")
        return tuple(x + [0] * (nd - len(x)))

    # Places: with a matrix, location_index addresses it; without, coordinates.
    rows: list[int] = []  # matrix row per depot/stop, in LocationIndex order
    depots: list[Depot] = []
    depot_of: dict[tuple, str] = {}

    def depot_for(loc: Any, idx: Any, where: str) -> str:
        key = ("i", idx) if idx is not None else ("c", tuple(loc))
        if key not in depot_of:
            did = f"depot{len(depots) + 1}"
            latlon = _coord(loc, where) if loc is not None else LatLon(0.0, 0.0)
            depots.append(Depot(did, latlon, did))
            depot_of[key] = did
            rows.append(idx if idx is not None else -1)
        return depot_of[key]

    vehicles: list[Vehicle] = []
    vehicle_ids: dict[str, Any] = {}
    for k, v in enumerate(vehicles_in):
        where = f"{source} vehicles[{k}]"
        vid = str(_need(v, "id", where))
        start_loc, start_idx = v.get("start"), v.get("start_index")
        end_loc, end_idx = v.get("end"), v.get("end_index")
        if start_loc is None and start_idx is None:
            start_loc, start_idx = end_loc, end_idx
        if start_loc is None and start_idx is None:
            raise InputError(f"{where}: needs a start or an end")
        if end_loc is None and end_idx is None:
            end_loc, end_idx = start_loc, start_idx
        s = depot_for(start_loc, start_idx, where)
        e = depot_for(end_loc, end_idx, where)
        tw = v.get("time_window")
        shift = TimeWindow(tw[0] - offset, tw[1] - offset) if tw else TimeWindow(0, 10 * 86400)
        breaks = []
        for b in v.get("breaks") or []:
            for w in b.get("time_windows") or [[shift.start, shift.end]]:
                breaks.append(Break(TimeWindow(w[0] - offset, w[1] - offset), int(b.get("service", 0)) or 1,
                                    id=str(b.get("id", len(breaks)))))
                break
        costs = v.get("costs") or {}
        vehicles.append(Vehicle(
            id=vid, start_depot=s, end_depot=e, capacity=amounts(v.get("capacity"), where) if v.get("capacity") else (),
            shift=shift, breaks=tuple(breaks), max_work_s=v.get("max_travel_time"),
            max_distance_m=v.get("max_distance"), skills=frozenset(str(x) for x in v.get("skills") or []),
            fixed_cost=int(costs.get("fixed", 0)), cost_per_hour=int(costs.get("per_hour", 3600)),
            cost_per_km=int(costs.get("per_km", 0)), name=str(v.get("description", ""))))
        vehicle_ids[vid] = v["id"]

    stops: list[Stop] = []
    job_ids: dict[str, Any] = {}
    for k, j in enumerate(jobs_in):
        where = f"{source} jobs[{k}]"
        jid = str(_need(j, "id", where))
        if jid in job_ids:
            raise InputError(f"{where}: duplicate job id {j['id']!r}")
        loc, idx = j.get("location"), j.get("location_index")
        if loc is None and idx is None:
            raise InputError(f"{where}: needs location or location_index")
        latlon = _coord(loc, where) if loc is not None else LatLon(0.0, 0.0)
        delivery, pickup = j.get("delivery"), j.get("pickup")
        if delivery and pickup and any(pickup) and any(delivery):
            raise InputError(f"{where}: a job with both delivery and pickup amounts is not supported yet")
        kind = StopKind.PICKUP if (pickup and any(pickup)) else StopKind.DELIVERY
        demand = amounts(pickup if kind is StopKind.PICKUP else (delivery or j.get("amount")), where)
        windows = tuple(TimeWindow(w[0] - offset, w[1] - offset) for w in j.get("time_windows") or [])
        try:
            stops.append(Stop(
                id=jid, location=latlon, service_s=int(j.get("service", 0)) + int(j.get("setup", 0)),
                demand=demand, windows=windows, kind=kind, skills=frozenset(str(x) for x in j.get("skills") or []),
                priority=int(j.get("priority", 0)), name=str(j.get("description", ""))))
        except ValueError as e:
            raise InputError(f"{where}: {e}") from None
        job_ids[jid] = j["id"]
        rows.append(idx if idx is not None else -1)

    matrix = None
    if durations is not None:
        if any(r < 0 for r in rows):
            raise InputError(f"{source}: with 'matrices', every place needs a location_index / start_index")
        n = durations.shape[0]
        if any(r >= n for r in rows):
            raise InputError(f"{source}: a location_index is outside the {n}x{n} matrix")
        sel = np.asarray(rows)
        matrix = Matrix(distances[np.ix_(sel, sel)], durations[np.ix_(sel, sel)], "given")
    try:
        problem = Problem(tuple(stops), tuple(vehicles), tuple(depots), dimensions)
    except ValueError as e:
        raise InputError(f"{source}: {e}") from None
    return VroomProblem(problem, matrix, offset, job_ids, vehicle_ids)


def write_vroom(plan: Plan, vp: VroomProblem) -> dict[str, Any]:
    problem = vp.problem
    stops = {s.id: s for s in problem.stops}
    nd = len(problem.dimensions)
    off = vp.offset
    vehicles = {v.id: v for v in problem.vehicles}
    routes_out = []
    tot_service = tot_wait = tot_dur = tot_dist = 0
    for r in plan.routes:
        v = vehicles[r.vehicle_id]
        steps = [{"type": "start", "location": _loc(problem.depot(v.start_depot).location),
                  "arrival": r.depart + off, "duration": 0, "distance": 0, "load": list(r.start_load or (0,) * nd)}]
        cum_travel = cum_dist = service = wait = 0
        for vis in r.visits:
            cum_travel += vis.travel_s
            cum_dist += vis.distance_m
            wait += vis.wait_s
            if vis.kind is VisitKind.STOP:
                s = stops[vis.ref]
                service += s.service_s
                steps.append({"type": "job", "id": vp.job_ids.get(s.id, s.id), "location": _loc(s.location),
                              "arrival": vis.arrival + off, "duration": cum_travel, "setup": 0,
                              "service": s.service_s, "waiting_time": vis.wait_s, "distance": cum_dist,
                              "load": list(vis.load), "violations": []})
            else:
                steps.append({"type": "break", "id": vis.ref, "arrival": vis.arrival + off, "duration": cum_travel,
                              "service": vis.end - vis.start, "waiting_time": vis.wait_s, "distance": cum_dist,
                              "load": list(vis.load), "violations": []})
        cum_travel += r.end_travel_s
        cum_dist += r.end_distance_m
        steps.append({"type": "end", "location": _loc(problem.depot(v.end).location), "arrival": r.arrive + off,
                      "duration": cum_travel, "distance": cum_dist, "load": list(steps[-1]["load"])})
        routes_out.append({"vehicle": vp.vehicle_ids.get(v.id, v.id), "cost": cum_travel, "setup": 0,
                           "service": service, "duration": cum_travel, "waiting_time": wait, "priority": 0,
                           "distance": cum_dist, "violations": [], "delivery": list(r.start_load or (0,) * nd),
                           "pickup": [0] * nd, "steps": steps})
        tot_service += service
        tot_wait += wait
        tot_dur += cum_travel
        tot_dist += cum_dist
    unassigned = [{"id": vp.job_ids.get(u.stop_id, u.stop_id), "type": "job", "location": _loc(stops[u.stop_id].location),
                   "description": u.reason} for u in plan.unassigned]
    return {"code": 0, "summary": {"cost": tot_dur, "routes": len(routes_out), "unassigned": len(unassigned),
                                   "setup": 0, "service": tot_service, "duration": tot_dur, "waiting_time": tot_wait,
                                   "priority": 0, "distance": tot_dist, "violations": [],
                                   "computing_times": {"loading": 0, "solving": int(plan.stats.solve_s * 1000)}},
            "unassigned": unassigned, "routes": routes_out}


def _loc(p: LatLon) -> list[float]:
    return [p.lon, p.lat]
