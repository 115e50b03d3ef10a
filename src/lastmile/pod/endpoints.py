"""HTTP: the driver API (``/driver/...``), proof of delivery (``/pod/{order_id}``
JSON, page, PDF), POD rules, and the depot's return manifest."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date as date_type
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi import Path as Path_
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.access import SESSION_COOKIE, Principal, _bearer, allow, public
from ..auth.models import Shipper
from ..config import Settings
from ..depots.models import Depot
from ..dispatch import live
from ..dispatch.models import Plan, Route
from ..errors import NotFound
from ..fleet.models import Driver
from ..kit.repo import get_in_org
from ..kit.schema import Id, ServiceDate
from ..kit.time import utcnow
from ..kit.web import get_app_settings, get_session
from ..orders.models import Order
from . import actions, files, pages, service
from .models import PodFile, PodRecord, PodRules, ReturnParcel
from .rules import parcel_codes, rules_for
from .schemas import ActionBatch, RulesIn

@asynccontextmanager
async def _check_storage(app: Any) -> AsyncIterator[None]:
    """Start-up: a misconfigured file store (S3 bucket missing, credentials refused)
    stops the server with a sentence saying what is wrong."""
    settings = getattr(app.state, "settings", None)
    if settings is not None:
        await run_in_threadpool(lambda: files.storage_for(settings).check())
    yield


router = APIRouter(tags=["driver app and proof of delivery"], lifespan=_check_storage)
SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
driver_only = allow("driver")
staff = allow("admin", "dispatcher")
staff_or_shipper = allow("admin", "dispatcher", "shipper")


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt is not None else None


@router.get("/driver/today")
def driver_today(
    session: SessionDep, settings: SettingsDep, p: Principal = Depends(driver_only),
    date: Annotated[ServiceDate | None, Query(description="the day (default: today at each route's depot)")] = None,
) -> dict[str, Any]:
    """The driver's published routes of the day, each stop with its POD rules and
    parcel codes (what the app caches for offline work)."""
    driver = session.get(Driver, p.driver_id) if p.driver_id else None
    if driver is None:
        raise NotFound("this user has no driver profile")
    now = utcnow()
    rows = session.execute(
        select(Route, Plan.date, Depot.timezone).join(Plan, Plan.id == Route.plan_id)
        .join(Depot, Depot.id == Route.depot_id)
        .where(Route.driver_id == driver.id, Route.published.is_(True), Route.organization_id == p.organization_id)
        .order_by(Route.depart_at, Route.id)
    ).all()
    routes = []
    for route, day, zone in rows:
        if day != (date or now.astimezone(ZoneInfo(zone)).date()):
            continue
        view = live.route_view(session, route)
        orders = {o.id: o for o in session.scalars(select(Order).where(Order.id.in_([s["order_id"] for s in
                                                                                   view["stops"]])))}
        for stop in view["stops"]:
            order = orders[stop["order_id"]]
            stop["pod_rules"] = rules_for(session, settings, order).as_json()
            stop["parcels_codes"] = parcel_codes(order)
        view["date"] = day.isoformat()
        view["breaks"] = service.breaks_of(session, route.id)
        view["on_break"] = next((b for b in view["breaks"] if b["ended_at"] is None), None)
        routes.append(view)
    return {"driver": {"id": driver.id, "name": driver.name}, "server_time": _iso(now), "routes": routes}


@router.post("/driver/actions")
def driver_actions(
    body: ActionBatch, request: Request, session: SessionDep, settings: SettingsDep,
    p: Principal = Depends(driver_only),
) -> dict[str, Any]:
    """Apply a batch of actions queued by the driver app. Each is applied once by its
    client id (a replay answers ``duplicate`` with the first result); a refused action
    answers ``rejected`` with the error and the rest of the batch still applies."""
    results = actions.apply_batch(session, settings, files.storage_for(settings), p, body.actions)
    session.commit()
    return {"results": results}


UNSUPPORTED = {415: {"description": "Not a JPEG, PNG or WebP image (checked by its bytes)",
                     "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}


@router.post("/driver/files", status_code=201, responses=UNSUPPORTED)
def driver_file(
    file: Annotated[UploadFile, File(description="a photo or signature: JPEG, PNG or WebP, at most 8 MB")],
    session: SessionDep, settings: SettingsDep, p: Principal = Depends(driver_only),
) -> dict[str, Any]:
    """Upload a photo or signature before the action that names it; stored under its
    SHA-256 (uploading the same bytes again is harmless)."""
    data = file.file.read(settings.pod_max_file_bytes + 1)
    content_type = files.check_image(data, settings.pod_max_file_bytes)
    sha = files.sha256_hex(data)
    files.storage_for(settings).put(sha, data, content_type)
    if session.scalar(select(PodFile.id).where(PodFile.organization_id == p.organization_id,
                                               PodFile.sha256 == sha)) is None:
        session.add(PodFile(organization_id=p.organization_id, sha256=sha, size=len(data),
                            content_type=content_type, uploaded_by=p.actor))
        session.commit()
    return {"sha256": sha, "size": len(data), "content_type": content_type}


# --- proof of delivery: staff, the order's shipper, or the customer's tracking link

def _order_for(session: Session, p: Principal, order_id: str) -> Order:
    order = get_in_org(session, Order, order_id, p.organization_id, "order")
    if p.role == "shipper" and order.shipper_id != p.shipper_id:
        raise NotFound("order not found")
    return order


def _token_order(request: Request, settings: Settings, order_id: str, token: str) -> Order:
    from ..orders.service import order_for_tracking_token

    with request.app.state.db.read_sessions() as session:
        order = order_for_tracking_token(session, settings, token)
        if order.id != order_id:
            raise NotFound("order not found")
        return order


async def pod_viewer(request: Request, order_id: Id, settings: SettingsDep,
                     t: Annotated[str | None, Query(max_length=100, description="the customer's tracking token")] = None
                     ) -> Principal | None:
    """Staff or the order's shipper; or, with no credentials, the customer whose
    tracking link (``?t=<token>``) is for this order."""
    if t and _bearer(request) is None and SESSION_COOKIE not in request.cookies:
        await public(request)
        await run_in_threadpool(_token_order, request, settings, order_id, t)
        return None
    return await staff_or_shipper(request, settings)


pod_viewer.__roles__ = ("admin", "dispatcher", "shipper")  # type: ignore[attr-defined]


def _load(session: Session, p: Principal | None, order_id: str) -> tuple[Order, list[PodRecord]]:
    order = _order_for(session, p, order_id) if p is not None else session.get(Order, order_id)
    if order is None:
        raise NotFound("order not found")
    records = list(session.scalars(select(PodRecord).where(PodRecord.order_id == order.id)
                                   .order_by(PodRecord.server_time, PodRecord.seq)))
    return order, records


def record_json(rec: PodRecord) -> dict[str, Any]:
    return {"id": rec.id, "route_id": rec.route_id, "seq": rec.seq, "kind": rec.kind, "order_id": rec.order_id,
            "stop_id": rec.stop_id, "server_time": _iso(rec.server_time), "record_hash": rec.record_hash,
            "prev_hash": rec.prev_hash, "payload": json.loads(rec.payload)}


@router.get("/pod/{order_id}")
def pod_json(order_id: Id, session: SessionDep, p: Principal = Depends(staff_or_shipper)) -> dict[str, Any]:
    """Every POD record of the order (failed attempts, delivery, pickup), with the
    hashes that chain it into its route."""
    order, records = _load(session, p, order_id)
    return {"order_id": order.id, "reference": order.reference, "status": order.status,
            "records": [record_json(r) for r in records]}


@router.get("/pod/{order_id}/page", response_class=HTMLResponse)
def pod_page(order_id: Id, session: SessionDep, settings: SettingsDep,
             viewer: Principal | None = Depends(pod_viewer)) -> HTMLResponse:
    """The proof of delivery as a page (for a dispatcher to send a disputing customer)."""
    order, records = _load(session, viewer, order_id)
    depot = session.get(Depot, order.depot_id)
    html = pages.render(order, records, files.storage_for(settings), depot.timezone if depot else "UTC")
    # self-contained: inline images and styles, no scripts, nothing fetched
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
    return HTMLResponse(html, headers={"Cache-Control": "no-store", "Content-Security-Policy": csp})


FILE_RESPONSE = {200: {"description": "the photo or signature", "content": {
    "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
    "image/png": {"schema": {"type": "string", "format": "binary"}},
    "image/webp": {"schema": {"type": "string", "format": "binary"}}}},
    307: {"description": "a time-limited URL of the file in the object store (LASTMILE_STORAGE_PRESIGN_S)"}}


@router.get("/pod/{order_id}/files/{sha256}", response_class=Response, responses=FILE_RESPONSE)
def pod_file(order_id: Id, sha256: Annotated[str, Path_(pattern=r"^[0-9a-f]{64}$", description="the file's sha256")],
             session: SessionDep, settings: SettingsDep,
             viewer: Principal | None = Depends(pod_viewer)) -> Response:
    """One photo or signature of the order's proof of delivery, for whoever may see
    that proof (staff, the order's shipper, the customer's tracking link): a file of
    another order is not found here. Streamed by the server, or a redirect to a
    short-lived presigned URL when the store is S3 and LASTMILE_STORAGE_PRESIGN_S > 0."""
    _, records = _load(session, viewer, order_id)
    entry = next((f for r in records for f in json.loads(r.payload).get("files", []) if f.get("sha256") == sha256),
                 None)
    if entry is None:
        raise NotFound("file not found")
    content_type = entry.get("content_type") or "application/octet-stream"
    storage = files.storage_for(settings)
    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "default-src 'none'; sandbox"}
    if settings.storage_presign_s > 0:
        url = storage.url(sha256, content_type, settings.storage_presign_s)
        if url:
            return RedirectResponse(url, status_code=307, headers={"Cache-Control": "private, no-store"})
    data = storage.get(sha256)
    if data is None:
        raise NotFound("the file is missing from the store", code="file_missing")
    return Response(data, media_type=content_type, headers=headers)


PDF_RESPONSE = {200: {"description": "PDF", "content": {"application/pdf": {"schema": {"type": "string",
                                                                                       "format": "binary"}}}}}


@router.get("/pod/{order_id}/pdf", response_class=Response, responses=PDF_RESPONSE)
def pod_pdf(order_id: Id, session: SessionDep, settings: SettingsDep,
            viewer: Principal | None = Depends(pod_viewer)) -> Response:
    """The proof of delivery as a PDF, photo and signature embedded."""
    order, records = _load(session, viewer, order_id)
    depot = session.get(Depot, order.depot_id)
    from . import pdf  # fpdf2 is slow to import: only when a PDF is asked for

    data = pdf.render(order, records, files.storage_for(settings), depot.timezone if depot else "UTC")
    name = f"pod-{order.reference or order.id}.pdf".replace('"', "")
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "no-store"})


# --- POD rules

def _rules_json(row: PodRules | None) -> dict[str, Any]:
    keys = ("signature", "photo", "scan_all", "exact_cod", "reattempt")
    return {k: (getattr(row, k) if row is not None else None) for k in keys}


def _put_rules(session: Session, org: str, body: RulesIn, **where: str) -> PodRules:
    (col, value), = where.items()
    row = session.scalar(select(PodRules).where(getattr(PodRules, col) == value))
    if row is None:
        row = PodRules(organization_id=org, **where)
        session.add(row)
    for k, v in body.model_dump(exclude_unset=True).items():  # null: inherit; absent: unchanged
        setattr(row, k, v)
    row.updated_at = utcnow()
    return row


def _shipper(session: Session, p: Principal, shipper_id: str) -> Shipper:
    shipper = get_in_org(session, Shipper, shipper_id, p.organization_id, "shipper")
    if p.role == "shipper" and p.shipper_id != shipper_id:
        raise NotFound("shipper not found")
    return shipper


@router.get("/shippers/{shipper_id}/pod-rules")
def get_shipper_rules(shipper_id: Id, session: SessionDep, p: Principal = Depends(staff_or_shipper)
                      ) -> dict[str, Any]:
    """POD rules for this shipper's orders (null: the platform default) and reattempt policy."""
    _shipper(session, p, shipper_id)
    return _rules_json(session.scalar(select(PodRules).where(PodRules.shipper_id == shipper_id)))


