"""Tracking over HTTP: positions in (driver app, OsmAnd / Traccar Client, OwnTracks
HTTP mode), devices, the live view and the ingest counters.

Answers to devices: a fix the filter drops is still a 200 (with its reason in
``rejected``) -- OsmAnd and Traccar Client retry anything else forever. Unreadable
input is 400/422, an unknown credential 401, a flood 429, an oversized body 413,
all in the one error shape and all counted (GET /tracking/stats).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.access import Principal, allow, public, rate_limit_store
from ..errors import DomainError, Forbidden, Unauthorized
from ..kit.ratelimit import RateLimited, RequestLimiter
from ..kit.schema import Id
from ..kit.time import as_utc
from ..kit.web import get_session
from . import pipeline, service, stats
from .batcher import IngestBatcher
from .config import TrackingSettings, get_tracking_settings
from .decoders import Fix, Malformed, decode_osmand, decode_owntracks, osmand_device_id
from .models import Device
from .schemas import DeviceCreate, DeviceCreated, DeviceOut, IngestOut, LiveDriver, PositionsIn, StatsOut

router = APIRouter(tags=["tracking"])
SessionDep = Annotated[Session, Depends(get_session)]
staff = allow("admin", "dispatcher")


class TooLarge(DomainError):
    status = 413
    code = "too_large"


def tracking_settings(request: Request) -> TrackingSettings:
    cfg = getattr(request.app.state, "tracking_settings", None)
    return cfg if cfg is not None else get_tracking_settings()


def _counters(request: Request) -> stats.Counters:
    return stats.counters_for(request.app.state.db)


def _refuse(request: Request, source: str, reason: str, exc: DomainError, org: str | None = None) -> DomainError:
    _counters(request).add(org, source, reason)
    return exc


def _limit(request: Request, key: str, source: str, org: str) -> None:
    """Flood control per device (or driver login): 429 + Retry-After."""
    state = request.app.state
    lim: RequestLimiter | None = getattr(state, "tracking_limiter", None)
    if lim is None:
        cfg = tracking_settings(request)
        # each device syncs with the shared store at most every tenth of the window:
        # a device pinging every second must not cost a store write per ping
        lim = state.tracking_limiter = RequestLimiter(
            rate_limit_store(request), cfg.device_requests_per_window, cfg.device_window_s,
            max(state.settings.rate_limit_sync_s, cfg.device_window_s / 10))
    try:
        lim.hit(key, lim.needs_sync(key))
    except RateLimited as e:
        raise _refuse(request, source, "rate_limited", e, org) from None


def _check_length(request: Request, source: str) -> None:
    cl = request.headers.get("content-length", "")
    if cl.isdigit() and int(cl) > tracking_settings(request).max_body_bytes:
        raise _refuse(request, source, "too_large", TooLarge(
            f"request body is larger than {tracking_settings(request).max_body_bytes} bytes"))


async def _body(request: Request, source: str) -> bytes:
    """The body, refused once it grows past the limit (also without a Content-Length)."""
    _check_length(request, source)
    limit = tracking_settings(request).max_body_bytes
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _refuse(request, source, "too_large", TooLarge(f"request body is larger than {limit} bytes"))
        chunks.append(chunk)
    return b"".join(chunks)


def _batcher(request: Request) -> IngestBatcher:
    state = request.app.state
    b: IngestBatcher | None = getattr(state, "ingest_batcher", None)
    if b is None:
        b = state.ingest_batcher = IngestBatcher(state.db, _counters(request))
    return b


def _run(request: Request, items: list[tuple[pipeline.Sender, Fix]]) -> pipeline.Outcome:
    """Through the process's group commit (one transaction with whatever other
    requests are waiting); answers after the commit, broadcasts follow it."""
    return _batcher(request).run(items, tracking_settings(request))


def _answer(out: pipeline.Outcome) -> dict[str, Any]:
    return {"accepted": out.accepted,
            "rejected": [{"index": i, "reason": r} for i, r in enumerate(out.reasons) if r is not None]}


# -- the driver app ----------------------------------------------------------------------

def _length_of_positions(request: Request) -> None:
    _check_length(request, "app")


@router.post("/tracking/positions", response_model=IngestOut, dependencies=[Depends(_length_of_positions)])
def post_positions(body: PositionsIn, request: Request, p: Principal = Depends(allow("driver"))) -> dict[str, Any]:
    """The driver app's positions (a batch; speeds in m/s). Each fix is accepted or
    rejected with a reason: out_of_range, zero_coordinates, inaccurate, too_old,
    future, duplicate, impossible_jump."""
    if p.driver_id is None:
        raise _refuse(request, "app", "not_a_driver",
                      Forbidden("this login is not bound to a driver", code="not_a_driver"), p.organization_id)
    _limit(request, f"trk:drv:{p.driver_id}", "app", p.organization_id)
    sender = pipeline.Sender(p.organization_id, p.driver_id, None, "app")
    items = []
    for i, pos in enumerate(body.positions):
        items.append((sender, Fix(lat=pos.lat, lon=pos.lon, at=as_utc(pos.at), source="app", accuracy=pos.accuracy,
                                  speed_mps=pos.speed, bearing=pos.bearing, altitude=pos.altitude,
                                  battery=pos.battery, index=i)))
    return _answer(_run(request, items))


# -- OsmAnd / Traccar Client -------------------------------------------------------------

def _osmand_fix(request: Request, params: dict[str, str]) -> dict[str, Any]:
    token = osmand_device_id(params)
    if not token:
        raise _refuse(request, "osmand", "malformed", DomainError("the id parameter (device token) is required",
                                                                 field="id", code="malformed"))
    with request.app.state.db.read_sessions() as s:
        dev = service.device_by_token(s, token)
    if dev is None:
        raise _refuse(request, "osmand", "unknown_device", Unauthorized("unknown or revoked device", field="id",
                                                                       code="unknown_device"))
    _limit(request, f"trk:dev:{dev.id}", "osmand", dev.organization_id)
    try:
        fix = decode_osmand(params, pipeline.now())
    except Malformed as e:
        raise _refuse(request, "osmand", e.reason, DomainError(e.message, field=e.field, code=e.reason),
                      dev.organization_id) from None
    return _answer(_run(request, [(dev.sender("osmand"), fix)]))


@router.get("/tracking/osmand", response_model=IngestOut, dependencies=[Depends(public)], operation_id="osmand_get")
@router.post("/tracking/osmand", response_model=IngestOut, dependencies=[Depends(public)], operation_id="osmand_post")
async def osmand(
    request: Request,
    id: Annotated[str | None, Query(max_length=200, description="the device token")] = None,
    lat: Annotated[str | None, Query(max_length=40)] = None,
    lon: Annotated[str | None, Query(max_length=40)] = None,
    timestamp: Annotated[str | None, Query(max_length=40, description="Unix s or ms, or ISO 8601")] = None,
    speed: Annotated[str | None, Query(max_length=40, description="knots")] = None,
    bearing: Annotated[str | None, Query(max_length=40)] = None,
    altitude: Annotated[str | None, Query(max_length=40)] = None,
    accuracy: Annotated[str | None, Query(max_length=40)] = None,
    batt: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    """OsmAnd / Traccar Client (OsmAnd protocol): the parameters in the query, or in a
    form body when the query is empty. ``id`` is the device token from POST /devices."""
    params = dict(request.query_params)
    if not params and request.method == "POST":
        raw = await _body(request, "osmand")
        try:
            params = dict(parse_qsl(raw.decode("ascii"), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError):
            raise _refuse(request, "osmand", "malformed", DomainError("unreadable form body",
                                                                     code="malformed")) from None
    return await run_in_threadpool(_osmand_fix, request, params)


# -- OwnTracks, HTTP mode ----------------------------------------------------------------

async def device_basic(request: Request) -> service.DeviceRef:
    """Dependency: a device credential as HTTP Basic auth (any user name; the device
    token as the password), as OwnTracks' HTTP mode sends it."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        raise Forbidden("this endpoint takes a device credential (HTTP Basic), not a user login")
    if scheme.lower() != "basic" or not value:
        raise _refuse(request, "owntracks", "unknown_device", Unauthorized("device credential required"))
    try:
        _, _, token = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _refuse(request, "owntracks", "unknown_device", Unauthorized("unreadable Basic credential")) from None

    def lookup() -> service.DeviceRef | None:
        with request.app.state.db.read_sessions() as s:
            return service.device_by_token(s, token) if token else None

    dev = await run_in_threadpool(lookup)
    if dev is None:
        raise _refuse(request, "owntracks", "unknown_device", Unauthorized("unknown or revoked device"))
    return dev


