"""Searching the audit log within the actor's scope, newest first, page by page.

Who sees what (decided in the query, never after loading):

* an entry with a unit is visible when its ``unit_code`` lies in a subtree where the
  actor holds ``audit.read`` (:func:`core.identity.access.scope_clause`): a township
  admin sees the entries of their township, its villages and grids, and nothing of the
  next township nor of the county above;
* an entry without a unit belongs to no subtree, so it is visible only to actors holding
  ``audit.read`` through a ``system_admin`` role (at the province or a city) or at a
  **province**-level unit (:func:`sees_unitless`). A city admin does not see them, nor
  does a county or township admin: an installation may serve several cities, and these
  entries are nobody's in particular. Entries about an existing account (its logins,
  failed logins, password changes) are filed under the account's home unit by
  :mod:`core.identity.service`, so its own administrators see them there; what stays
  without a unit is installation-wide (failed logins of unknown usernames, kept masked,
  and the like).

Filters (all optional, combined with AND):

* ``actor`` and ``action``: exact, or a prefix when the value ends with ``*``. An
  ``action`` ending with ``.`` (``auth.``) and an ``actor`` ending with ``:``
  (``login:``) are prefixes too, as no action or actor name ends that way.
  Prefixes are matched case-sensitively on both databases.
* ``target_type``, ``target_id``: exact.
* ``unit``: the unit and everything below it (a unit outside the actor's scope answers
  404, like the unit itself would). Entries without a unit never match it.
* ``since`` (inclusive) and ``until`` (exclusive): timezone-aware instants.

Every bad value raises :class:`FilterError` naming its field (a 422 on the API, a
message on the page): malformed or out-of-range times and cursors, over-long text, and
text holding a NUL character, which PostgreSQL would refuse.

Order is ``at`` descending, then ``id`` descending; pages follow a keyset cursor (the
last row's ``at`` and ``id``), so a page costs the same however deep it is and rows
written meanwhile never shift it. The ``at``, ``actor``, ``action`` and ``unit_code``
indexes serve the order, the exact filters and the unit ranges.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import ColumnElement, and_, func, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.audit.models import AuditEntry
from core.identity.access import AccessCatalog, Actor, scope_clause
from core.units.codes import Level, UnitCodeError, parse_code, path_upper_bound
from core.units.service import OutOfScope
from core.web.inputs import DB_INT_MAX, NUL_MESSAGE

PERMISSION = "audit.read"
UNITLESS_ROLES = frozenset({"system_admin"})  # with audit.read, see entries without a unit
UNITLESS_LEVELS = frozenset({Level.province})  # so does audit.read held at these levels
# China Standard Time (no daylight saving): how the page reads a time typed without a zone.
BEIJING = timezone(timedelta(hours=8), "北京时间")
FIELDS = ("actor", "action", "target_type", "target_id", "unit", "since", "until")
MAX_LENGTH = {"actor": 200, "action": 100, "target_type": 100, "target_id": 200, "unit": 15}


class FilterError(ValueError):
    """Invalid filters; ``errors`` holds ``(field, message)`` pairs, one per bad field."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors))
        self.errors = errors


@dataclass(frozen=True)
class AuditFilters:
    """Validated filters; see the module docstring for their meaning."""

    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    unit: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def as_params(self) -> dict[str, str]:
        """The filters that are set, as query parameters (times in ISO 8601 with zone)."""
        return {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in asdict(self).items()
            if value is not None
        }


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last row's time and id. Text form ``<µs since epoch>-<id>``."""

    at: datetime
    id: int

    @classmethod
    def after(cls, entry: AuditEntry) -> Cursor:
        assert entry.id is not None
        return cls(entry.at, entry.id)

    def __str__(self) -> str:
        delta = self.at - datetime(1970, 1, 1, tzinfo=UTC)
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return f"{micros}-{self.id}"

    @classmethod
    def parse(cls, raw: str) -> Cursor:
        """:raises FilterError: on ``cursor`` (malformed, or a time no datetime holds)."""
        match = re.fullmatch(r"(-?\d{1,18})-(\d{1,18})", raw.strip())
        if not match:
            raise FilterError([("cursor", "翻页位置无效 / malformed cursor")])
        try:
            at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(match[1]))
            if int(match[2]) > DB_INT_MAX:  # the id column is an INTEGER
                raise ValueError
        except (OverflowError, ValueError):
            raise FilterError([("cursor", "翻页位置超出范围 / cursor out of range")]) from None
        return cls(at, int(match[2]))


