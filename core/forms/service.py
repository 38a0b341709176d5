"""Submitting and reading form records: validation, subject, scope, storage, audit, event.

The API and the pages call these functions; both answer the same errors the same way.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException
from pydantic import ValidationError
from sqlalchemy import ColumnElement, Connection, bindparam, insert, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.audit.service import record as audit
from core.db.types import utcnow
from core.events import wakeup
from core.events.outbox import emit
from core.forms.models import FormRecord
from core.forms.spec import FormSpec
from core.forms.subjects import NoResolver, Within
from core.identity.access import Actor, scope_clause
from core.identity.web import Forbidden
from core.plugins.where import enabled_where
from core.units.codes import UnitCode, path_upper_bound

if TYPE_CHECKING:
    from core.kernel import Kernel, Scope

MAX_DATA_BYTES = 64 * 1024  # one record's JSON
MAX_SUBJECT = 64  # form_record.subject_id
SAME_SUBMISSION = ("plugin", "form", "subject_kind", "subject_id", "data")  # for a retry
NOT_FOUND = "表单记录不存在或不在您的范围内 / no such record in your scope"
NO_SUBJECT = "对象不存在或不在您的范围内 / no such subject in your scope"
BAD_SUBJECT = (
    f"对象编号应为 1–{MAX_SUBJECT} 个字符，且不能含有 NUL 字符 / the subject's id must be "
    f"1 to {MAX_SUBJECT} characters, without a NUL character"
)
KEY_REUSED = (
    "Idempotency-Key 已用于另一份不同的提交 / this Idempotency-Key was used for a "
    "different submission"
)
# Chinese for pydantic's error types; the English message follows.
MESSAGES = {
    "missing": "此项必填",
    "extra_forbidden": "表单没有此项",
    "int_parsing": "请填写整数",
    "int_from_float": "请填写整数",
    "float_parsing": "请填写数字",
    "bool_parsing": "请选择是或否",
    "date_parsing": "请填写日期，如 2026-01-31",
    "date_from_datetime_parsing": "请填写日期，如 2026-01-31",
    "date_from_datetime_inexact": "请填写日期，如 2026-01-31",
    "datetime_parsing": "请填写日期和时间",
    "datetime_from_date_parsing": "请填写日期和时间",
    "literal_error": "请从选项中选择",
    "enum": "请从选项中选择",
    "list_type": "请选择一项或多项",
    "string_type": "请填写文字",
    "string_too_long": "内容过长",
    "string_too_short": "内容过短",
    "greater_than_equal": "数值过小",
    "greater_than": "数值过小",
    "less_than_equal": "数值过大",
    "less_than": "数值过大",
}

Loc = tuple[str | int, ...]


class InvalidSubmission(Exception):
    """Bad input: each error has its location (``("data", field)`` or ``("subject",)``)."""

    def __init__(self, errors: list[tuple[Loc, str]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in errors))
        self.errors = errors

    def by_field(self) -> dict[str, str]:
        """Messages by field name (``subject`` for the subject; ``data`` for the whole form)."""
        found: dict[str, str] = {}
        for loc, message in self.errors:
            name = str(loc[1]) if loc[0] == "data" and len(loc) > 1 else str(loc[0])
            found.setdefault(name, message)
        return found


@dataclass(frozen=True, slots=True)
class RecordRow:
    """A ``form_record`` row as the service wrote or read it with Core: the columns of
    :class:`FormRecord`, in its order, without an ORM object."""

    id: int
    plugin: str
    form: str
    schema_version: int
    subject_kind: str
    subject_id: str
    unit_code: str
    author: str
    author_id: int | None
    created_at: datetime
    idempotency_key: str | None
    data: dict[str, Any]


_RECORDS = FormRecord.__table__  # type: ignore[attr-defined]
# Built once: building a statement per request costs more than running it.
INSERT_RECORD = insert(_RECORDS)  # its id: RETURNING (PostgreSQL), last row id (SQLite)
BY_KEY = select(*(_RECORDS.c[f.name] for f in fields(RecordRow))).where(
    _RECORDS.c.author == bindparam("author"), _RECORDS.c.idempotency_key == bindparam("key")
)


@dataclass(frozen=True)
class Submission:
    """What a caller submits: the subject's id and the form's values."""

    subject: str
    data: dict[str, Any]
    idempotency_key: str | None = None


def message(error: Any) -> str:
    """One pydantic error in Chinese, with pydantic's English after it."""
    chinese = MESSAGES.get(error["type"])
    return f"{chinese} / {error['msg']}" if chinese else error["msg"]


