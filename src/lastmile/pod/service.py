"""Proof of delivery rules: deliver, fail (and the reattempt policy), pickup, scan-in.
Each writes a chained POD record (chain.py) and moves the stop only through
dispatch/live.py. Services flush; the endpoint commits."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.access import Principal
from ..config import Settings
from ..dispatch import live
from ..dispatch.models import Plan, Route, RouteStop
from ..errors import Conflict, DomainError, Invalid
from ..orders.models import Order
from ..orders.service import reattempt_next_day, transition
from . import chain
from .files import StorageBackend
from .models import DriverBreak, PodFile, ReturnParcel
from .rules import Rules, parcel_codes, rules_for
from .schemas import DeliverData, FailData, PickupData


class PodRuleUnmet(DomainError):
    """The stop cannot be completed yet: the app says why (``field`` names what is missing)."""

    status = 422
    code = "pod_rule"


class ParcelsNotScannedIn(DomainError):
    status = 409
    code = "parcels_not_scanned_in"

    def __init__(self, codes: list[str]) -> None:
        shown = ", ".join(codes[:20]) + (" …" if len(codes) > 20 else "")
        super().__init__(f"{len(codes)} parcel(s) are not scanned in at the depot: {shown}", field="data.scans")
        self.codes = codes

    def body(self) -> dict[str, Any]:
        out = super().body()
        out["error"]["parcels"] = self.codes
        return out


@dataclass
class Ctx:
    """One action being applied: who, where, and its two clocks."""

    session: Session
    settings: Settings
    storage: StorageBackend
    p: Principal
    route: Route
    stop: RouteStop | None
    action_id: str
    server_time: datetime
    device_time: datetime
    skew_s: int
    at: datetime  # when it happened, as recorded on the stop
    position: dict[str, Any] | None
    flags: list[str] = field(default_factory=list)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(a)))


def _where(ctx: Ctx, order: Order | None) -> dict[str, Any]:
    """The tamper-evident context of a record: clocks, GPS fix, distance from the stop."""
    dist = None
    if ctx.position is not None and order is not None:
        dist = round(distance_m(ctx.position["lat"], ctx.position["lon"], order.lat, order.lon))
        if dist > ctx.settings.pod_far_from_stop_m and "far_from_stop" not in ctx.flags:
            ctx.flags.append("far_from_stop")
    return {"action_id": ctx.action_id, "driver_id": ctx.p.driver_id, "actor": ctx.p.actor,
            "device_time": chain.iso(ctx.device_time), "skew_s": ctx.skew_s, "at": chain.iso(ctx.at),
            "position": ctx.position, "distance_m": dist, "flags": list(ctx.flags)}


def _files(ctx: Ctx, named: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """``(sha256, role, field)`` -> file entries; each must have been uploaded first."""
    out = []
    for sha, role, fld in named:
        row = ctx.session.scalar(select(PodFile).where(PodFile.organization_id == ctx.route.organization_id,
                                                       PodFile.sha256 == sha))
        if row is None or not ctx.storage.exists(sha):
            raise Invalid(f"file {sha} has not been uploaded (POST /driver/files first)", field=fld,
                          code="file_not_uploaded")
        out.append({"sha256": sha, "role": role, "size": row.size, "content_type": row.content_type})
    return out


def _order(ctx: Ctx, *, open_stop: bool = True) -> Order:
    """The stop's order, locked; ``open_stop``: the stop must not be done, failed or skipped."""
    assert ctx.stop is not None
    if open_stop and ctx.stop.status in ("done", "failed", "skipped"):
        raise Conflict(f"this stop is already {ctx.stop.status}", field="stop_id")
    order = ctx.session.get(Order, ctx.stop.order_id, with_for_update=True)
    assert order is not None
    return order


def _result(rec: Any, ctx: Ctx, **extra: Any) -> dict[str, Any]:
    return {"pod_id": rec.id, "seq": rec.seq, "record_hash": rec.record_hash, "flags": ctx.flags, **extra}


