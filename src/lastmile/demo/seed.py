"""Seed the demo day through the platform: the first admin as ``lastmile user create``
makes it, everything else through the HTTP API as an operator would (users, shippers
and their API keys, depots, vehicles, drivers, shifts with breaks, devices) and the
orders through the shipper API with each shipper's key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..kit.time import at_seconds
from .api import Api
from .spec import DemoDay, DriverSpec, OrderSpec

PASSWORD = "laredo-demo-2026"  # every demo login (shown by `lastmile demo`); a demo data folder only
ADMIN_EMAIL = "admin@demo.lastmile.mx"
DISPATCHER_EMAIL = "despacho@demo.lastmile.mx"

Progress = Callable[[str, float], None]


@dataclass
class SeededDriver:
    key: str
    name: str
    email: str
    driver_id: str
    user_id: str
    token: str
    shift_id: str
    vehicle_id: str
    depot_id: str
    source: str = "app"  # how positions reach the server: app | osmand | owntracks
    device_token: str | None = None
    topic: str | None = None


@dataclass
class Seeded:
    org_id: str
    admin_token: str
    dispatcher_token: str
    shipper_keys: dict[str, str] = field(default_factory=dict)  # shipper key -> API key
    shipper_ids: dict[str, str] = field(default_factory=dict)
    depot_ids: dict[str, str] = field(default_factory=dict)
    drivers: dict[str, SeededDriver] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)  # order key -> order id

    @property
    def order_keys(self) -> dict[str, str]:
        return {v: k for k, v in self.orders.items()}


def first_admin(db: Any, settings: Any) -> tuple[str, str]:
    """The organization and its first admin, as ``lastmile user create`` does; returns
    (organization id, bearer token)."""
    from ..auth.service import create_user, get_or_create_organization, issue_token

    with db.session() as s:
        org = get_or_create_organization(s, "Entregas Laredo (demo)")
        user = create_user(s, org.id, ADMIN_EMAIL, PASSWORD, "admin", "Marisol Treviño", "es")
        token, _ = issue_token(s, settings, user, "bearer")
        s.commit()
        return org.id, token


def _login(api: Api, email: str) -> str:
    return api.post("/auth/token", json={"email": email, "password": PASSWORD})["access_token"]


def driver_email(spec: DriverSpec) -> str:
    return f"{spec.key.lower().replace('_', '-')}@demo.lastmile.mx"


def seed_fleet(api: Api, db: Any, settings: Any, day: DemoDay, *, sources: Callable[[int], str] | None = None,
               progress: Progress | None = None) -> Seeded:
    say = progress or (lambda _m, _f: None)
    org_id, admin = first_admin(db, settings)
    api.post("/users", token=admin, json={"email": DISPATCHER_EMAIL, "password": PASSWORD, "role": "dispatcher",
                                          "name": "Jorge Despacho", "language": "es"})
    out = Seeded(org_id=org_id, admin_token=admin, dispatcher_token=_login(api, DISPATCHER_EMAIL))
    for d in day.depots:
        dep = api.post("/depots", token=admin, json={"code": d.code, "name": d.name, "address": d.address, "lat": d.lat,
                                                     "lon": d.lon, "timezone": d.timezone})
        out.depot_ids[d.key] = dep["id"]
    for sh in day.shippers:
        body: dict[str, Any] = {"name": sh.name}
        if sh.code:
            body["code"] = sh.code
        if sh.email:
            body["contact_email"] = sh.email
        shipper = api.post("/shippers", token=admin, json=body)
        out.shipper_ids[sh.key] = shipper["id"]
        out.shipper_keys[sh.key] = api.post(f"/shippers/{shipper['id']}/api-keys", token=admin,
                                            json={"name": "demo integration"})["key"]
        if sh.reattempt:
            api.patch(f"/shippers/{shipper['id']}/pod-rules", token=admin, json={"reattempt": sh.reattempt})
    say("depots and shippers", 0.1)
    # several at once: each login's password hash (argon2) is deliberately slow
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(_driver, api, admin, day, spec, out, sources(i) if sources else "app")
                   for i, spec in enumerate(day.drivers)]
        for i, (spec, fut) in enumerate(zip(day.drivers, futures, strict=True)):
            out.drivers[spec.key] = fut.result()
            say(f"drivers {i + 1}/{len(day.drivers)}", 0.1 + 0.4 * (i + 1) / len(day.drivers))
    tokens = _tokens(db, settings, [d.user_id for d in out.drivers.values()])
    for d in out.drivers.values():
        d.token = tokens[d.user_id]
    return out


def _tokens(db: Any, settings: Any, user_ids: list[str]) -> dict[str, str]:
    """Each simulated phone's bearer token, as its login would issue it (issued directly:
    checking fifteen passwords would only repeat the login the dispatcher's token took)."""
    from ..auth.models import User
    from ..auth.service import issue_token

    with db.session() as s:
        out = {uid: issue_token(s, settings, s.get(User, uid), "bearer")[0] for uid in user_ids}
        s.commit()
    return out


