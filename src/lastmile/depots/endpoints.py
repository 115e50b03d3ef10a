from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.access import Principal, allow
from ..auth.service import record_audit
from ..errors import Conflict
from ..kit.repo import get_in_org
from ..kit.schema import Id
from ..kit.web import get_session, snapshot
from .models import Depot
from .schemas import DepotCreate, DepotOut, DepotUpdate

router = APIRouter(tags=["depots"])
SessionDep = Annotated[Session, Depends(get_session)]


@router.post("/depots", response_model=DepotOut, status_code=201)
def create_depot(body: DepotCreate, session: SessionDep, p: Principal = Depends(allow("admin"))) -> Depot:
    if body.code and session.scalar(select(Depot.id).where(Depot.organization_id == p.organization_id,
                                                           Depot.code == body.code)):
        raise Conflict("a depot with this code exists", field="code")
    depot = Depot(organization_id=p.organization_id, **body.model_dump())
    session.add(depot)
    session.flush()
    record_audit(session, p, "depot.create", "depot", depot.id, None, snapshot(depot))
    session.commit()
    return depot


@router.get("/depots", response_model=list[DepotOut])
def list_depots(session: SessionDep, p: Principal = Depends(allow("admin", "dispatcher", "driver"))) -> list[Depot]:
    return list(session.scalars(select(Depot).where(Depot.organization_id == p.organization_id).order_by(Depot.id)))


@router.get("/depots/{depot_id}", response_model=DepotOut)
def get_depot(
    depot_id: Id, session: SessionDep, p: Principal = Depends(allow("admin", "dispatcher", "driver"))
) -> Depot:
    return get_in_org(session, Depot, depot_id, p.organization_id, "depot")


@router.patch("/depots/{depot_id}", response_model=DepotOut)
def update_depot(
    depot_id: Id, body: DepotUpdate, session: SessionDep, p: Principal = Depends(allow("admin"))
) -> Depot:
    depot = get_in_org(session, Depot, depot_id, p.organization_id, "depot")
    before = snapshot(depot)
    for k, v in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(depot, k, v)
    record_audit(session, p, "depot.update", "depot", depot.id, before, snapshot(depot))
    session.commit()
    return depot