def check_delivery(rules: Rules, order: Order, d: DeliverData) -> None:
    """Raise PodRuleUnmet naming the first unmet rule."""
    if order.kind == "pickup":
        raise Invalid("this stop is a pickup: record it with a pickup action", field="type", code="wrong_action")
    contactless = rules.contactless or d.contactless
    if contactless:
        if not d.photos:
            raise PodRuleUnmet("contactless delivery needs a photo at the door / entrega sin contacto: "
                               "falta la foto en la puerta", field="data.photos")
    elif rules.signature:
        if d.signature is None:
            raise PodRuleUnmet("a signature is required / se requiere firma", field="data.signature")
        if not d.recipient_name:
            raise PodRuleUnmet("the recipient's name is required with a signature / falta el nombre de quien "
                               "recibe", field="data.recipient_name")
    if rules.photo and not d.photos:
        raise PodRuleUnmet("a photo is required / se requiere foto", field="data.photos")
    codes = parcel_codes(order)
    unknown = [c for c in d.scans if c not in codes]
    if unknown:
        raise PodRuleUnmet(f"{unknown[0]} is not a parcel of this order / no es un paquete de este pedido",
                           field="data.scans")
    if rules.scan_all:
        missing = [c for c in codes if c not in d.scans]
        if missing:
            raise PodRuleUnmet(f"{len(missing)} parcel(s) not scanned / paquetes sin escanear: "
                               + ", ".join(missing[:10]), field="data.scans")
    if order.cod_currency and order.cod_amount:
        if d.cod is None:
            raise PodRuleUnmet(f"collect cash on delivery: {order.cod_amount / 100:.2f} {order.cod_currency} / "
                               "cobrar contra entrega", field="data.cod")
        if rules.exact_cod and (d.cod.currency != order.cod_currency or d.cod.amount != order.cod_amount):
            raise PodRuleUnmet(f"the amount collected must be exactly {order.cod_amount / 100:.2f} "
                               f"{order.cod_currency} / el cobro debe ser exacto", field="data.cod.amount")
        if d.cod.method == "card" and not d.cod.reference:
            raise PodRuleUnmet("a card payment needs the terminal's reference / falta la referencia del pago "
                               "con tarjeta", field="data.cod.reference")
    elif d.cod is not None and d.cod.amount > 0:
        raise PodRuleUnmet("this order has no cash on delivery / este pedido no tiene cobro", field="data.cod")


def deliver(ctx: Ctx, d: DeliverData) -> dict[str, Any]:
    order = _order(ctx)
    rules = rules_for(ctx.session, ctx.settings, order)
    check_delivery(rules, order, d)
    named = ([(d.signature, "signature", "data.signature")] if d.signature else [])
    named += [(sha, "photo", f"data.photos[{i}]") for i, sha in enumerate(d.photos)]
    files = _files(ctx, named)
    assert ctx.stop is not None
    live.mark_stop(ctx.session, ctx.stop, "done", at=ctx.at, actor=ctx.p)
    body = {**_where(ctx, order), "recipient_name": d.recipient_name, "contactless": rules.contactless or d.contactless,
            "scans": d.scans, "cod": d.cod.model_dump() if d.cod else None, "files": files,
            "rules": rules.as_json(), "reference": order.reference}
    rec = chain.append(ctx.session, organization_id=ctx.route.organization_id, route_id=ctx.route.id,
                       kind="delivered", order_id=order.id, stop_id=ctx.stop.id, server_time=ctx.server_time,
                       body=body, actor=ctx.p.actor)
    return _result(rec, ctx)


def _expect_back(ctx: Ctx, order: Order, codes: list[str], source: str, reason: str = "", condition: str = "",
                 note: str = "") -> None:
    plan_date = ctx.session.scalar(select(Plan.date).where(Plan.id == ctx.route.plan_id))
    have = set(ctx.session.scalars(select(ReturnParcel.code).where(ReturnParcel.route_id == ctx.route.id)))
    for code in codes:
        if code in have:
            if source == "pickup":
                raise Conflict(f"parcel {code} is already on this route's return list", field="data.scans")
            continue
        ctx.session.add(ReturnParcel(organization_id=ctx.route.organization_id, depot_id=ctx.route.depot_id,
                                     date=plan_date, route_id=ctx.route.id, order_id=order.id, code=code,
                                     source=source, reason=reason, condition=condition, note=note))
    ctx.session.flush()


