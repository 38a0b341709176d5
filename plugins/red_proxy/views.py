"""How an order is shown, by the API and the pages alike, and to whom what is masked.

The requester's name and phone are shown in full only to the requester, the party member
dispatched and the branch's dispatchers (:func:`service.reveals_requester`); everyone else
sees ``张*`` and ``138****5678``. The timeline is the engine's history for staff who may read
the instance, and the order's milestones for the requester.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from core import Actor, Kernel, WorkflowError, mask_phone, workflow_history

from . import paperwork, roster, service
from .catalogue import CATEGORIES
from .models import Item, Order
from .workflow import ORDER_WORKFLOW, RATINGS, STATE_LABELS

STEP_LABELS = {t.name: t.label for t in ORDER_WORKFLOW.transitions}


def mask_name(name: str) -> str:
    """``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``: the first character only."""
    name = name.strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def rating_label(order: Order) -> str | None:
    """The 5-level rating as words (很满意 … 不满意), or ``None`` before 评单."""
    if order.rating is None:
        return None
    return RATINGS[len(RATINGS) - order.rating]


def order_summary(kernel: Kernel, actor: Actor, order: Order, now: datetime) -> dict[str, Any]:
    """One line of a list: what, where, where it stands, due when, for whom (masked unless
    the actor may see the requester)."""
    reveal = service.reveals_requester(kernel, actor, order)
    return {
        "id": order.id,
        "item_id": order.item_id,
        "item_name": order.item_name,
        "category": order.category,
        "category_label": CATEGORIES.get(order.category, order.category),
        "unit_code": order.unit_code,
        "state": order.state,
        "state_label": STATE_LABELS.get(order.state, order.state),
        "version": order.version,
        "due_at": order.due_at,
        "overdue": service.overdue(order, now),
        "ordered_at": order.ordered_at,
        "done_at": order.done_at,
        "requester_name": order.requester_name if reveal else mask_name(order.requester_name),
        "requester_phone": order.requester_phone if reveal else mask_phone(order.requester_phone),
        "on_behalf": order.on_behalf,
        "mine": service.is_requester(actor, order),
        "assigned_to_me": service.is_assignee(actor, order),
        "assignee": order.assignee,
        "assignee_name": order.assignee_name,
        "rating_label": rating_label(order),
    }


def _timeline(session: Session, kernel: Kernel, actor: Actor, order: Order) -> list[dict]:
    try:
        rows = workflow_history(session, kernel, actor, order.instance_id)
    except WorkflowError:  # the requester does not read the instance: its milestones
        return _milestones(order)
    return [
        {
            "at": row.at,
            "label": STEP_LABELS.get(row.transition, row.transition) if row.transition else "点单",
            "state_label": STATE_LABELS.get(row.to_state, row.to_state),
            "actor": row.actor.partition(":")[2] or row.actor,
            "inputs": [
                {"name": name, "label": _input_label(row.transition, name), "value": value}
                for name, value in row.inputs.items()
            ],
        }
        for row in rows
    ]


def _input_label(transition: str | None, name: str) -> str:
    step = ORDER_WORKFLOW.transition(transition) if transition else None
    found = step.input(name) if step else None
    return found.label if found else name


def _milestones(order: Order) -> list[dict]:
    steps = [
        (order.ordered_at, "点单", "已点单"),
        (order.dispatched_at, "派单", f"派给 {order.assignee_name}" if order.assignee_name else ""),
        (order.taken_at, "接单", "办理中"),
        (order.done_at, "办结", order.result or ""),
        (order.rated_at, "评单", rating_label(order) or ""),
        (order.withdrawn_at, "撤单", "已撤单"),
    ]
    return [
        {"at": at, "label": label, "state_label": note, "actor": "", "inputs": []}
        for at, label, note in sorted((s for s in steps if s[0] is not None), key=lambda s: s[0])
    ]


def actions_view(kernel: Kernel, actor: Actor, order: Order) -> list[dict[str, Any]]:
    """The steps ``actor`` may take now, with the inputs each asks for."""
    return [
        {
            "name": step.name,
            "label": step.label,
            "inputs": [
                {
                    "name": i.name,
                    "label": i.label,
                    "kind": i.kind,
                    "required": i.required,
                    "choices": list(i.choices),
                    "max_length": i.max_length,
                }
                for i in step.inputs
            ],
        }
        for step in service.available(kernel, actor, order)
    ]


def order_detail(
    session: Session, kernel: Kernel, actor: Actor, order: Order, now: datetime
) -> dict[str, Any]:
    """The whole order as ``actor`` may see it, with the steps it may take."""
    item = session.get(Item, order.item_id)
    actions = actions_view(kernel, actor, order)
    dispatching = any(a["name"] == "dispatch" for a in actions)
    return {
        **order_summary(kernel, actor, order, now),
        "need": order.need,
        "preferred_time": order.preferred_time,
        "time_limit_days": order.time_limit_days,
        "materials": list(item.materials) if item else [],
        "department": item.department if item else "",
        "fee": item.fee if item else "",
        "needs_authorization": order.needs_authorization,
        "complete_due_at": order.complete_due_at,
        "done_on_time": order.done_on_time,
        "hours_taken": order.hours_taken,
        "result": order.result,
        "delivery": order.delivery,
        "rating_comment": order.rating_comment,
        "send_backs": order.send_backs,
        "closed": order.state in ("rated", "withdrawn"),
        "authorization": paperwork.authorization_view(paperwork.authorization_of(session, order)),
        "handovers": [paperwork.handover_view(h) for h in paperwork.handovers_of(session, order)],
        "may_keep_papers": paperwork.may_keep_papers(kernel, actor, order),
        "actions": actions,
        "candidates": [roster.agent_view(a) for a in roster.covering(session, order.unit_code)]
        if dispatching
        else [],
        "timeline": _timeline(session, kernel, actor, order),
    }
