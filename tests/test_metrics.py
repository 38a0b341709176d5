"""Metrics: declaration, roll-up, periods, daily aggregates, townships, API and ``/metrics``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Double,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
)

from core import Metric, PluginDisabled, Settings, UTCDateTime, __version__, hookimpl
from core.jobs.spec import JobContext
from core.metrics.catalog import MetricCatalog
from core.metrics.compute import metric_value
from core.metrics.models import MetricDaily
from core.metrics.periods import Period, offset_runs
from core.metrics.refresh import rebuild, refresh_all
from core.plugins.registry import PluginRegistry
from core.testing import all_routes
from tests.helpers import manifest

SHANGHAI = ZoneInfo("Asia/Shanghai")
COUNTY = "330802000000"
T1, T2 = "330802001000", "330802002000"
V1, V2, V3 = "330802001001", "330802001002", "330802002001"
G1 = "330802001001001"
MARCH = (date(2026, 3, 1), date(2026, 3, 31))

PROBE_TABLES = MetaData()
visits = Table(
    "probe_visit",
    PROBE_TABLES,
    Column("id", Integer, primary_key=True),
    Column("unit_code", String(15), nullable=False, index=True),
    Column("visited_at", UTCDateTime(), nullable=False, index=True),
    Column("planned_on", Date, nullable=False),
    Column("done", Boolean, nullable=False),
    Column("hours", Double, nullable=False),
)

PROBE_METRICS = [
    Metric(name="visits", title="探访", unit_label="次", table=visits, time_column="visited_at"),
    Metric(
        name="visits_done",
        title="完成探访",
        unit_label="次",
        table=visits,
        time_column="visited_at",
        where=visits.c.done,
    ),
    Metric(
        name="hours",
        title="服务时长",
        unit_label="小时",
        kind="sum",
        table=visits,
        time_column="visited_at",
        value="hours",
    ),
    Metric(
        name="done_rate",
        title="完成率",
        unit_label="%",
        kind="ratio",
        numerator="visits_done",
        denominator="visits",
        scale=100,
    ),
    Metric(name="planned", title="计划", unit_label="次", table=visits, time_column="planned_on"),
]


class Probe:
    """A throwaway township plugin with a table of visits and five metrics."""

    def __init__(self, name: str = "probe", metrics: list[Any] | None = None) -> None:
        self.PLUGIN = manifest(name)
        self.metrics = PROBE_METRICS if metrics is None else metrics

    @hookimpl
    def register_metrics(self) -> list[Any]:
        return self.metrics


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]


# (unit, visited at, planned on, done, hours)
RECORDS = [
    (G1, local(2026, 3, 5, 10), date(2026, 3, 5), True, 1.5),
    (G1, local(2026, 3, 31, 23, 59, 59), date(2026, 4, 1), False, 1.0),  # last second of March
    (V1, local(2026, 3, 10, 9), date(2026, 3, 10), True, 2.0),  # on the village itself
    (V2, local(2026, 3, 1, 0, 0, 0), date(2026, 3, 1), True, 0.5),  # first second of March
    (T1, local(2026, 4, 1, 0, 0, 0), date(2026, 4, 1), True, 3.0),  # first second of April
    (V3, local(2026, 3, 15, 15), date(2026, 3, 15), True, 4.0),  # in the other township
    (COUNTY, local(2026, 3, 20, 11), date(2026, 3, 20), True, 1.0),  # on the county itself
    (G1, local(2026, 2, 28, 23, 59, 59), date(2026, 2, 28), True, 1.0),  # last second of February
]
# March, probe on everywhere: metric -> unit -> value
EXPECTED = {
    "visits": {G1: 2, V1: 3, V2: 1, T1: 4, T2: 1, COUNTY: 6},
    "visits_done": {G1: 1, V1: 2, V2: 1, T1: 3, T2: 1, COUNTY: 5},
    "hours": {G1: 2.5, V1: 4.5, V2: 0.5, T1: 5.0, T2: 4.0, COUNTY: 10.0},
    "done_rate": {G1: 50.0, V1: 66.666667, V2: 100.0, T1: 75.0, T2: 100.0, COUNTY: 83.333333},
    "planned": {G1: 1, V1: 2, V2: 1, T1: 3, T2: 1, COUNTY: 5},
}


@pytest.fixture
def sanmin_plugins() -> tuple[str, ...]:
    return ()


@pytest.fixture
def sanmin_extra_plugins() -> list[tuple[str, Any]]:
    return [("probe", Probe())]


@pytest.fixture
def probe(sanmin):  # type: ignore[no-untyped-def]
    """The harness with the probe's table, the units, the records, and probe on in the county."""
    PROBE_TABLES.create_all(sanmin.engine)
    for code in (G1, V2, V3):
        sanmin.unit(code)
    sanmin.enable("probe", COUNTY)
    add(sanmin, RECORDS)
    return sanmin


