"""民主议事 (deliberation) through its API: an owners' matter from 议题征集 to 执行结果公示, the
decision rules at their boundaries, every refused vote with its reason, changing a vote,
secret ballots, recounting, the job that opens and closes votes, and the township switch.
Every test runs on SQLite and on PostgreSQL.

The helpers here (``World``, ``owners``, ``propose``, ``publish``, ``open_voting``, …) are
shared with the other ``test_deliberation_*`` modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from core import ArchiveHousehold, ArchivePerson, metric_value
from core.identity.models import Account
from core.identity.service import issue_token
from core.testing import Sanmin
from plugins.deliberation.models import Ballot, Matter, Turnout

PLUGIN = "deliberation"
API = f"/api/v1/p/{PLUGIN}"
PAGES = f"/p/{PLUGIN}"
COUNTY = "330802000000"
TOWNSHIP = "330802001000"
VILLAGE = "330802001001"
GRID = "330802001001001"
OTHER_GRID = "330802001001002"
OTHER_VILLAGE = "330802001002"
OTHER_TOWNSHIP = "330802002000"
OTHER_TOWNSHIP_GRID = "330802002001001"
NOW = datetime(2030, 3, 4, 2, 0, tzinfo=UTC)  # 10:00 in China
OPENS = "2030-03-08 09:00"  # local: more than 3 days after NOW
CLOSES = "2030-03-15 18:00"
AT_OPEN = datetime(2030, 3, 8, 1, 0, tzinfo=UTC)
AT_CLOSE = datetime(2030, 3, 15, 10, 0, tzinfo=UTC)


@pytest.fixture
def sanmin_plugins() -> list[str]:
    return [PLUGIN]


def ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def locs(answer: Any) -> list[list[str]]:
    assert answer.status_code == 422, answer.text
    return [error["loc"] for error in answer.json()["detail"]]


def set_clock(sanmin: Sanmin, moment: datetime) -> None:
    sanmin.kernel.workflows.clock = lambda: moment


@dataclass
class Owner:
    """An archive person with a verified resident account (``client``)."""

    person_id: int
    name: str
    client: TestClient


@dataclass
class World:
    """府山社区 with the plugin on, a cadre, a clerk, and archive persons made on demand."""

    sanmin: Sanmin
    cadre: TestClient
    clerk: TestClient
    households: int = 0
    people: list[Owner] = field(default_factory=list)

    def person(self, name: str, unit: str = GRID, born: date = date(1970, 5, 1)) -> int:
        """A new archive household with one person (its head); the person's id."""
        self.households += 1
        with self.sanmin.session() as session:
            home = ArchiveHousehold(
                number=f"{unit}{self.households:04d}",
                address=f"{self.households}号",
                unit_code=unit,
                source="test",
            )
            session.add(home)
            session.flush()
            person = ArchivePerson(
                name=name,
                gender="male",
                birth_date=born,
                household_id=home.id,  # type: ignore[arg-type]
                relation="head",
                unit_code=unit,
                source="test",
            )
            session.add(person)
            session.flush()
            return person.id  # type: ignore[return-value]

    def resident(self, person_id: int | None, unit: str = GRID) -> TestClient:
        """A resident account at ``unit``, linked to ``person_id`` (verified) unless ``None``."""
        account = self.sanmin.account("resident", unit)
        with self.sanmin.session() as session:
            row = session.get(Account, account.id)
            assert row is not None
            row.person_id = person_id
            row.person_verified_at = NOW if person_id else None
            session.add(row)
            session.flush()
            token = issue_token(session, row, "bearer", None)
        return TestClient(self.sanmin.app, headers={"Authorization": f"Bearer {token}"})

    def owner(self, name: str, unit: str = GRID) -> Owner:
        person_id = self.person(name, unit)
        found = Owner(person_id, name, self.resident(person_id, unit))
        self.people.append(found)
        return found


def open_world(sanmin: Sanmin) -> World:
    for unit in (GRID, OTHER_GRID, OTHER_TOWNSHIP_GRID):
        sanmin.unit(unit)
    sanmin.unit(OTHER_VILLAGE + "001")
    set_clock(sanmin, NOW)
    return World(
        sanmin=sanmin,
        cadre=sanmin.client_as("village_cadre", VILLAGE),
        clerk=sanmin.client_as("deliberation_clerk", VILLAGE),
    )


