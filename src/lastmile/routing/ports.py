"""Protocols the engine depends on. Implementations live in ``matrix/`` and
the backend adapters; callers may bring their own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from .domain import LatLon, Problem


@dataclass(frozen=True)
class Matrix:
    """Free-flow travel between locations: the base that time-of-day factors scale.

    ``distances`` in metres and ``durations`` in seconds, both int64 ``n x n``.
    ``provider`` names what made it (e.g. ``"haversine"``, ``"osrm"``,
    ``"road-graph"``) so every screen can say whether estimates are straight-line.
    """

    distances: np.ndarray
    durations: np.ndarray
    provider: str

    def __post_init__(self) -> None:
        n = self.distances.shape[0]
        if self.distances.shape != (n, n) or self.durations.shape != (n, n):
            raise ValueError("matrix must be square and distances/durations the same shape")

    @property
    def size(self) -> int:
        return int(self.distances.shape[0])


@runtime_checkable
class MatrixProvider(Protocol):
    name: str

    def matrix(self, locations: Sequence[LatLon]) -> Matrix: ...


@runtime_checkable
class TravelTimeModel(Protocol):
    """Time-dependent travel: how long leg ``i -> j`` takes when leaving at ``depart``.

    Indices refer to the location list the model was built for. Must be FIFO:
    leaving later never arrives earlier.
    """

    def travel(self, i: int, j: int, depart: int) -> int: ...

    def distance(self, i: int, j: int) -> int: ...

    def static_durations(self, depart_by_origin: np.ndarray) -> np.ndarray:
        """An ``n x n`` duration matrix where row ``i`` leaves at ``depart_by_origin[i]``."""
        ...


class ProgressCallback(Protocol):
    def __call__(self, fraction: float, message: str) -> None: ...


@runtime_checkable
class Solver(Protocol):
    """A backend decides sequences on a static matrix; timing is ours (schedule.py)."""

    name: str

    def solve(self, problem: Problem, durations: np.ndarray, distances: np.ndarray,
              index: "LocationIndex", inp: "SolverInput") -> "SolverOutput": ...


@dataclass(frozen=True)
class LocationIndex:
    """Maps depots and stops to rows of the matrix: depots first, then stops."""

    depot_row: dict[str, int]
    stop_row: dict[str, int]
    locations: tuple[LatLon, ...]

    @classmethod
    def of(cls, problem: Problem) -> "LocationIndex":
        locs: list[LatLon] = []
        depot_row: dict[str, int] = {}
        stop_row: dict[str, int] = {}
        for d in problem.depots:
            depot_row[d.id] = len(locs)
            locs.append(d.location)
        for s in problem.stops:
            stop_row[s.id] = len(locs)
            locs.append(s.location)
        return cls(depot_row, stop_row, tuple(locs))


@dataclass(frozen=True)
class SolverInput:
    """What a backend gets besides the problem: the stops it may use, per-stop
    time windows already tightened by the time-dependent repair loop, and a budget."""

    stop_ids: tuple[str, ...]
    window_end_cut: dict[str, int]  # stop id -> seconds to subtract from its last window end
    shift_cut: dict[str, int]  # vehicle id -> seconds to subtract from its shift end
    allowed: dict[str, frozenset[str]]  # stop id -> vehicle ids that may serve it
    time_limit_s: float
    seed: int
    objective: str
    balance: float
    initial: dict[str, tuple[str, ...]] | None = None  # vehicle id -> stop ids (warm start)
    progress: ProgressCallback | None = None
    iterations: int | None = None  # stop after this many iterations instead of on time (deterministic)


@dataclass(frozen=True)
class SolverOutput:
    sequences: dict[str, tuple[str, ...]]  # vehicle id -> ordered stop ids
    dropped: tuple[str, ...]
    runtime_s: float
    iterations: int = 0
