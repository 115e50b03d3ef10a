"""The driver app's action batch: each action applied once by its client id, in its
own savepoint (a refused action changes nothing and the rest still apply), with
both clocks kept. Status changes go through dispatch/live.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..auth.access import Principal
from ..config import Settings
from ..dispatch import live
from ..dispatch.models import STOP_FINAL, Route, RouteStop
from ..errors import Conflict, DomainError, Invalid, NotFound
from ..kit.schema import Timestamp
from ..kit.time import utcnow
from . import service
from .files import StorageBackend
from .models import ACTION_TYPES, DriverAction, DriverBreak
from .schemas import DATA, NEEDS_STOP, Action, Position

_DEVICE_TIME: TypeAdapter[datetime] = TypeAdapter(Timestamp)


def _field(prefix: str, loc: tuple[Any, ...]) -> str:
    out = prefix
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def _parse(model: Any, value: Any, prefix: str) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError as e:
        err = e.errors()[0]
        fld = _field(prefix, tuple(err.get("loc", ())))
        msg = "unknown field" if err.get("type") == "extra_forbidden" else str(err.get("msg", "invalid value"))
        raise Invalid(f"{fld}: {msg}", field=fld) from None


def _previous(session: Session, driver_id: str, client_id: str) -> DriverAction | None:
    return session.scalar(select(DriverAction).where(DriverAction.driver_id == driver_id,
                                                     DriverAction.client_id == client_id))


def apply_batch(session: Session, settings: Settings, storage: StorageBackend, p: Principal,
                actions: list[Action]) -> list[dict[str, Any]]:
    if not p.driver_id:
        raise NotFound("this user has no driver profile")
    return [apply_one(session, settings, storage, p, a) for a in actions]


def apply_one(session: Session, settings: Settings, storage: StorageBackend, p: Principal,
              a: Action) -> dict[str, Any]:
    assert p.driver_id is not None
    prior = _previous(session, p.driver_id, a.id)
    if prior is not None:
        return {"id": a.id, "status": "duplicate", "result": prior.result}
    try:
        with session.begin_nested():
            result = _apply(session, settings, storage, p, a)
        return {"id": a.id, "status": "applied", "result": result}
    except _Duplicate as d:
        return {"id": a.id, "status": "duplicate", "result": d.prior.result}
    except DomainError as e:
        return {"id": a.id, "status": "rejected", "error": e.body()["error"]}
    except IntegrityError:
        prior = _previous(session, p.driver_id, a.id)  # the same action, applied by a concurrent request
        if prior is None:
            raise
        return {"id": a.id, "status": "duplicate", "result": prior.result}


class _Duplicate(Exception):
    def __init__(self, prior: DriverAction) -> None:
        self.prior = prior


def _clocks(settings: Settings, a: Action, now: datetime) -> tuple[datetime, int, datetime, bool]:
    try:
        device = _DEVICE_TIME.validate_python(a.device_time)
    except ValidationError:
        raise Invalid("device_time must be an ISO 8601 time with its offset", field="device_time") from None
    skew = round((now - device).total_seconds())
    if abs(skew) > settings.pod_clock_skew_max_s:
        raise Invalid(f"the phone's clock is {abs(skew)} s off the server's (more than "
                      f"{settings.pod_clock_skew_max_s} s): check the phone's date and time", field="device_time",
                      code="clock_skew")
    ahead = -skew > settings.pod_clock_skew_flag_s
    # behind is normal (an action queued offline); ahead of the server cannot be
    return device, skew, min(device, now), ahead


def _route(session: Session, p: Principal, route_id: str) -> Route:
    route = session.execute(select(Route).where(Route.id == route_id).with_for_update()).scalar_one_or_none()
    if route is None or route.organization_id != p.organization_id or route.driver_id != p.driver_id \
            or not route.published:
        raise NotFound("route not found", field="route_id")
    return route


def _apply(session: Session, settings: Settings, storage: StorageBackend, p: Principal, a: Action) -> dict[str, Any]:
    if a.type not in ACTION_TYPES:
        raise Invalid(f"unknown action type {a.type!r}", field="type")
    now = utcnow()
    device, skew, at, ahead = _clocks(settings, a, now)
    position = _parse(Position, a.position, "position").model_dump() if a.position is not None else None
    data = _parse(DATA[a.type], a.data, "data")
    route = _route(session, p, a.route_id)
    prior = _previous(session, p.driver_id or "", a.id)  # again, under the route's lock: a concurrent replay
    if prior is not None:
        raise _Duplicate(prior)
    stop = None
    if a.type in NEEDS_STOP:
        if not a.stop_id:
            raise Invalid(f"{a.type} needs a stop_id", field="stop_id")
        stop = session.get(RouteStop, a.stop_id)
        if stop is None or stop.route_id != route.id:
            raise NotFound("stop not found on this route", field="stop_id")
    elif a.stop_id is not None:
        raise Invalid(f"{a.type} takes no stop_id", field="stop_id")
    if route.status == "finished" and a.type not in ("scan_in", "end_shift"):
        raise Conflict("this route is finished", field="route_id", code="route_finished")
    ctx = service.Ctx(session, settings, storage, p, route, stop, a.id, now, device, skew, at, position,
                      ["clock_ahead"] if ahead else [])
    result = _HANDLERS[a.type](ctx, data)
    session.add(DriverAction(organization_id=route.organization_id, driver_id=p.driver_id, client_id=a.id,
                             type=a.type, route_id=route.id, stop_id=a.stop_id, device_time=device, server_time=now,
                             skew_s=skew, skew_flagged=ahead, position=position, data=data.model_dump(),
                             result=result))
    session.flush()
    return result


def _start(ctx: service.Ctx, _: Any) -> dict[str, Any]:
    return {"changed": live.start_route(ctx.session, ctx.route, ctx.at, ctx.p), "flags": ctx.flags}


def _mark(status: str) -> Any:
    def handler(ctx: service.Ctx, _: Any) -> dict[str, Any]:
        assert ctx.stop is not None
        if status == "en_route" and ctx.stop.status == "arrived":
            return {"changed": False, "flags": ctx.flags}  # a late en_route after arrival changes nothing
        return {"changed": live.mark_stop(ctx.session, ctx.stop, status, at=ctx.at, actor=ctx.p), "flags": ctx.flags}

    return handler


def _open_break(ctx: service.Ctx) -> DriverBreak | None:
    return ctx.session.scalar(select(DriverBreak).where(DriverBreak.route_id == ctx.route.id,
                                                        DriverBreak.ended_at.is_(None))
                              .order_by(DriverBreak.started_at.desc()).limit(1))


def retime(ctx: service.Ctx, shift_s: int, **hints: Any) -> str:
    """Re-time the rest of the route after a delay or a break: the ETA work's
    ``refresh_route`` when present (given the hints it accepts: ``delay_s``,
    ``break_taken``, ``source``), else every open stop's ETA moves by ``shift_s``."""
    import inspect

    from ..dispatch import eta

    refresh = getattr(eta, "refresh_route", None)
    if refresh is not None:
        accepted = inspect.signature(refresh).parameters
        kw = {k: v for k, v in {**hints, "settings": ctx.settings}.items() if k in accepted}
        refresh(ctx.session, ctx.route, ctx.at, **kw)
        return "refresh_route"
    if shift_s <= 0:
        return "none"
    stops = ctx.session.scalars(select(RouteStop).where(RouteStop.route_id == ctx.route.id,
                                                        RouteStop.status.not_in(STOP_FINAL)))
    for st in stops:
        st.eta_at = (st.eta_at or st.arrival_at) + timedelta(seconds=shift_s)
        st.eta_updated_at = ctx.server_time
    live.bump(ctx.session, ctx.route, {"type": "eta", "shift_s": shift_s})
    return "shifted"


