"""The ticket KPIs (core/tickets/kpis.py): exact values at a grid, its village, the townships
and the county for tickets walked through the service on a controlled clock — on time and
late, escalated, reopened, rated or not — by period, from the daily aggregates as live, and
through the metrics API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from core.identity.access import Actor
from core.metrics.compute import metric_value
from core.metrics.refresh import refresh_all
from core.tickets.models import Ticket
from core.tickets.service import TicketIn, create_ticket, get_ticket, rate_ticket, transition_ticket

COUNTY = "330802000000"
T1, T2 = "330802001000", "330802002000"
V1, V2, V3 = "330802001001", "330802001002", "330802002001"
G1, G2, G3 = "330802001001001", "330802001002001", "330802002001001"
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in China; every local day below
MARCH = (date(2026, 3, 1), date(2026, 3, 31))
# home_repair, normal priority: respond (sign) within 2 hours, handle within 24 hours
EXTRA = {"fault": "水", "access_window": "工作日晚上", "accepts_charge": True}


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@dataclass
class Town:
    sanmin: Any
    handler: Actor
    residents: dict[str, Actor]

    def submit(
        self, unit: str, type: str = "home_repair", extra: Any = EXTRA, submitted: datetime = T0
    ) -> Ticket:
        body = TicketIn(
            type=type,
            unit_code=unit,
            title="水管漏水",
            description="厨房水管漏水",
            reporter_phone="13800000000",
            extra=extra,
        )
        with Session(self.sanmin.engine, expire_on_commit=False) as session:
            ticket, _ = create_ticket(
                session, self.sanmin.kernel, self.residents[unit], body, now=submitted
            )
        return ticket

    def step(self, ticket: Ticket, name: str, hours: float, **inputs: Any) -> Ticket:
        with Session(self.sanmin.engine, expire_on_commit=False) as session:
            current = get_ticket(session, self.sanmin.kernel, self.handler, ticket.id)
            moved = transition_ticket(
                session,
                self.sanmin.kernel,
                self.handler,
                current,
                name,
                current.version,
                inputs,
                now=at(hours),
            )
            session.commit()
            return moved

    def handle(self, ticket: Ticket, signed: float, resolved: float) -> Ticket:
        if ticket.state == "submitted":
            ticket = self.step(ticket, "accept", signed)
        ticket = self.step(ticket, "sign", signed)
        return self.step(ticket, "resolve", resolved, result="已修好")

    def rate(self, ticket: Ticket, hours: float, rating: int, solved: bool | None) -> Ticket:
        resident = self.residents[ticket.origin_code]
        with Session(self.sanmin.engine, expire_on_commit=False) as session:
            mine = get_ticket(session, self.sanmin.kernel, resident, ticket.id)
            rated = rate_ticket(
                session,
                self.sanmin.kernel,
                resident,
                mine,
                mine.version,
                rating,
                solved=solved,
                now=at(hours),
            )
            session.commit()
            return rated


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def town(sanmin) -> Town:  # type: ignore[no-untyped-def]
    """Twelve tickets; the hours are from T0 (Monday 09:00 local, so +15 h is Tuesday)."""
    for grid in (G1, G2, G3):
        sanmin.unit(grid)
    residents = {unit: sanmin.actor("resident", unit) for unit in (G1, G2, G3, V1)}
    town = Town(sanmin, sanmin.actor("county_admin", COUNTY), residents)

    # G1 (village V1, township T1)
    a = town.handle(town.submit(G1), 1, 5)  # on time, 4 h
    town.rate(a, 6, 5, True)  # 很满意, solved
    b = town.handle(town.submit(G1), 3, 33)  # signed late, resolved late (Tue), 30 h
    town.rate(b, 34, 2, False)  # 基本满意, not solved
    c = town.handle(town.submit(G1), 1, 3)
    c = town.rate(c, 4, 1, False)  # 不满意: reopened
    assert (c.state, c.reopens, c.signed_at, c.resolved_at) == ("accepted", 1, at(1), None)
    c = town.handle(c, 10, 16)  # re-handled, resolved at 01:00 Tuesday: 15 h from first signing
    town.rate(c, 17, 4, True)  # 满意 this time
    d = town.step(town.submit(G1), "escalate", 3, reason="需村里协调")  # to V1, level 1
    d = town.handle(d, 4, 8)  # the grid's clock ran out at 2 h: a late response; 4 h; not rated
    assert (d.unit_code, d.resolved_level, d.origin_code) == (V1, 1, G1)
    e = town.step(town.submit(G1), "escalate", 1, reason="需村里协调")
    e = town.step(e, "escalate", 2, reason="需镇里协调")  # to T1, level 2
    e = town.handle(e, 2.5, 12.5)  # 10 h, resolved at the township
    town.rate(e, 13, 3, None)  # 较满意 (基本满意), solved not said
    town.submit(G1)  # still open
    town.step(town.submit(G1), "reject", 1, reason="不属于受理范围")
    # on the village itself
    v = town.handle(town.submit(V1), 1, 4)  # 3 h, level 1
    town.rate(v, 5, 5, True)
    # G2 (village V2, township T1)
    h = town.handle(town.submit(G2), 1, 3)  # 2 h
    town.rate(h, 4, 5, True)
    town.submit(G2)  # still open
    # G3 (village V3, township T2)
    j = town.handle(town.submit(G3), 1, 28)  # resolved late …
    j = town.rate(j, 29, 1, False)  # … 不满意: reopened, not resolved again
    assert (j.state, j.resolved_at, j.satisfaction) == ("accepted", None, "unsatisfied")
    assert j.signed_at == at(1)  # the response stays answered
    town.handle(town.submit(G3), 1, 2)  # 1 h, not rated
    return town


COUNTS = (
    "submitted",
    "signed",
    "signed_on_time",
    "resolved",
    "resolved_on_time",
    "resolved_locally",
    "reopened",
    "rated",
    "satisfied",
    "solved",
    "unrated",
)
# per unit: the counts above, in order, and the hours from signing to resolution
EXPECTED: dict[str, tuple[tuple[int, ...], float]] = {
    G1: ((7, 5, 3, 5, 4, 4, 1, 4, 4, 2, 1), 63),
    V1: ((8, 6, 4, 6, 5, 5, 1, 5, 5, 3, 1), 66),
    V2: ((2, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0), 2),
    T1: ((10, 7, 5, 7, 6, 6, 1, 6, 6, 4, 1), 68),
    T2: ((2, 2, 2, 1, 1, 1, 0, 1, 0, 0, 1), 1),
    COUNTY: ((12, 9, 7, 8, 7, 7, 1, 7, 6, 4, 2), 69),
}
RATES = {
    "response_rate": ("signed_on_time", "signed", 100),
    "resolution_rate": ("submitted_resolved", "submitted", 100),
    "on_time_rate": ("resolved_on_time", "resolved", 100),
    "local_rate": ("resolved_locally", "resolved", 100),
    "reopen_rate": ("reopened", "resolved", 100),
    "satisfaction_rate": ("satisfied", "rated", 100),
    "solve_rate": ("solved", "rated", 100),
    "mean_handling_hours": ("handling_hours", "resolved", 1),
}


def expected(unit: str) -> dict[str, float]:
    counts, hours = EXPECTED[unit]
    values: dict[str, float] = {**dict(zip(COUNTS, counts, strict=True)), "handling_hours": hours}
    # every ticket of the town was submitted on 2 March: in March, those of them resolved now
    # are the resolutions of the month (test_resolution_rate_is_… tells the two apart)
    values["submitted_resolved"] = values["resolved"]
    for name, (numerator, denominator, scale) in RATES.items():
        values[name] = scale * values[numerator] / values[denominator]
    return values


def values(town: Town, unit: str, start: date, end: date, **options: Any) -> dict[str, Any]:
    sanmin = town.sanmin
    names = [*COUNTS, "submitted_resolved", "handling_hours", *RATES]
    return {
        name: metric_value(
            sanmin.engine, sanmin.kernel, "tickets", name, unit, start, end, **options
        )
        for name in names
    }


def test_each_kpi_at_the_grid_its_village_and_up_to_the_county(town: Town) -> None:
    for unit in EXPECTED:
        want = expected(unit)
        assert values(town, unit, *MARCH, aggregates=False) == pytest.approx(want), unit
    county = expected(COUNTY)
    # spelled out once: the rates of domain.md §4.3 at the county
    assert county["response_rate"] == pytest.approx(700 / 9)  # 7 of 9 signed in time (D: late)
    assert county["resolution_rate"] == pytest.approx(200 / 3)  # 8 resolved of 12 submitted
    assert county["satisfaction_rate"] == pytest.approx(600 / 7)  # 6 of 7 rated; 2 unrated
    assert county["mean_handling_hours"] == 8.625  # 69 h over 8 resolutions


def test_resolution_rate_is_the_share_of_the_period_s_requests_resolved_by_now(
    town: Town,
) -> None:
    february = (date(2026, 2, 1), date(2026, 2, 28))
    late = town.submit(G2, submitted=T0 - timedelta(days=10))  # Friday 20 February
    town.handle(late, 1, 5)  # resolved on Monday 2 March, with the others
    before = expected(COUNTY)

    def check() -> None:
        march = values(town, COUNTY, *MARCH, aggregates=aggregates)
        assert march["resolved"] == before["resolved"] + 1  # the month's resolutions
        # 办结率 is March's requests resolved by now: the February one does not push it up
        assert march["resolution_rate"] == pytest.approx(before["resolution_rate"])
        feb = values(town, COUNTY, *february, aggregates=aggregates)
        assert (feb["submitted"], feb["submitted_resolved"], feb["resolved"]) == (1, 1, 0)
        assert feb["resolution_rate"] == 100.0  # never above it

    aggregates = False
    check()
    refresh_all(town.sanmin.kernel, datetime(2026, 3, 10, 4, tzinfo=UTC))
    aggregates = True
    check()


def test_the_figures_count_where_a_ticket_came_from_not_where_it_was_handled(town: Town) -> None:
    # D and E were escalated out of the grid (to V1 and T1) and still count there: D was
    # settled at the village (层级内化解), E at the township (not)
    grid = values(town, G1, *MARCH, aggregates=False)
    assert (grid["resolved"], grid["resolved_locally"], grid["local_rate"]) == (5, 4, 80.0)
    # E was resolved by the township, yet nothing is attached to T1's own code
    client = town.sanmin.client_as("county_admin", COUNTY)
    march = {"unit": T1, "start": "2026-03-01", "end": "2026-03-31", "by": "child"}
    body = client.get("/api/v1/metrics/tickets/resolved", params=march).json()
    assert body["own"] == 0
    assert {child["code"]: child["value"] for child in body["children"]} == {V1: 6, V2: 1}


def test_each_milestone_counts_on_its_local_day(town: Town) -> None:
    monday, tuesday = date(2026, 3, 2), date(2026, 3, 3)
    mon = values(town, G1, monday, monday, aggregates=False)
    tue = values(town, G1, tuesday, tuesday, aggregates=False)
    # resolved Monday: A 14:00, D 17:00, E 21:30; Tuesday: C 01:00 (17:00 UTC), B 18:00
    assert (mon["resolved"], tue["resolved"]) == (3, 2)
    assert (mon["mean_handling_hours"], tue["mean_handling_hours"]) == (6.0, 22.5)
    assert (mon["on_time_rate"], tue["on_time_rate"]) == (100.0, 50.0)
    # all seven submitted on Monday: Tuesday's 办结率 has no denominator
    assert (mon["submitted"], tue["submitted"], tue["resolution_rate"]) == (7, 0, None)
    # the latest ratings: A and E on Monday, C (re-rated) and B on Tuesday
    assert (mon["rated"], tue["rated"], tue["solve_rate"]) == (2, 2, 50.0)
    assert values(town, G1, date(2026, 3, 4), MARCH[1], aggregates=False)["resolved"] == 0


def test_the_daily_aggregates_give_the_live_figures(town: Town) -> None:
    fresh = refresh_all(town.sanmin.kernel, datetime(2026, 3, 10, 4, tzinfo=UTC))
    assert fresh["tickets.handling_hours"] == date(2026, 3, 9)
    for unit in (G1, V1, COUNTY):
        assert values(town, unit, *MARCH) == pytest.approx(expected(unit)), unit


def test_the_metrics_api_breaks_a_kpi_down_by_township(town: Town) -> None:
    client = town.sanmin.client_as("county_admin", COUNTY)
    answer = client.get(
        "/api/v1/metrics/tickets/satisfaction_rate",
        params={"unit": COUNTY, "start": "2026-03-01", "end": "2026-03-31", "by": "child"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["title"], body["unit_label"], body["kind"]) == ("满意率", "%", "ratio")
    assert body["value"] == pytest.approx(600 / 7)
    assert {child["code"]: child["value"] for child in body["children"]} == {T1: 100.0, T2: 0.0}
    march = {"unit": V1, "start": "2026-03-01", "end": "2026-03-31"}
    listed = client.get("/api/v1/metrics", params=march).json()
    by_key = {metric["key"]: metric["value"] for metric in listed["metrics"]}
    assert by_key["tickets.unrated"] == 1
    assert by_key["tickets.response_rate"] == pytest.approx(200 / 3)  # 4 of 6 signed in time


def test_each_kpi_splits_by_ticket_type_live_and_from_the_aggregates(town: Town) -> None:
    lamp = {"facility": "路灯"}
    town.handle(town.submit(G2, "public_repair", lamp), 1, 2)  # 1 h, resolved on time
    town.submit(G3, "public_repair", lamp)  # open
    client = town.sanmin.client_as("county_admin", COUNTY)
    march = {"unit": COUNTY, "start": "2026-03-01", "end": "2026-03-31"}
    home = expected(COUNTY)

    def split(kpi: str) -> dict[str, Any]:
        answer = client.get(f"/api/v1/metrics/tickets/{kpi}", params={**march, "by": "dimension"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["dimension_title"] == "诉求类型"
        return {group["key"]: group["value"] for group in body["groups"]}

    def checks() -> None:
        assert split("submitted") == {"home_repair": 12, "public_repair": 2}
        assert split("resolution_rate") == pytest.approx(
            {"home_repair": home["resolution_rate"], "public_repair": 50.0}
        )
        assert split("mean_handling_hours") == pytest.approx(
            {"home_repair": home["mean_handling_hours"], "public_repair": 1.0}
        )
        # no public repair was rated: the type has no figure there, rather than a made-up one
        assert split("satisfaction_rate") == pytest.approx(
            {"home_repair": home["satisfaction_rate"]}
        )
        one = {**march, "dimension": "public_repair", "by": "child"}
        body = client.get("/api/v1/metrics/tickets/submitted", params=one).json()
        assert (body["dimension"], body["value"]) == ("public_repair", 2)
        assert {child["code"]: child["value"] for child in body["children"]} == {T1: 1, T2: 1}
        only_home = client.get(
            "/api/v1/metrics/tickets/on_time_rate", params={**march, "dimension": "home_repair"}
        )
        assert only_home.json()["value"] == pytest.approx(home["on_time_rate"])

    checks()  # live
    refresh_all(town.sanmin.kernel, datetime(2026, 3, 10, 4, tzinfo=UTC))
    checks()  # the same figures from the daily aggregates, kept per type
