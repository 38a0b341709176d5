"""民主议事's decision rules and counting, exactly, without a database: the thresholds at their
boundaries (以上 includes the number itself, 过半数 does not), owners' matters by headcount and
area, the 3/4 matters of 民法典 第二百七十八条, the village meetings, elections with several
seats and a tie, and the ballots' fingerprint."""

from __future__ import annotations

from fractions import Fraction

import pytest

from plugins.deliberation.rules import (
    AT_LEAST_THREE_QUARTERS,
    AT_LEAST_TWO_THIRDS,
    MORE_THAN_HALF,
    OWNER_TYPES,
    OWNERS_MAJOR,
    OWNERS_ORDINARY,
    REPRESENTATIVES_MEETING,
    STEP_RULES,
    VILLAGERS_MEETING,
    Threshold,
    Weight,
    decide,
)
from plugins.deliberation.tally import Ballot, Candidate, count, digest


@pytest.mark.parametrize(
    ("threshold", "part", "whole", "met"),
    [
        (AT_LEAST_TWO_THIRDS, 2, 3, True),  # exactly 2/3
        (AT_LEAST_TWO_THIRDS, 199_999, 300_000, False),  # a hair short
        (AT_LEAST_TWO_THIRDS, 66_667, 100_000, True),
        (AT_LEAST_TWO_THIRDS, 66_666, 100_000, False),  # 0.66666 < 2/3: no float rounding
        (MORE_THAN_HALF, 1, 2, False),  # exactly half is not more than half
        (MORE_THAN_HALF, 50_001, 100_000, True),
        (AT_LEAST_THREE_QUARTERS, 3, 4, True),
        (AT_LEAST_THREE_QUARTERS, 74_999, 100_000, False),
        (AT_LEAST_TWO_THIRDS, 0, 0, False),  # nobody to decide
    ],
)
def test_thresholds_are_exact(threshold: Threshold, part: int, whole: int, met: bool) -> None:
    assert threshold.met(part, whole) is met


def test_thresholds_read_and_round_trip() -> None:
    assert (AT_LEAST_TWO_THIRDS.label, MORE_THAN_HALF.label) == ("三分之二以上（含本数）", "过半数")
    for threshold in (AT_LEAST_TWO_THIRDS, MORE_THAN_HALF, AT_LEAST_THREE_QUARTERS):
        assert Threshold.decode(threshold.encode()) == threshold
    assert Threshold.decode(">1/2").share == Fraction(1, 2)


def test_owners_matters_need_both_headcount_and_area() -> None:
    electorate = Weight(heads=300, area=3_000_000)
    # 200 of 300 owners (exactly 2/3) holding exactly 2/3 of the area take part
    participants = Weight(200, 2_000_000)
    passed = decide(OWNERS_ORDINARY, electorate, participants, Weight(101, 1_000_001))
    assert (passed.quorum_met, passed.approved, passed.passed) == (True, True, True)
    # one owner short of 2/3 by headcount, though the area is there
    short = decide(OWNERS_ORDINARY, electorate, Weight(199, 2_500_000), Weight(199, 2_500_000))
    assert (short.quorum_heads, short.quorum_area, short.passed) == (False, True, False)
    # one hundredth of a m² short of 2/3 of the area
    area_short = decide(OWNERS_ORDINARY, electorate, Weight(300, 1_999_999), Weight(300, 1_999_999))
    assert (area_short.quorum_heads, area_short.quorum_area) == (True, False)
    # exactly half the participating area agrees: not more than half
    half = decide(OWNERS_ORDINARY, electorate, participants, Weight(150, 1_000_000))
    assert (half.approval_heads, half.approval_area, half.passed) == (True, False, False)


def test_major_matters_need_three_quarters_of_both() -> None:
    electorate, participants = Weight(8, 800), Weight(8, 800)
    assert decide(OWNERS_MAJOR, electorate, participants, Weight(6, 600)).passed is True
    assert decide(OWNERS_MAJOR, electorate, participants, Weight(6, 599)).passed is False
    assert decide(OWNERS_MAJOR, electorate, participants, Weight(5, 800)).passed is False
    majors = sorted(code for code, t in OWNER_TYPES.items() if t.rule is OWNERS_MAJOR)
    assert majors == ["common_use", "fund_raise", "rebuild"]  # 民法典 第二百七十八条 (六)–(八)
    assert [t.code for t in OWNER_TYPES.values() if t.election] == ["committee_election"]