UNPLANNED_BREAK_S = 15 * 60  # an unplanned break whose length the driver did not say


def _break_start(ctx: service.Ctx, data: Any) -> dict[str, Any]:
    if _open_break(ctx) is not None:
        raise Conflict("a break is already going on", field="type", code="on_break")
    planned = data.planned if data.planned is not None else "unplanned" not in data.note.lower()
    if planned and ctx.session.scalar(select(DriverBreak.id).where(DriverBreak.route_id == ctx.route.id,
                                                                   DriverBreak.planned.is_(True)).limit(1)):
        raise Conflict("the planned break was already taken on this route: take an unplanned one",
                       field="data.planned", code="planned_break_taken")
    expected = None
    if planned and ctx.route.shift_id:
        from ..fleet.models import Shift

        shift = ctx.session.get(Shift, ctx.route.shift_id)
        expected = shift.break_s if shift is not None and shift.break_s else None
    elif not planned:
        expected = data.minutes * 60 if data.minutes else UNPLANNED_BREAK_S
    row = DriverBreak(organization_id=ctx.route.organization_id, route_id=ctx.route.id, driver_id=ctx.p.driver_id,
                      planned=planned, started_at=ctx.at, expected_s=expected, note=data.note,
                      start_action=ctx.action_id)
    ctx.session.add(row)
    ctx.session.flush()
    # the ETA work: a planned break is no longer owed (held for its length); an unplanned
    # one holds the route for its expected length and leaves the planned break owed
    hints: dict[str, Any] = {"break_taken": True} if planned else {"delay_s": expected}
    return {"on_break": True, "break_id": row.id, "planned": planned, "expected_s": expected, "flags": ctx.flags,
            "retimed": retime(ctx, 0, source="break", **hints)}


def _break_end(ctx: service.Ctx, data: Any) -> dict[str, Any]:
    row = _open_break(ctx)
    if row is None:
        raise Conflict("no break is going on", field="type", code="not_on_break")
    row.ended_at = max(ctx.at, row.started_at)
    row.end_action = ctx.action_id
    ctx.session.flush()
    length = round((row.ended_at - row.started_at).total_seconds())
    hints: dict[str, Any] = {"delay_s": 0, **({"break_taken": True} if row.planned else {})}
    return {"on_break": False, "break_id": row.id, "planned": row.planned, "break_s": length, "flags": ctx.flags,
            "retimed": retime(ctx, length, source="break_end", **hints)}


def _delay(ctx: service.Ctx, data: Any) -> dict[str, Any]:
    return {"delay_s": data.minutes * 60, "flags": ctx.flags,
            "retimed": retime(ctx, data.minutes * 60, source="delay", delay_s=data.minutes * 60)}


_HANDLERS: dict[str, Any] = {
    "start_shift": _start,
    "end_shift": lambda ctx, d: service.end_shift(ctx, d.scans),
    "break_start": _break_start,
    "break_end": _break_end,
    "delay": _delay,
    "en_route": _mark("en_route"),
    "arrive": _mark("arrived"),
    "deliver": service.deliver,
    "fail": service.fail,
    "pickup": service.pickup,
    "scan_in": lambda ctx, d: service.scan_in(ctx, d.scans),
}