@pytest.fixture
def world(sanmin: Sanmin) -> World:
    return open_world(sanmin)


def estate(
    world: World, areas: list[str], name: str = "府山雅苑", owners: list[Owner] | None = None
) -> tuple[int, list[Owner]]:
    """An estate at ``GRID`` with one 专有部分 per area, each owned by a new owner (or by
    ``owners`` in turn); returns its id and the owners, in order."""
    made = ok(world.cadre.post(f"{API}/estates", params={"unit": GRID}, json={"name": name}), 201)
    holders = owners or [world.owner(f"业主{n}") for n in range(len(areas))]
    for n, area in enumerate(areas):
        body = {
            "label": f"1幢1单元{n + 101}室",
            "area": area,
            "owner_person_id": holders[n % len(holders)].person_id,
        }
        ok(world.cadre.post(f"{API}/estates/{made['id']}/parcels", json=body))
    return made["id"], holders


def propose(client: TestClient, unit: str = VILLAGE, **body: Any) -> dict[str, Any]:
    defaults = {
        "kind": "owners",
        "matter_type": "fund_use",
        "title": "更换电梯",
        "description": "使用维修资金更换电梯",
    }
    return ok(client.post(f"{API}/matters", params={"unit": unit}, json={**defaults, **body}), 201)


def step(client: TestClient, matter: dict[str, Any], name: str, **inputs: Any) -> dict[str, Any]:
    seen = ok(client.get(f"{API}/matters/{matter['id']}"))
    answer = client.post(
        f"{API}/matters/{matter['id']}/transitions/{name}",
        json={"version": seen["version"], "inputs": inputs},
    )
    return ok(answer)


def publish(world: World, matter: dict[str, Any], *, review: bool = True) -> dict[str, Any]:
    if review:
        step(world.cadre, matter, "review")
    return step(world.cadre, matter, "publish", opens_at=OPENS, closes_at=CLOSES)


def open_voting(world: World, matter: dict[str, Any]) -> dict[str, Any]:
    set_clock(world.sanmin, AT_OPEN)
    return step(world.cadre, matter, "open")


def count(world: World, matter: dict[str, Any]) -> dict[str, Any]:
    set_clock(world.sanmin, AT_CLOSE)
    step(world.cadre, matter, "close")
    return step(world.cadre, matter, "count")


def vote(owner: Owner, matter: dict[str, Any], status: int = 201, **body: Any) -> dict[str, Any]:
    return ok(
        owner.client.post(f"{API}/matters/{matter['id']}/ballots", json=body or {"choice": "同意"}),
        status,
    )


def voting_matter(
    world: World, areas: list[str], **body: Any
) -> tuple[dict[str, Any], list[Owner]]:
    estate_id, owners = estate(world, areas)
    matter = propose(world.cadre, estate_id=estate_id, **body)
    publish(world, matter)
    return open_voting(world, matter), owners


# -- the whole course ------------------------------------------------------------------------


