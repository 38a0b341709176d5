"""The plugin's periodic jobs, run by ``sanmin worker`` for each township where it is on.

Both are hourly and idempotent for their period: ``plan_visits`` makes the plans of the
periods containing the run's local day (a new week's list is there within the first hour of
Monday) and gives unassigned open plans to the teams formed since; ``flag_overdue`` marks
plans whose period ended unvisited and raises ``knock_door.visit_overdue`` for each.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from core import Job, JobContext

from .planning import assign_open, flag_overdue, generate_plans
from .service import today


def plan_visits(context: JobContext) -> None:
    """Create this period's plans in the township and assign the open ones."""
    kernel, township = context.kernel, context.township
    assert township is not None, "a per-township job runs for one township"
    with Session(kernel.engine) as session:
        generate_plans(session, township.code, today(kernel, context.period_start))
        assign_open(session, township.code)
        session.commit()


def mark_overdue(context: JobContext) -> None:
    """Flag the township's plans whose period ended before the run's local day."""
    kernel, township = context.kernel, context.township
    assert township is not None, "a per-township job runs for one township"
    with Session(kernel.engine) as session:
        flag_overdue(
            session, township.code, today(kernel, context.period_start), context.period_start
        )
        session.commit()


PLAN_VISITS = Job(
    name="plan_visits", title="生成探访计划", every=timedelta(hours=1), run=plan_visits
)
FLAG_OVERDUE = Job(
    name="flag_overdue", title="逾期未访提醒", every=timedelta(hours=1), run=mark_overdue
)
JOBS = [PLAN_VISITS, FLAG_OVERDUE]
