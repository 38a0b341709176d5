"""A ticket's ``media_url`` (the photo address an Open311 client sends: kept, checked, shown
to staff and to the key that filed it, never on the public board nor to public Open311
reads) and ``reopened_at`` (the time of the latest reopen, 重办, set with the reopen by the
workflow clock), and the migration that adds both. On SQLite and PostgreSQL; the clock is
controlled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect
from sqlmodel import select

from core.db.migrate import CORE_MIGRATIONS, History, current_revisions, upgrade
from core.tickets.models import Ticket
from tests.test_open311 import (
    FORMATS,
    GRID,
    OTHER_VILLAGE,
    ROOT,
    TOWN,
    VILLAGE,
    api_key,
    errors,
    parsed,
    post,
    posted,
    read,
)
from tests.test_tickets_api import API, act, submit

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # a Friday, 10:00 in China
PHOTO = "https://img.example.org/随手拍/2026/11/27/lamp.jpg?size=large&v=2"
HTML = {"Accept": "text/html"}


class Clock:
    """The workflow clock, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def town(sanmin, clock):  # type: ignore[no-untyped-def]
    sanmin.unit(GRID)
    sanmin.unit(OTHER_VILLAGE)
    sanmin.kernel.workflows.clock = clock
    return sanmin


def row(town, ticket_id: int | str) -> Ticket:  # type: ignore[no-untyped-def]
    with town.session() as session:
        found = session.get(Ticket, int(ticket_id))
        assert found is not None
        return found


def moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def resolve(worker, ticket: dict[str, Any], first: bool) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    steps = [("sign", {}), ("resolve", {"result": "已修复"})]
    for name, inputs in ([("accept", {})] if first else []) + steps:
        ticket = act(worker, ticket, name, **inputs)
    return ticket


# -- reopened_at ---------------------------------------------------------------------------


def test_a_reopen_sets_its_time_and_a_second_reopen_moves_it(town, clock) -> None:  # type: ignore[no-untyped-def]
    worker = town.client_as("grid_worker", GRID)
    cadre = town.client_as("village_cadre", VILLAGE)  # ticket.dispatch: may reopen
    ticket = resolve(worker, submit(town.client_as("resident", GRID)), first=True)
    assert (ticket["reopens"], ticket["reopened_at"]) == (0, None)

    first = NOW + timedelta(hours=3)
    clock.at = first
    ticket = act(cadre, ticket, "reopen", reason="路灯仍不亮")
    assert (ticket["state"], ticket["reopens"]) == ("accepted", 1)
    assert moment(ticket["reopened_at"]) == first
    assert row(town, ticket["id"]).reopened_at == first
    assert moment(cadre.get(f"{API}/{ticket['id']}").json()["reopened_at"]) == first

    ticket = resolve(worker, ticket, first=False)
    assert moment(ticket["reopened_at"]) == first  # resolving again keeps the last reopen
    second = NOW + timedelta(days=2, hours=1)
    clock.at = second
    ticket = act(cadre, ticket, "reopen", reason="又坏了")
    assert (ticket["reopens"], moment(ticket["reopened_at"])) == (2, second)
    assert row(town, ticket["id"]).reopened_at == second

    # Open311's updated_datetime is the ticket's last change: the reopen
    (shown,) = parsed(read(town, "json", str(ticket["id"])), "json")
    assert shown["updated_datetime"] == "2026-11-29T11:00:00+08:00"
    assert shown["status"] == "open"


def test_an_unsatisfied_rating_reopens_at_the_rating_s_time(town, clock) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    ticket = resolve(town.client_as("grid_worker", GRID), submit(resident), first=True)
    rated_at = NOW + timedelta(hours=5)
    clock.at = rated_at
    unhappy = resident.post(
        f"{API}/{ticket['id']}/rating", json={"version": ticket["version"], "rating": 1}
    )
    assert unhappy.status_code == 200, unhappy.text
    assert (unhappy.json()["state"], unhappy.json()["reopens"]) == ("accepted", 1)
    assert moment(unhappy.json()["reopened_at"]) == rated_at
    stored = row(town, ticket["id"])  # one transaction: the rating and the reopen it made
    assert stored.reopened_at == rated_at and stored.rated_at == rated_at


