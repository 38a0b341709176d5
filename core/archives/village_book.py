"""一村一册, the village book: households and their members by grid, as JSON, a page and a
printable PDF.

* ``GET /api/v1/archives/village-book?unit=&level=&grid=&limit=&offset=`` — a page of the
  book as JSON; ``GET /archives/village-book`` — the same page grouped by grid, with a
  红/黄/绿 filter and a print stylesheet; ``GET /archives/village-book.pdf`` — the whole
  book (at most :data:`PDF_CAP` households) as a PDF.
* The book is per village: ``unit`` is a village/community or one of its grids. A unit above
  (township, county…) is a 422 naming ``unit``.
* Scope: the actor needs ``archive.read`` at ``unit`` itself (a role held there or above); an
  unknown unit and one outside the scope are the same 404. So a grid worker asks for its
  grid: asking for its village is a 404, as the book of a village belongs to those who hold
  the whole village (a partial book printed under the village's name would mislead).
* Privacy: ID numbers and phones are always masked, even for an actor holding
  ``archive.read_sensitive`` (a printed book travels), so reading the book writes no audit
  entry; care inputs (health, welfare) are not shown, only the level in force and the tags.
* The read path is two prebuilt Core statements with the scope as bound values
  (:func:`core.bound_scope_clause`): the unit, then the page of households joined to their
  members, each member's current care assessment and tags, in (grid, 户号) order. No ORM
  objects, no query per household.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from typing import Annotated, Any, Literal, cast
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from pydantic_core import to_json
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Select,
    Table,
    and_,
    bindparam,
    false,
    func,
    select,
    true,
)
from starlette.concurrency import run_in_threadpool

from core.archives import service
from core.archives.care import LEVELS, TAGS, ArchiveCareAssessment, ArchivePersonTag
from core.archives.crypto import ArchiveCipher, cipher_for
from core.archives.disclosure import masked_id_number
from core.archives.idnumbers import mask_phone
from core.archives.models import GENDERS, RELATIONS, ArchiveHousehold, ArchivePerson
from core.identity.access import (
    AccessCatalog,
    Actor,
    bound_scope_clause,
    scope_parameters,
    scope_ranges,
)
from core.identity.web import require_actor
from core.units.codes import Level, UnitCodeError, parse_code, path_upper_bound
from core.units.models import Unit
from core.units.service import OutOfScope
from core.web.inputs import Offset
from core.web.menu import MenuLink
from core.web.render import render

api = APIRouter(prefix="/archives", tags=["archives"])
pages = APIRouter(prefix="/archives", dependencies=[Depends(require_actor)])
MENU: list[MenuLink] = [
    MenuLink(href="/archives/village-book", label="一村一册", order=210, permission=service.READ)
]

PAGE = 50  # households per page, by default
MAX_PAGE = 200
PDF_CAP = 5_000  # households in one PDF: past it, print the book by grid or by level
CHOOSER_LIMIT = 300  # units listed on the page that asks which book to open
BOOK_LEVELS = frozenset({Level.village, Level.grid})
SEVERITY = {"red": 0, "yellow": 1, "green": 2}

Viewer = Annotated[Actor, Depends(require_actor)]
CareLevel = Annotated[
    Literal["red", "yellow", "green"] | None,
    Query(description="有该关爱等级成员的户 / households with a member at this level"),
]
UnitParam = Annotated[str, Query(max_length=15, description="村社区或网格代码 / village or grid")]
GridParam = Annotated[
    str | None, Query(max_length=15, description="只看该网格 / one grid of the unit")
]

HOUSEHOLDS = cast(Table, ArchiveHousehold.__table__)
PERSONS = cast(Table, ArchivePerson.__table__)
ASSESSMENTS = cast(Table, ArchiveCareAssessment.__table__)
PERSON_TAGS = cast(Table, ArchivePersonTag.__table__)
UNITS = cast(Table, Unit.__table__)


# -- the statements ------------------------------------------------------------------------


def in_force(assessment: FromClause) -> ColumnElement[bool]:
    """The assessment row is the one in force. Wrapped in ``coalesce`` so that no planner
    reads it through the low-selectivity index on ``current`` (SQLite does, scanning every
    current assessment per member) instead of the one on ``person_id``."""
    return func.coalesce(assessment.c.current, false()) == true()


@functools.cache
def unit_statement(ranges: int) -> Select:  # type: ignore[type-arg]
    """The unit ``:code`` (code, name, level) if it lies within ``ranges`` scope ranges."""
    return select(UNITS.c.code, UNITS.c.name, UNITS.c.level).where(
        UNITS.c.code == bindparam("code"), bound_scope_clause(UNITS.c.code, ranges)
    )


@functools.cache
def chooser_statement(ranges: int) -> Select:  # type: ignore[type-arg]
    """Villages and grids within ``ranges`` scope ranges, in tree order (``:limit``)."""
    return (
        select(UNITS.c.code, UNITS.c.name, UNITS.c.level)
        .where(
            UNITS.c.level.in_([Level.village.value, Level.grid.value]),
            bound_scope_clause(UNITS.c.code, ranges),
        )
        .order_by(UNITS.c.path)
        .limit(bindparam("limit"))
    )


@functools.cache
def book_statement(ranges: int, by_level: bool) -> Select:  # type: ignore[type-arg]
    """A page of households (``:limit``, ``:offset``) whose grid lies in ``[:low, :high)``
    and within ``ranges`` scope ranges, optionally only those with a member whose care level
    in force is ``:level``; joined to their grid's name, their members, each member's
    current level and tags. One row per (household, member, tag), in (grid, 户号, member,
    tag) order; a household without members is one row of ``NULL`` member columns."""
    h = HOUSEHOLDS
    page = select(h.c.id, h.c.number, h.c.address, h.c.unit_code).where(
        h.c.unit_code >= bindparam("low"),
        h.c.unit_code < bindparam("high"),
        bound_scope_clause(h.c.unit_code, ranges),
    )
    if by_level:
        member, assessment = PERSONS.alias("level_member"), ASSESSMENTS.alias("level_assessment")
        page = page.where(
            select(member.c.id)
            .join(assessment, assessment.c.person_id == member.c.id)
            .where(
                member.c.household_id == h.c.id,
                in_force(assessment),
                assessment.c.level == bindparam("level"),
            )
            .exists()
        )
    paged = (
        page.order_by(h.c.unit_code, h.c.number)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .subquery("page")
    )
    p, a, t = PERSONS, ASSESSMENTS, PERSON_TAGS
    joined = (
        paged.join(UNITS, UNITS.c.code == paged.c.unit_code)
        .outerjoin(p, p.c.household_id == paged.c.id)
        .outerjoin(a, and_(a.c.person_id == p.c.id, in_force(a)))
        .outerjoin(t, t.c.person_id == p.c.id)
    )
    return (
        select(
            paged.c.id.label("household_id"),
            paged.c.number,
            paged.c.address,
            paged.c.unit_code.label("grid_code"),
            UNITS.c.name.label("grid_name"),
            p.c.id.label("person_id"),
            p.c.name,
            p.c.gender,
            p.c.birth_date,
            p.c.id_cipher,
            p.c.phone,
            p.c.relation,
            a.c.level,
            t.c.tag,
        )
        .select_from(joined)
        .order_by(paged.c.unit_code, paged.c.number, p.c.id, t.c.tag)
    )


# -- reading the book ----------------------------------------------------------------------


def _invalid(field: str, message: str) -> RequestValidationError:
    """A 422 naming query parameter ``field``."""
    return RequestValidationError(
        [{"loc": ("query", field), "msg": message, "type": "value_error"}]
    )


def _code(value: str, field: str) -> str:
    """``value`` as a canonical unit code, or a 422 naming ``field``."""
    try:
        return parse_code(value).code
    except UnitCodeError as exc:
        raise _invalid(field, str(exc)) from None


def book_unit(conn: Connection, scope: list[tuple[str, str]], unit: str) -> dict[str, Any]:
    """The unit of a book if it lies within ``scope`` (the actor's ``archive.read`` ranges,
    :func:`core.identity.access.scope_ranges`): 404 (:class:`OutOfScope`) when it is unknown
    or outside, 422 naming ``unit`` when it is above a village."""
    code = _code(unit, "unit")
    values = {"code": code, **scope_parameters(scope)}
    found = conn.execute(unit_statement(len(scope)), values).first()
    if found is None:
        raise OutOfScope(code)
    level = Level(found.level)
    if level not in BOOK_LEVELS:
        raise _invalid(
            "unit",
            f"一村一册按村社区编制，{level.label}请选择其下的村社区或网格 / "
            "the book is per village: choose a village/community or a grid",
        )
    return {
        "code": found.code,
        "name": found.name,
        "level": level.value,
        "level_label": level.label,
    }


def _grid(unit_code: str, grid: str | None) -> str | None:
    """``grid`` as a canonical code, when given: 422 naming ``grid`` unless it is a grid of
    the unit ``unit_code`` (or that grid itself)."""
    if grid is None:
        return None
    parsed = parse_code(_code(grid, "grid"))
    if parsed.level is not Level.grid or not parsed.code.startswith(parse_code(unit_code).path):
        raise _invalid("grid", f"不是 {unit_code} 下的网格 / not a grid of the unit")
    return parsed.code


def _tag(code: str) -> dict[str, str]:
    return {"tag": code, "label": TAGS[code].label if code in TAGS else code}


def _highest(levels: list[str | None]) -> str | None:
    present = [level for level in levels if level is not None]
    return min(present, key=SEVERITY.__getitem__) if present else None


def _member(row: Any, cipher: ArchiveCipher, today: date) -> dict[str, Any]:
    """A member (columns 5 to 12 of the book statement) as the book shows it: ID number and
    phone always masked."""
    pid, name, gender, born, id_cipher, phone, relation, level = row[5:13]
    age = service.age_on(born, today)
    return {
        "id": pid,
        "name": name,
        "relation": relation,
        "relation_label": RELATIONS.get(relation, relation),
        "gender": gender,
        "gender_label": GENDERS.get(gender, gender),
        "age": age,
        "minor": age < service.ADULT_AGE,
        "id_number": masked_id_number(cipher, id_cipher) if id_cipher else None,
        "phone": mask_phone(phone) if phone else None,
        "care_level": level,
        "care_level_label": LEVELS[level] if level else None,
        "tags": [],
    }


def _households(rows: list[Any], cipher: ArchiveCipher, today: date) -> list[dict[str, Any]]:
    """Fold the book statement's rows (household, member, tag) into households."""
    households: list[dict[str, Any]] = []
    household: dict[str, Any] = {}
    member: dict[str, Any] = {}
    for row in rows:
        hid, pid, tag = row[0], row[5], row[13]
        if not household or household["id"] != hid:
            household = {
                "id": hid,
                "number": row[1],
                "address": row[2],
                "grid_code": row[3],
                "grid_name": row[4],
                "members": [],
            }
            households.append(household)
            member = {}
        if pid is None:
            continue
        if not member or member["id"] != pid:
            member = _member(row, cipher, today)
            household["members"].append(member)
        if tag is not None:
            member["tags"].append(_tag(tag))
    for household in households:
        level = _highest([m["care_level"] for m in household["members"]])
        codes = {t["tag"] for m in household["members"] for t in m["tags"]}
        household["care_level"] = level
        household["care_level_label"] = LEVELS[level] if level else None
        household["tags"] = [_tag(code) for code in sorted(codes, key=_catalog_order)]
    return households


