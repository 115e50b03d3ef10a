"""HTTP for the live day's re-optimization: moves (preview/apply, live or on a draft
plan), splitting and merging routes, order priority, stop locks, proposals, driver
unavailable, delivery slots."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
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
    plan_id: Id | None = Field(default=None, description="edit this draft plan (optimized, not published) instead "
                                                         "of the live routes")


class SplitIn(Schema):
    route_id: Id = Field(description="the route that gives stops")
    order_ids: Annotated[list[Id], Field(min_length=1, max_length=1000)] | None = Field(
        default=None, description="the orders to hand over (or from_position)")
    from_position: Annotated[int, Field(strict=True, ge=1, le=10_000)] | None = Field(
        default=None, description="hand over the tail from this 1-based place (as GET /routes shows the stops)")
    to_route_id: Id | None = Field(default=None, description="the route that takes them (or to_shift_id)")
    to_shift_id: Id | None = Field(default=None, description="a driver's shift with no route yet: a new route")
    force: bool = False


class MergeIn(Schema):
    route_id: Id = Field(description="the route that takes the stops")
    from_route_id: Id = Field(description="the route whose remaining stops it takes")
    force: bool = False


class PriorityIn(Schema):
    priority: Annotated[int, Field(strict=True, ge=0, le=100)] = Field(
        description="0..100; higher is served first when not every order fits")
    reason: Annotated[str, Field(max_length=300)] = ""


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


@router.post("/routes/split/preview")
def preview_split(body: SplitIn, session: SessionDep, p: Principal = Depends(staff)) -> dict[str, Any]:
    """What handing some of a route's remaining stops (``order_ids``, or the tail from
    ``from_position``) to another route or to a driver on shift without one
    (``to_shift_id``) would do: feasibility with reasons, the delta and both routes as
    they would be. Works on live routes and on a draft plan's. Nothing is stored."""
    from .reshape import reshape

    return reshape(session, p, "split", body.model_dump(), apply=False)


@router.post("/routes/split")
def apply_split(body: SplitIn, session: SessionDep, p: Principal = Depends(staff)) -> dict[str, Any]:
    """Split a route; 409 when infeasible unless ``force``. Both drivers' phones are told."""
    from .reshape import reshape

    out = reshape(session, p, "split", body.model_dump(), apply=True)
    session.commit()
    return out


@router.post("/routes/merge/preview")
def preview_merge(body: MergeIn, session: SessionDep, p: Principal = Depends(staff)) -> dict[str, Any]:
    """What ``route_id`` taking all of ``from_route_id``'s remaining stops would do."""
    from .reshape import reshape

    return reshape(session, p, "merge", body.model_dump(), apply=False)


@router.post("/routes/merge")
def apply_merge(body: MergeIn, session: SessionDep, p: Principal = Depends(staff)) -> dict[str, Any]:
    """Merge two routes; 409 when infeasible unless ``force``."""
    from .reshape import reshape

    out = reshape(session, p, "merge", body.model_dump(), apply=True)
    session.commit()
    return out


@router.get("/dispatch/free-shifts")
def free_shifts(session: SessionDep, p: Principal = Depends(staff),
                date: Annotated[ServiceDate | None, Query()] = None,
                plan_id: Annotated[Id | None, Query(description="a draft plan: drivers with no route in it")] = None,
                ) -> dict[str, Any]:
    """Drivers on shift (and available) that day with no live route yet (or none in the
    draft ``plan_id``): where a split can go."""
    from .alert_endpoints import _today
    from .reshape import shifts_free

    if plan_id is not None:
        from .models import Plan

        plan = get_in_org(session, Plan, plan_id, p.organization_id, "plan")
        date = plan.date
    return {"shifts": shifts_free(session, p.organization_id, date or _today(session, p.organization_id), plan_id)}


@router.post("/orders/{order_id}/priority")
def set_priority(order_id: Id, body: PriorityIn, session: SessionDep, p: Principal = Depends(staff)
                 ) -> dict[str, Any]:
    """Change an order's priority (pending, assigned or out for delivery): the engine
    serves higher priorities first when not every order fits; kept in the order's
    history and the audit log, and shown on the consoles at once."""
    from ..orders import repository
    from ..orders.service import set_priority as change

    order = repository.get_order(session, p, order_id, for_update=True)
    change(session, p, order, body.priority, body.reason)
    session.commit()
    return {"id": order.id, "priority": order.priority, "status": order.status}


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


# --- proposals ------------------------------------------------------------------