def add(sanmin, records: list[tuple[Any, ...]]) -> None:  # type: ignore[no-untyped-def]
    keys = ("unit_code", "visited_at", "planned_on", "done", "hours")
    with sanmin.engine.begin() as conn:
        conn.execute(insert(visits), [dict(zip(keys, record, strict=True)) for record in records])


def value(sanmin, metric: str, unit: str, period=MARCH, **kwargs: Any) -> Any:  # type: ignore[no-untyped-def]
    return metric_value(sanmin.engine, sanmin.kernel, "probe", metric, unit, *period, **kwargs)


def all_values(sanmin, period=MARCH, **kwargs: Any) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    return {
        metric: {unit: value(sanmin, metric, unit, period, **kwargs) for unit in EXPECTED[metric]}
        for metric in EXPECTED
    }


# -- declaring -------------------------------------------------------------------------------


def test_hook_register_metrics(probe) -> None:  # type: ignore[no-untyped-def]
    catalog = probe.kernel.metrics
    assert [item.key for item in catalog.all() if item.plugin == "probe"] == [
        "probe.visits",
        "probe.visits_done",
        "probe.hours",
        "probe.done_rate",
        "probe.planned",
    ]
    assert catalog.get("probe", "done_rate").source is None
    assert [part.key for part in catalog.parts(catalog.get("probe", "done_rate"))] == [
        "probe.visits_done",
        "probe.visits",
    ]
    assert value(probe, "visits", T1) == 4


def good(**changes: Any) -> Metric:
    fields: dict[str, Any] = {
        "name": "visits",
        "title": "探访次数",
        "unit_label": "次",
        "table": visits,
        "time_column": "visited_at",
    }
    return Metric(**{**fields, **changes})


BAD_DECLARATIONS = [
    ([good(name="Visits")], "metric name 'Visits' must be snake_case"),
    ([good(), good()], "duplicate metric 'visits'"),
    ([good(title=" ")], "metric 'visits': title is required"),
    ([good(unit_label="")], "metric 'visits': unit_label is required"),
    ([good(kind="average")], "metric 'visits': kind 'average' must be one of"),
    ([good(value="hours")], "metric 'visits': a count takes no value"),
    ([good(kind="sum")], "metric 'visits': a sum needs value"),
    ([good(kind="sum", value="unit_code")], "metric 'visits': value must be numeric"),
    ([good(table="probe_visit")], "metric 'visits': table must be a table model"),
    ([good(unit_column="unit")], "metric 'visits': unit_column 'unit' is not a column"),
    ([good(time_column="hours")], "metric 'visits': time_column must be a date or timestamp"),
    ([good(where="done")], "metric 'visits': where must be an SQL condition"),
    ([good(settle_days=-1)], "metric 'visits': settle_days must be a whole number"),
    (
        [good(), good(name="rate", kind="ratio", table=None, numerator="visits")],
        "metric 'rate': a ratio needs numerator and denominator",
    ),
    (
        [good(), good(name="rate", kind="ratio", table=None, numerator="visits", denominator="x")],
        "metric 'rate': denominator 'x' is not an additive metric of this plugin",
    ),
    (
        [
            good(),
            good(name="r1", kind="ratio", table=None, numerator="visits", denominator="visits"),
            good(name="r2", kind="ratio", table=None, numerator="r1", denominator="visits"),
        ],
        "metric 'r2': numerator 'r1' is not an additive metric",
    ),
    ([good(dimension="unit_code")], "metric 'visits': a dimension needs dimension_title"),
    (
        [good(dimension="hours", dimension_title="时长")],
        "metric 'visits': dimension must be a text column",
    ),
    (
        [good(), good(name="r", kind="ratio", table=None, dimension="unit_code")],
        "metric 'r': a ratio takes numerator and denominator, not table, value, where or dim",
    ),
    ([{"name": "visits"}], "returned a dict, not a Metric"),
]


