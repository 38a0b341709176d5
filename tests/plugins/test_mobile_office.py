"""民情直通车 + 民情热线 (``mobile_office``): calls, triage, trips, on-site records, tickets,
the daily ledger, scope, masking and where the plugin is on.

Every test runs on SQLite and on PostgreSQL (the ``sanmin`` fixture). The demo county's
衢江区 has the plugin on (莲花镇, 高家镇); 柯城区's 府山街道 has it off (the manifest's
default).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from core import Actor, Scope, get_ticket, transition_ticket
from core.testing import Sanmin
from plugins.mobile_office import calls, ledger, trips
from plugins.mobile_office.models import Call
from plugins.mobile_office.schemas import (
    CallIn,
    FeedbackIn,
    MoveIn,
    RecordIn,
    TicketSpec,
    TriageIn,
    TripIn,
)

PLUGIN = "mobile_office"
API = f"/api/v1/p/{PLUGIN}"
PAGES = f"/p/{PLUGIN}"
COUNTY = "330803000000"  # 衢江区
LIANHUA, LIANHUA_VILLAGE = "330803104000", "330803104001"  # 莲花镇, 莲花村
GAOJIA, GAOJIA_VILLAGE = "330803106000", "330803106001"  # 高家镇, 盈川村
FUSHAN = "330802001000"  # 府山街道, 柯城区: the plugin is off there
CHINA = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 3, 2)  # a Monday
DISPUTE = {"type": "legal_dispute", "extra": {"parties": "两户邻居", "dispute_kind": "邻里"}}

# Every route of the plugin: each answers 404 outside the caller's scope
# (test_every_route_answers_404_outside_the_scope).
SCOPED_PATHS = {
    f"{API}/calls",
    f"{API}/calls/{{call_id}}",
    f"{API}/calls/{{call_id}}/triage",
    f"{API}/calls/{{call_id}}/feedback",
    f"{API}/crew",
    f"{API}/trips",
    f"{API}/trips/{{trip_id}}",
    f"{API}/trips/{{trip_id}}/records",
    f"{API}/trips/{{trip_id}}/{{move}}",
    f"{API}/ledger",
    f"{API}/ledger/close",
    f"{PAGES}/board",
    f"{PAGES}/calls/new",
    f"{PAGES}/calls/{{call_id}}",
    f"{PAGES}/calls/{{call_id}}/triage",
    f"{PAGES}/calls/{{call_id}}/feedback",
    f"{PAGES}/calls/{{call_id}}/transfer",
    f"{PAGES}/trips",
    f"{PAGES}/trips/new",
    f"{PAGES}/trips/{{trip_id}}",
    f"{PAGES}/trips/{{trip_id}}/move",
    f"{PAGES}/trips/{{trip_id}}/records/new",
    f"{PAGES}/ledger",
    f"{PAGES}/ledger/close",
}


@pytest.fixture
def sanmin_plugins() -> list[str]:
    """This plugin and Sanmin's core plugins."""
    return [PLUGIN]


@pytest.fixture
def county(sanmin: Sanmin) -> Sanmin:
    """衢江区 with 莲花镇 and 高家镇 (each with a village), the plugin on for the county;
    柯城区's 府山街道 with the plugin off."""
    for code, name in (
        (COUNTY, "衢江区"),
        (LIANHUA, "莲花镇"),
        (LIANHUA_VILLAGE, "莲花村"),
        (GAOJIA, "高家镇"),
        (GAOJIA_VILLAGE, "盈川村"),
        (FUSHAN, "府山街道"),
    ):
        sanmin.unit(code, name)
    sanmin.enable(PLUGIN, COUNTY)
    return sanmin


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    """A moment of a local day (Beijing time)."""
    return datetime.combine(day, time(hour, minute), CHINA)


