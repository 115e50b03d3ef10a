"""The simulator's day (:mod:`lastmile.sim.world`, :mod:`lastmile.sim.truth`) as the
demo's :class:`~lastmile.demo.spec.DemoDay`: API bodies for the platform, and the
hidden truth behind a small interface on (lat, lon) points."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from ..kit.time import at_seconds
from .spec import DemoDay, DepotSpec, DriverSpec, IllnessSpec, OrderSpec, Point, ShipperSpec, VehicleSpec

# what happens after a failed attempt, per kind of shipper (their POD rules): furniture goes
# back to the depot (a return), the rest is tried again the next day
REATTEMPT = {"furniture": "return_to_depot"}
ITEMS = {"pharmacy": ("RX", "Medicamentos / medicines"), "furniture": ("MUE", "Mueble / furniture"),
         "online": ("PKG", "Paquete / parcel"), "grocery": ("MER", "Despensa / groceries")}


class TruthAdapter:
    """:class:`~lastmile.demo.spec.Truth` over ``sim.truth.Truth``."""

    def __init__(self, world: Any) -> None:
        self.world = world
        self._truth: Any = None

    @property
    def truth(self) -> Any:
        if self._truth is None:
            from ..sim.truth import Truth

            self._truth = Truth(self.world)
        return self._truth

    def travel_s(self, a: str, b: str, depart_s: float) -> float:
        return float(self.truth.travel_s(a, b, int(depart_s)))

    def path(self, a: str, b: str, depart_s: float) -> Sequence[tuple[float, Point]]:
        return [(float(t), (float(p.lat), float(p.lon))) for t, p in self.truth.path(a, b, int(depart_s), every_s=10)]

    def service_s(self, order_key: str, arrival_s: float, first_visit: bool) -> float:
        return float(self.truth.service_s(order_key, int(arrival_s), first_visit))

    def at_home(self, order_key: str, arrival_s: float, notified: bool) -> bool:
        return bool(self.truth.at_home(order_key, int(arrival_s), notified))


def demo_day(seed: int = 1, *, orders: int = 300, drivers: int = 15, day: date | None = None) -> DemoDay:
    from ..sim.world import make_world

    world = make_world(seed, orders=orders, drivers=drivers, day=day)
    return from_world(world)


def from_world(world: Any) -> DemoDay:
    zones = {dep.id: dep.timezone for dep in world.depots}
    kinds = {s.id: s.kind for s in world.shippers}
    depots = [DepotSpec(key=dep.id, code=dep.id, name=dep.name, lat=dep.location.lat, lon=dep.location.lon,
                        timezone=dep.timezone, address=dep.address) for dep in world.depots]
    shippers = [ShipperSpec(key=s.id, code=s.id, name=s.name, email=s.email or None, reattempt=REATTEMPT.get(s.kind))
                for s in world.shippers]
    drivers = []
    for dr in world.drivers:
        v = world.vehicle(dr.vehicle_id)
        kg, litres, parcels = v.capacity
        drivers.append(DriverSpec(
            key=dr.id, name=dr.name, depot_key=dr.depot_id, language=dr.language, phone=dr.phone,
            skills=tuple(sorted(dr.skills)), shift_start_s=dr.shift_start, shift_end_s=dr.shift_end,
            break_earliest_s=dr.break_start, break_latest_s=dr.break_end, break_s=dr.break_s,
            vehicle=VehicleSpec(name=f"{v.name} {v.id}", plate=v.plate, capacity_kg=kg, capacity_litres=litres,
                                capacity_parcels=parcels, skills=tuple(sorted(v.skills)), fixed_cost=v.fixed_cost,
                                cost_per_km=v.cost_per_km, cost_per_hour=v.cost_per_hour)))
    orders = []
    for o in world.orders:
        zone = zones[o.depot_id]

        def iso(s: int, zone: str = zone) -> str:
            return at_seconds(world.day, zone, s).isoformat()

        kg, litres, parcels = o.demand
        sku, what = ITEMS.get(kinds.get(o.shipper_id, ""), ("PKG", "Paquete / parcel"))
        body: dict[str, Any] = {
            "reference": o.id, "date": world.day.isoformat(), "kind": getattr(o.kind, "value", str(o.kind)),
            "address": o.address, "lat": o.location.lat, "lon": o.location.lon,
            "contact": {"name": o.customer.name, "phone": o.customer.phone, "email": o.customer.email or None},
            "language": o.customer.language,
            "windows": [{"start": iso(w.start), "end": iso(w.end)} for w in o.windows],
            "service_s": o.service_s, "demand": {"kg": kg, "litres": litres, "parcels": parcels},
            "items": [{"sku": f"{sku}-{o.id[-4:]}", "description": what, "quantity": parcels}],
            "skills": sorted(o.skills), "priority": o.priority, "instructions": o.instructions[:2000],
        }
        if o.cod_amount and o.cod_currency:
            body["cod"] = {"amount": o.cod_amount, "currency": o.cod_currency}
        orders.append(OrderSpec(key=o.id, shipper_key=o.shipper_id, depot_key=o.depot_id, body=body,
                                release_s=o.arrives_s))
    ill = IllnessSpec(world.ill.driver_id, world.ill.at_s) if world.ill is not None else None
    zone = depots[0].timezone if depots else "America/Chicago"
    return DemoDay(date=world.day, zone=zone, depots=depots, shippers=shippers, drivers=drivers, orders=orders,
                   truth=TruthAdapter(world), illness=ill, label=f"seed {world.seed}", extra={"world": world})
