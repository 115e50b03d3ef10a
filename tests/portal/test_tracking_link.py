"""One tracking link per order: every notification about an order carries the same
link, stored once (as a hash), and it opens that order's tracking page."""

from __future__ import annotations

from sqlalchemy import func, select


def test_every_notification_of_an_order_reuses_its_link(client, world, day, db, settings):
    from lastmile.notifications.service import tracking_token_for
    from lastmile.orders.models import Order, TrackingToken

    a, b = day["stops"][0]["order_id"], day["stops"][1]["order_id"]
    with db.session() as s:
        first = tracking_token_for(s, settings, s.get(Order, a))
        again = tracking_token_for(s, settings, s.get(Order, a))
        other = tracking_token_for(s, settings, s.get(Order, b))
        s.commit()
        rows = s.scalar(select(func.count()).select_from(TrackingToken).where(TrackingToken.order_id == a))
    assert first == again and first != other and len(first) >= 32
    assert rows == 2  # the link the day fixture issued, and this one -- once
    state = client.get(f"/t/{first}/state")
    assert state.status_code == 200 and state.json()["order"]["reference"] == "P0"
