"""JSON API of the archive: ``/api/v1/archives/households`` and ``/api/v1/archives/persons``.

Reads need an actor (a resident sees its own household, staff their ``archive.read``
scope); writes need ``archive.write`` (403 when no role grants it anywhere, 404 for a
record or unit outside its scope). Lists always mask ID numbers and phones; a detail shows
them to an actor holding ``archive.read_sensitive`` at the record's unit, after writing the
audit entry of that read.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator
from sqlmodel import Session

from core.archives import listing, service
from core.archives.crypto import cipher_for
from core.archives.disclosure import reveal
from core.archives.household_file import household_file
from core.archives.schemas import (
    HouseholdIn,
    HouseholdPatch,
    IdNumber,
    PersonIn,
    PersonPatch,
    Phone,
)
from core.identity.access import Actor
from core.identity.web import require_actor, require_permission
from core.web.inputs import Offset, RowId, no_nul

router = APIRouter(prefix="/archives", tags=["archives"])
MAX_PAGE = 200
Writer = Annotated[Actor, Depends(require_permission(service.WRITE))]
Reader = Annotated[Actor, Depends(require_actor)]
SearchText = Annotated[str | None, Query(min_length=1, max_length=50), AfterValidator(no_nul)]


def _session(request: Request) -> Session:
    return Session(request.app.state.kernel.engine, expire_on_commit=False)


@router.get("/households", summary="户列表 / list households")
def list_households_api(
    request: Request,
    actor: Reader,
    unit: Annotated[str | None, Query(description="单位或网格及其下级 / subtree")] = None,
    name: Annotated[SearchText, Query(description="成员姓名前缀 / member name prefix")] = None,
    id_number: Annotated[IdNumber, Query(description="身份证号（精确）/ exact")] = None,
    phone: Annotated[Phone, Query(description="联系电话（精确）/ exact")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """A page of the households the caller may see, in 户号 order."""
    kernel = request.app.state.kernel
    with _session(request) as session:
        return listing.list_households(
            session,
            actor,
            kernel.access,
            cipher_for(kernel),
            unit=unit,
            name=name,
            id_number=id_number,
            phone=phone,
            limit=limit,
            offset=offset,
        )


@router.get("/households/{household_id}", summary="一户一档 / one household with members")
def get_household_api(household_id: RowId, request: Request, actor: Reader) -> dict[str, Any]:
    """一户一档: the household and its members."""
    return household_file(request, actor, household_id)


@router.post("/households", status_code=201, summary="新建户 / create a household")
def create_household_api(body: HouseholdIn, request: Request, actor: Writer) -> dict[str, Any]:
    """A new household in a grid of the caller's write scope."""
    with _session(request) as session:
        household = service.create_household(session, actor, request.app.state.kernel.access, body)
    return service.household_out(household)


@router.patch("/households/{household_id}", summary="修改户 / update a household")
def update_household_api(
    household_id: RowId, body: HouseholdPatch, request: Request, actor: Writer
) -> dict[str, Any]:
    """Change a household (``version`` as read; 409 when stale)."""
    with _session(request) as session:
        household = service.update_household(
            session, actor, request.app.state.kernel.access, household_id, body
        )
    return service.household_out(household)


@router.get("/persons/{person_id}", summary="人员详情 / one person")
def get_person_api(person_id: RowId, request: Request, actor: Reader) -> dict[str, Any]:
    """One person."""
    kernel = request.app.state.kernel
    with _session(request) as session:
        person = service.visible_person(session, actor, kernel.access, person_id)
    unmasked = reveal(request, actor, "person", person_id, person.unit_code)
    return service.person_out(person, cipher_for(kernel), unmasked)


@router.post("/persons", status_code=201, summary="新建人员 / create a person")
def create_person_api(body: PersonIn, request: Request, actor: Writer) -> dict[str, Any]:
    """A new member of a household in the caller's write scope."""
    kernel = request.app.state.kernel
    cipher = cipher_for(kernel)
    with _session(request) as session:
        person = service.create_person(session, actor, kernel.access, cipher, body)
    return service.person_out(person, cipher, reveal=False)


@router.patch("/persons/{person_id}", summary="修改人员 / update a person")
def update_person_api(
    person_id: RowId, body: PersonPatch, request: Request, actor: Writer
) -> dict[str, Any]:
    """Change a person (``version`` as read; 409 when stale)."""
    kernel = request.app.state.kernel
    cipher = cipher_for(kernel)
    with _session(request) as session:
        person = service.update_person(session, actor, kernel.access, cipher, person_id, body)
    return service.person_out(person, cipher, reveal=False)