@pytest.mark.parametrize(("declared", "reason"), BAD_DECLARATIONS, ids=lambda x: str(x)[:40])
def test_a_bad_declaration_takes_the_plugin_out_by_name(declared, reason) -> None:  # type: ignore[no-untyped-def]
    registry = PluginRegistry().load(
        discover=False, extra=[("broken", Probe("broken", declared)), ("probe", Probe())]
    )
    catalog = MetricCatalog.build(registry)
    error = registry.plugins_failed["broken"].error
    assert error is not None and error.startswith("register_metrics: ") and reason in error
    assert "broken" not in registry.plugins and "broken" not in catalog.by_plugin
    others = [item.plugin for item in catalog.all() if item.plugin != "tickets"]  # core KPIs
    assert others == ["probe"] * len(PROBE_METRICS)


def test_the_timezone_setting_is_checked() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        Settings(timezone="Mars/Olympus")


# -- computing -------------------------------------------------------------------------------


def test_values_roll_up_the_unit_tree(probe) -> None:  # type: ignore[no-untyped-def]
    assert all_values(probe) == EXPECTED


def test_periods_are_whole_local_days(probe) -> None:  # type: ignore[no-untyped-def]
    assert value(probe, "visits", T1, (date(2026, 3, 31), date(2026, 4, 1))) == 2
    assert value(probe, "visits", G1, (date(2026, 2, 28), date(2026, 2, 28))) == 1
    assert value(probe, "visits", G1, (date(2026, 3, 1), date(2026, 3, 1))) == 0
    assert value(probe, "planned", G1, (date(2026, 4, 1), date(2026, 4, 30))) == 1
    assert value(probe, "done_rate", T1, (date(2026, 5, 1), date(2026, 5, 31))) is None


def test_the_daily_aggregates_give_the_live_values(probe) -> None:  # type: ignore[no-untyped-def]
    fresh = refresh_all(probe.kernel, local(2026, 4, 10, 8))
    assert {key: day for key, day in fresh.items() if key.startswith("probe.")} == dict.fromkeys(
        ["probe.visits", "probe.visits_done", "probe.hours", "probe.planned"], date(2026, 4, 9)
    )
    assert all_values(probe) == all_values(probe, aggregates=False) == EXPECTED
    april = (date(2026, 3, 25), date(2026, 4, 20))
    assert all_values(probe, april) == all_values(probe, april, aggregates=False)
    # The aggregates are what is read: a raw record deleted now still counts there…
    with probe.engine.begin() as conn:
        conn.execute(delete(visits).where(visits.c.visited_at == local(2026, 3, 5, 10)))
    assert value(probe, "visits", G1) == 2 and value(probe, "visits", G1, aggregates=False) == 1
    # …until a rebuild, which also drops the days left without records.
    rebuild(probe.kernel, local(2026, 4, 10, 8))
    assert value(probe, "visits", G1) == 1
    with probe.engine.connect() as conn:
        days = conn.execute(select(MetricDaily.day).where(MetricDaily.unit_code == G1)).scalars()
        assert date(2026, 3, 5) not in set(days)


def test_later_days_are_computed_live(probe) -> None:  # type: ignore[no-untyped-def]
    refresh_all(probe.kernel, local(2026, 4, 1, 0, 30))  # March has just ended
    with probe.engine.connect() as conn:
        last = conn.execute(select(MetricDaily.day).order_by(MetricDaily.day.desc())).scalar()
    assert last == date(2026, 3, 31)
    spring = (date(2026, 3, 1), date(2026, 4, 30))
    assert value(probe, "visits", T1, spring) == 5  # March from the aggregates, April live
    assert all_values(probe, spring) == all_values(probe, spring, aggregates=False)


def test_a_mistyped_year_does_not_stop_the_refresh(probe) -> None:  # type: ignore[no-untyped-def]
    """A record dated in year 202 (for 2026) or 9999 is outside every period one can ask
    for; the refresh skips it instead of failing every hour, for every metric after it."""
    add(
        probe,
        [
            (G1, local(2026, 3, 6, 9), date(202, 3, 6), True, 1.0),
            (G1, datetime(1, 1, 1, tzinfo=UTC), date(9999, 12, 31), True, 1.0),
        ],
    )
    now = local(2026, 4, 10, 8)
    fresh = refresh_all(probe.kernel, now)
    assert set(fresh.values()) == {date(2026, 4, 9)}
    assert value(probe, "planned", G1) == value(probe, "planned", G1, aggregates=False) == 1
    assert value(probe, "visits", G1) == value(probe, "visits", G1, aggregates=False) == 3