TAG_ORDER = {code: n for n, code in enumerate(TAGS)}


def _catalog_order(code: str) -> tuple[int, str]:
    return (TAG_ORDER.get(code, len(TAG_ORDER)), code)


def read_book(
    conn: Connection,
    actor: Actor,
    catalog: AccessCatalog,
    cipher: ArchiveCipher,
    *,
    unit: str,
    level: str | None,
    grid: str | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """A page of the village book of ``unit`` as ``actor`` may read it (masked, so not
    audited): the unit, and up to ``limit`` households after ``offset`` in (grid, 户号)
    order, each with its members, care level and tags; ``next`` is the offset of the next
    page, ``None`` on the last. Two statements: the unit, then the page."""
    scope = scope_ranges(actor, catalog, service.READ)
    shown = book_unit(conn, scope, unit)
    grid_code = _grid(shown["code"], grid)
    path = parse_code(grid_code or shown["code"]).path
    values: dict[str, Any] = {
        "low": path,
        "high": path_upper_bound(path),
        "limit": limit + 1,
        "offset": offset,
        **scope_parameters(scope),
    }
    if level is not None:
        values["level"] = level
    rows = conn.execute(book_statement(len(scope), level is not None), values).all()
    extra = rows[-1][0] if len({r[0] for r in rows}) > limit else None
    if extra is not None:
        rows = [r for r in rows if r[0] != extra]
    return {
        "unit": shown,
        "level": level,
        "level_label": LEVELS[level] if level else None,
        "grid": grid_code,
        "masked": True,
        "limit": limit,
        "offset": offset,
        "next": offset + limit if extra is not None else None,
        "households": _households(rows, cipher, date.today()),
    }


# -- the JSON API --------------------------------------------------------------------------


@api.get("/village-book", summary="一村一册 / the village book")
async def village_book_api(
    request: Request,
    actor: Viewer,
    unit: UnitParam,
    level: CareLevel = None,
    grid: GridParam = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = PAGE,
    offset: Offset = 0,
) -> Response:
    """一村一册: a page of the households of a village (or of one grid), in (grid, 户号)
    order, with members, care level and tags, optionally only households with a member at
    ``level``. ID numbers and phones are always masked, so no read is audited. 404 for a
    unit outside the caller's ``archive.read`` scope, 422 naming ``unit`` above a village.

    Two indexed reads on the kernel's reserved connection, on the event loop."""
    kernel = request.app.state.kernel
    cipher = cipher_for(kernel)
    with kernel.loop_engine.connect() as conn:
        book = read_book(
            conn,
            actor,
            kernel.access,
            cipher,
            unit=unit,
            level=level,
            grid=grid,
            limit=limit,
            offset=offset,
        )
    # pydantic-core's encoder: a third of the time of ``json.dumps`` for a page of the book
    return Response(to_json(book), media_type="application/json")


# -- the page ------------------------------------------------------------------------------


def by_grid(households: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Households (already in grid order) grouped by grid."""
    groups: list[dict[str, Any]] = []
    for household in households:
        if not groups or groups[-1]["code"] != household["grid_code"]:
            groups.append(
                {"code": household["grid_code"], "name": household["grid_name"], "households": []}
            )
        groups[-1]["households"].append(household)
    return groups


def _query(**values: Any) -> str:
    return urlencode({k: v for k, v in values.items() if v is not None and v != 0})


@pages.get("/village-book", response_class=HTMLResponse)
async def village_book_page(
    request: Request,
    actor: Viewer,
    unit: Annotated[str | None, Query(max_length=15)] = None,
    level: CareLevel = None,
    grid: GridParam = None,
    offset: Offset = 0,
) -> HTMLResponse:
    """一村一册: a page of the book grouped by grid, with a 红/黄/绿 filter, paging and a link
    to the PDF; without ``unit``, the villages and grids the viewer may open. Always masked."""
    kernel = request.app.state.kernel
    if unit is None:
        scope = scope_ranges(actor, kernel.access, service.READ)
        values = {"limit": CHOOSER_LIMIT, **scope_parameters(scope)}
        with kernel.loop_engine.connect() as conn:
            found = conn.execute(chooser_statement(len(scope)), values).all()
        units = [
            {"code": u.code, "name": u.name, "level_label": Level(u.level).label} for u in found
        ]
        return await render(
            request,
            "core/archives_village_book_choose.html",
            {"units": units, "truncated": len(units) == CHOOSER_LIMIT},
        )
    with kernel.loop_engine.connect() as conn:
        book = read_book(
            conn,
            actor,
            kernel.access,
            cipher_for(kernel),
            unit=unit,
            level=level,
            grid=grid,
            limit=PAGE,
            offset=offset,
        )
    code, grid_code = book["unit"]["code"], book["grid"]
    filters = [
        {
            "label": label,
            "level": key,
            "href": "?" + _query(unit=code, grid=grid_code, level=key),
            "current": key == level,
        }
        for key, label in (
            (None, "全部"),
            ("red", LEVELS["red"]),
            ("yellow", LEVELS["yellow"]),
            ("green", LEVELS["green"]),
        )
    ]
    return await render(
        request,
        "core/archives_village_book.html",
        {
            "book": book,
            "groups": by_grid(book["households"]),
            "filters": filters,
            "pdf": "/archives/village-book.pdf?" + _query(unit=code, grid=grid_code, level=level),
            "whole_unit": "?" + _query(unit=code, level=level),
            "grid_link": lambda g: "?" + _query(unit=code, grid=g, level=level),
            "previous": "?"
            + _query(unit=code, grid=grid_code, level=level, offset=max(offset - PAGE, 0))
            if offset
            else None,
            "next": "?" + _query(unit=code, grid=grid_code, level=level, offset=book["next"])
            if book["next"] is not None
            else None,
        },
    )


# -- the PDF -------------------------------------------------------------------------------

FONT = "STSong-Light"  # an Adobe CID font: the viewer supplies the glyphs, no font file needed
PAGE_SIZE = landscape(A4)
MARGIN = 28.0
ROW = 14.0  # points per line
TEXT_SIZE = 9.0
TITLE_SIZE = 13.0
BODY_TOP = PAGE_SIZE[1] - MARGIN - 34
BODY_BOTTOM = MARGIN + 20
ROWS_PER_PAGE = int((BODY_TOP - BODY_BOTTOM) // ROW)
MEMBER_INDENT = 16.0
# (title, width in points) of the member columns, then of the household line's cells.
MEMBER_COLUMNS = (
    ("姓名", 110.0),
    ("与户主关系", 70.0),
    ("性别", 36.0),
    ("年龄", 40.0),
    ("身份证号", 130.0),
    ("联系电话", 90.0),
    ("关爱等级", 74.0),
    ("特殊人群", 0.0),  # the rest of the line
)
# The household line's cells (户号, 地址, the household's level, its tags) span member columns.
HOUSEHOLD_SPANS = ((0, 2), (2, 6), (6, 7), (7, 8))


@dataclass(frozen=True)
class BookLine:
    """One line laid out on a page of the PDF: ``kind`` is ``grid`` (a grid's heading),
    ``columns`` (the member column titles), ``household``, ``member`` or ``note``."""

    kind: str
    cells: tuple[str, ...]


def _household_lines(household: dict[str, Any]) -> list[BookLine]:
    tags = "、".join(t["label"] for t in household["tags"])
    lines = [
        BookLine(
            "household",
            (
                f"户号 {household['number']}",
                household["address"],
                household["care_level_label"] or "",
                tags,
            ),
        )
    ]
    for m in household["members"]:
        name = f"{m['name']}（未成年）" if m["minor"] else m["name"]
        cells = (
            name,
            m["relation_label"],
            m["gender_label"],
            str(m["age"]),
            m["id_number"] or "",
            m["phone"] or "",
            m["care_level_label"] or "",
            "、".join(t["label"] for t in m["tags"]),
        )
        lines.append(BookLine("member", cells))
    if not household["members"]:
        lines.append(BookLine("note", ("这一户还没有登记成员。",)))
    return lines


def _grid_heading(household: dict[str, Any], continued: bool) -> list[BookLine]:
    title = f"网格：{household['grid_name']}（{household['grid_code']}）"
    return [
        BookLine("grid", (f"{title}（续）" if continued else title,)),
        BookLine("columns", tuple(title for title, _ in MEMBER_COLUMNS)),
    ]


def layout(book: dict[str, Any]) -> list[list[BookLine]]:
    """The lines of each page of the book's PDF, as :func:`render_pdf` draws them: by grid
    (a heading and the column titles, repeated with 续 on a page that continues a grid),
    each household's line then its members' lines, kept on one page when they fit on one."""
    pages: list[list[BookLine]] = [[]]
    grid: str | None = None
    for household in book["households"]:
        block = _household_lines(household)
        heading = _grid_heading(household, False) if household["grid_code"] != grid else []
        grid = household["grid_code"]
        if pages[-1] and len(pages[-1]) + len(heading) + len(block) > ROWS_PER_PAGE:
            pages.append([])
            heading = heading or _grid_heading(household, True)
        pages[-1].extend(heading)
        for line in block:
            if len(pages[-1]) >= ROWS_PER_PAGE:
                pages.append(_grid_heading(household, True))
            pages[-1].append(line)
    if not book["households"]:
        pages[0].append(BookLine("note", ("没有符合条件的户。",)))
    return pages


@functools.cache
def _register_font() -> str:
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _fit(text: str, width: float, size: float) -> str:
    """``text`` cut (with …) to ``width`` points; every glyph of the font is at most one
    em wide, so short text is not measured."""
    if len(text) * size <= width or pdfmetrics.stringWidth(text, FONT, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", FONT, size) > width:
        text = text[:-1]
    return text + "…"


def _widths(columns: tuple[tuple[str, float], ...], left: float) -> list[tuple[float, float]]:
    """Each column's ``(x, width)``, the last taking the rest of the line."""
    x, placed = left, []
    right = PAGE_SIZE[0] - MARGIN
    for _, width in columns:
        placed.append((x, (width or right - x) - 6))
        x += width
    return placed


def _spanning(members: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Each household cell's ``(x, width)``, over the member columns of its span (the
    first from the margin: household lines are not indented)."""
    placed = []
    for first, end in HOUSEHOLD_SPANS:
        x = MARGIN if first == 0 else members[first][0]
        placed.append((x, members[end - 1][0] + members[end - 1][1] - x))
    return placed


def _draw_cells(canvas: Canvas, cells: tuple[str, ...], places: list[Any], y: float) -> None:
    for text, (x, width) in zip(cells, places, strict=False):
        if text:
            canvas.drawString(x, y, _fit(text, width, TEXT_SIZE))


def render_pdf(book: dict[str, Any], pages: list[list[BookLine]]) -> bytes:
    """The PDF of ``pages`` (from :func:`layout`): a title on each page, then the lines, and
    the page number with a note that personal numbers are masked."""
    font = _register_font()
    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE_SIZE, invariant=1)
    unit = book["unit"]
    title = f"一村一册：{unit['name']}（{unit['code']}）"
    if book["level_label"]:
        title += f"　有{book['level_label']}成员的户"
    canvas.setTitle(title)
    canvas.setAuthor("三民 Sanmin")
    canvas.setSubject("民情档案：一村一册")
    members = _widths(MEMBER_COLUMNS, MARGIN + MEMBER_INDENT)
    households = _spanning(members)
    left, right = MARGIN, PAGE_SIZE[0] - MARGIN
    printed = f"打印日期 {date.today().isoformat()}"
    for number, lines in enumerate(pages, 1):
        canvas.setFont(font, TITLE_SIZE)
        canvas.drawString(left, PAGE_SIZE[1] - MARGIN - TITLE_SIZE, title)
        canvas.setFont(font, TEXT_SIZE)
        canvas.drawRightString(right, PAGE_SIZE[1] - MARGIN - TITLE_SIZE, printed)
        y = BODY_TOP
        for line in lines:
            if line.kind == "household":
                canvas.setFillGray(0.92)
                canvas.rect(left, y - 3.5, right - left, ROW, stroke=0, fill=1)
                canvas.setFillGray(0)
                _draw_cells(canvas, line.cells, households, y)
            elif line.kind in ("member", "columns"):
                _draw_cells(canvas, line.cells, members, y)
                if line.kind == "columns":
                    canvas.line(left, y - 4, right, y - 4)
            elif line.kind == "grid":
                canvas.setFont(font, TEXT_SIZE + 2)
                canvas.drawString(left, y, _fit(line.cells[0], right - left, TEXT_SIZE + 2))
                canvas.setFont(font, TEXT_SIZE)
            else:
                canvas.drawString(left + MEMBER_INDENT, y, line.cells[0])
            y -= ROW
        footer = f"第 {number} / {len(pages)} 页　身份证号与联系电话已脱敏"
        canvas.drawCentredString(PAGE_SIZE[0] / 2, MARGIN, footer)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _disposition(book: dict[str, Any]) -> str:
    """``inline`` (opens in the browser's viewer, ready to print) with an ASCII file name
    and the Chinese one (RFC 6266 ``filename*``)."""
    parts = [book["unit"]["code"], book["grid"], book["level"]]
    ascii_name = "village-book-" + "-".join(p for p in parts if p) + ".pdf"
    label = f"一村一册-{book['unit']['name']}-" + "-".join(p for p in parts if p) + ".pdf"
    return f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(label)}"


@pages.get("/village-book.pdf", response_class=Response)
async def village_book_pdf(
    request: Request,
    actor: Viewer,
    unit: UnitParam,
    level: CareLevel = None,
    grid: GridParam = None,
) -> Response:
    """The whole book of a village (or one grid) as a PDF, grouped by grid, masked (not
    audited); more than :data:`PDF_CAP` households is a 422 naming ``unit`` (print it by
    grid or by level). Built in the threadpool: a large book takes seconds."""
    kernel = request.app.state.kernel

    def build() -> tuple[bytes, str]:
        with kernel.engine.connect() as conn:
            book = read_book(
                conn,
                actor,
                kernel.access,
                cipher_for(kernel),
                unit=unit,
                level=level,
                grid=grid,
                limit=PDF_CAP,
                offset=0,
            )
        if book["next"] is not None:
            raise _invalid(
                "unit",
                f"超过 {PDF_CAP} 户，请按网格（grid）或关爱等级（level）分册打印 / "
                f"more than {PDF_CAP} households: print by grid or by level",
            )
        return render_pdf(book, layout(book)), _disposition(book)

    data, disposition = await run_in_threadpool(build)
    return Response(
        data, media_type="application/pdf", headers={"Content-Disposition": disposition}
    )
