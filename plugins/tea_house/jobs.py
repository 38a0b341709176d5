"""The periodic job of 民情茶馆: announce each village's next fixed day in time.

Once a day, for each township where the practice is on, every active schedule whose next
fixed day lies between the notice rule (3 days ahead) and the schedule's lead (``lead_days``)
gets that session announced, unless one of that kind is already there for that day (a
cancelled one included: a cancelled fixed day is not announced again). Running twice in a
day announces nothing more.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from core import Job, JobContext, parse_code

from .forms import SessionIn
from .models import TeaHouseSchedule, TeaHouseSession
from .service import NOTICE_DAYS, local_day, subtree
from .sessions import announce_at, next_fixed_day

ANNOUNCER = "system:tea_house"


def announce_fixed_days(context: JobContext) -> int:
    """Announce the fixed days due for notice in the job's township; returns how many."""
    kernel, township = context.kernel, context.township
    assert township is not None, "a per-township job runs for one township"
    today = local_day(kernel, context.period_start)
    earliest = today + timedelta(days=NOTICE_DAYS)
    announced = 0
    with Session(kernel.engine) as session:
        schedules = session.exec(
            select(TeaHouseSchedule).where(
                col(TeaHouseSchedule.active).is_(True),
                subtree(col(TeaHouseSchedule.unit_code), parse_code(township.code).path),
            )
        ).all()
        for schedule in schedules:
            day = next_fixed_day(schedule, earliest)
            if day > today + timedelta(days=schedule.lead_days):
                continue
            exists = select(TeaHouseSession.id).where(
                col(TeaHouseSession.unit_code) == schedule.unit_code,
                col(TeaHouseSession.kind) == "fixed",
                col(TeaHouseSession.held_on) == day,
            )
            if session.exec(exists).first() is not None:
                continue
            body = SessionIn(
                kind="fixed", held_on=day, start_time=schedule.start_time, venue=schedule.venue
            )
            announce_at(
                session, kernel, schedule.unit_code, body, ANNOUNCER, now=context.period_start
            )
            announced += 1
        session.commit()
    return announced


ANNOUNCE = Job(
    name="announce_fixed_days",
    title="民情沟通日自动公告",
    every=timedelta(days=1),
    run=announce_fixed_days,
)
