"""Smoke test for the benchmark's VRPTW reader (bench/_vrptw.py): one Solomon file,
the best-known table, and the exact evaluation on a known optimal route set."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import _vrptw

C101 = _vrptw.SETS["solomon"] / "C101.txt"
pytestmark = pytest.mark.skipif(not C101.exists(), reason="shared VRPTW benchmark data not present")

# The known optimum of C101 (10 routes, 828.94), customers by number.
C101_OPT = [
    [5, 3, 7, 8, 10, 11, 9, 6, 4, 2, 1, 75],
    [13, 17, 18, 19, 15, 16, 14, 12],
    [20, 24, 25, 27, 29, 30, 28, 26, 23, 22, 21],
    [32, 33, 31, 35, 37, 38, 39, 36, 34],
    [43, 42, 41, 40, 44, 46, 45, 48, 51, 50, 52, 49, 47],
    [57, 55, 54, 53, 56, 58, 60, 59],
    [67, 65, 63, 62, 74, 72, 61, 64, 68, 66, 69],
    [81, 78, 76, 71, 70, 73, 77, 79, 80],
    [90, 87, 86, 83, 82, 84, 85, 88, 89, 91],
    [98, 96, 95, 94, 92, 93, 97, 100, 99],
]


def test_reads_solomon_c101() -> None:
    inst = _vrptw.read_instance(C101)
    assert inst.name == "C101"
    assert (inst.num_vehicles, inst.capacity, inst.n) == (25, 200, 100)
    assert (inst.x[0], inst.y[0], inst.due[0]) == (40, 50, 1236)
    assert (inst.x[1], inst.y[1], inst.demand[1], inst.ready[1], inst.due[1], inst.service[1]) == (45, 68, 10, 912, 967, 90)
    assert inst.demand.sum() == 1810
    d = inst.dimacs()
    assert d.shape == (101, 101) and d[0, 1] == 186  # hypot(5, 18) = 18.68 -> 186


def test_reads_bks_tables() -> None:
    sol = _vrptw.read_bks(_vrptw.SETS["solomon"])
    assert len(sol) == 56
    assert sol["C101"] == _vrptw.BKS(10, 828.94, 10, 828.94)
    assert sol["R101"].vehicles == 19 and sol["R101"].ref_vehicles == 20
    assert sol["R101"].ref_distance == pytest.approx(1642.88)
    hom = _vrptw.read_bks(_vrptw.SETS["homberger"])
    assert len(hom) == 60 and hom["C1_2_1"].distance == pytest.approx(2704.57)
    assert hom["C1_2_1"].ref_distance == hom["C1_2_1"].distance  # no distance-only column there


def test_exact_evaluation_of_the_known_optimum() -> None:
    inst = _vrptw.read_instance(C101)
    assert _vrptw.exact_distance(inst, C101_OPT) == pytest.approx(828.94, abs=0.01)
    assert _vrptw.check_exact(inst, C101_OPT) == []
    broken = [r[:] for r in C101_OPT]
    broken[0].reverse()
    assert any("late" in p for p in _vrptw.check_exact(inst, broken))
    assert _vrptw.check_exact(inst, C101_OPT[1:]) == ["12 customers not served"]


def test_instance_listing() -> None:
    names = [p.stem for _, p in _vrptw.instances("solomon")]
    assert len(names) == 56 and names[0] == "C101" and names[-1] == "RC208"
    assert len(_vrptw.instances("homberger")) == 60
