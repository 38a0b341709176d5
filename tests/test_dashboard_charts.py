"""The dashboard's charts and tables (/admin/dashboard): inline SVG with no external asset,
the same numbers as the metrics API week by week, by ticket type and by child unit, the
红/黄/绿 counts of the archive in scope, a plugin off in a township counting nothing there,
and a number of queries that does not grow with the units and weeks shown."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, update
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlmodel import Session

from core import Metric, hookimpl
from core.archives.care import ArchiveCareAssessment
from core.archives.models import ArchiveHousehold, ArchivePerson
from core.identity.access import Actor
from core.metrics.charts import Chart, Series, svg
from core.metrics.compute import MetricReader, Split
from core.metrics.dashboard import _board
from core.metrics.dashboard_data import (
    STATEMENT_LIMITS,
    Grouping,
    _live_plan,
    grouped_sums,
    regroup,
    trend_weeks,
)
from core.metrics.models import MetricRefresh
from core.metrics.periods import Period
from core.metrics.refresh import refresh_all
from core.testing import Sanmin
from core.tickets.models import Ticket
from core.tickets.service import (
    TicketIn,
    catalog_of,
    create_ticket,
    get_ticket,
    rate_ticket,
    transition_ticket,
)
from core.units.codes import parse_code
from tests.helpers import manifest

COUNTY = "330802000000"
T1, T2, T3 = "330802001000", "330802002000", "330802003000"
V1, V2, V3 = "330802001001", "330802001002", "330802002001"
G1, G2, G3 = "330802001001001", "330802001002001", "330802002001001"
START, END = date(2026, 3, 1), date(2026, 3, 25)  # END is a Wednesday
PERIOD = {"start": str(START), "end": str(END)}
HEADLINE = ("submitted", "resolved", "resolution_rate", "satisfaction_rate")
RATES = {"resolution_rate", "satisfaction_rate"}
EXTRA = {
    "home_repair": {"fault": "水", "access_window": "工作日晚上", "accepts_charge": True},
    "public_repair": {"facility": "路灯"},
}
# (grid, type, submitted, resolved, (rated on, rating)); all at 09:00 local time
TICKETS: list[tuple[str, str, date, date | None, tuple[date, int] | None]] = [
    (G1, "home_repair", date(2026, 3, 23), date(2026, 3, 24), (date(2026, 3, 24), 5)),
    (G1, "public_repair", date(2026, 3, 24), None, None),
    (G1, "home_repair", date(2026, 3, 16), date(2026, 3, 18), (date(2026, 3, 19), 1)),  # reopened
    (G2, "public_repair", date(2026, 3, 10), date(2026, 3, 17), (date(2026, 3, 17), 2)),
    (G3, "home_repair", date(2026, 3, 2), date(2026, 3, 3), None),
    (G1, "home_repair", date(2026, 1, 7), date(2026, 1, 8), None),  # in the first week shown
    (G3, "public_repair", date(2026, 2, 18), None, None),
]


class Tally:
    """A township plugin counting requests by their unit: off in T2 below."""

    PLUGIN = manifest("tally", title="测试登记", default_enabled=True)

    @hookimpl
    def register_metrics(self) -> list[Metric]:
        return [
            Metric(
                name="requests",
                title="登记诉求",
                unit_label="件",
                table=Ticket,
                unit_column="origin_code",
                time_column="submitted_at",
            )
        ]


@pytest.fixture
def sanmin_plugins() -> tuple[str, ...]:
    return ()  # the core (tickets, archives, metrics) and the tally plugin


@pytest.fixture
def sanmin_extra_plugins() -> list[tuple[str, Any]]:
    return [("tally", Tally())]


def morning(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 1, tzinfo=UTC)  # 09:00 in China


def file_tickets(sanmin: Sanmin, tickets: list[Any]) -> None:
    """Walk each ticket through the service on its own dates."""
    handler = sanmin.actor("county_admin", COUNTY)
    residents: dict[str, Actor] = {}
    kernel = sanmin.kernel
    for grid, kind, submitted, resolved, rating in tickets:
        sanmin.unit(grid)
        resident = residents.get(grid) or residents.setdefault(grid, sanmin.actor("resident", grid))
        body = TicketIn(
            type=kind, unit_code=grid, title="报修", description="需要维修", extra=EXTRA[kind]
        )
        when = submitted if isinstance(submitted, datetime) else morning(submitted)
        with Session(sanmin.engine, expire_on_commit=False) as session:
            ticket, _ = create_ticket(session, kernel, resident, body, now=when)
        if resolved is None:
            continue
        for name, inputs in (("accept", {}), ("sign", {}), ("resolve", {"result": "已修好"})):
            with Session(sanmin.engine, expire_on_commit=False) as session:
                current = get_ticket(session, kernel, handler, ticket.id)
                ticket = transition_ticket(
                    session,
                    kernel,
                    handler,
                    current,
                    name,
                    current.version,
                    inputs,
                    now=morning(resolved),
                )
                session.commit()
        if rating is not None:
            with Session(sanmin.engine, expire_on_commit=False) as session:
                mine = get_ticket(session, kernel, resident, ticket.id)
                rate_ticket(
                    session,
                    kernel,
                    resident,
                    mine,
                    mine.version,
                    rating[1],
                    solved=True,
                    now=morning(rating[0]),
                )
                session.commit()


@pytest.fixture
def board(sanmin: Sanmin) -> Sanmin:
    """The units, the tickets above, and tally off in T2."""
    file_tickets(sanmin, TICKETS)
    sanmin.disable("tally", T2)
    return sanmin


class Tables(HTMLParser):
    """The page's tables that have an id: their body rows as lists of cell texts."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_head = False
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and dict(attrs).get("id"):
            self._table = dict(attrs)["id"]
            self.tables[self._table] = []
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._table and not self._in_head:
            self._row = []
        elif tag in ("th", "td") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._table and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def shown(value: float | None, rate: bool) -> str:
    """A value as the page prints it: at most one decimal, rates with %."""
    if value is None:
        return "—"
    number = f"{value:.0f}" if value == int(value) else f"{value:.1f}"
    return f"{number}%" if rate else number


