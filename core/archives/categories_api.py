"""JSON API of the archive's other four categories under ``/api/v1/archives``: ``housing``
(住房), ``places`` (场所), ``vehicles`` (车辆), ``estates`` (小区), ``property-companies``
(物业企业) and ``owners-committees`` (业委会), each with a scoped, paginated, filtered list,
a detail, a create and a versioned update; plus a household's housing and vehicles
(``/households/{household_id}/housing`` and ``/vehicles``, 一户一档).

Permissions as for households: ``archive.read`` to read, ``archive.write`` to write (404
outside the scope). Plates and contact phones are masked in lists; a detail shows them to
an actor holding ``archive.read_sensitive`` at the record's unit, after auditing the read.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlmodel import Session, col

from core.archives import service
from core.archives.categories import (
    ArchiveEstate,
    ArchiveHouse,
    ArchiveOwnersCommittee,
    ArchivePlace,
    ArchivePropertyCompany,
    ArchiveVehicle,
)
from core.archives.category_schemas import (
    CommitteeFilters,
    CommitteeIn,
    CommitteePatch,
    EstateFilters,
    EstateIn,
    EstatePatch,
    HouseFilters,
    HouseIn,
    HousePatch,
    PlaceFilters,
    PlaceIn,
    PlacePatch,
    PropertyCompanyFilters,
    PropertyCompanyIn,
    PropertyCompanyPatch,
    VehicleFilters,
    VehicleIn,
    VehiclePatch,
)
from core.archives.category_service import (
    Category,
    create_record,
    list_records,
    mask_plate,
    owner_in_household,
    record_out,
    update_record,
    visible_record,
)
from core.archives.idnumbers import mask_phone
from core.archives.models import ArchiveHousehold, ArchivePerson
from core.audit.reads import audit_read
from core.identity.access import Actor
from core.identity.web import require_actor, require_permission
from core.web.inputs import RowId

router = APIRouter(prefix="/archives", tags=["archives"])
Writer = Annotated[Actor, Depends(require_permission(service.WRITE))]
Reader = Annotated[Actor, Depends(require_actor)]

HOUSING = Category(
    path="housing",
    kind="house",
    title="住房",
    model=ArchiveHouse,
    body=HouseIn,
    patch=HousePatch,
    filters=HouseFilters,
    grid_only=True,
    refs={"estate_id": ArchiveEstate, "household_id": ArchiveHousehold},
    order="address",
)
PLACES = Category(
    path="places",
    kind="place",
    title="场所",
    model=ArchivePlace,
    body=PlaceIn,
    patch=PlacePatch,
    filters=PlaceFilters,
    sensitive={"manager_phone": mask_phone},
    order="name",
)
VEHICLES = Category(
    path="vehicles",
    kind="vehicle",
    title="车辆",
    model=ArchiveVehicle,
    body=VehicleIn,
    patch=VehiclePatch,
    filters=VehicleFilters,
    parent=(ArchiveHousehold, "household_id"),
    refs={"owner_id": ArchivePerson},
    sensitive={"plate": mask_plate},
    unique="plate",
    check=owner_in_household,
)
ESTATES = Category(
    path="estates",
    kind="estate",
    title="小区",
    model=ArchiveEstate,
    body=EstateIn,
    patch=EstatePatch,
    filters=EstateFilters,
    refs={"property_company_id": ArchivePropertyCompany},
    order="name",
)
PROPERTY_COMPANIES = Category(
    path="property-companies",
    kind="property_company",
    title="物业企业",
    model=ArchivePropertyCompany,
    body=PropertyCompanyIn,
    patch=PropertyCompanyPatch,
    filters=PropertyCompanyFilters,
    sensitive={"contact_phone": mask_phone},
    order="name",
)
OWNERS_COMMITTEES = Category(
    path="owners-committees",
    kind="owners_committee",
    title="业委会",
    model=ArchiveOwnersCommittee,
    body=CommitteeIn,
    patch=CommitteePatch,
    filters=CommitteeFilters,
    parent=(ArchiveEstate, "estate_id"),
)
CATEGORIES = (HOUSING, PLACES, VEHICLES, ESTATES, PROPERTY_COMPANIES, OWNERS_COMMITTEES)


def _session(request: Request) -> Session:
    return Session(request.app.state.kernel.engine, expire_on_commit=False)


def _reveal(request: Request, actor: Actor, category: Category, rid: int, unit: str) -> bool:
    """Whether to show the record's sensitive fields; if so the read is audited first."""
    kernel = request.app.state.kernel
    if not category.sensitive or not kernel.allowed(actor, service.SENSITIVE, unit):
        return False
    audit_read(
        request,
        actor,
        service.SENSITIVE,
        target_type=category.kind,
        target_id=str(rid),
        unit_code=unit,
        fields=list(category.sensitive),
    )
    return True


