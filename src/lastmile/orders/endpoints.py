from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

import orjson

from fastapi import APIRouter, Depends, File, Header, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..auth.access import Principal, allow, public
from ..config import Settings
from ..depots.models import Depot
from ..dispatch.models import Route, RouteStop
from ..errors import DomainError, Forbidden, Invalid
from ..kit.ids import new_id
from ..kit.pagination import Page, decode_cursor, encode_cursor
from ..kit.rows import Row
from ..kit.schema import Id, ServiceDate
from ..kit.time import utcnow
from ..kit.web import get_app_settings, get_session
from . import repository, service
from .geocoding import Geocoder, geocoder_for
from .imports import import_csv
from .models import IdempotencyKey, OrderStatusChange
from .schemas import (
    CancelIn,
    ImportReport,
    OrderCreate,
    OrderOut,
    OrderUpdate,
    Status,
    StatusChangeOut,
    StatusEventIn,
    TrackingTokenOut,
    TrackingView,
)

router = APIRouter(tags=["orders"])
tracking_router = APIRouter(tags=["tracking"])
SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
writers = allow("admin", "dispatcher", "shipper")
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$",
           description="Retrying with the same key returns the first result instead of a duplicate."),
]
MAX_CSV_BYTES = 10 * 1024 * 1024


async def get_geocoder(request: Request) -> Geocoder:  # async: no thread-pool hop (it only builds a client)
    geo = getattr(request.app.state, "geocoder", None)
    if geo is None:
        geo = request.app.state.geocoder = geocoder_for(request.app.state.settings)
    return geo


