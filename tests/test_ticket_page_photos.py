"""Photos through the tickets' pages: chosen on the request form (one multipart submit makes
the ticket and its photos in one commit, or neither), shown on the ticket page, added from
it while the ticket is open. On SQLite and PostgreSQL; the directory is the test's own."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from core.audit.models import AuditEntry
from core.settings import Settings
from core.tickets.models import Ticket, TicketAttachment
from tests.test_ticket_attachments import JPEG, LIMIT, png, stored_files
from tests.test_ticket_pages import GRID, NOW, OTHER_GRID, open_form, step, ticket_form


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def sanmin_settings(sanmin_database_url: str, tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(
        database_url=sanmin_database_url,
        auto_migrate=True,
        attachment_dir=tmp_path / "photos",
        attachment_max_bytes=LIMIT,
    )


@pytest.fixture
def town(sanmin):  # type: ignore[no-untyped-def]
    sanmin.unit(GRID)
    sanmin.unit(OTHER_GRID)
    sanmin.kernel.workflows.clock = lambda: NOW
    return sanmin


def post_request(client, key: str, photos: list[tuple[str, bytes, str]]):  # type: ignore[no-untyped-def]
    data = {**ticket_form(), "submission_key": key, "unit_code": GRID}
    files = [("photos", photo) for photo in photos]
    return client.post(
        "/tickets/new/public_repair", data=data, files=files or None, follow_redirects=False
    )


def tickets_and_photos(town) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    with town.session() as session:
        return (
            len(session.exec(select(Ticket)).all()),
            len(session.exec(select(TicketAttachment)).all()),
        )


def test_photos_chosen_on_the_form_are_stored_with_the_ticket_and_shown(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    form = resident.get("/tickets/new/public_repair").text
    assert 'enctype="multipart/form-data"' in form and 'type="file"' in form
    assert "照片（选填，最多 9 张）" in form and "每张不超过 4 KB" in form
    key = open_form(resident, "public_repair")
    photos = [("路灯.png", png(2, 2), "image/png"), ("现场.jpg", JPEG, "image/jpeg")]
    answer = post_request(resident, key, photos)
    assert answer.status_code == 303, answer.text
    ticket_id = int(re.findall(r"\d+", answer.headers["location"])[0])
    page = resident.get(f"/tickets/{ticket_id}").text
    urls = re.findall(r'<img src="(/api/v1/tickets/\d+/attachments/\d+)"', page)
    assert len(urls) == 2 and 'alt="第 1 张照片：路灯.png"' in page
    assert resident.get(urls[1]).content == JPEG  # the session cookie reads the photo
    assert len(stored_files(town)) == 2
    with town.session() as session:
        rows = session.exec(select(TicketAttachment).order_by(TicketAttachment.id)).all()
        assert [(r.ticket_id, r.filename) for r in rows] == [
            (ticket_id, "路灯.png"),
            (ticket_id, "现场.jpg"),
        ]
        audited = session.exec(select(AuditEntry).where(AuditEntry.action == "ticket.attach"))
        assert len(audited.all()) == 2
    # the same form submitted again: the same ticket, and its photos not stored twice
    again = post_request(resident, key, photos)
    assert again.headers["location"] == answer.headers["location"]
    assert tickets_and_photos(town) == (1, 2) and len(stored_files(town)) == 2


@pytest.mark.parametrize(
    ("photo", "status", "reason"),
    [
        (
            ("notes.png", b"just some text\n", "image/png"),
            415,
            "只接受 JPEG、PNG、WebP 或 HEIC 照片",
        ),
        (("big.png", png(padding=LIMIT), "image/png"), 413, f"照片不能超过 {LIMIT} 字节"),
    ],
)
def test_a_refused_photo_makes_no_ticket_and_leaves_no_file(town, photo, status, reason) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    key = open_form(resident, "public_repair")
    answer = post_request(resident, key, [("ok.png", png(), "image/png"), photo])
    assert answer.status_code == status
    assert 'id="f-photos-error"' in answer.text and reason in answer.text
    assert 'aria-invalid="true" aria-describedby="f-photos-error"' in answer.text
    assert 'value="路灯不亮"' in answer.text  # what was typed is kept
    assert tickets_and_photos(town) == (0, 0) and stored_files(town) == []


def test_too_many_photos_are_refused_naming_the_field(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    key = open_form(resident, "public_repair")
    answer = post_request(resident, key, [(f"{i}.png", png(), "image/png") for i in range(10)])
    assert answer.status_code in (400, 422)
    assert tickets_and_photos(town) == (0, 0) and stored_files(town) == []


def test_a_photo_is_added_from_the_ticket_page_while_it_is_open(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    worker = town.client_as("grid_worker", GRID)
    answer = post_request(resident, open_form(resident, "public_repair"), [])
    ticket_id = int(re.findall(r"\d+", answer.headers["location"])[0])
    url = f"/tickets/{ticket_id}"
    assert "暂无照片。" in resident.get(url).text and 'id="add-photo"' in resident.get(url).text

    added = worker.post(
        f"{url}/photos", files={"photos": ("现场.jpg", JPEG, "image/jpeg")}, follow_redirects=False
    )
    assert added.status_code == 303 and added.headers["location"] == f"{url}?done=photos"
    assert "照片已添加。" in worker.get(added.headers["location"]).text
    refused = worker.post(f"{url}/photos", files={"photos": ("x.png", b"<html>", "image/png")})
    assert refused.status_code == 415 and 'id="error-photos"' in refused.text
    empty = worker.post(f"{url}/photos", data={"x": "1"})
    assert empty.status_code == 422 and "请选择一张照片" in empty.text
    assert tickets_and_photos(town) == (1, 1)

    for name, inputs in (("accept", {}), ("sign", {}), ("resolve", {"result": "已修好"})):
        step(worker, ticket_id, name, **inputs)
    with town.session() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        ticket.state = "archived"  # closed: no photo is added any more
        session.add(ticket)
        session.commit()
    closed = resident.get(url).text
    assert 'id="add-photo"' not in closed and 'alt="第 1 张照片：现场.jpg"' in closed
    late = resident.post(f"{url}/photos", files={"photos": ("p.png", png(), "image/png")})
    assert late.status_code == 409 and "工单已办结归档" in late.text
    stranger = town.client_as("resident", OTHER_GRID)
    outside = stranger.post(f"{url}/photos", files={"photos": ("p.png", png(), "image/png")})
    assert outside.status_code == 404
    assert tickets_and_photos(town) == (1, 1) and len(stored_files(town)) == 1
