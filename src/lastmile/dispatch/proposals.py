"""Dynamic re-optimization proposals (filled in below) and the per-organization policy."""

from __future__ import annotations

from sqlalchemy.orm import Session

from .models import DispatchPolicy


def policy_for(session: Session, organization_id: str) -> DispatchPolicy:
    """The organization's policy; defaults (nothing automatic) when none is stored."""
    pol = session.get(DispatchPolicy, organization_id)
    if pol is None:
        pol = DispatchPolicy(organization_id=organization_id, auto_apply_insertions=False, allow_next_stop=False,
                             slot_template={})
    return pol
