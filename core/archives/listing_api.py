"""``GET /api/v1/archives/households``: the household list and search, and the query
parameters it shares with the list page (:func:`household_filters`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, BeforeValidator, Field
from sqlmodel import Session

from core.archives import listing, person_search, service
from core.archives.api import MAX_PAGE, Reader, SearchText
from core.archives.care import TAGS
from core.archives.crypto import cipher_for
from core.archives.listing import MemberFilter
from core.archives.schemas import IdNumber, Phone
from core.identity.access import Actor, scope_ranges
from core.identity.web import require_permission
from core.kernel import Kernel
from core.web.inputs import Offset

router = APIRouter(prefix="/archives", tags=["archives"])


def _known_tag(value: str | None) -> str | None:
    if value is not None and value not in TAGS:
        raise ValueError(f"未知的重点人群标签 / unknown tag; one of {', '.join(TAGS)}")
    return value


def _blank_is_none(value: Any) -> Any:
    """An empty field of the list page's form means "any", as if it were not sent."""
    return None if value == "" else value


# Every filter takes an empty value as absent: a GET form sends its empty fields.
Blank = BeforeValidator(_blank_is_none)
Text = Annotated[SearchText, Blank]
Tag = Annotated[str | None, Blank, AfterValidator(_known_tag)]
Age = Annotated[Annotated[int, Field(ge=0, le=150)] | None, Blank]
Level = Annotated[Literal["red", "yellow", "green"] | None, Blank]


@dataclass(frozen=True, slots=True)
class HouseholdFilters:
    """The list's filters, as read from the query string."""

    unit: str | None
    members: MemberFilter
    address: str | None

    def query(self) -> dict[str, str]:
        """The filters as query parameters (for links to other pages of the list)."""
        given = {"unit": self.unit, "address": self.address}
        given |= {
            "name": self.members.name,
            "tag": self.members.tag,
            "level": self.members.care_level,
            "age_min": self.members.age_min,
            "age_max": self.members.age_max,
        }
        return {k: str(v) for k, v in given.items() if v is not None}


def household_filters(
    unit: Annotated[str | None, Blank, Query(description="单位或网格及其下级 / subtree")] = None,
    name: Annotated[Text, Query(description="成员姓名前缀 / member name prefix")] = None,
    id_number: Annotated[IdNumber, Blank, Query(description="身份证号（精确）/ exact")] = None,
    phone: Annotated[Phone, Blank, Query(description="联系电话（精确）/ exact")] = None,
    tag: Annotated[Tag, Query(description="重点人群标签 / special-group tag")] = None,
    level: Annotated[Level, Query(description="关爱等级 / care level")] = None,
    age_min: Annotated[Age, Query(description="成员最小年龄 / member aged at least")] = None,
    age_max: Annotated[Age, Query(description="成员最大年龄 / member aged at most")] = None,
    address: Annotated[Text, Query(description="地址包含 / address contains")] = None,
) -> HouseholdFilters:
    """The list filters; every member filter applies to the same member."""
    if age_min is not None and age_max is not None and age_min > age_max:
        raise service.invalid("age_min", "最小年龄大于最大年龄 / age_min is above age_max", "query")
    members = MemberFilter(
        name=name,
        id_number=id_number,
        phone=phone,
        tag=tag,
        care_level=level,
        age_min=age_min,
        age_max=age_max,
    )
    return HouseholdFilters(unit=unit, members=members, address=address)


Filters = Annotated[HouseholdFilters, Depends(household_filters)]


def page_of_households(
    kernel: Kernel, actor: Actor, filters: HouseholdFilters, limit: int, offset: int
) -> list[dict[str, Any]]:
    """A page of the households ``actor`` may see, filtered: for the API and the list page."""
    with Session(kernel.engine, expire_on_commit=False) as session:
        return listing.list_households(
            session,
            actor,
            kernel.access,
            cipher_for(kernel),
            unit=filters.unit,
            members=filters.members,
            address=filters.address,
            limit=limit,
            offset=offset,
        )


@router.get("/households", summary="户列表 / list households")
def list_households_api(
    request: Request,
    actor: Reader,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """A page of the households the caller may see, in 户号 order, filtered by unit,
    address and what one member matches (name prefix, ID number, phone, tag, care level,
    age range)."""
    return page_of_households(request.app.state.kernel, actor, filters, limit, offset)


@router.get("/persons", summary="查找人员 / find persons by ID number or name")
async def find_persons_api(
    request: Request,
    actor: Annotated[Actor, Depends(require_permission(service.READ))],
    id_number: Annotated[IdNumber, Blank, Query(description="身份证号（精确）/ exact")] = None,
    name: Annotated[Text, Query(description="姓名前缀 / name prefix")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
) -> Response:
    """Persons of the caller's ``archive.read`` scope with this ID number, or whose name
    starts with ``name`` (in name order), always masked: one prebuilt indexed read."""
    if (id_number is None) == (name is None):
        message = "请给出身份证号或姓名之一 / give id_number or name (one of them)"
        raise service.invalid("id_number", message, "query")
    kernel = request.app.state.kernel
    cipher = cipher_for(kernel)
    scope = scope_ranges(actor, kernel.access, service.READ)
    with kernel.loop_engine.connect() as conn:  # the loop's reserved connection
        if id_number is not None:
            found = person_search.person_by_id_number(conn, cipher, scope, id_number)
        else:
            found = person_search.persons_by_name(conn, cipher, scope, name or "", limit)
    return JSONResponse(found)
