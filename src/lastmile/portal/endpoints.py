"""The customer's API under ``/t/{token}/…`` (public, by the tracking token in their
link) and the driver's and dispatcher's side of the conversation,
``/orders/{order_id}/messages``."""

from __future__ import annotations

from pathlib import Path as Path_
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from ..auth.access import Principal, allow, client_ip, public, rate_limit_store
from ..config import Settings
from ..errors import NotFound
from ..kit.broadcast import sse
from ..kit.ratelimit import RateLimited
from ..kit.schema import Id
from ..kit.web import get_app_settings, get_session
from ..orders.models import Order
from ..orders.service import order_for_tracking_token
from . import pickup, service
from .schemas import (
    CustomerMessageOut,
    MessageIn,
    OfferedPickupOut,
    PickupChoiceIn,
    PickupPointIn,
    PickupPointOut,
    PickupPointPatch,
    PreferencesIn,
    PreferencesOut,
    RatingIn,
    RatingOut,
    RescheduleIn,
    SlotOut,
    StaffMessageOut,
    TrackingState,
)
from .stream import CustomerFilter

router = APIRouter(tags=["portal"])
SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
Token = Annotated[str, Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$",
                            description="the tracking token from the customer's link")]
talkers = allow("admin", "dispatcher", "driver")
staff = allow("admin", "dispatcher")
# unknown or expired tracking links per client address and window before 429
MISSES_LIMIT = 60
MISSES_WINDOW_S = 600
SSE_RESPONSE = {200: {"description": "Server-Sent Events; each `data:` line is one JSON message",
                      "content": {"text/event-stream": {"schema": {"type": "string"}}}}}


def find_order(request: Request, session: Session, settings: Settings, token: str) -> Order:
    """The order behind a tracking token; unknown and expired tokens are the same 404
    (nothing about the order), and an address that keeps guessing gets 429."""
    try:
        return order_for_tracking_token(session, settings, token)
    except NotFound:
        session.close()  # hand the connection back first: the counter may need SQLite's one writer
        misses, reset_in = rate_limit_store(request).add("portal-miss:" + client_ip(request), 1, MISSES_WINDOW_S)
        if misses > MISSES_LIMIT:
            raise RateLimited("too many unknown tracking links from this address", reset_in) from None
        raise NotFound("this tracking link does not exist or has expired") from None


def _order(request: Request, token: Token, session: SessionDep, settings: SettingsDep) -> Order:
    return find_order(request, session, settings, token)


async def _no_store(response: Response) -> None:
    """A customer's delivery details are never kept by caches or shared devices' history."""
    response.headers["cache-control"] = "no-store"


OrderDep = Annotated[Order, Depends(_order)]
Public = [Depends(public), Depends(_no_store)]


PUSH_WORKER = Path_(__file__).resolve().parent.parent / "web" / "static" / "portal" / "push-sw.js"


@router.get("/t/push-sw.js", response_class=Response, dependencies=[Depends(public)],
            responses={200: {"content": {"text/javascript": {}}}})
def push_worker() -> Response:
    """The tracking page's service worker for web push (scope ``/t/``)."""
    return Response(PUSH_WORKER.read_bytes(), media_type="text/javascript",
                    headers={"service-worker-allowed": "/t/", "cache-control": "no-cache"})


@router.get("/t/{token}/state", response_model=TrackingState, dependencies=Public)
def tracking_state(order: OrderDep, session: SessionDep) -> dict[str, Any]:
    """Status, ETA window, stops before this one, the driver's first name, and the
    driver's position only while the driver is heading to this stop."""
    return service.state(session, order)


@router.get("/t/{token}/stream", responses=SSE_RESPONSE, response_model=None, dependencies=Public)
async def tracking_stream(request: Request, token: Token) -> object:
    """Live changes for the tracking page as Server-Sent Events: the driver's position
    (only while heading to this stop), ETA, stop status, messages, and ``refresh``
    when the page should reload its state."""
    db = request.app.state.db
    settings = request.app.state.settings

    def load() -> tuple[CustomerFilter, dict[str, Any]]:
        with db.read_sessions() as session:
            order = find_order(request, session, settings, token)
            found = service._live_stop(session, order)
            stop, route = found if found is not None else (None, None)
            filt = CustomerFilter(order_id=order.id, stop_id=stop.id if stop else None,
                                  route_id=route.id if route else None, stop_status=stop.status if stop else None,
                                  order_status=order.status)
            return filt, {"type": "state", "state": service.state(session, order)}

    filt, initial = await run_in_threadpool(load)
    return sse(request, filt.topics(), initial=initial, transform=filt)


@router.get("/t/{token}/messages", response_model=list[CustomerMessageOut], dependencies=Public)
def customer_messages(order: OrderDep, session: SessionDep) -> list[dict[str, Any]]:
    """The conversation with the driver (relayed: no phone numbers)."""
    return service.state(session, order)["messages"]


