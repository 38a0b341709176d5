"""Bad input never gives a 500: a 422 naming the field (the security review's finding 5).

Each row of the review's table, on SQLite and PostgreSQL: ids past the database's INTEGER,
huge offsets and cursors, times that fall outside years 1–9999 once taken to UTC, and text
holding a NUL character (which PostgreSQL refuses). Long or NUL usernames at the token
endpoint are tested with the login (``tests/test_identity.py``).

Behind the typed parameters, ``core.web.errors`` answers the database's own refusals
(``DataError``, ``OverflowError``) with a 422 too: the last test.
"""

from __future__ import annotations

import logging
import sqlite3

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import DataError
from sqlmodel import select

from core.tickets.models import Ticket
from core.web.errors import REFUSED_INPUT

HTML = {"Accept": "text/html"}
GRID = "330802001001001"
HUGE = "99999999999999999999"  # past 64 bits: SQLite's driver raises OverflowError
BIG = "99999999999"  # past 32 bits: PostgreSQL's INTEGER refuses it


def locations(answer) -> list[list[str]]:  # type: ignore[no-untyped-def]
    detail = answer.json()["detail"]
    assert isinstance(detail, list), detail
    return [e["loc"] for e in detail]


# (method, url, where, field[, request keyword arguments]); {id} is an existing account.
JSON_CASES = [
    ("GET", f"/api/v1/accounts/{BIG}", "path", "account_id"),
    ("GET", f"/api/v1/accounts/{HUGE}000", "path", "account_id"),
    ("GET", "/api/v1/accounts/0", "path", "account_id"),
    ("POST", f"/api/v1/accounts/{BIG}/deactivate", "path", "account_id"),
    ("POST", f"/api/v1/accounts/{BIG}/activate", "path", "account_id"),
    (
        "POST",
        f"/api/v1/accounts/{BIG}/roles",
        "path",
        "account_id",
        {"json": {"role": "volunteer", "unit_code": GRID}},
    ),
    ("DELETE", f"/api/v1/accounts/{{id}}/roles/{BIG}", "path", "assignment_id"),
    ("DELETE", f"/api/v1/accounts/{HUGE}/roles/1", "path", "account_id"),
    ("GET", f"/api/v1/accounts?offset={HUGE}", "query", "offset"),
    ("GET", "/api/v1/accounts?offset=1000001", "query", "offset"),
    ("GET", f"/api/v1/units?offset={HUGE}", "query", "offset"),
    ("GET", "/api/v1/audit?cursor=999999999999999999-1", "query", "cursor"),
    ("GET", "/api/v1/audit?cursor=-999999999999999999-1", "query", "cursor"),
    ("GET", "/api/v1/audit?cursor=1-999999999999999999", "query", "cursor"),
    ("GET", "/api/v1/audit?since=0001-01-01T00:00:00%2B14:00", "query", "since"),
    ("GET", "/api/v1/audit?until=9999-12-31T23:59:59-14:00", "query", "until"),
    ("GET", "/api/v1/audit/export?since=0001-01-01T00:00:00%2B14:00", "query", "since"),
    ("GET", "/api/v1/accounts?q=%00", "query", "q"),
    ("GET", "/api/v1/accounts?role=volunteer%00", "query", "role"),
    ("GET", "/api/v1/audit?actor=%00", "query", "actor"),
    ("GET", "/api/v1/audit?actor=login:%00*", "query", "actor"),
    ("GET", "/api/v1/audit?action=auth.%00", "query", "action"),
    ("GET", "/api/v1/audit?target_id=a%00b", "query", "target_id"),
    ("GET", "/api/v1/audit?target_type=a%00b", "query", "target_type"),
    ("GET", "/api/v1/audit/export?target_id=a%00b", "query", "target_id"),
    (
        "POST",
        "/api/v1/accounts",
        "body",
        "display_name",
        {
            "json": {
                "username": "nul-name",
                "password": "a-long-enough-password",
                "display_name": "a\x00b",
                "role": "volunteer",
                "unit_code": GRID,
            }
        },
    ),
    (
        "POST",
        "/api/v1/accounts",
        "body",
        "username",
        {
            "json": {
                "username": "nul\x00name",
                "password": "a-long-enough-password",
                "role": "volunteer",
                "unit_code": GRID,
            }
        },
    ),
    (
        "POST",
        "/api/v1/accounts/{id}/roles",
        "body",
        "role",
        {"json": {"role": "volunteer\x00", "unit_code": GRID}},
    ),
]


@pytest.fixture
def target(sanmin):  # type: ignore[no-untyped-def]
    return sanmin.account("grid_worker", GRID, "wang-grid")


def call(sanmin, method: str, url: str, target, **kwargs):  # type: ignore[no-untyped-def]
    client = TestClient(sanmin.app, raise_server_exceptions=False)
    client.headers.update(sanmin.client.headers)  # the province's system administrator
    return client.request(method, url.format(id=target.id), **kwargs)


@pytest.mark.parametrize(
    ("method", "url", "where", "field", "kwargs"),
    [(*case[:4], case[4] if len(case) > 4 else {}) for case in JSON_CASES],
)
def test_bad_input_to_the_api_is_a_422_naming_the_field(  # type: ignore[no-untyped-def]
    sanmin, target, method, url, where, field, kwargs
) -> None:
    answer = call(sanmin, method, url, target, **kwargs)
    assert answer.status_code == 422, answer.text
    assert [where, field] in locations(answer), answer.text


