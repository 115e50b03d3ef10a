"""The naive dispatcher: first come, nearest driver with room, in assignment order."""

from __future__ import annotations

from lastmile.routing.domain import Depot, LatLon, Problem, Stop, TimeWindow, Vehicle
from lastmile.routing.naive import naive_plan


def _stop(i: str, lat: float, lon: float, demand: int = 1) -> Stop:
    return Stop(id=i, location=LatLon(lat, lon), service_s=60, demand=(demand,))


def test_each_order_goes_to_the_nearest_driver_with_room_in_arrival_order():
    depot = Depot(id="d", location=LatLon(27.50, -99.50))
    west = Vehicle(id="v1", start_depot="d", capacity=(2,), shift=TimeWindow(0, 86_000))
    east = Vehicle(id="v2", start_depot="d", capacity=(5,), shift=TimeWindow(0, 86_000))
    stops = (
        _stop("a", 27.50, -99.55),  # first: both at the depot, equally near -> the first vehicle (ties by id)
        _stop("b", 27.50, -99.60),  # nearest to west's last stop
        _stop("c", 27.50, -99.61),  # west is full (capacity 2): goes to east
        _stop("big", 27.50, -99.45, demand=9),  # fits nobody
    )
    plan = naive_plan(Problem(stops=stops, vehicles=(west, east), depots=(depot,), dimensions=("parcels",)))
    seqs = {r.vehicle_id: r.stop_ids for r in plan.routes}
    assert seqs["v1"] == ("a", "b")
    assert seqs["v2"] == ("c",)
    assert [u.stop_id for u in plan.unassigned] == ["big"]
    assert plan.stats.assigned == 3 and plan.backend == "naive"


def test_a_driver_is_not_given_work_past_the_end_of_the_shift():
    depot = Depot(id="d", location=LatLon(27.50, -99.50))
    short = Vehicle(id="short", start_depot="d", shift=TimeWindow(0, 1_800))  # half an hour
    stops = (_stop("near", 27.501, -99.501), _stop("far", 27.90, -99.90))
    plan = naive_plan(Problem(stops=stops, vehicles=(short,), depots=(depot,), dimensions=("parcels",)))
    assert plan.routes[0].stop_ids == ("near",)
    assert [u.stop_id for u in plan.unassigned] == ["far"]
