"""Ticket types (诉求类型): the six core types of domain.md §4.4 and those plugins contribute.

A :class:`TicketType` names its extra fields as a pydantic model with Chinese titles, as a
form does (:class:`core.FormSpec`): the same field kinds, the same validation and error
messages, the same description for pages (and, as Open311 attributes, for clients). Its
:class:`Clocks` say how long each stage may take, for normal and for urgent tickets
(domain.md §4.3: reminders at 50/80/100% of each clock, escalation when it runs out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from core.forms.fields import FormField, describe
from core.plugins.declarations import collect
from core.plugins.registry import PluginRegistry
from core.workflows.deadlines import Deadline

CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
NEVER_PUBLISHED = ("legal_dispute",)  # 法律纠纷: counts only, never one by one (domain.md §4.4)
Priority = Literal["normal", "urgent"]
PRIORITIES: dict[str, str] = {"normal": "一般", "urgent": "紧急"}
NATURES: dict[str, str] = {
    "consult": "咨询",
    "help": "求助",
    "complaint": "投诉",
    "report": "举报",
    "suggestion": "建议",
    "praise": "表扬",
}


@dataclass(frozen=True)
class Clocks:
    """How long each stage may take (domain.md §4.3).

    ``respond``: from submission (or escalation) until the handling unit signs for it (签收);
    ``handle``: from signing until it is resolved (办结); ``visit``: from resolution until
    the visit back (回访).
    """

    respond: Deadline
    handle: Deadline
    visit: Deadline = field(default_factory=lambda: Deadline(working_days=1))

    def problems(self) -> list[str]:
        return [
            f"{name}: {problem}"
            for name in ("respond", "handle", "visit")
            if (problem := getattr(self, name).problem())
        ]


@dataclass(frozen=True)
class TicketType:
    """A kind of request residents make (``register_ticket_types``).

    :param code: snake_case, unique across the installation (``public_repair``); part of
        URLs and the Open311 ``service_code``.
    :param label: the Chinese name shown on the request grid (``公共维修``).
    :param fields: a pydantic model of the type's extra fields (titles in Chinese), or
        ``None``; validated on submission like a form.
    :param normal: the clocks of an ordinary ticket; ``urgent`` those of an urgent one.
    :param confidential: reporters of this type are hidden by default (投诉举报).
    :param anonymous: whether a reporter may stay anonymous (a phone for follow-up is
        then required).
    :param icon: a short symbol for the resident portal's grid of types.
    :param keywords: Open311 ``keywords``.
    :param staff_only: offered only to staff holding ``ticket.handle`` at the unit (a
        practice's own intake, such as a need found on a door-knock): residents' pages, the
        types API for residents and Open311 never offer it. Its tickets are handled, read
        and counted like any other.
    """

    code: str
    label: str
    description: str
    normal: Clocks
    urgent: Clocks
    fields: type[BaseModel] | None = None
    confidential: bool = False
    anonymous: bool = False
    icon: str = "📝"
    group: str = "为民办事"
    keywords: tuple[str, ...] = ()
    staff_only: bool = False

    @cached_property
    def form_fields(self) -> tuple[FormField, ...]:
        """The extra fields as pages and Open311 attributes describe them."""
        return describe(self.fields) if self.fields is not None else ()

    def clocks(self, priority: str) -> Clocks:
        return self.urgent if priority == "urgent" else self.normal

    def problems(self) -> list[str]:
        where = f"ticket type {self.code!r}"
        found = []
        if not isinstance(self.code, str) or not CODE_RE.match(self.code):
            found.append(f"{where}: code must be snake_case, at most 40 characters")
        if not self.label:
            found.append(f"{where}: label (Chinese) is empty")
        for clocks, name in ((self.normal, "normal"), (self.urgent, "urgent")):
            found += [f"{where} {name} clock {p}" for p in clocks.problems()]
        try:
            self.form_fields  # noqa: B018 - describing checks the model
        except (TypeError, ValueError) as exc:
            found.append(f"{where} fields: {exc}")
        return found


def _wd(days: int) -> Deadline:
    return Deadline(working_days=days)


def _h(hours: int) -> Deadline:
    return Deadline(hours=hours)


class PublicRepairFields(BaseModel):
    facility: Literal["道路", "路灯", "供排水", "公共设施", "村庄公共区域", "其他"] = Field(
        title="设施类型"
    )
    hazard: bool = Field(False, title="存在安全隐患", description="有隐患的按紧急处理")


class ComplaintFields(BaseModel):
    accused: str = Field(title="被投诉（举报）对象", min_length=1, max_length=200)
    occurred: str | None = Field(None, title="发生时间", max_length=100)
    evidence: str | None = Field(None, title="证据说明", max_length=1000)


class EstateFields(BaseModel):
    estate: str = Field(title="小区/楼栋", min_length=1, max_length=100)
    category: Literal[
        "环境卫生", "停车", "噪音", "高空抛物", "消防通道", "宠物", "治安", "其他"
    ] = Field(title="事项类别")
    against_property_company: bool = Field(
        False, title="投诉物业企业", description="针对物业的投诉由社区或乡镇处理，不交物业"
    )


class HomeRepairFields(BaseModel):
    fault: Literal["水", "电", "门窗", "家电", "燃气", "其他"] = Field(title="故障类型")
    access_window: str = Field(title="可上门时间", min_length=1, max_length=100)
    accepts_charge: bool = Field(title="同意按价目表收费", description="红、黄码老人可享免费服务")


class LegalDisputeFields(BaseModel):
    parties: str = Field(title="当事人（经同意）", min_length=1, max_length=500)
    dispute_kind: Literal["邻里", "婚姻家庭", "土地山林", "劳动报酬", "合同", "其他"] = Field(
        title="纠纷类型"
    )
    amount: int | None = Field(None, title="涉及金额（元）", ge=0, le=10**10)
    prior_mediation: bool = Field(False, title="此前已调解过")


class RenovationFields(BaseModel):
    owner: str = Field(title="业主或权利证明", min_length=1, max_length=200)
    plan: str = Field(title="装修方案", min_length=1, max_length=1000)
    contractor: str | None = Field(None, title="施工单位及资质", max_length=200)
    structural_change: bool = Field(
        title="涉及结构变动", description="变动承重结构须有资质单位设计"
    )
    start_date: date = Field(title="开工日期")
    end_date: date = Field(title="完工日期")
    pledge: bool = Field(title="已签署装修承诺书", description="开工前须签署")

    @field_validator("pledge")
    @classmethod
    def _pledged(cls, value: bool) -> bool:
        if not value:
            raise ValueError("开工前须签署装修承诺书 / the pledge must be signed")
        return value

    @model_validator(mode="after")
    def _in_order(self) -> RenovationFields:
        if self.end_date < self.start_date:
            raise ValueError("完工日期不能早于开工日期 / end_date is before start_date")
        return self


CORE_TYPES: tuple[TicketType, ...] = (
    TicketType(
        code="public_repair",
        label="公共维修",
        description="道路、路灯、供排水、公共设施和村庄公共区域的维修",
        normal=Clocks(respond=_h(2), handle=_wd(3)),
        urgent=Clocks(respond=_h(2), handle=_h(24)),
        fields=PublicRepairFields,
        icon="🔧",
        keywords=("repair", "维修"),
    ),
    TicketType(
        code="complaint",
        label="投诉举报",
        description="对人或单位的投诉、举报；举报人身份保密",
        normal=Clocks(respond=_wd(1), handle=_wd(13)),
        urgent=Clocks(respond=_h(4), handle=_wd(3)),
        fields=ComplaintFields,
        confidential=True,
        anonymous=True,
        icon="📣",
        keywords=("complaint", "投诉", "举报"),
    ),
    TicketType(
        code="estate",
        label="小区报事",
        description="小区环境、停车、噪音、高空抛物、消防通道、宠物、治安等",
        normal=Clocks(respond=_h(2), handle=_wd(3)),
        urgent=Clocks(respond=_h(2), handle=_h(24)),
        fields=EstateFields,
        icon="🏘",
        keywords=("estate", "小区"),
    ),
    TicketType(
        code="home_repair",
        label="居家维修",
        description="户内水电、门窗、家电等维修（物业有偿、志愿者或红色代办）",
        normal=Clocks(respond=_h(2), handle=_h(24)),
        urgent=Clocks(respond=_h(1), handle=_h(2)),
        fields=HomeRepairFields,
        icon="🏠",
        keywords=("home", "维修"),
    ),
    TicketType(
        code="legal_dispute",
        label="法律纠纷",
        description="邻里、家庭、土地、劳动报酬、合同等纠纷的调解",
        normal=Clocks(respond=_wd(1), handle=_wd(7)),
        urgent=Clocks(respond=_h(4), handle=_wd(3)),
        fields=LegalDisputeFields,
        icon="⚖",
        keywords=("dispute", "调解"),
    ),
    TicketType(
        code="renovation",
        label="装修上报",
        description="装饰装修开工前的申报登记",
        normal=Clocks(respond=_wd(1), handle=_wd(3)),
        urgent=Clocks(respond=_wd(1), handle=_wd(3)),
        fields=RenovationFields,
        icon="🧱",
        keywords=("renovation", "装修"),
    ),
)


class TicketTypeError(ValueError):
    """A bad ticket-type declaration; the message names the plugin, the type and why."""


@dataclass
class TicketTypeCatalog:
    """Every ticket type: the core's, then the plugins' (by code), and who declared each."""

    types: dict[str, TicketType]
    owners: dict[str, str | None]  # code → plugin name, ``None`` for a core type

    @classmethod
    def build(cls, registry: PluginRegistry) -> TicketTypeCatalog:
        catalog = cls({t.code: t for t in CORE_TYPES}, {t.code: None for t in CORE_TYPES})

        def check(plugin: str, declared: list[TicketType]) -> None:
            for item in declared:
                problems = item.problems()
                if problems:
                    raise TicketTypeError(f"plugin {plugin!r}: {problems[0]}")
                if item.code in catalog.types or [t.code for t in declared].count(item.code) > 1:
                    raise TicketTypeError(
                        f"plugin {plugin!r}: ticket type {item.code!r} is declared twice"
                    )

        for plugin, declared in collect(
            registry, "register_ticket_types", TicketType, check
        ).items():
            for item in declared:
                catalog.types[item.code] = item
                catalog.owners[item.code] = plugin
        return catalog

    def available(self, enabled: frozenset[str] | set[str]) -> list[TicketType]:
        """The types offered where the plugins ``enabled`` are on: the core's and theirs."""
        return [t for code, t in self.types.items() if self.owners[code] in (None, *enabled)]
