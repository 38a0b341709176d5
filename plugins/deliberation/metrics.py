"""What 民主议事 counts (domain.md §3.6): matters, turnout by headcount and by area, quorum
reached, matters passed, and days to implementation, each with the counts it divides.

Each figure is computed in SQL over ``deliberation_matter`` for a unit's subtree and a
period of local days, at the unit where the matter was proposed, and rolled up by the
kernel to the township, county and city. Matters count on the day they were proposed;
votes (turnout, quorum, passed) on the day they were counted; implementation on the day its
result was published. A rate is the ratio of two sums over the same units and days.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col

from core import Metric

from .models import Matter

COUNTED = col(Matter.counted_at).is_not(None)
BY_AREA = col(Matter.by_area).is_(True)


def _figure(
    name: str,
    title: str,
    unit_label: str,
    help: str,
    time_column: str,
    *,
    value: Any = None,
    where: Any = None,
) -> Metric:
    return Metric(
        name=name,
        title=title,
        unit_label=unit_label,
        help=help,
        kind="count" if value is None else "sum",
        value=value,
        table=Matter,
        unit_column="unit_code",
        time_column=time_column,
        where=where,
    )


METRICS: list[Metric] = [
    _figure("matters", "议题数", "件", "期间内提出的议题", "proposed_at"),
    _figure("votes", "表决次数", "次", "期间内完成计票的议题", "counted_at", where=COUNTED),
    _figure(
        "electorate",
        "应参与人数",
        "人",
        "期间内计票议题的表决名册人数之和",
        "counted_at",
        value="electorate_heads",
        where=COUNTED,
    ),
    _figure(
        "participants",
        "参与表决人数",
        "人",
        "期间内计票议题的参与表决人数之和",
        "counted_at",
        value="participant_heads",
        where=COUNTED,
    ),
    Metric.percentage(
        "turnout", "参与率（人数）", "participants", "electorate", "参与表决人数 ÷ 应参与人数"
    ),
    _figure(
        "electorate_area",
        "应参与面积",
        "平方米",
        "期间内计票的业主共同决定事项的专有部分总面积之和",
        "counted_at",
        value=col(Matter.electorate_area) / 100.0,
        where=COUNTED & BY_AREA,
    ),
    _figure(
        "participant_area",
        "参与表决面积",
        "平方米",
        "期间内计票的业主共同决定事项中参与表决的专有部分面积之和",
        "counted_at",
        value=col(Matter.participant_area) / 100.0,
        where=COUNTED & BY_AREA,
    ),
    Metric.percentage(
        "turnout_area",
        "参与率（面积）",
        "participant_area",
        "electorate_area",
        "参与表决面积 ÷ 应参与面积",
    ),
    _figure(
        "quorum_reached",
        "达到法定参与比例",
        "件",
        "期间内计票、参与人数（及面积）达到规定比例的议题",
        "counted_at",
        where=col(Matter.quorum_met).is_(True),
    ),
    Metric.percentage(
        "quorum_rate", "有效表决率", "quorum_reached", "votes", "达到法定参与比例 ÷ 表决次数"
    ),
    _figure(
        "passed",
        "通过数",
        "件",
        "期间内计票、按表决规则通过的议题（选举：产生当选人）",
        "counted_at",
        where=col(Matter.passed).is_(True),
    ),
    Metric.percentage("pass_rate", "通过率", "passed", "votes", "通过数 ÷ 表决次数"),
    _figure(
        "implemented",
        "执行结果公示数",
        "件",
        "期间内公示执行结果的议题",
        "implemented_at",
        where=col(Matter.implemented_at).is_not(None),
    ),
    _figure(
        "implementation_days",
        "执行用时合计",
        "天",
        "期间内公示执行结果的议题，自结果公示到执行结果公示的天数之和",
        "implemented_at",
        value="implementation_days",
        where=col(Matter.implemented_at).is_not(None),
    ),
    Metric(
        name="days_to_implementation",
        title="平均执行天数",
        unit_label="天",
        help="执行用时合计 ÷ 执行结果公示数（自结果公示起）",
        kind="ratio",
        numerator="implementation_days",
        denominator="implemented",
    ),
]
