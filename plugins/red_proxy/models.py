"""Tables of 红色代办 (``red_proxy_*``).

* :class:`Item`: a catalogue entry (事项): materials, time limit in working days, per township.
* :class:`Agent`: the 代办员名册, party members on duty for a branch (上岗/下岗).
* :class:`Order`: one 代办单. Its lifecycle is an instance of the workflow
  ``red_proxy/order`` (:mod:`plugins.red_proxy.workflow`); the row mirrors the instance's
  state, version and deadline, written in the same transaction as each step, and keeps the
  milestones the metrics count.
* :class:`Authorization`: the 委托书 of an order; :class:`Handover`: the hand-over log of
  its materials (what, from whom, to whom, when).

Accounts are named by username (``Actor.name``); the plugin references no core table but
``unit``. Change a table only through a new revision in ``migrations/versions/``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from core import UTCDateTime, utcnow


def _when() -> Any:
    """An optional moment (UTC)."""
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


def _stamp() -> Any:
    """A required moment, now by default."""
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class Item(SQLModel, table=True):
    """One 代办事项 of a township's catalogue."""

    __tablename__ = "red_proxy_item"
    __table_args__ = (UniqueConstraint("unit_code", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(foreign_key="unit.code", max_length=15, index=True)
    name: str = Field(max_length=100)
    category: str = Field(max_length=30)
    materials: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    time_limit_days: int
    department: str = Field(default="", max_length=100)
    fee: str = Field(default="免费", max_length=100)
    description: str = Field(default="", max_length=500)
    needs_authorization: bool = True
    sensitive: bool = False
    active: bool = True
    sort: int = 0
    version: int = 1
    updated_by: str = Field(max_length=200)
    created_at: datetime = _stamp()
    updated_at: datetime = _stamp()


class Agent(SQLModel, table=True):
    """A party member on a branch's 代办员名册; ``on_duty`` ones may be dispatched to."""

    __tablename__ = "red_proxy_agent"
    __table_args__ = (UniqueConstraint("username", "unit_code"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    display_name: str = Field(max_length=100)
    unit_code: str = Field(foreign_key="unit.code", max_length=15, index=True)
    phone: str | None = Field(default=None, max_length=20)
    on_duty: bool = True
    joined_at: datetime = _stamp()
    updated_at: datetime = _stamp()


class Order(SQLModel, table=True):
    """One 代办单: what was ordered, by whom, for whom, and how it went."""

    __tablename__ = "red_proxy_order"
    __table_args__ = (
        UniqueConstraint("created_by", "idempotency_key"),
        Index("ix_red_proxy_order_board", "unit_code", "state", "due_at"),
        Index("ix_red_proxy_order_ordered", "unit_code", "ordered_at"),
        Index("ix_red_proxy_order_done", "unit_code", "done_at"),
        Index("ix_red_proxy_order_rated", "unit_code", "rated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    instance_id: int = Field(unique=True)
    item_id: int = Field(sa_column=Column(ForeignKey("red_proxy_item.id"), nullable=False))
    item_name: str = Field(max_length=100)
    category: str = Field(max_length=30)
    sensitive: bool = False
    needs_authorization: bool = True
    time_limit_days: int
    unit_code: str = Field(sa_column=Column(String(15), ForeignKey("unit.code"), nullable=False))
    township_code: str = Field(max_length=15)
    county_code: str = Field(max_length=15)
    state: str = Field(max_length=40)
    version: int = 1
    due_at: datetime | None = _when()
    requester_account: str | None = Field(default=None, max_length=64, index=True)
    requester_name: str = Field(max_length=50)
    requester_phone: str = Field(max_length=20)
    on_behalf: bool = False
    need: str | None = Field(default=None, max_length=500)
    preferred_time: str | None = Field(default=None, max_length=100)
    assignee: str | None = Field(default=None, max_length=64, index=True)
    assignee_name: str | None = Field(default=None, max_length=100)
    ordered_at: datetime = _stamp()
    dispatched_at: datetime | None = _when()
    taken_at: datetime | None = _when()
    complete_due_at: datetime | None = _when()
    done_at: datetime | None = _when()
    rated_at: datetime | None = _when()
    withdrawn_at: datetime | None = _when()
    done_on_time: bool | None = None
    hours_taken: float | None = None
    result: str | None = Field(default=None, max_length=1000)
    delivery: str | None = Field(default=None, max_length=20)
    rating: int | None = None
    satisfaction: str | None = Field(default=None, max_length=12)
    rating_comment: str | None = Field(default=None, max_length=500)
    send_backs: int = 0
    idempotency_key: str | None = Field(default=None, max_length=200)
    created_by: str = Field(max_length=200)
    updated_at: datetime = _stamp()


class Authorization(SQLModel, table=True):
    """The 委托书 by which the requester authorises the party member to act for them."""

    __tablename__ = "red_proxy_authorization"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(
        sa_column=Column(ForeignKey("red_proxy_order.id"), nullable=False, unique=True)
    )
    principal: str = Field(max_length=50)
    agent_name: str = Field(max_length=100)
    matters: str = Field(max_length=200)
    powers: str = Field(max_length=500)
    signed_on: date
    valid_until: date
    sign_method: str = Field(max_length=20)
    recorded_by: str = Field(max_length=200)
    recorded_at: datetime = _stamp()


class Handover(SQLModel, table=True):
    """One hand-over of materials: what, how many, from whom, to whom, when."""

    __tablename__ = "red_proxy_handover"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(
        sa_column=Column(ForeignKey("red_proxy_order.id"), nullable=False, index=True)
    )
    what: str = Field(max_length=200)
    quantity: int = 1
    from_party: str = Field(max_length=100)
    to_party: str = Field(max_length=100)
    handed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    note: str | None = Field(default=None, max_length=500)
    recorded_by: str = Field(max_length=200)
    recorded_at: datetime = _stamp()
