"""Special groups and care levels: the rule table, county thresholds, overrides with approval,
re-assessment, the ``care_level_refine`` hook and scope. Storage tests run on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi import HTTPException
from sqlalchemy import update
from sqlmodel import col, select

from core import CareInputs, CareResult, hookimpl
from core.archives.care import RULES, ArchiveCareProfile, Thresholds, evaluate
from core.archives.care_api import _insert
from core.archives.models import ArchivePerson
from core.audit.models import AuditEntry
from tests.helpers import manifest

COUNTY, OTHER_COUNTY = "330802000000", "330803000000"
TOWN_A = "330802001000"
VILLAGE_A, VILLAGE_B = "330802001001", "330802002001"
GRID_A, GRID_B = "330802001001001", "330802002001001"  # grids of two townships
API = "/api/v1/archives"
CARE = f"{API}/care"

SCOPED_PATHS = {
    f"{CARE}/persons",
    f"{CARE}/persons/{{person_id}}",
    f"{CARE}/persons/{{person_id}}/profile",
    f"{CARE}/persons/{{person_id}}/tags",
    f"{CARE}/persons/{{person_id}}/tags/{{tag}}",
    f"{CARE}/persons/{{person_id}}/overrides",
    f"{CARE}/overrides/{{override_id}}/decision",
    f"{CARE}/thresholds/{{county_code}}",
}


def born(age: int) -> str:
    """A birth date giving exactly ``age`` today (1 January never lies ahead)."""
    return date(date.today().year - age, 1, 1).isoformat()


# -- the rule table, as data -------------------------------------------------------------------

# (age, lives alone, children, adl, risk, econ) -> the rule expected to fire first
RULE_CASES: list[tuple[tuple[int, bool, str, str, bool, str], str]] = [
    ((70, False, "none", "self", False, "general"), "red.gugua"),
    ((65, False, "bereaved", "self", False, "general"), "red.gugua"),
    ((65, False, "away", "partial", False, "general"), "red.frail_unsupported"),
    ((65, True, "same_city", "self", True, "general"), "red.frail_unsupported"),
    ((82, True, "away", "self", False, "general"), "red.old_alone_away"),
    ((65, False, "same_city", "self", False, "extreme"), "red.extreme_poverty"),
    ((65, False, "away", "self", False, "general"), "yellow.away_self_care"),
    ((65, False, "same_city", "disabled", False, "general"), "yellow.frail_near"),
    ((75, True, "same_city", "self", False, "general"), "yellow.alone_aged"),
    ((65, False, "same_city", "self", False, "low"), "yellow.dibao"),
    ((65, False, "same_city", "self", False, "general"), "green.supported"),
    ((65, True, "same_city", "self", False, "general"), "green.default"),
]


@pytest.mark.parametrize(("values", "rule"), RULE_CASES)
def test_each_rule_of_the_table_fires_with_its_reason(values: tuple[Any, ...], rule: str) -> None:
    result = evaluate(CareInputs(*values), Thresholds())
    row = next(r for r in RULES if r.name == rule)
    assert (result.rule, result.level, result.reason) == (rule, row.level, row.reason)
    assert result.reason.startswith("规则：")


def test_every_rule_has_a_case() -> None:
    assert {rule for _, rule in RULE_CASES} == {r.name for r in RULES}


def test_thresholds_move_the_age_bands() -> None:
    old_alone_away = CareInputs(76, True, "away", "self", False, "general")
    assert evaluate(old_alone_away, Thresholds()).rule == "yellow.away_self_care"
    assert evaluate(old_alone_away, Thresholds(red_alone_age=75)).rule == "red.old_alone_away"


# -- through the API, on both databases --------------------------------------------------------


class Refiner:
    """A township plugin that raises every green elder of 90 and over to yellow."""

    PLUGIN = manifest("care_refiner")

    @hookimpl
    def care_level_refine(self, person, assessment):  # type: ignore[no-untyped-def]
        if assessment.level == "green" and assessment.inputs.age >= 90:
            return CareResult("yellow", "care_refiner.nonagenarian", "规则：九十岁以上黄色关注")
        return None


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def sanmin_extra_plugins():  # type: ignore[no-untyped-def]
    return [("care_refiner", Refiner())]


def create(client, kind: str, body: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    answer = client.post(f"{API}/{kind}", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def elder(sanmin, grid: str, number: str, age: int, members: int = 1) -> int:  # type: ignore[no-untyped-def]
    """A household of ``members`` in ``grid`` whose head is ``age``; the head's id."""
    home = create(
        sanmin.client, "households", {"number": number, "address": "柯城区", "unit_code": grid}
    )
    people = [
        create(
            sanmin.client,
            "persons",
            {
                "name": f"老人{number}{n}",
                "household_id": home["id"],
                "relation": "head" if n == 0 else "spouse",
                "gender": "female",
                "birth_date": born(age),
            },
        )
        for n in range(members)
    ]
    return people[0]["id"]