class Hotline:
    """A township's hotline staff as the services see them, writing at fixed moments."""

    def __init__(self, sanmin: Sanmin, township: str) -> None:
        self.sanmin, self.kernel, self.township = sanmin, sanmin.kernel, township
        self.operator = sanmin.actor("mobile_office_operator", township)
        self.leader = sanmin.actor("mobile_office_duty_leader", township)
        self.crew = sanmin.actor("mobile_office_crew", township)

    @property
    def scope(self) -> Scope:
        return self.kernel.scope(self.township)

    def session(self) -> Session:
        return Session(self.kernel.engine, expire_on_commit=False)

    def call(self, when: datetime, **fields: Any) -> Call:
        body = {
            "caller_name": "张三",
            "caller_phone": "13800001111",
            "unit_code": self.township[:9] + "001",
            "category": "矛盾纠纷",
            "question": "邻居在门口堆放柴火",
            "received_at": when,
            **fields,
        }
        with self.session() as session:
            found, created = calls.register_call(
                session, self.kernel, self.operator, self.scope, CallIn(**body), now=when
            )
        assert created
        return found

    def triage(self, call: Call, when: datetime, **fields: Any) -> Call:
        with self.session() as session:
            found = calls.get_call(session, self.kernel, self.leader, call.id)  # type: ignore[arg-type]
            body = TriageIn(version=found.version, **fields)
            return calls.triage(session, self.kernel, self.leader, found, body, now=when)

    def trip(self, when: datetime, *call_list: Call) -> trips.Trip:
        body = TripIn(
            destination="莲花村",
            crew=[self.crew.id],
            call_ids=[c.id for c in call_list],  # type: ignore[misc]
        )
        with self.session() as session:
            return trips.create_trip(session, self.kernel, self.leader, self.scope, body, now=when)

    def move(self, trip: trips.Trip, move: str, when: datetime) -> trips.Trip:
        with self.session() as session:
            found = trips.get_trip(session, self.kernel, self.crew, trip.id)  # type: ignore[arg-type]
            body = MoveIn(version=found.version, at=when)
            return trips.move_trip(session, self.kernel, self.crew, found, move, body, now=when)

    def record(self, trip: trips.Trip, when: datetime, **fields: Any) -> Any:
        body = RecordIn(findings="现场查看", **fields)
        with self.session() as session:
            found = trips.get_trip(session, self.kernel, self.crew, trip.id)  # type: ignore[arg-type]
            return trips.add_record(session, self.kernel, self.crew, found, body, now=when)

    def resolve_ticket(self, call: Call, when: datetime) -> None:
        """The call's ticket accepted, signed and resolved by the duty leader."""
        with self.session() as session:
            found = calls.get_call(session, self.kernel, self.leader, call.id)  # type: ignore[arg-type]
            assert found.ticket_id is not None
            ticket = get_ticket(session, self.kernel, self.leader, found.ticket_id)
            for name, inputs in (("accept", {}), ("sign", {}), ("resolve", {"result": "已办结"})):
                transition_ticket(
                    session,
                    self.kernel,
                    self.leader,
                    ticket,
                    name,
                    ticket.version,
                    inputs,
                    now=when,
                )
            session.commit()

    def rate(self, call: Call, rating: int, when: datetime) -> Any:
        with self.session() as session:
            found = calls.get_call(session, self.kernel, self.leader, call.id)  # type: ignore[arg-type]
            return calls.record_feedback(
                session, self.kernel, self.leader, found, FeedbackIn(rating=rating), now=when
            )

    def reload(self, call: Call) -> Call:
        with self.session() as session:
            found = session.get(Call, call.id)
            assert found is not None
            return found


def call_body(**fields: Any) -> dict[str, Any]:
    return {
        "caller_name": "李四",
        "caller_phone": "13912345678",
        "category": "安全隐患",
        "question": "村口老桥护栏松动",
        **fields,
    }


def locs(response: Any) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


def nav(html: str) -> str:
    match = re.search(r"<nav>(.*?)</nav>", html, re.S)
    assert match, "the page has no menu"
    return match.group(1)


# -- where the plugin is on ----------------------------------------------------------------


def test_disabled_in_a_township_it_is_absent_there(county: Sanmin) -> None:
    county.disable(PLUGIN, GAOJIA)  # off in 高家镇, on in the rest of 衢江区
    admin = county.client
    for township in (GAOJIA, FUSHAN):
        for path in (f"{PAGES}/", f"{PAGES}/board", f"{API}/calls", f"{API}/ledger"):
            answer = admin.get(path, params={"unit": township})
            assert answer.status_code == 404, path
            assert PLUGIN in answer.text
        metric = admin.get(f"/api/v1/metrics/{PLUGIN}/calls", params={"unit": township})
        assert metric.status_code == 404
        home = admin.get("/", params={"unit": township})
        assert f"{PAGES}/" not in nav(home.text)
    leader = county.client_as("mobile_office_duty_leader", GAOJIA)
    refused = leader.post(f"{API}/calls", params={"unit": GAOJIA}, json=call_body())
    assert refused.status_code == 404
    assert refused.json()["plugin"] == PLUGIN


