"""The other four archive categories of domain.md §2.2: 住房 (``archive_house``), 场所
(``archive_place``), 车辆 (``archive_vehicle``) and 物业 (``archive_estate`` 小区,
``archive_property_company`` 物业企业, ``archive_owners_committee`` 业委会).

Only in-scope fields: no pass records, 重点车辆/管控 flags, faces or floor plans (§2.3, §6).
Every record has its ``source``, ``created_at``/``updated_at`` and a ``version`` (409 on a
stale one). A house, place, estate and property company carry their own ``unit_code``; a
vehicle belongs to a household and a committee to an estate, and both take their unit from
that parent in every query, so moving the parent never leaves them behind.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from core.db.metadata import metadata  # noqa: F401  (naming convention first)
from core.db.types import UTCDateTime, utcnow

HOUSE_USES = {"own": "自住", "business": "商用", "rented": "出租", "other": "其他"}
RESIDENCE_TYPES = {
    "bought": "自购",
    "rented": "租赁",
    "lodging": "寄居",
    "borrowed": "借住",
    "dormitory": "单位宿舍",
    "temporary": "临时宿舍",
    "worker_flat": "农民工公寓",
}
PLACE_KINDS = {
    "enterprise": "非公经济组织",
    "social": "社会组织",
    "mass_defence": "群防群治组织",
    "public_venue": "公共场所",
    "other": "其他",
}
ESTATE_KINDS = {"commercial": "商品房小区", "resettlement": "安置小区", "village": "自然村"}
VEHICLE_USES = {"own": "自有", "leased": "租赁", "borrowed": "借用"}
ENERGIES = {"petrol": "汽油", "diesel": "柴油", "electric": "纯电动", "hybrid": "混合动力"}


class _Record(SQLModel):
    """The columns every archive record has."""

    source: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    version: int = 1


class ArchivePropertyCompany(_Record, table=True):
    """A property-management company (物业企业); its contact phone is masked on read."""

    __tablename__ = "archive_property_company"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, index=True)
    credit_code: str | None = Field(default=None, max_length=18)  # 统一社会信用代码
    contact_name: str | None = Field(default=None, max_length=50)
    contact_phone: str | None = Field(default=None, max_length=20)
    unit_code: str = Field(foreign_key="unit.code", max_length=15, index=True)


class ArchiveEstate(_Record, table=True):
    """A residential estate or natural village (小区/自然村) and its property company."""

    __tablename__ = "archive_estate"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, index=True)
    address: str = Field(max_length=200)
    kind: str = Field(max_length=16)
    building_count: int | None = None
    house_count: int | None = None
    completed_year: int | None = None
    property_company_id: int | None = Field(
        default=None, foreign_key="archive_property_company.id", index=True
    )
    contract_start: date | None = None  # 物业服务合同期
    contract_end: date | None = None
    unit_code: str = Field(foreign_key="unit.code", max_length=15, index=True)


class ArchiveOwnersCommittee(_Record, table=True):
    """An estate's owners' committee (业委会) for one term."""

    __tablename__ = "archive_owners_committee"

    id: int | None = Field(default=None, primary_key=True)
    estate_id: int = Field(foreign_key="archive_estate.id", index=True)
    chair_name: str = Field(max_length=50)
    member_count: int
    term_start: date
    term_end: date


class ArchiveHouse(_Record, table=True):
    """A dwelling (住房) in a grid, optionally in an estate and lived in by a household."""

    __tablename__ = "archive_house"

    id: int | None = Field(default=None, primary_key=True)
    address: str = Field(max_length=200)
    estate_id: int | None = Field(default=None, foreign_key="archive_estate.id", index=True)
    building: str | None = Field(default=None, max_length=20)  # 楼栋
    entrance: str | None = Field(default=None, max_length=10)  # 单元
    floor: int | None = None
    room: str | None = Field(default=None, max_length=20)  # 门牌/室号
    usage: str = Field(max_length=16)
    residence_type: str | None = Field(default=None, max_length=16)
    floor_area: float | None = None  # 建筑面积 m²
    built_year: int | None = None
    household_id: int | None = Field(default=None, foreign_key="archive_household.id", index=True)
    unit_code: str = Field(foreign_key="unit.code", max_length=15, index=True)


class ArchivePlace(_Record, table=True):
    """A place or organisation (场所); its manager's phone is masked on read."""

    __tablename__ = "archive_place"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, index=True)
    kind: str = Field(max_length=16)
    credit_code: str | None = Field(default=None, max_length=18)
    address: str = Field(max_length=200)
    manager_name: str | None = Field(default=None, max_length=50)
    manager_phone: str | None = Field(default=None, max_length=20)
    employees: int | None = None
    hazardous: bool = False  # 危化企业
    opening_hours: str | None = Field(default=None, max_length=100)
    unit_code: str = Field(foreign_key="unit.code", max_length=15, index=True)


class ArchiveVehicle(_Record, table=True):
    """A household's vehicle (车辆); the plate is masked on read."""

    __tablename__ = "archive_vehicle"

    id: int | None = Field(default=None, primary_key=True)
    plate: str = Field(max_length=10, unique=True)
    brand: str | None = Field(default=None, max_length=50)  # 品牌/型号
    seats: int | None = None
    energy: str | None = Field(default=None, max_length=16)
    usage: str = Field(max_length=16)
    parking_space: str | None = Field(default=None, max_length=20)
    household_id: int = Field(foreign_key="archive_household.id", index=True)
    owner_id: int | None = Field(default=None, foreign_key="archive_person.id", index=True)
