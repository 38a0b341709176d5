"""What 红色代办 counts, as metrics of the kernel's metrics service (domain.md §3.4): 点单数,
办结率, 按期办结率, 平均用时 and 满意率, each with the counts it divides.

Each figure is computed in SQL over ``red_proxy_order`` for a unit's subtree and a period of
local days, at the unit where the order was placed, and rolled up by the kernel to the
township, county and city. A count is dated by the milestone it counts (点单, 办结, 评单);
a rate is the ratio of two counts over the same units and days, never an average of rates.
Withdrawn orders (撤单) do not count against 办结率; a withdrawal comes after the order's
day, so those counts are recomputed for ``SETTLE_DAYS``.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col

from core import Metric

from .models import Order
from .workflow import SATISFIED

SETTLE_DAYS = 31


def _count(name: str, title: str, time_column: str, help: str, where: Any = None) -> Metric:
    return Metric(
        name=name,
        title=title,
        unit_label="件",
        help=help,
        table=Order,
        unit_column="unit_code",
        time_column=time_column,
        where=where,
        settle_days=SETTLE_DAYS,
    )


METRICS: list[Metric] = [
    _count("orders", "点单数", "ordered_at", "期间内群众点单的代办单"),
    _count(
        "valid_orders",
        "有效点单数",
        "ordered_at",
        "期间内点单、且未被撤单的代办单",
        col(Order.withdrawn_at).is_(None),
    ),
    _count("done", "办结数", "done_at", "期间内办结的代办单"),
    Metric.percentage("completion_rate", "办结率", "done", "valid_orders", "办结数 ÷ 有效点单数"),
    _count(
        "done_on_time",
        "按期办结数",
        "done_at",
        "期间内办结、且在事项办结时限内办结的代办单",
        col(Order.done_on_time).is_(True),
    ),
    Metric.percentage("on_time_rate", "按期办结率", "done_on_time", "done", "按期办结数 ÷ 办结数"),
    Metric(
        name="hours_taken",
        title="办理用时合计",
        unit_label="小时",
        help="期间内办结的代办单从点单到办结的小时数之和",
        kind="sum",
        value="hours_taken",
        table=Order,
        unit_column="unit_code",
        time_column="done_at",
        settle_days=SETTLE_DAYS,
    ),
    Metric(
        name="mean_hours",
        title="平均用时",
        unit_label="小时",
        help="办理用时合计 ÷ 办结数（从点单到办结）",
        kind="ratio",
        numerator="hours_taken",
        denominator="done",
    ),
    _count("rated", "已评单数", "rated_at", "期间内群众评单的代办单"),
    _count(
        "satisfied",
        "满意数",
        "rated_at",
        "期间内评为很满意、满意、较满意或基本满意的代办单",
        col(Order.satisfaction).in_(SATISFIED),
    ),
    Metric.percentage(
        "satisfaction_rate", "满意率", "satisfied", "rated", "（满意 + 基本满意）÷ 已评单数"
    ),
]
