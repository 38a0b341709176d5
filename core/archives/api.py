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

from core.archives import service
from core.archives.care_api import reassess_households
from core.archives.crypto import cipher_for
from core.archives.disclosure import reveal
from core.archives.extensions import extensions_of
from core.archives.household_file import household_file
from core.archives.models import ArchivePerson
from core.archives.schemas import (
    HouseholdIn,
    HouseholdPatch,
    PersonIn,
    PersonPatch,
)
from core.identity.access import Actor
from core.identity.web import require_actor, require_permission
from core.web.inputs import RowId, no_nul

router = APIRouter(prefix="/archives", tags=["archives"])
MAX_PAGE = 200
Writer = Annotated[Actor, Depends(require_permission(service.WRITE))]
Reader = Annotated[Actor, Depends(require_actor)]
SearchText = Annotated[str | None, Query(min_length=1, max_length=50), AfterValidator(no_nul)]


def _session(request: Request) -> Session:
    return Session(request.app.state.kernel.engine, expire_on_commit=False)


@router.get("/households/{household_id}", summary="一户一档 / one household with members")
def get_household_api(household_id: RowId, request: Request, actor: Reader) -> dict[str, Any]:
    """一户一档: the household, its members with their care level and tags, housing,
    vehicles, plugins' form records and sections, and a timeline."""
    return household_file(request, actor, household_id)


@router.post("/households", status_code=201, summary="新建户 / create a household")
def create_household_api(body: HouseholdIn, request: Request, actor: Writer) -> dict[str, Any]:
    """A new household in a grid of the caller's write scope, with plugins' ``extra``
    values (422 naming ``extra.<plugin>.<field>``)."""
    kernel = request.app.state.kernel
    extensions = extensions_of(kernel)
    with _session(request) as session:
        household = service.create_household(session, actor, kernel.access, body, extensions)
    return service.household_view(household, extensions)


@router.patch("/households/{household_id}", summary="修改户 / update a household")
def update_household_api(
    household_id: RowId, body: HouseholdPatch, request: Request, actor: Writer
) -> dict[str, Any]:
    """Change a household (``version`` as read; 409 when stale); ``extra`` merges per
    plugin, ``null`` removing a field."""
    kernel = request.app.state.kernel
    extensions = extensions_of(kernel)
    with _session(request) as session:
        household = service.update_household(
            session, actor, kernel.access, household_id, body, extensions
        )
    return service.household_view(household, extensions)


@router.get("/persons/{person_id}", summary="人员详情 / one person")
def get_person_api(person_id: RowId, request: Request, actor: Reader) -> dict[str, Any]:
    """One person."""
    kernel = request.app.state.kernel
    with _session(request) as session:
        person = service.visible_person(session, actor, kernel.access, person_id)
    unmasked = reveal(request, actor, "person", person_id, person.unit_code)
    return service.person_view(person, cipher_for(kernel), unmasked, extensions_of(kernel))


@router.post("/persons", status_code=201, summary="新建人员 / create a person")
def create_person_api(body: PersonIn, request: Request, actor: Writer) -> dict[str, Any]:
    """A new member of a household in the caller's write scope, with plugins' ``extra``
    values (422 naming ``extra.<plugin>.<field>``)."""
    kernel = request.app.state.kernel
    cipher, extensions = cipher_for(kernel), extensions_of(kernel)
    with _session(request) as session:
        person = service.create_person(session, actor, kernel.access, cipher, body, extensions)
        reassess_households(session, kernel, {person.household_id}, actor.label)
        session.commit()
    return service.person_view(person, cipher, False, extensions)


@router.patch("/persons/{person_id}", summary="修改人员 / update a person")
def update_person_api(
    person_id: RowId, body: PersonPatch, request: Request, actor: Writer
) -> dict[str, Any]:
    """Change a person (``version`` as read; 409 when stale); ``extra`` merges per plugin,
    ``null`` removing a field."""
    kernel = request.app.state.kernel
    cipher, extensions = cipher_for(kernel), extensions_of(kernel)
    with _session(request) as session:
        before = session.get(ArchivePerson, person_id)
        was_in = before.household_id if before is not None else None
        person = service.update_person(
            session, actor, kernel.access, cipher, person_id, body, extensions
        )
        affected = {person.household_id} | ({was_in} if was_in is not None else set())
        reassess_households(session, kernel, affected, actor.label)
        session.commit()
    return service.person_view(person, cipher, False, extensions)