def put_profile(client, pid: int, **values: Any) -> Any:  # type: ignore[no-untyped-def]
    body = {"children": "same_city", "adl": "self", "risk": False, "econ": "general"} | values
    return client.put(f"{CARE}/persons/{pid}/profile", json=body)


@pytest.fixture
def world(sanmin):  # type: ignore[no-untyped-def]
    sanmin.unit(GRID_A)
    sanmin.unit(GRID_B)
    return sanmin


def test_a_profile_write_assesses_the_person_with_the_rule_and_reason(world) -> None:  # type: ignore[no-untyped-def]
    pid = elder(world, GRID_A, "C001", 70)
    worker = world.client_as("grid_worker", GRID_A)
    assert worker.get(f"{CARE}/persons/{pid}").json()["care"] is None
    answer = put_profile(worker, pid, children="none")
    assert answer.status_code == 200, answer.text
    care = answer.json()["care"]
    assert (care["level"], care["level_label"], care["rule"]) == ("red", "红（重点）", "red.gugua")
    assert (care["reason"], care["origin"], care["visit_every_days"]) == (
        "规则：孤寡或失独老人",
        "rule",
        7,
    )
    # a change of inputs re-assesses; a stale version is a 409 and changes nothing
    moved = put_profile(worker, pid, children="away", version=1)
    assert moved.json()["care"]["rule"] == "yellow.away_self_care"
    assert put_profile(worker, pid, children="none", version=1).status_code == 409
    history = worker.get(f"{CARE}/persons/{pid}").json()["history"]
    assert [h["rule"] for h in history] == ["yellow.away_self_care", "red.gugua"]
    bad = put_profile(worker, pid, adl="bedridden", version=2)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "adl"


def test_care_inputs_are_shown_only_with_read_sensitive_and_that_read_audited(world) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import select

    from core.audit.models import AuditEntry

    pid = elder(world, GRID_A, "C009", 80)
    worker = world.client_as("grid_worker", GRID_A)
    assert put_profile(worker, pid, adl="disabled").status_code == 200
    seen = worker.get(f"{CARE}/persons/{pid}").json()
    assert (seen["profile"], seen["profile_masked"], seen["profile_version"]) == (None, True, 1)
    assert seen["care"]["level"] == "red"  # the level and its rule stay visible for visits
    cadre = world.client_as("village_cadre", GRID_A[:12], "care-cadre")
    shown = cadre.get(f"{CARE}/persons/{pid}").json()
    assert shown["profile"]["adl"] == "disabled" and not shown["profile_masked"]
    with world.session() as session:
        reads = session.exec(
            select(AuditEntry).where(AuditEntry.action == "read.archive.read_sensitive")
        ).all()
    assert [(r.actor, sorted(r.after["fields"])) for r in reads] == [
        ("account:care-cadre", ["adl", "children", "econ", "risk"])
    ]