def _add_routes(category: Category) -> None:
    """The list, detail, create and update routes of ``category``."""
    base = f"/{category.path}"
    Filters = Annotated[category.filters, Query()]  # type: ignore[name-defined]
    Body = category.body
    Patch = category.patch

    def list_api(request: Request, actor: Reader, filters: Filters) -> list[dict[str, Any]]:
        access = request.app.state.kernel.access
        with _session(request) as session:
            return list_records(session, actor, access, category, filters)

    def detail_api(record_id: RowId, request: Request, actor: Reader) -> dict[str, Any]:
        access = request.app.state.kernel.access
        with _session(request) as session:
            row, unit = visible_record(session, actor, access, category, record_id)
        reveal = _reveal(request, actor, category, record_id, unit)
        return record_out(category, row, unit, reveal)

    def create_api(body: Body, request: Request, actor: Writer) -> dict[str, Any]:  # type: ignore[valid-type]
        access = request.app.state.kernel.access
        with _session(request) as session:
            row, unit = create_record(session, actor, access, category, body)
        return record_out(category, row, unit)

    def update_api(
        record_id: RowId,
        body: Patch,  # type: ignore[valid-type]
        request: Request,
        actor: Writer,
    ) -> dict[str, Any]:
        access = request.app.state.kernel.access
        with _session(request) as session:
            row, unit = update_record(session, actor, access, category, record_id, body)
        return record_out(category, row, unit)

    title = category.title
    list_api.__doc__ = f"A page of the {category.path} the caller may read, filtered."
    detail_api.__doc__ = f"One {category.kind}."
    create_api.__doc__ = f"A new {category.kind} in the caller's write scope."
    update_api.__doc__ = f"Change a {category.kind} (``version`` as read; 409 when stale)."
    router.add_api_route(base, list_api, methods=["GET"], summary=f"{title}列表 / list")
    router.add_api_route(
        f"{base}/{{record_id}}", detail_api, methods=["GET"], summary=f"{title}详情 / detail"
    )
    router.add_api_route(
        base, create_api, methods=["POST"], status_code=201, summary=f"新建{title} / create"
    )
    router.add_api_route(
        f"{base}/{{record_id}}", update_api, methods=["PATCH"], summary=f"修改{title} / update"
    )


for _category in CATEGORIES:
    _add_routes(_category)


def _of_household(request: Request, actor: Actor, category: Category, hid: int) -> list[dict]:
    """The household's records of ``category`` (masked), if the actor may read the household
    (its ``archive.read`` scope or, for a resident, its own household)."""
    model = category.model
    with _session(request) as session:
        household = service.visible_household(session, actor, request.app.state.kernel.access, hid)
        query = (
            category.query()
            .where(col(model.household_id) == household.id)  # type: ignore[attr-defined]
            .order_by(col(model.id))  # type: ignore[attr-defined]
        )
        return [record_out(category, row, unit) for row, unit in session.exec(query)]


@router.get("/households/{household_id}/housing", summary="户的住房 / a household's housing")
def household_housing_api(
    household_id: RowId, request: Request, actor: Reader
) -> list[dict[str, Any]]:
    """The houses a household lives in (一户一档)."""
    return _of_household(request, actor, HOUSING, household_id)


@router.get("/households/{household_id}/vehicles", summary="户的车辆 / a household's vehicles")
def household_vehicles_api(
    household_id: RowId, request: Request, actor: Reader
) -> list[dict[str, Any]]:
    """The vehicles of a household (一户一档), plates masked."""
    return _of_household(request, actor, VEHICLES, household_id)
