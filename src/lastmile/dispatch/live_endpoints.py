"""HTTP for the live day's re-optimization: moves (preview/apply), stop locks,
proposals, driver unavailable, delivery slots."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import Field
from sqlalchemy.orm import Session

from ..auth.access import Principal, allow
from ..kit.repo import get_in_org
from ..kit.schema import Id, Lat, Lon, Schema, ServiceDate
from ..kit.web import get_session
from . import moves
from .models import Route, RouteStop

router = APIRouter(tags=["live re-optimization"])
SessionDep = Annotated[Session, Depends(get_session)]
staff = allow("admin", "dispatcher")


class MoveIn(Schema):
    order_id: Id
    to_route_id: Id | None = Field(description="null: take the order off its route")
    position: Annotated[int, Field(strict=True, ge=1, le=10_000)] | None = Field(
        default=None, description="1-based place among the route's stops as GET /routes shows them; omitted: best")
    force: bool = False


class SlotsIn(Schema):
    lat: Lat
    lon: Lon
    depot_id: Id
    start: ServiceDate
    days: Annotated[int, Field(strict=True, ge=1, le=14)] = 3
    demand_parcels: Annotated[int, Field(strict=True, ge=0, le=1000)] = 1
    service_s: Annotated[int, Field(strict=True, ge=0, le=4 * 3600)] = 300


@router.post("/routes/moves/preview")
def preview_move(body: MoveIn, session: SessionDep, p: Principal = Depends(staff)) -> dict[str, Any]:
    """What moving an order would do: feasibility with reasons, the delta (seconds,
    metres, late stops, cost in minor units) and the affected routes as they would be.
    Nothing is stored."""
    return moves.move(session, p, body.model_dump(), apply=False)


@router.post("/routes/moves")
def apply_move(body: MoveIn, session: SessionDep, p: Principal = Depends(staff)) -> dict[str, Any]:
    """Move an order (to another route, another position, or off its route). An
    infeasible move is refused (409) unless ``force`` is true."""
    out = moves.move(session, p, body.model_dump(), apply=True)
    session.commit()
    return out


def _stop(session: Session, stop_id: str, p: Principal) -> RouteStop:
    from ..errors import NotFound

    stop = session.get(RouteStop, stop_id)
    route = session.get(Route, stop.route_id) if stop is not None else None
    if stop is None or route is None or route.organization_id != p.organization_id:
        raise NotFound("stop not found")
    return stop


@router.post("/route-stops/{stop_id}/lock")
def lock_stop(stop_id: Id, session: SessionDep, p: Principal = Depends(staff)) -> dict[str, Any]:
    """Pin a stop: re-optimization will not move it."""
    out = moves.set_lock(session, p, _stop(session, stop_id, p), True)
    session.commit()
    return out


@router.post("/route-stops/{stop_id}/unlock")
def unlock_stop(stop_id: Id, session: SessionDep, p: Principal = Depends(staff)) -> dict[str, Any]:
    out = moves.set_lock(session, p, _stop(session, stop_id, p), False)
    session.commit()
    return out


@router.post("/slots/offer")
def offer(body: SlotsIn, session: SessionDep, p: Principal = Depends(allow("admin", "dispatcher", "shipper"))
          ) -> dict[str, Any]:
    """Delivery slots for an address (2-hour windows per the organization's template),
    each with its marginal cost in minor units and extra km; ``green`` marks the cheapest
    (a neighbour is already served then)."""
    from ..depots.models import Depot
    from .slots import offer_slots

    get_in_org(session, Depot, body.depot_id, p.organization_id, "depot")
    return {"slots": offer_slots(session, p.organization_id, lat=body.lat, lon=body.lon, depot_id=body.depot_id,
                                 start=body.start, days=body.days, demand_parcels=body.demand_parcels,
                                 service_s=body.service_s)}
