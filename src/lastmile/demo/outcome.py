"""The day's outcome, as the platform recorded it: every order of the day classified
(delivered, failed with its reason, returned, not planned with the planner's reason, or
still open -- which a finished day should not have), the KPIs from ``/analytics/kpis``,
notifications sent, proposals made and applied, the POD chains verified and the event
log checked for duplicates."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from sqlalchemy import func, select

from .api import Api
from .seed import Seeded


def outcome(api: Api, db: Any, settings: Any, seeded: Seeded, day_iso: str, stats: Any = None) -> dict[str, Any]:
    from ..dispatch.models import Plan, Route, RouteStop
    from ..events.models import Event
    from ..notifications.models import Notification
    from ..orders.models import Order
    from ..pod.chain import verify
    from ..pod.files import storage_for
    from ..pod.models import PodRecord

    order_ids = list(seeded.orders.values())
    result: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    per_order: dict[str, str] = {}
    with db.read_sessions() as s:
        orders = {o.id: o for o in s.scalars(select(Order).where(Order.id.in_(order_ids)))}
        pods: dict[str, list[PodRecord]] = {}
        for rec in s.scalars(select(PodRecord).where(PodRecord.order_id.in_(order_ids)).order_by(PodRecord.server_time,
                                                                                               PodRecord.seq)):
            pods.setdefault(rec.order_id or "", []).append(rec)
        unplanned: dict[str, str] = {}
        for plan in s.scalars(select(Plan).where(Plan.organization_id == seeded.org_id, Plan.status == "published")):
            for u in plan.unassigned or []:
                unplanned[u.get("order_id", "")] = u.get("reason", "")
        on_a_route = set(s.scalars(select(RouteStop.order_id).join(Route, Route.id == RouteStop.route_id).where(
            Route.organization_id == seeded.org_id, Route.published.is_(True))))
        for oid in order_ids:
            o = orders[oid]
            recs = pods.get(oid, [])
            kinds = [r.kind for r in recs]
            if o.status == "returned":
                what = "returned"
            elif o.status == "delivered" or "delivered" in kinds or (o.kind == "pickup" and "pickup" in kinds):
                what = "delivered"
            elif "failed" in kinds:
                last = json.loads([r for r in recs if r.kind == "failed"][-1].payload)
                reason = (last.get("body") or last).get("reason") or "unspecified"
                what = f"failed: {reason}"
                reasons[reason] += 1
            elif oid in unplanned:
                what = "not planned"
                reasons[f"not planned: {_general(unplanned[oid])}"] += 1
            elif oid not in on_a_route and o.status == "pending":  # came in during the day; no route took it
                what = "not planned"
                reasons["not planned: came in during the day and no live route could take it"] += 1
            elif o.status == "cancelled":
                what = "cancelled"
            else:
                what = f"open ({o.status})"
            per_order[oid] = what
            result[what.split(":")[0]] += 1
        routes = list(s.scalars(select(Route.id).where(Route.organization_id == seeded.org_id,
                                                        Route.published.is_(True))))
        storage = storage_for(settings)
        chains = {rid: verify(s, storage, rid) for rid in routes}
        pod_records = sum(r.records for r in chains.values())
        broken = {rid: r.broken for rid, r in chains.items() if not r.ok}
        sent = dict(s.execute(select(Notification.kind, func.count()).where(
            Notification.organization_id == seeded.org_id, Notification.status == "sent").group_by(Notification.kind)).all())
        dups = duplicate_events(s, seeded.org_id)
        events = s.scalar(select(func.count()).select_from(Event).where(Event.organization_id == seeded.org_id))
    kpi_rows = api.get("/analytics/kpis", token=seeded.dispatcher_token,
                       params={"start": day_iso, "end": day_iso})["rows"]
    kpi = kpi_rows[0] if kpi_rows else {}
    props = api.get("/proposals", token=seeded.dispatcher_token, params={"date": day_iso})["proposals"]
    out: dict[str, Any] = {
        "orders": len(order_ids), "result": dict(result), "failure_reasons": dict(reasons), "per_order": per_order,
        "on_time_rate": kpi.get("on_time_rate"), "first_attempt_rate": kpi.get("first_attempt_rate"),
        "km": kpi.get("km"), "driver_hours": kpi.get("driver_hours"),
        "deliveries_per_driver_hour": kpi.get("deliveries_per_driver_hour"), "kpis": kpi,
        "notifications_sent": dict(sent), "proposals": dict(Counter(p["status"] for p in props)),
        "proposal_kinds": dict(Counter(p["kind"] for p in props)),
        "pod": {"routes": len(chains), "records": pod_records, "broken": broken},
        "events": events, "duplicate_events": [list(map(str, d)) for d in dups],
    }
    if stats is not None:
        out["simulation"] = {"actions": dict(stats.actions), "positions": dict(stats.positions),
                             "rejected_actions": stats.rejected[:20], "new_orders": stats.new_orders, "ill": stats.ill,
                             "proposals_applied_by_dispatcher": stats.proposals_applied,
                             "proposals_stale": stats.proposals_stale}
    return out


def _general(reason: str) -> str:
    """A planner's reason without the times that make each one unique."""
    import re

    reason = re.sub(r"\s*\([^)]*\)", "", reason)
    return re.sub(r"^window closes \d\d:\d\d; ", "", reason).strip()