def test_enabled_in_a_township_it_works_with_its_menu(county: Sanmin) -> None:
    operator = county.client_as("mobile_office_operator", LIANHUA)
    leader = county.client_as("mobile_office_duty_leader", LIANHUA)
    created = operator.post(f"{API}/calls", params={"unit": LIANHUA}, json=call_body())
    assert created.status_code == 201, created.text
    assert (created.json()["state"], created.json()["state_label"]) == ("received", "待研判")
    listed = leader.get(f"{API}/calls", params={"unit": LIANHUA}).json()["items"]
    assert [c["id"] for c in listed] == [created.json()["id"]]
    assert "今日来电" in leader.get(f"{PAGES}/", params={"unit": LIANHUA}).text
    menus = {
        "operator": nav(operator.get("/", params={"unit": LIANHUA}).text),
        "leader": nav(leader.get("/", params={"unit": LIANHUA}).text),
    }
    assert "来电登记" in menus["operator"] and "研判看板" not in menus["operator"]
    assert "研判看板" in menus["leader"] and "日清日结" in menus["leader"]
    resident = county.client_as("resident", LIANHUA_VILLAGE)
    assert "民情直通车" not in nav(resident.get("/", params={"unit": LIANHUA_VILLAGE}).text)


# -- the practice --------------------------------------------------------------------------


def test_a_call_becomes_a_trip_and_is_settled_on_the_spot(county: Sanmin) -> None:
    hotline = Hotline(county, LIANHUA)
    call = hotline.call(at(9, 0))
    trip = hotline.trip(at(9, 10), call)
    assert hotline.reload(call).state == "dispatched"
    hotline.move(trip, "depart", at(9, 15))
    hotline.move(trip, "arrive", at(9, 35))
    arrived = hotline.reload(call)
    assert (arrived.arrived_at, arrived.arrival_minutes) == (at(9, 35), 35.0)
    record = hotline.record(trip, at(9, 50), call_id=call.id, result="resolved")
    settled = hotline.reload(call)
    assert (settled.state, settled.outcome_at) == ("resolved", at(9, 50))
    assert (record.result, record.call_id, record.ticket_id) == ("resolved", call.id, None)

    leader = county.client_as("mobile_office_duty_leader", LIANHUA)
    sheet = leader.get(f"{API}/trips/{trip.id}").json()
    assert (sheet["state"], sheet["call_ids"]) == ("arrived", [call.id])
    assert [r["result_label"] for r in sheet["records"]] == ["当场办结"]
    page = leader.get(f"{PAGES}/calls/{call.id}", params={"unit": LIANHUA}).text
    for step in ("来电受理", "派车", "当场办结"):
        assert step in page


def test_a_call_is_transferred_to_a_ticket_on_the_hotline_channel(county: Sanmin) -> None:
    operator = county.client_as("mobile_office_operator", LIANHUA)
    leader = county.client_as("mobile_office_duty_leader", LIANHUA)
    body = call_body(
        category="矛盾纠纷", question="与邻居为宅基地边界争执", unit_code=LIANHUA_VILLAGE
    )
    call = operator.post(f"{API}/calls", params={"unit": LIANHUA}, json=body).json()
    triage = {"version": call["version"], "decision": "transfer", "ticket": DISPUTE}
    moved = leader.post(f"{API}/calls/{call['id']}/triage", json=triage, params={"unit": LIANHUA})
    assert moved.status_code == 200, moved.text
    assert moved.json()["state"] == "transferred"
    ticket_id = moved.json()["ticket_id"]
    ticket = county.client.get(f"/api/v1/tickets/{ticket_id}").json()
    assert (ticket["type"], ticket["channel"], ticket["unit_code"]) == (
        "legal_dispute",
        "hotline",
        LIANHUA_VILLAGE,
    )
    assert ticket["reporter_name"] == "李四"
    assert ticket["title"] == "矛盾纠纷：与邻居为宅基地边界争执"
    again = leader.post(f"{API}/calls/{call['id']}/triage", json=triage, params={"unit": LIANHUA})
    assert again.status_code == 409  # the version is stale: one ticket only