@router.patch("/shippers/{shipper_id}/pod-rules")
def put_shipper_rules(shipper_id: Id, body: RulesIn, session: SessionDep, p: Principal = Depends(staff)
                      ) -> dict[str, Any]:
    _shipper(session, p, shipper_id)
    row = _put_rules(session, p.organization_id, body, shipper_id=shipper_id)
    session.commit()
    return _rules_json(row)


@router.get("/orders/{order_id}/pod-rules")
def get_order_rules(order_id: Id, session: SessionDep, settings: SettingsDep,
                    p: Principal = Depends(staff_or_shipper)) -> dict[str, Any]:
    """This order's own rules (null: inherit) and the rules in effect."""
    order = _order_for(session, p, order_id)
    effective = rules_for(session, settings, order)
    return {**_rules_json(session.scalar(select(PodRules).where(PodRules.order_id == order_id))),
            "effective": {**effective.as_json(), "reattempt": effective.reattempt}}


@router.patch("/orders/{order_id}/pod-rules")
def put_order_rules(order_id: Id, body: RulesIn, session: SessionDep, settings: SettingsDep,
                    p: Principal = Depends(staff_or_shipper)) -> dict[str, Any]:
    order = _order_for(session, p, order_id)
    row = _put_rules(session, p.organization_id, body, order_id=order.id)
    session.commit()
    return _rules_json(row)