def api(client: Any, metric: str, unit: str, start: date, end: date, **extra: str) -> Any:
    params = {"unit": unit, "start": str(start), "end": str(end), **extra}
    answer = client.get(f"/api/v1/metrics/tickets/{metric}", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def page_tables(client: Any, unit: str) -> dict[str, list[list[str]]]:
    page = client.get("/admin/dashboard", params={"unit": unit, **PERIOD})
    assert page.status_code == 200, page.text
    return Tables(page.text).tables


# -- the charts ------------------------------------------------------------------------------

ALLOWED_URLS = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}  # namespaces


def test_charts_are_inline_svg_with_no_external_reference(board: Sanmin) -> None:
    add_archive(board)
    page = board.client_as("county_admin", COUNTY).get(
        "/admin/dashboard", params={"unit": COUNTY, **PERIOD}
    )
    assert page.status_code == 200, page.text
    text = page.text
    svgs = re.findall(r"<svg\b[^>]*>.*?</svg>", text, flags=re.S)
    assert len(svgs) == 5  # rates and counts by week, types, child units, 红/黄/绿
    assert "<script" not in text and "xml-stylesheet" not in text and "@import" not in text
    assert set(re.findall(r"https?://[^\s\"'<>)]+", text)) <= ALLOWED_URLS
    assert not re.search(r"""(?:href|src)\s*=\s*["']?(?:https?:)?//""", text)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", text)
    for drawn in svgs:
        root = re.match(r"<svg\b[^>]*>", drawn).group(0)  # type: ignore[union-attr]
        assert 'role="img"' in root and "viewBox=" in root
        assert " width=" not in root and " height=" not in root  # sized by CSS, responsive
        title_id, desc_id = re.search(r'aria-labelledby="([^" ]+) ([^" ]+)"', root).groups()  # type: ignore[union-attr]
        assert re.search(rf'<title id="{title_id}">[^<]+</title>', drawn)
        assert re.search(rf'<desc id="{desc_id}">[^<]+</desc>', drawn)
        assert "WenQuanYi Micro Hei" in drawn and "sans-serif" in drawn
    tables = Tables(text).tables
    for table in ("dashboard-trend", "dashboard-types", "dashboard-children", "dashboard-care"):
        assert tables[table], table  # the numbers again, for screen readers and no SVG


