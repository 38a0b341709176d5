"""The unit tree pages: ``/admin/units`` and ``/admin/units/{unit_code}``.

The tree is browsed one level at a time: the actor's own units, then a unit with its
breadcrumbs and the units directly below it, each with its code, level and the number of
its children and of the accounts holding a role in its subtree (shown only to those who may
read accounts there). Whoever holds ``units.read`` may browse the part of the tree it
reaches; a unit outside it is 404, as in the API.

Writes need ``units.manage``, declared by the ``units`` core plugin: adding a unit needs it
at the new unit's parent, and so does renaming one — a unit's name is kept by the level
above, so a township's administrator names its villages and grids but not the township.
Both go through :func:`core.units.service.load_units` (the loader ``sanmin units load``
uses), bump the config version as the CLI does (township, county and city names are in
every process's toggle snapshot) and are audited (``unit.create``, ``unit.rename``).
Every form posts with the CSRF token, redirects (303) when it worked and shows the form
again with the error naming its field (4xx) when not, with nothing written.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col
from starlette.concurrency import run_in_threadpool

from core.audit.service import record
from core.identity.access import AccessCatalog, Actor, scope_ranges
from core.identity.models import RoleAssignment
from core.identity.web import Forbidden, require_permission
from core.plugins.service import bump_config_version
from core.units.api import family
from core.units.codes import (
    LEVEL_ORDER,
    PATH_LENGTH,
    Level,
    UnitCode,
    UnitCodeError,
    parse_code,
    path_upper_bound,
)
from core.units.models import Unit
from core.units.service import load_units
from core.web.render import render

READ, MANAGE, ACCOUNTS = "units.read", "units.manage", "accounts.read"
NAME_MAX = 100
DONE = {
    "created": "已新增下级单位。",
    "renamed": "单位名称已修改。",
    "unchanged": "名称未改变，未做修改。",
}

pages = APIRouter(prefix="/admin/units")
Reader = Annotated[Actor, Depends(require_permission(READ))]
Manager = Annotated[Actor, Depends(require_permission(MANAGE))]


@dataclass
class UnitRow:
    """One unit as the pages list it."""

    code: str
    name: str
    level: Level
    children: int
    accounts: int | None  # None: the viewer may not read accounts there

    @property
    def level_label(self) -> str:
        return self.level.label


@dataclass
class UnitPage:
    """What the unit page shows: the unit, the way down to it and the units below it."""

    unit: UnitRow
    parent_code: str | None
    crumbs: list[tuple[str, str, bool]]  # (code, name, linked) from the top down
    children: list[UnitRow]
    suggested: str | None  # a free code for the next child (None below a grid or when full)

    @property
    def child_label(self) -> str | None:
        """The Chinese name of the level below the unit (``None`` for a grid)."""
        level = child_level(self.unit.level)
        return level.label if level else None


# -- reading -------------------------------------------------------------------------------


def child_level(level: Level) -> Level | None:
    """The level directly below ``level`` (``None`` below a grid)."""
    depth = level.depth + 1
    return LEVEL_ORDER[depth] if depth < len(LEVEL_ORDER) else None


def suggest_child(parent: UnitCode, children: list[str]) -> str | None:
    """The code after the last child's (``None`` when the level is full or below a grid)."""
    level = child_level(parent.level)
    if level is None:
        return None
    start, end = PATH_LENGTH[parent.level], PATH_LENGTH[level]
    number = max((int(code[start:end]) for code in children), default=0) + 1
    if number >= 10 ** (end - start):
        return None
    path = parent.path + str(number).zfill(end - start)
    return path if level is Level.grid else path.ljust(12, "0")


def child_counts(conn: Connection, codes: list[str]) -> dict[str, int]:
    """How many units lie directly below each of ``codes`` (children of a visible unit are
    visible: scope reaches whole subtrees)."""
    if not codes:
        return {}
    query = (
        select(col(Unit.parent_code), func.count())
        .where(col(Unit.parent_code).in_(codes))
        .group_by(col(Unit.parent_code))
    )
    return {parent: count for parent, count in conn.execute(query)}


def account_counts(conn: Connection, path: str, length: int) -> dict[str, int]:
    """Accounts holding a role under unit path ``path``, per unit path of ``length`` digits
    (the level to count by): one range read on the role's unit code, grouped by prefix."""
    prefix = func.substr(col(RoleAssignment.unit_code), 1, length)
    query = (
        select(prefix, func.count(func.distinct(col(RoleAssignment.account_id))))
        .where(
            col(RoleAssignment.unit_code) >= path,
            col(RoleAssignment.unit_code) < path_upper_bound(path),
        )
        .group_by(prefix)
    )
    return {key: count for key, count in conn.execute(query)}


