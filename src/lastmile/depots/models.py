from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime
from ..kit.ids import new_id
from ..kit.time import utcnow


class Depot(Base):
    __tablename__ = "depots"
    __table_args__ = (UniqueConstraint("organization_id", "code", name="uq_depots_org_code"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("dep"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    code: Mapped[str | None] = mapped_column(String(40))  # short name used in CSV files, e.g. LRD-N
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500), default="")
    lat: Mapped[float]
    lon: Mapped[float]
    timezone: Mapped[str] = mapped_column(String(40))  # America/Chicago | America/Matamoros
    opens_s: Mapped[int | None]  # seconds after local midnight
    closes_s: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