# -- the numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize("unit", [COUNTY, T1])
def test_weekly_trends_equal_the_metric_api_for_each_week(board: Sanmin, unit: str) -> None:
    client = board.client_as("county_admin", COUNTY)
    weeks = trend_weeks(END)
    assert (weeks[0].start, weeks[-1].start, weeks[-1].end) == (
        date(2026, 1, 5),
        date(2026, 3, 23),
        END,
    )

    def check() -> list[list[str]]:
        rows = page_tables(client, unit)["dashboard-trend"]
        assert len(rows) == len(weeks)
        for week, row in zip(weeks, rows, strict=True):
            assert row[0] == f"{week.start:%m-%d}–{week.end:%m-%d}"
            expected = [
                shown(api(client, m, unit, week.start, week.end)["value"], m in RATES)
                for m in HEADLINE
            ]
            assert row[1:] == expected, week
        return rows

    live = check()  # nothing aggregated yet: every day computed live
    refresh_all(board.kernel, morning(date(2026, 3, 20)))  # days up to 19 March aggregated
    assert check() == live
    if unit == T1:  # G1 and G2 only: two submitted in the last week, one resolved, one rated
        assert live[-1][1:] == ["2", "1", "50%", "100%"]
        assert live[0][1:] == ["1", "1", "100%", "—"]


def test_by_type_and_by_child_figures_match_the_api(board: Sanmin) -> None:
    client = board.client_as("county_admin", COUNTY)
    refresh_all(board.kernel, morning(date(2026, 3, 20)))
    tables = page_tables(client, COUNTY)
    labels = {code: kind.label for code, kind in catalog_of(board.kernel).types.items()}
    by_type = {row[0]: row[1:] for row in tables["dashboard-types"]}
    answers = {m: api(client, m, COUNTY, START, END, by="dimension") for m in HEADLINE}
    codes = {group["key"] for answer in answers.values() for group in answer["groups"]}
    assert set(by_type) == {labels[code] for code in codes} == {"居家维修", "公共维修"}
    for code in codes:
        expected = []
        for m in HEADLINE:
            groups = {group["key"]: group["value"] for group in answers[m]["groups"]}
            expected.append(shown(groups.get(code, None if m in RATES else 0), m in RATES))
        assert by_type[labels[code]] == expected, code
    assert by_type["公共维修"][:2] == ["2", "1"]  # submitted 10 and 24 March, resolved 17 March

    by_child = {row[0]: row[1:] for row in tables["dashboard-children"]}
    answers = {m: api(client, m, COUNTY, START, END, by="child") for m in HEADLINE}
    names = {child["code"]: child["name"] for child in answers["submitted"]["children"]}
    assert set(names) == {T1, T2}
    for code, name in names.items():
        expected = [
            shown(next(c["value"] for c in answers[m]["children"] if c["code"] == code), m in RATES)
            for m in HEADLINE
        ]
        assert by_child[name] == expected, name


def test_a_plugin_off_in_a_township_contributes_nothing_there(board: Sanmin) -> None:
    client = board.client_as("county_admin", COUNTY)
    other = client.get("/admin/dashboard", params={"unit": T2, **PERIOD}).text
    assert "<h2>测试登记</h2>" not in other and "登记诉求" not in other
    assert "<h2>为民办事</h2>" in other  # the core's figures are there
    county = client.get("/admin/dashboard", params={"unit": COUNTY, **PERIOD}).text
    # March: the four submitted in T1 count; the one in T2 (2 March) does not
    assert re.search(r"登记诉求</th><td>4 件</td>", county)
    assert re.search(r"诉求提交数</th><td>5 件</td>", county)


def test_weeks_follow_the_time_zone_through_daylight_saving(sanmin: Sanmin) -> None:
    sanmin.kernel.settings.timezone = "Europe/Berlin"  # clocks go forward on 29 March 2026
    berlin = ZoneInfo("Europe/Berlin")
    times = [
        datetime(2026, 3, 22, 23, 30, tzinfo=berlin),  # Sunday, the week before
        datetime(2026, 3, 29, 0, 30, tzinfo=berlin),  # on the day the offset changes
        datetime(2026, 3, 29, 23, 30, tzinfo=berlin),  # Sunday night, still that week
        datetime(2026, 3, 30, 0, 30, tzinfo=berlin),  # Monday, already 29 March in UTC
    ]
    file_tickets(sanmin, [(G1, "public_repair", t.astimezone(UTC), None, None) for t in times])
    client = sanmin.client_as("county_admin", COUNTY)
    end = date(2026, 4, 1)
    weeks = trend_weeks(end)[-3:]
    for aggregated in (False, True):
        if aggregated:
            refresh_all(sanmin.kernel, datetime(2026, 3, 31, 12, tzinfo=berlin))
        page = client.get("/admin/dashboard", params={"unit": G1, "end": str(end)})
        rows = Tables(page.text).tables["dashboard-trend"][-3:]
        assert [row[1] for row in rows] == ["1", "2", "1"]
        for week, row in zip(weeks, rows, strict=True):
            assert row[1] == shown(
                api(client, "submitted", G1, week.start, week.end)["value"], False
            )


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("unit=12", 400, "unit"),
        ("start=2026-03-10&end=2026-03-01", 422, "end"),
        ("end=2026-02-30", 422, "end"),
    ],
)
def test_bad_input_names_the_field(sanmin: Sanmin, query: str, status: int, field: str) -> None:
    answer = sanmin.client.get(f"/admin/dashboard?{query}")
    assert answer.status_code == status and field in answer.text


