"""Casting, changing and counting ballots, and keeping secret ballots secret.

Who may vote: a voter on the matter's roll, either through their own verified account (a
resident account linked to their archive person) or in person, recorded by an officer
holding ``deliberation.record``; only while the matter is 投票中 and between its opening
and its deadline; once per voter (``deliberation_turnout`` is unique per matter and voter,
so two requests at once still make one vote). A matter that allows it lets a voter change
their choice until the deadline; the change replaces the ballot, it never adds one.

Two tables, never joined for a secret ballot:

* ``deliberation_turnout``: that a voter voted, when, how, recorded by whom: the 签到 list
  officers see, and turnout. No choice.
* ``deliberation_ballot``: the choices and weights that are counted. A secret ballot has a
  random id, no voter, no time; when the matter lets votes change, it carries a
  ``receipt``, the HMAC of the voter under a key made when voting opens (sealed with
  ``SANMIN_ARCHIVE_KEY`` when that is set) and **erased when voting closes**: from then on
  nothing, not even the database, says whose ballot it is. Audit entries of secret ballots
  say who voted, never how; no page or API shows a secret ballot, only the tally, and the
  tally only after the count (a running tally would reveal each vote as it lands).

Counting reads the stored ballots and the stored roll and nothing else
(:func:`count_matter`), so :func:`recount` recomputes the published tally exactly.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core import Actor, ArchiveCipher, Kernel, record_audit

from . import electorate, tally
from .access import RECORD
from .errors import DeliberationError, invalid
from .inputs import RowId
from .models import Ballot, Candidate, Matter, Turnout, Voter
from .registers import require
from .rules import DecisionRule, Threshold, Weight
from .workflows import PLUGIN

SEALED = "sealed:"
PLAIN = "plain:"
NOT_VERIFIED = (
    "您的账号尚未完成实名核验（未关联民情档案中的本人），不能在线投票；请到村社核验身份，或到现场投票"
    " / your account is not verified (not linked to your archive record)"
)
NOT_ON_ROLL = "您不在本议题的表决名册中 / you are not in this matter's electorate"


class BallotIn(BaseModel):
    """A choice: one of the matter's options, or (an election) the candidates chosen."""

    choice: str | None = Field(None, max_length=10, title="表决意见")
    candidates: list[RowId] | None = Field(None, max_length=50, title="选择的候选人")


class InPersonIn(BallotIn):
    """A vote cast in person, recorded by an officer for a voter on the roll."""

    voter_id: RowId = Field(title="投票人（表决名册编号）")


@dataclass(frozen=True)
class Cast:
    """What a cast did: the turnout row, and whether it changed an earlier vote."""

    turnout: Turnout
    changed: bool


# -- keys and receipts -----------------------------------------------------------------------


def new_key(kernel: Kernel) -> str:
    """A fresh ballot key for a matter's voting period, sealed under the archive key when
    one is configured (then a copy of the database alone cannot link ballots to voters)."""
    key = secrets.token_urlsafe(32)
    configured = kernel.settings.archive_key
    if configured:
        return SEALED + ArchiveCipher(configured).encrypt(key)
    return PLAIN + key


def _open_key(kernel: Kernel, stored: str) -> bytes:
    if stored.startswith(SEALED):
        configured = kernel.settings.archive_key
        if not configured:
            raise DeliberationError(503, "投票密钥无法解封：未配置 SANMIN_ARCHIVE_KEY / key sealed")
        return ArchiveCipher(configured).decrypt(stored.removeprefix(SEALED)).encode()
    return stored.removeprefix(PLAIN).encode()


def receipt(kernel: Kernel, matter: Matter, voter_id: int) -> str:
    """The keyed hash that finds a voter's secret ballot while voting is open."""
    assert matter.ballot_key is not None, "a changeable secret vote has a key while open"
    message = f"{matter.id}:{voter_id}".encode()
    return hmac.new(_open_key(kernel, matter.ballot_key), message, hashlib.sha256).hexdigest()


# -- casting ---------------------------------------------------------------------------------


def _window(kernel: Kernel, matter: Matter, now: datetime) -> None:
    """409 unless ``matter`` takes votes at ``now``."""
    when = _local(kernel)
    if matter.closes_at is not None and now >= matter.closes_at:
        raise DeliberationError(
            409, f"投票已于 {when(matter.closes_at)} 截止 / voting closed at the deadline"
        )
    if matter.state != "voting" or matter.opens_at is None or now < matter.opens_at:
        opens = (
            f"，将于 {when(matter.opens_at)} 开始"
            if matter.opens_at and now < matter.opens_at
            else ""
        )
        raise DeliberationError(409, f"本议题当前不在投票期{opens} / voting is not open")