def reattempt(ctx: Ctx, order: Order, policy: str, reason: str) -> str:
    """After a failed attempt: next_day makes a new attempt on the next service day
    (``orders.service.reattempt_next_day``: failed -> pending, history and event, its
    windows moved with it); customer_choice leaves it failed until the customer picks a
    new slot (the portal reschedules it); return_to_depot leaves it failed until its
    parcels are scanned in at the depot, then it is returned."""
    if policy == "next_day" and order.status == "failed":
        plan_date = ctx.session.scalar(select(Plan.date).where(Plan.id == ctx.route.plan_id)) or order.date
        reattempt_next_day(ctx.session, ctx.p, order, plan_date, f"failed attempt: {reason}")
    return policy


def fail(ctx: Ctx, d: FailData, *, not_attempted: bool = False) -> dict[str, Any]:
    order = _order(ctx)
    rules = rules_for(ctx.session, ctx.settings, order)
    if not d.photos and d.reason != "unsafe" and not not_attempted:
        raise PodRuleUnmet("a failed attempt needs a photo / un intento fallido necesita foto", field="data.photos")
    files = _files(ctx, [(sha, "photo", f"data.photos[{i}]") for i, sha in enumerate(d.photos)])
    assert ctx.stop is not None
    reason = "not_attempted" if not_attempted else d.reason
    live.mark_stop(ctx.session, ctx.stop, "failed", at=ctx.at, actor=ctx.p, reason=reason)
    policy = "next_day" if not_attempted else rules.reattempt
    if order.kind != "pickup":
        _expect_back(ctx, order, parcel_codes(order), "not_attempted" if not_attempted else "failed", reason)
    reattempt(ctx, order, policy, reason)
    body = {**_where(ctx, order), "reason": reason, "note": d.note, "files": files, "reattempt": policy,
            "reference": order.reference}
    rec = chain.append(ctx.session, organization_id=ctx.route.organization_id, route_id=ctx.route.id, kind="failed",
                       order_id=order.id, stop_id=ctx.stop.id, server_time=ctx.server_time, body=body,
                       actor=ctx.p.actor)
    return _result(rec, ctx, reattempt=policy, order_status=order.status)


def pickup(ctx: Ctx, d: PickupData) -> dict[str, Any]:
    order = _order(ctx, open_stop=False)
    if order.kind == "pickup" and ctx.stop is not None and ctx.stop.status in ("done", "failed", "skipped"):
        raise Conflict(f"this stop is already {ctx.stop.status}", field="stop_id")
    rules = rules_for(ctx.session, ctx.settings, order)
    if len(set(d.scans)) != len(d.scans):
        raise Invalid("the same parcel is scanned twice", field="data.scans")
    if (rules.photo or d.condition == "damaged") and not d.photos:
        raise PodRuleUnmet("a photo of the parcel is required / se requiere foto del paquete", field="data.photos")
    files = _files(ctx, [(sha, "photo", f"data.photos[{i}]") for i, sha in enumerate(d.photos)])
    _expect_back(ctx, order, d.scans, "pickup", condition=d.condition, note=d.note)
    assert ctx.stop is not None
    if order.kind == "pickup":
        live.mark_stop(ctx.session, ctx.stop, "done", at=ctx.at, actor=ctx.p)
    body = {**_where(ctx, order), "scans": d.scans, "condition": d.condition, "note": d.note, "files": files,
            "reference": order.reference}
    rec = chain.append(ctx.session, organization_id=ctx.route.organization_id, route_id=ctx.route.id, kind="pickup",
                       order_id=order.id, stop_id=ctx.stop.id, server_time=ctx.server_time, body=body,
                       actor=ctx.p.actor)
    return _result(rec, ctx)


def _parcels_on_van(ctx: Ctx) -> dict[str, Order]:
    """Parcel code -> order, for the delivery stops of the route not done or failed yet."""
    orders = ctx.session.scalars(select(Order).join(RouteStop, RouteStop.order_id == Order.id).where(
        RouteStop.route_id == ctx.route.id, RouteStop.status.not_in(("done", "failed", "skipped")),
        Order.kind != "pickup"))
    return {code: o for o in orders for code in parcel_codes(o)}


