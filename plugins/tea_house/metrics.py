"""The figures of 民情茶馆 (常山's 8,224 issues raised / 7,509 solved), computed in SQL for any
unit's subtree and period and rolled up from village to township, county and city.

Sessions count on the day they were held; issues raised, answered and transferred on the
moment they were raised; solved on the moment they were solved (answered on the spot, or
their ticket resolved); reported back on the moment the session that reported the final
result was closed.
"""

from __future__ import annotations

from sqlmodel import col

from core import Metric

from .models import TeaHouseIssue, TeaHouseSession

HELD = col(TeaHouseSession.status).in_(("held", "closed"))
CLOSED = col(TeaHouseSession.status) == "closed"


def _issues(name: str, title: str, help: str, time_column: str, where: object = None) -> Metric:
    return Metric(
        name=name,
        title=title,
        unit_label="件",
        help=help,
        table=TeaHouseIssue,
        time_column=time_column,
        where=where,
    )


METRICS = [
    Metric(
        name="sessions",
        title="沟通日场次",
        unit_label="场",
        help="期间内举行（已开场或已结束）的民情沟通日与茶馆场次",
        table=TeaHouseSession,
        time_column="held_on",
        where=HELD,
    ),
    Metric(
        name="attendance",
        title="参加群众人次",
        unit_label="人次",
        help="期间内已结束场次登记的参加群众人数之和",
        kind="sum",
        value="attendance",
        table=TeaHouseSession,
        time_column="held_on",
        where=CLOSED,
    ),
    Metric(
        name="leaders",
        title="领导参加人次",
        unit_label="人次",
        help="期间内已结束场次中到场的乡镇、县领导人数之和",
        kind="sum",
        value="leaders",
        table=TeaHouseSession,
        time_column="held_on",
        where=CLOSED,
    ),
    _issues("issues_raised", "反映问题数", "期间内登记的群众反映问题", "raised_at"),
    _issues(
        "issues_answered",
        "当场答复数",
        "期间内登记、当场答复的问题",
        "raised_at",
        col(TeaHouseIssue.outcome) == "answered",
    ),
    _issues(
        "issues_transferred",
        "转办数",
        "期间内登记、转为工单办理的问题",
        "raised_at",
        col(TeaHouseIssue.outcome) == "transferred",
    ),
    _issues(
        "issues_solved",
        "解决数",
        "期间内解决的问题：当场答复，或转办工单办结",
        "solved_at",
        col(TeaHouseIssue.solved_at).is_not(None),
    ),
    _issues(
        "issues_reported",
        "结果通报数",
        "期间内在沟通日上通报了最终办理结果的转办问题",
        "reported_at",
        col(TeaHouseIssue.reported_at).is_not(None),
    ),
    Metric.percentage(
        "solve_rate", "解决率", "issues_solved", "issues_raised", "解决数 ÷ 反映问题数"
    ),
    Metric.percentage(
        "reported_share",
        "结果通报率",
        "issues_reported",
        "issues_transferred",
        "结果通报数 ÷ 转办数",
    ),
]
