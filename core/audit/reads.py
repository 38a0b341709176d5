"""Auditing reads of sensitive data.

A permission declared with ``sensitive=True`` (core's ``archive.read_sensitive``, or a
plugin's own) means every read under it leaves an audit entry: who read which record,
where, which fields, from which address. A handler that shows such data calls
:func:`audit_read` before the data leaves::

    person = load_person_in_scope(...)            # scope_clause in the query
    audit_read(request, actor, "archive.read_sensitive", target_type="person",
               target_id=str(person.id), unit_code=person.unit_code, fields=["id_number"])
    return PersonOut.of(person)

The entry's action is ``read.<permission>`` (``read.archive.read_sensitive``), so the log
can be searched for every sensitive read (``action=read.``) or one plugin's
(``action=read.archive.``). A permission that is not sensitive records nothing, so a
handler may call it unconditionally and the declaration decides.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import Request
from sqlmodel import Session

from core.audit.service import record
from core.identity.access import AccessCatalog, Actor

READ_PREFIX = "read."


def is_sensitive(catalog: AccessCatalog, permission: str) -> bool:
    """Whether reads under ``permission`` are audited.

    :raises KeyError: an undeclared permission (a typo must not silently skip the audit).
    """
    found = catalog.permissions.get(permission)
    if found is None:
        raise KeyError(f"permission {permission!r} is not declared")
    return found.sensitive


def record_read(
    session: Session,
    catalog: AccessCatalog,
    actor: Actor,
    permission: str,
    *,
    target_type: str,
    target_id: str,
    unit_code: str | None,
    fields: Iterable[str] = (),
    source: str | None = None,
) -> int | None:
    """Add a read entry to ``session`` when ``permission`` is sensitive: its id (``None``
    otherwise).

    The caller commits, before sending the data: an uncommitted entry is no record.
    """
    if not is_sensitive(catalog, permission):
        return None
    return record(
        session,
        actor=actor.label,
        action=f"{READ_PREFIX}{permission}",
        target_type=target_type,
        target_id=target_id,
        unit_code=unit_code,
        after={"permission": permission, "fields": sorted(fields)},
        source=source,
    )


def audit_read(
    request: Request,
    actor: Actor,
    permission: str,
    *,
    target_type: str,
    target_id: str,
    unit_code: str | None,
    fields: Iterable[str] = (),
) -> bool:
    """Record a sensitive read in a transaction of its own, committed before returning, with
    the client's address as the source; whatever the handler's own session does afterwards.

    :return: whether an entry was written (``False`` for a permission that is not sensitive).
    """
    kernel = request.app.state.kernel
    if not is_sensitive(kernel.access, permission):
        return False
    with Session(kernel.engine) as session:
        record_read(
            session,
            kernel.access,
            actor,
            permission,
            target_type=target_type,
            target_id=target_id,
            unit_code=unit_code,
            fields=fields,
            source=request.client.host if request.client else None,
        )
        session.commit()
    return True
