"""What a form record is about: one resolver per subject kind, from subject id to unit.

A record is attached to a household, a person, a unit or a ticket. The forms service does
not know those tables: for each kind, the core service that owns them registers a
:data:`SubjectResolver` that finds the subject's unit *within the actor's scope*, on the
submission's connection (SQLAlchemy Core, in its transaction)::

    def resolve_household(conn, subject_id, within):
        found = select(households.c.unit_code).where(
            households.c.id == int(subject_id), within(households.c.unit_code)
        )
        return conn.execute(found).scalar()

    kernel.forms.subjects.register("household", resolve_household)  # e.g. in startup(kernel)

``within(column)`` is the SQL condition "this unit column lies where the actor may submit
the form" (:func:`core.scope_clause` for the form's submit permission), so the scope is
checked in the query. A hot resolver builds its statement once with ``within.bound(column)``
and passes ``within.parameters`` when it runs it, as :func:`resolve_unit` does. A resolver
returns the unit code, or ``None`` when the subject does not exist or lies outside the scope
(the caller answers both the same way). Only ``unit`` is registered by the forms service
itself; until a kind has a resolver, submitting a form about it answers 422 naming the
``subject`` field.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import ColumnElement, Connection, Select, bindparam, select

from core.forms.spec import SUBJECT_LABELS
from core.identity.access import (
    AccessCatalog,
    Actor,
    bound_scope_clause,
    scope_clause,
    scope_parameters,
    scope_ranges,
)
from core.units.codes import UnitCodeError, parse_code
from core.units.models import Unit


@dataclass(frozen=True)
class Within:
    """Where ``actor`` may use ``permission`` (a form's submit permission), as SQL."""

    actor: Actor
    catalog: AccessCatalog
    permission: str

    def __call__(self, column: ColumnElement[str]) -> ColumnElement[bool]:
        """The condition with the scope's values in it (:func:`core.scope_clause`), for a
        statement built per call."""
        return scope_clause(self.actor, self.catalog, self.permission, column)

    @cached_property
    def ranges(self) -> list[tuple[str, str]]:
        """The unit-code ranges ``[low, high)``; empty when the actor lacks the permission."""
        return scope_ranges(self.actor, self.catalog, self.permission)

    def bound(self, column: ColumnElement[str]) -> ColumnElement[bool]:
        """The condition with the ranges as bound parameters, for a statement built once
        per number of ranges; run it with :attr:`parameters`."""
        return bound_scope_clause(column, len(self.ranges))

    @property
    def parameters(self) -> dict[str, str]:
        """The values of :meth:`bound`'s parameters."""
        return scope_parameters(self.ranges)


SubjectResolver = Callable[[Connection, str, Within], str | None]


class NoResolver(LookupError):
    """No resolver is registered for a subject kind yet."""

    def __init__(self, kind: str) -> None:
        label = SUBJECT_LABELS.get(kind, kind)
        super().__init__(
            f"暂不支持以「{label}」为对象的表单：{label}数据尚未启用 / "
            f"forms about a {kind} cannot be submitted yet (no {kind} records in this installation)"
        )
        self.kind = kind


@functools.cache
def _unit_in_scope(ranges: int) -> Select[tuple[str]]:
    units = Unit.__table__.c  # type: ignore[attr-defined]
    return select(units.code).where(
        units.code == bindparam("code"), bound_scope_clause(units.code, ranges)
    )


def resolve_unit(conn: Connection, subject_id: str, within: Within) -> str | None:
    """A unit subject: the unit itself, if it exists and lies within the scope (one prebuilt
    statement)."""
    try:
        code = parse_code(subject_id).code
    except UnitCodeError:
        return None
    statement = _unit_in_scope(len(within.ranges))
    return conn.execute(statement, {"code": code, **within.parameters}).scalar()


class SubjectResolvers:
    """The resolvers of one kernel (``kernel.forms.subjects``), by subject kind."""

    def __init__(self) -> None:
        self._resolvers: dict[str, SubjectResolver] = {"unit": resolve_unit}

    def register(self, kind: str, resolver: SubjectResolver) -> None:
        """Register the resolver of ``kind`` (household, person or ticket).

        :raises ValueError: an unknown kind, or one that has a resolver already.
        """
        if kind not in SUBJECT_LABELS:
            raise ValueError(f"unknown subject kind {kind!r} (known: {', '.join(SUBJECT_LABELS)})")
        if kind in self._resolvers:
            raise ValueError(f"subject kind {kind!r} already has a resolver")
        self._resolvers[kind] = resolver

    def supports(self, kind: str) -> bool:
        """Whether records about ``kind`` can be submitted."""
        return kind in self._resolvers

    def resolve(self, kind: str, conn: Connection, subject_id: str, within: Within) -> str | None:
        """The subject's unit code within the scope, or ``None``.

        :raises NoResolver: no resolver is registered for ``kind``.
        """
        resolver = self._resolvers.get(kind)
        if resolver is None:
            raise NoResolver(kind)
        return resolver(conn, subject_id, within)