class TestABrokenMetric:
    """A metric whose SQL fails when run (a function the database lacks) is declared fine."""

    @pytest.fixture
    def sanmin_extra_plugins(self) -> list[tuple[str, Any]]:
        broken = good(name="broken", where=func.no_such_function(visits.c.done))
        return [("broken", Probe("broken", [broken])), ("probe", Probe())]

    def test_it_does_not_stop_the_refresh_of_the_others(self, probe, caplog) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(RuntimeError, match=r"not refreshed: broken\.broken$"):
            refresh_all(probe.kernel, local(2026, 4, 10, 8))
        assert "Metric broken.broken not refreshed" in caplog.text
        assert all_values(probe) == all_values(probe, aggregates=False) == EXPECTED
        with probe.engine.connect() as conn:
            keys = set(conn.execute(select(MetricDaily.metric).distinct()).scalars())
        assert keys == {f"probe.{name}" for name in ("visits", "visits_done", "hours", "planned")}


def test_a_refresh_recomputes_the_settling_days_only(probe) -> None:  # type: ignore[no-untyped-def]
    now = local(2026, 4, 10, 8)
    refresh_all(probe.kernel, now)
    rows = daily_rows(probe)
    refresh_all(probe.kernel, now)
    assert daily_rows(probe) == rows  # a repeated run changes nothing
    add(
        probe,
        [
            (G1, local(2026, 4, 5, 9), date(2026, 4, 5), True, 1.0),  # within settle_days
            (G1, local(2026, 3, 2, 9), date(2026, 3, 2), True, 1.0),  # older: rebuild only
        ],
    )
    refresh_all(probe.kernel, now + timedelta(hours=1))
    assert value(probe, "visits", G1, (date(2026, 4, 1), date(2026, 4, 9))) == 1
    assert value(probe, "visits", G1) == 2
    assert value(probe, "visits", G1, aggregates=False) == 3
    rebuild(probe.kernel, now + timedelta(hours=2))
    assert value(probe, "visits", G1) == 3


def test_days_follow_the_time_zone_through_daylight_saving(probe) -> None:  # type: ignore[no-untyped-def]
    probe.kernel.settings.timezone = "Europe/Berlin"  # clocks go forward on 29 March 2026
    berlin = ZoneInfo("Europe/Berlin")
    add(
        probe,
        [
            (G1, datetime(2026, 3, 28, 23, 30, tzinfo=berlin), date(2026, 3, 28), True, 1.0),
            (G1, datetime(2026, 3, 29, 0, 30, tzinfo=berlin), date(2026, 3, 29), True, 1.0),
            (G1, datetime(2026, 3, 29, 23, 30, tzinfo=berlin), date(2026, 3, 29), True, 1.0),
            (G1, datetime(2026, 3, 30, 0, 30, tzinfo=berlin), date(2026, 3, 30), True, 1.0),
        ],
    )
    refresh_all(probe.kernel, datetime(2026, 4, 2, 12, tzinfo=berlin))
    for day, expected in ((28, 1), (29, 2), (30, 1)):
        one = (date(2026, 3, day), date(2026, 3, day))
        assert value(probe, "visits", G1, one) == value(probe, "visits", G1, one, aggregates=False)
        assert value(probe, "visits", G1, one) == expected


def test_offset_runs_cut_at_daylight_saving_changes() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    runs = list(offset_runs(Period(date(2026, 3, 27), date(2026, 3, 31)), berlin))
    assert runs == [
        (Period(date(2026, 3, 27), date(2026, 3, 28)), 60),
        (Period(date(2026, 3, 29), date(2026, 3, 29)), None),
        (Period(date(2026, 3, 30), date(2026, 3, 31)), 120),
    ]
    year = Period(date(2026, 1, 1), date(2026, 12, 31))
    assert list(offset_runs(year, SHANGHAI)) == [(year, 480)]


def daily_rows(sanmin) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    with sanmin.engine.connect() as conn:
        query = select(MetricDaily.__table__).order_by(  # type: ignore[attr-defined]
            MetricDaily.metric, MetricDaily.unit_code, MetricDaily.day
        )
        return [tuple(row) for row in conn.execute(query)]


