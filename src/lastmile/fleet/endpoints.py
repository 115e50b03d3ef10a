from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.access import Principal, allow
from ..auth.models import User
from ..auth.service import record_audit
from ..depots.models import Depot
from ..errors import Conflict, Invalid, NotFound
from ..kit.repo import get_in_org
from ..kit.schema import Id, ServiceDate
from ..kit.web import get_session, snapshot
from .models import Driver, Shift, Vehicle
from .schemas import (
    DriverCreate,
    DriverOut,
    ShiftCreate,
    ShiftOut,
    ShiftUpdate,
    VehicleCreate,
    VehicleOut,
    VehicleUpdate,
)

router = APIRouter(tags=["fleet"])
SessionDep = Annotated[Session, Depends(get_session)]
staff = allow("admin", "dispatcher")


def _ref(session: Session, model: type, obj_id: str, p: Principal, field: str, what: str) -> None:
    try:
        get_in_org(session, model, obj_id, p.organization_id, what)
    except NotFound:
        raise Invalid(f"{what} {obj_id} does not exist", field=field) from None


@router.post("/vehicles", response_model=VehicleOut, status_code=201)
def create_vehicle(body: VehicleCreate, session: SessionDep, p: Principal = Depends(staff)) -> Vehicle:
    _ref(session, Depot, body.depot_id, p, "depot_id", "depot")
    v = Vehicle(organization_id=p.organization_id, **body.model_dump())
    session.add(v)
    session.flush()
    record_audit(session, p, "vehicle.create", "vehicle", v.id, None, snapshot(v))
    session.commit()
    return v


@router.get("/vehicles", response_model=list[VehicleOut])
def list_vehicles(session: SessionDep, p: Principal = Depends(staff)) -> list[Vehicle]:
    return list(session.scalars(select(Vehicle).where(Vehicle.organization_id == p.organization_id).order_by(Vehicle.id)))


@router.get("/vehicles/{vehicle_id}", response_model=VehicleOut)
def get_vehicle(vehicle_id: Id, session: SessionDep, p: Principal = Depends(staff)) -> Vehicle:
    return get_in_org(session, Vehicle, vehicle_id, p.organization_id, "vehicle")


@router.patch("/vehicles/{vehicle_id}", response_model=VehicleOut)
def update_vehicle(vehicle_id: Id, body: VehicleUpdate, session: SessionDep, p: Principal = Depends(staff)) -> Vehicle:
    v = get_in_org(session, Vehicle, vehicle_id, p.organization_id, "vehicle")
    before = snapshot(v)
    for k, val in body.model_dump(exclude_unset=True).items():
        if val is not None or k.startswith("capacity_"):
            setattr(v, k, val)
    record_audit(session, p, "vehicle.update", "vehicle", v.id, before, snapshot(v))
    session.commit()
    return v


@router.post("/drivers", response_model=DriverOut, status_code=201)
def create_driver(body: DriverCreate, session: SessionDep, p: Principal = Depends(staff)) -> Driver:
    if body.user_id is not None:
        user = session.get(User, body.user_id)
        if user is None or user.organization_id != p.organization_id or user.role != "driver":
            raise Invalid("user_id must name a user with role driver", field="user_id")
        if session.scalar(select(Driver.id).where(Driver.user_id == body.user_id)):
            raise Conflict("this user is already a driver", field="user_id")
    d = Driver(organization_id=p.organization_id, **body.model_dump())
    session.add(d)
    session.flush()
    record_audit(session, p, "driver.create", "driver", d.id, None, snapshot(d))
    session.commit()
    return d


@router.get("/drivers", response_model=list[DriverOut])
def list_drivers(session: SessionDep, p: Principal = Depends(staff)) -> list[Driver]:
    return list(session.scalars(select(Driver).where(Driver.organization_id == p.organization_id).order_by(Driver.id)))


@router.get("/drivers/{driver_id}", response_model=DriverOut)
def get_driver(
    driver_id: Id, session: SessionDep, p: Principal = Depends(allow("admin", "dispatcher", "driver"))
) -> Driver:
    if p.role == "driver" and p.driver_id != driver_id:
        raise NotFound("driver not found")
    return get_in_org(session, Driver, driver_id, p.organization_id, "driver")


@router.post("/shifts", response_model=ShiftOut, status_code=201)
def create_shift(body: ShiftCreate, session: SessionDep, p: Principal = Depends(staff)) -> Shift:
    _ref(session, Driver, body.driver_id, p, "driver_id", "driver")
    _ref(session, Vehicle, body.vehicle_id, p, "vehicle_id", "vehicle")
    _ref(session, Depot, body.depot_id, p, "depot_id", "depot")
    data = body.model_dump(exclude={"break_"})
    if body.break_ is not None:
        data.update(break_start_at=body.break_.earliest, break_end_at=body.break_.latest, break_s=body.break_.duration_s)
    s = Shift(organization_id=p.organization_id, **data)
    session.add(s)
    session.flush()
    record_audit(session, p, "shift.create", "shift", s.id, None, snapshot(s))
    session.commit()
    return s


@router.get("/shifts", response_model=list[ShiftOut])
def list_shifts(
    session: SessionDep,
    p: Principal = Depends(allow("admin", "dispatcher", "driver")),
    date: Annotated[ServiceDate | None, Query()] = None,
    depot_id: Annotated[Id | None, Query()] = None,
) -> list[Shift]:
    """Shifts; a driver sees only their own."""
    q = select(Shift).where(Shift.organization_id == p.organization_id)
    if p.role == "driver":
        q = q.where(Shift.driver_id == (p.driver_id or ""))
    if date is not None:
        q = q.where(Shift.date == date)
    if depot_id is not None:
        q = q.where(Shift.depot_id == depot_id)
    return list(session.scalars(q.order_by(Shift.start_at, Shift.id).limit(1000)))


@router.patch("/shifts/{shift_id}", response_model=ShiftOut)
def update_shift(shift_id: Id, body: ShiftUpdate, session: SessionDep, p: Principal = Depends(staff)) -> Shift:
    """Mark a shift (un)available, e.g. when a van breaks down."""
    s = get_in_org(session, Shift, shift_id, p.organization_id, "shift")
    before = snapshot(s)
    s.available = body.available
    record_audit(session, p, "shift.update", "shift", s.id, before, snapshot(s))
    session.commit()
    return s
