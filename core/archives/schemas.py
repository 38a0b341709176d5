"""Request bodies of the archive API: each field validated where it is declared, so a bad
value is a 422 naming it."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from core.archives.idnumbers import validate_id_number, validate_phone
from core.web.inputs import no_nul


def _not_future(value: date | None) -> date | None:
    if value is not None and value > date.today():
        raise ValueError("出生日期不能在未来 / the birth date is in the future")
    return value


def _id_number(value: str | None) -> str | None:
    return None if value is None else validate_id_number(value)


def _phone(value: str | None) -> str | None:
    return None if value is None else validate_phone(value)


Line = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(no_nul)
]
Gender = Literal["male", "female"]
Relation = Literal[
    "head", "spouse", "child", "child_in_law", "parent", "grandchild", "grandparent",
    "sibling", "other",
]  # fmt: skip
BirthDate = Annotated[date | None, AfterValidator(_not_future)]
IdNumber = Annotated[str | None, AfterValidator(_id_number)]
Phone = Annotated[str | None, AfterValidator(_phone)]
UnitCode = Annotated[str, StringConstraints(pattern=r"^\d{12}(\d{3})?$")]
Version = Annotated[int, Field(ge=1, le=2**31 - 1, description="读取时的版本 / version read")]
HouseholdRef = Annotated[int, Field(ge=1, le=2**31 - 1)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Extra = Annotated[
    dict[Key, Annotated[dict[Key, Any], Field(max_length=100)]] | None,
    Field(
        max_length=50,
        title="扩展字段",
        description=(
            "插件扩展字段 {插件: {字段: 值}}；修改时按插件合并，值为 null 即删除该字段 / "
            "plugin fields {plugin: {field: value}}; a patch merges per plugin, null removes"
        ),
    ),
]


class HouseholdIn(BaseModel):
    number: Annotated[Line, Field(max_length=32, title="户号")]
    address: Annotated[Line, Field(max_length=200, title="现住址")]
    unit_code: Annotated[UnitCode, Field(title="所属网格")]
    source: Annotated[Line, Field(max_length=64, title="数据来源")] = "manual"
    extra: Extra = None


class HouseholdPatch(BaseModel):
    version: Version
    number: Annotated[Line | None, Field(max_length=32)] = None
    address: Annotated[Line | None, Field(max_length=200)] = None
    unit_code: UnitCode | None = None
    source: Annotated[Line | None, Field(max_length=64)] = None
    extra: Extra = None


class PersonIn(BaseModel):
    name: Annotated[Line, Field(max_length=50, title="姓名")]
    household_id: HouseholdRef
    relation: Relation
    id_number: IdNumber = None
    gender: Gender | None = None  # from the ID number when omitted
    birth_date: BirthDate = None  # from the ID number when omitted
    phone: Phone = None
    source: Annotated[Line, Field(max_length=64, title="数据来源")] = "manual"
    extra: Extra = None


class PersonPatch(BaseModel):
    version: Version
    name: Annotated[Line | None, Field(max_length=50)] = None
    household_id: HouseholdRef | None = None
    relation: Relation | None = None
    id_number: IdNumber = None
    gender: Gender | None = None
    birth_date: BirthDate = None
    phone: Phone = None
    source: Annotated[Line | None, Field(max_length=64)] = None
    extra: Extra = None
