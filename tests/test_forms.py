"""The forms service (一事一表): declarations checked at start-up, the JSON API, the pages
rendered from the model, scope, township toggles, old versions, audit and events.

A throwaway plugin ``survey`` declares one form, ``visit``, about a unit. Storage tests run
on SQLite and PostgreSQL.
"""

from __future__ import annotations

import enum
import re
from datetime import date
from typing import Literal

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from core import FormSpec, create_app, hookimpl
from core.audit.models import AuditEntry
from core.events import wakeup
from core.events.models import OutboxEvent
from core.forms import service
from core.forms.catalog import FormCatalog
from core.forms.models import FormRecord
from core.identity.access import AccessCatalog
from core.plugins.registry import PluginRegistry
from core.testing import TEST_PASSWORD, all_routes
from core.units.models import Unit
from tests.helpers import manifest

CITY, COUNTY = "330800000000", "330802000000"
TOWN_A, TOWN_B = "330802001000", "330802002000"
GRID_A, GRID_B = "330802001001001", "330802002001001"
HTML = {"Accept": "text/html"}
RECORDS = "/api/v1/p/survey/forms/visit/records"
PAGES = "/p/survey/forms/visit"


class Need(enum.StrEnum):
    """A choice with Chinese labels."""

    medical = "medical"
    repair = "repair"

    @property
    def label(self) -> str:
        return {"medical": "就医", "repair": "维修"}[self.value]


class Visit(BaseModel):
    visitor: str = Field(title="走访人", description="填写姓名", max_length=20)
    visits: int = Field(title="走访次数", ge=0, le=100)
    mood: Literal["好", "一般", "差"] = Field(title="情绪")
    alone: bool = Field(title="是否独居")
    visited_on: date = Field(title="走访日期")
    needs: list[Need] = Field(default_factory=list, title="需求")
    note: str | None = Field(None, title="备注", max_length=500)


class VisitV2(Visit):
    phone: str = Field(title="联系电话", max_length=20)  # required: old records lack it
    rating: int = Field(3, title="满意度")


class Person(BaseModel):
    name: str = Field(title="姓名")
    score: float | None = Field(None, title="评分")


VISIT = FormSpec(name="visit", title="走访记录", model=Visit, description="入户走访")
HOUSEHOLD = FormSpec(name="home_check", title="入户核查", model=Person, subject="ticket")
FEEDBACK = FormSpec(
    name="feedback", title="意见反馈", model=Person, submit_permission="ticket.create"
)


class FormsPlugin:
    """A township plugin that declares the forms it is given."""

    def __init__(self, name: str, *forms: FormSpec) -> None:
        self.PLUGIN = manifest(name)
        self.forms = list(forms)

    @hookimpl
    def register_forms(self) -> list[FormSpec]:
        return self.forms


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def sanmin_extra_plugins():  # type: ignore[no-untyped-def]
    return [("survey", FormsPlugin("survey", VISIT, HOUSEHOLD, FEEDBACK))]


@pytest.fixture
def world(sanmin):  # type: ignore[no-untyped-def]
    """Two townships of one county, a grid in each, the plugin on in the county."""
    sanmin.unit(GRID_A)
    sanmin.unit(GRID_B)
    sanmin.enable("survey", COUNTY)
    return sanmin


def visit(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "visitor": "张三",
        "visits": 2,
        "mood": "好",
        "alone": True,
        "visited_on": "2026-03-01",
        "needs": ["medical"],
    }
    data.update(changes)
    return data


PAGE_FORM = {
    "visitor": "张三",
    "visits": "2",
    "mood": "一般",
    "alone": "false",
    "visited_on": "2026-03-01",
    "needs": ["medical", "repair"],
    "note": "",
}


