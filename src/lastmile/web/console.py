"""The dispatch console at ``/console``: a server-rendered HTML shell (Jinja2) whose
small ES modules (``static/console/``) call the JSON API with the browser session.

The page itself holds no data, so it is open to anyone: a visitor without a staff
session gets the login screen (``POST /auth/login`` sets the session and CSRF cookies),
a signed-in driver or shipper is told the console is for dispatchers. Everything the
console shows comes from staff-only API endpoints.
"""

from __future__ import annotations

import gzip
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from ..auth.access import Principal, allow, authenticate, public
from ..errors import DomainError
from ..kit.schema import Id, ServiceDate
from ..kit.web import get_session
from .vendor import vendor_url

TEMPLATES = Path(__file__).parent / "templates"
router = APIRouter()
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), auto_reload=False)

VENDOR = {
    "leaflet_js": vendor_url("leaflet", "dist/leaflet.js"),
    "leaflet_css": vendor_url("leaflet", "dist/leaflet.css"),
}


def _who(request: Request) -> Principal | None:
    with request.app.state.db.read_sessions() as session:
        try:
            return authenticate(request, session, request.app.state.settings)
        except DomainError:  # a stale or revoked cookie: just show the login screen
            return None


def render(name: str, **ctx: Any) -> str:
    return _env.get_template(name).render(**ctx)


@router.get("/console", response_class=HTMLResponse, include_in_schema=False, dependencies=[Depends(public)])
async def console(request: Request) -> HTMLResponse:
    p = await run_in_threadpool(_who, request)
    settings = request.app.state.settings
    headers = {"cache-control": "no-store"}
    if p is None:
        return HTMLResponse(render("console/login.html", vendor=VENDOR), headers=headers)
    if not p.is_staff:
        # a page like the login screen (200): it tells a driver or shipper where they are
        return HTMLResponse(render("console/forbidden.html", role=p.role), headers=headers)
    config = {"role": p.role, "user_id": p.id, "tile_url": settings.map_tile_url,
              "tile_attribution": settings.map_tile_attribution}
    return HTMLResponse(render("console/index.html", vendor=VENDOR, config=config), headers=headers)


def _iso(dt: Any) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt is not None else None


def _breaks(session: Any, routes: list[Any]) -> dict[str, dict[str, Any]]:
    """Per route: the shift's planned break (``break``: earliest start, latest end), the
    breaks the driver reported (``breaks``: start/end from the driver app's actions, when
    the pod domain is installed) and whether one is going on now (``on_break``)."""
    from sqlalchemy import select

    from ..fleet.models import Shift

    out: dict[str, dict[str, Any]] = {}
    shift_ids = {r.shift_id for r in routes if r.shift_id}
    shifts = {x.id: x for x in session.scalars(select(Shift).where(Shift.id.in_(shift_ids)))} if shift_ids else {}
    for r in routes:
        sh = shifts.get(r.shift_id or "")
        planned = None
        if sh is not None and sh.break_start_at is not None and sh.break_s:
            latest = sh.break_end_at or sh.break_start_at
            planned = {"start": sh.break_start_at, "end": latest + timedelta(seconds=sh.break_s), "duration_s": sh.break_s}
        out[r.id] = {"break": planned, "breaks": [], "on_break": False}
    try:
        from ..pod.models import DriverAction
    except ImportError:  # the driver app's domain is optional
        return out
    if routes:
        rows = session.execute(
            select(DriverAction.route_id, DriverAction.type, DriverAction.device_time)
            .where(DriverAction.route_id.in_([r.id for r in routes]),
                   DriverAction.type.in_(("break_start", "break_end")))
            .order_by(DriverAction.route_id, DriverAction.device_time, DriverAction.id)
        ).all()
        for route_id, kind, at in rows:
            rb = out[route_id]
            if kind == "break_start":
                rb["breaks"].append({"start": at, "end": None})
                rb["on_break"] = True
            elif rb["breaks"] and rb["breaks"][-1]["end"] is None:
                rb["breaks"][-1]["end"] = at
                rb["on_break"] = False
    return out