def scan_in(ctx: Ctx, codes: list[str]) -> dict[str, Any]:
    """Parcels back at the depot: mark them in; orders to return whose parcels are
    all back become ``returned``."""
    rows = {r.code: r for r in ctx.session.scalars(select(ReturnParcel).where(ReturnParcel.route_id == ctx.route.id))}
    on_van = _parcels_on_van(ctx)
    matched, unexpected, already = [], [], []
    for code in dict.fromkeys(codes):
        row = rows.get(code)
        if row is None and code in on_van:  # a parcel of a stop not attempted (yet), brought back
            _expect_back(ctx, on_van[code], [code], "not_attempted")
            row = rows[code] = ctx.session.scalar(select(ReturnParcel).where(
                ReturnParcel.route_id == ctx.route.id, ReturnParcel.code == code))
        if row is None:
            unexpected.append(code)
        elif row.scanned_in_at is not None:
            already.append(code)
        else:
            row.scanned_in_at = ctx.at
            matched.append(code)
    returned = []
    for order_id in sorted({rows[c].order_id for c in matched}):
        if all(r.scanned_in_at is not None for r in rows.values() if r.order_id == order_id):
            order = ctx.session.get(Order, order_id, with_for_update=True)
            if order is not None and order.status == "failed" and order.kind != "pickup":
                if rules_for(ctx.session, ctx.settings, order).reattempt == "return_to_depot":
                    transition(ctx.session, ctx.p, order, "returned", "parcels back at the depot")
                    returned.append(order_id)
    ctx.session.flush()
    missing = sorted(c for c, r in rows.items() if r.scanned_in_at is None)
    out = {"matched": matched, "unexpected": unexpected, "already": already, "missing": missing,
           "returned_orders": returned}
    if matched or unexpected:
        body = {**_where(ctx, None), "scans": list(dict.fromkeys(codes)), "matched": matched,
                "unexpected": unexpected, "files": []}
        rec = chain.append(ctx.session, organization_id=ctx.route.organization_id, route_id=ctx.route.id,
                           kind="scan_in", order_id=None, stop_id=None, server_time=ctx.server_time, body=body,
                           actor=ctx.p.actor)
        out.update(_result(rec, ctx))
    return out


def end_shift(ctx: Ctx, codes: list[str]) -> dict[str, Any]:
    """Stops never attempted become failed (reattempt next day) and their parcels are
    expected back; every parcel expected back must be scanned in (with this action's
    scans or an earlier scan_in), else the shift does not end and the parcels are named."""
    open_stops = ctx.session.scalars(select(RouteStop).where(
        RouteStop.route_id == ctx.route.id, RouteStop.status.not_in(("done", "failed", "skipped"))
    ).order_by(RouteStop.seq)).all()
    not_attempted = []
    for stop in open_stops:
        ctx.stop = stop
        fail(ctx, FailData(reason="closed"), not_attempted=True)
        not_attempted.append(stop.id)
    ctx.stop = None
    scanned = scan_in(ctx, codes)
    if scanned["missing"]:
        raise ParcelsNotScannedIn(scanned["missing"])
    for brk in ctx.session.scalars(select(DriverBreak).where(DriverBreak.route_id == ctx.route.id,
                                                             DriverBreak.ended_at.is_(None))):
        brk.ended_at, brk.end_action = max(ctx.at, brk.started_at), ctx.action_id  # the shift ends the break
    changed = live.finish_route(ctx.session, ctx.route, ctx.at, ctx.p)
    return {"changed": changed, "not_attempted": not_attempted, "scan_in": scanned, "flags": ctx.flags}


def breaks_of(session: Session, route_id: str) -> list[dict[str, Any]]:
    """The route's breaks, oldest first, as ``/driver/today`` shows them."""
    rows = session.scalars(select(DriverBreak).where(DriverBreak.route_id == route_id)
                           .order_by(DriverBreak.started_at, DriverBreak.id))
    return [{"id": b.id, "planned": b.planned, "started_at": chain.iso(b.started_at),
             "ended_at": chain.iso(b.ended_at) if b.ended_at else None, "expected_s": b.expected_s,
             "note": b.note} for b in rows]


def planned_break_taken(session: Session, route_id: str) -> bool:
    """Whether the driver has started the shift's planned break on this route (for the
    live day's loader: a planned break taken is no longer owed; unplanned ones do not count)."""
    return session.scalar(select(DriverBreak.id).where(DriverBreak.route_id == route_id,
                                                       DriverBreak.planned.is_(True)).limit(1)) is not None