def test_a_ticket_never_reopened_has_no_reopen_time(town, clock) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    worker = town.client_as("grid_worker", GRID)
    ticket = submit(resident)
    assert (ticket["reopens"], ticket["reopened_at"]) == (0, None)
    ticket = resolve(worker, ticket, first=True)
    clock.at = NOW + timedelta(hours=2)
    rated = resident.post(
        f"{API}/{ticket['id']}/rating", json={"version": ticket["version"], "rating": 5}
    )
    assert rated.status_code == 200, rated.text
    assert (rated.json()["state"], rated.json()["reopened_at"]) == ("rated", None)
    assert row(town, ticket["id"]).reopened_at is None
    page = worker.get(f"/tickets/{ticket['id']}", headers=HTML)
    assert page.status_code == 200 and 'id="reopened"' not in page.text


def test_the_ticket_page_says_when_it_was_last_reopened(town, clock) -> None:  # type: ignore[no-untyped-def]
    worker = town.client_as("grid_worker", GRID)
    cadre = town.client_as("village_cadre", VILLAGE)
    ticket = resolve(worker, submit(town.client_as("resident", GRID)), first=True)
    clock.at = NOW + timedelta(hours=1, minutes=30)
    ticket = act(cadre, ticket, "reopen", reason="路灯仍不亮")
    page = worker.get(f"/tickets/{ticket['id']}", headers=HTML)
    assert page.status_code == 200, page.text
    assert '<dd id="reopened">1 次，最近一次 2026-11-27 11:30</dd>' in page.text


# -- media_url -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_open311_keeps_media_url_and_returns_it_to_the_key_that_filed_it(town, fmt) -> None:  # type: ignore[no-untyped-def]
    key = api_key(town, VILLAGE, "随手拍")
    request_id = posted(town, fmt, key, media_url=f"  {PHOTO} ")
    assert row(town, request_id).media_url == PHOTO  # stripped, otherwise as sent

    (own,) = parsed(read(town, fmt, request_id, key), fmt)
    assert own["media_url"] == PHOTO
    listed = town.anonymous.get(
        f"{ROOT}/requests.{fmt}", params={"jurisdiction_id": TOWN, "api_key": key}
    )
    assert [r["media_url"] for r in parsed(listed, fmt)] == [PHOTO]

    # the public reads withhold it, as they withhold the coordinates
    public = read(town, fmt, request_id)
    (shown,) = parsed(public, fmt)
    assert shown["media_url"] is None and "img.example.org" not in public.text
    everyone = town.anonymous.get(f"{ROOT}/requests.{fmt}", params={"jurisdiction_id": TOWN})
    assert [r["service_request_id"] for r in parsed(everyone, fmt)] == [request_id]
    assert "img.example.org" not in everyone.text


def test_a_request_without_media_url_keeps_none(town) -> None:  # type: ignore[no-untyped-def]
    key = api_key(town, VILLAGE, "随手拍")
    blank = posted(town, "json", key, media_url="   ")
    absent = posted(town, "json", key)
    for request_id in (blank, absent):
        assert row(town, request_id).media_url is None
        (own,) = parsed(read(town, "json", request_id, key), "json")
        assert own["media_url"] is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_bad_media_url_is_400_naming_it(town, fmt) -> None:  # type: ignore[no-untyped-def]
    key = api_key(town, VILLAGE, "随手拍")
    for bad in (
        "ftp://img.example.org/lamp.jpg",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "data:image/png;base64,iVBORw0KGgo=",
        "img.example.org/lamp.jpg",
        "/photos/lamp.jpg",
        "https://",
        "https:///lamp.jpg",
        "https://img.example.org/a lamp.jpg",
        "https://img.example.org/lamp.jpg\x07",
        'https://img.example.org/"onmouseover="x',
        "https://img.example.org/<script>",
        "https://img.example.org\\@evil.example/lamp.jpg",
        "https://img.example.org:99999/lamp.jpg",
        "https://[::1/lamp.jpg",
        "https://img.example.org/" + "a" * 1977,  # 2001 characters
    ):
        (description,) = errors(post(town, fmt, key, media_url=bad), fmt, 400)
        assert description.startswith("media_url:"), (bad, description)
    with town.session() as session:
        assert session.exec(select(Ticket)).all() == []


