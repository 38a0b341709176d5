"""The 入户问需记录 form (domain.md §3.1): five observations, needs, services and time.

Submitted through the plugin's own page and API (:mod:`.service`), which tie the record to
its visit plan and turn its needs into tickets; the forms service validates, stores, audits
and shows it like any other form (一事一表).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from core import FormSpec

from .access import READ, RECORD

Observation = Literal["正常", "关注", "异常"]
NEED_KINDS = ("生活照料", "就医陪同", "代购代办", "维修", "政策咨询", "心理慰藉", "其他")
NeedKind = Literal["生活照料", "就医陪同", "代购代办", "维修", "政策咨询", "心理慰藉", "其他"]
Service = Literal["理发", "打扫卫生", "量血压", "代购", "陪同聊天", "其他"]
# (observation field, its note field, label): the five observations of domain.md §3.1
OBSERVATIONS = (
    ("health", "health_note", "健康"),
    ("mood", "mood_note", "精神"),
    ("safety", "safety_note", "安全"),
    ("hygiene", "hygiene_note", "卫生"),
    ("environment", "environment_note", "居住环境"),
)
ABNORMAL = "异常"


def _note(title: str) -> object:
    return Field(None, title=title, max_length=200, validate_default=True)


class VisitRecordForm(BaseModel):
    """What a 敲门嫂 records after a visit."""

    visited_on: date = Field(title="走访日期")
    method: Literal["上门", "电话", "视频"] = Field("上门", title="走访方式")
    met_in_person: bool = Field(True, title="是否见到本人")
    companion: str | None = Field(None, title="随访人员", max_length=20)
    health: Observation = Field(title="健康状况", description="表达、行动、疾病")
    health_note: str | None = _note("健康情况说明")  # type: ignore[assignment]
    mood: Observation = Field(title="精神状态", description="情绪、思维、压力")
    mood_note: str | None = _note("精神状态说明")  # type: ignore[assignment]
    safety: Observation = Field(
        title="居家安全", description="燃气、用电、水暖；“异常”将立即生成紧急工单"
    )
    safety_note: str | None = _note("居家安全说明")  # type: ignore[assignment]
    hygiene: Observation = Field(title="卫生状况")
    hygiene_note: str | None = _note("卫生状况说明")  # type: ignore[assignment]
    environment: Observation = Field(title="居住环境与邻里")
    environment_note: str | None = _note("居住环境说明")  # type: ignore[assignment]
    needs: list[NeedKind] = Field(default_factory=list, title="发现的需求")
    need_note: str | None = Field(None, title="需求说明", max_length=500)
    need_urgent: bool = Field(False, title="需求紧急")
    transfer: bool = Field(
        False, title="转为工单", description="选“是”时每项需求生成一张工单（渠道：敲门走访）"
    )
    services: list[Service] = Field(default_factory=list, title="提供的服务")
    minutes: int = Field(title="走访时长（分钟）", ge=1, le=600)

    @field_validator("visited_on")
    @classmethod
    def _not_ahead(cls, value: date) -> date:
        # a day of slack: the submitter's local day may be ahead of the server's
        if value > date.today() + timedelta(days=1):
            raise ValueError("走访日期不能晚于今天 / the visit date is in the future")
        return value

    @field_validator(*(note for _, note, _ in OBSERVATIONS))
    @classmethod
    def _explained(cls, value: str | None, info: ValidationInfo) -> str | None:
        value = value.strip() if value else None
        observed = info.field_name.removesuffix("_note") if info.field_name else ""
        if info.data.get(observed) == ABNORMAL and not value:
            raise ValueError("观察为“异常”时须说明情况 / explain an abnormal observation")
        return value

    @field_validator("transfer")
    @classmethod
    def _something_to_transfer(cls, value: bool, info: ValidationInfo) -> bool:
        if value and not info.data.get("needs"):
            raise ValueError("转为工单须至少选择一项需求 / choose a need to transfer")
        if value and not (info.data.get("need_note") or "").strip():
            raise ValueError("转为工单须填写需求说明 / describe the need to transfer")
        return value

    def abnormal(self) -> list[str]:
        """The labels of the observations rated 异常."""
        return [label for field, _, label in OBSERVATIONS if getattr(self, field) == ABNORMAL]


VISIT = FormSpec(
    name="visit",
    title="入户问需记录",
    description="敲门嫂上门（或电话、视频）探访后填写：五项观察、需求、服务与时长",
    model=VisitRecordForm,
    subject="person",
    version=1,
    submit_permission=RECORD,
    read_permission=READ,
)