device_basic.__roles__ = ("device",)  # type: ignore[attr-defined]


@router.post("/tracking/owntracks", response_model=list[dict[str, Any]])
async def owntracks_http(request: Request, dev: service.DeviceRef = Depends(device_basic)) -> list[dict[str, Any]]:
    """OwnTracks in HTTP mode: one JSON message per request (Basic auth: the device
    token as password). Answers ``[]`` (no cards or commands)."""
    raw = await _body(request, "owntracks")
    org = dev.organization_id
    try:
        payload = orjson.loads(raw)
        fix = decode_owntracks(payload)
    except orjson.JSONDecodeError:
        raise _refuse(request, "owntracks", "malformed", DomainError("the body is not JSON", code="malformed"),
                      org) from None
    except Malformed as e:
        raise _refuse(request, "owntracks", e.reason, DomainError(e.message, field=e.field, code=e.reason),
                      org) from None
    if fix is None:
        _counters(request).add(org, "owntracks", "ignored_type")
        return []
    await run_in_threadpool(_limit, request, f"trk:dev:{dev.id}", "owntracks", org)
    await run_in_threadpool(_run, request, [(dev.sender("owntracks"), fix)])
    return []


# -- devices -------------------------------------------------------------------------------

def _setup(request: Request, dev: Device, token: str) -> dict[str, str]:
    base = str(request.base_url).rstrip("/")
    if dev.kind == "osmand":
        return {"url": f"{base}/tracking/osmand", "device_identifier": token,
                "note": "OsmAnd / Traccar Client: server URL and this device identifier"}
    if dev.kind == "owntracks":
        return {"mqtt_topic": dev.topic or "", "http_url": f"{base}/tracking/owntracks", "http_password": token,
                "note": "MQTT: the broker's ACL must let only this phone publish to its topic; "
                        "HTTP mode: any user name, this token as password"}
    return {"note": "the driver app reports with the driver's own login"}