def validate_data(spec: FormSpec, data: dict[str, Any]) -> dict[str, Any]:
    """Validate ``data`` with the form's model and return it as JSON (``model_dump``).

    :raises InvalidSubmission: naming each bad or unknown field.
    """
    known = {f.name for f in spec.fields}
    errors: list[tuple[Loc, str]] = [
        (("data", key), f"{MESSAGES['extra_forbidden']} / unknown field")
        for key in data
        if key not in known
    ]
    try:
        dumped = spec.model.model_validate(data).model_dump(mode="json")
    except ValidationError as exc:
        errors += [(("data", *e["loc"]), message(e)) for e in exc.errors()]
        dumped = {}
    errors += [
        (("data", key), "不能含有 NUL 字符 / must not contain a NUL character")
        for key, value in dumped.items()
        if _has_nul(value)
    ]
    errors += [  # JSON's NaN and Infinity: not JSON to PostgreSQL, nor a quantity
        (("data", key), "请填写有限的数字 / must be a finite number")
        for key, value in dumped.items()
        if isinstance(value, float) and not math.isfinite(value)
    ]
    if not errors and len(json.dumps(dumped, ensure_ascii=False).encode()) > MAX_DATA_BYTES:
        errors.append((("data",), f"内容过长 / the form data exceeds {MAX_DATA_BYTES} bytes"))
    if errors:
        raise InvalidSubmission(errors)
    return dumped


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def submit(
    db: Session | Connection,
    kernel: Kernel,
    actor: Actor,
    plugin: str,
    spec: FormSpec,
    new: Submission,
) -> tuple[RecordRow, bool]:
    """Validate and store one submission, with its audit entry and ``form.submitted`` event,
    and commit. Returns the record and whether it was created (``False``: the same
    ``Idempotency-Key`` from the same actor already made it).

    ``db`` is a Session or a Connection whose transaction this commits. Every statement is
    prebuilt Core (no ORM objects, no second read of the row): the scoped subject check, the
    record (its id comes back with the ``INSERT``), the audit entry and the outbox row, then
    one commit.

    :raises Forbidden: the actor may submit this form nowhere (or a plugin refuses it here).
    :raises InvalidSubmission: bad data, or a subject that does not exist or lies outside
        the actor's scope, or whose kind has no resolver yet.
    :raises PluginDisabled: the plugin is off in the subject's township.
    :raises HTTPException: 409, the key was used for a different submission.
    """
    within = Within(actor, kernel.access, spec.submit_permission)
    if not within.ranges:
        raise Forbidden(spec.submit_permission)
    errors: list[tuple[Loc, str]] = []
    try:
        data = validate_data(spec, new.data)
    except InvalidSubmission as exc:
        errors, data = exc.errors, {}
    conn = _connection(db)
    unit_code = None
    try:
        if not 1 <= len(new.subject) <= MAX_SUBJECT or "\x00" in new.subject:
            errors.insert(0, (("subject",), BAD_SUBJECT))  # the pages' subject is free text
        else:
            unit_code = kernel.forms.subjects.resolve(spec.subject, conn, new.subject, within)
            if unit_code is None:
                errors.insert(0, (("subject",), NO_SUBJECT))
    except NoResolver as exc:
        errors.insert(0, (("subject",), str(exc)))
    if errors or unit_code is None:
        raise InvalidSubmission(errors)
    if not kernel.allowed(actor, spec.submit_permission, unit_code):
        raise Forbidden(spec.submit_permission)
    kernel.require(plugin, kernel.scope(unit_code))
    values = {
        "plugin": plugin,
        "form": spec.name,
        "schema_version": spec.version,
        "subject_kind": spec.subject,
        "subject_id": new.subject,
        "unit_code": unit_code,
        "author": actor.label,
        "author_id": actor.id if actor.kind == "account" else None,
        "created_at": utcnow(),
        "idempotency_key": new.idempotency_key,
        "data": data,
    }
    if new.idempotency_key is not None:
        earlier = _by_key(conn, actor, new.idempotency_key)
        if earlier is not None:
            return _same(earlier, values), False
    try:
        record = _store(conn, actor, values)
        db.commit()
    except IntegrityError:  # the same key, committed by a concurrent request first
        db.rollback()
        key = new.idempotency_key
        earlier = _by_key(_connection(db), actor, key) if key is not None else None
        if earlier is None:
            raise
        return _same(earlier, values), False
    wakeup.notify()  # the event was emitted on the connection: its owner wakes the runner
    return record, True