def test_the_refresh_job_is_installation_wide(probe) -> None:  # type: ignore[no-untyped-def]
    job = next(job for job in probe.kernel.jobs.by_plugin["metrics"] if job.name == "refresh_daily")
    assert job.per_township is False and job.every == timedelta(hours=1)
    start = datetime(2026, 4, 9, 16, tzinfo=UTC)  # 00:00 on 10 April in Shanghai
    job.run(JobContext(probe.kernel, "metrics.refresh_daily", None, start, start + job.every))
    with probe.engine.connect() as conn:
        last = conn.execute(select(MetricDaily.day).order_by(MetricDaily.day.desc())).scalar()
    assert last == date(2026, 4, 1)  # the last record's day; 9 April is fresh and empty
    assert value(probe, "visits", COUNTY, (date(2026, 4, 1), date(2026, 4, 9))) == 1


@pytest.mark.parametrize("aggregated", [False, True], ids=["live", "aggregated"])
def test_a_disabled_township_is_absent_and_not_counted(probe, aggregated: bool) -> None:  # type: ignore[no-untyped-def]
    if aggregated:
        refresh_all(probe.kernel, local(2026, 4, 10, 8))
    probe.disable("probe", T2)
    for unit in (T2, V3):
        with pytest.raises(PluginDisabled, match=T2):
            value(probe, "visits", unit)
    assert value(probe, "visits", COUNTY) == 5
    assert value(probe, "done_rate", COUNTY) == 80.0
    assert value(probe, "visits", T1) == 4
    probe.disable("probe", COUNTY)  # off at the county: its own records stop counting too
    probe.enable("probe", T1)
    assert value(probe, "visits", COUNTY) == 4
    probe.disable("probe", T1)
    with pytest.raises(PluginDisabled, match=COUNTY):
        value(probe, "visits", COUNTY)


# -- the JSON API ----------------------------------------------------------------------------

MARCH_QUERY = "start=2026-03-01&end=2026-03-31"


def test_every_metric_at_a_unit(probe) -> None:  # type: ignore[no-untyped-def]
    client = probe.client_as("county_admin", COUNTY)
    answer = client.get(f"/api/v1/metrics?unit={T1}&{MARCH_QUERY}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["unit"]["code"] == T1 and body["start"] == "2026-03-01"
    probes = [m for m in body["metrics"] if m["plugin"] == "probe"]  # beside the core's own
    assert {m["name"]: m["value"] for m in probes} == {
        name: by_unit[T1] for name, by_unit in EXPECTED.items()
    }
    first = probes[0]
    assert first["title"] == "探访" and first["unit_label"] == "次" and first["kind"] == "count"
    probe.disable("probe", T2)
    gone = client.get(f"/api/v1/metrics?unit={V3}&{MARCH_QUERY}").json()
    assert [m for m in gone["metrics"] if m["plugin"] == "probe"] == []


def test_one_metric_by_child(probe) -> None:  # type: ignore[no-untyped-def]
    client = probe.client_as("county_admin", COUNTY)
    url = f"/api/v1/metrics/probe/visits?{MARCH_QUERY}&by=child&unit="
    county = client.get(url + COUNTY).json()
    assert county["value"] == 6 and county["own"] == 1
    assert [(c["code"], c["value"]) for c in county["children"]] == [(T1, 4), (T2, 1)]
    village = client.get(url + V1).json()
    assert (village["value"], village["own"], village["children"][0]["code"]) == (3, 1, G1)
    grid = client.get(url + G1).json()
    assert (grid["value"], grid["own"], grid["children"]) == (2, 2, [])
    rate = client.get(f"/api/v1/metrics/probe/done_rate?{MARCH_QUERY}&by=child&unit={COUNTY}")
    assert [c["value"] for c in rate.json()["children"]] == [75.0, 100.0]
    probe.disable("probe", T2)
    county = client.get(url + COUNTY).json()
    assert county["value"] == 5 and [c["code"] for c in county["children"]] == [T1]
    refused = client.get(url + T2)
    assert refused.status_code == 404 and refused.json()["plugin"] == "probe"


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        (f"unit={T1}&start=2026-03-31&end=2026-03-01", 422, "end"),
        (f"unit={T1}&start=2026-13-01", 422, "start"),
        (f"unit={T1}&start=0001-01-01", 422, "start"),
        (f"unit={T1}&end=1899-12-31", 422, "end"),  # start defaults to the 1st of that month
        (f"unit={T1}&by=parent", 422, "by"),
        ("unit=33080200100", 400, "unit"),
    ],
)
def test_bad_input_names_the_field(probe, query: str, status: int, field: str) -> None:  # type: ignore[no-untyped-def]
    answer = probe.client.get(f"/api/v1/metrics/probe/visits?{query}")
    assert answer.status_code == status and field in str(answer.json()["detail"])