def submit(client: TestClient, unit: str, **kwargs: object):  # type: ignore[no-untyped-def]
    body = {"subject": unit, "data": visit(**kwargs)}
    answer = client.post(RECORDS, params={"unit": unit}, json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def errors_of(answer) -> dict[str, str]:  # type: ignore[no-untyped-def]
    assert answer.status_code == 422, answer.text
    return {".".join(map(str, e["loc"][1:])): e["msg"] for e in answer.json()["detail"]}


# -- declarations --------------------------------------------------------------------------


def test_hook_register_forms(world) -> None:  # type: ignore[no-untyped-def]
    answer = world.client.get("/api/v1/p/survey/forms", params={"unit": GRID_A})
    assert answer.status_code == 200, answer.text
    forms = {f["name"]: f for f in answer.json()}
    assert set(forms) == {"visit", "home_check", "feedback"}
    assert forms["visit"]["title"] == "走访记录" and forms["visit"]["subject"] == "unit"
    assert forms["visit"]["schema"]["properties"]["visitor"]["title"] == "走访人"
    assert forms["visit"]["schema"]["required"] == [
        "visitor",
        "visits",
        "mood",
        "alone",
        "visited_on",
    ]
    assert world.kernel.forms.get("survey", "visit") is VISIT
    assert world.kernel.forms.get("survey", "nothing") is None


def bad(**changes: object) -> FormSpec:
    values: dict[str, object] = {"name": "bad_form", "title": "坏表", "model": Person}
    values.update(changes)
    return FormSpec(**values)  # type: ignore[arg-type]


class Nested(BaseModel):
    details: dict[str, int] = Field(title="明细")


class Untitled(BaseModel):
    name: str


class Reserved(BaseModel):
    subject: str = Field(title="主题")


@pytest.mark.parametrize(
    ("forms", "reason"),
    [
        (
            [bad(model=Nested)],
            "form 'bad_form' field 'details': type dict[str, int] is not supported",
        ),
        ([bad(model=Untitled)], "form 'bad_form' field 'name': no title"),
        ([bad(model=Reserved)], "form 'bad_form' field 'subject': the name is reserved"),
        ([bad(name="Bad-Name")], "form 'Bad-Name': the name must be snake_case"),
        ([bad(), bad()], "form 'bad_form': declared twice"),
        ([bad(subject="village")], "subject 'village' is not one of household, person"),
        ([bad(version=0)], "version must be an integer ≥ 1"),
        ([bad(title=" ")], "a Chinese title is required"),
        ([bad(read_permission="other.read")], "unknown permission 'other.read'"),
        ([bad(model=dict)], "model must be a pydantic BaseModel class"),
    ],
)
def test_the_catalog_takes_out_a_plugin_with_a_bad_form(forms, reason) -> None:  # type: ignore[no-untyped-def]
    registry = PluginRegistry().load(
        discover=False,
        extra=[("bad", FormsPlugin("bad", *forms)), ("good", FormsPlugin("good", VISIT))],
    )
    catalog = FormCatalog.build(registry, AccessCatalog.core())
    error = registry.plugins_failed["bad"].error
    assert error.startswith("register_forms: plugin 'bad' ") and reason in error
    assert "bad" not in registry.plugins and catalog.of("bad") == []
    assert catalog.get("good", "visit") is VISIT  # the others start


def test_the_catalog_checks_permissions_against_the_installation(sanmin) -> None:  # type: ignore[no-untyped-def]
    registry = PluginRegistry().load(
        discover=False, extra=[("bad", FormsPlugin("bad", bad(submit_permission="bad.nothing")))]
    )
    FormCatalog.build(registry, sanmin.kernel.access)
    assert "unknown permission 'bad.nothing'" in registry.plugins_failed["bad"].error


def test_fields_describe_inputs_for_the_pages() -> None:
    fields = {f.name: f for f in VISIT.fields}
    assert [f.name for f in VISIT.fields] == list(Visit.model_fields)
    assert (fields["visitor"].kind, fields["visitor"].max_length) == ("text", 20)
    assert fields["note"].kind == "textarea" and not fields["note"].required
    assert (fields["visits"].minimum, fields["visits"].maximum) == (0, 100)
    assert fields["mood"].choices == (("好", "好"), ("一般", "一般"), ("差", "差"))
    assert fields["needs"].kind == "multichoice" and fields["needs"].default == []
    assert fields["needs"].label_of(["medical", "repair"]) == "就医、维修"
    assert fields["alone"].label_of(False) == "否" and fields["note"].label_of(None) == "—"


# -- the API -------------------------------------------------------------------------------


def test_submit_read_and_list_through_the_api(world) -> None:  # type: ignore[no-untyped-def]
    worker = world.client_as("grid_worker", GRID_A)
    created = submit(worker, GRID_A, note="门前积水")
    assert created["subject_kind"] == "unit" and created["subject_id"] == GRID_A
    assert created["unit_code"] == GRID_A and created["schema_version"] == 1
    assert created["data"] == visit(note="门前积水")
    assert created["author"].startswith("account:grid-worker")
    one = worker.get(f"{RECORDS}/{created['id']}")
    assert one.status_code == 200 and one.json() == created
    second = submit(worker, GRID_A, visitor="李四")
    page = worker.get(RECORDS, params={"unit": GRID_A, "limit": 1})
    assert [r["id"] for r in page.json()["items"]] == [second["id"]]  # newest first
    assert page.json()["next_offset"] == 1
    rest = worker.get(RECORDS, params={"unit": GRID_A, "limit": 1, "offset": 1}).json()
    assert [r["id"] for r in rest["items"]] == [created["id"]] and rest["next_offset"] is None
    # The subject defaults to the request's unit for a unit form.
    default = worker.post(RECORDS, params={"unit": GRID_A}, json={"data": visit()})
    assert default.status_code == 201 and default.json()["subject_id"] == GRID_A


def test_a_submission_is_audited_and_emits_form_submitted(world) -> None:  # type: ignore[no-untyped-def]
    record = submit(world.client, GRID_A)
    with Session(world.engine) as session:
        audit = session.exec(
            select(AuditEntry).where(col(AuditEntry.action) == "form.submit")
        ).one()
        event = session.exec(
            select(OutboxEvent).where(col(OutboxEvent.name) == "form.submitted")
        ).one()
    assert (audit.target_type, audit.target_id, audit.unit_code) == (
        "form_record",
        str(record["id"]),
        GRID_A,
    )
    assert audit.after["form"] == "visit"
    assert event.subject == f"form_record:{record['id']}" and event.unit_code == GRID_A
    assert event.payload == {
        "plugin": "survey",
        "form": "visit",
        "record_id": record["id"],
        "schema_version": 1,
        "subject_kind": "unit",
        "subject_id": GRID_A,
    }


def test_bad_data_answers_422_naming_each_field_and_writes_nothing(world) -> None:  # type: ignore[no-untyped-def]
    worker = world.client_as("grid_worker", GRID_A)
    data = visit(visits="many", mood="很好", needs=["gold"], extra="x")
    del data["visitor"]
    answer = worker.post(RECORDS, params={"unit": GRID_A}, json={"subject": GRID_A, "data": data})
    errors = errors_of(answer)
    assert set(errors) == {"data.visitor", "data.visits", "data.mood", "data.needs.0", "data.extra"}
    assert errors["data.visitor"].startswith("此项必填")
    assert errors["data.visits"].startswith("请填写整数")
    assert errors["data.mood"].startswith("请从选项中选择")
    too_big = worker.post(RECORDS, params={"unit": GRID_A}, json={"data": visit(visits=101)})
    assert errors_of(too_big)["data.visits"].startswith("数值过大")
    nul = worker.post(RECORDS, params={"unit": GRID_A}, json={"data": visit(visitor="a\x00b")})
    assert "NUL" in errors_of(nul)["data.visitor"]
    # The subject: no such unit, a unit outside the worker's grid, a malformed code.
    for subject in ("330802001001009", GRID_B, "12"):
        body = {"subject": subject, "data": visit()}
        answer = worker.post(RECORDS, params={"unit": GRID_A}, json=body)
        assert errors_of(answer) == {
            "subject": "对象不存在或不在您的范围内 / no such subject in your scope"
        }
    with Session(world.engine) as session:
        assert session.exec(select(FormRecord)).all() == []


BAD_INPUT = [  # (method, url, where, field, body)
    ("GET", RECORDS + "/99999999999", "path", "record_id", None),
    ("GET", RECORDS + "/0", "path", "record_id", None),
    ("GET", RECORDS + "?offset=99999999999999999999", "query", "offset", None),
    ("GET", RECORDS + "?limit=501", "query", "limit", None),
    ("POST", RECORDS, "body", "subject", {"subject": "a\x00b", "data": {}}),
    ("POST", RECORDS, "body", "subject", {"subject": "1" * 65, "data": {}}),
    ("POST", RECORDS, "body", "data", {"subject": GRID_A}),
    ("POST", RECORDS, "body", "unknown", {"data": {}, "unknown": 1}),
    ("GET", PAGES + "/99999999999", "path", "record_id", None),
]


def test_bad_input_is_a_422_naming_the_field(world) -> None:  # type: ignore[no-untyped-def]
    for method, url, where, field, body in BAD_INPUT:
        url += f"{'&' if '?' in url else '?'}unit={GRID_A}"
        answer = world.client.request(method, url, json=body)
        assert answer.status_code == 422, (url, answer.text)
        assert [where, field] in [e["loc"][:2] for e in answer.json()["detail"]], url


def test_a_number_that_is_not_finite_is_422_naming_the_field(world) -> None:  # type: ignore[no-untyped-def]
    """JSON's NaN and Infinity (which Python's parser accepts) and a float past its range:
    refused naming the field on both databases, not stored on one and refused on the other."""
    url = "/api/v1/p/survey/forms/feedback/records"
    resident = world.client_as("resident", GRID_A)
    for number in (b"NaN", b"Infinity", b"-Infinity", b"1e400"):
        body = b'{"data": {"name": "x", "score": ' + number + b"}}"
        answer = resident.post(
            url, params={"unit": GRID_A}, content=body, headers={"content-type": "application/json"}
        )
        assert errors_of(answer)["data.score"].startswith("请填写有限的数字"), number
    for number in ("nan", "inf"):
        page = resident.post(
            "/p/survey/forms/feedback/new",
            params={"unit": GRID_A},
            data={"subject": GRID_A, "name": "x", "score": number},
            headers=HTML,
        )
        assert page.status_code == 422 and 'id="f-score-error">请填写有限的数字' in page.text
    with Session(world.engine) as session:
        assert session.exec(select(FormRecord)).all() == []


def test_a_page_submission_checks_the_subject_as_the_api_does(world) -> None:  # type: ignore[no-untyped-def]
    """The page's subject is free text: too long or with a NUL, it is refused naming the
    field (the database would store it on SQLite and refuse it on PostgreSQL)."""
    world.kernel.forms.subjects.register(
        "ticket", lambda conn, subject_id, within: GRID_A if subject_id[0] == "h" else None
    )
    worker = world.client_as("grid_worker", GRID_A)
    for subject in ("h" * 65, "h\x00"):
        answer = worker.post(
            "/p/survey/forms/home_check/new",
            params={"unit": GRID_A},
            data={"subject": subject, "name": "王五"},
            headers=HTML,
        )
        assert answer.status_code == 422, answer.text[:300]
        assert 'id="f-subject-error">对象编号应为 1–64 个字符' in answer.text
    with Session(world.engine) as session:
        assert session.exec(select(FormRecord)).all() == []


def test_a_subject_kind_without_a_resolver_answers_422_naming_subject(world) -> None:  # type: ignore[no-untyped-def]
    url = "/api/v1/p/survey/forms/home_check/records"
    body = {"subject": "17", "data": {"name": "王五"}}
    answer = world.client.post(url, params={"unit": GRID_A}, json=body)
    assert "暂不支持以「工单」为对象的表单" in errors_of(answer)["subject"]
    page = world.client.get("/p/survey/forms/home_check/new", params={"unit": GRID_A}, headers=HTML)
    assert page.status_code == 200 and "暂不支持以「工单」为对象的表单" in page.text


def test_a_registered_resolver_lets_records_attach_to_its_kind(world) -> None:  # type: ignore[no-untyped-def]
    homes = {"17": GRID_A, "18": GRID_B}

    def resolve(session, subject_id, within):  # type: ignore[no-untyped-def]
        unit = homes.get(subject_id)
        return (
            unit
            if unit and world.kernel.forms.subjects.resolve("unit", session, unit, within)
            else None
        )

    world.kernel.forms.subjects.register("ticket", resolve)
    with pytest.raises(ValueError, match="already has a resolver"):
        world.kernel.forms.subjects.register("ticket", resolve)
    url = "/api/v1/p/survey/forms/home_check/records"
    worker = world.client_as("grid_worker", GRID_A)
    answer = worker.post(
        url, params={"unit": GRID_A}, json={"subject": 17, "data": {"name": "王五"}}
    )
    assert answer.status_code == 201 and answer.json()["unit_code"] == GRID_A
    outside = worker.post(
        url, params={"unit": GRID_A}, json={"subject": "18", "data": {"name": "赵六"}}
    )
    assert set(errors_of(outside)) == {"subject"}


def test_a_resolver_may_build_its_own_scoped_statement(world) -> None:  # type: ignore[no-untyped-def]
    """``within(column)`` carries the scope's values; ``within.bound(column)`` takes them as
    ``within.parameters``, for a statement built once."""
    units = Unit.__table__.c  # type: ignore[attr-defined]
    homes = {"17": GRID_A, "18": GRID_B, "19": "330802001001009"}  # 19: no such unit
    prebuilt = select(units.code).where(units.code == bindparam("code"))

    def resolve(conn, subject_id, within):  # type: ignore[no-untyped-def]
        unit = homes.get(subject_id)
        found = conn.execute(
            select(units.code).where(units.code == unit, within(units.code))
        ).scalar()
        bound = prebuilt.where(within.bound(units.code))
        assert conn.execute(bound, {"code": unit, **within.parameters}).scalar() == found
        return found

    world.kernel.forms.subjects.register("ticket", resolve)
    url = "/api/v1/p/survey/forms/home_check/records"
    worker = world.client_as("grid_worker", GRID_A)
    answers = {
        home: worker.post(
            url, params={"unit": GRID_A}, json={"subject": home, "data": {"name": "王五"}}
        )
        for home in homes
    }
    assert answers["17"].status_code == 201 and answers["17"].json()["unit_code"] == GRID_A
    assert set(errors_of(answers["18"])) == set(errors_of(answers["19"])) == {"subject"}


def test_a_submission_wakes_the_event_runner_after_its_commit(world) -> None:  # type: ignore[no-untyped-def]
    worker = world.client_as("grid_worker", GRID_A)
    woken: list[str] = []
    unsubscribe = wakeup.subscribe(lambda: woken.append("woken"))
    try:
        refused = worker.post(RECORDS, params={"unit": GRID_A}, json={"data": visit(visits="x")})
        assert refused.status_code == 422 and woken == []
        submit(worker, GRID_A)
        assert woken == ["woken"]
    finally:
        unsubscribe()


def test_the_record_its_audit_entry_and_event_share_one_transaction(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The outbox failing after the record and its audit entry are written leaves neither."""

    def outbox_down(*args: object, **kwargs: object) -> None:
        raise RuntimeError("outbox down")

    monkeypatch.setattr(service, "emit", outbox_down)
    worker = world.client_as("grid_worker", GRID_A)
    with pytest.raises(RuntimeError, match="outbox down"):
        worker.post(RECORDS, params={"unit": GRID_A}, json={"data": visit()})
    with Session(world.engine) as session:
        assert session.exec(select(FormRecord)).all() == []
        audits = select(AuditEntry).where(col(AuditEntry.action) == "form.submit")
        assert session.exec(audits).all() == []


def test_retries_with_the_same_idempotency_key_make_one_record(world) -> None:  # type: ignore[no-untyped-def]
    worker = world.client_as("grid_worker", GRID_A)
    body = {"subject": GRID_A, "data": visit()}
    headers = {"Idempotency-Key": "visit-2026-03-01-a"}
    first = worker.post(RECORDS, params={"unit": GRID_A}, json=body, headers=headers)
    again = worker.post(RECORDS, params={"unit": GRID_A}, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    other = {"subject": GRID_A, "data": visit(visits=3)}
    conflict = worker.post(RECORDS, params={"unit": GRID_A}, json=other, headers=headers)
    assert conflict.status_code == 409 and "Idempotency-Key" in conflict.json()["detail"]
    # Another actor's key is its own.
    colleague = world.client_as("grid_worker", GRID_A)
    assert (
        colleague.post(RECORDS, params={"unit": GRID_A}, json=body, headers=headers).status_code
        == 201
    )
    with Session(world.engine) as session:
        assert len(session.exec(select(FormRecord)).all()) == 2


def test_a_retry_that_races_the_first_request_returns_its_record(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The retry checks the key before the first request commits, then loses the race on the
    unique constraint: it rolls back (no second audit entry or event) and answers the record."""
    worker = world.client_as("grid_worker", GRID_A)
    body, headers = {"data": visit()}, {"Idempotency-Key": "race"}
    first = worker.post(RECORDS, params={"unit": GRID_A}, json=body, headers=headers)
    real, checks = service._by_key, []

    def checked_before_the_first_commit(session, actor, key):  # type: ignore[no-untyped-def]
        checks.append(key)
        return None if len(checks) == 1 else real(session, actor, key)

    monkeypatch.setattr(service, "_by_key", checked_before_the_first_commit)
    again = worker.post(RECORDS, params={"unit": GRID_A}, json=body, headers=headers)
    assert (first.status_code, again.status_code, len(checks)) == (201, 200, 2)
    assert again.json()["id"] == first.json()["id"]
    with Session(world.engine) as session:
        assert len(session.exec(select(FormRecord)).all()) == 1
        audits = select(AuditEntry).where(col(AuditEntry.action) == "form.submit")
        assert len(session.exec(audits).all()) == 1
        events = select(OutboxEvent).where(col(OutboxEvent.name) == "form.submitted")
        assert len(session.exec(events).all()) == 1


def test_permissions_decide_who_submits_and_who_reads(world) -> None:  # type: ignore[no-untyped-def]
    resident = world.client_as("resident", GRID_A)
    refused = resident.post(RECORDS, params={"unit": GRID_A}, json={"data": visit()})
    assert refused.status_code == 403 and refused.json()["permission"] == "archive.write"
    assert resident.get(RECORDS, params={"unit": GRID_A}).status_code == 403
    assert resident.get(f"{PAGES}/new", params={"unit": GRID_A}, headers=HTML).status_code == 403
    assert world.anonymous.get(RECORDS, params={"unit": GRID_A}).status_code == 401


def test_an_author_reads_their_own_records_without_the_read_permission(world) -> None:  # type: ignore[no-untyped-def]
    url = "/api/v1/p/survey/forms/feedback/records"
    me, neighbour = world.client_as("resident", GRID_A), world.client_as("resident", GRID_A)
    mine = me.post(url, params={"unit": GRID_A}, json={"data": {"name": "我"}})
    theirs = neighbour.post(url, params={"unit": GRID_A}, json={"data": {"name": "邻居"}})
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert me.get(f"{url}/{mine.json()['id']}").status_code == 200
    assert me.get(f"{url}/{theirs.json()['id']}").status_code == 404
    listed = me.get(url, params={"unit": GRID_A}).json()["items"]
    assert [r["id"] for r in listed] == [mine.json()["id"]]
    worker = world.client_as("grid_worker", GRID_A)  # archive.read: sees both
    assert len(worker.get(url, params={"unit": GRID_A}).json()["items"]) == 2


# -- pages ---------------------------------------------------------------------------------


def test_the_pages_render_submit_and_show_a_record(world) -> None:  # type: ignore[no-untyped-def]
    worker = world.client_as("grid_worker", GRID_A)
    new = worker.get(f"{PAGES}/new", params={"unit": GRID_A}, headers=HTML)
    assert new.status_code == 200
    html = new.text
    assert 'name="csrf_token"' in html and f'name="subject" value="{GRID_A}"' in html
    assert '<label for="f-visitor">走访人 <span class="bad" title="必填">*</span></label>' in html
    assert "填写姓名" in html  # the help text
    assert '<option value="一般">一般</option>' in html
    assert 'type="checkbox" name="needs" value="medical"> 就医' in html
    assert 'id="f-visited_on" name="visited_on" value="" type="date"' in html
    assert re.search(r'<textarea id="f-note" name="note" rows="4" maxlength="500">', html)
    form = {"subject": GRID_A, **PAGE_FORM}
    created = worker.post(
        f"{PAGES}/new", params={"unit": GRID_A}, data=form, headers=HTML, follow_redirects=False
    )
    assert created.status_code == 303, created.text
    view = worker.get(created.headers["location"], headers=HTML)
    assert view.status_code == 200
    assert '<td data-field="needs">就医、维修</td>' in view.text
    assert '<td data-field="alone">否</td>' in view.text
    assert '<td data-field="note">—</td>' in view.text
    listing = worker.get(f"{PAGES}/", params={"unit": GRID_A}, headers=HTML)
    assert listing.status_code == 200 and "张三" in listing.text and "填写新表" in listing.text


def test_a_bad_page_submission_shows_each_error_next_to_its_field(world) -> None:  # type: ignore[no-untyped-def]
    worker = world.client_as("grid_worker", GRID_A)
    form = {"subject": GRID_A, "visitor": "张三", "visits": "abc", "mood": "", "alone": "true"}
    answer = worker.post(f"{PAGES}/new", params={"unit": GRID_A}, data=form, headers=HTML)
    assert answer.status_code == 422
    html = answer.text
    assert re.search(r'id="f-visits-error">请填写整数', html)
    assert re.search(r'id="f-mood-error">此项必填', html)
    assert re.search(r'id="f-visited_on-error">此项必填', html)
    assert 'value="张三"' in html and 'value="abc"' in html  # what the user typed stays
    assert '<option value="true" selected>是</option>' in html
    assert "f-visitor-error" not in html
    with Session(world.engine) as session:
        assert session.exec(select(FormRecord)).all() == []


def test_a_page_submission_through_a_browser_session_needs_the_csrf_token(world) -> None:  # type: ignore[no-untyped-def]
    world.account("grid_worker", GRID_A, "browser-worker")
    browser = world.anonymous
    login = browser.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)[1]  # type: ignore[index]
    credentials = {"username": "browser-worker", "password": TEST_PASSWORD, "csrf_token": token}
    assert browser.post("/login", data=credentials, follow_redirects=False).status_code == 303
    form = {"subject": GRID_A, **PAGE_FORM}
    refused = browser.post(f"{PAGES}/new", params={"unit": GRID_A}, data=form, headers=HTML)
    assert refused.status_code == 403 and "csrf_token" in refused.text
    done = browser.post(
        f"{PAGES}/new",
        params={"unit": GRID_A},
        data={**form, "csrf_token": token},
        headers=HTML,
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert browser.get(done.headers["location"], headers=HTML).status_code == 200


def test_a_double_submitted_page_saves_once(world) -> None:  # type: ignore[no-untyped-def]
    worker = world.client_as("grid_worker", GRID_A)
    page = worker.get(f"{PAGES}/new", params={"unit": GRID_A}, headers=HTML)
    key = re.search(r'name="submission_key" value="([^"]+)"', page.text)[1]  # type: ignore[index]
    form = {"subject": GRID_A, "submission_key": key, **PAGE_FORM}
    first, second = (
        worker.post(f"{PAGES}/new", params={"unit": GRID_A}, data=form, follow_redirects=False)
        for _ in range(2)
    )
    assert first.headers["location"] == second.headers["location"]
    # Back, edit, submit again: said so, and the form offers a fresh key to submit anew.
    edited = worker.post(f"{PAGES}/new", params={"unit": GRID_A}, data={**form, "visits": "3"})
    assert edited.status_code == 409 and "这份表单已经提交过" in edited.text
    assert f'name="submission_key" value="{key}"' not in edited.text
    with Session(world.engine) as session:
        assert len(session.exec(select(FormRecord)).all()) == 1


# -- versions ------------------------------------------------------------------------------


def test_a_record_of_an_older_version_stays_readable(world, sanmin_settings) -> None:  # type: ignore[no-untyped-def]
    old = submit(world.client, GRID_A)
    v2 = FormSpec(name="visit", title="走访记录", model=VisitV2, version=2)
    registry = PluginRegistry().load(discover=False, extra=[("survey", FormsPlugin("survey", v2))])
    app = create_app(sanmin_settings, registry=registry)
    headers = {"Authorization": world.client.headers["Authorization"]}
    try:
        with TestClient(app, headers=headers) as client:
            answer = client.get(f"{RECORDS}/{old['id']}")
            assert answer.status_code == 200, answer.text
            record = answer.json()
            assert record["schema_version"] == 1
            assert record["data"] == {**visit(), "note": None, "phone": None, "rating": 3}
            page = client.get(f"{PAGES}/{old['id']}", headers=HTML)
            assert page.status_code == 200
            assert '<td data-field="phone">—</td>' in page.text
            assert '<td data-field="rating">3</td>' in page.text
            assert "当前第 2 版" in page.text
            listed = client.get(RECORDS, params={"unit": GRID_A}).json()["items"]
            assert [r["data"]["rating"] for r in listed] == [3]
            # New records need the new required field.
            answer = client.post(RECORDS, params={"unit": GRID_A}, json={"data": visit()})
            assert set(errors_of(answer)) == {"data.phone"}
    finally:
        app.state.kernel.dispose()


# -- townships and scope -------------------------------------------------------------------


def test_a_township_with_the_plugin_off_has_no_forms(world) -> None:  # type: ignore[no-untyped-def]
    at_county = submit(world.client, COUNTY)  # follows the county's own setting
    in_a = submit(world.client, GRID_A)
    in_b = submit(world.client, GRID_B)
    world.disable("survey", TOWN_B)
    county = world.client_as("county_admin", COUNTY)
    listed = county.get(RECORDS, params={"unit": COUNTY})
    assert [r["id"] for r in listed.json()["items"]] == [in_a["id"], at_county["id"]]
    for url, params in [
        (RECORDS, {"unit": GRID_B}),
        (f"{RECORDS}/{in_b['id']}", {}),
        ("/api/v1/p/survey/forms", {"unit": TOWN_B}),
    ]:
        answer = county.get(url, params=params)
        assert answer.status_code == 404, url
        assert "survey" in answer.text or "测试survey" in answer.text
        assert "测试乡镇街道330802002000" in answer.json()["detail"]
    # A subject in the township where the plugin is off, asked from one where it is on.
    body = {"subject": GRID_B, "data": visit()}
    assert county.post(RECORDS, params={"unit": TOWN_A}, json=body).status_code == 404
    for path in (f"{PAGES}/", f"{PAGES}/new", f"{PAGES}/{in_b['id']}"):
        page = county.get(path, params={"unit": GRID_B}, headers=HTML)
        assert page.status_code == 404 and "测试乡镇街道330802002000" in page.text, path
    county_page = county.get(f"{PAGES}/", params={"unit": COUNTY}, headers=HTML)
    assert f'href="{PAGES}/{in_a["id"]}"' in county_page.text
    assert f'href="{PAGES}/{in_b["id"]}"' not in county_page.text
    # Off in the county, on again in one of its townships: a city-wide list shows only that one.
    world.enable("survey", CITY)
    world.disable("survey", COUNTY)
    world.enable("survey", TOWN_A)
    world.set("survey", TOWN_B, None)
    city = world.client_as("city_admin", CITY).get(RECORDS, params={"unit": CITY})
    assert [r["id"] for r in city.json()["items"]] == [in_a["id"]]


def test_a_grid_worker_sees_only_its_grid(world) -> None:  # type: ignore[no-untyped-def]
    in_b = submit(world.client, GRID_B)
    worker_a = world.client_as("grid_worker", GRID_A)
    assert worker_a.get(f"{RECORDS}/{in_b['id']}").status_code == 404
    assert worker_a.get(f"{PAGES}/{in_b['id']}", headers=HTML).status_code == 404
    assert worker_a.get(RECORDS).json()["items"] == []  # its home grid
    assert worker_a.get(RECORDS, params={"unit": GRID_B}).status_code == 404
    assert world.client.get(RECORDS, params={"unit": COUNTY}).json()["items"][0]["id"] == in_b["id"]


SCOPED_PATHS = {
    "/api/v1/p/{plugin}/forms",
    "/api/v1/p/{plugin}/forms/{form}/records",
    "/api/v1/p/{plugin}/forms/{form}/records/{record_id}",
    "/p/{plugin}/forms/{form}/",
    "/p/{plugin}/forms/{form}/new",
    "/p/{plugin}/forms/{form}/{record_id}",
}
SCOPE_CASES = [
    ("GET", "/api/v1/p/survey/forms?unit={unit}", None),
    ("GET", RECORDS + "?unit={unit}", None),
    ("POST", RECORDS + "?unit={unit}", {"json": {"data": visit()}}),
    ("GET", RECORDS + "/{id}", None),
    ("GET", PAGES + "/?unit={unit}", None),
    ("GET", PAGES + "/new?unit={unit}", None),
    ("POST", PAGES + "/new?unit={unit}", {"data": {"subject": GRID_A, **PAGE_FORM}}),
    ("GET", PAGES + "/{id}", None),
]


def test_the_scope_cases_cover_every_forms_route(sanmin) -> None:  # type: ignore[no-untyped-def]
    ours = {path for path, _ in all_routes(sanmin.app) if "/forms" in path}
    assert ours == SCOPED_PATHS


@pytest.mark.parametrize(("method", "url", "body"), SCOPE_CASES)
def test_every_forms_route_answers_404_outside_the_scope(world, method, url, body) -> None:  # type: ignore[no-untyped-def]
    record = submit(world.client, GRID_A)
    world.assert_scoped(
        method,
        url.format(unit=GRID_A, id=record["id"]),
        role="grid_worker",
        inside=GRID_A,
        outside=GRID_B,
        headers=HTML if url.startswith("/p/") else {},
        **(body or {}),
    )
