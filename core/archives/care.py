"""Special groups and elderly care levels (domain.md §2 care tags, §5.2 rule table).

Tables: ``archive_person_tag`` (a care tag of the catalog on a person, with reason, who and
when), ``archive_care_profile`` (the care inputs of one person: children, self-care, risk,
economy — SPI kept apart from ``archive_person``), ``archive_care_threshold`` (per-county
ages and visit frequencies, defaults from domain.md §5.2/§6), ``archive_care_assessment``
(every level a person had: computed, refined by a plugin or overridden; ``current`` marks the
one in force) and ``archive_care_override`` (a proposed manual level, approved by a higher
role). The rule table is data: :data:`RULES`, first match wins, each row with its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db.metadata import metadata  # noqa: F401  (naming convention first)
from core.db.types import UTCDateTime, utcnow

LEVELS: dict[str, str] = {"red": "红（重点）", "yellow": "黄（关注）", "green": "绿（常态）"}
CHILDREN: dict[str, str] = {
    "same_city": "子女同城",
    "away": "子女异地",
    "none": "无子女（孤寡）",
    "bereaved": "失独",
}
ADL: dict[str, str] = {"self": "自理", "partial": "半失能", "disabled": "失能", "dementia": "失智"}
ECON: dict[str, str] = {
    "extreme": "特困分散供养",
    "low": "低保",
    "marginal": "低保边缘",
    "general": "一般",
}


@dataclass(frozen=True)
class CareTag:
    """A special-group tag of the care family (domain.md §2.2; control tags are excluded)."""

    code: str
    label: str
    visit_days: int  # the visit standard: at least one visit every so many days


TAGS: dict[str, CareTag] = {
    t.code: t
    for t in (
        CareTag("gugua", "孤寡老人", 7),
        CareTag("bereaved_family", "计生特殊家庭（失独）", 7),
        CareTag("living_alone", "独居老人", 30),
        CareTag("empty_nest", "空巢老人", 30),
        CareTag("left_behind_elder", "留守老人", 30),
        CareTag("disabled_elder", "失能失智老人", 30),
        CareTag("severe_disability", "重残人员", 30),
        CareTag("extreme_poverty", "特困供养人员", 30),
        CareTag("dibao", "低保对象", 90),
        CareTag("left_behind_child", "留守儿童", 30),
        CareTag("hardship_child", "困境儿童", 30),
    )
}


# -- the rule table ------------------------------------------------------------------------


@dataclass(frozen=True)
class CareInputs:
    """What the rules look at, from the archive and the care profile."""

    age: int
    lives_alone: bool  # the household has one member
    children: str  # a key of CHILDREN
    adl: str  # a key of ADL
    risk: bool  # an illness that can suddenly endanger life, 重残 or 重病
    econ: str  # a key of ECON


@dataclass(frozen=True)
class Thresholds:
    """A county's care settings (defaults: domain.md §5.2)."""

    elderly_age: int = 60
    red_alone_age: int = 80
    yellow_alone_age: int = 70
    red_visit_days: int = 7
    yellow_visit_days: int = 30
    green_visit_days: int = 90


@dataclass(frozen=True)
class CareResult:
    """A care level with the rule that gave it and the reason shown to users.

    ``care_level_refine`` receives the computed one (with its ``inputs``) and may return
    another (``inputs`` may be left ``None``)."""

    level: str  # a key of LEVELS
    rule: str
    reason: str
    inputs: CareInputs | None = None


@dataclass(frozen=True)
class Rule:
    """One row of the rule table."""

    level: str
    name: str
    reason: str
    when: Callable[[CareInputs, Thresholds], bool]


def _frail(i: CareInputs) -> bool:
    return i.adl != "self" or i.risk