def _json(data: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON-ready data (``order_dict``) encoded by orjson: the order endpoints build
    their answers by hand, and stdlib json was the largest cost left in a page."""
    return Response(orjson.dumps(data), status_code=status_code, headers=headers, media_type="application/json")


def _replay(row: IdempotencyKey, request_hash: str) -> JSONResponse:
    if row.request_hash != request_hash:
        raise Invalid(
            "this Idempotency-Key was already used with a different request body; use a new key",
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    return JSONResponse(row.response, status_code=row.status_code, headers={"Idempotent-Replayed": "true"})


def _seen(session: Session, scope: str, key: str) -> IdempotencyKey | None:
    return session.scalar(select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key))


@router.post("/orders", response_model=OrderOut, status_code=201)
def create_order(
    body: OrderCreate,
    session: SessionDep,
    geocoder: Annotated[Geocoder, Depends(get_geocoder)],
    idempotency_key: IdempotencyKeyHeader = None,
    p: Principal = Depends(writers),
) -> Response:
    """Idempotency without a look-up on the common path: the key's record is written
    with the order (same statement); a key seen before fails that insert on its unique
    constraint, everything rolls back and the first answer is replayed -- also when a
    concurrent request with the same key is still in flight (the insert waits for it).
    A create that fails (4xx) looks for the key too, so a retry answers as the first
    request did whatever changed since. Only when the address must be geocoded is the
    key looked up first, so a retry never calls the geocoder."""
    scope = f"{p.actor}:orders.create"
    request_hash = hashlib.sha256(
        json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()
    ).hexdigest()
    if idempotency_key is not None and body.lat is None:
        seen = _seen(session, scope, idempotency_key)
        if seen is not None:
            return _replay(seen, request_hash)

    def record(view: dict[str, Any]) -> list[Row]:
        return [(IdempotencyKey.__table__, {
            "id": new_id("idk"), "scope": scope, "key": idempotency_key, "request_hash": request_hash,
            "status_code": 201, "response": view, "created_at": utcnow()})]

    try:
        out = service.create_order(session, p, body, geocoder, record if idempotency_key is not None else None)
        session.commit()
    except (IntegrityError, DomainError):
        if idempotency_key is None:
            raise
        session.rollback()
        seen = _seen(session, scope, idempotency_key)
        if seen is None:
            raise
        return _replay(seen, request_hash)
    return _json(out, status_code=201, headers={"Location": f"/orders/{out['id']}"})


@router.get("/orders", response_model=Page[OrderOut])
def list_orders(
    session: SessionDep,
    p: Principal = Depends(allow("admin", "dispatcher", "shipper")),
    date: Annotated[ServiceDate | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
    depot_id: Annotated[Id | None, Query()] = None,
    shipper_id: Annotated[Id | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    """Orders, oldest first; pass ``next_cursor`` back as ``cursor`` for the next page.
    A shipper sees only its own orders."""
    rows = repository.list_orders(
        session, p, day=date, status=status, depot_id=depot_id, shipper_id=shipper_id,
        after=decode_cursor(cursor), limit=limit + 1,
    )
    nxt = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return _json({"items": [service.order_json(r._asdict()) for r in rows[:limit]], "next_cursor": nxt})


@router.get("/orders/{order_id}", response_model=OrderOut)
def get_order(
    order_id: Id, session: SessionDep, p: Principal = Depends(allow("admin", "dispatcher", "shipper", "driver"))
) -> OrderOut:
    """One order. Shippers: their own; drivers: orders on their published routes."""
    return service.to_out(repository.get_order(session, p, order_id))


@router.patch("/orders/{order_id}", response_model=OrderOut)
def update_order(order_id: Id, body: OrderUpdate, session: SessionDep, p: Principal = Depends(writers)) -> OrderOut:
    order = repository.get_order(session, p, order_id, for_update=True)
    service.update_order(session, p, order, body)
    session.commit()
    return service.to_out(order)


@router.post("/orders/{order_id}/cancel", response_model=OrderOut)
def cancel_order(order_id: Id, body: CancelIn, session: SessionDep, p: Principal = Depends(writers)) -> OrderOut:
    order = repository.get_order(session, p, order_id, for_update=True)
    service.transition(session, p, order, "cancelled", body.reason)
    session.commit()
    return service.to_out(order)


@router.post("/orders/{order_id}/events", response_model=OrderOut)
def order_event(
    order_id: Id, body: StatusEventIn, session: SessionDep,
    p: Principal = Depends(allow("admin", "dispatcher", "driver")),
) -> OrderOut:
    """Report progress: out_for_delivery, approaching (once), delivered, failed, returned.
    Drivers may report only on orders of their published routes. ``rescheduled``
    (staff only) puts a failed order back to pending, to be planned again."""
    order = repository.get_order(session, p, order_id, for_update=True)
    if body.type == "rescheduled" and p.role == "driver":
        raise Forbidden("only dispatchers reschedule orders", field="type")
    service.transition(session, p, order, body.type, body.reason)
    session.commit()
    return service.to_out(order)


@router.get("/orders/{order_id}/history", response_model=list[StatusChangeOut])
def order_history(
    order_id: Id, session: SessionDep, p: Principal = Depends(allow("admin", "dispatcher", "shipper", "driver"))
) -> list[OrderStatusChange]:
    order = repository.get_order(session, p, order_id)
    q = select(OrderStatusChange).where(OrderStatusChange.order_id == order.id)
    return list(session.scalars(q.order_by(OrderStatusChange.at, OrderStatusChange.id)))


@router.post("/orders/{order_id}/tracking-token", response_model=TrackingTokenOut, status_code=201)
def create_tracking_token(order_id: Id, session: SessionDep, p: Principal = Depends(writers)) -> TrackingTokenOut:
    """A customer tracking link for this one order (shown once; expires after completion)."""
    order = repository.get_order(session, p, order_id)
    token = service.issue_tracking_token(session, order)
    session.commit()
    return TrackingTokenOut(token=token, path=f"/track/{token}")


@router.post("/orders/import", response_model=ImportReport)
def import_orders(
    session: SessionDep,
    file: Annotated[UploadFile, File(description="CSV, same columns as `lastmile plan`")],
    date: Annotated[ServiceDate, Query()],
    depot_id: Annotated[Id, Query(description="Depot for rows that name none")],
    shipper_id: Annotated[Id | None, Query()] = None,
    p: Principal = Depends(writers),
    geocoder: Geocoder = Depends(get_geocoder),
) -> ImportReport:
    """Bulk import: valid rows are saved, bad rows come back with line and field.
    Saved rows commit together: nothing is half-written."""
    data = file.file.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise Invalid("file is larger than 10 MB", field="file")
    report = import_csv(session, p, data, date, depot_id, shipper_id, geocoder)
    session.commit()
    return report


@tracking_router.get("/track/{token}", response_model=TrackingView, dependencies=[Depends(public)])
def track(
    token: Annotated[str, Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")],
    session: SessionDep,
    settings: SettingsDep,
) -> TrackingView:
    """The customer's view of one order, by the token in their link."""
    order = service.order_for_tracking_token(session, settings, token)
    depot = session.get(Depot, order.depot_id)
    view = TrackingView(
        status=order.status, date=order.date, kind=order.kind, address=order.address,
        timezone=depot.timezone if depot else "America/Chicago", windows=order.windows,  # type: ignore[arg-type]
        instructions=order.instructions, language=order.language,
    )
    row = session.execute(
        select(RouteStop, Route).join(Route, Route.id == RouteStop.route_id)
        .where(RouteStop.order_id == order.id, Route.published.is_(True))
        .order_by(RouteStop.id.desc()).limit(1)
    ).first()
    if row is not None and order.status in ("assigned", "out_for_delivery"):
        stop, route = row
        view.eta_start, view.eta_end = stop.arrival_at, stop.end_at
        view.stops_before = session.scalar(
            select(func.count()).select_from(RouteStop).where(RouteStop.route_id == route.id, RouteStop.seq < stop.seq)
        )
    return view
