"""What proof a stop needs, and which parcel codes belong to an order.

Rules come from the order's own row in ``pod_rules``, else its shipper's, else the
settings (``LASTMILE_POD_REQUIRE_*``, ``LASTMILE_POD_REATTEMPT``); each field
inherits on its own. Parcel codes are the barcodes recorded on the order's items;
an order with none gets one code per parcel, ``<order id>-<n>`` (n = 1..parcels),
which is what the depot prints on its labels."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..config import Settings
from ..orders.models import Order
from .models import PodRules

FLAGS = ("signature", "photo", "scan_all", "exact_cod")


@dataclass(frozen=True)
class Rules:
    signature: bool
    photo: bool
    scan_all: bool
    exact_cod: bool
    contactless: bool  # the customer chose contactless delivery
    reattempt: str

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("reattempt")
        return out


def defaults(settings: Settings) -> dict[str, Any]:
    return {"signature": settings.pod_require_signature, "photo": settings.pod_require_photo,
            "scan_all": settings.pod_require_scan_all, "exact_cod": settings.pod_require_exact_cod,
            "reattempt": settings.pod_reattempt}


def customer_chose_contactless(session: Session, order: Order) -> bool:
    """The customer's choice on the tracking page (``portal.service.preferences``);
    False when the portal is not installed or nothing is recorded."""
    try:
        from ..portal.service import preferences  # the customer portal, when installed
    except ImportError:
        return False
    return bool(preferences(session, order).get("contactless"))


def rules_for(session: Session, settings: Settings, order: Order) -> Rules:
    rows = session.scalars(select(PodRules).where(or_(
        PodRules.order_id == order.id,
        PodRules.shipper_id == order.shipper_id if order.shipper_id else False,
    ))).all()
    merged = defaults(settings)
    for row in sorted(rows, key=lambda r: r.order_id is not None):  # shipper first, the order's own last
        for k in (*FLAGS, "reattempt"):
            v = getattr(row, k)
            if v is not None:
                merged[k] = v
    return Rules(contactless=customer_chose_contactless(session, order), **merged)


def parcel_codes(order: Order) -> list[str]:
    codes: list[str] = []
    for item in order.items or []:
        code = str(item.get("barcode") or "").strip() if isinstance(item, dict) else ""
        if code and code not in codes:
            codes.append(code)
    if codes:
        return codes
    return [f"{order.id}-{n}" for n in range(1, max(order.demand_parcels, 1) + 1)]
