from __future__ import annotations

import pytest

from lastmile.jobs.queue import huey, make_huey

from .conftest import TODAY, order_body

STOPS = [(27.5306, -99.4803), (27.5036, -99.5076), (27.5480, -99.4650), (27.5200, -99.4900), (27.5600, -99.4800)]


def _run_queued(plan_id: str) -> None:
    """Take jobs off the real (SQLite) queue and run them, as `lastmile worker` would."""
    while True:
        task = huey.dequeue()
        assert task is not None, "the plan job was not enqueued"
        if task.name.endswith("run_plan_task") and task.args[0] == plan_id:
            huey.execute(task)
            return


@pytest.fixture
def day_orders(client, world):
    d = world.headers["dispatcher"]
    ids = []
    for i, (lat, lon) in enumerate(STOPS):
        body = order_body(world, lat=lat, lon=lon, reference=f"S{i}", shipper_id=world.ids["shipper"], cod=None)
        ids.append(client.post("/orders", json=body, headers=d).json()["id"])
    heavy = order_body(world, reference="SOFA", skills=["heavy-lift"], shipper_id=world.ids["shipper"])
    ids.append(client.post("/orders", json=heavy, headers=d).json()["id"])
    return ids


def test_plan_job_runs_on_the_queue_and_stores_routes(client, world, day_orders, db):
    huey.flush()
    d = world.headers["dispatcher"]
    r = client.post("/plans", json={"date": TODAY.isoformat(), "depot_ids": [world.ids["depot"]],
                                    "options": {"time_limit_s": 1, "seed": 1}}, headers=d)
    assert r.status_code == 202, r.text
    plan = r.json()
    assert plan["status"] == "queued" and plan["progress"] == 0
    _run_queued(plan["id"])
    plan = client.get(f"/plans/{plan['id']}", headers=d).json()
    assert plan["status"] == "done", plan["message"]
    assert plan["progress"] == 1.0 and plan["finished_at"]
    routed = [s["order_id"] for rt in plan["routes"] for s in rt["stops"]]
    assert sorted(routed) == sorted(day_orders[:5])
    assert [u["order_id"] for u in plan["unassigned"]] == [day_orders[5]]
    assert plan["unassigned"][0]["reason"]
    for rt in plan["routes"]:
        assert [s["seq"] for s in rt["stops"]] == list(range(1, len(rt["stops"]) + 1))
        assert rt["driver_id"] in (world.ids["driver_id1"], world.ids["driver_id2"])
        assert rt["depart_at"] <= rt["stops"][0]["arrival_at"] and not rt["published"]
    # drivers see nothing before publishing
    assert client.get("/routes", headers=world.headers["driver"]).json() == []
    r = client.post(f"/plans/{plan['id']}/publish", headers=d)
    assert r.status_code == 200 and r.json()["status"] == "published"
    for oid in day_orders[:5]:
        assert client.get(f"/orders/{oid}", headers=d).json()["status"] == "assigned"
    assert client.get(f"/orders/{day_orders[5]}", headers=d).json()["status"] == "pending"
    mine = client.get("/routes", headers=world.headers["driver"]).json()
    assert all(rt["driver_id"] == world.ids["driver_id1"] for rt in mine)
    other = [rt for rt in plan["routes"] if rt["driver_id"] != world.ids["driver_id1"]]
    for rt in other:
        assert client.get(f"/routes/{rt['id']}", headers=world.headers["driver"]).status_code == 404
    assert client.post(f"/plans/{plan['id']}/publish", headers=d).status_code == 409
    # a retried job does not run twice
    from lastmile.dispatch.service import run_plan

    assert run_plan(db, plan["id"]) == "published"


