"""The headline KPIs of 为民办事 (domain.md §4.3, §6.7) as metrics of the kernel's metrics
service: each is computed in SQL over the ``ticket`` table for a unit's subtree and a
period of local days, rolled up the unit tree, kept in the daily aggregates and served at
``/api/v1/metrics`` and ``/metrics``.

A rate is a ``ratio`` of two counts declared beside it (the kernel sums each over the units
and days, then divides: never an average of rates); the mean handling time is the ratio of
a ``sum`` of hours to a count.

**Unit.** Every figure is counted at the ticket's ``origin_code``, the unit the request came
from. It never changes, so a village's tickets stay the village's after they are escalated
to the township (层级内化解率 asks exactly how many of them were settled at the grid or the
village), a county's figure is the sum of its townships' even when a ticket went up to the
city, and the per-unit daily aggregates do not go stale when a ticket moves (``unit_code``,
the unit handling it now, does).

**Type.** Every count and sum declares the ticket's ``type`` as its dimension, so each KPI
is also given by type (``/api/v1/metrics/tickets/{kpi}?by=dimension``, or
``&dimension=repair`` for one type), from the same daily aggregates.

**Time.** Each count is dated by the milestone it counts (submitted, signed, resolved,
rated). 办结率 is a cohort's: of the tickets submitted in the period, the share resolved now
(never above 100%, unlike resolutions of the period over submissions of the period, which a
week clearing a backlog pushes past it); its numerator is dated by submission and recomputed
for ``COHORT_SETTLE_DAYS``. ``signed_at`` is the first signing (the response milestone);
a reopen (重办) clears ``resolved_at`` and a new rating replaces ``rated_at``, so those
counts keep being recomputed for ``SETTLE_DAYS`` after their day; a milestone cleared later
than that reaches the aggregates with a rebuild.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col

from core.metrics.spec import Metric
from core.tickets.models import Ticket

UNIT = "origin_code"
SETTLE_DAYS = 31  # a reopen or a new rating within a month still reaches the aggregates
# 办结率 follows the tickets submitted on a day until they are resolved: a quarter covers the
# longest deadline with its extensions and escalations
COHORT_SETTLE_DAYS = 92
LOCAL_LEVELS = (0, 1)  # grid and village: 小事不出格，大事不出社
SATISFIED = ("satisfied", "basic")  # 满意 + 基本满意 (domain.md §6.7)
DIMENSION_TITLE = "诉求类型"  # every KPI splits by the ticket's type (``?by=dimension``)


class HoursBetween(FunctionElement[float]):
    """``hours_between(start, end)``: the hours from one timestamp to another, in SQL."""

    type = Float()
    name = "hours_between"
    inherit_cache = True


@compiles(HoursBetween)  # PostgreSQL
def _hours_default(element: HoursBetween, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 3600.0)"


@compiles(HoursBetween, "sqlite")
def _hours_sqlite(element: HoursBetween, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps the UTC timestamps as ISO text; whole seconds are exact.
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    seconds = "CAST(strftime('%s', {}) AS INTEGER)"
    return f"(({seconds.format(end)} - {seconds.format(start)}) / 3600.0)"


def _count(
    name: str,
    title: str,
    time_column: str,
    help: str,
    where: Any = None,
    settle: int | None = None,
) -> Metric:
    if settle is None:
        settle = 7 if time_column == "submitted_at" else SETTLE_DAYS
    return Metric(
        name=name,
        title=title,
        unit_label="件",
        help=help,
        table=Ticket,
        unit_column=UNIT,
        time_column=time_column,
        where=where,
        settle_days=settle,
        dimension="type",
        dimension_title=DIMENSION_TITLE,
    )


def ticket_metrics() -> list[Metric]:
    """The KPIs, in the order dashboards list them."""
    return [
        _count("submitted", "诉求提交数", "submitted_at", "期间内提交的诉求（按诉求来源单位）"),
        _count(
            "signed",
            "签收数",
            "signed_at",
            "期间内承办单位签收的诉求",
            col(Ticket.responded_on_time).is_not(None),
        ),
        _count(
            "signed_on_time",
            "按时签收数",
            "signed_at",
            "期间内签收、且在响应时限内签收的诉求",
            col(Ticket.responded_on_time).is_(True),
        ),
        Metric.percentage(
            "response_rate", "响应率", "signed_on_time", "signed", "按时签收数 ÷ 签收数"
        ),
        _count(
            "resolved", "办结数", "resolved_at", "期间内办结的诉求（重办后再次办结的按最后一次计）"
        ),
        _count(
            "submitted_resolved",
            "提交且已办结数",
            "submitted_at",
            "期间内提交、现已办结的诉求（重办中的不计）",
            col(Ticket.resolved_at).is_not(None),
            settle=COHORT_SETTLE_DAYS,
        ),
        Metric.percentage(
            "resolution_rate",
            "办结率",
            "submitted_resolved",
            "submitted",
            "期间内提交的诉求中现已办结的比例（提交且已办结数 ÷ 提交数），不超过 100%",
        ),
        _count(
            "resolved_on_time",
            "按期办结数",
            "resolved_at",
            "期间内办结、且在办理时限内办结的诉求",
            col(Ticket.resolved_on_time).is_(True),
        ),
        Metric.percentage(
            "on_time_rate", "按期办结率", "resolved_on_time", "resolved", "按期办结数 ÷ 办结数"
        ),
        _count(
            "resolved_locally",
            "层级内化解数",
            "resolved_at",
            "期间内在网格或村社一级办结的诉求（小事不出格，大事不出社）",
            col(Ticket.resolved_level).in_(LOCAL_LEVELS),
        ),
        Metric.percentage(
            "local_rate", "层级内化解率", "resolved_locally", "resolved", "层级内化解数 ÷ 办结数"
        ),
        _count(
            "reopened",
            "重办办结数",
            "resolved_at",
            "期间内办结的诉求中曾被重办的",
            col(Ticket.reopens) > 0,
        ),
        Metric.percentage("reopen_rate", "重办率", "reopened", "resolved", "重办办结数 ÷ 办结数"),
        Metric(
            name="handling_hours",
            title="办理时长合计",
            unit_label="小时",
            help="期间内办结的诉求从签收到办结的小时数之和",
            kind="sum",
            table=Ticket,
            unit_column=UNIT,
            time_column="resolved_at",
            value=HoursBetween(col(Ticket.signed_at), col(Ticket.resolved_at)),
            where=col(Ticket.signed_at).is_not(None),
            settle_days=SETTLE_DAYS,
            dimension="type",
            dimension_title=DIMENSION_TITLE,
        ),
        Metric(
            name="mean_handling_hours",
            title="平均办理时长",
            unit_label="小时",
            help="办理时长合计 ÷ 办结数（从签收到办结）",
            kind="ratio",
            numerator="handling_hours",
            denominator="resolved",
        ),
        _count("rated", "已评价数", "rated_at", "期间内群众评价的诉求（按最近一次评价计）"),
        _count(
            "satisfied",
            "满意数",
            "rated_at",
            "期间内评价为满意或基本满意的诉求",
            col(Ticket.satisfaction).in_(SATISFIED),
        ),
        Metric.percentage(
            "satisfaction_rate", "满意率", "satisfied", "rated", "（满意 + 基本满意）÷ 已评价"
        ),
        _count(
            "solved",
            "已解决数",
            "rated_at",
            "期间内评价时群众表示问题已解决的诉求",
            col(Ticket.solved).is_(True),
        ),
        Metric.percentage("solve_rate", "解决率", "solved", "rated", "群众表示已解决 ÷ 已评价"),
        _count(
            "unrated",
            "未评价数",
            "resolved_at",
            "期间内办结、尚未就这次办结评价的诉求（不计入满意率）",
            or_(col(Ticket.rated_at).is_(None), col(Ticket.rated_at) < col(Ticket.resolved_at)),
        ),
    ]
