from __future__ import annotations

from datetime import datetime
from typing import Any

from ..kit.schema import Out


class EventOut(Out):
    id: str
    at: datetime
    type: str
    subject_type: str
    subject_id: str
    actor: str | None = None  # who did it; not shown to shippers (staff and driver identities)
    data: dict[str, Any]
