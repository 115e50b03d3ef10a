"""Generates examples/laredo-day/: a realistic (synthetic) delivery day in
Laredo, TX and Nuevo Laredo, Tamaulipas. Deterministic: re-running it writes the
same files. Customers and addresses are invented; neighbourhood centres are
real places, to a few hundred metres.

    python examples/make_laredo_day.py
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from lastmile.kit.time import hhmm
from lastmile.sim import world as W

OUT = Path(__file__).resolve().parent / "laredo-day"

# The reference data (real neighbourhood centres and streets, names, shippers,
# depots) live in lastmile.sim.world, which the simulated demo day also uses.
# (name, lat, lon, spread_deg, weight, country, streets)
NEIGHBOURHOODS = [(n.name, n.lat, n.lon, n.spread_deg, n.weight, n.country, list(n.streets)) for n in W.NEIGHBOURHOODS]
FIRST_ES, LAST_ES, FIRST_EN = W.FIRST_ES, W.LAST_ES, W.FIRST_EN
SHIPPERS = [s.id for s in W.SHIPPERS[:3]]  # the pharmacy, the furniture store, the online shop

DEPOTS = [
    # id, name, lat, lon, open, close, timezone
    (x.id, x.name, x.location.lat, x.location.lon, hhmm(x.opens_s), hhmm(x.closes_s), x.timezone) for x in W.DEPOTS
]

VEHICLES = [
    # id, name, driver, depot, shift, break window, kg, litres, parcels, skills, fixed, per km, per hour, max_hours
    ("van-01", "Refrigerated van", "Jorge", "LRD-N", ("07:00", "16:00"), ("11:00", "14:00"), 900, 6000, 80,
     "refrigerated;cross-border;bilingual", 4500, 28, 2200, 9),
    ("van-02", "Cargo van", "Ana", "LRD-N", ("07:00", "16:00"), ("11:30", "14:00"), 1100, 8000, 90, "bilingual", 4000, 25, 2000, 9),
    ("van-03", "Cargo van", "Luis", "LRD-N", ("08:00", "17:00"), ("12:00", "14:30"), 1100, 8000, 90, "", 4000, 25, 2000, 9),
    ("truck-01", "Box truck with lift gate", "Roberto", "LRD-N", ("07:00", "15:00"), ("11:00", "13:30"), 3000, 20000, 60,
     "heavy-lift", 7000, 45, 2500, 8),
    ("car-01", "Compact car", "Patricia", "LRD-N", ("09:00", "18:00"), ("13:00", "15:00"), 250, 1200, 40, "bilingual", 2000, 15, 1800, 9),
    ("van-04", "Refrigerated van", "Miguel", "NLD", ("07:00", "16:00"), ("11:00", "14:00"), 900, 6000, 80,
     "refrigerated;bilingual", 4500, 28, 2200, 9),
    ("van-05", "Cargo van", "Elena", "NLD", ("08:00", "17:00"), ("12:00", "14:30"), 1100, 8000, 90, "", 4000, 25, 2000, 9),
    ("car-02", "Compact car", "Carlos", "NLD", ("09:00", "18:00"), ("13:00", "15:00"), 250, 1200, 40, "", 2000, 15, 1800, 9),
]

SLOTS = [("08:00", "10:00"), ("09:00", "12:00"), ("10:00", "12:00"), ("12:00", "14:00"), ("13:00", "16:00"),
         ("14:00", "17:00"), ("08:00", "17:00")]


def _country(lat: float, lon: float) -> str:
    return W._country_of(lat, lon)


def main(n_stops: int = 150, seed: int = 2026) -> None:
    rng = random.Random(seed)
    OUT.mkdir(parents=True, exist_ok=True)
    weights = [n[4] for n in NEIGHBOURHOODS]
    rows = []
    for k in range(n_stops):
        name_, lat, lon, spread, _, country, streets = rng.choices(NEIGHBOURHOODS, weights)[0]
        while True:  # keep each address on its own side of the Rio Grande
            plat = round(lat + rng.gauss(0, spread), 5)
            plon = round(lon + rng.gauss(0, spread), 5)
            if _country(plat, plon) == country:
                break
        english = country == "US" and rng.random() < 0.35
        first = rng.choice(FIRST_EN if english else FIRST_ES)
        last = rng.choice(LAST_ES)
        shipper = rng.choices(SHIPPERS, [5, 2, 8])[0]
        kind = "pickup" if rng.random() < 0.08 else "delivery"
        skills = []
        kg = rng.randint(1, 12)
        litres = rng.randint(2, 40)
        parcels = rng.randint(1, 3)
        service = rng.choice([3, 4, 5, 5, 6, 8])
        if shipper == "farmacia-del-rio" and rng.random() < 0.35:
            skills.append("refrigerated")
        if shipper == "muebles-frontera":
            kg, litres, parcels = rng.randint(40, 160), rng.randint(300, 1500), rng.randint(1, 2)
            service = rng.choice([10, 15, 20])
            if kg > 100:
                skills.append("heavy-lift")
        slot = rng.choice(SLOTS) if rng.random() < 0.7 else ("", "")
        slot2 = ("", "")
        if slot[0] and rng.random() < 0.08 and slot[1] <= "12:00":
            slot2 = ("15:00", "17:00")
        cod = ""
        if rng.random() < (0.35 if country == "MX" else 0.12):
            cod = str(rng.choice([150, 280, 450, 850, 1200])) if country == "MX" else str(rng.choice([25, 40, 60]))
        rows.append({
            "id": f"ORD-{1001 + k}",
            "name": f"{first} {last}",
            "address": f"{rng.randint(100, 4999)} {rng.choice(streets)}, {name_}",
            "lat": plat, "lon": plon,
            "service_min": service, "kg": kg, "litres": litres, "parcels": parcels,
            "window_start": slot[0], "window_end": slot[1],
            "window2_start": slot2[0], "window2_end": slot2[1],
            "kind": kind, "skills": ";".join(skills),
            "priority": 50 if shipper == "farmacia-del-rio" else 0,
            "phone": f"+1956{rng.randint(2000000, 9999999)}" if country == "US" else f"+52867{rng.randint(1000000, 9999999)}",
            "language": "en" if english else "es",
            "cod_amount": cod, "cod_currency": ("MXN" if country == "MX" else "USD") if cod else "",
            "instructions": rng.choice(["", "", "", "Tocar el timbre dos veces", "Leave at the back door",
                                        "Dejar con el vecino del 14", "Call on arrival / llamar al llegar"]),
            "depot": "NLD" if country == "MX" else "LRD-N",
            "shipper": shipper,
        })
    # Two orders no one can serve as planned, so the day shows its reasons.
    rows[7]["skills"] = "heavy-lift;refrigerated"
    rows[11].update(window_start="06:00", window_end="06:20")

    with open(OUT / "stops.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with open(OUT / "depots.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "lat", "lon", "open", "close", "timezone"])
        w.writerows(DEPOTS)
    with open(OUT / "vehicles.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "name", "driver", "start_depot", "end_depot", "shift_start", "shift_end", "break_start",
                    "break_end", "break_min", "max_hours", "kg", "litres", "parcels", "skills", "fixed_cost",
                    "cost_per_km", "cost_per_hour"])
        for (vid, name, driver, depot, shift, brk, kg, litres, parcels, skills, fixed, per_km, per_h, max_h) in VEHICLES:
            w.writerow([vid, name, driver, depot, depot, shift[0], shift[1], brk[0], brk[1], 30, max_h, kg, litres,
                        parcels, skills, fixed, per_km, per_h])
    print(f"wrote {len(rows)} stops, {len(DEPOTS)} depots, {len(VEHICLES)} vehicles to {OUT}")


if __name__ == "__main__":
    main()
