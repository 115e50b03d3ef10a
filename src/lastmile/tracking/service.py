"""Devices and the live view. Services flush, never commit.

A device is bound to one driver and has its own credential: a random token of 192
bits (``lm_dv_…``) shown once; only its SHA-256 is stored. OsmAnd / Traccar Client
send it as the ``id`` parameter; OwnTracks in HTTP mode as the Basic-auth password.
OwnTracks over MQTT is identified by its topic ``owntracks/<user>/<device>``: there
the **broker's ACL authenticates the publisher** (give each phone its own broker
login allowed to publish only to its own topic) -- lastmile only maps the topic to
the device and refuses topics it does not know.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.access import Principal
from ..auth.service import record_audit
from ..errors import Conflict, Invalid
from ..fleet.models import Driver
from ..kit.ids import hash_secret, new_secret
from ..kit.repo import get_in_org
from ..kit.time import utcnow
from ..kit.web import snapshot
from .config import TrackingSettings
from .models import Device, DriverLive
from .pipeline import Sender, next_stops

DEVICE_TOKEN_PREFIX = "lm_dv_"
CACHE_S = 3.0  # revocation reaches other processes within this


def create_device(session: Session, p: Principal, *, driver_id: str, kind: str, name: str,
                  owntracks_user: str | None, owntracks_device: str | None) -> tuple[Device, str]:
    try:
        driver = get_in_org(session, Driver, driver_id, p.organization_id, "driver")
    except Exception:
        raise Invalid(f"driver {driver_id} does not exist", field="driver_id") from None
    if not driver.active:
        raise Invalid("the driver is not active", field="driver_id")
    topic = None
    if kind == "owntracks":
        if not owntracks_user or not owntracks_device:
            raise Invalid("an OwnTracks device needs owntracks_user and owntracks_device", field="owntracks_user")
        topic = f"owntracks/{owntracks_user}/{owntracks_device}"
        if session.scalar(select(Device.id).where(Device.topic == topic, Device.revoked_at.is_(None))):
            raise Conflict(f"another device already reports on {topic}", field="owntracks_device")
        # a revoked device keeps its row (positions name it) but frees its topic
        for old in session.scalars(select(Device).where(Device.topic == topic)):
            old.topic = None
    elif owntracks_user or owntracks_device:
        raise Invalid("owntracks_user and owntracks_device are for OwnTracks devices", field="owntracks_user")
    token = new_secret(DEVICE_TOKEN_PREFIX, 24)
    dev = Device(organization_id=p.organization_id, driver_id=driver.id, kind=kind, name=name,
                 token_hash=hash_secret(token), topic=topic, created_by=p.actor[:40])
    session.add(dev)
    session.flush()
    record_audit(session, p, "device.create", "device", dev.id, None, snapshot(dev))
    return dev, token


def revoke_device(session: Session, p: Principal, device_id: str) -> Device:
    """Revoke (idempotent): the credential stops working; positions keep the device."""
    dev = get_in_org(session, Device, device_id, p.organization_id, "device")
    if dev.revoked_at is None:
        before = snapshot(dev)
        dev.revoked_at = utcnow()
        record_audit(session, p, "device.revoke", "device", dev.id, before, snapshot(dev))
        forget(dev.token_hash, dev.topic)
    return dev


# -- identifying senders (cached briefly per process: one query saved per ping) --------

@dataclass(frozen=True, slots=True)
class DeviceRef:
    id: str
    organization_id: str
    driver_id: str
    kind: str

    def sender(self, source: str) -> Sender:
        return Sender(self.organization_id, self.driver_id, self.id, source)


_cache: dict[str, tuple[float, DeviceRef | None]] = {}
_cache_lock = threading.Lock()


def forget(token_hash: str | None = None, topic: str | None = None) -> None:
    with _cache_lock:
        for k in (f"t:{token_hash}", f"p:{topic}"):
            _cache.pop(k, None)


def _lookup(session: Session, key: str, where: Any) -> DeviceRef | None:
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    row = session.execute(
        select(Device.id, Device.organization_id, Device.driver_id, Device.kind)
        .join(Driver, Driver.id == Device.driver_id)
        .where(where, Device.revoked_at.is_(None), Driver.active.is_(True))
    ).first()
    ref = DeviceRef(*row) if row is not None else None
    with _cache_lock:
        if len(_cache) > 50_000:
            _cache.clear()
        _cache[key] = (now + CACHE_S, ref)
    return ref


def device_by_token(session: Session, token: str) -> DeviceRef | None:
    h = hash_secret(token)
    return _lookup(session, f"t:{h}", Device.token_hash == h)


def device_by_topic(session: Session, topic: str) -> DeviceRef | None:
    return devices_by_topic(session, [topic])[topic]


TOPIC_CACHE_S = 10.0  # MQTT publishers are authenticated by the broker; this only maps topics


def devices_by_topic(session: Session, topics: list[str]) -> dict[str, DeviceRef | None]:
    """Devices of many MQTT topics at once (one query for those not cached)."""
    now = time.monotonic()
    out: dict[str, DeviceRef | None] = {}
    missing = []
    with _cache_lock:
        for t in set(topics):
            hit = _cache.get(f"p:{t}")
            if hit is not None and hit[0] > now:
                out[t] = hit[1]
            else:
                missing.append(t)
    if missing:
        found = {row[0]: DeviceRef(*row[1:]) for row in session.execute(
            select(Device.topic, Device.id, Device.organization_id, Device.driver_id, Device.kind)
            .join(Driver, Driver.id == Device.driver_id)
            .where(Device.topic.in_(missing), Device.revoked_at.is_(None), Driver.active.is_(True)))}
        with _cache_lock:
            if len(_cache) > 50_000:
                _cache.clear()
            for t in missing:
                out[t] = found.get(t)
                _cache[f"p:{t}"] = (now + TOPIC_CACHE_S, out[t])
    return out


# -- the live view ---------------------------------------------------------------------

def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt is not None else None


def live_view(session: Session, organization_id: str, cfg: TrackingSettings, at: datetime) -> list[dict[str, Any]]:
    """Every active driver: latest fix, state (offline once the fix is older than
    ``offline_after_s``), route and next stop."""
    rows = session.execute(
        select(Driver.id, Driver.name, DriverLive)
        .outerjoin(DriverLive, DriverLive.driver_id == Driver.id)
        .where(Driver.organization_id == organization_id, Driver.active.is_(True))
        .order_by(Driver.name, Driver.id)
    ).all()
    stops = next_stops(session, [lv.route_id for _, _, lv in rows if lv is not None and lv.route_id])
    out = []
    for driver_id, name, lv in rows:
        if lv is None:
            out.append({"driver_id": driver_id, "name": name, "state": "offline", "position": None,
                        "route_id": None, "next_stop": None})
            continue
        age = (at - lv.at).total_seconds()
        stop = stops.get(lv.route_id) if lv.route_id else None
        out.append({
            "driver_id": driver_id, "name": name,
            "state": "offline" if age > cfg.offline_after_s else lv.state,
            "position": {"lat": lv.lat, "lon": lv.lon, "at": _iso(lv.at), "received_at": _iso(lv.received_at),
                         "accuracy": lv.accuracy_m, "speed": lv.speed_mps, "bearing": lv.bearing,
                         "battery": lv.battery, "source": lv.source, "device_id": lv.device_id,
                         "age_s": max(0, int(age))},
            "route_id": lv.route_id,
            "next_stop": None if stop is None else {
                "id": stop.id, "seq": stop.seq, "status": stop.status, "order_id": stop.order_id,
                "lat": stop.lat, "lon": stop.lon, "eta_at": _iso(stop.eta_at)},
        })
    return out