# --- returns

@router.get("/depots/{depot_id}/returns")
def return_manifest(
    depot_id: Id, session: SessionDep, settings: SettingsDep, p: Principal = Depends(staff),
    date: Annotated[ServiceDate | None, Query(description="the day (default: today at the depot)")] = None,
) -> dict[str, Any]:
    """Parcels coming back to the depot on a day: pickups (with their condition) and
    undelivered parcels (failed attempts, stops not attempted), scanned in or not;
    ``reattempt`` says what happens to an undelivered one (next_day: re-stage it,
    customer_choice: hold it, return_to_depot: back to the shipper)."""
    depot = get_in_org(session, Depot, depot_id, p.organization_id, "depot")
    day: date_type = date or utcnow().astimezone(ZoneInfo(depot.timezone)).date()
    rows = session.execute(
        select(ReturnParcel, Order.reference, Order.shipper_id, Order.status, Order.kind, Route.driver_id)
        .join(Order, Order.id == ReturnParcel.order_id).join(Route, Route.id == ReturnParcel.route_id)
        .where(ReturnParcel.depot_id == depot.id, ReturnParcel.date == day)
        .order_by(ReturnParcel.route_id, ReturnParcel.created_at, ReturnParcel.code)
    ).all()
    policy: dict[str, str] = {}
    for r, *_ in rows:
        if r.order_id not in policy:
            order = session.get(Order, r.order_id)
            policy[r.order_id] = rules_for(session, settings, order).reattempt if order is not None else ""
    parcels = [{
        "reattempt": policy[r.order_id] if r.source != "pickup" else None, "code": r.code, "order_id": r.order_id, "reference": ref, "shipper_id": shipper_id, "order_status": status,
        "order_kind": kind, "route_id": r.route_id, "driver_id": driver_id, "source": r.source, "reason": r.reason,
        "condition": r.condition or None, "note": r.note, "recorded_at": _iso(r.created_at),
        "scanned_in_at": _iso(r.scanned_in_at), "status": "scanned_in" if r.scanned_in_at else "expected",
    } for r, ref, shipper_id, status, kind, driver_id in rows]
    scanned = sum(1 for x in parcels if x["scanned_in_at"])
    return {"depot_id": depot.id, "date": day.isoformat(), "parcels": parcels,
            "summary": {"parcels": len(parcels), "scanned_in": scanned, "missing": len(parcels) - scanned,
                        "pickups": sum(1 for x in parcels if x["source"] == "pickup")}}