def test_village_meetings_and_the_four_deliberations() -> None:
    adults = Weight(200)
    assert decide(VILLAGERS_MEETING, adults, Weight(100), Weight(100)).quorum_met is False
    assert decide(VILLAGERS_MEETING, adults, Weight(101), Weight(51)).passed is True
    assert decide(VILLAGERS_MEETING, adults, Weight(101), Weight(50)).passed is False
    members = Weight(30)
    assert decide(REPRESENTATIVES_MEETING, members, Weight(20), Weight(11)).passed is True
    assert decide(REPRESENTATIVES_MEETING, members, Weight(19), Weight(19)).quorum_met is False
    review = STEP_RULES["review"]  # 党员大会: 2/3 present, more than half of those due agree
    assert decide(review, Weight(36), Weight(24), Weight(19)).passed is True
    assert decide(review, Weight(36), Weight(24), Weight(18)).passed is False
    assert decide(review, Weight(36), Weight(23), Weight(23)).quorum_met is False


def ballots(*rows: tuple[tuple[str, ...], int, int]) -> list[Ballot]:
    return [Ballot(choice, Weight(heads, area)) for choice, heads, area in rows]


def test_counting_an_ordinary_matter() -> None:
    cast = ballots(
        (("同意",), 1, 9000), (("反对",), 1, 6000), (("同意",), 1, 7525), (("弃权",), 1, 100)
    )
    tally = count(OWNERS_ORDINARY, Weight(5, 30000), cast, options=("同意", "反对", "弃权"))
    assert tally["participants"] == {"heads": 4, "area": 22625}
    assert [(o["option"], o["heads"], o["area"]) for o in tally["options"]] == [
        ("同意", 2, 16525),
        ("反对", 1, 6000),
        ("弃权", 1, 100),
    ]
    # 2 of 4 owners agree: exactly half by headcount, so not passed despite the area
    assert (tally["quorum_met"], tally["approval_heads"], tally["approval_area"]) == (
        True,
        False,
        True,
    )
    assert tally["passed"] is False


def test_an_election_fills_its_seats_by_votes_and_leaves_a_tie_open() -> None:
    people = [
        Candidate("1", "甲"),
        Candidate("2", "乙"),
        Candidate("3", "丙"),
        Candidate("4", "丁"),
    ]
    cast = ballots(
        (("1", "2"), 1, 100),
        (("1", "3"), 1, 100),
        (("1", "2"), 1, 100),
        (("1", "3"), 1, 100),
        (("4",), 1, 100),
    )
    tally = count(OWNERS_ORDINARY, Weight(6, 600), cast, candidates=people, seats=2)
    rows = {
        c["name"]: (c["heads"], c["approved"], c["elected"], c["tied"]) for c in tally["candidates"]
    }
    # 甲 4 of 5; 乙 and 丙 2 of 5 each: not more than half, so neither is approved
    assert rows == {
        "甲": (4, True, True, False),
        "乙": (2, False, False, False),
        "丙": (2, False, False, False),
        "丁": (1, False, False, False),
    }
    assert (tally["elected"], tally["passed"]) == (["1"], True)

    cast = ballots(
        (("1", "2"), 1, 100),
        (("1", "3"), 1, 100),
        (("1", "2"), 1, 100),
        (("1", "3"), 1, 100),
        (("2", "3"), 1, 100),
    )
    tally = count(OWNERS_ORDINARY, Weight(5, 500), cast, candidates=people[:3], seats=2)
    assert (tally["elected"], sorted(tally["tied"])) == (
        ["1"],
        ["2", "3"],
    )  # 乙 and 丙 tie for the last seat


def test_an_election_without_a_quorum_elects_nobody() -> None:
    people = [Candidate("1", "甲")]
    tally = count(
        OWNERS_ORDINARY, Weight(3, 300), ballots((("1",), 1, 100)), candidates=people, seats=1
    )
    assert (tally["quorum_met"], tally["elected"], tally["passed"]) == (False, [], False)


def test_the_fingerprint_ignores_order_and_sees_any_change() -> None:
    first = ballots((("同意",), 1, 100), (("反对",), 1, 250))
    assert digest(first) == digest(list(reversed(first)))
    assert digest(first) != digest(ballots((("同意",), 1, 100), (("同意",), 1, 250)))
    assert digest(first) != digest(ballots((("同意",), 1, 100), (("反对",), 1, 251)))