# (url, what the page names); pages show the error in their layout, with status 422.
PAGE_CASES = [
    (f"/admin/accounts/{BIG}", "path.account_id:"),
    (f"/admin/accounts/{HUGE}", "path.account_id:"),
    (f"/admin/accounts?offset={HUGE}", "query.offset:"),
    ("/admin/accounts?q=%00", "query.q:"),
    ("/admin/audit?since=0001-01-01T00:00:00", "起始时间："),  # Beijing time: year 0 in UTC
    ("/admin/audit?until=0001-01-01T07:59:59%2B08:00", "截止时间："),
    ("/admin/audit?cursor=999999999999999999-1", "翻页："),
    ("/admin/audit?cursor=1-999999999999999999", "翻页："),
    ("/admin/audit?actor=%00", "操作人："),
    ("/admin/audit?target_id=a%00b", "对象："),
]


@pytest.mark.parametrize(("url", "named"), PAGE_CASES)
def test_bad_input_to_the_pages_is_a_422_page_naming_the_field(  # type: ignore[no-untyped-def]
    sanmin, target, url, named
) -> None:
    answer = call(sanmin, "GET", url, target, headers=HTML)
    assert answer.status_code == 422, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
    assert named in answer.text
    assert "Traceback" not in answer.text


def test_bad_ids_in_the_page_forms_are_a_422(sanmin, target) -> None:  # type: ignore[no-untyped-def]
    for url in (
        f"/admin/accounts/{BIG}/deactivate",
        f"/admin/accounts/{BIG}/activate",
        f"/admin/accounts/{target.id}/roles/{HUGE}/revoke",
    ):
        answer = call(sanmin, "POST", url, target, headers=HTML)
        assert answer.status_code == 422, (url, answer.text[:300])
    form = {
        "username": "nul-page",
        "password": "a-long-enough-password",
        "display_name": "a\x00b",
        "role": "volunteer",
        "unit_code": GRID,
    }
    answer = call(sanmin, "POST", "/admin/accounts/new", target, data=form, headers=HTML)
    assert answer.status_code == 422 and "display_name:" in answer.text


def test_the_extremes_that_are_valid_still_answer(sanmin, target) -> None:  # type: ignore[no-untyped-def]
    for url in (
        "/api/v1/audit?since=0001-01-01T00:00:00Z&until=9999-12-31T23:59:59Z",
        "/api/v1/audit?cursor=253402300799000000-2147483647",  # 9999-12-31T23:59:59Z
        "/api/v1/audit?cursor=-62135596800000000-1",  # 0001-01-01T00:00:00Z
        "/api/v1/accounts/2147483647",
        "/api/v1/accounts?offset=1000000",
        "/api/v1/units?offset=1000000",
    ):
        answer = call(sanmin, "GET", url, target)
        assert answer.status_code in (200, 404), (url, answer.text)


def test_the_database_refusing_a_value_is_a_422_not_a_500(sanmin, caplog) -> None:  # type: ignore[no-untyped-def]
    """The safety net: a value that got past the route's types and that the database (or its
    driver) refuses is answered 422, logged as a warning, with no traceback sent."""

    def refused_by_database() -> None:
        raise DataError("SELECT 1", {}, ValueError("PostgreSQL text fields cannot contain NUL"))

    def too_large_for_driver() -> None:
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    sanmin.app.add_api_route("/api/v1/test-data-error", refused_by_database)
    sanmin.app.add_api_route("/test-overflow", too_large_for_driver)
    client = TestClient(sanmin.app, raise_server_exceptions=False)
    with caplog.at_level(logging.WARNING, logger="sanmin.web"):
        answer = client.get("/api/v1/test-data-error")
        assert answer.status_code == 422 and answer.json() == {"detail": REFUSED_INPUT}
        page = client.get("/test-overflow", headers=HTML)
        assert page.status_code == 422 and "input out of range" in page.text
        assert "Traceback" not in page.text and "SQLite INTEGER" not in page.text
    warnings = [r for r in caplog.records if r.name == "sanmin.web"]
    assert [r.levelno for r in warnings] == [logging.WARNING, logging.WARNING]
    assert all(r.exc_info is None for r in warnings)
    assert "NUL" in warnings[0].getMessage() and "OverflowError" in warnings[1].getMessage()


def test_a_write_that_cannot_get_sqlites_lock_is_a_503_and_the_retry_works(sanmin) -> None:  # type: ignore[no-untyped-def]
    """Another process holds SQLite's writer lock past the busy timeout: the request writes
    nothing and answers 503 with ``Retry-After`` (never a 500); the retry with the same
    ``Idempotency-Key`` makes the one ticket."""
    if sanmin.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's single writer lock; PostgreSQL locks rows")
    grid = "330802001001001"
    sanmin.unit(grid)
    resident = sanmin.client_as("resident", grid)
    resident.headers["Idempotency-Key"] = "locked-once"
    body = {
        "type": "public_repair",
        "unit_code": grid,
        "title": "路灯不亮",
        "description": "3 号楼前路灯坏了",
        "extra": {"facility": "路灯"},
    }
    holder = sqlite3.connect(sanmin.engine.url.database, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer, as a second process would be
        client = TestClient(sanmin.app, raise_server_exceptions=False, headers=resident.headers)
        busy = client.post("/api/v1/tickets", json=body)
        assert busy.status_code == 503, busy.text
        assert busy.headers["Retry-After"] == "1" and "系统繁忙" in busy.json()["detail"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert resident.post("/api/v1/tickets", json=body).status_code == 201
    assert resident.post("/api/v1/tickets", json=body).status_code == 200  # the replay
    with sanmin.session() as session:
        assert len(session.exec(select(Ticket)).all()) == 1
