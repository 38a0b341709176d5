"""Request bodies and list filters of the four other archive categories: each field
validated where it is declared, so a bad value is a 422 naming it."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    create_model,
)

from core.archives.idnumbers import validate_phone
from core.archives.schemas import Line, UnitCode, Version
from core.web.inputs import no_nul

PLATE_PATTERN = r"^[\u4e00-\u9fa5][A-Z][A-Z0-9]{5,6}$"  # 浙H12345, 浙HD12345 (new energy)


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _phone(value: str | None) -> str | None:
    return None if value is None else validate_phone(value)


Phone = Annotated[str | None, AfterValidator(_phone)]
Ref = Annotated[int, Field(ge=1, le=2**31 - 1)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
Year = Annotated[int, Field(ge=1800, le=2200)]
Source = Annotated[Line, Field(max_length=64, title="数据来源")]
CreditCode = Annotated[str, StringConstraints(pattern=r"^[0-9A-HJ-NPQRTUWXY]{18}$")]
Plate = Annotated[str, BeforeValidator(_upper), StringConstraints(pattern=PLATE_PATTERN)]
Name = Annotated[Line, Field(max_length=100)]
Short = Annotated[Line, Field(max_length=20)]
Person = Annotated[Line, Field(max_length=50)]
Address = Annotated[Line, Field(max_length=200)]
HouseUse = Literal["own", "business", "rented", "other"]
ResidenceType = Literal[
    "bought", "rented", "lodging", "borrowed", "dormitory", "temporary", "worker_flat"
]
PlaceKind = Literal["enterprise", "social", "mass_defence", "public_venue", "other"]
EstateKind = Literal["commercial", "resettlement", "village"]
VehicleUse = Literal["own", "leased", "borrowed"]
Energy = Literal["petrol", "diesel", "electric", "hybrid"]
SearchText = Annotated[str, StringConstraints(min_length=1, max_length=50), AfterValidator(no_nul)]


class _Patch(BaseModel):
    version: Version


def patch_of(model: type[BaseModel]) -> type[_Patch]:
    """A category's PATCH body: every field of its create body, each optional (omitted means
    unchanged) with the same validation, and the ``version`` read. Derived, so the two
    cannot drift apart."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        checked = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
        fields[name] = (checked | None, Field(None, title=info.title))
    name = model.__name__.removesuffix("In") + "Patch"
    return create_model(name, __base__=_Patch, __module__=__name__, **fields)


class HouseIn(BaseModel):
    address: Address
    unit_code: UnitCode
    usage: HouseUse
    estate_id: Ref | None = None
    building: Short | None = None
    entrance: Annotated[Line, Field(max_length=10)] | None = None
    floor: Annotated[int, Field(ge=-10, le=200)] | None = None
    room: Short | None = None
    residence_type: ResidenceType | None = None
    floor_area: Annotated[float, Field(gt=0, le=100_000)] | None = None
    built_year: Year | None = None
    household_id: Ref | None = None
    source: Source = "manual"


class PlaceIn(BaseModel):
    name: Name
    kind: PlaceKind
    address: Address
    unit_code: UnitCode
    credit_code: CreditCode | None = None
    manager_name: Person | None = None
    manager_phone: Phone = None
    employees: Count | None = None
    hazardous: bool = False
    opening_hours: Annotated[Line, Field(max_length=100)] | None = None
    source: Source = "manual"


class VehicleIn(BaseModel):
    plate: Plate
    household_id: Ref
    usage: VehicleUse
    owner_id: Ref | None = None
    brand: Annotated[Line, Field(max_length=50)] | None = None
    seats: Annotated[int, Field(ge=1, le=100)] | None = None
    energy: Energy | None = None
    parking_space: Short | None = None
    source: Source = "manual"


class EstateIn(BaseModel):
    name: Name
    address: Address
    kind: EstateKind
    unit_code: UnitCode
    building_count: Count | None = None
    house_count: Count | None = None
    completed_year: Year | None = None
    property_company_id: Ref | None = None
    contract_start: date | None = None
    contract_end: date | None = None
    source: Source = "manual"


class PropertyCompanyIn(BaseModel):
    name: Name
    unit_code: UnitCode
    credit_code: CreditCode | None = None
    contact_name: Person | None = None
    contact_phone: Phone = None
    source: Source = "manual"


class CommitteeIn(BaseModel):
    estate_id: Ref
    chair_name: Person
    member_count: Annotated[int, Field(ge=3, le=99)]
    term_start: date
    term_end: date
    source: Source = "manual"


# -- list filters (query strings) ----------------------------------------------------------


class _Filters(BaseModel):
    model_config = {"extra": "forbid"}

    unit: Annotated[str, StringConstraints(pattern=r"^\d{12}(\d{3})?$")] | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0


class HouseFilters(_Filters):
    household_id: Ref | None = None
    estate_id: Ref | None = None
    usage: HouseUse | None = None


class PlaceFilters(_Filters):
    name: SearchText | None = None
    kind: PlaceKind | None = None
    hazardous: bool | None = None


class VehicleFilters(_Filters):
    household_id: Ref | None = None
    plate: Plate | None = None


class EstateFilters(_Filters):
    name: SearchText | None = None
    property_company_id: Ref | None = None


class PropertyCompanyFilters(_Filters):
    name: SearchText | None = None


class CommitteeFilters(_Filters):
    estate_id: Ref | None = None


HousePatch = patch_of(HouseIn)
PlacePatch = patch_of(PlaceIn)
VehiclePatch = patch_of(VehicleIn)
EstatePatch = patch_of(EstateIn)
PropertyCompanyPatch = patch_of(PropertyCompanyIn)
CommitteePatch = patch_of(CommitteeIn)