def test_progress_is_observable_and_failures_are_reported(client, world, day_orders, db):
    from lastmile.dispatch.service import run_plan

    d = world.headers["dispatcher"]
    plan = client.post("/plans", json={"date": TODAY.isoformat(), "depot_ids": [world.ids["depot"]]},
                       headers=d).json()
    seen = []

    def solver(problem, options, progress):
        progress(0.5, "half way")
        seen.append(client.get(f"/plans/{plan['id']}", headers=d).json())
        raise RuntimeError("solver exploded")

    assert run_plan(db, plan["id"], solver=solver) == "failed"
    assert seen[0]["status"] == "running" and seen[0]["progress"] == 0.5 and seen[0]["message"] == "half way"
    final = client.get(f"/plans/{plan['id']}", headers=d).json()
    assert final["status"] == "failed" and "solver exploded" in final["message"]
    assert client.post(f"/plans/{plan['id']}/publish", headers=d).status_code == 409


def test_plan_validation(client, world):
    d = world.headers["dispatcher"]
    r = client.post("/plans", json={"date": TODAY.isoformat(), "depot_ids": ["dep_01JD0000000000000000000000"]},
                    headers=d)
    assert r.status_code == 422 and r.json()["error"]["field"] == "depot_ids"
    r = client.post("/plans", json={"date": TODAY.isoformat(), "depot_ids": []}, headers=d)
    assert r.status_code == 422 and r.json()["error"]["field"] == "depot_ids"
    assert client.post("/plans", json={"date": TODAY.isoformat(), "depot_ids": [world.ids["depot"]]},
                       headers=world.headers["shipper"]).status_code == 403


def test_redis_queue_runs_the_same_task(client, world, day_orders, db, tmp_path):
    import redis

    from lastmile.config import Settings
    from lastmile.dispatch.tasks import run_plan_task

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/15").ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    rh = make_huey(Settings(redis_url="redis://127.0.0.1:6379/15", queue_name=f"lastmile-test-{tmp_path.name}"))
    assert type(rh).__name__ == "RedisHuey"
    task = rh.task(context=False)(run_plan_task.func)  # the same function, registered on Redis
    plan = client.post("/plans", json={"date": TODAY.isoformat(), "depot_ids": [world.ids["depot"]],
                                       "options": {"time_limit_s": 1}}, headers=world.headers["dispatcher"]).json()
    try:
        task(plan["id"], db.url)
        job = rh.dequeue()
        rh.execute(job)
    finally:
        rh.flush()
    assert client.get(f"/plans/{plan['id']}", headers=world.headers["dispatcher"]).json()["status"] == "done"


def test_embedded_queue_is_sqlite_in_the_data_dir(tmp_path):
    from lastmile.config import Settings

    h = make_huey(Settings(data_dir=tmp_path))
    assert type(h).__name__ == "SqliteHuey" and (tmp_path / "queue.db").exists()


def test_a_lost_plan_job_is_enqueued_again_and_runs_once(client, world, db):
    from datetime import timedelta

    from sqlalchemy import update

    from lastmile.dispatch.models import Plan
    from lastmile.dispatch.service import requeue_stale_plans, run_plan
    from lastmile.kit.time import utcnow

    plan = client.post("/plans", json={"date": TODAY.isoformat(), "depot_ids": [world.ids["depot"]]},
                       headers=world.headers["dispatcher"]).json()
    huey.flush()  # the job is lost
    assert requeue_stale_plans(db) == []  # too young to call lost
    with db.session() as s:
        s.execute(update(Plan).where(Plan.id == plan["id"]).values(created_at=utcnow() - timedelta(minutes=5)))
        s.commit()
    assert requeue_stale_plans(db) == [plan["id"]]
    task = huey.dequeue()
    assert task.args[0] == plan["id"]
    calls = []
    assert run_plan(db, plan["id"], solver=lambda *a, **k: calls.append(1) or None) in ("done", "failed")
    assert run_plan(db, plan["id"], solver=lambda *a, **k: calls.append(1)) in ("done", "failed")  # no second run
    assert len(calls) <= 1
