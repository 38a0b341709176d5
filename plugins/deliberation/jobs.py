"""The periodic job of 民主议事: open and close voting on time.

Every five minutes, for each township where the plugin is on, every matter 公示中 whose
voting opens by the period's start is opened, and every matter 投票中 whose deadline has
passed is closed (which erases its ballot key). Ballots are refused after the deadline
whether or not the job has run; the job only makes the state say so. Running twice in a
period finds nothing more to do.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from core import Job, JobContext

from .matters import SYSTEM, transition
from .models import Matter


def advance_votes(context: JobContext) -> int:
    """Open and close the township's votes that are due; returns how many moved."""
    kernel, township = context.kernel, context.township
    assert township is not None, "a per-township job runs for one township"
    now = context.period_start
    moved = 0
    with Session(kernel.engine, expire_on_commit=False) as session:
        due = session.exec(
            select(Matter)
            .where(
                col(Matter.township_code) == township.code,
                ((col(Matter.state) == "notice") & (col(Matter.opens_at) <= now))
                | ((col(Matter.state) == "voting") & (col(Matter.closes_at) <= now)),
            )
            .order_by(col(Matter.id))
        ).all()
        for matter in due:
            if matter.state == "notice":
                transition(
                    session, kernel, SYSTEM, matter, "open", matter.version, now=now, vouched=True
                )
            if matter.closes_at is not None and matter.closes_at <= now:
                transition(
                    session, kernel, SYSTEM, matter, "close", matter.version, now=now, vouched=True
                )
            session.commit()
            moved += 1
    return moved


ADVANCE = Job(
    name="advance_votes",
    title="按时开始与截止投票",
    every=timedelta(minutes=5),
    run=advance_votes,
)
