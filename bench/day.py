"""A simulated Laredo day under lastmile and under a naive dispatcher, on the same hidden truth.

    .venv/bin/python bench/day.py                       # 3 seeds, 300 orders, 15 drivers (~3-5 min)
    .venv/bin/python bench/day.py --seeds 1 --orders 120 --drivers 7 --time-limit 5

Each seed makes one day (``sim.world.make_world``: two depots, ~300 orders across
Laredo and Nuevo Laredo, windows, COD, returns, refrigerated and heavy items, 15
drivers; ~5 % of the orders arrive during the day and one driver falls ill) and
its hidden truth (``sim.truth``: rush hour on I-35 and the bridges, school zones,
an incident, per-seed noise; service times by building and customer; customers
who are out). The day is executed (``sim.execute``) under

* lastmile: the engine's plan, customers notified (those who will be out choose
  a new time or arrange to receive it), live insertion of new orders and of the
  ill driver's stops, routes falling behind repaired; service times planned x
  the factor a previous simulated day's dwell times gave (actual / nominal,
  ``policies.history_service_scale``; ``--nominal`` plans on the shippers'
  figures as they are); and
* naive: ``routing.naive`` -- first come, the nearest driver with room, stops in
  the order assigned, no re-planning, no notifications,

both against the same truth -- and, for perspective, a kinder baseline, "(sorted)":
the same dispatcher whose drivers drive their stops in window order. Figures per
seed, then the totals, then the targets
(the key line last). The naive dispatcher's check that a route still ends inside
the shift leaves many orders unserved, so total km compare unlike work: the km
target is judged per order delivered, and total km are printed beside it.
Not part of the test run; the machine is shared -- quote ``uptime`` with the figures.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import time  # noqa: E402

from lastmile.sim.execute import compare, metrics, run_day  # noqa: E402
from lastmile.sim.truth import Truth  # noqa: E402
from lastmile.sim.world import make_world  # noqa: E402

COLUMNS = (
    ("km", "km", "{:.1f}"),
    ("km/deliv", "km_per_delivery", "{:.2f}"),
    ("deliv", "delivered", "{:d}"),
    ("served%", "served_pct", "{:.1f}"),
    ("drv-h", "driver_hours", "{:.1f}"),
    ("deliv/drv-h", "deliveries_per_driver_hour", "{:.2f}"),
    ("on-time%", "on_time_pct", "{:.1f}"),
    ("1st-att%", "first_attempt_pct", "{:.1f}"),
    ("$/deliv", "cost_per_delivery_usd", "{:.2f}"),
    ("late-min", "late_minutes", "{:.0f}"),
)


def _row(label: str, m: dict) -> str:
    cells = [f"{label:<18}"] + [fmt.format(m[key]).rjust(max(len(head), 7)) for head, key, fmt in COLUMNS]
    return " ".join(cells)


def _header() -> str:
    return " ".join([f"{'':<18}"] + [head.rjust(max(len(head), 7)) for head, _, _ in COLUMNS])


def _total(ms: list[dict]) -> dict:
    km = sum(m["km"] for m in ms)
    n = sum(m["delivered"] for m in ms)
    hours = sum(m["driver_hours"] for m in ms)
    attempted = sum(m["attempted"] for m in ms)
    cost = sum(m["cost_usd"] for m in ms)
    orders = sum(m["orders"] for m in ms)
    return {
        "km": km, "km_per_delivery": km / n if n else 0.0, "delivered": n, "served_pct": 100 * n / orders if orders else 0,
        "driver_hours": hours, "deliveries_per_driver_hour": n / hours if hours else 0.0,
        "on_time_pct": 100 * sum(m["on_time"] for m in ms) / n if n else 0.0,
        "first_attempt_pct": 100 * n / attempted if attempted else 0.0,
        "cost_per_delivery_usd": cost / n if n else 0.0, "late_minutes": sum(m["late_minutes"] for m in ms),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3, help="how many seeded days (seeds 1..N)")
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--orders", type=int, default=300)
    ap.add_argument("--drivers", type=int, default=15)
    ap.add_argument("--time-limit", type=float, default=20.0, help="seconds for the morning solve")
    ap.add_argument("--nominal", action="store_true", help="lastmile plans on the nominal service times (no history)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    ours, base, kind = [], [], []
    print(f"simulated days: {args.seeds} seeds x {args.orders} orders, {args.drivers} drivers; "
          f"morning solve {args.time_limit:g} s; load {os.getloadavg()[0]:.2f}")
    print(_header())
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        world = make_world(seed, orders=args.orders, drivers=args.drivers)
        t1 = time.perf_counter()
        truth = Truth(world)
        out = compare(world, truth=truth, time_limit_s=args.time_limit, seed=seed,
                      service_scale=1.0 if args.nominal else None)
        sorted_ = metrics(run_day(world, "naive-sorted", truth=truth))
        ours.append(out["lastmile"])
        base.append(out["naive"])
        kind.append(sorted_)
        print(_row(f"seed {seed} lastmile", out["lastmile"]))
        print(_row(f"seed {seed} naive", out["naive"]))
        print(_row(f"seed {seed} (sorted)", sorted_))
        how = ("nominal service times" if args.nominal else
               f"service times x{out['service_scale']:.2f} learned from the day before")
        print(f"{'':<18} ({time.perf_counter() - t1:.0f} s; lastmile planning {out['lastmile']['plan_s']:.0f} s; {how})")
    a, b, c = _total(ours), _total(base), _total(kind)
    print(_row("all lastmile", a))
    print(_row("all naive", b))
    print(_row("all (sorted)", c))

    km_total = 1 - a["km"] / b["km"] if b["km"] else 0.0
    km_per = 1 - a["km_per_delivery"] / b["km_per_delivery"] if b["km_per_delivery"] else 0.0
    dph = a["deliveries_per_driver_hour"] / b["deliveries_per_driver_hour"] - 1 if b["deliveries_per_driver_hour"] else 0.0
    cost = 1 - a["cost_per_delivery_usd"] / b["cost_per_delivery_usd"] if b["cost_per_delivery_usd"] else 0.0

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT MET"

    print(f"total km: lastmile {a['km']:.0f} vs naive {b['km']:.0f} ({100 * km_total:+.1f} % saved) -- "
          f"lastmile delivered {a['delivered']}, naive {b['delivered']}")
    print(f"cost per delivery: {100 * cost:.1f} % lower than naive; late minutes {a['late_minutes']:.0f} vs "
          f"{b['late_minutes']:.0f}; wall {time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.2f}")
    if c["km_per_delivery"] and c["deliveries_per_driver_hour"]:
        print(f"for perspective, against the kinder baseline (sorted: drivers drive their stops in window order): "
              f"{100 * (1 - a['km_per_delivery'] / c['km_per_delivery']):.1f} % fewer km per delivery, "
              f"{100 * (a['deliveries_per_driver_hour'] / c['deliveries_per_driver_hour'] - 1):+.1f} % deliveries "
              f"per driver-hour, on-time {c['on_time_pct']:.1f} %")
    lines = [
        f"km per delivery  {100 * km_per:5.1f} % fewer than naive (target >= 25 %): {verdict(km_per >= 0.25)}",
        f"deliv/driver-h   {100 * dph:5.1f} % more than naive  (target >= 15 %): {verdict(dph >= 0.15)}",
        f"on-time          {a['on_time_pct']:5.1f} %                  (target >= 98 %): {verdict(a['on_time_pct'] >= 98)}",
        f"first-attempt    {a['first_attempt_pct']:5.1f} %                  (target >= 97 %): "
        f"{verdict(a['first_attempt_pct'] >= 97)}",
    ]
    print("\n".join(lines))
    met = sum(line.endswith(": met") for line in lines)
    print(f"targets met: {met}/4 -- km/delivery {100 * km_per:.1f} % fewer, deliveries/driver-hour "
          f"{100 * dph:+.1f} %, on-time {a['on_time_pct']:.1f} %, first-attempt {a['first_attempt_pct']:.1f} %")


if __name__ == "__main__":
    main()
