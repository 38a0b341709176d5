"""民主议事: village matters by 四议两公开 (each meeting with its attendance, the
representatives' or villagers' meeting deciding), the villagers' roll from the archive,
业委会 elections with several seats, and what proposals and registers refuse. Every test runs
on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from core.testing import Sanmin
from tests.plugins.test_deliberation import (
    API,
    GRID,
    OTHER_GRID,
    OTHER_VILLAGE,
    PLUGIN,
    TOWNSHIP,
    VILLAGE,
    World,
    count,
    estate,
    locs,
    ok,
    open_voting,
    open_world,
    propose,
    publish,
    step,
    vote,
)


@pytest.fixture
def sanmin_plugins() -> list[str]:
    return [PLUGIN]


@pytest.fixture
def world(sanmin: Sanmin) -> World:
    return open_world(sanmin)


def meeting(due: int, present: int, agree: int, against: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "held_on": "2030-03-01",
        "form": "现场会议",
        "due": due,
        "present": present,
        "agree": agree,
        "against": against,
        "abstain": 0,
        "content": "会议讨论并表决",
        "attendees": "参会人员签字",
        **extra,
    }


def village_matter(world: World, **body: Any) -> dict[str, Any]:
    fields = {
        "kind": "village",
        "matter_type": "welfare",
        "title": "开办老年食堂",
        "description": "在党群服务中心开办老年食堂",
        "meeting": "representatives_meeting",
    }
    return propose(world.cadre, **{**fields, **body})


def test_a_village_matter_by_four_deliberations_and_two_publications(world: World) -> None:
    representatives = [world.owner(f"代表{n}", GRID if n % 2 else OTHER_GRID) for n in range(6)]
    for person in representatives:
        body = {"person_id": person.person_id, "since": "2029-01-01"}
        ok(world.cadre.post(f"{API}/representatives", params={"unit": VILLAGE}, json=body))
    villager = world.owner("村民")
    matter = village_matter(world)
    assert [a["name"] for a in matter["actions"]] == ["propose", "reject", "withdraw"]
    early = world.cadre.post(
        f"{API}/matters/{matter['id']}/transitions/publish",
        json={
            "version": 1,
            "inputs": {"opens_at": "2030-03-08 09:00", "closes_at": "2030-03-15 18:00"},
        },
    )
    assert early.status_code == 409  # not before the three deliberations

    short = world.cadre.post(
        f"{API}/matters/{matter['id']}/transitions/propose",
        json={"version": 1, "inputs": meeting(5, 2, 2)},
    )
    assert locs(short) == [["body", "inputs", "present"]]
    assert "不能作出决定" in short.json()["detail"][0]["msg"]
    muddled = world.cadre.post(
        f"{API}/matters/{matter['id']}/transitions/propose",
        json={"version": 1, "inputs": meeting(5, 4, 4, against=1)},
    )
    assert locs(muddled) == [["body", "inputs", "agree"]]
    step(world.cadre, matter, "propose", **meeting(5, 5, 5))
    step(world.cadre, matter, "discuss", **meeting(9, 8, 7, against=1))
    reviewed = step(world.cadre, matter, "review", **meeting(36, 24, 19, against=5))
    assert reviewed["state_label"] == "已审议（党员大会）"
    assert [
        (g["label"], g["due"], g["present"], g["attendance"], g["passed"])
        for g in reviewed["meetings"]
    ] == [
        ("村党组织提议", 5, 5, "100.00%", True),
        ("村“两委”商议", 9, 8, "88.89%", True),
        ("党员大会审议", 36, 24, "66.67%", True),
    ]
    published = step(
        world.cadre, matter, "publish", opens_at="2030-03-08 09:00", closes_at="2030-03-15 18:00"
    )
    assert (
        published["turnout"]["electorate_heads"] == 6
        and published["rule"] == "representatives_meeting"
    )

    open_voting(world, matter)
    for person, choice in zip(representatives[:3], ("同意", "同意", "反对"), strict=True):
        vote(person, matter, choice=choice)
    outsider = villager.client.post(
        f"{API}/matters/{matter['id']}/ballots", json={"choice": "同意"}
    )
    assert outsider.status_code == 403 and "表决名册" in outsider.json()["detail"]
    roll = ok(world.clerk.get(f"{API}/matters/{matter['id']}/roll"))
    in_person = next(r for r in roll if not r["voted"])
    ok(
        world.clerk.post(
            f"{API}/matters/{matter['id']}/ballots/in-person",
            json={"voter_id": in_person["voter_id"], "choice": "同意"},
        ),
        201,
    )
    tally = count(world, matter)["tally"]
    # 4 of 6 members (exactly 2/3) attended; 3 of the 4 present agreed
    assert (tally["participants"]["heads"], tally["quorum_met"], tally["passed"]) == (4, True, True)
    assert tally["by_area"] is False
    announced = step(world.cadre, matter, "announce")
    assert announced["state_label"] == "决议公开"
    step(world.cadre, matter, "implement")
    done = step(world.cadre, matter, "report", note="老年食堂已开业")
    assert (done["state_label"], done["implementation_note"]) == (
        "实施结果已公开",
        "老年食堂已开业",
    )
    board = ok(villager.client.get(f"{API}/board", params={"unit": GRID}))
    assert [m["state"] for m in board] == ["implemented"]


def test_a_deliberation_that_does_not_approve_rejects_the_matter(world: World) -> None:
    matter = village_matter(world)
    step(world.cadre, matter, "propose", **meeting(5, 5, 5))
    step(world.cadre, matter, "discuss", **meeting(9, 9, 9))
    # 党员大会: 24 of 36 present (2/3), but 18 agree: not more than half of those due
    rejected = step(world.cadre, matter, "review", **meeting(36, 24, 18, against=6))
    assert (rejected["state"], rejected["meetings"][-1]["passed"]) == ("rejected", False)
    assert rejected["timeline"][-1]["inputs"] == [{"name": "理由", "value": "党员大会审议未通过"}]


def test_the_villagers_meeting_roll_is_the_village_s_adults_on_the_day_of_notice(
    world: World,
) -> None:
    world.person("刚满十八", born=date(2012, 3, 4))  # 18 on 2030-03-04, the day of notice
    world.person("差一天", born=date(2012, 3, 5))
    world.person("外村人", OTHER_VILLAGE + "001", born=date(1960, 1, 1))
    world.person("长者", OTHER_GRID, born=date(1940, 1, 1))
    matter = village_matter(world, meeting="villagers_meeting", secret=True)
    for name in ("propose", "discuss", "review"):
        step(world.cadre, matter, name, **meeting(30, 30, 30))
    published = publish(world, matter, review=False)
    assert "村民委员会组织法第二十二条" in published["rule_summary"]
    roll = ok(world.cadre.get(f"{API}/matters/{matter['id']}/roll"))
    assert sorted(r["name"] for r in roll) == ["刚满十八", "长者"]
    assert published["turnout"]["electorate_heads"] == 2


def test_an_owners_committee_election_with_several_seats(world: World) -> None:
    estate_id, owners = estate(world, ["80", "90", "100", "110", "120"])
    body = {
        "matter_type": "committee_election",
        "title": "选举业主委员会",
        "secret": True,
        "seats": 2,
        "candidates": [{"name": "甲"}, {"name": "乙", "statement": "退休教师"}, {"name": "丙"}],
    }
    four = {**body, "kind": "owners", "description": "选举", "estate_id": estate_id, "seats": 4}
    too_many_seats = world.cadre.post(f"{API}/matters", params={"unit": VILLAGE}, json=four)
    assert locs(too_many_seats) == [["body", "seats"]]
    matter = propose(world.cadre, estate_id=estate_id, **body)
    assert (matter["election"], matter["options"], [c["name"] for c in matter["candidates"]]) == (
        True,
        [],
        ["甲", "乙", "丙"],
    )
    publish(world, matter)
    open_voting(world, matter)
    ids = {c["name"]: c["id"] for c in matter["candidates"]}
    url = f"{API}/matters/{matter['id']}/ballots"
    too_many = owners[0].client.post(url, json={"candidates": list(ids.values())})
    assert locs(too_many) == [["body", "candidates"]] and "最多选择 2 名" in too_many.text
    assert locs(owners[0].client.post(url, json={"choice": "同意"})) == [["body", "choice"]]
    picks = (["甲", "乙"], ["甲", "乙"], ["甲", "丙"], ["乙"], [])
    for owner, names in zip(owners, picks, strict=True):
        vote(owner, matter, candidates=[ids[n] for n in names])
    tally = count(world, matter)["tally"]
    rows = {c["name"]: (c["heads"], c["area_m2"], c["elected"]) for c in tally["candidates"]}
    assert rows == {
        "甲": (3, "270.00", True),
        "乙": (3, "280.00", True),
        "丙": (1, "100.00", False),
    }
    assert (tally["quorum_met"], tally["passed"], tally["seats"]) == (True, True, 2)


def test_a_proposal_names_each_field_it_refuses(world: World) -> None:
    estate_id, _ = estate(world, ["80"])
    world.sanmin.unit(OTHER_VILLAGE + "001")
    other = world.sanmin.client_as("village_cadre", OTHER_VILLAGE)
    base = {"kind": "owners", "matter_type": "fund_use", "title": "议题", "description": "内容"}
    cases = [
        (world.cadre, VILLAGE, {**base}, ["body", "estate_id"]),
        (other, OTHER_VILLAGE, {**base, "estate_id": estate_id}, ["body", "estate_id"]),
        (
            world.cadre,
            VILLAGE,
            {**base, "estate_id": estate_id, "matter_type": "nope"},
            ["body", "matter_type"],
        ),
        (
            world.cadre,
            VILLAGE,
            {**base, "kind": "village", "matter_type": "welfare"},
            ["body", "meeting"],
        ),
        (
            world.cadre,
            VILLAGE,
            {**base, "estate_id": estate_id, "candidates": [{"name": "甲"}]},
            ["body", "candidates"],
        ),
        (world.sanmin.client, TOWNSHIP, {**base, "estate_id": estate_id}, ["query", "unit"]),
        (world.cadre, VILLAGE, {**base, "estate_id": estate_id, "title": " "}, ["body", "title"]),
    ]
    for client, unit, body, where in cases:
        assert locs(client.post(f"{API}/matters", params={"unit": unit}, json=body)) == [where], (
            body
        )
    volunteer = world.sanmin.client_as("volunteer", VILLAGE)
    refused = volunteer.post(
        f"{API}/matters", params={"unit": VILLAGE}, json={**base, "estate_id": estate_id}
    )
    assert refused.status_code == 403 and "deliberation.propose" in refused.json()["detail"]


def test_the_registers_refuse_bad_areas_and_people_out_of_reach(world: World) -> None:
    made = ok(
        world.cadre.post(f"{API}/estates", params={"unit": GRID}, json={"name": "府山小区"}), 201
    )
    again = world.cadre.post(f"{API}/estates", params={"unit": GRID}, json={"name": "府山小区"})
    assert again.status_code == 409
    owner = world.person("业主")
    parcels = f"{API}/estates/{made['id']}/parcels"
    for area in ("89.555", "0", "-5", "abc"):
        body = {"label": "1-101", "area": area, "owner_person_id": owner}
        assert locs(world.cadre.post(parcels, json=body)) == [["body", "area"]], area
    far = world.person("远方", "330802002001001")
    assert locs(
        world.cadre.post(parcels, json={"label": "1-101", "area": "90", "owner_person_id": far})
    ) == [["body", "owner_person_id"]]
    saved = ok(
        world.cadre.post(parcels, json={"label": "1-101", "area": 89.5, "owner_person_id": owner})
    )
    assert [(p["label"], p["area"], p["owner_name"]) for p in saved["parcels"]] == [
        ("1-101", "89.50", "业主")
    ]
    corrected = ok(
        world.cadre.post(
            parcels, json={"label": "1-101", "area": "90.25", "owner_person_id": owner}
        )
    )
    assert (corrected["parcel_count"], corrected["total_area"]) == (1, "90.25")
    resident = world.resident(owner)
    assert (
        resident.post(f"{API}/estates", params={"unit": GRID}, json={"name": "另一个"}).status_code
        == 403
    )
    elsewhere = world.person("别村", OTHER_VILLAGE + "001")
    refused = world.cadre.post(
        f"{API}/representatives",
        params={"unit": VILLAGE},
        json={"person_id": elsewhere, "since": "2029-01-01"},
    )
    assert locs(refused) == [["body", "person_id"]]
