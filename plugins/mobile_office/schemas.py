"""What the API and the pages accept (request bodies, with Chinese titles) and the
vocabularies they use. A bad value is a 422 naming its field, as pydantic reports it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

DB_INT_MAX = 2**31 - 1

CATEGORIES = (
    "矛盾纠纷",
    "安全隐患",
    "应急求助",
    "政策咨询",
    "环境卫生",
    "道路水电",
    "生产生活",
    "其他",
)
URGENCIES = {"normal": "一般", "urgent": "紧急"}
SOURCES = {"hotline": "民情热线", "app": "APP", "walk_in": "现场来访"}
RESULTS = {"resolved": "当场办结", "scheduled": "约期协调", "referred": "转办"}
NATURES = {
    "consult": "咨询",
    "help": "求助",
    "complaint": "投诉",
    "report": "举报",
    "suggestion": "建议",
    "praise": "表扬",
}
RATINGS = {5: "很满意", 4: "满意", 3: "较满意", 2: "基本满意", 1: "不满意"}
MOVES = {"depart": "出发", "arrive": "到场", "finish": "返回"}


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("不能含有 NUL 字符 / must not contain a NUL character")
    return value


def text(limit: int) -> Any:
    """Required text, trimmed, 1 to ``limit`` characters."""
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=limit),
        AfterValidator(_no_nul),
    ]


def optional_text(limit: int) -> Any:
    """Optional text, trimmed; empty counts as none."""
    return Annotated[
        str | None,
        StringConstraints(strip_whitespace=True, max_length=limit),
        AfterValidator(lambda v: _no_nul(v) or None),
    ]


RowRef = Annotated[int, Field(ge=1, le=DB_INT_MAX)]
Version = Annotated[int, Field(ge=1, le=DB_INT_MAX, title="所见版本")]


class Body(BaseModel):
    """A request body: unknown fields are refused (a typo must not be ignored)."""

    model_config = ConfigDict(extra="forbid")


class CallIn(Body):
    """热线来电登记."""

    caller_name: text(50) = Field(title="来电人")  # type: ignore[valid-type]
    caller_phone: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^\d{7,20}$")
    ] = Field(title="联系电话", description="7–20 位数字")
    unit_code: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=15)] = (
        Field(None, title="所在村社", description="本乡镇内的村社代码；不填为本乡镇")
    )
    address: optional_text(200) = Field(None, title="地点")  # type: ignore[valid-type]
    category: Literal[CATEGORIES] = Field(title="类别")  # type: ignore[valid-type]
    question: text(2000) = Field(title="反映事项")  # type: ignore[valid-type]
    urgency: Literal["normal", "urgent"] = Field("normal", title="紧急程度")
    source: Literal["hotline", "app", "walk_in"] = Field("hotline", title="来源")
    also_12345: bool = Field(False, title="已同时反映至 12345")
    repeat_of: RowRef | None = Field(None, title="重复来电", description="此前来电的编号")
    received_at: datetime | None = Field(
        None, title="来电时间", description="不填为现在；不带时区的按北京时间"
    )


class TicketSpec(Body):
    """The ticket a call or an on-site record becomes (转办)."""

    type: text(40) = Field(title="工单类型")  # type: ignore[valid-type]
    title: optional_text(100) = Field(None, title="工单标题")  # type: ignore[valid-type]
    priority: Literal["normal", "urgent"] | None = Field(None, title="紧急程度")
    nature: Literal[tuple(NATURES)] = Field("help", title="诉求性质")  # type: ignore[valid-type]
    extra: dict[str, Any] = Field(default_factory=dict, title="该类型的补充信息")


class TriageIn(Body):
    """值班领导研判: answer, send on a trip, transfer to a ticket, or settle a coordination."""

    version: Version
    decision: Literal["answer", "trip", "transfer", "settle"] = Field(title="研判结果")
    answer: optional_text(1000) = Field(  # type: ignore[valid-type]
        None, title="答复内容", description="直接答复或协调办结时必填"
    )
    trip_id: RowRef | None = Field(None, title="出车单", description="派车时必填")
    ticket: TicketSpec | None = Field(None, title="转办工单", description="转办时必填")


class FeedbackIn(Body):
    """回访: the caller's rating of the ticket its call became, taken by phone."""

    rating: Literal[5, 4, 3, 2, 1] = Field(title="评价等级", description="5 很满意 … 1 不满意")
    comment: optional_text(500) = Field(None, title="评价内容")  # type: ignore[valid-type]


class TripIn(Body):
    """出车单."""

    destination: text(200) = Field(title="目的地")  # type: ignore[valid-type]
    unit_code: Annotated[str | None, StringConstraints(strip_whitespace=True, max_length=15)] = (
        Field(None, title="前往村社", description="本乡镇内的村社代码；不填为本乡镇")
    )
    vehicle: optional_text(50) = Field(None, title="车辆")  # type: ignore[valid-type]
    crew: list[RowRef] = Field(min_length=1, max_length=20, title="随车人员（账号编号）")
    call_ids: list[RowRef] = Field(default_factory=list, max_length=50, title="关联来电")
    ticket_ids: list[RowRef] = Field(default_factory=list, max_length=50, title="关联工单")
    note: optional_text(1000) = Field(None, title="备注")  # type: ignore[valid-type]


class MoveIn(Body):
    """A trip's step (出发, 到场, 返回), with the moment it happened."""

    version: Version
    at: datetime | None = Field(None, title="时间", description="不填为现在")


class RecordIn(Body):
    """现场处置记录."""

    call_id: RowRef | None = Field(None, title="处置的来电")
    findings: text(2000) = Field(title="现场情况")  # type: ignore[valid-type]
    parties: optional_text(200) = Field(None, title="见面当事人")  # type: ignore[valid-type]
    actions: optional_text(2000) = Field(None, title="处置措施")  # type: ignore[valid-type]
    result: Literal["resolved", "scheduled", "referred"] = Field(title="处置结果")
    promised_on: date | None = Field(None, title="约定日期", description="约期协调时必填")
    meeting_place: optional_text(100) = Field(None, title="约定地点")  # type: ignore[valid-type]
    ticket: TicketSpec | None = Field(None, title="转办工单", description="转办时必填")


class CloseIn(Body):
    """日清日结: close a day of the township."""

    day: date = Field(title="日期")
    note: optional_text(500) = Field(None, title="日结说明")  # type: ignore[valid-type]