def test_a_younger_person_gets_no_level_and_a_list_filters_by_level(world) -> None:  # type: ignore[no-untyped-def]
    young = elder(world, GRID_A, "C002", 45)
    red = elder(world, GRID_A, "C003", 82)
    green = elder(world, GRID_A, "C004", 65, members=2)
    worker = world.client_as("grid_worker", GRID_A)
    assert put_profile(worker, young, children="none").json()["care"] is None
    put_profile(worker, red, children="away")
    put_profile(worker, green)
    listed = worker.get(f"{CARE}/persons").json()
    assert [(p["person_id"], p["level"]) for p in listed] == [(red, "red"), (green, "green")]
    only_red = worker.get(f"{CARE}/persons", params={"level": "red"}).json()
    assert [p["rule"] for p in only_red] == ["red.old_alone_away"]
    assert worker.get(f"{CARE}/persons", params={"level": "purple"}).status_code == 422
    assert world.client_as("grid_worker", GRID_B).get(f"{CARE}/persons").json() == []


def test_county_thresholds_change_the_outcome(world) -> None:  # type: ignore[no-untyped-def]
    pid = elder(world, GRID_A, "C005", 76)
    worker = world.client_as("grid_worker", GRID_A)
    assert put_profile(worker, pid, children="away").json()["care"]["level"] == "yellow"
    admin = world.client_as("county_admin", COUNTY)
    defaults = admin.get(f"{CARE}/thresholds/{COUNTY}").json()
    assert (defaults["red_alone_age"], defaults["version"]) == (80, None)
    assert worker.put(f"{CARE}/thresholds/{COUNTY}", json={}).status_code == 404
    saved = admin.put(f"{CARE}/thresholds/{COUNTY}", json={"red_alone_age": 75})
    assert saved.status_code == 200, saved.text
    assert (saved.json()["red_alone_age"], saved.json()["version"]) == (75, 1)
    care = worker.get(f"{CARE}/persons/{pid}").json()["care"]
    assert (care["level"], care["rule"]) == ("red", "red.old_alone_away")
    stale = admin.put(f"{CARE}/thresholds/{COUNTY}", json={"red_alone_age": 85})
    assert stale.status_code == 409
    crossed = admin.put(f"{CARE}/thresholds/{COUNTY}", json={"yellow_alone_age": 90, "version": 1})
    assert crossed.status_code == 422 and "yellow_alone_age" in crossed.text


def test_an_override_needs_a_reason_and_a_higher_roles_approval(world) -> None:  # type: ignore[no-untyped-def]
    pid = elder(world, GRID_A, "C006", 65, members=2)
    worker = world.client_as("grid_worker", GRID_A)
    put_profile(worker, pid)
    no_reason = worker.post(f"{CARE}/persons/{pid}/overrides", json={"level": "red", "reason": ""})
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    proposal = worker.post(
        f"{CARE}/persons/{pid}/overrides", json={"level": "red", "reason": "近期摔倒住院"}
    ).json()
    assert proposal["status"] == "proposed"
    assert worker.get(f"{CARE}/persons/{pid}").json()["care"]["level"] == "green"
    decide = f"{CARE}/overrides/{proposal['id']}/decision"
    refused = worker.post(decide, json={"approve": True, "version": 1})
    assert refused.status_code == 403
    cadre = world.client_as("village_cadre", VILLAGE_A)
    approved = cadre.post(decide, json={"approve": True, "version": 1})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert cadre.post(decide, json={"approve": False, "version": 1}).status_code == 409
    care = worker.get(f"{CARE}/persons/{pid}").json()["care"]
    assert (care["level"], care["origin"], care["rule"]) == ("red", "override", "override")
    assert "近期摔倒住院" in care["reason"]
    # the override stands through a re-assessment without new inputs, not a change of inputs
    admin = world.client_as("county_admin", COUNTY)
    assert admin.put(f"{CARE}/thresholds/{COUNTY}", json={}).status_code == 200
    assert worker.get(f"{CARE}/persons/{pid}").json()["care"]["origin"] == "override"
    put_profile(worker, pid, econ="low", version=1)
    assert worker.get(f"{CARE}/persons/{pid}").json()["care"]["rule"] == "yellow.dibao"
    with world.session() as session:
        actions = session.exec(
            select(AuditEntry.action).where(AuditEntry.action.startswith("archive.care."))
        ).all()
    assert "archive.care.override_propose" in actions
    assert "archive.care.override_approved" in actions


