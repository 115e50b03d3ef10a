"""The HTTP ingest's group commit: requests waiting together share one transaction,
each gets its own answer, and one bad request does not fail the others."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .conftest import NOW
from .helpers import positions


def _items(world, driver_key: str, n: int, start_s: int, lat: float = 27.53):
    from lastmile.tracking.decoders import Fix
    from lastmile.tracking.pipeline import Sender

    snd = Sender(world.org, world.ids[driver_key] if driver_key in world.ids else driver_key, None, "app")
    return [(snd, Fix(lat=lat + i * 1e-5, lon=-99.48, at=NOW + timedelta(seconds=start_s + i), source="app",
                      accuracy=8.0, index=i)) for i in range(n)]


def test_waiting_requests_share_one_transaction_and_get_their_own_answers(db, world, clock):
    from lastmile.tracking.batcher import IngestBatcher
    from lastmile.tracking.config import TrackingSettings
    from lastmile.tracking.stats import counters_for

    b = IngestBatcher(db, counters_for(db))
    cfg = TrackingSettings()
    with b._cond:  # three requests arrive while the batcher is busy
        f1 = b.submit(_items(world, "driver_id1", 3, 0), cfg)
        f2 = b.submit(_items(world, "driver_id2", 2, 0, lat=95.0), cfg)  # out of range: refused
        f3 = b.submit(_items(world, "driver_id1", 2, 10), cfg)
    o1, o2, o3 = f1.result(10), f2.result(10), f3.result(10)
    assert b.batches == 1 and b.requests == 3
    assert o1.reasons == [None, None, None] and o3.reasons == [None, None]
    assert o2.reasons == ["out_of_range", "out_of_range"]
    assert len(positions(db, world.ids["driver_id1"])) == 5


def test_a_failing_request_fails_alone(db, world, clock):
    from lastmile.tracking.batcher import IngestBatcher
    from lastmile.tracking.config import TrackingSettings
    from lastmile.tracking.stats import counters_for

    b = IngestBatcher(db, counters_for(db))
    cfg = TrackingSettings()
    with b._cond:
        good = b.submit(_items(world, "driver_id1", 2, 0), cfg)
        bad = b.submit(_items(world, "drv_does_not_exist", 1, 0), cfg)  # violates the drivers foreign key
        other = b.submit(_items(world, "driver_id2", 1, 0), cfg)
    assert good.result(10).accepted == 2 and other.result(10).accepted == 1
    with pytest.raises(Exception):
        bad.result(10)
    assert len(positions(db, world.ids["driver_id1"])) == 2 and len(positions(db, world.ids["driver_id2"])) == 1