def test_an_owners_matter_from_proposal_to_published_implementation(world: World) -> None:
    estate_id, owners = estate(world, ["100.00", "80.50", "120.00", "99.50"])
    proposer = owners[0]
    matter = propose(proposer.client, unit=GRID, estate_id=estate_id, title="更换3幢电梯")
    assert (matter["state"], matter["state_label"], matter["rule"]) == (
        "collecting",
        "议题征集",
        "owners_ordinary",
    )
    assert "民法典第二百七十八条" in matter["rule_summary"]
    assert matter["actions"] == []  # the proposer does not run the process
    assert [a["name"] for a in ok(world.cadre.get(f"{API}/matters/{matter['id']}"))["actions"]] == [
        "review",
        "reject",
        "withdraw",
    ]
    step(world.cadre, matter, "review")

    too_soon = world.cadre.post(
        f"{API}/matters/{matter['id']}/transitions/publish",
        json={"version": 2, "inputs": {"opens_at": "2030-03-07 09:00", "closes_at": CLOSES}},
    )
    assert locs(too_soon) == [["body", "inputs", "opens_at"]]
    assert "至少公示 3 天" in too_soon.json()["detail"][0]["msg"]
    published = step(world.cadre, matter, "publish", opens_at=OPENS, closes_at=CLOSES)
    assert (published["state"], published["turnout"]["electorate_heads"]) == ("notice", 4)
    assert published["turnout"]["electorate_area_m2"] == "400.00"
    early = world.cadre.post(f"{API}/matters/{matter['id']}/transitions/open", json={"version": 3})
    assert early.status_code == 409 and "公示期未满" in early.json()["detail"]

    open_voting(world, matter)
    assert vote(owners[0], matter)["changed"] is False
    assert vote(owners[1], matter, choice="反对")["matter"]["mine"]["choice"] == ["反对"]
    voter = next(
        r for r in ok(world.clerk.get(f"{API}/matters/{matter['id']}/roll")) if r["name"] == "业主2"
    )
    recorded = world.clerk.post(
        f"{API}/matters/{matter['id']}/ballots/in-person",
        json={"voter_id": voter["voter_id"], "choice": "同意"},
    )
    assert ok(recorded, 201)["voted"] is True
    during = ok(world.cadre.get(f"{API}/matters/{matter['id']}"))
    assert during["tally"] is None  # never a running tally
    assert (during["turnout"]["heads"], during["turnout"]["area_m2"]) == (3, "300.50")
    not_yet = world.cadre.post(
        f"{API}/matters/{matter['id']}/transitions/close", json={"version": 4}
    )
    assert not_yet.status_code == 409 and "尚未截止" in not_yet.json()["detail"]

    counted = count(world, matter)
    tally = counted["tally"]
    assert (tally["participants"]["heads"], tally["participants"]["area"]) == (3, 30050)
    assert (tally["participants"]["heads_share"], tally["participants"]["area_share"]) == (
        "75.00%",
        "75.13%",
    )
    assert tally["quorum_met"] is True and tally["passed"] is True
    assert [(o["option"], o["heads"], o["area_m2"]) for o in tally["options"]] == [
        ("同意", 2, "220.00"),
        ("反对", 1, "80.50"),
        ("弃权", 0, "0.00"),
    ]
    conclude = world.cadre.post(
        f"{API}/matters/{matter['id']}/transitions/conclude", json={"version": 6}
    )
    assert conclude.status_code == 409  # it passed: it must be implemented
    step(world.cadre, matter, "announce")
    set_clock(world.sanmin, AT_CLOSE + timedelta(days=1))
    step(world.cadre, matter, "implement")
    set_clock(world.sanmin, AT_CLOSE + timedelta(days=11))
    done = step(world.cadre, matter, "report", note="电梯已更换并投入使用")
    assert (done["state"], done["state_label"], done["implementation_days"]) == (
        "implemented",
        "执行结果已公示",
        11.0,
    )
    assert [e["label"] for e in done["timeline"]] == [
        "议题征集",
        "受理审核",
        "公示议题",
        "开始投票",
        "截止投票",
        "计票",
        "公示结果",
        "组织执行",
        "公示执行结果",
    ]

    board = ok(owners[3].client.get(f"{API}/board", params={"unit": GRID}))
    assert [(m["id"], m["tally"]["passed"]) for m in board] == [(matter["id"], True)]
    kernel, engine = world.sanmin.kernel, world.sanmin.engine
    period = (date(2030, 3, 1), date(2030, 3, 31))
    figures = {
        name: metric_value(engine, kernel, PLUGIN, name, TOWNSHIP, *period, aggregates=False)
        for name in (
            "matters",
            "votes",
            "turnout",
            "turnout_area",
            "quorum_reached",
            "passed",
            "implemented",
        )
    }
    assert figures == {
        "matters": 1,
        "votes": 1,
        "turnout": 75.0,
        "turnout_area": pytest.approx(75.125),
        "quorum_reached": 1,
        "passed": 1,
        "implemented": 1,
    }
    days = metric_value(
        engine,
        kernel,
        PLUGIN,
        "days_to_implementation",
        TOWNSHIP,
        date(2030, 3, 1),
        date(2030, 4, 30),
        aggregates=False,
    )
    assert days == 11.0


