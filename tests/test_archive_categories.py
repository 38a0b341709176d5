"""The archive's other four categories: housing, places, vehicles and property management
(estates, property companies, owners' committees). CRUD, scope (404), versions (409), bad
input (422 naming the field), masking with audited unmasked reads, and the household's
housing and vehicles. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from core.archives.categories import ArchiveVehicle
from core.archives.categories_api import router as categories_router
from core.audit.models import AuditEntry
from core.identity.models import Account
from core.identity.service import issue_token
from core.testing import all_routes

VILLAGE_A, VILLAGE_B = "330802001001", "330802002001"
GRID_A, GRID_B = "330802001001001", "330802002001001"
API = "/api/v1/archives"
PLATE = "浙H12345"

SCOPED_PATHS = {
    f"{API}/{kind}{suffix}"
    for kind in (
        "housing",
        "places",
        "vehicles",
        "estates",
        "property-companies",
        "owners-committees",
    )
    for suffix in ("", "/{record_id}")
} | {f"{API}/households/{{household_id}}/housing", f"{API}/households/{{household_id}}/vehicles"}


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


def create(client, kind: str, body: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    answer = client.post(f"{API}/{kind}", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def errors_of(answer) -> dict[str, str]:  # type: ignore[no-untyped-def]
    assert answer.status_code == 422, answer.text
    return {str(e["loc"][-1]): e["msg"] for e in answer.json()["detail"]}


@pytest.fixture
def world(sanmin):  # type: ignore[no-untyped-def]
    """In grid A: household A (a man and his wife) with a house, a car, an estate run by a
    property company with a committee, and a place; household B in grid B."""
    sanmin.unit(GRID_A)
    sanmin.unit(GRID_B)
    admin = sanmin.client
    home_a = create(admin, "households", {"number": "A001", "address": "一号", "unit_code": GRID_A})
    home_b = create(admin, "households", {"number": "B001", "address": "二号", "unit_code": GRID_B})
    member = {"household_id": home_a["id"], "gender": "male", "birth_date": "1980-01-01"}
    man = create(admin, "persons", member | {"name": "王大", "relation": "head"})
    wife = create(
        admin, "persons", member | {"name": "李花", "relation": "spouse", "gender": "female"}
    )
    company = create(
        admin,
        "property-companies",
        {"name": "安居物业", "unit_code": GRID_A, "contact_phone": "13812345678"},
    )
    estate = create(
        admin,
        "estates",
        {
            "name": "幸福小区",
            "address": "幸福路1号",
            "kind": "commercial",
            "unit_code": GRID_A,
            "property_company_id": company["id"],
            "contract_start": "2025-01-01",
            "contract_end": "2027-12-31",
        },
    )
    committee = create(
        admin,
        "owners-committees",
        {
            "estate_id": estate["id"],
            "chair_name": "张主任",
            "member_count": 5,
            "term_start": "2025-03-01",
            "term_end": "2030-02-28",
        },
    )
    house = create(
        admin,
        "housing",
        {
            "address": "幸福小区3幢1单元502",
            "unit_code": GRID_A,
            "usage": "own",
            "estate_id": estate["id"],
            "building": "3",
            "floor": 5,
            "floor_area": 98.5,
            "household_id": home_a["id"],
            "source": "住建局",
        },
    )
    car = create(
        admin,
        "vehicles",
        {"plate": PLATE, "household_id": home_a["id"], "usage": "own", "owner_id": man["id"]},
    )
    place = create(
        admin,
        "places",
        {
            "name": "党群服务中心",
            "kind": "public_venue",
            "address": "村口",
            "unit_code": VILLAGE_A,
            "manager_phone": "13900001111",
        },
    )
    sanmin.ids = {  # type: ignore[attr-defined]
        "a": home_a["id"],
        "b": home_b["id"],
        "man": man["id"],
        "wife": wife["id"],
        "company": company["id"],
        "estate": estate["id"],
        "committee": committee["id"],
        "house": house["id"],
        "car": car["id"],
        "place": place["id"],
    }
    return sanmin


def sensitive_reads(sanmin) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with sanmin.session() as session:
        query = select(AuditEntry).where(AuditEntry.action == "read.archive.read_sensitive")
        return list(session.exec(query))


# -- CRUD ------------------------------------------------------------------------------------


def test_each_category_is_created_read_listed_and_updated(world) -> None:  # type: ignore[no-untyped-def]
    admin, ids = world.client, world.ids
    house = admin.get(f"{API}/housing/{ids['house']}").json()
    assert (house["estate_id"], house["household_id"], house["unit_code"]) == (
        ids["estate"],
        ids["a"],
        GRID_A,
    )
    assert (house["source"], house["version"], house["floor_area"]) == ("住建局", 1, 98.5)
    assert house["created_at"] and house["updated_at"]
    committee = admin.get(f"{API}/owners-committees/{ids['committee']}").json()
    assert committee["unit_code"] == GRID_A and committee["term_end"] == "2030-02-28"
    estate = admin.get(f"{API}/estates", params={"property_company_id": ids["company"]}).json()
    assert [e["name"] for e in estate] == ["幸福小区"]
    assert [p["name"] for p in admin.get(f"{API}/places", params={"name": "党群"}).json()] == [
        "党群服务中心"
    ]
    assert admin.get(f"{API}/places", params={"kind": "enterprise"}).json() == []
    assert [v["id"] for v in admin.get(f"{API}/vehicles", params={"plate": "浙h12345"}).json()] == [
        ids["car"]
    ]
    assert admin.get(f"{API}/housing", params={"unit": GRID_B}).json() == []
    assert len(admin.get(f"{API}/housing", params={"limit": 1, "offset": 1}).json()) == 0
    changed = admin.patch(
        f"{API}/housing/{ids['house']}", json={"version": 1, "usage": "rented", "floor": 6}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["usage"], changed.json()["floor"], changed.json()["version"]) == (
        "rented",
        6,
        2,
    )
    with world.session() as session:
        entry = session.exec(
            select(AuditEntry).where(AuditEntry.action == "archive.house.update")
        ).one()
    assert entry.before == {"usage": "own", "floor": 5} and entry.unit_code == GRID_A


def test_the_household_shows_its_housing_and_vehicles(world) -> None:  # type: ignore[no-untyped-def]
    worker, ids = world.client_as("grid_worker", GRID_A), world.ids
    houses = worker.get(f"{API}/households/{ids['a']}/housing").json()
    assert [h["id"] for h in houses] == [ids["house"]]
    cars = worker.get(f"{API}/households/{ids['a']}/vehicles").json()
    assert [(c["id"], c["plate"]) for c in cars] == [(ids["car"], "浙H***45")]
    assert worker.get(f"{API}/households/{ids['b']}/vehicles").status_code == 404


def test_a_resident_sees_their_own_households_vehicles_only(world) -> None:  # type: ignore[no-untyped-def]
    account = world.account("resident", GRID_A)
    with world.session() as session:
        row = session.get(Account, account.id)
        assert row is not None
        row.person_id = world.ids["wife"]
        session.add(row)
        session.flush()
        token = issue_token(session, row, "bearer", None)
    resident = TestClient(world.app, headers={"Authorization": f"Bearer {token}"})
    cars = resident.get(f"{API}/households/{world.ids['a']}/vehicles").json()
    assert [c["plate"] for c in cars] == ["浙H***45"]
    assert resident.get(f"{API}/households/{world.ids['b']}/housing").status_code == 404
    assert resident.get(f"{API}/vehicles/{world.ids['car']}").status_code == 404  # staff view


def test_a_vehicle_follows_its_household_to_another_grid(world) -> None:  # type: ignore[no-untyped-def]
    moved = world.client.patch(
        f"{API}/households/{world.ids['a']}", json={"version": 1, "unit_code": GRID_B}
    )
    assert moved.status_code == 200, moved.text
    url = f"{API}/vehicles/{world.ids['car']}"
    assert world.client_as("grid_worker", GRID_A).get(url).status_code == 404
    assert world.client_as("grid_worker", GRID_B).get(url).json()["unit_code"] == GRID_B


# -- scope -----------------------------------------------------------------------------------


def test_the_scope_cases_cover_every_route(world) -> None:  # type: ignore[no-untyped-def]
    mine = {f"/api/v1{route.path}" for route in categories_router.routes}  # type: ignore[attr-defined]
    served = {path for path, _ in all_routes(world.app)}
    assert mine == SCOPED_PATHS and mine <= served


def test_every_route_answers_404_outside_the_scope(world) -> None:  # type: ignore[no-untyped-def]
    ids = world.ids
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"{API}/households/{ids['a']}/housing", {}),
        ("GET", f"{API}/households/{ids['a']}/vehicles", {}),
    ]
    records = {
        "housing": (ids["house"], {"unit_code": GRID_A, "address": "一号", "usage": "own"}),
        "places": (
            ids["place"],
            {"name": "小卖部", "kind": "enterprise", "address": "一号", "unit_code": GRID_A},
        ),
        "vehicles": (ids["car"], {"plate": "浙H54321", "household_id": ids["a"], "usage": "own"}),
        "estates": (
            ids["estate"],
            {"name": "和美小区", "address": "一号", "kind": "village", "unit_code": GRID_A},
        ),
        "property-companies": (ids["company"], {"name": "乐业物业", "unit_code": GRID_A}),
        "owners-committees": (
            ids["committee"],
            {
                "estate_id": ids["estate"],
                "chair_name": "赵",
                "member_count": 3,
                "term_start": "2030-03-01",
                "term_end": "2035-02-28",
            },
        ),
    }
    for kind, (rid, _) in records.items():
        cases += [
            ("GET", f"{API}/{kind}?unit={GRID_A}", {}),
            ("GET", f"{API}/{kind}/{rid}", {}),
            ("PATCH", f"{API}/{kind}/{rid}", {"json": {"version": 1, "source": "民政"}}),
        ]
    for method, url, kwargs in cases:
        # The place is recorded at the village: a grid worker below it does not see it.
        role, inside, outside = (
            ("village_cadre", VILLAGE_A, VILLAGE_B)
            if "/places/" in url
            else ("grid_worker", GRID_A, GRID_B)
        )
        world.assert_scoped(method, url, role=role, inside=inside, outside=outside, **kwargs)
    # Each create: inside the scope 201, outside 404 (a plate is unique: one create each).
    for kind, (_, body) in records.items():
        outside = world.client_as("grid_worker", GRID_B).post(f"{API}/{kind}", json=body)
        assert outside.status_code == 404, (kind, outside.text)
        inside = world.client_as("grid_worker", GRID_A).post(f"{API}/{kind}", json=body)
        assert inside.status_code == 201, (kind, inside.text)


def test_lists_hold_only_the_scope_and_writers_need_archive_write(world) -> None:  # type: ignore[no-untyped-def]
    outsider = world.client_as("grid_worker", GRID_B)
    for kind in ("housing", "places", "vehicles", "estates", "owners-committees"):
        assert outsider.get(f"{API}/{kind}").json() == [], kind
    assert outsider.get(f"{API}/housing", params={"unit": GRID_A}).status_code == 404
    assert world.anonymous.get(f"{API}/vehicles").status_code == 401
    volunteer = world.client_as("volunteer", GRID_A)
    assert volunteer.get(f"{API}/places").json() == []
    body = {"name": "小卖部", "kind": "enterprise", "address": "一号", "unit_code": GRID_A}
    assert volunteer.post(f"{API}/places", json=body).status_code == 403


# -- versions and bad input ------------------------------------------------------------------


def test_a_stale_version_answers_409_and_changes_nothing(world) -> None:  # type: ignore[no-untyped-def]
    worker = world.client_as("grid_worker", GRID_A)
    url = f"{API}/estates/{world.ids['estate']}"
    assert worker.patch(url, json={"version": 1, "house_count": 300}).status_code == 200
    stale = worker.patch(url, json={"version": 1, "house_count": 1})
    assert stale.status_code == 409 and "version" in stale.text
    assert worker.get(url).json()["house_count"] == 300
    again = {"plate": PLATE, "household_id": world.ids["a"], "usage": "own"}
    duplicate = worker.post(f"{API}/vehicles", json=again)
    assert duplicate.status_code == 409 and "plate" in duplicate.text


def test_bad_input_is_422_naming_the_field_and_writes_nothing(world) -> None:  # type: ignore[no-untyped-def]
    admin, ids = world.client, world.ids
    car = {"household_id": ids["a"], "usage": "own"}
    assert set(errors_of(admin.post(f"{API}/vehicles", json=car | {"plate": "ABC"}))) == {"plate"}
    stranger = world.client.post(
        f"{API}/persons",
        json={
            "name": "李四",
            "household_id": ids["b"],
            "relation": "head",
            "gender": "male",
            "birth_date": "1970-01-01",
        },
    ).json()
    wrong_owner = car | {"plate": "浙H00001", "owner_id": stranger["id"]}
    assert "成员" in errors_of(admin.post(f"{API}/vehicles", json=wrong_owner))["owner_id"]
    place = {"name": "店", "kind": "shop", "address": "一号", "unit_code": GRID_A}
    assert set(errors_of(admin.post(f"{API}/places", json=place))) == {"kind"}
    bad_phone = place | {"kind": "enterprise", "manager_phone": "1"}
    assert set(errors_of(admin.post(f"{API}/places", json=bad_phone))) == {"manager_phone"}
    house = {"address": "一号", "usage": "own", "unit_code": VILLAGE_A}
    assert "网格" in errors_of(admin.post(f"{API}/housing", json=house))["unit_code"]
    worker = world.client_as("grid_worker", GRID_B)
    house_b = house | {"unit_code": GRID_B, "estate_id": ids["estate"]}
    assert "范围" in errors_of(worker.post(f"{API}/housing", json=house_b))["estate_id"]
    term = {"version": 1, "term_end": "2020-01-01"}
    answer = admin.patch(f"{API}/owners-committees/{ids['committee']}", json=term)
    assert "结束" in errors_of(answer)["term_end"]
    bad_filter = admin.get(f"{API}/housing", params={"limit": 0})
    assert set(errors_of(bad_filter)) == {"limit"}
    with world.session() as session:
        assert len(session.exec(select(ArchiveVehicle)).all()) == 1
    assert admin.get(f"{API}/owners-committees/{ids['committee']}").json()["version"] == 1


# -- masking ---------------------------------------------------------------------------------


def test_plates_and_phones_are_masked_and_unmasked_reads_audited(world) -> None:  # type: ignore[no-untyped-def]
    ids = world.ids
    worker = world.client_as("grid_worker", GRID_A)
    car = worker.get(f"{API}/vehicles/{ids['car']}").json()
    assert (car["plate"], car["masked"]) == ("浙H***45", True)
    company = worker.get(f"{API}/property-companies/{ids['company']}").json()
    assert company["contact_phone"] == "138****5678"
    assert sensitive_reads(world) == []
    cadre = world.client_as("village_cadre", VILLAGE_A, "cadre")
    car = cadre.get(f"{API}/vehicles/{ids['car']}").json()
    assert (car["plate"], car["masked"]) == (PLATE, False)
    place = cadre.get(f"{API}/places/{ids['place']}").json()
    assert place["manager_phone"] == "13900001111"
    assert "masked" not in cadre.get(f"{API}/estates/{ids['estate']}").json()
    listed = cadre.get(f"{API}/vehicles").json()
    assert [v["plate"] for v in listed] == ["浙H***45"]
    reads = sensitive_reads(world)
    assert [(r.target_type, r.target_id, r.unit_code) for r in reads] == [
        ("vehicle", str(ids["car"]), GRID_A),
        ("place", str(ids["place"]), VILLAGE_A),
    ]
    assert reads[0].after == {"permission": "archive.read_sensitive", "fields": ["plate"]}
    with world.session() as session:
        created = session.exec(
            select(AuditEntry).where(AuditEntry.action == "archive.vehicle.create")
        ).one()
    assert created.after["plate"] == "浙H***45" and created.unit_code == GRID_A