def parse_time(field: str, raw: str, assume: timezone | None = None) -> datetime:
    """An ISO 8601 time with its zone (``2026-03-01T08:00:00+08:00``, ``…Z``).

    A ``+`` left unencoded in a query string arrives as a space; it is put back. Without
    a zone the value is refused, unless ``assume`` names the zone to read it in (the page
    reads times typed in its form as Beijing time).

    :raises FilterError: naming ``field``.
    """
    text = re.sub(r" (\d{2}:?\d{2})$", r"+\1", raw.strip())
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise FilterError(
            [(field, f"时间 {raw!r} 无效，应为 ISO 8601 / not an ISO 8601 time")]
        ) from None
    if value.tzinfo is None:
        if assume is None:
            raise FilterError(
                [(field, "时间须带时区，例如 +08:00 / the time must include its zone, e.g. +08:00")]
            )
        value = value.replace(tzinfo=assume)
    try:  # 0001-01-01T00:00+14:00 is before year 1 in UTC: no datetime holds it
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise FilterError(
            [(field, f"时间 {raw!r} 超出范围 / time out of range (years 1–9999 in UTC)")]
        ) from None


def parse_filters(raw: Mapping[str, str | None], assume: timezone | None = None) -> AuditFilters:
    """Validate raw (query-string) filters; empty values count as absent.

    :raises FilterError: listing every bad field.
    """
    values: dict[str, object] = {}
    errors: list[tuple[str, str]] = []
    for name in FIELDS:
        text = (raw.get(name) or "").strip()
        if not text:
            continue
        if len(text) > MAX_LENGTH.get(name, 64):
            errors.append((name, f"过长，至多 {MAX_LENGTH.get(name, 64)} 个字符 / too long"))
            continue
        if "\x00" in text:
            errors.append((name, NUL_MESSAGE))
            continue
        try:
            if name == "unit":
                values[name] = parse_code(text).code
            elif name in ("since", "until"):
                values[name] = parse_time(name, text, assume)
            else:
                values[name] = text
        except UnitCodeError as exc:
            errors.append((name, str(exc)))
        except FilterError as exc:
            errors.extend(exc.errors)
    since, until = values.get("since"), values.get("until")
    if isinstance(since, datetime) and isinstance(until, datetime) and until <= since:
        errors.append(("until", "结束时间须晚于开始时间 / until must be later than since"))
    if errors:
        raise FilterError(errors)
    return AuditFilters(**values)  # type: ignore[arg-type]


# -- the query -----------------------------------------------------------------------------


def sees_unitless(actor: Actor, catalog: AccessCatalog) -> bool:
    """Whether ``actor`` may see entries without a unit: ``audit.read`` through a
    ``system_admin`` role, or at a province-level unit (not a city admin's: see above)."""
    return any(
        catalog.grants(r.role, PERMISSION)
        and (r.role in UNITLESS_ROLES or parse_code(r.unit_code).level in UNITLESS_LEVELS)
        for r in actor.roles
    )


def visible(actor: Actor, catalog: AccessCatalog) -> ColumnElement[bool]:
    """SQL condition: the entries ``actor`` may see (see the module docstring)."""
    unit = col(AuditEntry.unit_code)
    scoped = scope_clause(actor, catalog, PERMISSION, unit)
    return or_(scoped, unit.is_(None)) if sees_unitless(actor, catalog) else scoped


def check_unit(actor: Actor, catalog: AccessCatalog, code: str) -> None:
    """404 (:class:`OutOfScope`) unless the unit's subtree meets the actor's ``audit.read``
    units: a unit above them (the county of a township admin) is allowed and shows their part.
    """
    path = parse_code(code).path
    paths = actor.paths_with(catalog, PERMISSION)
    if not any(code.startswith(p) or p.startswith(path) for p in paths):
        raise OutOfScope(code)


def _matches(column: ColumnElement[str], value: str, prefix_marks: str) -> ColumnElement[bool]:
    """Exact match, or a case-sensitive prefix match when ``value`` ends with ``*`` or with
    one of ``prefix_marks``. ``LIKE`` lets PostgreSQL (C collation) use the index; the
    ``substr`` comparison keeps SQLite, whose ``LIKE`` ignores ASCII case, exact."""
    if value.endswith("*"):
        prefix = value[:-1]
    elif value[-1] in prefix_marks:
        prefix = value
    else:
        return column == value
    if not prefix:
        return column.is_not(None)
    return and_(
        column.startswith(prefix, autoescape=True),
        func.substr(column, 1, len(prefix)) == prefix,
    )