RULES: tuple[Rule, ...] = (
    Rule(
        "red",
        "red.gugua",
        "规则：孤寡或失独老人",
        lambda i, t: i.children in {"none", "bereaved"},
    ),
    Rule(
        "red",
        "red.frail_unsupported",
        "规则：失能/半失能/失智/重残/重病，且子女异地或独居",
        lambda i, t: _frail(i) and (i.children == "away" or i.lives_alone),
    ),
    Rule(
        "red",
        "red.old_alone_away",
        "规则：高龄独居且子女异地",
        lambda i, t: i.age >= t.red_alone_age and i.lives_alone and i.children == "away",
    ),
    Rule("red", "red.extreme_poverty", "规则：特困分散供养", lambda i, t: i.econ == "extreme"),
    Rule(
        "yellow",
        "yellow.away_self_care",
        "规则：子女异地，生活自理",
        lambda i, t: i.children == "away" and i.adl == "self",
    ),
    Rule(
        "yellow",
        "yellow.frail_near",
        "规则：子女同城，但失能/重病/重残",
        lambda i, t: i.children == "same_city" and _frail(i),
    ),
    Rule(
        "yellow",
        "yellow.alone_aged",
        "规则：独居且年龄在关注年龄段",
        lambda i, t: i.lives_alone and t.yellow_alone_age <= i.age < t.red_alone_age,
    ),
    Rule("yellow", "yellow.dibao", "规则：低保老人", lambda i, t: i.econ == "low"),
    Rule(
        "green",
        "green.supported",
        "规则：子女同城、生活自理、非独居",
        lambda i, t: i.children == "same_city" and i.adl == "self" and not i.lives_alone,
    ),
    Rule("green", "green.default", "规则：未命中红、黄规则，常态管理", lambda i, t: True),
)


def evaluate(inputs: CareInputs, thresholds: Thresholds) -> CareResult:
    """The level of the first rule of :data:`RULES` that matches (the last always does)."""
    rule = next(r for r in RULES if r.when(inputs, thresholds))
    return CareResult(rule.level, rule.name, rule.reason, inputs)


# -- tables --------------------------------------------------------------------------------


def _timestamp() -> Column:  # type: ignore[type-arg]
    return Column(UTCDateTime(), nullable=False)


def _optional_timestamp() -> Column:  # type: ignore[type-arg]
    return Column(UTCDateTime(), nullable=True)


class ArchivePersonTag(SQLModel, table=True):
    """A special-group tag on a person: why, who and when."""

    __tablename__ = "archive_person_tag"
    __table_args__ = (UniqueConstraint("person_id", "tag"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="archive_person.id", index=True)
    tag: str = Field(max_length=32)
    reason: str = Field(max_length=200)
    assigned_by: str = Field(max_length=120)
    assigned_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class ArchiveCareProfile(SQLModel, table=True):
    """The care inputs of one person (health items are SPI)."""

    __tablename__ = "archive_care_profile"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="archive_person.id", unique=True)
    children: str = Field(max_length=16)
    adl: str = Field(max_length=16)
    risk: bool = False
    econ: str = Field(max_length=16)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    version: int = 1


class ArchiveCareThreshold(SQLModel, table=True):
    """One county's care thresholds and visit frequencies."""

    __tablename__ = "archive_care_threshold"

    county_code: str = Field(foreign_key="unit.code", max_length=15, primary_key=True)
    elderly_age: int = 60
    red_alone_age: int = 80
    yellow_alone_age: int = 70
    red_visit_days: int = 7
    yellow_visit_days: int = 30
    green_visit_days: int = 90
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    version: int = 1


class ArchiveCareAssessment(SQLModel, table=True):
    """A care level a person had; ``current`` marks the one in force."""

    __tablename__ = "archive_care_assessment"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="archive_person.id", index=True)
    level: str = Field(max_length=8, index=True)
    rule: str = Field(max_length=64)
    reason: str = Field(max_length=200)
    origin: str = Field(max_length=16)  # rule | plugin | override
    actor: str = Field(max_length=120)
    current: bool = Field(default=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class ArchiveCareOverride(SQLModel, table=True):
    """A manual level: proposed with a reason, then approved (or rejected) by a higher role."""

    __tablename__ = "archive_care_override"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="archive_person.id", index=True)
    level: str = Field(max_length=8)
    reason: str = Field(max_length=200)
    status: str = Field(max_length=16, default="proposed")  # proposed | approved | rejected
    proposed_by: str = Field(max_length=120)
    proposed_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    decided_by: str | None = Field(default=None, max_length=120)
    decided_at: datetime | None = Field(default=None, sa_column=_optional_timestamp())
    version: int = 1
