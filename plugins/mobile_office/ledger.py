"""日清日结: each township's day — its calls, trips and on-site records, what is still
open — closed by the duty leader every evening.

A day closes only when every call received that day has an outcome (answered, settled on
site, scheduled for coordination or transferred to a ticket); otherwise the close is refused
with a message listing the calls still open. Closing keeps the day's counts; a call entered
later for a closed day opens it again until the duty leader closes it once more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, col, select

from core import Actor, Kernel

from .access import DISPATCH
from .errors import Refusal
from .models import Call, Ledger, OnSiteRecord, Trip
from .scoping import day_bounds, local_day, now_of, readable, shown_name
from .workflows import CALL_STATES, OPEN_CALL_STATES, SCHEDULED

OUTCOME_COUNTS = {
    "answered": ("answered",),
    "resolved": ("resolved", "settled"),
    "scheduled": (SCHEDULED,),
    "transferred": ("transferred",),
}
LISTED = 8  # open calls named in a refusal


@dataclass
class Day:
    """A township's day as the ledger page and the API show it."""

    township_code: str
    day: date
    calls: list[Call]
    trips: list[Trip]
    records: list[OnSiteRecord]
    ledger: Ledger | None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def open_calls(self) -> list[Call]:
        """Calls of the day without an outcome yet: they keep the day from closing."""
        return [c for c in self.calls if c.state in OPEN_CALL_STATES]

    @property
    def scheduled(self) -> list[Call]:
        """Calls of the day waiting for the coordination agreed on site (约期协调)."""
        return [c for c in self.calls if c.state == SCHEDULED]

    @property
    def transferred(self) -> list[Call]:
        """Calls of the day handed to a ticket (its progress is the ticket's)."""
        return [c for c in self.calls if c.ticket_id is not None]

    @property
    def closed(self) -> bool:
        """Whether the duty leader has closed the day (and no call opened it since)."""
        return self.ledger is not None and self.ledger.closed_at is not None


def load_day(session: Session, kernel: Kernel, actor: Actor, township_code: str, day: date) -> Day:
    """The day's calls, trips and records in the township that ``actor`` may read."""
    start, end = day_bounds(kernel, day)
    calls = session.exec(
        select(Call)
        .where(
            col(Call.township_code) == township_code,
            col(Call.received_at) >= start,
            col(Call.received_at) < end,
            readable(kernel, actor, col(Call.unit_code)),
        )
        .order_by(col(Call.received_at), col(Call.id))
    ).all()
    trips = session.exec(
        select(Trip)
        .where(
            col(Trip.township_code) == township_code,
            col(Trip.created_at) >= start,
            col(Trip.created_at) < end,
            readable(kernel, actor, col(Trip.unit_code)),
        )
        .order_by(col(Trip.created_at), col(Trip.id))
    ).all()
    records = session.exec(
        select(OnSiteRecord)
        .where(
            col(OnSiteRecord.township_code) == township_code,
            col(OnSiteRecord.recorded_at) >= start,
            col(OnSiteRecord.recorded_at) < end,
            readable(kernel, actor, col(OnSiteRecord.unit_code)),
        )
        .order_by(col(OnSiteRecord.recorded_at), col(OnSiteRecord.id))
    ).all()
    found = Day(
        township_code,
        day,
        list(calls),
        list(trips),
        list(records),
        session.get(Ledger, (township_code, day)),
    )
    found.counts = counts(found)
    return found


def counts(day: Day) -> dict[str, int]:
    """The figures of a day: calls by outcome, trips and records."""
    figures = {"calls": len(day.calls), "trips": len(day.trips), "records": len(day.records)}
    for name, states in OUTCOME_COUNTS.items():
        figures[name] = sum(1 for c in day.calls if c.state in states)
    figures["open"] = len(day.open_calls)
    return figures


def close_day(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    township_code: str,
    day: date,
    note: str | None,
    *,
    now: datetime | None = None,
) -> Day:
    """日结: close the township's ``day`` (idempotent: a closed day is returned as it is).

    403 without the duty leader's permission at the township; 422 for a day still to come;
    409 naming the calls of the day that have no outcome yet.
    """
    if not kernel.allowed(actor, DISPATCH, township_code):
        raise Refusal(403, f"日清日结须由值班领导办理（需要 {DISPATCH}）/ permission required")
    now = now or now_of(kernel)
    if day > local_day(kernel, now):
        raise Refusal(422, "不能日结尚未到来的日期 / the day has not come yet", "day")
    found = load_day(session, kernel, actor, township_code, day)
    if found.closed:
        return found
    waiting = found.open_calls
    if waiting:
        named = "；".join(
            f"#{c.id} {c.caller_name}（{CALL_STATES[c.state]}）" for c in waiting[:LISTED]
        )
        more = f" 等 {len(waiting)} 件" if len(waiting) > LISTED else ""
        raise Refusal(
            409,
            f"{day.isoformat()} 还有 {len(waiting)} 件来电未处置，不能日清日结：{named}{more}。"
            "请先答复、到场处置或转办后再日结 / calls of the day have no outcome yet",
        )
    ledger = found.ledger or Ledger(township_code=township_code, day=day)
    for name in ("calls", "answered", "resolved", "scheduled", "transferred", "trips", "records"):
        setattr(ledger, name, found.counts[name])
    ledger.closed_at, ledger.closed_by = now, actor.label
    ledger.closer_name, ledger.note = shown_name(actor), note
    session.add(ledger)
    session.commit()
    found.ledger = ledger
    return found


def reopen(session: Session, township_code: str, day: date, now: datetime) -> None:
    """A call entered for a closed day opens it again (not committed)."""
    ledger = session.get(Ledger, (township_code, day))
    if ledger is not None and ledger.closed_at is not None:
        ledger.closed_at, ledger.reopened_at = None, now
        session.add(ledger)