def conditions(
    actor: Actor,
    catalog: AccessCatalog,
    filters: AuditFilters,
    *,
    cursor: Cursor | None = None,
    max_id: int | None = None,
) -> list[ColumnElement[bool]]:
    """The WHERE clauses: scope first, then the filters, the cursor and an id bound."""
    where: list[ColumnElement[bool]] = [visible(actor, catalog)]
    if filters.actor:
        where.append(_matches(col(AuditEntry.actor), filters.actor, ":"))
    if filters.action:
        where.append(_matches(col(AuditEntry.action), filters.action, "."))
    if filters.target_type:
        where.append(col(AuditEntry.target_type) == filters.target_type)
    if filters.target_id:
        where.append(col(AuditEntry.target_id) == filters.target_id)
    if filters.unit:
        check_unit(actor, catalog, filters.unit)
        path = parse_code(filters.unit).path
        unit = col(AuditEntry.unit_code)
        where.append(and_(unit >= path, unit < path_upper_bound(path)))
    if filters.since:
        where.append(col(AuditEntry.at) >= filters.since)
    if filters.until:
        where.append(col(AuditEntry.at) < filters.until)
    if cursor is not None:
        at = col(AuditEntry.at)
        where.append(or_(at < cursor.at, and_(at == cursor.at, col(AuditEntry.id) < cursor.id)))
    if max_id is not None:
        where.append(col(AuditEntry.id) <= max_id)
    return where


NEWEST_FIRST = (col(AuditEntry.at).desc(), col(AuditEntry.id).desc())


@dataclass
class Page:
    entries: list[AuditEntry]
    next: Cursor | None  # where the next (older) page starts; None on the last page


def search(
    session: Session,
    actor: Actor,
    catalog: AccessCatalog,
    filters: AuditFilters,
    *,
    limit: int = 100,
    cursor: Cursor | None = None,
) -> Page:
    """One page of the entries ``actor`` may see that match ``filters``, newest first.

    :raises OutOfScope: the ``unit`` filter lies outside the actor's scope.
    """
    statement = (
        select(AuditEntry)
        .where(*conditions(actor, catalog, filters, cursor=cursor))
        .order_by(*NEWEST_FIRST)
        .limit(limit + 1)
    )
    rows = list(session.exec(statement))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, Cursor.after(rows[-1]) if more and rows else None)


def newest_id(session: Session) -> int:
    """The highest entry id now (0 when the log is empty): bounds an export to a snapshot."""
    return session.exec(select(func.max(AuditEntry.id))).one() or 0


def count_upto(
    session: Session,
    actor: Actor,
    catalog: AccessCatalog,
    filters: AuditFilters,
    cap: int,
    max_id: int,
) -> int:
    """How many entries match, counting no further than ``cap + 1`` (so the count stays cheap
    and ``> cap`` means "more than the cap")."""
    ids = (
        select(AuditEntry.id)
        .where(*conditions(actor, catalog, filters, max_id=max_id))
        .limit(cap + 1)
        .subquery()
    )
    return session.exec(select(func.count()).select_from(ids)).one()


def iterate(
    engine: Engine,
    actor: Actor,
    catalog: AccessCatalog,
    filters: AuditFilters,
    *,
    max_rows: int,
    max_id: int,
    chunk: int = 1000,
) -> Iterator[AuditEntry]:
    """Up to ``max_rows`` matching entries with ``id <= max_id``, newest first, read
    ``chunk`` at a time on a session of its own (for streaming after the request's ends)."""
    sent = 0
    cursor: Cursor | None = None
    with Session(engine) as session:
        while sent < max_rows:
            statement = (
                select(AuditEntry)
                .where(*conditions(actor, catalog, filters, cursor=cursor, max_id=max_id))
                .order_by(*NEWEST_FIRST)
                .limit(min(chunk, max_rows - sent))
            )
            rows = list(session.exec(statement))
            if not rows:
                return
            yield from rows
            sent += len(rows)
            cursor = Cursor.after(rows[-1])
            session.expunge_all()  # keep memory flat however long the export
