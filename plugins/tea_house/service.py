"""What every part of 民情茶馆 shares: its names and labels, its refusals, its clock, and
the rules that keep each query inside the actor's scope and each change on the version the
caller saw.

The work itself is in ``sessions.py`` (schedules, sessions, the duty roster), ``issues.py``
(recording, answering, transferring, following the ticket) and ``report.py`` (the
report-back list); the surfaces (``api.py``, ``pages.py``), the job and the demo call those.
Each write checks the actor's permission at the session's village (``kernel.allowed``) and,
for a change to an existing row, the version the caller saw (409 when someone moved first);
each read puts the actor's scope into the query.

The clock is ``kernel.workflows.clock`` (tests fix it); days are local days in
``settings.timezone``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import HTTPException
from sqlalchemy import ColumnElement, and_, update
from sqlmodel import Session, col

from core import (
    Actor,
    Kernel,
    Level,
    Scope,
    list_units,
    parse_code,
    record_audit,
    scope_clause,
)

from .models import TeaHouseIssue, TeaHouseSession

PLUGIN = "tea_house"
READ = "tea_house.read"
RECORD = "tea_house.record"
RESPOND = "tea_house.respond"
MANAGE = "tea_house.manage"
NOTICE_DAYS = 3  # a session is announced at least this many days ahead
LATEST_AHEAD_DAYS = 366
LATEST_PROMISE_DAYS = 90
# The plugin's roles: whoever holds one at the village may sign a session's duty roster.
ROSTER_ROLES = {"tea_house_head": "民情馆长", "tea_house_keeper": "民情馆员"}
KINDS = {"fixed": "固定沟通日", "open": "日常开放", "topic": "专题沟通"}
STATUSES = {"announced": "已公告", "held": "进行中", "closed": "已结束", "cancelled": "已取消"}
UPCOMING = ("announced", "held")  # a session still to come or being held: the next one
OUTCOMES = {"pending": "待答复", "answered": "当场答复", "transferred": "已转办"}
PERMISSION_TITLES = {
    READ: "查看民情茶馆",
    RECORD: "登记群众反映的问题",
    RESPOND: "答复与转办",
    MANAGE: "安排与主持沟通日",
}
NATURES = {"政策咨询": "consult", "建议": "suggestion"}  # the ticket's 性质; otherwise 求助
NOT_FOUND = "不存在或不在您的范围内 / not found in your scope"


class TeaHouseError(HTTPException):
    """A refused request: 403, 404 or 409 with a Chinese message."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status, detail)


class FieldProblem(ValueError):
    """Input that is well formed but not acceptable, naming the field (``loc`` below the
    body, e.g. ``("held_on",)``): the API answers 422, the pages show it next to the field."""

    def __init__(self, loc: tuple[str, ...], message: str, where: str = "body") -> None:
        super().__init__(message)
        self.loc = loc
        self.where = where
        self.message = message


# -- time, units and scope -----------------------------------------------------------------


def now_of(kernel: Kernel, now: datetime | None = None) -> datetime:
    """``now``, or the kernel's clock."""
    return now or kernel.workflows.clock()


def local_day(kernel: Kernel, moment: datetime) -> date:
    """The local day (``settings.timezone``) of an aware moment."""
    return moment.astimezone(ZoneInfo(kernel.settings.timezone)).date()


def village_of(unit_code: str) -> str | None:
    """The village (村社区) of a village or grid code; ``None`` above the village level."""
    return parse_code(unit_code).ancestor_at(Level.village)


def require_village(scope: Scope) -> str:
    """The request's village; a unit above the village level is a 422 naming ``unit``."""
    village = village_of(scope.unit.code)
    if village is None:
        raise FieldProblem(
            ("unit",), "请指定村社区或网格（unit）：民情沟通日按村社区安排", where="query"
        )
    return village


def require(kernel: Kernel, actor: Actor, permission: str, unit_code: str) -> None:
    """403 unless ``actor`` holds ``permission`` at ``unit_code``."""
    if not kernel.allowed(actor, permission, unit_code):
        title = PERMISSION_TITLES[permission]
        raise TeaHouseError(403, f"没有权限{title}（需要 {permission}）/ {permission} required")


def subtree(column: Any, path: str) -> ColumnElement[bool]:
    """SQL: the unit code in ``column`` lies under (or at) the unit whose path is ``path``;
    a code range, so an index on the column serves it."""
    upper = str(int(path) + 1).zfill(len(path)) if path.strip("9") else "9" * len(path) + ":"
    return and_(column >= path, column < upper)


def enabled_filter(session: Session, kernel: Kernel, scope: Scope, column: Any) -> Any:
    """SQL: the row's township (``column``) is one where the practice is on, for a request
    about a county or city; ``None`` when the guard already answered (a township or below)."""
    if scope.unit.level.depth >= Level.township.depth:
        return None
    townships = list_units(session, scope.unit.code, level=Level.township)
    on = [u.code for u in townships if PLUGIN in kernel.scope(u.code).enabled]
    if len(on) == len(townships):
        return None
    return col(column).in_(on)


def visible(session: Session, kernel: Kernel, actor: Actor, scope: Scope, model: Any) -> list[Any]:
    """Conditions on ``model`` (a table with ``unit_code`` and ``township_code``): within the
    request's unit, where ``actor`` may read, in townships where the practice is on."""
    unit = col(model.unit_code)
    conditions = [scope_clause(actor, kernel.access, READ, unit), subtree(unit, scope.unit.path)]
    townships = enabled_filter(session, kernel, scope, model.township_code)
    return conditions if townships is None else [*conditions, townships]


def township_of(unit_code: str) -> str:
    """The township code above a village."""
    found = parse_code(unit_code).ancestor_at(Level.township)
    assert found is not None, "a village lies in a township"
    return found


def audited(
    session: Session,
    by: str,
    action: str,
    row: Any,
    after: dict[str, Any] | None = None,
) -> None:
    """Write the audit entry of a change to ``row`` (flushed: it has its id) in the same
    transaction: ``tea_house.<action>`` on ``tea_house_<table>:<id>`` at its unit."""
    record_audit(
        session,
        actor=by,
        action=f"{PLUGIN}.{action}",
        target_type=row.__tablename__,
        target_id=str(row.id),
        unit_code=row.unit_code,
        after=after,
    )


def bump(session: Session, row: TeaHouseSession | TeaHouseIssue, version: int) -> None:
    """Move ``row`` on from ``version``: 409 when it is no longer at that version (someone
    changed it first). The conditional update also holds the row until the caller commits."""
    model = type(row)
    moved = session.execute(
        update(model)
        .where(col(model.id) == row.id, col(model.version) == version)
        .values(version=version + 1)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise TeaHouseError(
            409, f"version: 已被他人修改（当前版本 {row.version}），请刷新后重试 / stale version"
        )
    row.version = version + 1


def in_status(row: TeaHouseSession, *allowed: str) -> None:
    """409 unless the session is in one of the ``allowed`` states."""
    if row.status not in allowed:
        raise TeaHouseError(
            409, f"status: 场次{STATUSES[row.status]}，不能进行此操作 / not allowed in this state"
        )