def unit_rows(
    conn: Connection, units: list[dict[str, Any]], accounts: dict[str, int] | None
) -> list[UnitRow]:
    """Rows for ``units`` (as :func:`core.units.api.rows` gives them) with their counts;
    ``accounts`` maps unit paths to account counts, or is ``None`` when not shown."""
    children = child_counts(conn, [u["code"] for u in units])
    return [
        UnitRow(
            code=u["code"],
            name=u["name"],
            level=Level(u["level"]),
            children=children.get(u["code"], 0),
            accounts=None if accounts is None else accounts.get(parse_code(u["code"]).path, 0),
        )
        for u in units
    ]


def top_units(conn: Connection, actor: Actor, access: AccessCatalog) -> list[UnitRow]:
    """The outermost units where the actor may read units, with their counts."""
    paths = actor.paths_with(access, READ)
    codes = [path if len(path) == 15 else path.ljust(12, "0") for path in paths]
    found = (
        conn.execute(
            select(col(Unit.code), col(Unit.name), col(Unit.level))
            .where(col(Unit.code).in_(codes))
            .order_by(col(Unit.path))
        ).all()
        if codes
        else []
    )
    units = [{"code": c, "name": n, "level": lv} for c, n, lv in found]
    counted = {u["code"] for u in units if actor.role_allows(access, ACCOUNTS, u["code"])}
    accounts: dict[str, int] = {}
    for code in counted:
        path = parse_code(code).path
        accounts |= account_counts(conn, path, len(path))
    rows = unit_rows(conn, units, accounts)
    for row in rows:
        if row.code not in counted:
            row.accounts = None  # the actor may not read accounts there
    return rows


def visible_unit(
    conn: Connection, actor: Actor, access: AccessCatalog, code: str
) -> list[dict[str, Any]]:
    """The unit ``code`` then its children, if the actor may read units there
    (:class:`core.units.service.OutOfScope`, a 404, otherwise)."""
    return family(conn, parse_code(code).code, scope_ranges(actor, access, READ))


def unit_page(conn: Connection, actor: Actor, access: AccessCatalog, code: str) -> UnitPage:
    """The unit ``code`` with its breadcrumbs and children, if the actor may read it."""
    found = visible_unit(conn, actor, access, code)
    unit, below = found[0], found[1:]
    parsed = parse_code(unit["code"])
    level = child_level(parsed.level)
    accounts: dict[str, int] | None = None
    if actor.role_allows(access, ACCOUNTS, parsed.code):
        accounts = account_counts(conn, parsed.path, PATH_LENGTH[level]) if level else {}
        accounts |= account_counts(conn, parsed.path, len(parsed.path))
    ancestors = parsed.ancestors()[1:]
    names = dict(
        conn.execute(
            select(col(Unit.code), col(Unit.name)).where(col(Unit.code).in_(ancestors))
        ).all()
    )
    crumbs = [
        (c, names[c], actor.role_allows(access, READ, c)) for c in reversed(ancestors) if c in names
    ]
    return UnitPage(
        unit=unit_rows(conn, [unit], accounts)[0],
        parent_code=unit["parent_code"],
        crumbs=crumbs,
        children=unit_rows(conn, below, accounts),
        suggested=suggest_child(parsed, [u["code"] for u in below]),
    )


def may_manage(kernel: Any, actor: Actor, parent_code: str | None) -> bool:
    """Whether ``actor`` may add a unit under ``parent_code`` or rename one of its children
    (``units.manage`` there, plugins' ``permission_allowed`` included)."""
    return parent_code is not None and kernel.allowed(actor, MANAGE, parent_code)


# -- checking a form -----------------------------------------------------------------------


def check_name(raw: str) -> tuple[str, str | None]:
    """The name as it will be stored, and what is wrong with it (``None`` if nothing)."""
    name = raw.strip()
    if not name:
        return name, "名称（name）：必填 / required"
    if len(name) > NAME_MAX:
        return name, f"名称（name）：最多 {NAME_MAX} 个字符 / at most {NAME_MAX} characters"
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        return name, "名称（name）：不能含有控制字符 / must not contain control characters"
    return name, None


def check_child_code(raw: str, parent: dict[str, Any]) -> tuple[str, str | None]:
    """The code of a new unit below ``parent`` as it will be stored, and what is wrong
    with it (``None`` if nothing)."""
    code = raw.strip()
    if not code:
        return code, "单位代码（code）：必填 / required"
    try:
        parsed = parse_code(code)
    except UnitCodeError as exc:
        return code, f"单位代码（code）：{exc}"
    level = child_level(Level(parent["level"]))
    if level is None:
        return code, "单位代码（code）：网格下不能再设下级单位 / a grid has no units below it"
    if parsed.level is not level or parsed.parent != parent["code"]:
        return code, (
            f"单位代码（code）：{parsed.code} 不是{parent['name']}（{parent['code']}）的直接下级"
            f"{level.label} / not a {level.value} directly below {parent['code']}"
        )
    return parsed.code, None


def code_taken(code: str) -> str:
    return f"单位代码（code）：{code} 已存在 / this code is already in use"


# -- pages ---------------------------------------------------------------------------------


