"""Live ETAs and arrival detection from driver positions (issue 6).

The tracking pipeline calls ``on_position`` for every accepted fix, inside its
transaction. Being filled in this session by the ETA work: geofence + dwell arrival
and departure, ETA refresh into ``RouteStop.eta_at`` with history, and the
"approaching" trigger.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session


def on_position(
    session: Session, *, driver_id: str, route_id: str | None, lat: float, lon: float, at: datetime,
    speed_mps: float | None = None,
) -> None:
    """React to one accepted position of a driver (no-op until the ETA work lands)."""
    return None