@router.post("/t/{token}/messages", response_model=CustomerMessageOut, status_code=201, dependencies=Public)
def customer_send(body: MessageIn, order: OrderDep, session: SessionDep) -> dict[str, Any]:
    """Write to the driver; the driver's app and the dispatch console see it at once."""
    msg = service.add_message(session, order, service.CUSTOMER, body.body)
    session.commit()
    return service.customer_message(msg, "")


@router.patch("/t/{token}/preferences", response_model=PreferencesOut, dependencies=Public)
def change_preferences(body: PreferencesIn, order: OrderDep, session: SessionDep) -> dict[str, Any]:
    """Delivery instructions, a safe place, contactless delivery (until delivered)."""
    out = service.set_preferences(session, order, body.model_dump(exclude_unset=True))
    session.commit()
    return out


@router.get("/t/{token}/slots", response_model=list[SlotOut], dependencies=Public)
def slots(order: OrderDep, session: SessionDep) -> list[dict[str, Any]]:
    """Slots this order can move to (from tomorrow); ``green`` ones are on the way of
    another delivery."""
    return service.offered_slots(session, order)


@router.post("/t/{token}/reschedule", response_model=TrackingState, dependencies=Public)
def reschedule(body: RescheduleIn, order: OrderDep, session: SessionDep) -> dict[str, Any]:
    """Move a failed or not yet dispatched delivery to an offered slot."""
    service.reschedule(session, order, body.start, body.end)
    session.commit()
    return service.state(session, order)


@router.get("/t/{token}/pickup-points", response_model=list[OfferedPickupOut], dependencies=Public)
def pickup_points_near(order: OrderDep, session: SessionDep) -> list[dict[str, Any]]:
    """Lockers and pickup counters near the customer's door, nearest first, with their
    hours on the delivery day and whether they can still take this parcel."""
    return pickup.offered(session, order)


@router.put("/t/{token}/pickup", response_model=TrackingState, dependencies=Public)
def choose_pickup(body: PickupChoiceIn, order: OrderDep, session: SessionDep) -> dict[str, Any]:
    """Collect the order at a pickup point instead: the order's place and windows become
    the point's (it leaves today's route if the driver is not yet on the way)."""
    pickup.choose(session, order, body.pickup_point_id)
    session.commit()
    return service.state(session, order)


@router.delete("/t/{token}/pickup", response_model=TrackingState, dependencies=Public)
def drop_pickup(order: OrderDep, session: SessionDep) -> dict[str, Any]:
    """Deliver to the door again (the address and windows the order had)."""
    pickup.back_to_door(session, order)
    session.commit()
    return service.state(session, order)


@router.get("/pickup-points", response_model=list[PickupPointOut])
def list_pickup_points(session: SessionDep, p: Principal = Depends(staff)) -> list[dict[str, Any]]:
    """The organization's lockers and pickup counters."""
    return [pickup.point_dict(x) for x in pickup.list_points(session, p.organization_id)]


@router.post("/pickup-points", response_model=PickupPointOut, status_code=201)
def create_pickup_point(body: PickupPointIn, session: SessionDep, p: Principal = Depends(staff)) -> dict[str, Any]:
    """Add a locker or pickup counter (opening hours per weekday, parcels per day)."""
    point = pickup.create_point(session, p, body.model_dump())
    session.commit()
    return pickup.point_dict(point)


@router.patch("/pickup-points/{point_id}", response_model=PickupPointOut)
def change_pickup_point(point_id: Id, body: PickupPointPatch, session: SessionDep,
                        p: Principal = Depends(staff)) -> dict[str, Any]:
    """Change a pickup point; ``active: false`` stops offering it to customers."""
    point = pickup.update_point(session, p, point_id, body.model_dump(exclude_unset=True))
    session.commit()
    return pickup.point_dict(point)


@router.post("/t/{token}/rating", response_model=RatingOut, status_code=201, dependencies=Public)
def rate(body: RatingIn, order: OrderDep, session: SessionDep) -> dict[str, Any]:
    """Rate the delivery 1-5 with a comment, once, after it is completed."""
    r = service.rate(session, order, body.score, body.comment)
    session.commit()
    return {"score": r.score, "comment": r.comment}


@router.get("/orders/{order_id}/messages", response_model=list[StaffMessageOut])
def staff_messages(order_id: Id, session: SessionDep, p: Principal = Depends(talkers)) -> list[dict[str, Any]]:
    """The conversation with the customer; a driver only for orders on their routes."""
    order = service.order_for_staff(session, p, order_id)
    return [service.staff_message(m) for m in service.messages(session, order)]


@router.post("/orders/{order_id}/messages", response_model=StaffMessageOut, status_code=201)
def staff_send(order_id: Id, body: MessageIn, session: SessionDep, p: Principal = Depends(talkers)) -> dict[str, Any]:
    """Write to the customer (their tracking page shows it; no phone number is shared)."""
    order = service.order_for_staff(session, p, order_id)
    msg = service.add_message(session, order, "driver" if p.role == "driver" else "staff", body.body, p.actor)
    session.commit()
    return service.staff_message(msg)
