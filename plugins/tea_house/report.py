"""The report-back list (结果通报): at each session, the results of the issues transferred at
the village's earlier sessions, until the final result has been reported once; and the
village's notice board. Public within the village: no reporter, no details.
"""

from __future__ import annotations

from sqlalchemy import and_, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from .models import TeaHouseIssue, TeaHouseSession
from .service import NOT_FOUND, UPCOMING, TeaHouseError

# -- results reported back (结果通报) --------------------------------------------------------


def report_back(
    session: Session, row: TeaHouseSession
) -> list[tuple[TeaHouseIssue, TeaHouseSession]]:
    """The report-back list of session ``row``: the issues transferred at the village's
    earlier sessions whose result had not been reported back before it (those reported at
    ``row`` itself stay on its list), each with the session it was raised at, oldest first."""
    raised = aliased(TeaHouseSession)
    reported = aliased(TeaHouseSession)
    earlier = or_(
        col(raised.held_on) < row.held_on,
        and_(col(raised.held_on) == row.held_on, col(raised.id) < row.id),
    )
    not_before = or_(
        col(TeaHouseIssue.reported_session_id).is_(None),
        col(reported.held_on) > row.held_on,
        and_(col(reported.held_on) == row.held_on, col(reported.id) >= row.id),
    )
    query = (
        select(TeaHouseIssue, raised)
        .join(raised, col(raised.id) == col(TeaHouseIssue.session_id))
        .outerjoin(reported, col(reported.id) == col(TeaHouseIssue.reported_session_id))
        .where(
            col(TeaHouseIssue.unit_code) == row.unit_code,
            col(TeaHouseIssue.outcome) == "transferred",
            earlier,
            not_before,
        )
        .order_by(col(raised.held_on), col(TeaHouseIssue.id))
    )
    return [(issue, at) for issue, at in session.exec(query)]


def village_sessions(session: Session, village: str, limit: int = 20) -> list[TeaHouseSession]:
    """The village's sessions for its notice board (公告栏), latest day first."""
    query = select(TeaHouseSession).where(col(TeaHouseSession.unit_code) == village)
    query = query.order_by(col(TeaHouseSession.held_on).desc(), col(TeaHouseSession.id).desc())
    return list(session.exec(query.limit(limit)))


def report_session(
    session: Session, village: str, session_id: int | None
) -> TeaHouseSession | None:
    """The session whose report-back list to show: ``session_id`` (404 unless it is the
    village's), else the next one (announced or being held), else the latest closed one."""
    query = select(TeaHouseSession).where(col(TeaHouseSession.unit_code) == village)
    if session_id is not None:
        found = session.exec(query.where(col(TeaHouseSession.id) == session_id)).first()
        if found is None or found.status == "cancelled":
            raise TeaHouseError(404, f"场次{NOT_FOUND}")
        return found
    upcoming = query.where(col(TeaHouseSession.status).in_(UPCOMING))
    found = session.exec(
        upcoming.order_by(col(TeaHouseSession.held_on), col(TeaHouseSession.id))
    ).first()
    if found is not None:
        return found
    closed = query.where(col(TeaHouseSession.status) == "closed")
    return session.exec(
        closed.order_by(col(TeaHouseSession.held_on).desc(), col(TeaHouseSession.id).desc())
    ).first()
