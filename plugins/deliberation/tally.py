"""Counting (计票): from the stored ballots and the electorate to the outcome, pure.

:func:`count` takes the electorate's total weight, every ballot's choice and weight, and the
matter's rule, and returns the tally as JSON-ready data: participation by headcount and
area, whether the quorum was met, each option's (or candidate's) headcount and area, and
the outcome. It reads nothing and writes nothing, so counting again from the same ballots
always gives the same tally (:func:`plugins.deliberation.ballots.recount` does exactly that),
and :func:`digest` fingerprints the ballots so anyone can check that a recount used the
same ones.

Elections (业委会选举): a ballot names at most ``seats`` candidates; each candidate is
approved when the rule's approval holds for the ballots naming them; the approved are
ranked by headcount, then area, and the first ``seats`` are elected. Candidates tied across
the last seat are not elected (另行选举) and are listed as ``tied``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .rules import APPROVE, DecisionRule, Weight, decide


@dataclass(frozen=True)
class Ballot:
    """One ballot as counted: the option chosen (one element) or the candidates chosen (their
    keys), and the voter's weight."""

    choice: tuple[str, ...]
    weight: Weight


@dataclass(frozen=True)
class Candidate:
    """A candidate of an election: its key (the candidate row's id, as text) and name."""

    key: str
    name: str


def _weight(value: Weight) -> dict[str, int]:
    return {"heads": value.heads, "area": value.area}


def _sum(ballots: Sequence[Ballot]) -> Weight:
    total = Weight()
    for ballot in ballots:
        total += ballot.weight
    return total


def digest(ballots: Sequence[Ballot]) -> str:
    """SHA-256 over the ballots' choices and weights, in a canonical order: equal for the
    same ballots whatever order they are read in, different if any ballot changes."""
    lines = sorted(
        json.dumps([list(b.choice), b.weight.heads, b.weight.area], ensure_ascii=False)
        for b in ballots
    )
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def count(
    rule: DecisionRule,
    electorate: Weight,
    ballots: Sequence[Ballot],
    *,
    options: Sequence[str] = (),
    candidates: Sequence[Candidate] = (),
    seats: int = 0,
) -> dict[str, Any]:
    """The tally of ``ballots`` under ``rule`` (see the module's docstring); an election when
    ``candidates`` are given."""
    participants = _sum(ballots)
    tally: dict[str, Any] = {
        "rule": rule.code,
        "quorum": rule.quorum.encode(),
        "approval": rule.approval.encode(),
        "approval_base": rule.approval_base,
        "by_area": rule.by_area,
        "electorate": _weight(electorate),
        "participants": _weight(participants),
        "ballots": len(ballots),
        "digest": digest(ballots),
    }
    if candidates:
        return tally | _election(rule, electorate, participants, ballots, candidates, seats)
    agree = _sum([b for b in ballots if b.choice == (APPROVE,)])
    decision = decide(rule, electorate, participants, agree)
    return tally | {
        "quorum_heads": decision.quorum_heads,
        "quorum_area": decision.quorum_area,
        "quorum_met": decision.quorum_met,
        "options": [
            {"option": option, **_weight(_sum([b for b in ballots if b.choice == (option,)]))}
            for option in options
        ],
        "approval_heads": decision.approval_heads,
        "approval_area": decision.approval_area,
        "approved": decision.approved,
        "passed": decision.passed,
    }


def _election(
    rule: DecisionRule,
    electorate: Weight,
    participants: Weight,
    ballots: Sequence[Ballot],
    candidates: Sequence[Candidate],
    seats: int,
) -> dict[str, Any]:
    rows = []
    for candidate in candidates:
        votes = _sum([b for b in ballots if candidate.key in b.choice])
        decision = decide(rule, electorate, participants, votes)
        rows.append(
            {
                "key": candidate.key,
                "name": candidate.name,
                **_weight(votes),
                "approved": decision.approved,
            }
        )
    quorum = decide(rule, electorate, participants, participants)
    ranked = sorted(
        (r for r in rows if r["approved"] and quorum.quorum_met),
        key=lambda r: (-r["heads"], -r["area"]),
    )
    elected, tied = ranked[:seats], []
    if len(ranked) > seats > 0:
        cut = (ranked[seats - 1]["heads"], ranked[seats - 1]["area"])
        tied = [r for r in ranked if (r["heads"], r["area"]) == cut]
        elected = [r for r in elected if (r["heads"], r["area"]) != cut]
    elected_keys = {r["key"] for r in elected}
    tied_keys = {r["key"] for r in tied}
    for row in rows:
        row["elected"] = row["key"] in elected_keys
        row["tied"] = row["key"] in tied_keys
    return {
        "quorum_heads": quorum.quorum_heads,
        "quorum_area": quorum.quorum_area,
        "quorum_met": quorum.quorum_met,
        "seats": seats,
        "candidates": rows,
        "elected": [r["key"] for r in elected],
        "tied": [r["key"] for r in tied],
        "passed": quorum.quorum_met and bool(elected),
    }