GZIP_OVER = 32_000  # bytes of JSON past which /console/day is gzipped for a client that accepts it
STOP_CODES = ("planned", "en_route", "arrived", "done", "failed", "skipped")


def day_view(session: Any, organization_id: str, day: Any, plan_id: str | None = None) -> dict[str, Any]:
    """Everything the map and the route list draw, in one compact answer: the day's
    published routes (or, with ``plan_id``, that plan's routes: a draft not yet
    published) with their stops' positions and live status, depots, drivers, and the
    newest unpublished plan of the day (a draft the dispatcher may publish).

    Stops come column by column per route (``stops: {"id": [...], "lat": [...], ...}``),
    which with 5,000 stops is a fraction of the same as one object each: times are
    whole seconds from ``t0`` (epoch seconds, the day's 00:00 UTC), windows flat
    ``[start, end, ...]`` in the same seconds, status an index into ``statuses``,
    coordinates rounded to 1e-5 degrees (about a metre), skipped stops left out (they
    are no longer the route's work). What only a click needs (address, phone, order
    details) the console asks ``GET /orders/{id}`` for."""
    from datetime import UTC, datetime, time

    from itertools import groupby
    from operator import itemgetter

    from sqlalchemy import Integer, Text, cast, extract, select, type_coerce

    from ..depots.models import Depot
    from ..dispatch.models import Plan, Route, RouteStop
    from ..fleet.models import Driver, Vehicle
    from ..orders.models import Order

    t0 = datetime.combine(day, time(0), tzinfo=UTC).timestamp()
    q = select(Route).join(Plan, Plan.id == Route.plan_id).where(Route.organization_id == organization_id,
                                                                  Plan.date == day)
    q = q.where(Route.plan_id == plan_id) if plan_id else q.where(Route.published.is_(True))
    routes = list(session.scalars(q.order_by(Route.depart_at, Route.id)))
    cols = ("id", "order_id", "seq", "st", "lat", "lon", "ref", "name", "prio", "lock", "arr", "end", "eta", "in",
            "out", "win")
    by_route: dict[str, dict[str, list[Any]]] = {r.id: {c: [] for c in cols} for r in routes}
    code = {x: i for i, x in enumerate(STOP_CODES)}
    windows_cache: dict[str, list[int]] = {}

    def windows(raw: Any) -> list[int]:
        key = raw if isinstance(raw, str) else orjson.dumps(raw or []).decode()
        got = windows_cache.get(key)
        if got is None:
            items = orjson.loads(raw) if isinstance(raw, str) else (raw or [])
            got = []
            for w in items or []:
                try:
                    got += [int(datetime.fromisoformat(w["start"]).timestamp() - t0),
                            int(datetime.fromisoformat(w["end"]).timestamp() - t0)]
                except (KeyError, TypeError, ValueError):
                    continue
            windows_cache[key] = got
        return got

    def secs(col: Any) -> Any:  # seconds from t0, worked out by the database (25,000 datetimes less to build)
        return cast(extract("epoch", col) - int(t0), Integer)

    if routes:
        # Core, not ORM rows: 5,000 plain tuples, transposed per route into columns
        rows = session.connection().execute(
            select(RouteStop.route_id, RouteStop.id, RouteStop.order_id, RouteStop.seq, RouteStop.status,
                   Order.lat, Order.lon, Order.reference, Order.contact_name,
                   Order.priority, RouteStop.locked, secs(RouteStop.arrival_at), secs(RouteStop.end_at),
                   secs(RouteStop.eta_at), secs(RouteStop.arrived_at), secs(RouteStop.completed_at),
                   type_coerce(Order.windows, Text))
            .join(Order, Order.id == RouteStop.order_id)
            .where(RouteStop.route_id.in_(list(by_route)), RouteStop.status != "skipped")
            .order_by(RouteStop.route_id, RouteStop.seq)
        ).all()
        for rid, group in groupby(rows, key=itemgetter(0)):
            (_, ids, oids, seqs, sts, lats, lons, refs, names, prios, locks, arrs, ends, etas, ins, outs,
             wins) = zip(*group, strict=True)
            by_route[rid] = {
                "id": ids, "order_id": oids, "seq": seqs, "st": [code.get(x, 0) for x in sts],
                "lat": [round(x, 5) for x in lats], "lon": [round(x, 5) for x in lons], "ref": refs, "name": names, "prio": prios, "lock": [1 if x else 0 for x in locks],
                "arr": arrs, "end": ends, "eta": etas, "in": ins, "out": outs, "win": [windows(w) for w in wins]}
    breaks = _breaks(session, routes)
    drivers = {d.id: d.name for d in session.scalars(select(Driver).where(Driver.organization_id == organization_id))}
    vehicles = {v.id: v.name for v in session.scalars(select(Vehicle).where(Vehicle.organization_id == organization_id))}
    depots = [{"id": d.id, "name": d.name, "lat": d.lat, "lon": d.lon, "timezone": d.timezone}
              for d in session.scalars(select(Depot).where(Depot.organization_id == organization_id).order_by(Depot.id))]
    draft = session.scalar(select(Plan).where(Plan.organization_id == organization_id, Plan.date == day,
                                              Plan.status.in_(("queued", "running", "done")))
                           .order_by(Plan.created_at.desc(), Plan.id.desc()).limit(1))
    return {
        "date": day.isoformat(), "plan_id": plan_id, "depots": depots, "t0": int(t0), "statuses": list(STOP_CODES),
        "draft": {"id": draft.id, "status": draft.status, "progress": draft.progress,
                  "unassigned": draft.unassigned, "stats": draft.stats} if draft is not None else None,
        "routes": [{
            "id": r.id, "plan_id": r.plan_id, "published": r.published, "status": r.status, "version": r.version,
            "driver_id": r.driver_id, "driver_name": drivers.get(r.driver_id or "", ""),
            "vehicle_id": r.vehicle_id, "vehicle_name": vehicles.get(r.vehicle_id, ""), "depot_id": r.depot_id,
            "depart_at": _iso(r.depart_at), "arrive_at": _iso(r.arrive_at), "started_at": _iso(r.started_at),
            "finished_at": _iso(r.finished_at), "distance_m": r.distance_m, "duration_s": r.duration_s,
            "stops": by_route[r.id], **breaks.get(r.id, {"break": None, "breaks": [], "on_break": False}),
        } for r in routes],
    }


