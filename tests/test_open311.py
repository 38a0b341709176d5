"""Open311 GeoReport v2 at ``/open311/v2/``: discovery, services and their definitions,
requests posted with an API key (form-encoded) and read back, in JSON and in XML; errors in
the specification's format; and the public reads' privacy (no confidential or anonymous
ticket, no reporter, no free text unless published). On SQLite and PostgreSQL; the clock is
fixed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from core.identity.service import create_api_key
from core.tickets.models import Ticket

ROOT = "/open311/v2"
TOWN = "330802001000"
VILLAGE = "330802001001"
GRID = "330802001001001"
OTHER_TOWN = "330802002000"
OTHER_VILLAGE = "330802002001"
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # a Friday, 10:00 in China
FORMATS = ("json", "xml")
# each checked in test_every_route_answers_404_outside_the_scope; the public reads without
# records of their own (discovery, services, definitions, tokens, unknown paths) are exempt
# in tests/test_scope_everywhere.py
SCOPED_PATHS = {
    f"{ROOT}/requests.{{fmt}}",
    f"{ROOT}/requests/{{request_id}}.{{fmt}}",
}
REPORTER = {"first_name": "小明", "last_name": "王", "phone": "138-1234-5678"}


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def town(sanmin):  # type: ignore[no-untyped-def]
    sanmin.unit(GRID)
    sanmin.unit(OTHER_VILLAGE)
    sanmin.kernel.workflows.clock = lambda: NOW
    return sanmin


def api_key(town, unit: str, name: str) -> str:  # type: ignore[no-untyped-def]
    with town.session() as session:
        return create_api_key(session, town.kernel.access, name=name, unit_code=unit, by="test")


def client(town) -> TestClient:  # type: ignore[no-untyped-def]
    """A client without credentials: Open311 reads are public, writes carry ``api_key``."""
    return TestClient(town.app)


def parsed(answer, fmt: str) -> Any:  # type: ignore[no-untyped-def]
    """The body as JSON, or the XML as the same structure (lists for repeated children)."""
    if fmt == "json":
        assert answer.headers["content-type"] == "application/json; charset=utf-8"
        return answer.json()
    assert answer.headers["content-type"] == "text/xml; charset=utf-8"
    assert answer.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return from_xml(ET.fromstring(answer.content))


LISTS = {"services", "service_requests", "attributes", "values", "errors", "endpoints", "formats"}


def from_xml(node: ET.Element) -> Any:
    if node.tag in LISTS:
        return [from_xml(child) for child in node]
    if len(node):
        return {child.tag: from_xml(child) for child in node}
    return node.text


def errors(answer, fmt: str, status: int) -> list[str]:  # type: ignore[no-untyped-def]
    """The descriptions of an error answer, after checking its status and shape."""
    assert answer.status_code == status, answer.text
    body = parsed(answer, fmt)
    assert isinstance(body, list) and body, body
    assert [str(e["code"]) for e in body] == [str(status)] * len(body)
    return [e["description"] for e in body]


def form(key: str | None, **changes: Any) -> dict[str, Any]:
    data = {
        "api_key": key,
        "jurisdiction_id": TOWN,
        "service_code": "public_repair",
        "lat": "28.97",
        "long": "118.87",
        "address_string": "幸福路 3 号楼前",
        "description": "路灯不亮\n已经一周了",
        "attribute[facility]": "路灯",
        "attribute[hazard]": "true",
        "email": "xm@example.com",
        "device_id": "device-1",
        "account_id": "acct-7",
        **REPORTER,
        **changes,
    }
    return {k: v for k, v in data.items() if v is not None}


def post(town, fmt: str, key: str | None, **changes: Any):  # type: ignore[no-untyped-def]
    return client(town).post(f"{ROOT}/requests.{fmt}", data=form(key, **changes))


def posted(town, fmt: str, key: str, **changes: Any) -> str:  # type: ignore[no-untyped-def]
    answer = post(town, fmt, key, **changes)
    assert answer.status_code == 201, answer.text
    (created,) = parsed(answer, fmt)
    return created["service_request_id"]


def read(town, fmt: str, request_id: str, key: str | None = None):  # type: ignore[no-untyped-def]
    params = {"jurisdiction_id": TOWN, **({"api_key": key} if key else {})}
    return client(town).get(f"{ROOT}/requests/{request_id}.{fmt}", params=params)


def listed(town, fmt: str, **params: Any) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    answer = client(town).get(f"{ROOT}/requests.{fmt}", params={"jurisdiction_id": TOWN, **params})
    assert answer.status_code == 200, answer.text
    return parsed(answer, fmt)


# -- discovery and services ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery_names_the_endpoint_and_its_formats(town, fmt) -> None:  # type: ignore[no-untyped-def]
    found = parsed(client(town).get(f"{ROOT}/discovery.{fmt}"), fmt)
    (endpoint,) = found["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert endpoint["type"] == "production"
    assert endpoint["formats"] == ["text/xml", "application/json"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_services_are_the_types_offered_in_the_township(town, fmt) -> None:  # type: ignore[no-untyped-def]
    found = parsed(client(town).get(f"{ROOT}/services.{fmt}?jurisdiction_id={TOWN}"), fmt)
    by_code = {s["service_code"]: s for s in found}
    assert list(by_code) == [
        "public_repair",
        "complaint",
        "estate",
        "home_repair",
        "legal_dispute",
        "renovation",
    ]
    repair = by_code["public_repair"]
    expected = {
        "service_code": "public_repair",
        "service_name": "公共维修",
        "description": "道路、路灯、供排水、公共设施和村庄公共区域的维修",
        "metadata": True,
        "type": "realtime",
        "keywords": "repair, 维修",
        "group": "为民办事",
    }
    if fmt == "xml":
        expected["metadata"] = "true"
    assert repair == expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_definition_lists_the_type_fields_as_attributes(town, fmt) -> None:  # type: ignore[no-untyped-def]
    url = f"{ROOT}/services/public_repair.{fmt}?jurisdiction_id={TOWN}"
    found = parsed(client(town).get(url), fmt)
    assert found["service_code"] == "public_repair"
    facility, hazard = found["attributes"]
    text = (lambda v: v) if fmt == "json" else str
    flag = (lambda v: v) if fmt == "json" else (lambda v: "true" if v else "false")
    assert facility["code"] == "facility" and facility["datatype"] == "singlevaluelist"
    assert facility["variable"] == flag(True) and facility["required"] == flag(True)
    assert facility["order"] == text(1) and facility["description"] == "设施类型"
    assert [v["key"] for v in facility["values"]][:2] == ["道路", "路灯"]
    assert hazard["datatype"] == "singlevaluelist" and hazard["required"] == flag(False)
    assert hazard["values"] == [{"key": "true", "name": "是"}, {"key": "false", "name": "否"}]
    assert hazard["description"] == "存在安全隐患：有隐患的按紧急处理"
    assert hazard["order"] == text(2)


def test_each_field_kind_has_its_datatype(town) -> None:  # type: ignore[no-untyped-def]
    def attributes(code: str) -> dict[str, dict[str, Any]]:
        url = f"{ROOT}/services/{code}.json?jurisdiction_id={TOWN}"
        return {a["code"]: a for a in client(town).get(url).json()["attributes"]}

    renovation = attributes("renovation")
    assert renovation["start_date"]["datatype"] == "datetime"
    assert renovation["plan"]["datatype"] == "text"  # up to 1000 characters: a text area
    assert renovation["plan"]["datatype_description"] == "最多 1000 字"
    dispute = attributes("legal_dispute")
    assert dispute["amount"]["datatype"] == "number"
    assert dispute["amount"]["datatype_description"] == "整数，0–10000000000"
    assert dispute["amount"]["required"] is False
    complaint = attributes("complaint")
    assert complaint["occurred"]["datatype"] == "string"  # 100 characters: one line


# -- submitting and reading back -----------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_client_posts_a_request_and_reads_it_back(town, fmt) -> None:  # type: ignore[no-untyped-def]
    key = api_key(town, VILLAGE, "随手拍")
    answer = post(town, fmt, key)
    assert answer.status_code == 201, answer.text
    (created,) = parsed(answer, fmt)
    assert created["account_id"] == "acct-7"
    assert created["service_notice"] == "已受理登记，2 小时内响应，签收后3 个工作日内办结"
    with town.session() as session:
        ticket = session.get(Ticket, int(created["service_request_id"]))
    assert (ticket.channel, ticket.unit_code, ticket.type) == ("open311", VILLAGE, "public_repair")
    assert (ticket.reporter_name, ticket.reporter_phone) == ("王小明", "13812345678")
    assert ticket.extra == {"facility": "路灯", "hazard": True}
    assert (ticket.title, ticket.description) == ("路灯不亮", "路灯不亮\n已经一周了")
    assert (ticket.latitude, ticket.longitude, ticket.address) == (28.97, 118.87, "幸福路 3 号楼前")
    assert ticket.created_by == "api_key:随手拍"

    (public,) = parsed(read(town, fmt, created["service_request_id"]), fmt)
    assert public["service_request_id"] == created["service_request_id"]
    assert (public["status"], public["status_notes"]) == ("open", "已提交")
    assert (public["service_code"], public["service_name"]) == ("public_repair", "公共维修")
    assert public["description"] == "公共维修（已提交）"  # no free text: not published
    assert public["address"] == f"测试村社区{VILLAGE}"  # the unit, not the place
    assert public["lat"] is None and public["long"] is None
    assert public["agency_responsible"] == f"测试村社区{VILLAGE}"
    assert public["requested_datetime"] == "2026-11-27T10:00:00+08:00"
    assert public["expected_datetime"] == "2026-11-27T12:00:00+08:00"  # respond within 2 h
    (own,) = parsed(read(town, fmt, created["service_request_id"], key), fmt)
    assert own["description"] == "路灯不亮\n已经一周了"
    assert own["address"] == "幸福路 3 号楼前"
    assert str(own["lat"]) == "28.97" and str(own["long"]) == "118.87"
    for shown in (public, own):
        assert not {k for k in shown if "reporter" in k or k in ("email", "phone", "first_name")}
    assert "王" not in read(town, fmt, created["service_request_id"], key).text


def test_the_unit_may_be_named_and_a_list_takes_several_values(town) -> None:  # type: ignore[no-untyped-def]
    county_key = api_key(town, "330802000000", "县平台")
    request_id = posted(
        town,
        "json",
        county_key,
        service_code="estate",
        unit_code=GRID,
        **{"attribute[facility]": None, "attribute[hazard]": None},
        **{"attribute[estate]": "幸福小区 3 幢", "attribute[category]": "停车"},
    )
    at_town = posted(town, "json", county_key)  # a key above the township: the township
    with town.session() as session:
        assert session.get(Ticket, int(request_id)).unit_code == GRID
        assert session.get(Ticket, int(at_town)).unit_code == TOWN


def test_an_address_alone_is_a_location_and_the_description_may_be_left_out(town) -> None:  # type: ignore[no-untyped-def]
    key = api_key(town, VILLAGE, "随手拍")
    request_id = posted(town, "xml", key, lat=None, long=None, description=None)
    with town.session() as session:
        ticket = session.get(Ticket, int(request_id))
    assert (ticket.latitude, ticket.address) == (None, "幸福路 3 号楼前")
    assert (ticket.title, ticket.description) == ("公共维修", "公共维修")


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_list_filters_by_code_status_dates_and_ids(town, fmt) -> None:  # type: ignore[no-untyped-def]
    key = api_key(town, VILLAGE, "随手拍")
    town.kernel.workflows.clock = lambda: NOW - timedelta(days=100)
    old = posted(town, fmt, key)
    town.kernel.workflows.clock = lambda: NOW
    repair = posted(town, fmt, key)
    estate = posted(
        town,
        fmt,
        key,
        service_code="estate",
        **{"attribute[facility]": None, "attribute[hazard]": None},
        **{"attribute[estate]": "幸福小区", "attribute[category]": "噪音"},
    )
    worker = town.client_as("grid_worker", VILLAGE)
    rejected = worker.post(
        f"/api/v1/tickets/{repair}/transitions/reject",
        json={"version": 1, "inputs": {"reason": "重复反映"}},
    )
    assert rejected.status_code == 200, rejected.text

    def ids(**params: Any) -> list[str]:
        return [r["service_request_id"] for r in listed(town, fmt, **params)]

    assert ids() == [estate, repair]  # the last 90 days, newest first
    assert ids(status="open") == [estate]
    assert ids(status="closed") == [repair]
    assert ids(status="open,closed") == [estate, repair]
    assert ids(service_code="estate") == [estate]
    assert ids(service_code="estate,public_repair") == [estate, repair]
    window = {"start_date": "2026-08-01T00:00:00+08:00", "end_date": "2026-09-01T00:00:00Z"}
    assert ids(**window) == [old]
    assert ids(start_date="2026-11-28T00:00:00Z") == []
    assert ids(service_request_id=f"{old},{repair}", status="open") == [repair, old]
    (closed,) = listed(town, fmt, service_request_id=repair)
    assert (closed["status"], closed["status_notes"]) == ("closed", "不予受理")
    assert closed["expected_datetime"] is None


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_post_without_a_valid_key_is_403(town, fmt) -> None:  # type: ignore[no-untyped-def]
    (missing,) = errors(post(town, fmt, None), fmt, 403)
    assert missing.startswith("api_key:")
    (wrong,) = errors(post(town, fmt, "smk_not-a-key"), fmt, 403)
    assert wrong.startswith("api_key:")
    elsewhere = api_key(town, OTHER_VILLAGE, "别的乡镇")
    (refused,) = errors(post(town, fmt, elsewhere), fmt, 403)
    assert refused.startswith("api_key:")
    with town.session() as session:
        assert session.exec(select(Ticket)).all() == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_bad_request_is_refused_naming_the_parameter(town, fmt) -> None:  # type: ignore[no-untyped-def]
    key = api_key(town, VILLAGE, "随手拍")
    cases = [
        ({"service_code": "pothole"}, 404, "service_code:"),
        ({"service_code": None}, 400, "service_code:"),
        ({"attribute[facility]": "飞机"}, 400, "attribute[facility]:"),
        ({"attribute[facility]": None}, 400, "attribute[facility]:"),
        ({"attribute[hazard]": "maybe"}, 400, "attribute[hazard]:"),
        ({"attribute[colour]": "red"}, 400, "attribute[colour]:"),
        ({"lat": "north"}, 400, "lat:"),
        ({"long": None}, 400, "long:"),
        ({"lat": None, "long": None, "address_string": None}, 400, "address_string:"),
        ({"phone": "call me"}, 400, "phone:"),
        ({"first_name": "小\x00明"}, 400, "first_name:"),
        ({"description": "很长" * 1001}, 400, "description:"),
        ({"unit_code": "12"}, 400, "unit_code:"),
        ({"jurisdiction_id": "sfgov.org"}, 404, "jurisdiction_id:"),
        ({"jurisdiction_id": "330802099000"}, 404, "jurisdiction_id:"),
        ({"jurisdiction_id": VILLAGE}, 404, "jurisdiction_id:"),
        ({"jurisdiction_id": None}, 400, "jurisdiction_id:"),
    ]
    for changes, status, field in cases:
        (description,) = errors(post(town, fmt, key, **changes), fmt, status)
        assert description.startswith(field), (changes, description)
    with town.session() as session:
        assert session.exec(select(Ticket)).all() == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_reads_refuse_bad_parameters_in_the_spec_format(town, fmt) -> None:  # type: ignore[no-untyped-def]
    anyone = client(town)
    for url, status, field in [
        (f"{ROOT}/services.{fmt}", 400, "jurisdiction_id:"),
        (f"{ROOT}/services.{fmt}?jurisdiction_id=330802099000", 404, "jurisdiction_id:"),
        (f"{ROOT}/services/pothole.{fmt}?jurisdiction_id={TOWN}", 404, "service_code:"),
        (f"{ROOT}/requests.{fmt}?jurisdiction_id={TOWN}&status=pending", 400, "status:"),
        (f"{ROOT}/requests.{fmt}?jurisdiction_id={TOWN}&service_code=x", 400, "service_code:"),
        (f"{ROOT}/requests.{fmt}?jurisdiction_id={TOWN}&start_date=2026-11-01", 400, "start_date"),
        (
            f"{ROOT}/requests.{fmt}?jurisdiction_id={TOWN}"
            "&start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
            400,
            "end_date:",
        ),
        (f"{ROOT}/requests.{fmt}?jurisdiction_id={TOWN}&service_request_id=1,x", 400, "service_"),
        (f"{ROOT}/requests.{fmt}?jurisdiction_id={TOWN}&api_key=wrong", 403, "api_key:"),
        (f"{ROOT}/requests/99.{fmt}?jurisdiction_id={TOWN}", 404, "service_request_id:"),
        (f"{ROOT}/requests/abc.{fmt}?jurisdiction_id={TOWN}", 404, "service_request_id:"),
        (f"{ROOT}/requests/99999999999.{fmt}?jurisdiction_id={TOWN}", 404, "service_request_id"),
        (f"{ROOT}/tokens/123.{fmt}?jurisdiction_id={TOWN}", 404, "token:"),
        (f"{ROOT}/nothing/here.{fmt}", 404, "url:"),
    ]:
        (description,) = errors(anyone.get(url), fmt, status)
        assert description.startswith(field), (url, description)


def test_an_unknown_format_is_answered_in_xml(town) -> None:  # type: ignore[no-untyped-def]
    for answer in (
        client(town).get(f"{ROOT}/services.yaml?jurisdiction_id={TOWN}"),
        client(town).post(f"{ROOT}/requests.html", data=form("x")),
    ):
        (description,) = errors(answer, "xml", 400)
        assert description.startswith("format:")


def test_a_post_is_a_form_without_files(town) -> None:  # type: ignore[no-untyped-def]
    key = api_key(town, VILLAGE, "随手拍")
    anyone = client(town)
    as_json = anyone.post(f"{ROOT}/requests.json", json=form(key))
    assert errors(as_json, "json", 400)[0].startswith("content-type:")
    with_file = anyone.post(
        f"{ROOT}/requests.json", data=form(key), files={"media": ("a.jpg", b"jpeg", "image/jpeg")}
    )
    assert errors(with_file, "json", 400)[0].startswith("media:")
    assert errors(anyone.put(f"{ROOT}/requests.json"), "json", 404)[0].startswith("url:")
    with town.session() as session:
        assert session.exec(select(Ticket)).all() == []


def test_the_jurisdiction_defaults_to_the_setting(town) -> None:  # type: ignore[no-untyped-def]
    town.kernel.settings.open311_jurisdiction = TOWN
    found = client(town).get(f"{ROOT}/services.json")
    assert found.status_code == 200 and len(found.json()) == 6
    key = api_key(town, VILLAGE, "随手拍")
    request_id = posted(town, "json", key, jurisdiction_id=None)
    assert read(town, "json", request_id).status_code == 200


# -- privacy -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_public_reads_never_show_a_confidential_ticket_a_dispute_or_a_reporter(town, fmt) -> None:  # type: ignore[no-untyped-def]
    key = api_key(town, VILLAGE, "随手拍")
    complaint = posted(
        town,
        fmt,
        key,
        service_code="complaint",
        description="举报某餐馆油烟扰民",
        **{"attribute[facility]": None, "attribute[hazard]": None},
        **{"attribute[accused]": "某餐馆"},
    )
    resident = town.client_as("resident", GRID)
    anonymous = resident.post(
        "/api/v1/tickets",
        json={
            "type": "complaint",
            "unit_code": GRID,
            "title": "匿名举报",
            "description": "匿名举报某工地夜间施工",
            "anonymous": True,
            "reporter_phone": "13900001111",
            "extra": {"accused": "某工地"},
        },
    )
    assert anonymous.status_code == 201, anonymous.text
    by_resident = resident.post(
        "/api/v1/tickets",
        json={
            "type": "home_repair",
            "unit_code": GRID,
            "title": "水管漏水",
            "description": "张大妈家厨房水管漏水，家住 5 幢 301",
            "address": "幸福小区 5 幢 301",
            "reporter_name": "张大妈",
            "reporter_phone": "13700002222",
            "extra": {"fault": "水", "access_window": "上午", "accepts_charge": True},
        },
    ).json()
    dispute = resident.post(
        "/api/v1/tickets",
        json={
            "type": "legal_dispute",
            "unit_code": GRID,
            "title": "宅基地纠纷",
            "description": "与邻居宅基地边界争议",
            "extra": {"parties": "两户邻居", "dispute_kind": "土地山林"},
        },
    )
    assert dispute.status_code == 201, dispute.text  # 法律纠纷: counts only, never listed

    public = client(town).get(f"{ROOT}/requests.{fmt}", params={"jurisdiction_id": TOWN})
    shown = parsed(public, fmt)
    assert [r["service_request_id"] for r in shown] == [str(by_resident["id"])]
    assert shown[0]["description"] == "居家维修（已提交）"
    for secret in ("某餐馆", "某工地", "张大妈", "13700002222", "5 幢 301", "小明"):
        assert secret not in public.text
    for hidden in (complaint, str(anonymous.json()["id"]), str(dispute.json()["id"])):
        (missing,) = errors(read(town, fmt, hidden), fmt, 404)
        assert missing.startswith("service_request_id:")

    (own,) = parsed(read(town, fmt, complaint, key), fmt)  # the key that filed it
    assert own["description"] == "举报某餐馆油烟扰民"
    assert "王" not in read(town, fmt, complaint, key).text  # never the reporter
    other = api_key(town, OTHER_VILLAGE, "别的乡镇")
    errors(read(town, fmt, complaint, other), fmt, 404)
    with_key = client(town).get(
        f"{ROOT}/requests.{fmt}", params={"jurisdiction_id": TOWN, "api_key": key}
    )
    assert [r["service_request_id"] for r in parsed(with_key, fmt)] == [
        str(by_resident["id"]),
        complaint,
    ]


def test_a_published_ticket_shows_its_summary_or_its_text(town) -> None:  # type: ignore[no-untyped-def]
    key = api_key(town, VILLAGE, "随手拍")
    summarised = posted(town, "json", key, description="王小明家门口路灯坏了")
    published = posted(town, "json", key, description="3 号楼前路灯坏了")
    with town.session() as session:
        first = session.get(Ticket, int(summarised))
        first.public, first.public_summary = True, "某村路灯故障，已修复"
        session.get(Ticket, int(published)).public = True
    (one,) = parsed(read(town, "json", summarised), "json")
    (two,) = parsed(read(town, "json", published), "json")
    assert one["description"] == "某村路灯故障，已修复"
    assert two["description"] == "3 号楼前路灯坏了"
    assert two["lat"] is None  # the place is the key's to see, even when published


# -- scope ---------------------------------------------------------------------------------


def test_every_route_answers_404_outside_the_scope(town) -> None:  # type: ignore[no-untyped-def]
    """A key files only where it may and reads back only what it filed (404 elsewhere)."""
    inside = api_key(town, VILLAGE, "本村")
    outside = api_key(town, OTHER_VILLAGE, "别村")
    assert post(town, "json", inside, unit_code=GRID).status_code == 201
    (refused,) = errors(post(town, "json", outside, unit_code=GRID), "json", 404)
    assert refused.startswith("unit_code:")
    complaint = posted(
        town,
        "json",
        inside,
        service_code="complaint",
        **{"attribute[facility]": None, "attribute[hazard]": None},
        **{"attribute[accused]": "某餐馆"},
    )
    assert read(town, "json", complaint, inside).status_code == 200
    errors(read(town, "json", complaint, outside), "json", 404)
    listed_inside = listed(town, "json", api_key=inside)
    listed_outside = listed(town, "json", api_key=outside)
    assert complaint in {r["service_request_id"] for r in listed_inside}
    assert complaint not in {r["service_request_id"] for r in listed_outside}
