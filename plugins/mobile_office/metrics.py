"""The figures of 民情直通车 (domain.md §3.3) as metrics of the kernel's metrics service:
computed in SQL for a unit's subtree and a period of local days, rolled up to the township,
the county and the city, served at ``/api/v1/metrics/mobile_office/…`` and ``/metrics``.

* 来电数, 初信初访数, 重复来电数 — calls, dated by when they were received.
* 出车数 — trips, dated by their departure.
* 平均到场时间 — minutes from a call to the crew's arrival, averaged over the calls a trip
  reached (a sum of minutes divided by a count, so that it rolls up exactly).
* 当场办结率 — on-site records settled there and then, of all on-site records.
* 初信初访不满意率 — of the first-time calls (not a repeat of an earlier call) whose ticket
  the caller has rated, the share rated 不满意 (domain.md §6.7: rates are taken over the
  rated, 未评价 apart). Read from the core ticket's rating, so a later rating or a re-rating
  after 重办 reaches the figure of the day the call came in (within a month).
"""

from __future__ import annotations

from sqlalchemy import Integer, String, column, table
from sqlmodel import col

from core import Metric

from .models import Call, OnSiteRecord, Trip

# The core ticket's id and rating, read by name (a plugin does not import core tables).
TICKET = table("ticket", column("id", Integer), column("satisfaction", String))
CALLS = Call.__table__  # type: ignore[attr-defined]
CALLS_WITH_TICKETS = CALLS.join(TICKET, CALLS.c.ticket_id == TICKET.c.id)
FIRST_TIME = col(Call.repeat_of_id).is_(None)
ARRIVED = col(Call.arrival_minutes).is_not(None)
RATING_SETTLE_DAYS = 31  # a rating may come weeks after the call


def _calls(name: str, title: str, help: str, where: object = None) -> Metric:
    return Metric(
        name=name,
        title=title,
        unit_label="件",
        help=help,
        table=Call,
        time_column="received_at",
        where=where,
    )


def _rated(name: str, title: str, help: str, where: object) -> Metric:
    return Metric(
        name=name,
        title=title,
        unit_label="件",
        help=help,
        table=CALLS_WITH_TICKETS,
        unit_column=CALLS.c.unit_code,
        time_column=CALLS.c.received_at,
        where=where,
        settle_days=RATING_SETTLE_DAYS,
    )


def mobile_office_metrics() -> list[Metric]:
    """The metrics, in the order dashboards list them."""
    first_rated = (CALLS.c.repeat_of_id.is_(None)) & TICKET.c.satisfaction.is_not(None)
    return [
        _calls("calls", "来电数", "期间内民情热线登记的来电"),
        _calls("first_calls", "初信初访数", "期间内首次反映的来电（非重复来电）", FIRST_TIME),
        _calls("repeat_calls", "重复来电数", "期间内就此前来电再次反映的来电", ~FIRST_TIME),
        Metric(
            name="trips",
            title="出车数",
            unit_label="次",
            help="期间内出发的民情直通车出车",
            table=Trip,
            time_column="departed_at",
        ),
        _calls("arrivals", "到场来电数", "期间内来电中民情直通车已到场的件数", ARRIVED),
        Metric(
            name="arrival_minutes",
            title="到场用时合计",
            unit_label="分钟",
            help="期间内来电从来电到到场的分钟数之和",
            kind="sum",
            value="arrival_minutes",
            table=Call,
            time_column="received_at",
            where=ARRIVED,
        ),
        Metric(
            name="arrival_time",
            title="平均到场时间",
            unit_label="分钟",
            help="到场用时合计 ÷ 到场来电数（从来电到随车人员到场）",
            kind="ratio",
            numerator="arrival_minutes",
            denominator="arrivals",
            scale=1,
        ),
        Metric(
            name="onsite_records",
            title="现场处置数",
            unit_label="件",
            help="期间内填写的现场处置记录",
            table=OnSiteRecord,
            time_column="recorded_at",
        ),
        Metric(
            name="onsite_resolved",
            title="当场办结数",
            unit_label="件",
            help="期间内现场处置记录中当场办结的件数",
            table=OnSiteRecord,
            time_column="recorded_at",
            where=col(OnSiteRecord.result) == "resolved",
        ),
        Metric(
            name="onsite_resolution_rate",
            title="当场办结率",
            unit_label="%",
            help="当场办结数 ÷ 现场处置数",
            kind="ratio",
            numerator="onsite_resolved",
            denominator="onsite_records",
            scale=100,
        ),
        _rated(
            "first_calls_rated",
            "初信初访参评数",
            "期间内初信初访来电所转工单中已评价的件数",
            first_rated,
        ),
        _rated(
            "first_calls_unsatisfied",
            "初信初访不满意数",
            "期间内初信初访来电所转工单中评价为不满意的件数",
            first_rated & (TICKET.c.satisfaction == "unsatisfied"),
        ),
        Metric(
            name="first_call_dissatisfaction_rate",
            title="初信初访不满意率",
            unit_label="%",
            help="初信初访不满意数 ÷ 初信初访参评数（未评价的不计）",
            kind="ratio",
            numerator="first_calls_unsatisfied",
            denominator="first_calls_rated",
            scale=100,
        ),
    ]
