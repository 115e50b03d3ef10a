"""What a dispatcher should look at now, computed from the live day (nothing stored):

* ``late`` -- a stop predicted to miss its delivery window (its ETA, or the planned
  arrival when there is no ETA yet, is after the window's end), or ``at_risk`` -- a stop
  not yet reached whose window closes within ``horizon_s``;
* ``failed`` -- a failed delivery attempt on today's routes;
* ``offline`` / ``idle`` -- a driver of a started route whose last fix is old, or who
  is stopped away from any stop (tracking's ``driver_live`` state ``stopped``; the
  table is used when the tracking domain is installed);
* ``message`` -- a customer message about an order with no answer after it (from the
  portal's ``portal_messages`` table, when installed).

Each alert names its route and stop (the console's one-click target) and carries a
Spanish and an English summary. Tables of other domains are optional: a missing one
simply contributes no alerts.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import Text, select, type_coerce
from sqlalchemy.orm import Session

from ..kit.time import utcnow
from ..orders.models import Order
from .models import STOP_FINAL, Plan, Route, RouteStop

HORIZON_S = 15 * 60  # window closing within this and the stop not reached: at risk
OFFLINE_S = 10 * 60  # no fix for this long on a started route: offline
IDLE_S = 15 * 60  # not moved for this long, away from any stop: idle
SEVERITY = {"late": 3, "failed": 3, "offline": 2, "message": 2, "at_risk": 1, "idle": 1}


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt is not None else None


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _window_end(order_windows: list[dict[str, str]], planned: datetime) -> datetime | None:
    """The end of the window the stop was planned into (else the last window's end)."""
    ends = []
    for w in order_windows or []:
        start, end = _parse(w.get("start")), _parse(w.get("end"))
        if end is None:
            continue
        if start is not None and start <= planned <= end:
            return end
        ends.append(end)
    return max(ends) if ends else None


def _minutes(seconds: float) -> int:
    return max(1, round(seconds / 60))


def _alert(kind: str, route: Any, stop: Any, order: Any, at: datetime,
           es: str, en: str, **data: Any) -> dict[str, Any]:
    target = stop.id if stop is not None else (route.id if route is not None else "")
    return {
        "id": f"{kind}:{target or (order.id if order else '')}",
        "kind": kind, "severity": SEVERITY[kind], "at": _iso(at),
        "route_id": route.id if route is not None else None,
        "stop_id": stop.id if stop is not None else None,
        "order_id": order.id if order is not None else None,
        "reference": order.reference if order is not None else "",
        "driver_id": route.driver_id if route is not None else None,
        "summary": {"es": es, "en": en},
        "link": f"/console#stop={stop.id}" if stop is not None else (f"/console#route={route.id}" if route else "/console"),
        "data": data,
    }


def raw_json(value: Any) -> Any:
    """A JSON column read as text (see :func:`_day_stops`) as Python data."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _day_stops(session: Session, organization_id: str, day: date) -> list[tuple[Any, Any, Any]]:
    """(stop, route, order) of the day's published routes, as light records with only
    the columns alerts read: a busy day has thousands of stops, and full ORM objects
    (and the stdlib JSON decoder for every order's windows) cost seconds."""
    rows = session.execute(
        select(RouteStop.id, RouteStop.seq, RouteStop.status, RouteStop.arrival_at, RouteStop.eta_at,
               RouteStop.completed_at, Route.id, Route.driver_id, Route.status, Order.id, Order.reference,
               type_coerce(Order.windows, Text), Order.status)
        .join(Route, Route.id == RouteStop.route_id)
        .join(Plan, Plan.id == Route.plan_id)
        .join(Order, Order.id == RouteStop.order_id)
        .where(Route.organization_id == organization_id, Route.published.is_(True), Plan.date == day)
        .order_by(Route.id, RouteStop.seq)
    ).all()
    routes: dict[str, SimpleNamespace] = {}
    out = []
    for sid, seq, st, arr, eta, done, rid, driver, rst, oid, ref, windows, ost in rows:
        route = routes.get(rid)
        if route is None:
            route = routes[rid] = SimpleNamespace(id=rid, driver_id=driver, status=rst)
        stop = SimpleNamespace(id=sid, seq=seq, status=st, arrival_at=arr, eta_at=eta, completed_at=done)
        out.append((stop, route, SimpleNamespace(id=oid, reference=ref, windows=windows, status=ost)))
    return out


def window_alerts(rows: list[tuple[Any, Any, Any]], now: datetime, horizon_s: int) -> list[dict[str, Any]]:
    out = []
    for stop, route, order in rows:
        if stop.status in STOP_FINAL or stop.status == "arrived":
            continue
        end = _window_end(raw_json(order.windows), stop.arrival_at)
        if end is None:
            continue
        predicted = stop.eta_at or stop.arrival_at
        if predicted < now:
            predicted = now  # not there yet: it cannot arrive in the past
        ref = order.reference or order.id
        if predicted > end:
            late = (predicted - end).total_seconds()
            m = _minutes(late)
            out.append(_alert("late", route, stop, order, now,
                              f"{ref}: llegará {m} min después de su ventana",
                              f"{ref}: will arrive {m} min after its window",
                              late_by_s=int(late), window_end=_iso(end), eta_at=_iso(predicted)))
        elif (end - now).total_seconds() <= horizon_s:
            left = (end - now).total_seconds()
            m = _minutes(left)
            out.append(_alert("at_risk", route, stop, order, now,
                              f"{ref}: su ventana cierra en {m} min",
                              f"{ref}: its window closes in {m} min",
                              closes_in_s=int(left), window_end=_iso(end), eta_at=_iso(predicted)))
    return out


def failed_alerts(rows: list[tuple[Any, Any, Any]]) -> list[dict[str, Any]]:
    out = []
    for stop, route, order in rows:
        if stop.status != "failed" or order.status != "failed":  # rescheduled or returned: handled
            continue
        ref = order.reference or order.id
        at = stop.completed_at or utcnow()
        out.append(_alert("failed", route, stop, order, at, f"{ref}: intento de entrega fallido",
                          f"{ref}: delivery attempt failed"))
    return out


def _driver_live_model() -> Any:
    try:
        from ..tracking import models as tm  # noqa: PLC0415 -- optional domain
    except ImportError:
        return None
    for cls in vars(tm).values():
        if getattr(cls, "__tablename__", None) == "driver_live":
            return cls
    return None


def _first_attr(obj: Any, names: tuple[str, ...]) -> Any:
    for n in names:
        if hasattr(obj, n):
            return getattr(obj, n)
    return None


def driver_alerts(session: Session, rows: list[tuple[Any, Any, Any]], now: datetime,
                  offline_s: int, idle_s: int) -> list[dict[str, Any]]:
    model = _driver_live_model()
    started = {r.driver_id: r for _, r, _ in rows if r.status == "started" and r.driver_id}
    if model is None or not started:
        return []
    live = {x.driver_id: x for x in session.scalars(select(model).where(model.driver_id.in_(list(started))))}
    out = []
    for driver_id, route in started.items():
        row = live.get(driver_id)
        fix_at = _first_attr(row, ("at", "fix_at", "last_fix_at", "updated_at")) if row is not None else None
        state = str(_first_attr(row, ("state", "status")) or "") if row is not None else ""
        if fix_at is None or (now - fix_at).total_seconds() > offline_s or state == "offline":
            since = f" ({_minutes((now - fix_at).total_seconds())} min)" if fix_at is not None else ""
            out.append(_alert("offline", route, None, None, now, f"Conductor sin señal{since}",
                              f"Driver offline{since}", last_fix_at=_iso(fix_at)))
            continue
        idle_since = _first_attr(row, ("idle_since", "stopped_since", "still_since"))
        if state in ("idle", "stopped") or (idle_since is not None and (now - idle_since).total_seconds() > idle_s):
            m = f" ({_minutes((now - idle_since).total_seconds())} min)" if idle_since is not None else ""
            out.append(_alert("idle", route, None, None, now, f"Conductor detenido{m}", f"Driver idle{m}",
                              idle_since=_iso(idle_since)))
    return out


def message_alerts(session: Session, organization_id: str, rows: list[tuple[Any, Any, Any]],
                   since: datetime) -> list[dict[str, Any]]:
    try:
        from ..portal.models import PortalMessage  # noqa: PLC0415 -- optional domain
    except ImportError:
        return []
    msgs = session.scalars(
        select(PortalMessage).where(PortalMessage.organization_id == organization_id, PortalMessage.created_at >= since)
        .order_by(PortalMessage.order_id, PortalMessage.created_at, PortalMessage.id)
    ).all()
    waiting: dict[str, Any] = {}
    for m in msgs:  # the last word per order decides
        waiting[m.order_id] = m if m.sender == "customer" else None
    by_order = {o.id: (s, r, o) for s, r, o in rows}
    out = []
    for order_id, m in waiting.items():
        if m is None:
            continue
        stop, route, order = by_order.get(order_id, (None, None, None))
        if order is None:
            order = session.get(Order, order_id)
        ref = (order.reference or order.id) if order is not None else order_id
        text = m.body if len(m.body) <= 80 else m.body[:79] + "…"
        out.append(_alert("message", route, stop, order, m.created_at, f"{ref}: mensaje del cliente: {text}",
                          f"{ref}: customer message: {text}", message_id=m.id))
    return out


def compute_alerts(session: Session, organization_id: str, day: date, *, now: datetime | None = None,
                   horizon_s: int = HORIZON_S, offline_s: int = OFFLINE_S, idle_s: int = IDLE_S) -> list[dict[str, Any]]:
    """Every current alert of the organization's published routes on ``day``, most
    severe first, then oldest first."""
    now = now or utcnow()
    rows = _day_stops(session, organization_id, day)
    alerts = window_alerts(rows, now, horizon_s) + failed_alerts(rows)
    alerts += driver_alerts(session, rows, now, offline_s, idle_s)
    alerts += message_alerts(session, organization_id, rows, now - timedelta(days=2))
    alerts.sort(key=lambda a: (-a["severity"], a["at"] or "", a["id"]))
    return alerts
