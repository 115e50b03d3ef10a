"""Shared reader for the VRPTW benchmark instances (Solomon / Gehring-Homberger text
format) and their best-known solutions, plus exact (double-precision) evaluation.

Integer convention used by every solver we build a matrix for: DIMACS, i.e. each
Euclidean arc truncated to one decimal and scaled by 10 (``floor(10 * d)``), for
both distance and travel time; windows and service times are scaled by 10 as well.
That is exactly what ``pyvrp.read(path, round_func="dimacs")`` gives plain PyVRP,
so all four solvers see the same numbers. The reported distance of every solver is
recomputed in exact double-precision Euclidean on its routes (the BKS convention,
see the benchmark READMEs), and its routes are re-checked for time windows and
capacity with exact times (truncation can make a tight route a hair late).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path("/work/shared/benchmarks/vrptw")
SETS = {"solomon": ROOT / "solomon", "homberger": ROOT / "homberger200"}
SCALE = 10  # DIMACS: one decimal, truncated


@dataclass(frozen=True)
class Instance:
    name: str
    num_vehicles: int
    capacity: int
    x: np.ndarray  # index 0 = depot, 1..n = customers
    y: np.ndarray
    demand: np.ndarray
    ready: np.ndarray
    due: np.ndarray
    service: np.ndarray

    @property
    def n(self) -> int:
        """Number of customers."""
        return len(self.x) - 1

    def euclid(self) -> np.ndarray:
        dx = self.x[:, None] - self.x[None, :]
        dy = self.y[:, None] - self.y[None, :]
        return np.hypot(dx, dy)

    def dimacs(self) -> np.ndarray:
        """Integer arc lengths = travel times, DIMACS convention (x10, truncated)."""
        return np.floor(self.euclid() * SCALE + 1e-9).astype(np.int64)


@dataclass(frozen=True)
class BKS:
    vehicles: int
    distance: float  # hierarchical (vehicles first, then distance)
    distonly_vehicles: int | None = None
    distonly_distance: float | None = None  # best known when minimising distance only

    @property
    def ref_distance(self) -> float:
        """Reference for a distance-minimising solver: distance-only BKS if known."""
        return self.distonly_distance if self.distonly_distance is not None else self.distance

    @property
    def ref_vehicles(self) -> int:
        return self.distonly_vehicles if self.distonly_vehicles is not None else self.vehicles


def read_instance(path: str | Path) -> Instance:
    """Read a Solomon-format text file (Solomon and Gehring-Homberger)."""
    path = Path(path)
    lines = path.read_text().splitlines()
    name = lines[0].strip()
    num_vehicles = capacity = None
    rows: list[list[float]] = []
    k = 0
    while k < len(lines):
        head = lines[k].strip().upper()
        if head.startswith("NUMBER") and "CAPACITY" in head:
            k += 1
            while not lines[k].strip():
                k += 1
            num_vehicles, capacity = (int(v) for v in lines[k].split()[:2])
        elif head.startswith("CUST"):
            for line in lines[k + 1:]:
                parts = line.split()
                if len(parts) >= 7 and parts[0].isdigit():
                    rows.append([float(v) for v in parts[:7]])
            break
        k += 1
    if num_vehicles is None or capacity is None or not rows:
        raise ValueError(f"{path}: not a Solomon-format VRPTW file")
    a = np.array(rows)
    if not np.array_equal(a[:, 0], np.arange(len(a))):
        raise ValueError(f"{path}: customers are not numbered 0..n")
    return Instance(name or path.stem, num_vehicles, capacity, a[:, 1], a[:, 2], a[:, 3].astype(np.int64),
                    a[:, 4].astype(np.int64), a[:, 5].astype(np.int64), a[:, 6].astype(np.int64))


def read_bks(directory: str | Path) -> dict[str, BKS]:
    out: dict[str, BKS] = {}
    with open(Path(directory) / "bks.csv", newline="") as f:
        for row in csv.DictReader(f):
            dv, dd = row.get("distonly_vehicles"), row.get("distonly_distance")
            out[row["instance"].upper()] = BKS(int(row["vehicles"]), float(row["distance"]),
                                               int(dv) if dv else None, float(dd) if dd else None)
    return out


def instances(which: str) -> list[tuple[str, Path]]:
    """(set name, path) of every instance text file, Solomon then Homberger, in natural order."""
    sets = ["solomon", "homberger"] if which == "both" else [which]
    out = []
    for s in sets:
        files = sorted(SETS[s].glob("*.txt"), key=lambda p: _natural(p.stem))
        out.extend((s, p) for p in files)
    return out


def _natural(stem: str) -> tuple:
    import re

    return tuple(int(t) if t.isdigit() else t.upper() for t in re.split(r"(\d+)", stem))


def exact_distance(inst: Instance, routes: list[list[int]]) -> float:
    """Total double-precision Euclidean length of ``routes`` (customer indices 1..n)."""
    total = 0.0
    for r in routes:
        if not r:
            continue
        path = [0, *r, 0]
        for a, b in zip(path, path[1:]):
            total += math.hypot(inst.x[a] - inst.x[b], inst.y[a] - inst.y[b])
    return total


def check_exact(inst: Instance, routes: list[list[int]], tol: float = 1e-6) -> list[str]:
    """Problems with ``routes`` under exact (float) travel times: missing/duplicate
    customers, late arrivals, overload, late return to the depot."""
    problems: list[str] = []
    seen: set[int] = set()
    for k, r in enumerate(routes):
        if not r:
            continue
        t, load, cur = float(inst.ready[0]), 0, 0
        for c in r:
            if c in seen:
                problems.append(f"customer {c} visited twice")
            seen.add(c)
            t += math.hypot(inst.x[cur] - inst.x[c], inst.y[cur] - inst.y[c])
            if t > inst.due[c] + tol:
                problems.append(f"route {k}: customer {c} starts {t - inst.due[c]:.3f} late")
            t = max(t, float(inst.ready[c])) + inst.service[c]
            load += int(inst.demand[c])
            cur = c
        t += math.hypot(inst.x[cur] - inst.x[0], inst.y[cur] - inst.y[0])
        if t > inst.due[0] + tol:
            problems.append(f"route {k}: back at depot {t - inst.due[0]:.3f} late")
        if load > inst.capacity:
            problems.append(f"route {k}: load {load} > capacity {inst.capacity}")
    missing = set(range(1, inst.n + 1)) - seen
    if missing:
        problems.append(f"{len(missing)} customers not served")
    return problems
