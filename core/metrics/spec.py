"""What a plugin declares through the metrics service: :class:`Metric`.

A metric is either **additive** (``count`` of rows, or ``sum`` of a column), computed in SQL
over one table for the records of a unit subtree in a period, or a **ratio** of two additive
metrics of the same plugin (办结率 = 办结数 / 受理数). Additive figures add up over units and over
days, which is what lets the core roll them up the unit tree and keep daily aggregates; a
ratio is always ``sum(numerator) / sum(denominator)`` over the same units and days, never an
average of ratios.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import ColumnElement, FromClause

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
ADDITIVE_KINDS = ("count", "sum")
KINDS = (*ADDITIVE_KINDS, "ratio")
MAX_SETTLE_DAYS = 366

Kind = Literal["count", "sum", "ratio"]


class MetricError(ValueError):
    """A bad metric declaration; the message names the metric and the field."""


@dataclass(frozen=True, eq=False)
class Metric:
    """A figure a plugin declares in ``register_metrics``.

    Additive (``kind="count"`` or ``"sum"``)::

        Metric(
            name="visits",                 # snake_case, unique in the plugin
            title="探访次数",               # Chinese, shown to users
            unit_label="次",                # unit of measure
            help="期间内记录的入户探访次数",
            table=Visit,                    # a table model, a Table, or any FROM (a join)
            unit_column="unit_code",        # the unit (any level) each row belongs to
            time_column="visited_at",       # UTCDateTime (or Date) placing the row in a day
            where=Visit.status == "done",   # optional SQL condition on the rows
        )

    ``kind="sum"`` adds ``value`` (a column name or SQL expression) instead of counting rows.
    A ratio names two additive metrics of the same plugin::

        Metric(name="done_rate", title="办结率", unit_label="%", kind="ratio",
               numerator="done", denominator="accepted", scale=100)

    ``dimension``: a column (name or SQL expression) that splits the figure, such as a
    ticket's type; ``dimension_title`` names it for users (诉求类型). The daily aggregates
    keep one row per value, and readers may ask for one value or for every value's figure.
    A ratio splits when both its terms declare a dimension.

    ``settle_days``: records may be written up to this many days after their time (a visit
    entered a week late); the daily aggregates of that many past days are recomputed on
    every refresh. A record dated earlier than that is only counted in the aggregates after
    a full rebuild (live figures always count it).

    Compared by identity (``eq=False``): its SQL expressions do not compare as values.
    """

    name: str
    title: str
    unit_label: str
    help: str = ""
    kind: Kind = "count"
    table: Any = None
    unit_column: str | Any = "unit_code"
    time_column: str | Any = "created_at"
    value: str | Any | None = None
    where: Any = None
    numerator: str | None = None
    denominator: str | None = None
    scale: float = 1.0
    settle_days: int = 7
    dimension: str | Any | None = None
    dimension_title: str = ""

    @classmethod
    def percentage(
        cls, name: str, title: str, numerator: str, denominator: str, help: str = ""
    ) -> Metric:
        """A ratio of two additive metrics of the plugin, in percent: 办结率 = 办结数 ÷ 受理数."""
        return cls(
            name=name,
            title=title,
            unit_label="%",
            help=help,
            kind="ratio",
            numerator=numerator,
            denominator=denominator,
            scale=100,
        )

    @property
    def additive(self) -> bool:
        """Whether values add up over units and days (``count`` or ``sum``)."""
        return self.kind in ADDITIVE_KINDS


@dataclass(frozen=True, eq=False)
class Source:
    """An additive metric's rows, resolved to SQL objects once at start-up."""

    from_: FromClause
    unit: ColumnElement[Any]
    time: ColumnElement[Any]
    dated: bool  # the time column holds dates, not timestamps
    aware: bool  # the timestamps are timezone-aware (UTCDateTime)
    value: ColumnElement[Any] | None  # ``None``: count rows
    where: ColumnElement[bool] | None
    dimension: ColumnElement[Any] | None = None  # what splits the figure, if anything


def check(metric: Metric) -> Source | None:
    """Check one declaration on its own; return its :class:`Source` (``None`` for a ratio).

    :raises MetricError: naming the metric and the field at fault.
    """
    name = metric.name
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise MetricError(f"metric name {name!r} must be snake_case (a-z, 0-9, _; 1–63 chars)")
    problem = _fields_problem(metric)
    if problem:
        raise MetricError(f"metric {name!r}: {problem}")
    if not metric.additive:
        return None
    try:
        return _source(metric)
    except MetricError as exc:
        raise MetricError(f"metric {name!r}: {exc}") from None