def test_an_on_site_record_refers_a_matter_to_a_ticket(county: Sanmin) -> None:
    hotline = Hotline(county, LIANHUA)
    call = hotline.call(at(10, 0))
    trip = hotline.trip(at(10, 5), call)
    hotline.move(trip, "depart", at(10, 10))
    hotline.move(trip, "arrive", at(10, 30))
    record = hotline.record(
        trip, at(10, 45), call_id=call.id, result="referred", ticket=TicketSpec(**DISPUTE)
    )
    referred = hotline.reload(call)
    assert referred.state == "transferred"
    assert record.ticket_id == referred.ticket_id is not None
    with hotline.session() as session:
        ticket = get_ticket(session, county.kernel, hotline.leader, record.ticket_id)
    assert (ticket.channel, ticket.reporter_name, ticket.type) == (
        "mobile_office",
        "张三",
        "legal_dispute",
    )


def test_a_scheduled_coordination_is_settled_by_the_duty_leader(county: Sanmin) -> None:
    hotline = Hotline(county, LIANHUA)
    call = hotline.call(at(9, 0))
    trip = hotline.trip(at(9, 5), call)
    hotline.move(trip, "depart", at(9, 10))
    hotline.move(trip, "arrive", at(9, 30))
    promised = DAY + timedelta(days=2)
    hotline.record(trip, at(9, 40), call_id=call.id, result="scheduled", promised_on=promised)
    scheduled = hotline.reload(call)
    assert (scheduled.state, scheduled.promised_on) == ("scheduled", promised)
    assert scheduled.due_at == at(0, 0, promised + timedelta(days=1))
    settled = hotline.triage(call, at(10, 0, promised), decision="settle", answer="双方签订协议")
    assert (settled.state, settled.answer) == ("settled", "双方签订协议")


def test_the_ledger_refuses_to_close_a_day_with_an_open_call(county: Sanmin) -> None:
    hotline = Hotline(county, LIANHUA)
    first = hotline.call(at(9, 0))
    second = hotline.call(at(10, 0), caller_name="王五")
    hotline.triage(first, at(9, 20), decision="answer", answer="已答复")

    def close() -> ledger.Day:
        with hotline.session() as session:
            return ledger.close_day(
                session, county.kernel, hotline.leader, LIANHUA, DAY, "日结", now=at(21, 0)
            )

    with pytest.raises(Exception) as refused:
        close()
    assert refused.value.status_code == 409  # type: ignore[attr-defined]
    message = refused.value.detail  # type: ignore[attr-defined]
    assert "还有 1 件来电未处置" in message and f"#{second.id} 王五（待研判）" in message

    hotline.triage(second, at(20, 0), decision="transfer", ticket=TicketSpec(**DISPUTE))
    closed = close()
    assert closed.closed
    assert {k: closed.counts[k] for k in ("calls", "answered", "transferred", "open")} == {
        "calls": 2,
        "answered": 1,
        "transferred": 1,
        "open": 0,
    }
    hotline.call(at(21, 30))  # a late call opens the day again
    with hotline.session() as session:
        reopened = ledger.load_day(session, county.kernel, hotline.leader, LIANHUA, DAY)
    assert not reopened.closed and reopened.ledger and reopened.ledger.reopened_at


def test_closing_the_day_through_the_api(county: Sanmin) -> None:
    operator = county.client_as("mobile_office_operator", LIANHUA)
    leader = county.client_as("mobile_office_duty_leader", LIANHUA)
    call = operator.post(f"{API}/calls", params={"unit": LIANHUA}, json=call_body()).json()
    today = datetime.fromisoformat(call["received_at"]).astimezone(CHINA).date().isoformat()
    refused = leader.post(f"{API}/ledger/close", params={"unit": LIANHUA}, json={"day": today})
    assert refused.status_code == 409
    assert f"#{call['id']} 李四" in refused.json()["detail"]
    assert (
        operator.post(
            f"{API}/ledger/close", params={"unit": LIANHUA}, json={"day": today}
        ).status_code
        == 403
    )  # the operator does not close the day
    answer = {"version": 1, "decision": "answer", "answer": "已电话答复"}
    leader.post(f"{API}/calls/{call['id']}/triage", json=answer, params={"unit": LIANHUA})
    closed = leader.post(f"{API}/ledger/close", params={"unit": LIANHUA}, json={"day": today})
    assert closed.status_code == 200, closed.text
    assert (closed.json()["closed"], closed.json()["counts"]["answered"]) == (True, 1)
    shown = operator.get(f"{API}/ledger", params={"unit": LIANHUA, "day": today}).json()
    assert shown["closed"] and shown["open_call_ids"] == []