# -- refused votes, each with its reason -----------------------------------------------------


def test_each_refused_vote_names_its_reason(world: World) -> None:
    matter, owners = voting_matter(world, ["90.00", "90.00", "90.00"])
    url = f"{API}/matters/{matter['id']}/ballots"
    vote(owners[0], matter)

    twice = owners[0].client.post(url, json={"choice": "反对"})
    assert twice.status_code == 409 and "已投票，本议题不允许改票" in twice.json()["detail"]
    tenant = world.resident(world.person("租户"))  # a verified villager who owns nothing here
    outside = tenant.post(url, json={"choice": "同意"})
    assert outside.status_code == 403 and "不在本议题的表决名册中" in outside.json()["detail"]
    unverified = world.resident(None)
    refused = unverified.post(url, json={"choice": "同意"})
    assert refused.status_code == 403 and "尚未完成实名核验" in refused.json()["detail"]
    stranger = world.resident(world.person("外村人", OTHER_VILLAGE + "001"), OTHER_VILLAGE + "001")
    assert stranger.post(url, json={"choice": "同意"}).status_code == 404  # cannot see it at all
    assert locs(owners[1].client.post(url, json={"choice": "赞成"})) == [["body", "choice"]]
    assert locs(owners[1].client.post(url, json={"candidates": [1]})) == [["body", "candidates"]]

    set_clock(world.sanmin, AT_CLOSE)  # the deadline passed; the job has not closed it yet
    late = owners[1].client.post(url, json={"choice": "同意"})
    assert late.status_code == 409 and "投票已于 2030-03-15 18:00 截止" in late.json()["detail"]
    voter = next(
        r for r in ok(world.clerk.get(f"{API}/matters/{matter['id']}/roll")) if not r["voted"]
    )
    in_person = world.clerk.post(
        f"{url}/in-person", json={"voter_id": voter["voter_id"], "choice": "同意"}
    )
    assert in_person.status_code == 409 and "截止" in in_person.json()["detail"]
    with world.sanmin.session() as session:
        assert (
            len(session.exec(select(Turnout).where(col(Turnout.matter_id) == matter["id"])).all())
            == 1
        )


def test_voting_before_it_opens_and_in_person_twice_are_refused(world: World) -> None:
    estate_id, owners = estate(world, ["90.00", "90.00"])
    matter = propose(world.cadre, estate_id=estate_id)
    publish(world, matter)
    early = owners[0].client.post(f"{API}/matters/{matter['id']}/ballots", json={"choice": "同意"})
    assert early.status_code == 409 and "将于 2030-03-08 09:00 开始" in early.json()["detail"]
    open_voting(world, matter)
    vote(owners[0], matter)
    roll = ok(world.clerk.get(f"{API}/matters/{matter['id']}/roll"))
    voted = next(r for r in roll if r["voted"])
    again = world.clerk.post(
        f"{API}/matters/{matter['id']}/ballots/in-person",
        json={"voter_id": voted["voter_id"], "choice": "反对"},
    )
    assert again.status_code == 409 and "已投票" in again.json()["detail"]
    resident = owners[1].client.post(
        f"{API}/matters/{matter['id']}/ballots/in-person",
        json={"voter_id": voted["voter_id"], "choice": "反对"},
    )
    assert resident.status_code == 403  # only officers record in-person votes
    assert locs(
        world.clerk.post(
            f"{API}/matters/{matter['id']}/ballots/in-person",
            json={"voter_id": 999999, "choice": "同意"},
        )
    ) == [["body", "voter_id"]]


def test_a_vote_may_change_until_the_deadline_where_the_matter_allows_it(world: World) -> None:
    matter, owners = voting_matter(world, ["90.00", "60.00"], allow_change=True)
    vote(owners[0], matter, choice="反对")
    changed = vote(owners[0], matter, 200, choice="同意")
    assert changed["changed"] is True and changed["matter"]["mine"]["choice"] == ["同意"]
    with world.sanmin.session() as session:
        rows = session.exec(select(Ballot).where(col(Ballot.matter_id) == matter["id"])).all()
        assert [(b.choice, b.area) for b in rows] == [(["同意"], 9000)]  # replaced, not added
        turnout = session.exec(select(Turnout).where(col(Turnout.matter_id) == matter["id"])).one()
        assert turnout.changes == 1
    set_clock(world.sanmin, AT_CLOSE)
    late = owners[0].client.post(f"{API}/matters/{matter['id']}/ballots", json={"choice": "反对"})
    assert late.status_code == 409


