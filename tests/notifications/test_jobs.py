"""The send job: enqueued only after commit, never for a rollback; the worker sends."""

from __future__ import annotations

from lastmile.jobs.queue import huey

from .helpers import make_order, move, rows


def _send_jobs():
    return [t for t in huey.pending() if t.name.endswith("send_notifications_task")]


def test_the_send_job_is_enqueued_after_commit_and_sends(db, client, world, monkeypatch):
    from lastmile.config import get_settings

    oid = make_order(client, world)
    huey.flush()
    move(db, oid, "assigned")
    [job] = _send_jobs()
    process = get_settings()  # what the worker runs with
    monkeypatch.setattr(process, "notify_quiet_start", "")
    counts = huey.execute(job)
    assert counts["sent"] == 1
    [row] = rows(db, oid)
    assert (row.status, row.provider) == ("sent", "log")


def test_a_rolled_back_event_queues_and_sends_nothing(db, client, world):
    from lastmile.orders.models import Order
    from lastmile.orders.service import transition

    oid = make_order(client, world)
    huey.flush()
    with db.session() as s:
        transition(s, "user:test", s.get(Order, oid), "assigned")
        s.rollback()
    assert _send_jobs() == [] and rows(db, oid) == []
