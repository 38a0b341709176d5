"""一村一册, the village book: households by grid with members, care levels and tags, as JSON,
a page and a PDF; scope, masking, the level filter, paging and the PDF's pages. Storage tests
run on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import re
import zlib
from datetime import date
from typing import Any

import pytest
from sqlmodel import select

from core.archives import village_book
from core.archives.village_book import ROWS_PER_PAGE, layout
from core.audit.models import AuditEntry

COUNTY, TOWNSHIP = "330802000000", "330802001000"
VILLAGE = "330802001001"
GRID_A, GRID_B = f"{VILLAGE}001", f"{VILLAGE}002"
OTHER_GRID = "330802002001001"  # a grid of another township
API = "/api/v1/archives"
BOOK, PAGE, PDF = f"{API}/village-book", "/archives/village-book", "/archives/village-book.pdf"
MAN = "330802199001011232"  # born 1990-01-01, male
GIRL = "330802201506010024"  # born 2015-06-01, female
PHONE = "13812345678"
SCOPED_PATHS = {BOOK, PAGE, PDF}  # test_scope_a_grid_worker_opens_its_grid_and_a_county_is_422


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


def born(age: int) -> str:
    """A birth date giving exactly ``age`` today (1 January never lies ahead)."""
    return date(date.today().year - age, 1, 1).isoformat()


def create(client, kind: str, body: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    answer = client.post(f"{API}/{kind}", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def household(sanmin, grid: str, number: str, *members: dict[str, Any]) -> list[int]:  # type: ignore[no-untyped-def]
    """A household in ``grid`` with ``members`` (the first is the head); their ids."""
    home = create(
        sanmin.client, "households", {"number": number, "address": f"{number}号", "unit_code": grid}
    )
    return [
        create(
            sanmin.client,
            "persons",
            {"household_id": home["id"], "relation": "head" if n == 0 else "spouse"} | m,
        )["id"]
        for n, m in enumerate(members)
    ]


def elder(name: str, age: int) -> dict[str, Any]:
    return {"name": name, "gender": "female", "birth_date": born(age)}


def profile(sanmin, pid: int, **values: Any) -> None:  # type: ignore[no-untyped-def]
    body = {"children": "same_city", "adl": "self", "risk": False, "econ": "general"} | values
    answer = sanmin.client.put(f"{API}/care/persons/{pid}/profile", json=body)
    assert answer.status_code == 200, answer.text


@pytest.fixture
def world(sanmin):  # type: ignore[no-untyped-def]
    """Village 330802001001: grid A holds VB101 (green head and a spouse without a level),
    VB102 (a red 孤寡 elder, tagged), VB103 (a yellow and a green member) and VB104 (no
    members); grid B holds VB201 (a man with ID number and phone, and his daughter). Another
    township's grid holds VB901."""
    for code in (GRID_A, GRID_B, OTHER_GRID):
        sanmin.unit(code)
    green, _ = household(sanmin, GRID_A, "VB101", elder("张大爷", 65), elder("张大妈", 64))
    (red,) = household(sanmin, GRID_A, "VB102", elder("李奶奶", 82))
    yellow, green_too = household(sanmin, GRID_A, "VB103", elder("赵爷爷", 70), elder("赵奶奶", 72))
    household(sanmin, GRID_A, "VB104")
    household(
        sanmin,
        GRID_B,
        "VB201",
        {"name": "王大", "id_number": MAN, "phone": PHONE},
        {"name": "王小", "id_number": GIRL, "relation": "child"},
    )
    household(sanmin, OTHER_GRID, "VB901", elder("钱奶奶", 90))
    profile(sanmin, green)
    profile(sanmin, red, children="none")
    profile(sanmin, yellow, children="away")
    profile(sanmin, green_too)
    tagged = sanmin.client.post(
        f"{API}/care/persons/{red}/tags", json={"tag": "gugua", "reason": "无子女"}
    )
    assert tagged.status_code == 201, tagged.text
    return sanmin


def numbers(answer) -> list[str]:  # type: ignore[no-untyped-def]
    assert answer.status_code == 200, answer.text
    return [h["number"] for h in answer.json()["households"]]


