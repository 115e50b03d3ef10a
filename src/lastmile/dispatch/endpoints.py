from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.access import Principal, allow
from ..db import Database
from ..errors import NotFound
from ..kit.broadcast import sse
from ..kit.repo import get_in_org
from ..kit.schema import Id, ServiceDate
from ..kit.web import get_database, get_session
from . import service
from .models import Plan, Route, RouteStop
from .schemas import PlanCreate, PlanOut, RouteOut, RouteStopOut

router = APIRouter(tags=["dispatch"])
SessionDep = Annotated[Session, Depends(get_session)]
staff = allow("admin", "dispatcher")


def _route_out(session: Session, route: Route) -> RouteOut:
    out = RouteOut.model_validate(route)
    stops = session.scalars(select(RouteStop).where(RouteStop.route_id == route.id).order_by(RouteStop.seq))
    out.stops = [RouteStopOut.model_validate(s) for s in stops]
    return out


def _plan_out(session: Session, plan: Plan) -> PlanOut:
    out = PlanOut.model_validate(plan)
    routes = session.scalars(select(Route).where(Route.plan_id == plan.id).order_by(Route.id))
    out.routes = [_route_out(session, r) for r in routes]
    return out


@router.post("/plans", response_model=PlanOut, status_code=202)
def create_plan(
    body: PlanCreate, session: SessionDep, db: Annotated[Database, Depends(get_database)], p: Principal = Depends(staff)
) -> PlanOut:
    """Optimize a day's pending orders for the given depots, as a background job.
    Poll ``GET /plans/{id}`` for progress."""
    plan = service.create_plan(session, p, body, db.url)
    session.commit()
    return _plan_out(session, plan)


@router.get("/plans", response_model=list[PlanOut])
def list_plans(
    session: SessionDep, p: Principal = Depends(staff), date: Annotated[ServiceDate | None, Query()] = None
) -> list[PlanOut]:
    q = select(Plan).where(Plan.organization_id == p.organization_id)
    if date is not None:
        q = q.where(Plan.date == date)
    return [PlanOut.model_validate(x) for x in session.scalars(q.order_by(Plan.id.desc()).limit(100))]


@router.get("/plans/{plan_id}", response_model=PlanOut)
def get_plan(plan_id: Id, session: SessionDep, p: Principal = Depends(staff)) -> PlanOut:
    """Status, progress (0..1) and message while running; routes and unassigned orders when done."""
    return _plan_out(session, get_in_org(session, Plan, plan_id, p.organization_id, "plan"))


@router.post("/plans/{plan_id}/publish", response_model=PlanOut)
def publish_plan(plan_id: Id, session: SessionDep, p: Principal = Depends(staff)) -> PlanOut:
    """Send the plan's routes to the drivers; its orders become ``assigned``."""
    plan = get_in_org(session, Plan, plan_id, p.organization_id, "plan")
    service.publish_plan(session, p, plan)
    session.commit()
    return _plan_out(session, plan)


@router.get("/routes", response_model=list[RouteOut])
def list_routes(
    session: SessionDep,
    p: Principal = Depends(allow("admin", "dispatcher", "driver")),
    date: Annotated[ServiceDate | None, Query()] = None,
) -> list[RouteOut]:
    """Published routes; a driver sees only their own."""
    q = select(Route).join(Plan, Plan.id == Route.plan_id).where(
        Route.organization_id == p.organization_id, Route.published.is_(True)
    )
    if p.role == "driver":
        q = q.where(Route.driver_id == (p.driver_id or ""))
    if date is not None:
        q = q.where(Plan.date == date)
    return [_route_out(session, r) for r in session.scalars(q.order_by(Route.depart_at, Route.id).limit(500))]


@router.get("/routes/{route_id}", response_model=RouteOut)
def get_route(
    route_id: Id, session: SessionDep, p: Principal = Depends(allow("admin", "dispatcher", "driver"))
) -> RouteOut:
    route = get_in_org(session, Route, route_id, p.organization_id, "route")
    if p.role == "driver" and (route.driver_id != p.driver_id or not route.published):
        raise NotFound("route not found")
    return _route_out(session, route)


SSE_RESPONSE = {200: {"description": "Server-Sent Events; each `data:` line is one JSON message",
                      "content": {"text/event-stream": {"schema": {"type": "string"}}}}}


@router.get("/live/stream", responses=SSE_RESPONSE, response_model=None)
async def live_stream(request: Request, p: Principal = Depends(allow("admin", "dispatcher", "driver"))) -> object:
    """Live changes as Server-Sent Events: dispatchers get every change in their
    organization (stops, routes, positions, proposals, alerts); a driver only the
    changes to routes assigned to them."""
    topic = f"driver:{p.driver_id}" if p.role == "driver" else f"org:{p.organization_id}"
    return sse(request, [topic], initial={"type": "hello", "role": p.role})