@router.post("/devices", response_model=DeviceCreated, status_code=201)
def create_device(body: DeviceCreate, request: Request, session: SessionDep, p: Principal = Depends(staff)) -> Any:
    """Bind a device to a driver. The credential is in the answer, this once only."""
    dev, token = service.create_device(session, p, driver_id=body.driver_id, kind=body.kind, name=body.name,
                                       owntracks_user=body.owntracks_user, owntracks_device=body.owntracks_device)
    session.commit()
    return {**DeviceOut.model_validate(dev).model_dump(), "token": token, "setup": _setup(request, dev, token)}


@router.get("/devices", response_model=list[DeviceOut])
def list_devices(session: SessionDep, p: Principal = Depends(staff),
                 driver_id: Annotated[Id | None, Query()] = None) -> list[Device]:
    q = select(Device).where(Device.organization_id == p.organization_id)
    if driver_id is not None:
        q = q.where(Device.driver_id == driver_id)
    return list(session.scalars(q.order_by(Device.id)))


@router.delete("/devices/{device_id}", status_code=204)
def delete_device(device_id: Id, session: SessionDep, p: Principal = Depends(staff)) -> Response:
    """Revoke a device's credential (repeating it is harmless)."""
    service.revoke_device(session, p, device_id)
    session.commit()
    return Response(status_code=204)


# -- live view and counters --------------------------------------------------------------

@router.get("/tracking/live", response_model=list[LiveDriver])
def tracking_live(request: Request, session: SessionDep, p: Principal = Depends(staff)) -> list[dict[str, Any]]:
    """Every active driver's latest fix and state (driving, at_stop, stopped, or
    offline when the last fix is older than the setting), route and next stop."""
    return service.live_view(session, p.organization_id, tracking_settings(request), pipeline.now())


@router.get("/tracking/stats", response_model=StatsOut)
def tracking_stats(request: Request, session: SessionDep, p: Principal = Depends(staff)) -> dict[str, Any]:
    """Fixes accepted and rejected (by reason and by source) for this organization,
    plus rejections of senders never identified (unknown devices, wrong topics)."""
    _counters(request).flush()
    return stats.read(session, p.organization_id)
