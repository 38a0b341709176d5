"""一户一档, the household file: members with care level and tags, housing, vehicles, plugins'
form records and sections, and the timeline, on the API and the page; masking, scope, a
failing plugin, and a number of queries that does not grow with the members. Every test
runs on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from sqlalchemy import event
from sqlmodel import select

from core import FormSpec, HouseholdSection, SectionEntry, hookimpl, utcnow
from core.audit.models import AuditEntry
from core.identity.models import Account
from core.identity.service import issue_token
from tests.helpers import manifest

TOWN_A, TOWN_B = "330802001000", "330802002000"
VILLAGE_A = "330802001001"
GRID_A, GRID_B = "330802001001001", "330802002001001"
API = "/api/v1/archives"
ELDER = "110101194501011230"  # born 1945-01-01, male
PHONE = "13812345678"
PLATE = "浙H12345"
WHEN = utcnow() - timedelta(days=30)  # the plugin's visit: older than everything else


class Visit(BaseModel):
    mood: str = Field(title="情绪", max_length=20)


class Visits:
    """A township plugin: a household form, a person form and a section of visits."""

    PLUGIN = manifest("visits", title="走访")

    def __init__(self) -> None:
        self.seen: list[tuple[int | None, list[str], str]] = []

    @hookimpl
    def register_forms(self) -> list[FormSpec]:
        return [
            FormSpec(name="home", title="入户走访", model=Visit, subject="household"),
            FormSpec(name="talk", title="谈心谈话", model=Visit, subject="person"),
        ]

    @hookimpl
    def household_file_sections(self, household, members, actor):  # type: ignore[no-untyped-def]
        self.seen.append((household.id, [m.name for m in members], actor.label))
        entry = SectionEntry(at=WHEN, text="敲门走访，一切安好", href="/p/visits/log/1")
        return [HouseholdSection(key="visits", title="走访记录", entries=(entry,), order=10)]


class Crashing:
    """A plugin whose section hook raises."""

    PLUGIN = manifest("crashing")

    @hookimpl
    def household_file_sections(self, household):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")


class Unsafe:
    """A plugin returning a section with a link off the site: refused like a failure."""

    PLUGIN = manifest("unsafe")

    @hookimpl
    def household_file_sections(self):  # type: ignore[no-untyped-def]
        entry = SectionEntry(at=utcnow(), text="点这里", href="javascript:alert(1)")
        return [HouseholdSection(key="bad", title="坏链接", entries=(entry,))]


class Elsewhere:
    """A plugin enabled only in the other township: never asked about this household."""

    PLUGIN = manifest("elsewhere")

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def household_file_sections(self):  # type: ignore[no-untyped-def]
        self.calls += 1
        return [HouseholdSection(key="other", title="别处的栏目")]


PLUGINS = {"visits": Visits(), "crashing": Crashing(), "unsafe": Unsafe(), "elsewhere": Elsewhere()}


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def sanmin_extra_plugins():  # type: ignore[no-untyped-def]
    return list(PLUGINS.items())


def created(answer) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


@pytest.fixture
def world(sanmin):  # type: ignore[no-untyped-def]
    """Household A in grid A: an elder (care profile, tag, a form about him) and his
    grandson, a house and a car, a form about the household; household B in grid B."""
    sanmin.unit(GRID_A)
    sanmin.unit(GRID_B)
    for name in ("visits", "crashing", "unsafe"):
        sanmin.enable(name, TOWN_A)
    sanmin.enable("elsewhere", TOWN_B)
    PLUGINS["visits"].seen.clear()  # type: ignore[attr-defined]
    PLUGINS["elsewhere"].calls = 0  # type: ignore[attr-defined]
    admin = sanmin.client
    home = {"number": "F001", "address": "柯城区一号", "unit_code": GRID_A}
    a = created(admin.post(f"{API}/households", json=home))
    b = created(
        admin.post(
            f"{API}/households", json={"number": "F002", "address": "二号", "unit_code": GRID_B}
        )
    )
    elder = created(
        admin.post(
            f"{API}/persons",
            json={
                "name": "赵老",
                "household_id": a["id"],
                "relation": "head",
                "id_number": ELDER,
                "phone": PHONE,
            },
        )
    )
    child = {"name": "赵小", "household_id": a["id"], "relation": "grandchild", "gender": "male"}
    created(admin.post(f"{API}/persons", json=child | {"birth_date": "2012-03-04"}))
    worker = sanmin.client_as("grid_worker", GRID_A, "file-worker")
    care = f"{API}/care/persons/{elder['id']}"
    profile = {"children": "away", "adl": "partial", "risk": False, "econ": "general"}
    created(worker.put(f"{care}/profile", json=profile))
    created(worker.post(f"{care}/tags", json={"tag": "left_behind_elder", "reason": "子女在外"}))
    house = {"address": "柯城区一号", "unit_code": GRID_A, "usage": "own", "household_id": a["id"]}
    created(admin.post(f"{API}/housing", json=house | {"floor_area": 88.0}))
    car = {"plate": PLATE, "household_id": a["id"], "usage": "own", "owner_id": elder["id"]}
    created(admin.post(f"{API}/vehicles", json=car))
    forms = "/api/v1/p/visits/forms"
    for form, subject in (("home", a["id"]), ("talk", elder["id"])):
        body = {"subject": str(subject), "data": {"mood": "好"}}
        created(worker.post(f"{forms}/{form}/records", params={"unit": GRID_A}, json=body))
    sanmin.ids = {"a": a["id"], "b": b["id"], "elder": elder["id"]}  # type: ignore[attr-defined]
    return sanmin


def test_hook_household_file_sections(world, caplog) -> None:  # type: ignore[no-untyped-def]
    """The file gathers members with care level and tags, housing, vehicles, form records,
    the sections of plugins enabled there (a raising or bad one left out) and a timeline."""
    worker = world.client_as("grid_worker", GRID_A, "reader")
    with caplog.at_level(logging.ERROR, logger="sanmin.archives"):
        answer = worker.get(f"{API}/households/{world.ids['a']}")
    found = created(answer)  # a raising plugin and a bad one do not break the file
    failed = {r.getMessage() for r in caplog.records}
    assert any("plugin=crashing" in m for m in failed) and any("plugin=unsafe" in m for m in failed)

    elder, child = found["members"]
    assert (elder["name"], elder["id_number"], elder["phone"]) == (
        "赵老",
        "110101********1230",
        "138****5678",
    )
    assert (elder["care"]["level"], elder["care"]["visit_every_days"]) == ("red", 7)
    assert elder["care"]["reason"].startswith("规则：")
    assert [t["label"] for t in elder["tags"]] == ["留守老人"]
    assert (elder["care_profile"], elder["care_profile_masked"]) == (None, True)
    assert (child["care"], child["tags"], child["care_profile_masked"]) == (None, [], False)
    assert [(h["address"], h["usage_label"]) for h in found["housing"]] == [("柯城区一号", "自住")]
    assert [(v["plate"], v["owner_name"]) for v in found["vehicles"]] == [("浙H***45", "赵老")]
    assert [(f["form_title"], f["subject_label"], f["summary"]) for f in found["forms"]] == [
        ("谈心谈话", "赵老", "情绪：好"),
        ("入户走访", "户号 F001", "情绪：好"),
    ]
    assert found["forms"][0]["href"].startswith("/p/visits/forms/talk/")
    assert [(s["plugin"], s["key"], s["title"]) for s in found["sections"]] == [
        ("visits", "visits", "走访记录")
    ]
    assert PLUGINS["visits"].seen == [(world.ids["a"], ["赵老", "赵小"], "account:reader")]  # type: ignore[attr-defined]
    assert PLUGINS["elsewhere"].calls == 0  # type: ignore[attr-defined]

    timeline = found["timeline"]
    assert [t["at"] for t in timeline] == sorted((t["at"] for t in timeline), reverse=True)
    texts = [t["text"] for t in timeline]
    for expected in (
        "建档：户号 F001",
        "登记成员：赵老",
        "登记成员：赵小",
        "更新关爱评估要素：赵老",
        "添加重点人群标签：赵老 · 留守老人",
        "登记住房：柯城区一号",
        "登记车辆：车辆 浙H***45",
        "谈心谈话：赵老",
        "入户走访：户号 F001",
    ):
        assert expected in texts, (expected, texts)
    assert any(t.startswith("关爱等级评定：赵老 · 红（重点）") for t in texts)
    assert timeline[-1] == {
        "at": WHEN.isoformat(),
        "kind": "plugin",
        "source": "visits",
        "source_title": "走访",
        "text": "走访记录：敲门走访，一切安好",
        "actor": None,
        "href": "/p/visits/log/1",
    }
    assert not any(ELDER in t or PHONE in t or PLATE in t for t in texts)


def test_read_sensitive_unmasks_the_file_and_audits_one_read_not_shown_in_the_timeline(
    world,
) -> None:  # type: ignore[no-untyped-def]
    cadre = world.client_as("village_cadre", VILLAGE_A, "file-cadre")
    url = f"{API}/households/{world.ids['a']}"
    found = created(cadre.get(url))
    elder = found["members"][0]
    assert (elder["id_number"], elder["phone"], found["vehicles"][0]["plate"]) == (
        ELDER,
        PHONE,
        PLATE,
    )
    assert elder["care_profile"]["adl_label"] == "半失能" and not found["masked"]
    with world.session() as session:
        reads = session.exec(
            select(AuditEntry).where(AuditEntry.action == "read.archive.read_sensitive")
        ).all()
    assert [(r.actor, r.target_type, r.target_id) for r in reads] == [
        ("account:file-cadre", "household", str(world.ids["a"]))
    ]
    assert sorted(reads[0].after["fields"]) == sorted(
        ["id_number", "phone", "plate", "children", "adl", "risk", "econ"]
    )
    again = created(cadre.get(url))["timeline"]
    assert not any("read" in t["text"] or "查看" in t["text"] for t in again)
    assert len(again) == len(found["timeline"])  # reads do not join the timeline


def test_a_resident_sees_its_own_file_without_care_data_or_staff_names(world) -> None:  # type: ignore[no-untyped-def]
    account = world.account("resident", GRID_A)
    with world.session() as session:
        row = session.get(Account, account.id)
        assert row is not None
        row.person_id = world.ids["elder"]
        session.add(row)
        session.flush()
        token = issue_token(session, row, "bearer", None)
    resident = TestClient(world.app, headers={"Authorization": f"Bearer {token}"})
    found = created(resident.get(f"{API}/households/{world.ids['a']}"))
    elder = found["members"][0]
    assert (elder["care"], elder["tags"], elder["id_number"]) == (None, [], "110101********1230")
    assert all(t["actor"] is None for t in found["timeline"])
    assert not any(t["kind"] == "care" for t in found["timeline"])
    assert resident.get(f"{API}/households/{world.ids['b']}").status_code == 404


def test_the_file_is_404_outside_the_scope_on_the_api_and_the_page(world) -> None:  # type: ignore[no-untyped-def]
    for url in (f"{API}/households/{world.ids['a']}", f"/archives/households/{world.ids['a']}"):
        world.assert_scoped("GET", url, role="grid_worker", inside=GRID_A, outside=GRID_B)
    assert world.client.get(f"{API}/households/999999").status_code == 404


def test_the_page_shows_every_part_of_the_file(world) -> None:  # type: ignore[no-untyped-def]
    page = world.client_as("grid_worker", GRID_A).get(f"/archives/households/{world.ids['a']}")
    assert page.status_code == 200, page.text
    text = page.text
    for expected in (
        "一户一档 · 户号 F001",
        "红（重点）",
        "留守老人",
        "关爱评估要素已脱敏",
        "柯城区一号",
        "浙H***45",
        "入户走访",
        "走访记录",
        "敲门走访，一切安好",
        'href="/p/visits/log/1"',
        "时间线",
        "建档：户号 F001",
    ):
        assert expected in text, expected
    assert "javascript:" not in text and "别处的栏目" not in text
    assert ELDER not in text and PHONE not in text and PLATE not in text


def test_the_number_of_queries_does_not_grow_with_the_members(world) -> None:  # type: ignore[no-untyped-def]
    admin, worker = world.client, world.client_as("grid_worker", GRID_A)
    url = f"{API}/households/{world.ids['a']}"
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    def queries() -> int:
        statements.clear()
        event.listen(world.engine, "before_cursor_execute", count)
        try:
            created(worker.get(url))
        finally:
            event.remove(world.engine, "before_cursor_execute", count)
        return len(statements)

    worker.get(url)  # warm the caches (toggles, scopes) before counting
    before = queries()
    for n in range(4):
        member = {"name": f"赵{n}", "household_id": world.ids["a"], "relation": "child"}
        created(
            admin.post(
                f"{API}/persons", json=member | {"gender": "female", "birth_date": "1990-01-01"}
            )
        )
    found = created(worker.get(url))
    assert len(found["members"]) == 6
    assert queries() == before
