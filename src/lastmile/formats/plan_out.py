"""A plan as JSON (our shape), GeoJSON (a LineString per route, a Point per
stop) and CSV (one row per visit). Times are given both as seconds since
local midnight and as HH:MM."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Any

from ..kit.time import hhmm
from ..routing.domain import LatLon, Plan, Problem, VisitKind
from ..routing.matrix.osm_read import ATTRIBUTION

STRAIGHT_LINE = {"haversine"}
STRAIGHT_SEGMENTS = "straight segments between stops"
ROADS = "roads (OpenStreetMap)"

# Points in visiting order -> the line along them, as GeoJSON [lon, lat] pairs.
Geometry = Callable[[Sequence[LatLon]], list[list[float]]]



def _windows(stop) -> list[list[str]]:
    return [[hhmm(w.start), hhmm(w.end)] for w in stop.windows]


def estimates_note(plan: Plan) -> str | None:
    if plan.matrix_provider in STRAIGHT_LINE:
        return "travel times are straight-line estimates (no road data configured)"
    return None


def plan_to_json(plan: Plan, problem: Problem) -> dict[str, Any]:
    stops = {s.id: s for s in problem.stops}
    vehicles = {v.id: v for v in problem.vehicles}
    routes = []
    for r in plan.routes:
        v = vehicles[r.vehicle_id]
        visits = []
        seq = 0
        for vis in r.visits:
            item: dict[str, Any] = {"type": vis.kind.value, "id": vis.ref, "arrival": vis.arrival, "start": vis.start,
                                    "end": vis.end, "arrival_hhmm": hhmm(vis.arrival), "start_hhmm": hhmm(vis.start),
                                    "travel_s": vis.travel_s, "distance_m": vis.distance_m, "wait_s": vis.wait_s}
            if vis.kind is VisitKind.STOP:
                seq += 1
                s = stops[vis.ref]
                item.update(sequence=seq, name=s.name, address=s.address, lat=s.location.lat, lon=s.location.lon,
                            kind=s.kind.value, windows=_windows(s), load=list(vis.load))
            visits.append(item)
        routes.append({
            "vehicle": v.id, "name": v.name, "driver": v.driver, "start_depot": v.start_depot, "end_depot": v.end,
            "depart": r.depart, "arrive": r.arrive, "depart_hhmm": hhmm(r.depart), "arrive_hhmm": hhmm(r.arrive),
            "stops": len(r.stop_ids), "distance_m": r.distance_m, "duration_s": r.duration_s, "travel_s": r.travel_s,
            "start_load": list(r.start_load), "visits": visits,
        })
    return {
        "name": problem.name,
        "backend": plan.backend,
        "matrix_provider": plan.matrix_provider,
        "note": estimates_note(plan),
        "seed": plan.seed,
        "dimensions": list(problem.dimensions),
        "stats": {"cost_cents": plan.stats.cost, "distance_m": plan.stats.distance_m,
                  "duration_s": plan.stats.duration_s, "travel_s": plan.stats.travel_s, "routes": plan.stats.routes,
                  "assigned": plan.stats.assigned, "unassigned": plan.stats.unassigned, "solve_s": plan.stats.solve_s},
        "routes": routes,
        "unassigned": [{"id": u.stop_id, "reason": u.reason, "code": u.code} for u in plan.unassigned],
    }


def plan_to_geojson(plan: Plan, problem: Problem, geometry: Geometry | None = None,
                    geometry_source: str = ROADS, attribution: str | None = ATTRIBUTION) -> dict[str, Any]:
    """A Point per depot and stop, a LineString per route. ``geometry`` draws each
    route along the roads (e.g. ``RoadGraphProvider.road_route(...).coordinates()``);
    without it, straight segments between stops. Lines drawn from map data carry
    ``attribution`` (OpenStreetMap's by default), on each route and on the collection."""
    stops = {s.id: s for s in problem.stops}
    vehicles = {v.id: v for v in problem.vehicles}
    features: list[dict[str, Any]] = []
    for d in problem.depots:
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [d.location.lon, d.location.lat]},
                         "properties": {"kind": "depot", "id": d.id, "name": d.name}})
    for k, r in enumerate(plan.routes):
        v = vehicles[r.vehicle_id]
        a = problem.depot(v.start_depot).location
        b = problem.depot(v.end).location
        points = [a, *(stops[s].location for s in r.stop_ids), b]
        props: dict[str, Any] = {"kind": "route", "vehicle": v.id, "route_index": k, "stops": len(r.stop_ids),
                                 "distance_m": r.distance_m, "depart": hhmm(r.depart), "arrive": hhmm(r.arrive)}
        if geometry is not None:
            coords = geometry(points)
            props["geometry_source"] = geometry_source
            if attribution:
                props["attribution"] = attribution
        else:
            coords = [[p.lon, p.lat] for p in points]
            props["geometry_source"] = STRAIGHT_SEGMENTS
        features.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": coords},
                         "properties": props})
        seq = 0
        for vis in r.visits:
            if vis.kind is not VisitKind.STOP:
                continue
            seq += 1
            s = stops[vis.ref]
            features.append({"type": "Feature",
                             "geometry": {"type": "Point", "coordinates": [s.location.lon, s.location.lat]},
                             "properties": {"kind": "stop", "id": s.id, "vehicle": v.id, "sequence": seq,
                                            "eta": hhmm(vis.start), "name": s.name, "address": s.address,
                                            "stop_kind": s.kind.value, "windows": _windows(s)}})
    for u in plan.unassigned:
        s = stops[u.stop_id]
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [s.location.lon, s.location.lat]},
                         "properties": {"kind": "unassigned", "id": s.id, "reason": u.reason, "name": s.name}})
    out: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if geometry is not None and attribution:
        out["attribution"] = attribution
    return out


CSV_COLUMNS = ["vehicle", "sequence", "type", "id", "name", "address", "lat", "lon", "arrival", "start", "end",
               "wait_min", "window", "distance_km_from_previous", "reason"]


def plan_to_csv(plan: Plan, problem: Problem) -> str:
    stops = {s.id: s for s in problem.stops}
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for r in plan.routes:
        seq = 0
        for vis in r.visits:
            if vis.kind is VisitKind.STOP:
                seq += 1
                s = stops[vis.ref]
                window = " / ".join(f"{a}-{b}" for a, b in _windows(s))
                w.writerow([r.vehicle_id, seq, "stop", s.id, s.name, s.address, s.location.lat, s.location.lon,
                            hhmm(vis.arrival), hhmm(vis.start), hhmm(vis.end), round(vis.wait_s / 60, 1), window,
                            round(vis.distance_m / 1000, 2), ""])
            else:
                w.writerow([r.vehicle_id, "", "break", vis.ref, "", "", "", "", hhmm(vis.arrival), hhmm(vis.start),
                            hhmm(vis.end), round(vis.wait_s / 60, 1), "", round(vis.distance_m / 1000, 2), ""])
    for u in plan.unassigned:
        s = stops[u.stop_id]
        w.writerow(["", "", "unassigned", s.id, s.name, s.address, s.location.lat, s.location.lon, "", "", "", "", "",
                    "", u.reason])
    return buf.getvalue()