# -- bad input, stale versions, the generic workflow routes ----------------------------------


def test_bad_input_is_422_naming_the_field(county: Sanmin) -> None:
    operator = county.client_as("mobile_office_operator", LIANHUA)
    leader = county.client_as("mobile_office_duty_leader", LIANHUA)
    unit = {"unit": LIANHUA}
    post = operator.post
    assert ["body", "caller_name"] in locs(
        post(f"{API}/calls", params=unit, json=call_body(caller_name=" "))
    )
    assert ["body", "caller_phone"] in locs(
        post(f"{API}/calls", params=unit, json=call_body(caller_phone="12"))
    )
    assert ["body", "category"] in locs(
        post(f"{API}/calls", params=unit, json=call_body(category="闲聊"))
    )
    assert ["body", "unit_code"] in locs(
        post(f"{API}/calls", params=unit, json=call_body(unit_code=GAOJIA_VILLAGE))
    )
    future = (datetime.now(CHINA) + timedelta(days=1)).isoformat()
    assert ["body", "received_at"] in locs(
        post(f"{API}/calls", params=unit, json=call_body(received_at=future))
    )
    assert ["body", "repeat_of"] in locs(
        post(f"{API}/calls", params=unit, json=call_body(repeat_of=999))
    )

    call = post(f"{API}/calls", params=unit, json=call_body()).json()
    triage = f"{API}/calls/{call['id']}/triage"
    assert ["body", "answer"] in locs(
        leader.post(triage, json={"version": 1, "decision": "answer"})
    )
    assert ["body", "trip_id"] in locs(
        leader.post(triage, json={"version": 1, "decision": "trip", "trip_id": 99})
    )
    bad_ticket = {"type": "legal_dispute", "extra": {"parties": "甲乙", "dispute_kind": "吵架"}}
    transfer = {"version": 1, "decision": "transfer", "ticket": bad_ticket}
    assert ["body", "ticket", "extra", "dispute_kind"] in locs(leader.post(triage, json=transfer))
    assert ["body", "crew", 0] in locs(
        leader.post(f"{API}/trips", params=unit, json={"destination": "莲花村", "crew": [9999]})
    )
    tomorrow = (datetime.now(CHINA) + timedelta(days=2)).date().isoformat()
    assert ["body", "day"] in locs(
        leader.post(f"{API}/ledger/close", params=unit, json={"day": tomorrow})
    )
    assert leader.get(f"{API}/calls/{call['id']}").json()["state"] == "received"  # nothing moved
    admin = county.client_as("county_admin", COUNTY)  # a ledger is a township's
    assert ["query", "unit"] in locs(admin.get(f"{API}/ledger", params={"unit": COUNTY}))


def test_a_record_needs_its_date_and_the_trip_must_have_arrived(county: Sanmin) -> None:
    hotline = Hotline(county, LIANHUA)
    crew = county.client_as("mobile_office_crew", LIANHUA)
    call = hotline.call(at(9, 0))
    trip = hotline.trip(at(9, 5), call)
    records = f"{API}/trips/{trip.id}/records"
    early = crew.post(records, json={"findings": "x", "result": "resolved"})
    assert early.status_code == 403  # not on this trip's crew
    with hotline.session() as session:
        found = trips.get_trip(session, county.kernel, hotline.crew, trip.id)  # type: ignore[arg-type]
        with pytest.raises(Exception) as refused:
            trips.add_record(
                session,
                county.kernel,
                hotline.crew,
                found,
                RecordIn(findings="x", result="resolved"),
                now=at(9, 6),
            )
    assert refused.value.status_code == 409  # type: ignore[attr-defined]
    hotline.move(trip, "depart", at(9, 10))
    hotline.move(trip, "arrive", at(9, 20))
    leader = county.client_as("mobile_office_duty_leader", LIANHUA)
    body = {"call_id": call.id, "findings": "需约谈双方", "result": "scheduled"}
    assert ["body", "promised_on"] in locs(leader.post(records, json=body))
    body = {"findings": "现场发现", "result": "referred"}
    assert ["body", "ticket"] in locs(leader.post(records, json=body))