def test_a_proposer_cannot_approve_its_own_override(world) -> None:  # type: ignore[no-untyped-def]
    pid = elder(world, GRID_A, "C007", 65)
    cadre = world.client_as("village_cadre", VILLAGE_A, "cadre_self")
    proposal = cadre.post(
        f"{CARE}/persons/{pid}/overrides", json={"level": "yellow", "reason": "子女长期在外"}
    ).json()
    answer = cadre.post(
        f"{CARE}/overrides/{proposal['id']}/decision", json={"approve": True, "version": 1}
    )
    assert answer.status_code == 403


def test_tags_carry_a_reason_and_who_assigned_them(world) -> None:  # type: ignore[no-untyped-def]
    pid = elder(world, GRID_A, "C008", 72)
    worker = world.client_as("grid_worker", GRID_A, "tagger")
    added = worker.post(f"{CARE}/persons/{pid}/tags", json={"tag": "gugua", "reason": "无子女"})
    assert added.status_code == 201, added.text
    tag = added.json()["tags"][0]
    assert (tag["label"], tag["visit_every_days"], tag["reason"]) == ("孤寡老人", 7, "无子女")
    assert tag["assigned_by"].endswith("tagger")
    again = worker.post(f"{CARE}/persons/{pid}/tags", json={"tag": "gugua", "reason": "重复"})
    assert again.status_code == 409
    unknown = worker.post(f"{CARE}/persons/{pid}/tags", json={"tag": "drug_user", "reason": "x"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"][-1] == "tag"
    removed = worker.delete(f"{CARE}/persons/{pid}/tags/gugua")
    assert removed.status_code == 200 and removed.json()["tags"] == []
    assert worker.delete(f"{CARE}/persons/{pid}/tags/gugua").status_code == 404


def test_hook_care_level_refine(world) -> None:  # type: ignore[no-untyped-def]
    world.enable("care_refiner", TOWN_A)
    inside = elder(world, GRID_A, "C009", 92, members=2)
    outside = elder(world, GRID_B, "C010", 92, members=2)
    put_profile(world.client, inside)
    put_profile(world.client, outside)
    refined = world.client.get(f"{CARE}/persons/{inside}").json()["care"]
    assert (refined["level"], refined["rule"], refined["origin"]) == (
        "yellow",
        "care_refiner.nonagenarian",
        "plugin",
    )
    plain = world.client.get(f"{CARE}/persons/{outside}").json()["care"]
    assert (plain["level"], plain["rule"], plain["origin"]) == ("green", "green.supported", "rule")


def test_a_member_coming_or_going_reassesses_at_once_and_the_job_catches_the_rest(world) -> None:  # type: ignore[no-untyped-def]
    pid = elder(world, GRID_A, "C011", 75)
    put_profile(world.client, pid)
    assert world.client.get(f"{CARE}/persons/{pid}").json()["care"]["rule"] == "yellow.alone_aged"
    household = world.client.get(f"{API}/persons/{pid}").json()["household_id"]
    son = create(
        world.client,
        "persons",
        {"name": "儿子", "household_id": household, "relation": "child", "gender": "male",
         "birth_date": born(45)},
    )  # fmt: skip
    care = world.client.get(f"{CARE}/persons/{pid}").json()["care"]
    assert care["rule"] == "green.supported" and not care["actor"].startswith("job:")
    # the son moves to a household of his own: the mother lives alone again, at once
    other = create(
        world.client, "households", {"number": "C012", "address": "柯城区", "unit_code": GRID_A}
    )
    moved = world.client.patch(
        f"{API}/persons/{son['id']}", json={"version": son["version"], "household_id": other["id"]}
    )
    assert moved.status_code == 200, moved.text
    assert world.client.get(f"{CARE}/persons/{pid}").json()["care"]["rule"] == "yellow.alone_aged"
    # a change the API did not see (here written straight to the table) waits for the job
    with world.session() as session:
        back = col(ArchivePerson.id) == son["id"]
        session.execute(update(ArchivePerson).where(back).values(household_id=household))
        session.commit()
    world.worker().run_once()
    care = world.client.get(f"{CARE}/persons/{pid}").json()["care"]
    assert (care["rule"], care["actor"]) == ("green.supported", "job:archives.care_reassess")


def test_every_care_route_answers_404_outside_the_scope(world) -> None:  # type: ignore[no-untyped-def]
    world.unit(OTHER_COUNTY)
    pid = elder(world, GRID_A, "C012", 70)
    scoped = world.assert_scoped
    profile = {"json": {"children": "none", "adl": "self"}}
    scoped("PUT", f"{CARE}/persons/{pid}/profile", role="grid_worker", inside=GRID_A,
           outside=GRID_B, **profile)  # fmt: skip
    scoped("GET", f"{CARE}/persons?unit={GRID_A}", role="grid_worker", inside=GRID_A,
           outside=GRID_B)  # fmt: skip
    scoped("GET", f"{CARE}/persons/{pid}", role="grid_worker", inside=GRID_A, outside=GRID_B)
    tag = {"json": {"tag": "gugua", "reason": "无子女"}}
    scoped("POST", f"{CARE}/persons/{pid}/tags", role="grid_worker", inside=GRID_A,
           outside=GRID_B, **tag)  # fmt: skip
    scoped("DELETE", f"{CARE}/persons/{pid}/tags/gugua", role="grid_worker", inside=GRID_A,
           outside=GRID_B)  # fmt: skip
    proposal = scoped("POST", f"{CARE}/persons/{pid}/overrides", role="grid_worker",
                      inside=GRID_A, outside=GRID_B,
                      json={"level": "yellow", "reason": "子女外出务工"}).json()  # fmt: skip
    scoped("POST", f"{CARE}/overrides/{proposal['id']}/decision", role="village_cadre",
           inside=VILLAGE_A, outside=VILLAGE_B, json={"approve": True, "version": 1})  # fmt: skip
    scoped("GET", f"{CARE}/thresholds/{COUNTY}", role="county_admin", inside=COUNTY,
           outside=OTHER_COUNTY)  # fmt: skip
    scoped("PUT", f"{CARE}/thresholds/{COUNTY}", role="county_admin", inside=COUNTY,
           outside=OTHER_COUNTY, json={})  # fmt: skip


def test_a_rejected_override_changes_nothing(world) -> None:  # type: ignore[no-untyped-def]
    pid = elder(world, GRID_A, "C013", 65, members=2)
    worker = world.client_as("grid_worker", GRID_A)
    put_profile(worker, pid)
    proposal = worker.post(
        f"{CARE}/persons/{pid}/overrides", json={"level": "red", "reason": "邻居反映"}
    ).json()
    cadre = world.client_as("village_cadre", VILLAGE_A)
    decide = f"{CARE}/overrides/{proposal['id']}/decision"
    rejected = cadre.post(decide, json={"approve": False, "version": 1})
    assert rejected.json()["status"] == "rejected"
    care = worker.get(f"{CARE}/persons/{pid}").json()
    assert (care["care"]["level"], len(care["history"])) == ("green", 1)
    assert care["overrides"][0]["decided_by"] == rejected.json()["decided_by"]


def test_a_concurrent_first_profile_is_a_409_not_a_500(world) -> None:  # type: ignore[no-untyped-def]
    pid = elder(world, GRID_A, "C014", 65)
    put_profile(world.client, pid)
    with world.session() as session:
        duplicate = ArchiveCareProfile(person_id=pid, children="away", adl="self", econ="general")
        with pytest.raises(HTTPException) as caught:
            _insert(session, duplicate, "version")
    assert caught.value.status_code == 409 and str(caught.value.detail).startswith("version:")
