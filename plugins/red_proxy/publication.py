"""公示: finished orders on the branch's public list, the requester masked (domain.md §3.4).

Every order that reached 已办结 is listed with its outcome: the item (or, for an item that
would reveal health or welfare status, only that it concerns private matters), the village,
the requester as ``张*`` with the phone as ``138****5678``, the party member who handled it,
the days ordered and finished, the time taken, whether on time, and the rating. Never the
need, the result text or anything else the requester wrote.

The list of a grid is its village's: the 公示 is the branch's, and a village-wide list does
not point at a household.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from core import Kernel, Level, Unit, mask_phone, parse_code

from .access import subtree
from .catalogue import CATEGORIES
from .models import Order
from .service import enabled_only
from .views import mask_name, rating_label
from .workflow import FINISHED, STATE_LABELS

PRIVATE_ITEM = "涉及个人隐私的事项"


def board_unit(unit_code: str) -> str:
    """The unit whose 公示 a page of ``unit_code`` shows: a grid's village, else itself."""
    parsed = parse_code(unit_code)
    return parsed.ancestor_at(Level.village) if parsed.level is Level.grid else parsed.code  # type: ignore[return-value]


def _day(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return moment.astimezone(zone).date().isoformat() if moment else None


def public_view(order: Order, unit_name: str, zone: ZoneInfo) -> dict[str, Any]:
    """One order as published: masked, and without anything the requester wrote."""
    return {
        "id": order.id,
        "item": PRIVATE_ITEM if order.sensitive else order.item_name,
        "category_label": "—" if order.sensitive else CATEGORIES.get(order.category, ""),
        "unit_name": unit_name,
        "requester": mask_name(order.requester_name),
        "phone": mask_phone(order.requester_phone),
        "assignee_name": order.assignee_name,
        "state_label": STATE_LABELS.get(order.state, order.state),
        "ordered_on": _day(order.ordered_at, zone),
        "done_on": _day(order.done_at, zone),
        "hours_taken": order.hours_taken,
        "on_time": order.done_on_time,
        "rating_label": rating_label(order),
    }


def published(
    session: Session, kernel: Kernel, unit_code: str, *, limit: int = 30, offset: int = 0
) -> list[dict[str, Any]]:
    """The 公示 of ``unit_code`` (:func:`board_unit`): finished orders, latest first."""
    zone = ZoneInfo(kernel.settings.timezone)
    conditions = [
        col(Order.state).in_(FINISHED),
        subtree(col(Order.unit_code), board_unit(unit_code)),
    ]
    query = (
        select(Order, Unit.name)
        .join(Unit, col(Unit.code) == col(Order.unit_code))
        .where(*enabled_only(session, kernel, conditions))
        .order_by(col(Order.done_at).desc(), col(Order.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return [public_view(order, name, zone) for order, name in session.exec(query)]