# -- secret ballots --------------------------------------------------------------------------


def test_a_secret_ballot_keeps_who_chose_what_from_everyone(world: World) -> None:
    matter, owners = voting_matter(
        world, ["90.00", "60.00", "75.25"], secret=True, allow_change=True
    )
    vote(owners[0], matter, choice="反对")
    vote(owners[0], matter, 200, choice="弃权")  # changed: the receipt finds the ballot
    vote(owners[1], matter, choice="同意")
    mine = ok(owners[1].client.get(f"{API}/matters/{matter['id']}"))["mine"]
    assert (mine["voted"], mine["choice"]) == (True, None)  # not even the voter reads it back

    with world.sanmin.session() as session:
        rows = session.exec(select(Ballot).where(col(Ballot.matter_id) == matter["id"])).all()
        assert all(b.voter_id is None and b.cast_at is None and b.receipt for b in rows)
        assert sorted(b.choice[0] for b in rows) == ["同意", "弃权"]
        stored = session.get(Matter, matter["id"])
        assert stored is not None and stored.ballot_key is not None
    admin = world.sanmin.client_as("township_admin", TOWNSHIP)
    assert world.clerk.get(f"{API}/matters/{matter['id']}/ballots").status_code == 409
    roll = ok(admin.get(f"{API}/matters/{matter['id']}/roll"))
    assert sorted(r["voted"] for r in roll) == [False, True, True]
    assert not any("choice" in r for r in roll)
    detail = ok(admin.get(f"{API}/matters/{matter['id']}"))
    assert (detail["tally"], detail["mine"], detail["turnout"]["heads"]) == (None, None, 2)
    entries = ok(admin.get("/api/v1/audit", params={"unit": TOWNSHIP, "limit": 200}))
    ballots_audited = [e for e in entries if e["action"].startswith("deliberation.ballot.")]
    assert [e["action"] for e in ballots_audited][::-1] == [
        "deliberation.ballot.cast",
        "deliberation.ballot.change",
        "deliberation.ballot.cast",
    ]
    assert all("choice" not in (e["after"] or {}) for e in ballots_audited)

    counted = count(world, matter)  # closing erases the key and every receipt
    with world.sanmin.session() as session:
        rows = session.exec(select(Ballot).where(col(Ballot.matter_id) == matter["id"])).all()
        assert all(b.receipt is None for b in rows)
        stored = session.get(Matter, matter["id"])
        assert stored is not None and stored.ballot_key is None
    assert [(o["option"], o["heads"]) for o in counted["tally"]["options"]] == [
        ("同意", 1),
        ("反对", 0),
        ("弃权", 1),
    ]


def test_open_ballots_show_officers_who_chose_what(world: World) -> None:
    matter, owners = voting_matter(world, ["90.00", "60.00"])
    vote(owners[0], matter, choice="反对")
    shown = ok(world.clerk.get(f"{API}/matters/{matter['id']}/ballots"))
    assert [(b["name"], b["choice"]) for b in shown] == [("业主0", ["反对"])]
    assert owners[1].client.get(f"{API}/matters/{matter['id']}/ballots").status_code == 403
    entries = ok(world.sanmin.client.get("/api/v1/audit", params={"unit": TOWNSHIP, "limit": 200}))
    cast = next(e for e in entries if e["action"] == "deliberation.ballot.cast")
    assert cast["after"]["choice"] == ["反对"] and cast["after"]["channel"] == "online"


# -- recount ---------------------------------------------------------------------------------