def error_fields(answer) -> list[str]:  # type: ignore[no-untyped-def]
    assert answer.status_code == 422, answer.text
    return [str(e["loc"][-1]) for e in answer.json()["detail"]]


def pdf_strings(data: bytes) -> list[str]:
    """The text drawn in a PDF written by reportlab: each page stream is ASCII85 and Flate
    encoded, each string a literal in the font's UCS-2 (UTF-16BE) encoding."""
    escapes = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}

    def unescape(match: re.Match[bytes]) -> bytes:
        code = match[1]
        return bytes([int(code, 8)]) if code[:1].isdigit() else escapes.get(code, code)

    found = []
    for stream in re.findall(rb"stream\r?\n(.*?)~>\s*endstream", data, re.S):
        content = zlib.decompress(base64.a85decode(stream))
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", content, re.S):
            raw = re.sub(rb"\\([0-7]{3}|.)", unescape, literal, flags=re.S)
            found.append(raw.decode("utf-16-be"))
    return found


def sensitive_reads(sanmin, username: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    """The audited sensitive reads of account ``username``."""
    with sanmin.session() as session:
        query = select(AuditEntry).where(
            AuditEntry.action == "read.archive.read_sensitive",
            AuditEntry.actor == f"account:{username}",
        )
        return list(session.exec(query))


def test_the_book_shows_households_by_grid_masked_even_to_a_sensitive_reader(world) -> None:  # type: ignore[no-untyped-def]
    cadre = world.client_as("village_cadre", VILLAGE, "cadre")  # holds archive.read_sensitive
    answer = cadre.get(BOOK, params={"unit": VILLAGE})
    assert numbers(answer) == ["VB101", "VB102", "VB103", "VB104", "VB201"]
    book = answer.json()
    assert book["unit"] == {
        "code": VILLAGE,
        "name": f"测试村社区{VILLAGE}",
        "level": "village",
        "level_label": "村社区",
    }
    assert (book["masked"], book["next"], book["limit"]) == (True, None, 50)
    homes = {h["number"]: h for h in book["households"]}
    assert [h["grid_code"] for h in book["households"]] == [GRID_A] * 4 + [GRID_B]
    # the household's level is the highest of its members'; tags come from the members
    assert {n: h["care_level"] for n, h in homes.items()} == {
        "VB101": "green",
        "VB102": "red",
        "VB103": "yellow",
        "VB104": None,
        "VB201": None,
    }
    assert homes["VB102"]["care_level_label"] == "红（重点）"
    assert homes["VB102"]["tags"] == [{"tag": "gugua", "label": "孤寡老人"}]
    assert [m["care_level"] for m in homes["VB103"]["members"]] == ["yellow", "green"]
    assert [m["care_level"] for m in homes["VB101"]["members"]] == ["green", None]
    assert homes["VB104"]["members"] == []
    man, girl = homes["VB201"]["members"]
    assert (man["name"], man["relation_label"], man["gender_label"], man["minor"]) == (
        "王大",
        "户主",
        "男",
        False,
    )
    assert (man["id_number"], man["phone"]) == ("330802********1232", "138****5678")
    assert (girl["relation_label"], girl["gender_label"], girl["minor"]) == ("子女", "女", True)
    assert girl["age"] == date.today().year - 2015 - (date.today() < date(date.today().year, 6, 1))
    assert MAN not in answer.text and GIRL not in answer.text and PHONE not in answer.text

    page = cadre.get(PAGE, params={"unit": VILLAGE})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    html = page.text
    assert f"网格：测试网格{GRID_A}（{GRID_A}）" in html and f"（{GRID_B}）" in html
    assert html.index("VB101") < html.index("VB104") < html.index("VB201")
    assert "330802********1232" in html and "138****5678" in html and "未成年" in html
    assert MAN not in html and PHONE not in html
    assert "@media print" in html and f'href="/archives/village-book.pdf?unit={VILLAGE}"' in html
    assert f"?unit={VILLAGE}&amp;level=red" in html  # the 红/黄/绿 filter
    assert sensitive_reads(world, "cadre") == []  # the book never unmasks, so nothing is audited
    household_file = cadre.get(f"{API}/households/{homes['VB201']['id']}").json()
    assert household_file["members"][0]["id_number"] == MAN  # the household file unmasks…
    assert len(sensitive_reads(world, "cadre")) == 1  # …and audits that read


def test_the_level_filter_grid_filter_and_paging(world) -> None:  # type: ignore[no-untyped-def]
    worker = world.client_as("grid_worker", VILLAGE)

    def listed(**params: Any) -> list[str]:
        return numbers(worker.get(BOOK, params={"unit": VILLAGE} | params))

    # a household with a member at the level, whatever its other members' levels
    assert listed(level="red") == ["VB102"]
    assert listed(level="yellow") == ["VB103"]
    assert listed(level="green") == ["VB101", "VB103"]
    assert listed(grid=GRID_B) == ["VB201"]
    assert listed(grid=GRID_A, level="green") == ["VB101", "VB103"]
    pages = [worker.get(BOOK, params={"unit": VILLAGE, "limit": 2, "offset": o}) for o in (0, 2, 4)]
    assert [numbers(p) for p in pages] == [["VB101", "VB102"], ["VB103", "VB104"], ["VB201"]]
    assert [p.json()["next"] for p in pages] == [2, 4, None]
    assert error_fields(worker.get(BOOK, params={"unit": VILLAGE, "level": "blue"})) == ["level"]
    assert error_fields(worker.get(BOOK, params={"unit": VILLAGE, "limit": 201})) == ["limit"]
    assert error_fields(worker.get(BOOK, params={"unit": VILLAGE, "grid": OTHER_GRID})) == ["grid"]
    assert error_fields(worker.get(BOOK, params={"unit": VILLAGE, "grid": VILLAGE})) == ["grid"]
    assert error_fields(worker.get(BOOK, params={"unit": "33080200100"})) == ["unit"]
    assert error_fields(worker.get(BOOK)) == ["unit"]

    red = worker.get(PAGE, params={"unit": VILLAGE, "level": "red"}).text
    assert "VB102" in red and "VB101" not in red and "VB103" not in red
    assert 'aria-current="page"><span class="level level-red">' in red
    last = worker.get(PAGE, params={"unit": VILLAGE, "offset": 4}).text
    assert "VB201" in last and "VB104" not in last and "上一页" in last and "下一页" not in last


def test_scope_a_grid_worker_opens_its_grid_and_a_county_is_422(world) -> None:  # type: ignore[no-untyped-def]
    grid_worker = world.client_as("grid_worker", GRID_A)
    assert numbers(grid_worker.get(BOOK, params={"unit": GRID_A})) == [
        "VB101",
        "VB102",
        "VB103",
        "VB104",
    ]
    # the village's book belongs to those who hold the village: 404, as for an unknown unit
    for unit in (VILLAGE, GRID_B, OTHER_GRID, COUNTY, "330802001009"):
        assert grid_worker.get(BOOK, params={"unit": unit}).status_code == 404, unit
    assert grid_worker.get(PAGE, params={"unit": VILLAGE}).status_code == 404
    assert grid_worker.get(PDF, params={"unit": VILLAGE}).status_code == 404
    for path in sorted(SCOPED_PATHS):
        world.assert_scoped(
            "GET",
            path,
            role="village_cadre",
            inside=VILLAGE,
            outside="330802002001",
            params={"unit": VILLAGE},
        )
    assert world.client.get(BOOK, params={"unit": "330802001009"}).status_code == 404  # unknown
    county = world.client_as("county_admin", COUNTY)
    for unit in (COUNTY, TOWNSHIP):
        assert error_fields(county.get(BOOK, params={"unit": unit})) == ["unit"]
    assert numbers(county.get(BOOK, params={"unit": GRID_B})) == ["VB201"]
    resident = world.client_as("resident", GRID_A)
    assert resident.get(BOOK, params={"unit": GRID_A}).status_code == 404
    assert world.anonymous.get(BOOK, params={"unit": GRID_A}).status_code == 401

    # without a unit the page lists the books the viewer may open; the menu links to it
    chooser = grid_worker.get(PAGE)
    assert chooser.status_code == 200
    assert f"?unit={GRID_A}" in chooser.text and f'?unit={VILLAGE}"' not in chooser.text
    assert 'href="/archives/village-book">一村一册</a>' in chooser.text


def test_the_pdf_holds_the_whole_book_masked_and_is_capped(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cadre = world.client_as("village_cadre", VILLAGE, "cadre")
    answer = cadre.get(PDF, params={"unit": VILLAGE})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    disposition = answer.headers["content-disposition"]
    assert f'filename="village-book-{VILLAGE}.pdf"' in disposition
    assert "filename*=UTF-8''%E4%B8%80%E6%9D%91%E4%B8%80%E5%86%8C" in disposition  # 一村一册
    data = answer.content
    assert data.startswith(b"%PDF-")
    book = cadre.get(BOOK, params={"unit": VILLAGE, "limit": 200}).json()
    pages = layout(book)
    assert re.search(rb"/Count %d\b" % len(pages), data)
    laid = [line.cells[0] for page in pages for line in page if line.kind == "household"]
    assert laid == [f"户号 {n}" for n in ("VB101", "VB102", "VB103", "VB104", "VB201")]
    text = pdf_strings(data)
    assert [s for s in text if s.startswith("户号 ")] == laid
    assert "330802********1232" in text and "138****5678" in text and "王小（未成年）" in text
    assert f"网格：测试网格{GRID_A}（{GRID_A}）" in text and "孤寡老人" in text
    assert not [s for s in text if MAN in s or GIRL in s or PHONE in s]
    assert sensitive_reads(world, "cadre") == []

    red = cadre.get(PDF, params={"unit": VILLAGE, "level": "red"})
    assert [s for s in pdf_strings(red.content) if s.startswith("户号 ")] == ["户号 VB102"]
    assert "village-book-330802001001-red.pdf" in red.headers["content-disposition"]
    monkeypatch.setattr(village_book, "PDF_CAP", 4)
    assert error_fields(cadre.get(PDF, params={"unit": VILLAGE})) == ["unit"]
    assert cadre.get(PDF, params={"unit": VILLAGE, "grid": GRID_B}).status_code == 200


def member(n: int) -> dict[str, Any]:
    return {
        "name": f"成员{n}",
        "minor": False,
        "relation_label": "户主",
        "gender_label": "男",
        "age": 40,
        "id_number": None,
        "phone": None,
        "care_level_label": None,
        "tags": [],
    }


def test_the_layout_keeps_a_household_on_one_page_and_repeats_the_grid_heading() -> None:
    households = [
        {
            "number": f"H{n:03d}",
            "address": "很长的地址" * 40,
            "grid_code": GRID_A if n < 30 else GRID_B,
            "grid_name": "一号网格" if n < 30 else "二号网格",
            "care_level_label": None,
            "tags": [],
            "members": [member(k) for k in range(n % 4)],
        }
        for n in range(40)
    ]
    big = [member(k) for k in range(ROWS_PER_PAGE + 5)]
    households.append(households[-1] | {"number": "BIG", "members": big})
    pages = layout({"households": households})
    assert len(pages) > 3 and all(len(page) <= ROWS_PER_PAGE for page in pages)
    for page in pages[1:]:  # each page opens with its grid's heading (continued or new)
        assert page[0].kind == "grid" and page[1].kind == "columns"
    on_pages: dict[str, set[int]] = {}  # the pages holding each household's lines
    current = ""
    for index, page in enumerate(pages):
        for line in page:
            current = line.cells[0] if line.kind == "household" else current
            if line.kind in ("household", "member", "note"):
                on_pages.setdefault(current, set()).add(index)
    assert list(on_pages) == [f"户号 H{n:03d}" for n in range(40)] + ["户号 BIG"]
    assert all(len(on_pages[f"户号 H{n:03d}"]) == 1 for n in range(40))
    first, then = sorted(on_pages["户号 BIG"])  # longer than a page: it goes on, 续
    assert pages[then][0].cells[0] == "网格：二号网格（330802001001002）（续）"
    assert pages[first][0].cells[0] == "网格：二号网格（330802001001002）（续）"
    assert sum(line.kind == "member" for p in pages for line in p if "成员" in line.cells[0]) == (
        sum(len(h["members"]) for h in households)
    )
    assert layout({"households": []}) == [[village_book.BookLine("note", ("没有符合条件的户。",))]]