def _connection(db: Session | Connection) -> Connection:
    return db if isinstance(db, Connection) else db.connection()


def _store(conn: Connection, actor: Actor, values: dict[str, Any]) -> RecordRow:
    """Insert the record with its audit entry and event (not committed)."""
    record = RecordRow(id=conn.execute(INSERT_RECORD, values).inserted_primary_key[0], **values)
    about = {
        "plugin": record.plugin,
        "form": record.form,
        "schema_version": record.schema_version,
        "subject_kind": record.subject_kind,
        "subject_id": record.subject_id,
    }
    audit(
        conn,
        actor=actor.label,
        action="form.submit",
        target_type="form_record",
        target_id=str(record.id),
        unit_code=record.unit_code,
        after=about,
    )
    emit(
        conn,
        "form.submitted",
        record.unit_code,
        subject=f"form_record:{record.id}",
        actor_id=record.author_id,
        payload={**about, "record_id": record.id},
    )
    return record


def _by_key(conn: Connection, actor: Actor, key: str) -> RecordRow | None:
    found = conn.execute(BY_KEY, {"author": actor.label, "key": key}).first()
    return None if found is None else RecordRow(*found)


def _same(earlier: RecordRow, wanted: dict[str, Any]) -> RecordRow:
    """The earlier record if the retry asks for the same thing; else 409."""
    if any(getattr(earlier, f) != wanted[f] for f in SAME_SUBMISSION):
        raise HTTPException(409, KEY_REUSED)
    return earlier


def visible(actor: Actor, kernel: Kernel, spec: FormSpec) -> ColumnElement[bool]:
    """SQL condition: a record the actor may read — within its scope for the form's read
    permission, or submitted by the actor itself.

    :raises Forbidden: the actor may neither read nor submit this form anywhere.
    """
    access = kernel.access
    if not actor.paths_with(access, spec.read_permission) and not actor.paths_with(
        access, spec.submit_permission
    ):
        raise Forbidden(spec.read_permission)
    own = (
        col(FormRecord.author_id) == actor.id
        if actor.kind == "account"
        else col(FormRecord.author) == actor.label
    )
    return or_(scope_clause(actor, access, spec.read_permission, col(FormRecord.unit_code)), own)


def list_records(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    plugin: str,
    spec: FormSpec,
    under: UnitCode,
    *,
    limit: int,
    offset: int = 0,
) -> list[FormRecord]:
    """Records of the form in ``under``'s subtree that the actor may read, newest first,
    leaving out townships where the plugin is off."""
    unit = col(FormRecord.unit_code)
    query = select(FormRecord).where(
        col(FormRecord.plugin) == plugin,
        col(FormRecord.form) == spec.name,
        unit >= under.path,
        unit < path_upper_bound(under.path),
        visible(actor, kernel, spec),
    )
    enabled = enabled_where(kernel.toggles.snapshot(), plugin, under, unit)
    if enabled is not None:
        query = query.where(enabled)
    query = query.order_by(col(FormRecord.id).desc()).offset(offset).limit(limit)
    return list(session.exec(query))


def get_record(
    session: Session, kernel: Kernel, actor: Actor, plugin: str, spec: FormSpec, record_id: int
) -> tuple[FormRecord, Scope]:
    """One record the actor may read (404 otherwise) and its township's scope.

    :raises PluginDisabled: the plugin is off in the record's township (404 naming both).
    """
    record = session.exec(
        select(FormRecord).where(
            col(FormRecord.id) == record_id,
            col(FormRecord.plugin) == plugin,
            col(FormRecord.form) == spec.name,
            visible(actor, kernel, spec),
        )
    ).first()
    if record is None:
        raise HTTPException(404, NOT_FOUND)
    scope = kernel.scope(record.unit_code)
    kernel.require(plugin, scope)
    return record, scope


def read_data(spec: FormSpec, data: dict[str, Any]) -> dict[str, Any]:
    """A record's data under the form's current fields, leniently.

    A field the record lacks (it was written under an older version) gets the field's
    default, or ``None``; nothing is validated again, and values of fields the form has
    since dropped are kept after the current ones.
    """
    current = {f.name: data.get(f.name, f.default) for f in spec.fields}
    return {**current, **{k: v for k, v in data.items() if k not in current}}