def test_a_stale_version_is_409(county: Sanmin) -> None:
    operator = county.client_as("mobile_office_operator", LIANHUA)
    leader = county.client_as("mobile_office_duty_leader", LIANHUA)
    call = operator.post(f"{API}/calls", params={"unit": LIANHUA}, json=call_body()).json()
    answer = {"version": 1, "decision": "answer", "answer": "已答复"}
    assert leader.post(f"{API}/calls/{call['id']}/triage", json=answer).status_code == 200
    stale = leader.post(f"{API}/calls/{call['id']}/triage", json=answer)
    assert stale.status_code == 409
    trip = leader.post(
        f"{API}/trips",
        params={"unit": LIANHUA},
        json={"destination": "莲花村", "crew": [county.account("mobile_office_crew", LIANHUA).id]},
    ).json()
    assert leader.post(f"{API}/trips/{trip['id']}/depart", json={"version": 1}).status_code == 200
    assert leader.post(f"{API}/trips/{trip['id']}/depart", json={"version": 1}).status_code == 409


def test_a_retried_call_registers_once(county: Sanmin) -> None:
    operator = county.client_as("mobile_office_operator", LIANHUA)
    headers = {"Idempotency-Key": "call-1"}
    first = operator.post(
        f"{API}/calls", params={"unit": LIANHUA}, json=call_body(), headers=headers
    )
    again = operator.post(
        f"{API}/calls", params={"unit": LIANHUA}, json=call_body(), headers=headers
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]


def test_calls_move_only_through_the_plugin(county: Sanmin) -> None:
    hotline = Hotline(county, LIANHUA)
    call = hotline.call(at(9, 0))
    generic = f"{API}/workflows/call/instances/{call.instance_id}/transitions/answer"
    leader = county.client_as("mobile_office_duty_leader", LIANHUA)
    refused = leader.post(generic, json={"version": 1, "inputs": {"answer": "绕过"}})
    assert refused.status_code == 422
    assert "民情直通车" in refused.json()["detail"]
    assert hotline.reload(call).state == "received"


# -- scope and masking ---------------------------------------------------------------------


def test_every_route_answers_404_outside_the_scope(county: Sanmin) -> None:
    hotline = Hotline(county, LIANHUA)
    call = hotline.call(at(9, 0))
    trip = hotline.trip(at(9, 5), call)
    answered = hotline.call(at(9, 30))
    listed = {
        f"{API}/calls": ("GET", None),
        f"{API}/crew": ("GET", None),
        f"{API}/trips": ("GET", None),
        f"{API}/ledger": ("GET", None),
        f"{PAGES}/board": ("GET", None),
        f"{PAGES}/calls/new": ("GET", None),
        f"{PAGES}/trips": ("GET", None),
        f"{PAGES}/trips/new": ("GET", None),
        f"{PAGES}/ledger": ("GET", None),
    }
    for url, (method, _) in listed.items():
        county.assert_scoped(
            method,
            url,
            role="mobile_office_duty_leader",
            inside=LIANHUA,
            outside=GAOJIA,
            params={"unit": LIANHUA},
        )
    records = {
        f"{API}/calls/{call.id}": ("GET", None),
        f"{PAGES}/calls/{call.id}": ("GET", None),
        f"{PAGES}/calls/{call.id}/transfer": ("GET", None),
        f"{API}/trips/{trip.id}": ("GET", None),
        f"{PAGES}/trips/{trip.id}": ("GET", None),
        f"{PAGES}/trips/{trip.id}/records/new": ("GET", None),
        f"{API}/calls/{answered.id}/triage": (
            "POST",
            {"version": 1, "decision": "answer", "answer": "已答复"},
        ),
        f"{API}/trips/{trip.id}/depart": ("POST", {"version": 1}),
    }
    for url, (method, body) in records.items():
        county.assert_scoped(
            method,
            url,
            role="mobile_office_duty_leader",
            inside=LIANHUA,
            outside=GAOJIA,
            json=body,
        )
    # the writes: each actor of 高家镇 is refused with a 404, as for an unknown record
    outsider = county.client_as("mobile_office_duty_leader", GAOJIA)
    writes = {
        f"{API}/calls": call_body(),
        f"{API}/calls/{call.id}/feedback": {"rating": 5},
        f"{API}/trips/{trip.id}/records": {"findings": "x", "result": "resolved"},
        f"{API}/trips": {"destination": "莲花村", "crew": [hotline.crew.id]},
        f"{API}/ledger/close": {"day": DAY.isoformat()},
        f"{PAGES}/calls/new": None,
        f"{PAGES}/calls/{call.id}/triage": None,
        f"{PAGES}/calls/{call.id}/feedback": None,
        f"{PAGES}/calls/{call.id}/transfer": None,
        f"{PAGES}/trips/new": None,
        f"{PAGES}/trips/{trip.id}/move": None,
        f"{PAGES}/trips/{trip.id}/records/new": None,
        f"{PAGES}/ledger/close": None,
    }
    for url, body in writes.items():
        kwargs: dict[str, Any] = {"params": {"unit": LIANHUA}}
        kwargs |= {"json": body} if body is not None else {"data": {"version": "1"}}
        assert outsider.post(url, **kwargs).status_code == 404, url
    # and 高家镇's own lists do not show 莲花镇's records
    assert outsider.get(f"{API}/calls", params={"unit": GAOJIA}).json()["items"] == []
    assert outsider.get(f"{API}/calls/{call.id}", params={"unit": GAOJIA}).status_code == 404