@router.get("/proposals")
def list_proposals(
    session: SessionDep, p: Principal = Depends(staff),
    status: Annotated[Literal["open", "applied", "rejected"] | None, Query()] = None,
    date: Annotated[ServiceDate | None, Query()] = None,
) -> dict[str, Any]:
    """Proposed changes to the live routes, newest first (``?status=open`` for the ones
    waiting for a decision)."""
    from sqlalchemy import select

    from .models import Proposal
    from .proposals import to_json

    q = select(Proposal).where(Proposal.organization_id == p.organization_id)
    if status is not None:
        q = q.where(Proposal.status == status)
    if date is not None:
        q = q.where(Proposal.date == date)
    rows = session.scalars(q.order_by(Proposal.created_at.desc(), Proposal.id.desc()).limit(200))
    return {"proposals": [to_json(x) for x in rows]}


def _proposal(session: Session, proposal_id: str, p: Principal):  # type: ignore[no-untyped-def]
    from .models import Proposal

    prop = session.get(Proposal, proposal_id, with_for_update=True)
    if prop is None or prop.organization_id != p.organization_id:
        from ..errors import NotFound

        raise NotFound("proposal not found")
    return prop


@router.post("/proposals/{proposal_id}/apply")
def apply_proposal(proposal_id: Id, session: SessionDep, p: Principal = Depends(staff)) -> dict[str, Any]:
    """Apply a proposal; 409 when it is no longer open or a route it changes has changed since."""
    from . import proposals

    out = proposals.to_json(proposals.apply(session, p, _proposal(session, proposal_id, p)))
    session.commit()
    return out


@router.post("/proposals/{proposal_id}/reject")
def reject_proposal(proposal_id: Id, session: SessionDep, p: Principal = Depends(staff)) -> dict[str, Any]:
    from . import proposals

    out = proposals.to_json(proposals.reject(session, p, _proposal(session, proposal_id, p)))
    session.commit()
    return out


@router.post("/routes/{route_id}/unavailable")
def route_unavailable(route_id: Id, session: SessionDep, p: Principal = Depends(staff)) -> dict[str, Any]:
    """The route's driver cannot go on (breakdown, illness): the shift is marked
    unavailable and a proposal spreads the remaining stops over the other routes."""
    from ..auth.service import record_audit
    from ..errors import Conflict
    from ..fleet.models import Shift
    from . import proposals

    route = get_in_org(session, Route, route_id, p.organization_id, "route")
    if not route.published or route.status == "finished":
        raise Conflict("only a live route can be redistributed", field="route_id")
    shift = session.get(Shift, route.shift_id) if route.shift_id else None
    if shift is not None and shift.available:
        shift.available = False
        record_audit(session, p, "shift.unavailable", "shift", shift.id, {"available": True}, {"available": False})
    prop = proposals.redistribute(session, route)
    session.commit()
    return {"proposal": proposals.to_json(prop) if prop is not None else None}


class PolicyIn(Schema):
    auto_apply_insertions: bool | None = None
    allow_next_stop: bool | None = None
    slot_template: dict[str, list[list[str]]] | None = Field(
        default=None, description='weekday (0 = Monday) -> [["HH:MM","HH:MM"], ...]; {} = the default template')


def _policy_json(pol: Any) -> dict[str, Any]:
    return {"auto_apply_insertions": pol.auto_apply_insertions, "allow_next_stop": pol.allow_next_stop,
            "slot_template": pol.slot_template or {}}


@router.get("/dispatch/policy")
def get_policy(session: SessionDep, p: Principal = Depends(staff)) -> dict[str, Any]:
    """What re-optimization may do on its own, and the delivery slot template."""
    from .proposals import policy_for

    return _policy_json(policy_for(session, p.organization_id))


@router.patch("/dispatch/policy")
def set_policy(body: PolicyIn, session: SessionDep, p: Principal = Depends(allow("admin"))) -> dict[str, Any]:
    from ..auth.service import record_audit
    from ..errors import Invalid
    from ..kit.time import utcnow
    from ..routing.slots import template_from
    from .models import DispatchPolicy

    pol = session.get(DispatchPolicy, p.organization_id)
    if pol is None:
        pol = DispatchPolicy(organization_id=p.organization_id, auto_apply_insertions=False, allow_next_stop=False,
                             slot_template={})
        session.add(pol)
    before = _policy_json(pol)
    if body.slot_template is not None:
        try:
            template_from(body.slot_template)
        except (ValueError, TypeError) as e:
            raise Invalid(f"slot_template: {e}", field="slot_template") from None
        pol.slot_template = body.slot_template
    if body.auto_apply_insertions is not None:
        pol.auto_apply_insertions = body.auto_apply_insertions
    if body.allow_next_stop is not None:
        pol.allow_next_stop = body.allow_next_stop
    pol.updated_at = utcnow()
    session.flush()
    record_audit(session, p, "dispatch.policy", "organization", p.organization_id, before, _policy_json(pol))
    out = _policy_json(pol)
    session.commit()
    return out
