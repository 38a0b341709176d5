"""The figures of 敲门嫂 (domain.md §3.1), counted in SQL for any unit's subtree and rolled
up from grid to county by the metrics service.

应访 / 实访 / 逾期 count the plans *due* in the period (by their due day): those due, those
of them visited, and those that went overdue (a late visit still counts as 逾期 — the miss
happened). 月探访率 is 实访 / 应访 over the same plans. Needs are counted when found,
transferred (ticket filed) and solved (ticket resolved); volunteer hours by visit day.
A plan's row changes after its due day (a late visit), so its figures settle over a quarter.
"""

from __future__ import annotations

from sqlmodel import col

from core import Metric

from .models import Need, Plan, Visit

PLAN_SETTLE_DAYS = 92  # a plan may be visited, or flagged, up to a quarter after its due day

DUE = Metric(
    name="due",
    title="应访",
    unit_label="次",
    help="期间内到期的探访计划",
    table=Plan,
    time_column="due_on",
    settle_days=PLAN_SETTLE_DAYS,
)
VISITED = Metric(
    name="visited",
    title="实访",
    unit_label="次",
    help="期间内到期的探访计划中已走访的",
    table=Plan,
    time_column="due_on",
    where=col(Plan.visit_id).is_not(None),
    settle_days=PLAN_SETTLE_DAYS,
)
OVERDUE = Metric(
    name="overdue",
    title="逾期",
    unit_label="次",
    help="期间内到期、未按期走访的探访计划",
    table=Plan,
    time_column="due_on",
    where=col(Plan.overdue_at).is_not(None),
    settle_days=PLAN_SETTLE_DAYS,
)
VISIT_RATE = Metric(
    name="visit_rate",
    title="月探访率",
    unit_label="%",
    help="实访 ÷ 应访（按月查看即月探访率，目标 100%）",
    kind="ratio",
    numerator="visited",
    denominator="due",
    scale=100,
)
NEEDS_FOUND = Metric(
    name="needs_found",
    title="需求发现数",
    unit_label="件",
    help="走访中发现的需求（含居家安全异常）",
    table=Need,
    time_column="found_at",
)
NEEDS_TRANSFERRED = Metric(
    name="needs_transferred",
    title="需求转办数",
    unit_label="件",
    help="转为工单办理的需求",
    table=Need,
    time_column="transferred_at",
)
NEEDS_SOLVED = Metric(
    name="needs_solved",
    title="需求办结数",
    unit_label="件",
    help="工单已办结的需求",
    table=Need,
    time_column="solved_at",
)
HOURS = Metric(
    name="volunteer_hours",
    title="志愿服务时长",
    unit_label="小时",
    help="走访记录填写的时长之和",
    kind="sum",
    value=col(Visit.minutes) / 60.0,
    table=Visit,
    time_column="visited_on",
)

METRICS = [
    DUE,
    VISITED,
    OVERDUE,
    VISIT_RATE,
    NEEDS_FOUND,
    NEEDS_TRANSFERRED,
    NEEDS_SOLVED,
    HOURS,
]