@pages.get("", response_class=HTMLResponse)
async def units_index(request: Request, actor: Reader) -> Response:
    """The actor's own units: where browsing the tree starts."""
    kernel = request.app.state.kernel

    def load() -> list[UnitRow]:
        with kernel.engine.connect() as conn:
            return top_units(conn, actor, kernel.access)

    return await render(request, "core/units.html", {"tops": await run_in_threadpool(load)})


async def _unit_response(
    request: Request,
    actor: Actor,
    code: str,
    *,
    errors: dict[str, dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The unit page; after a failed form, with its errors (form -> field -> message) and
    the values typed."""
    kernel = request.app.state.kernel

    def load() -> tuple[UnitPage, bool, bool]:
        with kernel.engine.connect() as conn:
            page = unit_page(conn, actor, kernel.access, code)
        can_add = page.suggested is not None and may_manage(kernel, actor, page.unit.code)
        return page, can_add, may_manage(kernel, actor, page.parent_code)

    page, can_add, can_rename = await run_in_threadpool(load)
    done = None if errors else DONE.get(request.query_params.get("done", ""))
    return await render(
        request,
        "core/units.html",
        {
            "page": page,
            "can_add": can_add,
            "can_rename": can_rename,
            "errors": errors or {},
            "values": values or {},
            "done": done,
        },
        status_code=status_code,
    )


@pages.get("/{unit_code}", response_class=HTMLResponse)
async def unit_detail(request: Request, unit_code: str, actor: Reader) -> Response:
    """One unit, the way down to it and the units directly below it."""
    return await _unit_response(request, actor, unit_code)


def _visible(kernel: Any, actor: Actor, code: str) -> dict[str, Any]:
    with kernel.engine.connect() as conn:
        return visible_unit(conn, actor, kernel.access, code)[0]


def _write(
    kernel: Any, actor: Actor, request: Request, code: str, name: str, action: str, old: str | None
) -> None:
    """Create or rename unit ``code`` with the units loader, audited, in one transaction;
    every process then reloads its toggle snapshot (it holds the names of scope units)."""
    with Session(kernel.engine) as session:
        report = load_units(session, [(code, name)])
        if report.created or report.updated:
            record(
                session,
                actor=actor.label,
                action=action,
                target_type="unit",
                target_id=code,
                unit_code=code,
                before=None if old is None else {"name": old},
                after={"name": name},
                source=request.client.host if request.client else None,
            )
            bump_config_version(session)
        session.commit()
    kernel.toggles.invalidate()


@pages.post("/{unit_code}/children", response_class=HTMLResponse)
async def add_child(
    request: Request,
    unit_code: str,
    actor: Manager,
    code: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """Add a unit directly below ``unit_code``: 404 outside the actor's units, 403 without
    ``units.manage`` there, 422 naming the field (409 for a code in use) otherwise."""
    kernel = request.app.state.kernel

    def add() -> tuple[dict[str, str], int]:
        parent = _visible(kernel, actor, unit_code)
        if not may_manage(kernel, actor, parent["code"]):
            raise Forbidden(MANAGE)
        child, code_problem = check_child_code(code, parent)
        child_name, name_problem = check_name(name)
        problems = {k: v for k, v in (("code", code_problem), ("name", name_problem)) if v}
        if problems:
            return problems, 422
        with kernel.engine.connect() as conn:
            if conn.execute(select(col(Unit.code)).where(col(Unit.code) == child)).first():
                return {"code": code_taken(child)}, 409
        try:
            _write(kernel, actor, request, child, child_name, "unit.create", None)
        except IntegrityError:  # another administrator added it a moment ago
            return {"code": code_taken(child)}, 409
        return {}, 303

    problems, status = await run_in_threadpool(add)
    if problems:
        return await _unit_response(
            request,
            actor,
            unit_code,
            errors={"add": problems},
            values={"code": code, "name": name},
            status_code=status,
        )
    target = parse_code(unit_code).code
    return RedirectResponse(f"/admin/units/{target}?done=created#children", status_code=303)


@pages.post("/{unit_code}/rename", response_class=HTMLResponse)
async def rename_unit(
    request: Request,
    unit_code: str,
    actor: Manager,
    name: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """Rename ``unit_code``: 404 outside the actor's units, 403 without ``units.manage`` at
    its parent, 422 naming the field for a bad name."""
    kernel = request.app.state.kernel

    def rename() -> tuple[str | None, str]:
        unit = _visible(kernel, actor, unit_code)
        if not may_manage(kernel, actor, unit["parent_code"]):
            raise Forbidden(MANAGE)
        new, problem = check_name(name)
        if problem:
            return problem, ""
        if new == unit["name"]:
            return None, "unchanged"
        _write(kernel, actor, request, unit["code"], new, "unit.rename", unit["name"])
        return None, "renamed"

    problem, done = await run_in_threadpool(rename)
    if problem:
        return await _unit_response(
            request,
            actor,
            unit_code,
            errors={"rename": {"name": problem}},
            values={"new_name": name},
            status_code=422,
        )
    target = parse_code(unit_code).code
    return RedirectResponse(f"/admin/units/{target}?done={done}", status_code=303)
