"""Road graph benchmark on the shipped OpenStreetMap extracts (../shared/osm, ODbL).

    .venv/bin/python bench/roads.py [--points 300] [--repeat 3]

* build time and peak memory of each extract (each in a fresh process, no cache);
* loading the Baltimore graph from its cache, ready to answer (target <= 1 s);
* 200x200 and 1,000x1,000 duration matrices on Baltimore, against the
  straight-line provider in the same run (target <= 2 s for 1,000x1,000);
* accuracy of the straight-line fallback against the road graph: the fitted
  circuity and speed per extract and pooled, with mean and p90 relative error
  of travel time, and the error of ``HaversineProvider()``'s defaults.

Stops are random points on the main road network (by road length), seeded.
Not part of the test run. The key figure is printed last.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OSM = ROOT / ".." / "shared" / "osm"
EXTRACTS = ["baltimore", "harrisburg", "aguascalientes", "monaco-latest"]

_CHILD = r"""
import json, sys, time
from lastmile.routing.matrix.road_graph import RoadGraph
def rss(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
base = rss("VmRSS:")
t = time.perf_counter()
g = RoadGraph.from_pbf(sys.argv[1], use_cache=False)
dt = time.perf_counter() - t
print(json.dumps({"s": dt, "peak_mb": rss("VmHWM:") - base, "vertices": g.vertices, "edges": g.edges,
                  "components": g.components, "main": g.main_share, "km": float(g.seg_len.sum()) / 1000}))
"""


def best_of(repeat: int, fn):
    times = []
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=300, help="sample points per extract for calibration")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not (OSM / "baltimore.osm.pbf").is_file():
        sys.exit(f"shipped extracts not found in {OSM.resolve()}")

    from lastmile.routing.matrix import calibrate as cal
    from lastmile.routing.matrix.haversine import HaversineProvider
    from lastmile.routing.matrix.road_graph import RoadGraph, RoadGraphProvider

    print("== build (fresh process, no cache) ==")
    for name in EXTRACTS:
        path = OSM / f"{name}.osm.pbf"
        r = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, check=True)
        b = json.loads(r.stdout)
        print(f"{name:15s} {path.stat().st_size / 1e6:5.2f} MB pbf  build {b['s']:.2f} s  peak +{b['peak_mb']:.0f} MB  "
              f"{b['vertices']:,} nodes  {b['edges']:,} edges  {b['km']:,.0f} km  "
              f"{b['components']} components, main {b['main']:.0%}")

    with tempfile.TemporaryDirectory() as cache:
        balt = OSM / "baltimore.osm.pbf"
        RoadGraph.from_pbf(balt, cache)
        load_s, road = best_of(args.repeat, lambda: RoadGraphProvider.from_pbf(balt, cache))
        assert road.road.loaded_from_cache
    print(f"\n== Baltimore from cache ==\nload + ready to answer: {load_s * 1000:.0f} ms")

    print("\n== duration matrices on Baltimore (best of %d) ==" % args.repeat)
    hav = HaversineProvider()
    figures = {}
    for n in (200, 1000):
        pts = cal.sample_points(road.road, n, seed=n)
        rs, m = best_of(args.repeat, lambda: road.matrix(pts))
        hs, _ = best_of(args.repeat, lambda: hav.matrix(pts))
        figures[n] = (rs, hs)
        print(f"{n:5d} x {n:<5d} road graph {rs:.3f} s   straight line {hs:.4f} s   ratio {rs / hs:,.0f}x")

    print(f"\n== straight-line fallback vs the road graph ({args.points} points per extract, pairs >= 250 m) ==")
    pooled = None
    for name in EXTRACTS:
        p = RoadGraphProvider.from_pbf(OSM / f"{name}.osm.pbf")
        pr = cal.pairs(p, cal.sample_points(p.road, args.points, seed=1))
        pooled = pr if pooled is None else pooled + pr
        c = cal.fit(pr)
        dm, d90 = cal.errors(pr, hav.circuity, hav.speed_ms * 3.6)
        print(f"{name:15s} fit: {c}\n{'':15s} defaults ({hav.circuity} at {hav.speed_ms * 3.6:.0f} km/h): "
              f"mean {dm:.0%}, p90 {d90:.0%}")
    c = cal.fit(pooled)
    dm, d90 = cal.errors(pooled, hav.circuity, hav.speed_ms * 3.6)
    print(f"{'pooled':15s} fit: {c}\n{'':15s} defaults: mean {dm:.0%}, p90 {d90:.0%}")

    rs, hs = figures[1000]
    print(f"\nKEY: Baltimore 1000x1000 road matrix {rs:.2f} s (target <= 2 s, {rs / hs:,.0f}x straight-line "
          f"{hs * 1000:.0f} ms); cache load {load_s * 1000:.0f} ms (target <= 1000 ms); "
          f"fallback error mean {dm:.0%} / p90 {d90:.0%}")


if __name__ == "__main__":
    main()