@pytest.mark.parametrize("query", ["start=1900-01-01&end=1900-01-03", "end=9999-12-30"])
def test_the_calendar_s_edges_are_answered(sanmin: Sanmin, query: str) -> None:
    """Weeks are cut at the first day a period may hold and never run past the last."""
    sanmin.unit(G1)
    answer = sanmin.client.get(f"/admin/dashboard?unit={COUNTY}&{query}")
    assert answer.status_code == 200, answer.text
    assert len(Tables(answer.text).tables["dashboard-trend"]) == (1 if "1900" in query else 12)


# -- 红/黄/绿 ----------------------------------------------------------------------------------


def add_archive(sanmin: Sanmin) -> None:
    """Households with members at care levels; one superseded assessment that must not count.

    G1: H1 (red, green, none) · G2: H2 (yellow), H3 (green, green) · G3: H4 (red)."""
    households = {"H1": G1, "H2": G2, "H3": G2, "H4": G3}
    members = [
        ("H1", "red", "红甲"),
        ("H1", "green", "绿乙"),
        ("H1", None, "无丙"),
        ("H2", "yellow", "黄丁"),
        ("H3", "green", "绿戊"),
        ("H3", "green", "绿己"),
        ("H4", "red", "红庚"),
    ]
    with sanmin.session() as session:
        ids = {}
        for number, grid in households.items():
            sanmin.unit(grid)
            household = ArchiveHousehold(
                number=number, address="某路 1 号", unit_code=grid, source="测试"
            )
            session.add(household)
            session.flush()
            ids[number] = household.id
        for number, level, name in members:
            person = ArchivePerson(
                name=name,
                gender="女",
                birth_date=date(1940, 1, 1),
                household_id=ids[number],
                relation="户主",
                unit_code=households[number],
                source="测试",
            )
            session.add(person)
            session.flush()
            if level is None:
                continue
            if name == "绿乙":  # was red once
                session.add(assessment(person.id, "red", current=False))
            session.add(assessment(person.id, level, current=True))


def assessment(person_id: int | None, level: str, current: bool) -> ArchiveCareAssessment:
    assert person_id is not None
    return ArchiveCareAssessment(
        person_id=person_id,
        level=level,
        rule="test",
        reason="测试",
        origin="rule",
        actor="test",
        current=current,
    )


def levels(*counts: tuple[int, int]) -> dict[str, list[str]]:
    """The care table as expected: (households, persons) for 红, 黄, 绿."""
    titles = ("红（重点）", "黄（关注）", "绿（常态）")
    return {title: [str(n) for n in pair] for title, pair in zip(titles, counts, strict=True)}


def care(client: Any, unit: str) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in page_tables(client, unit)["dashboard-care"]}


def test_care_counts_match_the_assessments_in_scope(board: Sanmin) -> None:
    add_archive(board)
    county = board.client_as("county_admin", COUNTY)
    # households at their most severe member's level; persons by their level in force
    assert care(county, COUNTY) == levels((2, 2), (1, 1), (1, 3))
    assert care(county, T1) == levels((1, 1), (1, 1), (1, 3))
    worker = board.client_as("grid_worker", G1)
    assert care(worker, G1) == levels((1, 1), (0, 0), (0, 1))
    assert worker.get("/admin/dashboard", params={"unit": G2}).status_code == 404