def test_a_county_admin_sees_the_county_and_the_phone_masked(county: Sanmin) -> None:
    Hotline(county, LIANHUA).call(at(9, 0), caller_phone="13812345678")
    Hotline(county, GAOJIA).call(at(9, 30), caller_phone="13987654321")
    admin = county.client_as("county_admin", COUNTY)
    shown = admin.get(f"{API}/calls", params={"unit": COUNTY}).json()["items"]
    assert [(c["township_code"], c["caller_phone"], c["phone_masked"]) for c in shown] == [
        (GAOJIA, "139****4321", True),  # newest first
        (LIANHUA, "138****5678", True),
    ]
    operator = county.client_as("mobile_office_operator", LIANHUA)
    own = operator.get(f"{API}/calls", params={"unit": LIANHUA}).json()["items"]
    assert [(c["caller_phone"], c["phone_masked"]) for c in own] == [("13812345678", False)]
    call_id = own[0]["id"]
    page = admin.get(f"{PAGES}/calls/{call_id}", params={"unit": LIANHUA}).text
    assert "138****5678" in page and "13812345678" not in page
    county.disable(PLUGIN, GAOJIA)  # a county-wide list leaves out where it is off
    shown = admin.get(f"{API}/calls", params={"unit": COUNTY}).json()["items"]
    assert [c["township_code"] for c in shown] == [LIANHUA]


# -- metrics -------------------------------------------------------------------------------


