"""Resident archives: households and persons, scope, masking, audit, versions, residents,
and plugin forms attached to archive records. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field
from sqlmodel import select

from core import FormSpec, hookimpl
from core.archives.api import router as households_router
from core.archives.models import ArchivePerson
from core.audit.models import AuditEntry
from core.identity.models import Account
from core.identity.service import issue_token
from core.testing import all_routes
from tests.helpers import manifest

COUNTY = "330802000000"
VILLAGE_A = "330802001001"
GRID_A, GRID_B = "330802001001001", "330802002001001"  # grids of two townships
MAN = "330802199001011232"  # born 1990-01-01, male
GIRL = "330802201506010024"  # born 2015-06-01, female
OTHER = "330802198503070019"  # born 1985-03-07, male
FUTURE = "330802300001010014"  # check digit right, born in the year 3000
API = "/api/v1/archives"

SCOPED_PATHS = {
    f"{API}/households",
    f"{API}/households/{{household_id}}",
    f"{API}/persons",
    f"{API}/persons/{{person_id}}",
}


class Check(BaseModel):
    note: str = Field(title="核查情况", max_length=200)


class CheckPlugin:
    """A township plugin with a form about a household and one about a person."""

    PLUGIN = manifest("home_check")

    @hookimpl
    def register_forms(self) -> list[FormSpec]:
        return [
            FormSpec(name="visit", title="入户核查", model=Check, subject="household"),
            FormSpec(name="talk", title="谈心谈话", model=Check, subject="person"),
        ]


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def sanmin_extra_plugins():  # type: ignore[no-untyped-def]
    return [("home_check", CheckPlugin())]


def create(client, kind: str, body: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    answer = client.post(f"{API}/{kind}", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def errors_of(answer) -> dict[str, str]:  # type: ignore[no-untyped-def]
    assert answer.status_code == 422, answer.text
    return {str(e["loc"][-1]): e["msg"] for e in answer.json()["detail"]}


@pytest.fixture
def world(sanmin):  # type: ignore[no-untyped-def]
    """Household A (a man and his daughter) in grid A, household B in grid B."""
    return two_households(sanmin)


def two_households(sanmin):  # type: ignore[no-untyped-def]
    """The archive of :func:`world`, written through the API; ``sanmin.ids`` names them."""
    sanmin.unit(GRID_A)
    sanmin.unit(GRID_B)
    admin = sanmin.client
    home_a = create(
        admin, "households", {"number": "A001", "address": "柯城区一号", "unit_code": GRID_A}
    )
    home_b = create(
        admin, "households", {"number": "B001", "address": "柯城区二号", "unit_code": GRID_B}
    )
    head = {"name": "王大", "household_id": home_a["id"], "relation": "head"}
    man = create(admin, "persons", head | {"id_number": MAN, "phone": "13812345678"})
    girl = create(
        admin,
        "persons",
        {"name": "王小", "household_id": home_a["id"], "relation": "child", "id_number": GIRL},
    )
    neighbour = create(
        admin,
        "persons",
        {
            "name": "李四",
            "household_id": home_b["id"],
            "relation": "head",
            "id_number": OTHER,
            "phone": "13900001111",
        },
    )
    sanmin.ids = {  # type: ignore[attr-defined]
        "a": home_a["id"],
        "b": home_b["id"],
        "man": man["id"],
        "girl": girl["id"],
        "neighbour": neighbour["id"],
    }
    return sanmin


def sensitive_reads(sanmin) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with sanmin.session() as session:
        query = select(AuditEntry).where(AuditEntry.action == "read.archive.read_sensitive")
        return list(session.exec(query))


# -- privacy ---------------------------------------------------------------------------------


def test_a_grid_worker_sees_masked_numbers_and_no_read_is_audited(world) -> None:  # type: ignore[no-untyped-def]
    worker = world.client_as("grid_worker", GRID_A)
    home = worker.get(f"{API}/households/{world.ids['a']}").json()
    man, girl = home["members"]
    assert (man["id_number"], man["phone"], man["masked"]) == (
        "330802********1232",
        "138****5678",
        True,
    )
    assert (man["gender"], man["birth_date"], man["minor"]) == ("male", "1990-01-01", False)
    assert (girl["gender"], girl["minor"], girl["phone"]) == ("female", True, None)
    person = worker.get(f"{API}/persons/{world.ids['man']}").json()
    assert person["id_number"] == "330802********1232"
    assert sensitive_reads(world) == []


def test_a_cadre_with_read_sensitive_sees_numbers_and_each_read_is_audited(world) -> None:  # type: ignore[no-untyped-def]
    cadre = world.client_as("village_cadre", VILLAGE_A, "cadre")
    home = cadre.get(f"{API}/households/{world.ids['a']}").json()
    assert [m["id_number"] for m in home["members"]] == [MAN, GIRL]
    assert home["members"][0]["phone"] == "13812345678" and not home["members"][0]["masked"]
    person = cadre.get(f"{API}/persons/{world.ids['man']}").json()
    assert person["id_number"] == MAN
    reads = sensitive_reads(world)
    assert [(r.actor, r.target_type, r.unit_code) for r in reads] == [
        ("account:cadre", "household", GRID_A),
        ("account:cadre", "person", GRID_A),
    ]
    assert reads[0].after == {
        "permission": "archive.read_sensitive",
        "fields": ["id_number", "phone"],
    }
    # Lists stay masked for everyone: no audit entry per row.
    listed = cadre.get(f"{API}/households", params={"id_number": MAN}).json()
    assert [h["number"] for h in listed] == ["A001"] and len(sensitive_reads(world)) == 2


def test_id_numbers_are_encrypted_at_rest_and_writes_audited_masked(world) -> None:  # type: ignore[no-untyped-def]
    with world.session() as session:
        row = session.get(ArchivePerson, world.ids["man"])
        assert row is not None and row.id_cipher and MAN not in row.id_cipher
        assert row.id_hash and MAN not in row.id_hash
        entry = session.exec(
            select(AuditEntry).where(
                AuditEntry.action == "archive.person.create",
                AuditEntry.target_id == str(world.ids["man"]),
            )
        ).one()
    assert entry.after["id_number"] == "330802********1232"
    assert entry.after["phone"] == "138****5678" and entry.unit_code == GRID_A


# -- scope -----------------------------------------------------------------------------------


def test_the_scope_cases_cover_every_route(world) -> None:  # type: ignore[no-untyped-def]
    # The households/persons router; the other archive modules check their own routers.
    mine = {f"/api/v1{route.path}" for route in households_router.routes}  # type: ignore[attr-defined]
    assert mine == SCOPED_PATHS and mine <= {path for path, _ in all_routes(world.app)}


def test_every_route_answers_404_outside_the_scope(world) -> None:  # type: ignore[no-untyped-def]
    ids = world.ids
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"{API}/households?unit={GRID_A}", {}),
        ("GET", f"{API}/households/{ids['a']}", {}),
        ("PATCH", f"{API}/households/{ids['a']}", {"json": {"version": 1, "address": "新址"}}),
        ("GET", f"{API}/persons/{ids['man']}", {}),
        ("PATCH", f"{API}/persons/{ids['man']}", {"json": {"version": 1, "name": "王大哥"}}),
        (
            "POST",
            f"{API}/households",
            {"json": {"number": "A002", "address": "一号", "unit_code": GRID_A}},
        ),
        (
            "POST",
            f"{API}/persons",
            {
                "json": {
                    "name": "王三",
                    "household_id": ids["a"],
                    "relation": "child",
                    "gender": "male",
                    "birth_date": "2001-02-03",
                }
            },
        ),
    ]
    for method, url, kwargs in cases:
        world.assert_scoped(
            method, url, role="grid_worker", inside=GRID_A, outside=GRID_B, **kwargs
        )


def test_lists_hold_only_the_scope_and_filter_in_the_query(world) -> None:  # type: ignore[no-untyped-def]
    worker = world.client_as("grid_worker", GRID_A)

    def numbers(**params: object) -> list[str]:
        answer = worker.get(f"{API}/households", params=params)
        assert answer.status_code == 200, answer.text
        return [h["number"] for h in answer.json()]

    assert numbers() == ["A001"]
    assert numbers(name="王") == ["A001"] and numbers(name="李") == []
    assert numbers(id_number=MAN) == ["A001"] and numbers(id_number=OTHER) == []
    assert numbers(phone="138 1234 5678") == ["A001"] and numbers(phone="13900001111") == []
    assert numbers(name="%") == []  # a wildcard is a literal character
    assert sorted(h["number"] for h in world.client.get(f"{API}/households").json()) == [
        "A001",
        "B001",
    ]
    bad = worker.get(f"{API}/households", params={"id_number": "330802199001011233"})
    assert "校验位" in errors_of(bad)["id_number"]
    assert worker.get(f"{API}/households", params={"unit": GRID_B}).status_code == 404
    assert set(errors_of(worker.get(f"{API}/households", params={"phone": "12"}))) == {"phone"}


def test_anonymous_callers_get_401_and_writers_need_archive_write(world) -> None:  # type: ignore[no-untyped-def]
    assert world.anonymous.get(f"{API}/households").status_code == 401
    volunteer = world.client_as("volunteer", GRID_A)
    assert volunteer.get(f"{API}/households").json() == []
    body = {"number": "A009", "address": "一号", "unit_code": GRID_A}
    assert volunteer.post(f"{API}/households", json=body).status_code == 403


# -- residents -------------------------------------------------------------------------------


def resident_client(sanmin, person_id: int | None):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    account = sanmin.account("resident", GRID_A)
    with sanmin.session() as session:
        row = session.get(Account, account.id)
        assert row is not None
        row.person_id = person_id
        session.add(row)
        session.flush()
        token = issue_token(session, row, "bearer", None)
    return TestClient(sanmin.app, headers={"Authorization": f"Bearer {token}"})


def test_a_resident_sees_only_their_own_household(world) -> None:  # type: ignore[no-untyped-def]
    ids = world.ids
    resident = resident_client(world, ids["girl"])
    assert [h["number"] for h in resident.get(f"{API}/households").json()] == ["A001"]
    home = resident.get(f"{API}/households/{ids['a']}").json()
    assert [m["name"] for m in home["members"]] == ["王大", "王小"]
    assert home["members"][0]["id_number"] == "330802********1232"  # masked
    assert resident.get(f"{API}/persons/{ids['man']}").status_code == 200
    assert resident.get(f"{API}/households/{ids['b']}").status_code == 404
    assert resident.get(f"{API}/persons/{ids['neighbour']}").status_code == 404
    body = {"version": 1, "address": "改址"}
    assert resident.patch(f"{API}/households/{ids['a']}", json=body).status_code == 403


def test_a_resident_without_a_linked_person_sees_nothing(world) -> None:  # type: ignore[no-untyped-def]
    resident = resident_client(world, None)
    assert resident.get(f"{API}/households").json() == []
    assert resident.get(f"{API}/households/{world.ids['a']}").status_code == 404
    assert resident.get(f"{API}/persons/{world.ids['man']}").status_code == 404


# -- writes ----------------------------------------------------------------------------------


def test_a_stale_version_answers_409_and_changes_nothing(world) -> None:  # type: ignore[no-untyped-def]
    worker = world.client_as("grid_worker", GRID_A)
    url = f"{API}/households/{world.ids['a']}"
    first = worker.patch(url, json={"version": 1, "address": "新址一"})
    assert first.status_code == 200 and first.json()["version"] == 2
    stale = worker.patch(url, json={"version": 1, "address": "新址二"})
    assert stale.status_code == 409 and "version" in stale.text
    assert worker.get(url).json()["address"] == "新址一"
    person_url = f"{API}/persons/{world.ids['man']}"
    assert worker.patch(person_url, json={"version": 1, "phone": "13700000000"}).status_code == 200
    assert worker.patch(person_url, json={"version": 1, "phone": "13600000000"}).status_code == 409


def test_moving_a_household_moves_its_members(world) -> None:  # type: ignore[no-untyped-def]
    world.unit("330802001001002")
    moved = world.client.patch(
        f"{API}/households/{world.ids['a']}", json={"version": 1, "unit_code": "330802001001002"}
    )
    assert moved.status_code == 200, moved.text
    person = world.client.get(f"{API}/persons/{world.ids['girl']}").json()
    assert person["unit_code"] == "330802001001002"
    audit = world.client.get(f"{API}/households", params={"unit": "330802001001002"}).json()
    assert [h["number"] for h in audit] == ["A001"]


def test_bad_input_is_422_naming_the_field_and_writes_nothing(world) -> None:  # type: ignore[no-untyped-def]
    admin, home = world.client, world.ids["a"]
    base = {"name": "王三", "household_id": home, "relation": "child"}

    def refused(body: dict[str, Any]) -> dict[str, str]:
        return errors_of(admin.post(f"{API}/persons", json=base | body))

    assert "校验位" in refused({"id_number": "330802199001011233"})["id_number"]
    assert "未来" in refused({"id_number": FUTURE})["id_number"]
    assert "未来" in refused({"gender": "male", "birth_date": "2999-01-01"})["birth_date"]
    assert (
        "不符"
        in refused({"id_number": "330802199001011240", "birth_date": "1991-01-01"})["birth_date"]
    )
    assert (
        "联系电话" in refused({"gender": "male", "birth_date": "2001-01-01", "phone": "1"})["phone"]
    )
    assert set(refused({"relation": "boss", "gender": "male", "birth_date": "2001-01-01"})) == {
        "relation"
    }
    grid = {"number": "A003", "address": "一号", "unit_code": VILLAGE_A}
    assert "网格" in errors_of(admin.post(f"{API}/households", json=grid))["unit_code"]
    with world.session() as session:
        assert len(session.exec(select(ArchivePerson)).all()) == 3


def test_a_duplicate_id_number_or_household_number_answers_409(world) -> None:  # type: ignore[no-untyped-def]
    admin = world.client
    body = {"name": "冒名", "household_id": world.ids["b"], "relation": "other", "id_number": MAN}
    duplicate = admin.post(f"{API}/persons", json=body)
    assert duplicate.status_code == 409 and "id_number" in duplicate.json()["detail"]
    change = {"version": 1, "id_number": MAN}
    taken = admin.patch(f"{API}/persons/{world.ids['neighbour']}", json=change)
    assert taken.status_code == 409 and "id_number" in taken.json()["detail"]
    home = {"number": "A001", "address": "重复", "unit_code": GRID_A}
    again = admin.post(f"{API}/households", json=home)
    assert again.status_code == 409 and "number" in again.json()["detail"]
    renamed = admin.patch(
        f"{API}/households/{world.ids['b']}", json={"version": 1, "number": "A001"}
    )
    assert renamed.status_code == 409 and "number" in renamed.json()["detail"]
    assert admin.get(f"{API}/households/{world.ids['b']}").json()["number"] == "B001"


# -- forms about households and persons ------------------------------------------------------


def test_plugin_forms_attach_to_households_and_persons_in_scope(world) -> None:  # type: ignore[no-untyped-def]
    world.enable("home_check", COUNTY)
    worker = world.client_as("grid_worker", GRID_A)
    forms = "/api/v1/p/home_check/forms"

    def submit(form: str, subject: object):  # type: ignore[no-untyped-def]
        body = {"subject": subject, "data": {"note": "已核查"}}
        return worker.post(f"{forms}/{form}/records", params={"unit": GRID_A}, json=body)

    visit = submit("visit", world.ids["a"])
    assert visit.status_code == 201, visit.text
    assert (visit.json()["subject_kind"], visit.json()["unit_code"]) == ("household", GRID_A)
    talk = submit("talk", str(world.ids["girl"]))
    assert talk.status_code == 201 and talk.json()["subject_kind"] == "person"
    for form, subject in (
        ("visit", world.ids["b"]),
        ("talk", world.ids["neighbour"]),
        ("visit", "999999"),
        ("visit", "abc"),
    ):
        assert set(errors_of(submit(form, subject))) == {"subject"}


# -- pages --------------------------------------------------------------------------------

PAGE_PATHS = {"/archives/households", "/archives/households/{household_id}"}


def test_the_household_file_page_masks_for_a_grid_worker(world) -> None:  # type: ignore[no-untyped-def]
    page = world.client_as("grid_worker", GRID_A).get(f"/archives/households/{world.ids['a']}")
    assert page.status_code == 200, page.text
    assert "一户一档 · 户号 A001" in page.text and "王大" in page.text and "户主" in page.text
    assert "330802********1232" in page.text and "138****5678" in page.text
    assert MAN not in page.text and "13812345678" not in page.text
    assert "未成年" in page.text  # 王小, born 2015
    assert "已脱敏" in page.text and sensitive_reads(world) == []


def test_the_household_file_page_unmasks_for_read_sensitive_and_audits(world) -> None:  # type: ignore[no-untyped-def]
    cadre = world.client_as("village_cadre", VILLAGE_A, "cadre")
    page = cadre.get(f"/archives/households/{world.ids['a']}")
    assert page.status_code == 200 and MAN in page.text and GIRL in page.text
    assert "记入审计日志" in page.text
    assert [(r.actor, r.target_type) for r in sensitive_reads(world)] == [
        ("account:cadre", "household")
    ]


def test_the_pages_answer_404_outside_the_scope(world) -> None:  # type: ignore[no-untyped-def]
    world.assert_scoped(
        "GET",
        f"/archives/households/{world.ids['a']}",
        role="grid_worker",
        inside=GRID_A,
        outside=GRID_B,
    )
    world.assert_scoped(
        "GET",
        f"/archives/households?unit={GRID_A}",
        role="grid_worker",
        inside=GRID_A,
        outside=GRID_B,
    )


def test_the_list_page_searches_members_and_links_each_file(world) -> None:  # type: ignore[no-untyped-def]
    county = world.client
    page = county.get("/archives/households", params={"name": "王"})
    assert page.status_code == 200
    assert f'href="/archives/households/{world.ids["a"]}"' in page.text
    assert f'href="/archives/households/{world.ids["b"]}"' not in page.text
    everyone = county.get("/archives/households").text
    assert "A001" in everyone and "B001" in everyone
    worker = world.client_as("grid_worker", GRID_A).get("/archives/households").text
    assert "A001" in worker and "B001" not in worker  # the scope is in the query
    assert 'href="/archives/households">民情档案</a>' in worker  # the menu entry (archive.read)


def test_anonymous_visitors_are_sent_to_the_login_page(world) -> None:  # type: ignore[no-untyped-def]
    answer = world.anonymous.get(
        f"/archives/households/{world.ids['a']}",
        headers={"Accept": "text/html"},
        follow_redirects=False,
    )
    assert answer.status_code in (302, 303, 307) and "/login" in answer.headers["location"]
