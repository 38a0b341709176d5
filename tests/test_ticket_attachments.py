"""Photos of a ticket (``/api/v1/tickets/{id}/attachments``): told by their bytes, bounded in
size and number, written whole under a random name with their sha256, read back as they were,
for the reporter and the staff who may read the ticket only. On SQLite and PostgreSQL; the
directory is the test's own."""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from core.audit.models import AuditEntry
from core.settings import Settings
from core.testing import all_routes
from core.tickets import attachments
from core.tickets.models import TicketAttachment
from tests.test_tickets_api import API, GRID, NOW, OTHER_GRID, locations, submit

LIMIT = 4096
SCOPED_PATHS = {
    "/api/v1/tickets/{ticket_id}/attachments",
    "/api/v1/tickets/{ticket_id}/attachments/{attachment_id}",
}


def png(width: int = 1, height: int = 1, padding: int = 0) -> bytes:
    """A valid grey PNG; ``padding`` adds an ancillary text chunk of that many bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    text = chunk(b"tEXt", b"c\x00" + b"x" * padding) if padding else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + text
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# start of image, a JFIF APP0 segment, end of image
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
WEBP = b"RIFF" + struct.pack("<I", 4) + b"WEBPVP8 "
HEIC = struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00mif1heic"


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def sanmin_settings(sanmin_database_url: str, tmp_path: Path) -> Settings:
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


def stored_files(sanmin) -> list[Path]:  # type: ignore[no-untyped-def]
    root = Path(sanmin.kernel.settings.attachment_dir)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def upload(client, ticket_id: int, data: bytes, name: str = "p.png", kind: str = "image/png"):  # type: ignore[no-untyped-def]
    return client.post(f"{API}/{ticket_id}/attachments", files={"file": (name, data, kind)})


def attached(client, ticket_id: int, data: bytes, **kwargs: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    answer = upload(client, ticket_id, data, **kwargs)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_the_default_settings() -> None:
    defaults = Settings()
    assert defaults.attachment_max_bytes == 10 * 1024 * 1024
    assert defaults.attachment_dir == Path("attachments")


def test_a_photo_is_stored_whole_and_read_back_as_it_was(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    worker = town.client_as("grid_worker", GRID)
    ticket = submit(resident)
    image = png(2, 2)
    photo = attached(resident, ticket["id"], image, name="路灯 照片.png")
    assert photo["content_type"] == "image/png" and photo["size"] == len(image)
    assert photo["sha256"] == hashlib.sha256(image).hexdigest()
    assert photo["filename"] == "路灯 照片.png"
    for reader in (resident, worker):
        back = reader.get(photo["url"])
        assert back.status_code == 200, back.text
        assert back.content == image
        assert back.headers["content-type"] == "image/png"
        assert back.headers["x-content-type-options"] == "nosniff"
        disposition = back.headers["content-disposition"]
        assert disposition.startswith("inline;") and "%E8%B7%AF%E7%81%AF" in disposition
    shot = attached(worker, ticket["id"], JPEG, name="C:\\fakepath\\现场.jpg", kind="image/jpeg")
    assert (shot["content_type"], shot["filename"]) == ("image/jpeg", "现场.jpg")
    detail = resident.get(f"{API}/{ticket['id']}").json()
    assert [a["id"] for a in detail["attachments"]] == [photo["id"], shot["id"]]
    assert "actor" not in detail["attachments"][0]
    files = stored_files(town)
    assert len(files) == 2 and all(not f.name.startswith(".") for f in files)
    with town.session() as session:
        rows = session.exec(select(TicketAttachment).order_by(TicketAttachment.id)).all()
        assert [r.sha256 for r in rows] == [hashlib.sha256(f).hexdigest() for f in (image, JPEG)]
        assert {attachments.stored_path(files[0].parents[1], r.stored_name) for r in rows} == set(
            files
        )
        audited = session.exec(select(AuditEntry).where(AuditEntry.action == "ticket.attach"))
        assert [e.target_id for e in audited] == [str(ticket["id"])] * 2


def test_the_type_is_told_by_the_bytes_not_the_name(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    ticket = submit(resident)
    text = upload(resident, ticket["id"], b"just some text\n", name="photo.jpg", kind="image/jpeg")
    assert text.status_code == 415 and text.json()["detail"].startswith("file:")
    html = upload(resident, ticket["id"], b"<html><script>", name="x.png", kind="image/png")
    assert html.status_code == 415
    disguised = attached(resident, ticket["id"], png(), name="notes.txt", kind="text/plain")
    assert disguised["content_type"] == "image/png"
    assert attached(resident, ticket["id"], WEBP, name="a.webp")["content_type"] == "image/webp"
    assert attached(resident, ticket["id"], HEIC, name="a.heic")["content_type"] == "image/heic"
    assert len(stored_files(town)) == 3


def test_a_photo_over_the_limit_is_413_and_leaves_nothing(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    ticket = submit(resident)
    just = png(padding=LIMIT - len(png(padding=1)) + 1)
    assert len(just) == LIMIT
    assert attached(resident, ticket["id"], just)["size"] == LIMIT
    over = upload(resident, ticket["id"], png(padding=LIMIT))
    assert over.status_code == 413 and over.json()["detail"].startswith("file:")
    announced = upload(resident, ticket["id"], png(padding=LIMIT + attachments.FORM_SLACK))
    assert announced.status_code == 413 and announced.json()["detail"].startswith("file:")
    assert len(stored_files(town)) == 1
    with town.session() as session:
        assert len(session.exec(select(TicketAttachment)).all()) == 1


def test_the_tenth_photo_is_refused(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    ticket = submit(resident)
    for _ in range(attachments.MAX_PER_TICKET):
        attached(resident, ticket["id"], png())
    assert locations(upload(resident, ticket["id"], png())) == [["body", "file"]]
    assert len(stored_files(town)) == attachments.MAX_PER_TICKET


def test_bad_requests_name_the_file_field(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    ticket = submit(resident)
    url = f"{API}/{ticket['id']}/attachments"
    assert locations(resident.post(url, data={"other": "x"}, files={"x": ("a", b"b")})) == [
        ["body", "file"]
    ]
    assert locations(resident.post(url, json={"file": "x"})) == [["body", "file"]]
    two = [("file", ("a.png", png(), "image/png")), ("file", ("b.png", png(), "image/png"))]
    assert locations(resident.post(url, files=two)) == [["body", "file"]]
    assert locations(resident.post(url, data={"file": "not a file"})) == [["body", "file"]]
    assert locations(
        resident.post(
            url, content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data"}
        )
    ) == [["body", "file"]]
    assert resident.get(f"{url}/99999999999").status_code == 422
    assert resident.get(f"{url}/12345").status_code == 404
    assert stored_files(town) == []


def test_strangers_get_404_and_closed_tickets_take_no_photos(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    ticket = submit(resident)
    photo = attached(resident, ticket["id"], png())
    for stranger in (
        town.client_as("resident", GRID),  # a neighbour: not the reporter
        town.client_as("grid_worker", OTHER_GRID),
    ):
        assert upload(stranger, ticket["id"], png()).status_code == 404
        assert stranger.get(photo["url"]).status_code == 404
    other = submit(town.client_as("resident", GRID))
    wrong = f"{API}/{other['id']}/attachments/{photo['id']}"
    assert town.client_as("grid_worker", GRID).get(wrong).status_code == 404
    cancelled = resident.post(f"{API}/{ticket['id']}/cancel", json={"version": 1, "reason": "好了"})
    assert cancelled.status_code == 200
    closed = upload(resident, ticket["id"], png())
    assert closed.status_code == 409 and closed.json()["detail"].startswith("file:")
    assert town.anonymous.get(photo["url"]).status_code == 401
    assert len(stored_files(town)) == 1


def test_the_file_is_removed_when_the_row_is_not_committed(town, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID)
    ticket = submit(resident)

    def refuse(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(attachments, "record", refuse)
    with pytest.raises(RuntimeError, match="went away"):
        upload(resident, ticket["id"], png())
    assert stored_files(town) == []
    with town.session() as session:
        assert session.exec(select(TicketAttachment)).all() == []


def test_every_route_answers_404_outside_the_scope(town) -> None:  # type: ignore[no-untyped-def]
    ours = {path for path, _ in all_routes(town.app) if "/attachments" in path}
    assert ours == SCOPED_PATHS
    ticket = submit(town.client_as("resident", GRID))
    url = f"{API}/{ticket['id']}/attachments"
    made = town.assert_scoped(
        "POST",
        url,
        role="grid_worker",
        inside=GRID,
        outside=OTHER_GRID,
        files={"file": ("p.png", png(), "image/png")},
    )
    town.assert_scoped(
        "GET",
        f"{url}/{made.json()['id']}",
        role="grid_worker",
        inside=GRID,
        outside=OTHER_GRID,
    )