def metric(sanmin: Sanmin, name: str, unit: str) -> Any:
    answer = sanmin.client.get(
        f"/api/v1/metrics/{PLUGIN}/{name}",
        params={"unit": unit, "start": DAY.isoformat(), "end": DAY.isoformat()},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["value"]


def test_metrics_on_a_small_fixture_roll_up_to_the_county(county: Sanmin) -> None:
    lianhua, gaojia = Hotline(county, LIANHUA), Hotline(county, GAOJIA)
    # 莲花镇: one trip reaches A after 40 minutes and B after 20; on site A is settled,
    # B scheduled, and a hazard found there is settled too.
    a, b = lianhua.call(at(9, 0)), lianhua.call(at(9, 20), caller_name="李四")
    trip = lianhua.trip(at(9, 25), a, b)
    lianhua.move(trip, "depart", at(9, 30))
    lianhua.move(trip, "arrive", at(9, 40))
    lianhua.record(trip, at(10, 0), call_id=a.id, result="resolved")
    lianhua.record(trip, at(10, 5), call_id=b.id, result="scheduled", promised_on=DAY)
    lianhua.record(trip, at(10, 10), result="resolved")
    # C and D are first calls, E calls again about C; each became a ticket, rated by phone
    c, d = lianhua.call(at(11, 0)), lianhua.call(at(11, 30))
    e = lianhua.call(at(12, 0), repeat_of=c.id)
    for one, rating in ((c, 1), (d, 5), (e, 1)):
        lianhua.triage(one, at(12, 10), decision="transfer", ticket=TicketSpec(**DISPUTE))
        lianhua.resolve_ticket(one, at(14, 0))
        rated = lianhua.rate(one, rating, at(15, 0))
        assert rated.rating == rating
    assert rated.state == "accepted" and rated.reopens == 1  # 不满意 reopened E's ticket
    lianhua.triage(lianhua.call(at(12, 30)), at(12, 40), decision="answer", answer="已答复")
    # 高家镇: one call, reached after 50 minutes and settled on the spot
    g = gaojia.call(at(9, 0))
    far = gaojia.trip(at(9, 2), g)
    gaojia.move(far, "depart", at(9, 5))
    gaojia.move(far, "arrive", at(9, 50))
    gaojia.record(far, at(10, 0), call_id=g.id, result="resolved")

    expected = {
        LIANHUA: {
            "calls": 6,
            "first_calls": 5,
            "repeat_calls": 1,
            "trips": 1,
            "arrivals": 2,
            "arrival_minutes": 60.0,
            "arrival_time": 30.0,
            "onsite_records": 3,
            "onsite_resolved": 2,
            "onsite_resolution_rate": 66.666667,
            "first_calls_rated": 2,
            "first_calls_unsatisfied": 1,
            "first_call_dissatisfaction_rate": 50.0,
        },
        COUNTY: {
            "calls": 7,
            "trips": 2,
            "arrival_time": 36.666667,
            "onsite_resolution_rate": 75.0,
            "first_call_dissatisfaction_rate": 50.0,
        },
    }
    for unit, values in expected.items():
        assert {name: metric(county, name, unit) for name in values} == values, unit
    assert metric(county, "arrival_time", GAOJIA) == 50.0
    county.disable(PLUGIN, GAOJIA)  # absent there, and the county leaves it out
    assert (
        county.client.get(f"/api/v1/metrics/{PLUGIN}/calls", params={"unit": GAOJIA}).status_code
        == 404
    )
    assert metric(county, "calls", COUNTY) == 6
    assert metric(county, "arrival_time", COUNTY) == 30.0


# -- the demo ------------------------------------------------------------------------------


def test_load_demo_twice_writes_the_demo_once(
    county: Sanmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plugins.mobile_office import demo

    monkeypatch.setattr(demo, "DAYS", 2)  # two days show the same as six, sooner
    for account in demo.ACCOUNTS:
        county.account(account.role, account.unit_code, account.username)

    def tables() -> dict[str, list[tuple[Any, ...]]]:
        from sqlmodel import SQLModel

        found = {}
        with county.engine.connect() as connection:
            for name, table in SQLModel.metadata.tables.items():
                if name.startswith(f"{PLUGIN}_"):
                    rows = connection.execute(select(table).order_by(*table.primary_key))
                    found[name] = [tuple(row) for row in rows]
        return found

    first = demo.load(county.kernel)
    written = tables()
    assert demo.load(county.kernel) == first
    assert tables() == written
    assert first is not None and first.startswith("民情直通车：来电 ")
    calls_written = written[f"{PLUGIN}_call"]
    assert len(calls_written) >= 8
    assert len(written[f"{PLUGIN}_ledger"]) == 2  # both past days closed
    leader = county.client_as("mobile_office_duty_leader", LIANHUA)
    board = leader.get(f"{PAGES}/board", params={"unit": LIANHUA}).text
    assert "待研判（1）" in board and "已派车（1）" in board


def test_demo_accounts_hold_the_plugin_roles() -> None:
    from plugins.mobile_office import demo

    assert {(a.username, a.role, a.unit_code) for a in demo.ACCOUNTS} == {
        ("mobile_office_duty", "mobile_office_duty_leader", LIANHUA),
        ("mobile_office_operator", "mobile_office_operator", LIANHUA),
        ("mobile_office_crew", "mobile_office_crew", LIANHUA),
    }


def test_the_demo_finds_its_accounts_once_they_exist(county: Sanmin) -> None:
    from plugins.mobile_office import demo

    with Session(county.engine) as session:
        assert demo.demo_actors(session, county.kernel) is None  # not created yet
    for account in demo.ACCOUNTS:
        county.account(account.role, account.unit_code, account.username)
    with Session(county.engine) as session:
        found = demo.demo_actors(session, county.kernel)
    assert found is not None
    leader, operator, crew, crew_id = found
    assert all(isinstance(a, Actor) and a.kind == "account" for a in (leader, operator, crew))
    assert (leader.name, operator.name, crew.id) == (
        "mobile_office_duty",
        "mobile_office_operator",
        crew_id,
    )