def test_unknown_metrics_and_anonymous_callers(probe) -> None:  # type: ignore[no-untyped-def]
    assert probe.client.get(f"/api/v1/metrics/probe/nope?unit={T1}").status_code == 404
    assert probe.client.get(f"/api/v1/metrics/other/visits?unit={T1}").status_code == 404
    for url in (f"/api/v1/metrics?unit={T1}", "/metrics"):
        assert probe.anonymous.get(url).status_code == 401
        assert probe.client_as("resident", G1).get(url).status_code == 403


SCOPED_PATHS = {"/api/v1/metrics", "/api/v1/metrics/{plugin}/{metric}", "/metrics"}
SCOPE_CASES = [
    f"/api/v1/metrics?unit={T1}",
    f"/api/v1/metrics/probe/visits?unit={T1}&by=child",
    f"/metrics?unit={T1}",
]


def test_the_scope_cases_cover_every_route(probe) -> None:  # type: ignore[no-untyped-def]
    ours = {path for path, _ in all_routes(probe.app) if "metrics" in path}
    assert ours == SCOPED_PATHS


@pytest.mark.parametrize("url", SCOPE_CASES)
def test_every_route_answers_404_outside_the_scope(probe, url: str) -> None:  # type: ignore[no-untyped-def]
    probe.assert_scoped("GET", url, role="township_admin", inside=T1, outside=T2)


# -- /metrics --------------------------------------------------------------------------------


def scrape(client, query: str = MARCH_QUERY) -> dict[str, list[tuple[dict[str, str], float]]]:  # type: ignore[no-untyped-def]
    """Every sample of ``/metrics``, by name, as read by Prometheus' own parser."""
    answer = client.get(f"/metrics?{query}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def by_unit(samples: list[tuple[dict[str, str], float]]) -> dict[tuple[str, str], float]:
    return {(labels["unit"], labels["level"]): value for labels, value in samples}


def test_prometheus_exposition(probe) -> None:  # type: ignore[no-untyped-def]
    found = scrape(probe.client_as("county_admin", COUNTY))
    assert by_unit(found["sanmin_probe_visits"]) == {
        (COUNTY, "county"): 6,
        (T1, "township"): 4,
        (T2, "township"): 1,
    }
    assert by_unit(found["sanmin_probe_done_rate"])[(COUNTY, "county")] == 83.333333
    assert found["sanmin_probe_visits"][0][0]["unit_name"] == "测试县区330802000000"
    assert found["sanmin_info"] == [({"version": __version__}, 1.0)]
    assert {labels["state"]: v for labels, v in found["sanmin_plugins"]}["failed"] == 0
    assert "process_cpu_seconds_total" in found
    assert "sanmin_metric_fresh_through_timestamp_seconds" not in found  # nothing aggregated
    probe.disable("probe", T2)
    found = scrape(probe.client_as("township_admin", T1))
    assert by_unit(found["sanmin_probe_visits"]) == {(T1, "township"): 4}
    refresh_all(probe.kernel, local(2026, 4, 10, 8))
    found = scrape(probe.client_as("county_admin", COUNTY))
    assert by_unit(found["sanmin_probe_visits"]) == {(COUNTY, "county"): 5, (T1, "township"): 4}
    fresh = found["sanmin_metric_fresh_through_timestamp_seconds"]
    assert {labels["metric"] for labels, _ in fresh if labels["metric"].startswith("probe.")} == {
        "probe.visits",
        "probe.visits_done",
        "probe.hours",
        "probe.planned",
    }
    assert {value for _, value in fresh} == {local(2026, 4, 10).timestamp()}


def test_operators_scrape_with_an_api_key(probe) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from core.identity.service import create_api_key

    with probe.session() as session:
        key = create_api_key(
            session, probe.kernel.access, name="prometheus", unit_code=COUNTY, by="test"
        )
    client = TestClient(probe.app, headers={"X-API-Key": key})
    assert by_unit(scrape(client)["sanmin_probe_visits"])[(COUNTY, "county")] == 6


def test_a_metric_without_a_dimension_refuses_a_split(probe) -> None:  # type: ignore[no-untyped-def]
    client = probe.client_as("county_admin", COUNTY)
    for params in ({"by": "dimension"}, {"dimension": "x"}):
        answer = client.get("/api/v1/metrics/probe/visits", params={"unit": COUNTY, **params})
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"].startswith(f"{next(iter(params))}：")
    plain = client.get("/api/v1/metrics/probe/visits", params={"unit": COUNTY}).json()
    assert plain["dimension_title"] is None