def _fields_problem(metric: Metric) -> str | None:
    if not isinstance(metric.title, str) or not metric.title.strip():
        return "title is required (Chinese, shown to users)"
    if not isinstance(metric.unit_label, str) or not metric.unit_label.strip():
        return "unit_label is required (次, 件, 人, %, …)"
    if not isinstance(metric.help, str):
        return "help must be text"
    if metric.kind not in KINDS:
        return f"kind {metric.kind!r} must be one of {', '.join(KINDS)}"
    settle = metric.settle_days
    whole = isinstance(settle, int) and not isinstance(settle, bool)
    if not whole or not 0 <= settle <= MAX_SETTLE_DAYS:
        return f"settle_days must be a whole number of days from 0 to {MAX_SETTLE_DAYS}"
    if metric.kind == "ratio":
        if any(x is not None for x in (metric.table, metric.value, metric.where, metric.dimension)):
            return "a ratio takes numerator and denominator, not table, value, where or dimension"
        if not metric.numerator or not metric.denominator:
            return "a ratio needs numerator and denominator (names of additive metrics)"
        if not isinstance(metric.scale, int | float) or not metric.scale > 0:
            return "scale must be a positive number (100 for a percentage)"
        return None
    if metric.numerator is not None or metric.denominator is not None:
        return "numerator and denominator belong to kind='ratio'"
    if not isinstance(metric.dimension_title, str):
        return "dimension_title must be text"
    if metric.dimension is not None and not metric.dimension_title.strip():
        return "a dimension needs dimension_title (Chinese, shown to users: 诉求类型)"
    if metric.kind == "count" and metric.value is not None:
        return "a count takes no value (use kind='sum' to add a column)"
    if metric.kind == "sum" and metric.value is None:
        return "a sum needs value (the column or SQL expression to add)"
    return None


def _source(metric: Metric) -> Source:
    from_ = _from_clause(metric.table)
    unit = _column(from_, metric.unit_column, "unit_column")
    time = _column(from_, metric.time_column, "time_column")
    kind = _python_type(time)
    if kind is None or not issubclass(kind, date):
        raise MetricError("time_column must be a date or timestamp column")
    value = None if metric.value is None else _column(from_, metric.value, "value")
    if value is not None:
        value_type = _python_type(value)
        if value_type is not None and not issubclass(value_type, int | float | Decimal):
            raise MetricError("value must be numeric")
    where = metric.where
    if where is not None:
        where = _clause(where)
        if not isinstance(where, ColumnElement):
            raise MetricError("where must be an SQL condition on the table's columns")
    dimension = None
    if metric.dimension is not None:
        dimension = _column(from_, metric.dimension, "dimension")
        dimension_type = _python_type(dimension)
        if dimension_type is not None and not issubclass(dimension_type, str):
            raise MetricError("dimension must be a text column (its values are the keys)")
    return Source(
        from_=from_,
        unit=unit,
        time=time,
        dated=not issubclass(kind, datetime),
        aware=bool(getattr(time.type, "timezone", False)),
        value=value,
        where=where,
        dimension=dimension,
    )


def _from_clause(table: Any) -> FromClause:
    table = getattr(table, "__table__", table)
    if not isinstance(table, FromClause):
        raise MetricError("table must be a table model, a Table or a join")
    return table


def _column(from_: FromClause, ref: Any, field: str) -> ColumnElement[Any]:
    if isinstance(ref, str):
        if ref not in from_.c:
            raise MetricError(f"{field} {ref!r} is not a column of the table")
        return from_.c[ref]
    ref = _clause(ref)
    if not isinstance(ref, ColumnElement):
        raise MetricError(f"{field} must be a column name or an SQL expression")
    return ref


def _clause(ref: Any) -> Any:
    """A model attribute (``Visit.unit_code``) as its SQL expression."""
    element = getattr(ref, "__clause_element__", None)
    return element() if callable(element) else ref


def _python_type(expression: ColumnElement[Any]) -> type | None:
    """The Python type of an expression's values (a type decorator's underlying type's)."""
    kind = expression.type
    kind = getattr(kind, "impl_instance", kind)
    try:
        found = kind.python_type
    except NotImplementedError:
        return None
    return None if found is object else found
