"""What people type into 民情茶馆: the request bodies of the API and of the pages' forms.

Each is a pydantic model with Chinese titles, validated the same way on both surfaces: the
API answers 422 with ``loc`` naming the field, the pages show the message next to it.
Text is trimmed; a blank optional field counts as not given.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from .tickets import TICKET_TYPE, Category

TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"
SessionKind = Literal["fixed", "open", "topic"]
Priority = Literal["normal", "urgent"]

# Chinese for the pydantic errors these models can raise, by error type.
MESSAGES = {
    "missing": "必填",
    "string_type": "必填",
    "string_too_short": "必填",
    "string_too_long": "最多 {max_length} 个字",
    "string_pattern_mismatch": "格式不正确",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "int_from_float": "应为整数",
    "greater_than_equal": "不能小于 {ge}",
    "less_than_equal": "不能大于 {le}",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "date_type": "日期格式应为 YYYY-MM-DD",
    "bool_parsing": "应为“是”或“否”",
    "literal_error": "应为以下之一：{expected}",
    "extra_forbidden": "不接受此字段",
    "dict_type": "应为对象",
    "value_error": "{error}",
}


def message(error: dict[str, Any]) -> str:
    """One validation error in Chinese (falling back to pydantic's English)."""
    template = MESSAGES.get(str(error.get("type")))
    if template is None:
        return str(error.get("msg", ""))
    try:
        return template.format(**(error.get("ctx") or {}))
    except (KeyError, IndexError):
        return template


class Body(BaseModel):
    """Shared rules: text trimmed, unknown fields refused, blank optional text is ``None``,
    and no NUL characters (the database refuses them)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, str) and not value.strip() and field and not field.is_required():
            return field.default
        return value

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("不能含有 NUL 字符")
        return value


class ScheduleIn(Body):
    """A village's fixed communication day (民情沟通日)."""

    day_of_month: int = Field(
        title="每月固定日", ge=1, le=28, description="每月的第几天，1–28（常山为每月10日）"
    )
    start_time: str = Field(title="开始时间", pattern=TIME_PATTERN, description="如 09:00")
    venue: str = Field(title="地点", min_length=1, max_length=100, description="如 沟通中心户")
    lead_days: int = Field(
        7, title="提前公告天数", ge=3, le=15, description="系统在沟通日前这么多天自动公告"
    )
    active: bool = Field(True, title="启用自动公告")


class SessionIn(Body):
    """A session to announce (公告)."""

    kind: SessionKind = Field("fixed", title="类型")
    held_on: date = Field(title="日期", description="须至少提前 3 天公告")
    start_time: str = Field(title="开始时间", pattern=TIME_PATTERN, description="如 09:00")
    venue: str = Field(title="地点", min_length=1, max_length=100)
    topics: str | None = Field(None, title="议题", max_length=500)
    host: str | None = Field(None, title="主持人", max_length=50)
    recorder: str | None = Field(None, title="书记员", max_length=50)
    cadres: str | None = Field(
        None, title="参加干部", max_length=200, description="村两委及轮值的乡镇、县领导"
    )


class IssueIn(Body):
    """An issue raised at a session (民情登记); with ``answer`` it is answered on the spot."""

    category: Category = Field(title="问题类别")
    summary: str = Field(
        title="问题摘要", min_length=1, max_length=100, description="公开通报时显示，不写姓名电话"
    )
    description: str = Field(title="详细情况", min_length=1, max_length=2000)
    reporter_name: str | None = Field(None, title="反映人", max_length=50)
    reporter_phone: str | None = Field(
        None, title="联系电话", pattern=r"^\d{7,20}$", description="7–20 位数字，转办时供回访"
    )
    answer: str | None = Field(
        None, title="当场答复", max_length=2000, description="当场答复的填写；不填则稍后答复或转办"
    )


class AnswerIn(Body):
    """The answer given on the spot (当场答复)."""

    version: int = Field(title="版本", ge=1)
    answer: str = Field(title="答复内容", min_length=1, max_length=2000)


class TransferIn(Body):
    """Transfer an issue to a ticket (转办) with a promised deadline (承诺办理期限)."""

    version: int = Field(title="版本", ge=1)
    promised_by: date = Field(title="承诺办理期限")
    responsible: str = Field(title="责任人", min_length=1, max_length=50)
    priority: Priority = Field("normal", title="紧急程度")
    ticket_type: str = Field(TICKET_TYPE, title="工单类型", max_length=40)
    extra: dict[str, Any] = Field(default_factory=dict, title="工单类型的补充字段")


class OpenIn(Body):
    """Open a session (开场)."""

    version: int = Field(title="版本", ge=1)


class CloseIn(Body):
    """Close a session (会后汇总): how many came, and the summary."""

    version: int = Field(title="版本", ge=1)
    attendance: int = Field(title="参加群众人数", ge=0, le=100000)
    leaders: int = Field(0, title="参加的乡镇、县领导人数", ge=0, le=1000)
    summary: str | None = Field(None, title="会后汇总", max_length=2000)


class CancelIn(Body):
    """Cancel an announced session."""

    version: int = Field(title="版本", ge=1)
    reason: str = Field(title="取消原因", min_length=1, max_length=200)


def field_title(model: type[BaseModel], name: str) -> str:
    """The Chinese title of ``model``'s field ``name`` (the name itself when unknown)."""
    field = model.model_fields.get(name)
    return field.title if field is not None and field.title else name