def test_a_recount_reproduces_the_published_tally_and_catches_a_changed_ballot(
    world: World,
) -> None:
    matter, owners = voting_matter(world, ["90.00", "60.00", "75.25", "88.80"], secret=True)
    for owner, choice in zip(owners, ("同意", "反对", "同意"), strict=False):
        vote(owner, matter, choice=choice)
    counted = count(world, matter)
    again = ok(world.clerk.get(f"{API}/matters/{matter['id']}/recount"))
    assert again["matches"] is True and again["tally"]["digest"] == counted["tally"]["digest"]
    assert again["tally"]["participants"] == {"heads": 3, "area": 22525}
    with world.sanmin.session() as session:  # someone edits a stored ballot behind the app
        row = session.exec(select(Ballot).where(col(Ballot.matter_id) == matter["id"])).first()
        assert row is not None
        row.choice = ["反对"] if row.choice == ["同意"] else ["同意"]
        session.add(row)
    tampered = ok(world.clerk.get(f"{API}/matters/{matter['id']}/recount"))
    assert (
        tampered["matches"] is False and tampered["tally"]["digest"] != counted["tally"]["digest"]
    )
    not_counted = propose(world.cadre, estate_id=matter["estate_id"], title="另一议题")
    assert world.clerk.get(f"{API}/matters/{not_counted['id']}/recount").status_code == 409


# -- the rules at their boundaries, through the whole stack ----------------------------------


def decided(
    world: World, areas: list[str], choices: list[str | None], **body: Any
) -> dict[str, Any]:
    """A matter voted by ``choices`` (one per owner; ``None``: does not vote), counted."""
    matter, owners = voting_matter(world, areas, **body)
    for owner, choice in zip(owners, choices, strict=True):
        if choice is not None:
            vote(owner, matter, choice=choice)
    return count(world, matter)["tally"]


@pytest.mark.parametrize(
    ("areas", "choices", "quorum", "passed"),
    [
        # exactly 2/3 of heads and of area take part: quorum met; 2 of 2 agree
        (["100", "100", "100"], ["同意", "同意", None], True, True),
        # one vote short of 2/3 by headcount (5 of 9 > 1/2 but < 2/3)
        (["10"] * 9, ["同意"] * 5 + [None] * 4, False, False),
        # 2/3 of heads but one hundredth of a m² short of 2/3 of the area
        (["100.01", "100", "100"], [None, "同意", "同意"], False, False),
        # exactly half agree (by heads and area): not more than half
        (["50", "50", "50", "50"], ["同意", "同意", "反对", "弃权"], True, False),
        # more than half by heads, exactly half by area: not passed
        (["60", "20", "20", "100"], ["同意", "同意", "同意", "反对"], True, False),
    ],
    ids=["exactly-two-thirds", "one-head-short", "area-short", "exactly-half", "half-area"],
)
def test_owners_ordinary_rule_at_its_boundaries(
    world: World, areas: list[str], choices: list[str | None], quorum: bool, passed: bool
) -> None:
    tally = decided(world, areas, choices)
    assert (tally["quorum_met"], tally["passed"]) == (quorum, passed)


@pytest.mark.parametrize(
    ("choices", "passed"),
    [(["同意", "同意", "同意", "反对"], True), (["同意", "同意", "反对", "反对"], False)],
    ids=["exactly-three-quarters", "one-short"],
)
def test_a_major_matter_needs_three_quarters(
    world: World, choices: list[str], passed: bool
) -> None:
    tally = decided(world, ["80", "80", "80", "80"], choices, matter_type="fund_raise")
    assert tally["rule"] == "owners_major" and tally["approval"] == "3/4"
    assert (tally["quorum_met"], tally["approved"], tally["passed"]) == (True, passed, passed)


def test_an_owner_of_several_parcels_counts_once_with_their_whole_area(world: World) -> None:
    owner_a, owner_b = world.owner("甲"), world.owner("乙")
    estate_id, _ = estate(world, ["50", "70", "80"], owners=[owner_a, owner_b, owner_a])
    matter = propose(world.cadre, estate_id=estate_id)
    published = publish(world, matter)
    assert (
        published["turnout"]["electorate_heads"],
        published["turnout"]["electorate_area_m2"],
    ) == (2, "200.00")
    open_voting(world, matter)
    assert vote(owner_a, matter)["matter"]["mine"]["area_m2"] == "130.00"
    tally = count(world, matter)["tally"]
    assert tally["participants"] == {
        "heads": 1,
        "area": 13000,
        "area_m2": "130.00",
        "heads_share": "50.00%",
        "area_share": "65.00%",
    }
    assert tally["quorum_met"] is False  # 1 of 2 owners: short of 2/3 by headcount