def _local(kernel: Kernel) -> Callable[[datetime], str]:
    zone = ZoneInfo(kernel.settings.timezone)
    return lambda moment: moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def candidates_of(session: Session, matter_id: int) -> list[Candidate]:
    """An election's candidates in ballot order."""
    query = select(Candidate).where(col(Candidate.matter_id) == matter_id)
    return list(session.exec(query.order_by(col(Candidate.position))))


def _choice(session: Session, matter: Matter, body: BallotIn) -> list[str]:
    """The ballot's choice as stored: ``[option]``, or the candidates' ids in ballot order;
    422 naming ``choice`` or ``candidates``."""
    if not matter.election:
        if body.candidates is not None:
            raise invalid("candidates", "本议题不是选举 / not an election")
        if body.choice not in matter.options:
            raise invalid("choice", f"应为 {'、'.join(matter.options)} 之一 / one of the options")
        return [body.choice]
    if body.choice is not None:
        raise invalid("choice", "选举请选择候选人 / choose candidates")
    chosen = body.candidates or []
    known = {c.id: c for c in candidates_of(session, matter.id)}  # type: ignore[arg-type]
    if len(set(chosen)) != len(chosen) or any(c not in known for c in chosen):
        raise invalid("candidates", "候选人有误或重复 / unknown or repeated candidate")
    if len(chosen) > matter.seats:
        raise invalid("candidates", f"最多选择 {matter.seats} 名 / at most {matter.seats}")
    return [str(c.id) for c in sorted((known[c] for c in chosen), key=lambda c: c.position)]


def cast_online(
    session: Session, kernel: Kernel, actor: Actor, matter: Matter, body: BallotIn, now: datetime
) -> Cast:
    """The actor's own vote: a verified account on the roll (403 otherwise), while voting is
    open (409), once unless the matter allows a change (409)."""
    if actor.kind != "account" or actor.person_id is None:
        raise DeliberationError(403, NOT_VERIFIED)
    voter = electorate.voter_of(session, matter.id, actor.person_id)  # type: ignore[arg-type]
    if voter is None:
        raise DeliberationError(403, NOT_ON_ROLL)
    _window(kernel, matter, now)
    return _record(
        session, kernel, actor, matter, voter, _choice(session, matter, body), "online", now
    )


def cast_in_person(
    session: Session, kernel: Kernel, actor: Actor, matter: Matter, body: InPersonIn, now: datetime
) -> Cast:
    """An in-person vote recorded by an officer holding ``deliberation.record`` at the
    matter's unit, for ``body.voter_id`` of the roll; the same window and once-only rules."""
    require(kernel, actor, RECORD, matter.unit_code)
    voter = session.exec(
        select(Voter).where(col(Voter.id) == body.voter_id, col(Voter.matter_id) == matter.id)
    ).first()
    if voter is None:
        raise invalid("voter_id", "不在本议题的表决名册中 / not in this matter's electorate")
    _window(kernel, matter, now)
    return _record(
        session, kernel, actor, matter, voter, _choice(session, matter, body), "in_person", now
    )


def _record(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    matter: Matter,
    voter: Voter,
    choice: list[str],
    channel: str,
    now: datetime,
) -> Cast:
    turnout = session.exec(
        select(Turnout).where(
            col(Turnout.matter_id) == matter.id, col(Turnout.voter_id) == voter.id
        )
    ).first()
    if turnout is not None:
        if not matter.allow_change:
            raise DeliberationError(
                409, "已投票，本议题不允许改票 / already voted; no changes allowed"
            )
        return _change(session, kernel, actor, matter, voter, turnout, choice, channel, now)
    turnout = Turnout(
        matter_id=matter.id,  # type: ignore[arg-type]
        voter_id=voter.id,  # type: ignore[arg-type]
        channel=channel,
        recorded_by=actor.label,
        cast_at=now,
    )
    ballot = Ballot(
        id=uuid.uuid4().hex,
        matter_id=matter.id,  # type: ignore[arg-type]
        choice=choice,
        heads=voter.heads,
        area=voter.area,
    )
    if not matter.secret:
        ballot.voter_id, ballot.cast_at = voter.id, now
    elif matter.allow_change:
        ballot.receipt = receipt(kernel, matter, voter.id)  # type: ignore[arg-type]
    session.add(turnout)
    try:
        session.flush()
    except IntegrityError:  # the same voter's other request got there first
        session.rollback()
        raise DeliberationError(409, "已投票 / already voted") from None
    session.add(ballot)
    session.flush()
    _audit(session, actor, matter, "ballot.cast", voter, channel, None if matter.secret else choice)
    return Cast(turnout, changed=False)