@router.get("/console/day", tags=["console"], response_model=None,
            responses={200: {"description": "routes with stops, depots and the day's draft plan",
                             "content": {"application/json": {"schema": {"type": "object"}}}}})
def console_day(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    p: Principal = Depends(allow("admin", "dispatcher")),
    date: Annotated[ServiceDate | None, Query()] = None,
    plan_id: Annotated[Id | None, Query()] = None,
) -> Response:
    """The console's day in one answer (see :func:`day_view`); encoded by orjson, as
    5,000 stops through the generic encoder took longer than the query."""
    from ..dispatch.alert_endpoints import _today
    from ..dispatch.models import Plan
    from ..kit.repo import get_in_org

    if plan_id is not None:
        get_in_org(session, Plan, plan_id, p.organization_id, "plan")
    data = day_view(session, p.organization_id, date or _today(session, p.organization_id), plan_id)
    body = orjson.dumps(data)
    headers = {"vary": "accept-encoding"}
    if len(body) > GZIP_OVER and "gzip" in request.headers.get("accept-encoding", ""):
        # a dispatcher far from the server: 5,000 stops are ~0.85 MB of JSON, ~0.2 MB gzipped
        # (level 1: a few milliseconds)
        body = gzip.compress(body, compresslevel=1, mtime=0)
        headers["content-encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)