# -- the job and the switch ------------------------------------------------------------------


def test_the_job_opens_and_closes_voting_on_time(world: World) -> None:
    estate_id, owners = estate(world, ["90", "90"])
    matter = propose(world.cadre, estate_id=estate_id, secret=True, allow_change=True)
    publish(world, matter)
    worker = world.sanmin.worker(clock=lambda: AT_OPEN - timedelta(minutes=10))
    worker.run_once()
    assert ok(world.cadre.get(f"{API}/matters/{matter['id']}"))["state"] == "notice"
    set_clock(world.sanmin, AT_OPEN)
    world.sanmin.worker(clock=lambda: AT_OPEN).run_once()
    assert ok(world.cadre.get(f"{API}/matters/{matter['id']}"))["state"] == "voting"
    vote(owners[0], matter)
    world.sanmin.worker(clock=lambda: AT_CLOSE).run_once()
    closed = ok(world.cadre.get(f"{API}/matters/{matter['id']}"))
    assert closed["state"] == "closed"
    assert [e["actor"] for e in closed["timeline"]][-2:] == ["deliberation", "deliberation"]
    with world.sanmin.session() as session:
        stored = session.get(Matter, matter["id"])
        assert stored is not None and stored.ballot_key is None


def test_off_in_one_township_absent_there_and_working_elsewhere(world: World) -> None:
    world.sanmin.disable(PLUGIN, OTHER_TOWNSHIP)
    off_cadre = world.sanmin.client_as("village_cadre", OTHER_TOWNSHIP[:9] + "001")
    for path in ("/estates", "/matters", "/board", "/rules"):
        answer = off_cadre.get(f"{API}{path}", params={"unit": OTHER_TOWNSHIP_GRID})
        assert answer.status_code == 404, path
        assert answer.json()["plugin"] == PLUGIN
    page = off_cadre.get(
        f"{PAGES}/", params={"unit": OTHER_TOWNSHIP_GRID}, headers={"accept": "text/html"}
    )
    assert page.status_code == 404 and "民主议事" in page.text
    home = off_cadre.get("/", params={"unit": OTHER_TOWNSHIP_GRID}).text
    assert f"{PAGES}/" not in home
    metric = world.sanmin.client.get(
        f"/api/v1/metrics/{PLUGIN}/matters", params={"unit": OTHER_TOWNSHIP}
    )
    assert metric.status_code == 404

    estate_id, _ = estate(world, ["90"])
    matter = propose(world.cadre, estate_id=estate_id)
    assert ok(world.cadre.get(f"{API}/matters", params={"unit": VILLAGE}))[0]["id"] == matter["id"]
    assert f"{PAGES}/?unit={VILLAGE}" in world.cadre.get("/", params={"unit": VILLAGE}).text
    march = {"start": "2030-03-01", "end": "2030-03-31"}
    figure = ok(
        world.sanmin.client.get(
            f"/api/v1/metrics/{PLUGIN}/matters", params={"unit": TOWNSHIP, **march}
        )
    )
    assert figure["value"] == 1
    world.sanmin.disable(PLUGIN, TOWNSHIP)  # switched off afterwards: its matters are out of reach
    assert world.cadre.get(f"{API}/matters/{matter['id']}").status_code == 404


def test_the_workflow_moves_only_through_the_matter_service(world: World) -> None:
    estate_id, _ = estate(world, ["90"])
    matter = propose(world.cadre, estate_id=estate_id)
    with world.sanmin.session() as session:
        instance = session.get(Matter, matter["id"]).instance_id  # type: ignore[union-attr]
    around = world.cadre.post(
        f"{API}/workflows/owners_matter/instances/{instance}/transitions/review",
        json={"version": 1},
    )
    assert around.status_code == 422 and "请通过民主议事办理" in around.text
    assert ok(world.cadre.get(f"{API}/matters/{matter['id']}"))["state"] == "collecting"
