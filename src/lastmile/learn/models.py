"""Trained models, versioned per kind (migration 0013_learn)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JsonType, UTCDateTime
from ..kit.ids import new_id
from ..kit.time import utcnow

KINDS = ("travel", "service")


class LearnedModel(Base):
    """One trained model. ``artifact`` is gzip'd JSON (the LightGBM model as its own
    text format plus the small lookup tables it needs): loading it runs no code,
    unlike a pickle. The newest ``version`` of a kind is the one in use."""

    __tablename__ = "learned_models"
    __table_args__ = (
        # also the index behind "the newest version of a kind"
        UniqueConstraint("kind", "version", name="uq_learned_models_kind_version"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("lrn"))
    kind: Mapped[str] = mapped_column(String(20))  # travel | service
    version: Mapped[int]
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    training_rows: Mapped[int]
    features: Mapped[list[str]] = mapped_column(JsonType, default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    artifact: Mapped[bytes] = mapped_column(LargeBinary)