def test_each_actor_sees_only_their_scope(board: Sanmin) -> None:
    worker = board.client_as("grid_worker", G1)
    rows = page_tables(worker, G1)["dashboard-trend"]
    assert [row[1] for row in rows[-2:]] == ["1", "2"]  # G1's own tickets of the last weeks
    for unit in (T1, COUNTY, G3):
        assert worker.get("/admin/dashboard", params={"unit": unit}).status_code == 404
    admin = board.client_as("township_admin", T1)
    page = admin.get("/admin/dashboard", params={"unit": T1, **PERIOD})
    assert page.status_code == 200
    children = {row[0] for row in Tables(page.text).tables["dashboard-children"]}
    assert len(children) == 2 and all("330802002" not in c for c in children)
    assert f"unit={COUNTY}" not in page.text  # no link up out of the scope
    for unit in (T2, G3, COUNTY):
        assert admin.get("/admin/dashboard", params={"unit": unit}).status_code == 404


# -- cost ------------------------------------------------------------------------------------


def statements(sanmin: Sanmin, unit: str) -> int:
    """Statements the dashboard's data assembly sends, for a county admin."""
    me, count = threading.get_ident(), 0

    def counted(*_: Any) -> None:
        nonlocal count
        if threading.get_ident() == me:
            count += 1

    actor = sanmin.actor("county_admin", COUNTY)
    event.listen(sanmin.engine, "before_cursor_execute", counted)
    try:
        _board(sanmin.kernel, actor, sanmin.kernel.access, unit, START, END)
    finally:
        event.remove(sanmin.engine, "before_cursor_execute", counted)
    return count


def test_the_queries_do_not_grow_with_units_types_and_weeks(board: Sanmin) -> None:
    add_archive(board)
    refresh_all(board.kernel, morning(date(2026, 3, 20)))
    before = statements(board, COUNTY)
    more = [
        (f"{T3[:9]}{v:03d}{g:03d}", kind, day, day, None)
        for v in (1, 2, 3)
        for g in (1, 2)
        for kind, day in (("home_repair", date(2026, 2, 2)), ("public_repair", date(2026, 3, 9)))
    ]
    file_tickets(board, more)  # a third township, six grids, other weeks
    after = statements(board, COUNTY)
    assert after == before <= 12


# -- the statements: many metrics' sums at once --------------------------------------------

BY_CHILD_AND_TYPE = Grouping(prefix=9, dimension=True)  # the county's tables
PSYCOPG_LIMITS = (4096, 50)  # what psycopg caches the parsing of (psycopg/_queries.py)


@pytest.fixture
def limits() -> Iterator[dict[str, tuple[int, int]]]:
    """The statement limits per driver, put back afterwards (and the plans built under
    them forgotten)."""
    saved = dict(STATEMENT_LIMITS)
    _live_plan.cache_clear()
    try:
        yield STATEMENT_LIMITS
    finally:
        STATEMENT_LIMITS.clear()
        STATEMENT_LIMITS.update(saved)
        _live_plan.cache_clear()


def aggregate(sanmin: Sanmin, how: str) -> None:
    """Nothing aggregated (``live``), days up to 19 March (``aggregated``), or that with
    ``tickets.resolved`` only up to 10 March (``mixed``: two windows of each kind)."""
    if how == "live":
        return
    refresh_all(sanmin.kernel, morning(date(2026, 3, 20)))
    if how == "mixed":
        with sanmin.engine.begin() as conn:
            conn.execute(
                update(MetricRefresh)
                .where(MetricRefresh.metric == "tickets.resolved")  # type: ignore[arg-type]
                .values(fresh_through=date(2026, 3, 10))
            )