def _driver(api: Api, admin: str, day: DemoDay, spec: DriverSpec, out: Seeded, source: str) -> SeededDriver:
    email = driver_email(spec)
    user = api.post("/users", token=admin, json={"email": email, "password": PASSWORD, "role": "driver",
                                                 "name": spec.name, "language": spec.language})
    drv = api.post("/drivers", token=admin, json={"name": spec.name, "phone": spec.phone, "skills": list(spec.skills),
                                                  "user_id": user["id"]})
    depot_id = out.depot_ids[spec.depot_key]
    v = spec.vehicle
    veh = api.post("/vehicles", token=admin, json={
        "depot_id": depot_id, "name": v.name, "plate": v.plate, "capacity_kg": v.capacity_kg,
        "capacity_litres": v.capacity_litres, "capacity_parcels": v.capacity_parcels, "skills": list(v.skills),
        "fixed_cost": v.fixed_cost, "cost_per_km": v.cost_per_km, "cost_per_hour": v.cost_per_hour})
    zone = day.depot(spec.depot_key).timezone

    def iso(s: int) -> str:
        return at_seconds(day.date, zone, s).isoformat()

    shift: dict[str, Any] = {"driver_id": drv["id"], "vehicle_id": veh["id"], "depot_id": depot_id,
                             "date": day.date.isoformat(), "start_at": iso(spec.shift_start_s),
                             "end_at": iso(spec.shift_end_s)}
    if spec.break_s:
        shift["break"] = {"earliest": iso(spec.break_earliest_s or spec.shift_start_s),
                          "latest": iso(spec.break_latest_s or spec.shift_end_s), "duration_s": spec.break_s}
    sh = api.post("/shifts", token=admin, json=shift)
    seeded = SeededDriver(key=spec.key, name=spec.name, email=email, driver_id=drv["id"], user_id=user["id"],
                          token="", shift_id=sh["id"], vehicle_id=veh["id"], depot_id=depot_id,
                          source=source)
    if source in ("osmand", "owntracks"):
        body: dict[str, Any] = {"driver_id": drv["id"], "kind": source, "name": f"{spec.name}'s phone"}
        if source == "owntracks":
            body.update(owntracks_user=spec.key.lower().replace("_", "-"), owntracks_device="phone")
        dev = api.post("/devices", token=admin, json=body)
        seeded.device_token = dev["token"]
        seeded.topic = dev.get("topic") or dev["setup"].get("mqtt_topic")
    return seeded


def order_body(o: OrderSpec, seeded: Seeded) -> dict[str, Any]:
    return {**o.body, "depot_id": seeded.depot_ids[o.depot_key]}


def create_order(api: Api, seeded: Seeded, o: OrderSpec) -> str:
    """One order through the shipper API, with the shipper's own key (an Idempotency-Key
    makes a retried request harmless)."""
    made = api.post("/orders", token=seeded.shipper_keys[o.shipper_key], json=order_body(o, seeded),
                    headers={"Idempotency-Key": f"demo-{o.key}"})
    seeded.orders[o.key] = made["id"]
    return made["id"]


def seed_orders(api: Api, seeded: Seeded, day: DemoDay, progress: Progress | None = None) -> int:
    say = progress or (lambda _m, _f: None)
    known = [o for o in day.orders if o.release_s is None]
    for i, o in enumerate(known):
        create_order(api, seeded, o)
        if i % 10 == 9 or i == len(known) - 1:
            say(f"orders {i + 1}/{len(known)}", 0.5 + 0.5 * (i + 1) / len(known))
    return len(known)