def test_media_url_takes_any_http_host_up_to_2000_characters(town) -> None:  # type: ignore[no-untyped-def]
    """Sanmin never fetches the address, so an internal host is no request forgery risk:
    it is kept like any other."""
    key = api_key(town, VILLAGE, "随手拍")
    longest = "http://img.example.org/" + "a" * 1977
    assert len(longest) == 2000
    for url in (longest, "HTTPS://IMG.example.org/Lamp.JPG", "http://127.0.0.1:8000/p.jpg"):
        assert row(town, posted(town, "json", key, media_url=url)).media_url == url


def test_staff_see_media_url_in_the_detail_and_as_a_link_on_the_ticket_page(town) -> None:  # type: ignore[no-untyped-def]
    key = api_key(town, VILLAGE, "随手拍")
    odd = PHOTO + "&who='x'"
    request_id = posted(town, "json", key, media_url=odd)
    worker = town.client_as("grid_worker", GRID)
    cadre = town.client_as("village_cadre", VILLAGE)
    detail = cadre.get(f"{API}/{request_id}")
    assert detail.status_code == 200 and detail.json()["media_url"] == odd
    page = cadre.get(f"/tickets/{request_id}", headers=HTML)
    assert page.status_code == 200, page.text
    escaped = odd.replace("&", "&amp;").replace("'", "&#39;")
    link = f'<a id="media-url" href="{escaped}" rel="noopener noreferrer nofollow">{escaped}</a>'
    assert link in page.text
    long = posted(town, "json", key, media_url="https://img.example.org/" + "p" * 500)
    shown = cadre.get(f"/tickets/{long}", headers=HTML).text
    assert f'href="https://img.example.org/{"p" * 500}"' in shown  # the whole address
    assert f">https://img.example.org/{'p' * 75}…</a>" in shown  # its first 99 characters
    # a ticket without one shows no link
    plain = submit(town.client_as("resident", GRID))
    assert plain["media_url"] is None
    assert 'id="media-url"' not in worker.get(f"/tickets/{plain['id']}", headers=HTML).text


def test_the_public_board_never_shows_media_url(town) -> None:  # type: ignore[no-untyped-def]
    key = api_key(town, VILLAGE, "随手拍")
    request_id = posted(town, "json", key, media_url=PHOTO)
    cadre = town.client_as("village_cadre", VILLAGE)
    ticket = cadre.get(f"{API}/{request_id}").json()
    ticket = resolve(cadre, ticket, first=True)
    published = cadre.post(
        f"{API}/{request_id}/publication",
        json={"summary": "路灯已更换，恢复照明。", "version": ticket["version"]},
    )
    assert published.status_code == 200, published.text
    board = town.anonymous.get(f"{API}/public", params={"unit": VILLAGE})
    assert [r["id"] for r in board.json()] == [int(request_id)]
    assert "media_url" not in board.json()[0] and "img.example.org" not in board.text
    page = town.anonymous.get("/tickets/public", params={"unit": VILLAGE}, headers=HTML)
    assert page.status_code == 200 and f'data-ticket="{request_id}"' in page.text
    assert "img.example.org" not in page.text
    (public,) = parsed(read(town, "json", request_id), "json")
    assert public["description"] == "路灯已更换，恢复照明。" and public["media_url"] is None


# -- the migration -------------------------------------------------------------------------


def test_the_migration_adds_both_columns_and_takes_them_away(town) -> None:  # type: ignore[no-untyped-def]
    key = api_key(town, VILLAGE, "随手拍")
    request_id = posted(town, "json", key, media_url=PHOTO)
    core = History("core", CORE_MIGRATIONS, "alembic_version", None)
    town.engine.dispose()  # SQLite: no pooled connection holds the table while it is rebuilt
    with town.engine.begin() as connection:
        config = core.config(connection=connection, excluded_prefixes=())
        command.downgrade(config, "0016_metric_dimension")
    columns = {c["name"] for c in inspect(town.engine).get_columns("ticket")}
    assert {"media_url", "reopened_at"}.isdisjoint(columns) and "reopens" in columns
    assert current_revisions(town.engine, core) == {"0016_metric_dimension"}

    upgrade(town.engine, core, town.kernel.registry)
    assert current_revisions(town.engine, core) == core.heads()
    columns = {c["name"] for c in inspect(town.engine).get_columns("ticket")}
    assert {"media_url", "reopened_at"} <= columns
    stored = row(town, request_id)  # the ticket survived both ways, without what was dropped
    assert (stored.media_url, stored.reopened_at, stored.channel) == (None, None, "open311")