@contextmanager
def statements_sent(sanmin: Sanmin) -> Iterator[list[tuple[str, Any]]]:
    """The statements (with their parameters) sent on the test's engine inside the block."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(sanmin.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(sanmin.engine, "before_cursor_execute", record)


@pytest.mark.parametrize("packed", [False, True], ids=["as-configured", "many-statements"])
@pytest.mark.parametrize("how", ["live", "aggregated", "mixed"])
def test_grouped_sums_equal_each_part_s_own_sums(
    board: Sanmin, limits: dict[str, tuple[int, int]], how: str, packed: bool
) -> None:
    """The dashboard's sums of many parts at once (one sub-select per family of parts,
    packed into statements) are each part's sums as the metrics service takes them alone:
    by child unit, by type, by day and in total; a group is there only where the part has
    rows. Tickets have counts with and without conditions, a sum with one, four time
    columns and a dimension; the tally plugin has its own ranges (off in T2)."""
    aggregate(board, how)
    if packed:  # every sub-select in a statement of its own
        limits[board.engine.dialect.driver] = (1, 1)
    kernel, county, period = board.kernel, parse_code(COUNTY), Period(START, END)
    with board.engine.connect() as conn:
        reader = MetricReader(conn, kernel)
        for plugin in ("tickets", "tally"):
            ranges = reader.ranges(plugin, county)
            parts = [item for item in kernel.metrics.additive() if item.plugin == plugin]
            with statements_sent(board) as sent:
                split = grouped_sums(reader, parts, ranges, period, BY_CHILD_AND_TYPE)
            if packed and plugin == "tickets":  # a family per time column (and window)
                assert len(sent) >= 4
            whole = grouped_sums(reader, parts, ranges, period)
            daily = grouped_sums(reader, parts, ranges, period, Grouping(day=True))
            by_child = regroup(split, lambda key: (key[0],))
            by_type = regroup(split, lambda key: (key[1],))
            for part in parts:
                key = part.key
                alone = reader.sums(part, ranges, period, Split(length=9))
                assert by_child[key] == pytest.approx({(k,): v for k, v in alone.items()}), key
                total = reader.sums(part, ranges, period)[None]
                assert whole[key] == pytest.approx({(): total}), key
                if part.source and part.source.dimension is not None:
                    alone = reader.sums(part, ranges, period, Split(by_dimension=True))
                    assert by_type[key] == pytest.approx({(k,): v for k, v in alone.items()}), key
                else:
                    assert set(by_type[key]) <= {("",)}, key
                for day in period.days():
                    expected = reader.sums(part, ranges, Period(day, day))[None]
                    assert daily[key].get((day,), 0.0) == pytest.approx(expected), (key, day)


def test_live_statements_are_packed_within_psycopg_s_cache_limits(sanmin: Sanmin) -> None:
    """Each live statement written for psycopg is at most 4,096 bytes with at most 50
    parameters, so psycopg parses it once, not on every request; every part is read in
    exactly one of them."""
    parts = [item for item in sanmin.kernel.metrics.additive() if item.plugin == "tickets"]
    shape = tuple((part, n, 0) for n in (0, 1) for part in parts)  # two windows each
    plan = _live_plan(shape, 2, BY_CHILD_AND_TYPE, "postgresql", "psycopg", "Asia/Shanghai")
    assert len(plan.statements) > 1  # far more than one statement's worth
    for statement in plan.statements:
        compiled = statement.compile(dialect=psycopg_dialect())
        sent = compiled.construct_expanded_state(compiled.params)
        assert len(sent.statement.encode()) <= PSYCOPG_LIMITS[0]
        assert len(sent.parameters) <= PSYCOPG_LIMITS[1]
    read = [(key, family) for family, columns in enumerate(plan.layout) for key, _, _ in columns]
    assert sorted(key for key, _ in read) == sorted(part.key for part, _, _ in shape)
    assert len({family for _, family in read}) == len(plan.layout)


def test_every_dashboard_statement_fits_psycopg_s_cache(
    board: Sanmin, limits: dict[str, tuple[int, int]]
) -> None:
    """A dashboard's every statement is within psycopg's limits (imposed on SQLite's driver
    too, so that both runs check the packing)."""
    add_archive(board)
    aggregate(board, "mixed")
    limits[board.engine.dialect.driver] = PSYCOPG_LIMITS
    actor = board.actor("county_admin", COUNTY)
    with statements_sent(board) as sent:
        _board(board.kernel, actor, board.kernel.access, COUNTY, START, END)
    assert len(sent) >= 8
    for statement, parameters in sent:
        assert len(statement.encode()) <= PSYCOPG_LIMITS[0], statement[:60]
        assert len(parameters) <= PSYCOPG_LIMITS[1], statement[:60]


def test_chart_text_is_escaped() -> None:
    """Unit and type names reach the SVG as text, never as markup."""
    drawn = svg(
        Chart("hbar", "<b>名</b>", "说明", ("<script>x()</script>",), (Series("<i>", (1.0,)),))
    )
    assert "<script" not in drawn and "<b>" not in drawn and "<i>" not in drawn
    assert "&lt;script&gt;" in drawn