ONCE = ("order.created", "order.delivered", "order.returned", "stop.done", "stop.arrived", "pod.recorded",
        "route.started", "route.finished")


def duplicate_events(session: Any, organization_id: str) -> list[tuple[str, str, int]]:
    """The same fact recorded twice: an event identical to another (type, subject and
    data), or a second event of a kind that happens once per subject (an order is
    delivered once, a route starts once ...)."""
    from sqlalchemy import String, cast

    from ..events.models import Event

    same = session.execute(select(Event.type, Event.subject_id, func.count()).where(
        Event.organization_id == organization_id).group_by(
        Event.type, Event.subject_type, Event.subject_id, cast(Event.data, String)).having(func.count() > 1)).all()
    once = session.execute(select(Event.type, Event.subject_id, func.count()).where(
        Event.organization_id == organization_id, Event.type.in_(ONCE)).group_by(
        Event.type, Event.subject_type, Event.subject_id).having(func.count() > 1)).all()
    return sorted({(t, sid, n) for t, sid, n in [*same, *once]})


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f} %"


def print_outcome(console: Any, o: dict[str, Any], elapsed_s: float | None = None) -> None:
    from rich.table import Table

    t = Table(title="The day's outcome", show_header=False)
    t.add_column("what")
    t.add_column("figure", justify="right")
    r = o["result"]
    t.add_row("orders", str(o["orders"]))
    t.add_row("delivered", str(r.get("delivered", 0)))
    failed = {k: v for k, v in o["failure_reasons"].items() if not k.startswith("not planned")}
    unplanned = {k.split(": ", 1)[1]: v for k, v in o["failure_reasons"].items() if k.startswith("not planned")}
    t.add_row("failed", str(r.get("failed", 0)) + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(failed.items()))
                                                     + ")" if failed else ""))
    t.add_row("returned", str(r.get("returned", 0)))
    if r.get("not planned"):
        t.add_row("not planned", f"{r['not planned']} (" + "; ".join(f"{k}: {v}" for k, v in sorted(unplanned.items()))
                  + ")")
    open_ = sum(v for k, v in r.items() if k.startswith("open"))
    if open_:
        t.add_row("[red]still open[/]", str(open_))
    t.add_row("on time", pct(o["on_time_rate"]))
    t.add_row("first attempt", pct(o["first_attempt_rate"]))
    t.add_row("km", f"{o['km'] or 0:,.1f}")
    t.add_row("deliveries per driver-hour", f"{o['deliveries_per_driver_hour'] or 0:.2f}")
    t.add_row("notifications sent", f"{sum(o['notifications_sent'].values())} "
              f"({', '.join(f'{k} {v}' for k, v in sorted(o['notifications_sent'].items()))})")
    made = sum(o["proposals"].values())
    t.add_row("proposals made / applied", f"{made} / {o['proposals'].get('applied', 0)}"
              + (f" ({', '.join(f'{k} {v}' for k, v in sorted(o['proposal_kinds'].items()))})" if made else ""))
    pod = o["pod"]
    t.add_row("POD chains", f"{pod['routes']} routes, {pod['records']} records, "
              + ("all verify" if not pod["broken"] else f"[red]{len(pod['broken'])} broken[/]"))
    if elapsed_s is not None:
        t.add_row("simulated in", f"{elapsed_s:.0f} s")
    console.print(t)