def _change(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    matter: Matter,
    voter: Voter,
    turnout: Turnout,
    choice: list[str],
    channel: str,
    now: datetime,
) -> Cast:
    if matter.secret:
        where = col(Ballot.receipt) == receipt(kernel, matter, voter.id)  # type: ignore[arg-type]
    else:
        where = col(Ballot.voter_id) == voter.id
    values: dict[str, Any] = (
        {"choice": choice} if matter.secret else {"choice": choice, "cast_at": now}
    )
    session.execute(
        update(Ballot).where(col(Ballot.matter_id) == matter.id, where).values(**values)
    )
    turnout.changed_at, turnout.changes = now, turnout.changes + 1
    turnout.channel, turnout.recorded_by = channel, actor.label
    session.add(turnout)
    session.flush()
    _audit(
        session, actor, matter, "ballot.change", voter, channel, None if matter.secret else choice
    )
    return Cast(turnout, changed=True)


def _audit(
    session: Session,
    actor: Actor,
    matter: Matter,
    action: str,
    voter: Voter,
    channel: str,
    choice: list[str] | None,
) -> None:
    """Who voted, how and through which channel; the choice only for an open ballot."""
    after: dict[str, Any] = {"voter_id": voter.id, "channel": channel, "secret": matter.secret}
    if choice is not None:
        after["choice"] = choice
    record_audit(
        session,
        actor=actor.label,
        action=f"{PLUGIN}.{action}",
        target_type="deliberation_matter",
        target_id=str(matter.id),
        unit_code=matter.unit_code,
        after=after,
    )


def unlink(session: Session, matter: Matter) -> None:
    """At the deadline: erase the ballot key and every receipt. From then on nothing links a
    secret ballot to its voter, not even the database."""
    matter.ballot_key = None
    session.execute(update(Ballot).where(col(Ballot.matter_id) == matter.id).values(receipt=None))


# -- reading ---------------------------------------------------------------------------------


def turnout_of(session: Session, matter_id: int) -> list[tuple[Voter, Turnout | None]]:
    """The roll with who has voted (签到), by roll order: no choices."""
    query = (
        select(Voter, Turnout)
        .join(Turnout, (col(Turnout.voter_id) == col(Voter.id)), isouter=True)
        .where(col(Voter.matter_id) == matter_id)
        .order_by(col(Voter.id))
    )
    return [(voter, turnout) for voter, turnout in session.exec(query)]


def open_ballots(session: Session, matter: Matter) -> list[tuple[Voter, Ballot]]:
    """Who chose what, for an open (记名) matter only; 409 for a secret one."""
    if matter.secret:
        raise DeliberationError(409, "无记名投票不公开个人选择 / a secret ballot shows no choices")
    query = (
        select(Voter, Ballot)
        .join(Ballot, col(Ballot.voter_id) == col(Voter.id))
        .where(col(Ballot.matter_id) == matter.id)
        .order_by(col(Voter.id))
    )
    return [(voter, ballot) for voter, ballot in session.exec(query)]


def own_ballot(session: Session, matter: Matter, voter: Voter) -> list[str] | None:
    """A voter's own choice on an open matter (``None`` for a secret one, or none yet)."""
    if matter.secret:
        return None
    query = select(Ballot.choice).where(
        col(Ballot.matter_id) == matter.id, col(Ballot.voter_id) == voter.id
    )
    return session.exec(query).first()


def has_voted(session: Session, matter_id: int, voter_id: int) -> bool:
    """Whether the voter has voted on the matter."""
    query = select(Turnout.id).where(
        col(Turnout.matter_id) == matter_id, col(Turnout.voter_id) == voter_id
    )
    return session.exec(query).first() is not None


# -- counting --------------------------------------------------------------------------------


def rule_of(matter: Matter) -> DecisionRule:
    """The rule ``matter`` was published under, as stored on it."""
    return DecisionRule(
        code=matter.rule,
        title=matter.rule,
        basis="",
        quorum=Threshold.decode(matter.quorum),
        approval=Threshold.decode(matter.approval),
        approval_base=matter.approval_base,  # type: ignore[arg-type]
        by_area=matter.by_area,
    )


def count_matter(session: Session, matter: Matter) -> dict[str, Any]:
    """The tally from the stored roll and ballots (see :mod:`plugins.deliberation.tally`)."""
    stored = session.exec(select(Ballot).where(col(Ballot.matter_id) == matter.id)).all()
    ballots = [tally.Ballot(tuple(b.choice), Weight(b.heads, b.area)) for b in stored]
    candidates = [tally.Candidate(str(c.id), c.name) for c in candidates_of(session, matter.id)]  # type: ignore[arg-type]
    return tally.count(
        rule_of(matter),
        electorate.totals(session, matter.id),  # type: ignore[arg-type]
        ballots,
        options=matter.options,
        candidates=candidates,
        seats=matter.seats,
    )


@dataclass(frozen=True)
class Recount:
    """A recount: the tally computed again, and whether it equals the one published."""

    tally: dict[str, Any]
    matches: bool


def recount(session: Session, matter: Matter) -> Recount:
    """Count ``matter`` again from its stored ballots; 409 before it was counted."""
    if matter.tally is None:
        raise DeliberationError(409, "尚未计票 / not counted yet")
    again = count_matter(session, matter)
    return Recount(again, again == matter.tally)
