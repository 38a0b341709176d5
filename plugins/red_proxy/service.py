"""Orders (代办单): placing one (idempotent), reading them within scope, and moving them
through the 四单制 — the rules the API, the pages and the demo share.

Every step goes through the workflow engine (``core.apply_transition``), which owns the
state, the version check (409 when stale) and the history; this service then mirrors the
instance onto the ``red_proxy_order`` row in the same transaction, with the milestone the
step marks. It also decides what the engine cannot know:

* 接单, 待补材料, 材料补齐, 办结 are the dispatched party member's (the ``assignee``);
  派单 goes to a member on duty on the roster (:mod:`plugins.red_proxy.roster`), and 办结 of
  an item that needs a 委托书 waits until one is recorded;
* 退单 is the assignee's, or a dispatcher recalling the order to dispatch it again;
* 评单 and 撤单 are the requester's own steps (the service vouches for them); a dispatcher may
  withdraw an order, and record the rating of an order placed for someone without an
  account (电话回访), never the assignee.

Functions take the caller's session and never commit, except :func:`place_order`, which
settles a concurrent retry of the same ``Idempotency-Key`` itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, false, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core import (
    Actor,
    Deadline,
    Kernel,
    Level,
    ServiceOnly,
    Transition,
    apply_transition,
    clean_transition_inputs,
    emit,
    parse_code,
    scope_clause,
    start_workflow,
)

from . import catalogue, roster
from .access import DISPATCH, HANDLE, ORDER, READ, subtree
from .errors import NOT_FOUND, ProxyError, invalid
from .inputs import Optional, Phone, Required, RowId
from .models import Authorization, Order
from .workflow import NAME, OPEN, ORDER_WORKFLOW, PLUGIN, RATINGS, SATISFACTION

ASSIGNEE_STEPS = ("take", "request_materials", "resume", "finish")
MAX_KEY = 200

# orders move only through this service (the plugin's workflow_guard)
OWNED = ServiceOnly(
    PLUGIN, [NAME], "代办单请通过红色代办办理（/api/v1/p/red_proxy/orders）/ use the red_proxy API"
)


class OrderIn(BaseModel):
    """A new order (点单): the API's body; the page builds the same."""

    item_id: RowId = Field(title="代办事项")
    requester_name: Required = Field(max_length=50, title="申请人姓名")
    requester_phone: Phone = Field(title="联系电话")
    need: Optional = Field(None, max_length=500, title="需求说明")
    preferred_time: Optional = Field(None, max_length=100, title="期望办理时间")
    on_behalf: bool = Field(False, title="代群众点单")


# -- the guard -----------------------------------------------------------------------------


# -- placing -------------------------------------------------------------------------------


def _replayed(session: Session, actor: Actor, key: str, body: OrderIn) -> Order | None:
    """The order an earlier request with this key made, or ``None``; 422 for another body."""
    found = session.exec(
        select(Order).where(col(Order.created_by) == actor.label, col(Order.idempotency_key) == key)
    ).first()
    if found is None:
        return None
    same = (
        found.item_id == body.item_id
        and found.requester_name == body.requester_name
        and found.requester_phone == body.requester_phone
        and found.need == body.need
        and found.preferred_time == body.preferred_time
        and found.on_behalf == body.on_behalf
    )
    if not same:
        raise invalid(
            "Idempotency-Key", "该键已用于另一内容不同的点单 / the key was used for another order"
        )
    return found


def place_order(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    unit_code: str,
    body: OrderIn,
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> tuple[Order, bool]:
    """群众点单 at ``unit_code``: returns the order and whether it is new; commits.

    A resident orders for themself; staff holding 派单 or 办单 rights there may order for a
    resident (``on_behalf``, 代点单). The item must be open in the unit's township's
    catalogue (422 naming ``item_id``). A retry with the same ``idempotency_key`` returns
    the first order, even when both arrive at once.
    """
    key = (idempotency_key or "").strip() or None
    if key is not None and (len(key) > MAX_KEY or "\x00" in key):
        raise invalid("Idempotency-Key", f"应为 1–{MAX_KEY} 个字符 / 1 to {MAX_KEY} characters")
    if key is not None and (found := _replayed(session, actor, key, body)) is not None:
        return found, False
    code = parse_code(unit_code).code
    scope = kernel.scope(code)
    kernel.require(PLUGIN, scope)
    if not kernel.allowed(actor, ORDER, code):
        raise ProxyError(403, f"没有权限点单（需要 {ORDER}）/ {ORDER!r} required")
    if body.on_behalf:
        if not (kernel.allowed(actor, HANDLE, code) or kernel.allowed(actor, DISPATCH, code)):
            raise ProxyError(403, "on_behalf: 代点单须由代办员或支部提交 / staff only")
    elif actor.kind != "account":
        raise invalid("on_behalf", "接口或系统提交须为代群众点单 / must be on behalf")
    try:
        item = catalogue.get_item(session, scope.township.code, body.item_id)
    except ProxyError:
        raise invalid("item_id", "本乡镇没有此代办事项 / no such item here") from None
    if not item.active:
        raise invalid("item_id", f"「{item.name}」暂停受理 / the item is closed")
    now = now or kernel.workflows.clock()
    instance = start_workflow(session, kernel, actor, PLUGIN, NAME, code, now=now)
    order = Order(
        instance_id=instance.id,
        item_id=item.id,  # type: ignore[arg-type]
        item_name=item.name,
        category=item.category,
        sensitive=item.sensitive,
        needs_authorization=item.needs_authorization,
        time_limit_days=item.time_limit_days,
        unit_code=code,
        township_code=instance.township_code,
        county_code=parse_code(code).ancestor_at(Level.county) or code,
        state=instance.state,
        version=instance.version,
        due_at=instance.due_at,
        requester_account=None if body.on_behalf else actor.name,
        requester_name=body.requester_name,
        requester_phone=body.requester_phone,
        on_behalf=body.on_behalf,
        need=body.need,
        preferred_time=body.preferred_time,
        ordered_at=now,
        idempotency_key=key,
        created_by=actor.label,
        updated_at=now,
    )
    session.add(order)
    session.flush()
    emit(
        session,
        "red_proxy.ordered",
        code,
        subject=f"red_proxy_order:{order.id}",
        actor_id=actor.id if actor.kind == "account" else None,
        payload={"order_id": order.id, "item_id": item.id, "instance_id": instance.id},
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        if key is not None and (found := _replayed(session, actor, key, body)) is not None:
            return found, False
        raise
    return order, True


# -- reading -------------------------------------------------------------------------------


def readable(kernel: Kernel, actor: Actor) -> ColumnElement[bool]:
    """Orders ``actor`` may read: at units where it holds ``red_proxy.read``, and its own
    (as requester or as the party member dispatched)."""
    staff = scope_clause(actor, kernel.access, READ, col(Order.unit_code))
    if actor.kind != "account":
        return staff
    own = or_(col(Order.requester_account) == actor.name, col(Order.assignee) == actor.name)
    return own if staff is false() else or_(staff, own)


def get_order(session: Session, kernel: Kernel, actor: Actor, order_id: int) -> Order:
    """The order if ``actor`` may read it and the plugin is on in its township; 404
    otherwise (the same answer as for an unknown order)."""
    order = session.exec(
        select(Order).where(col(Order.id) == order_id, readable(kernel, actor))
    ).first()
    if order is None:
        raise ProxyError(404, NOT_FOUND)
    kernel.require(PLUGIN, kernel.scope(order.township_code))
    return order


def is_requester(actor: Actor, order: Order) -> bool:
    return actor.kind == "account" and order.requester_account == actor.name


def is_assignee(actor: Actor, order: Order) -> bool:
    return actor.kind == "account" and order.assignee is not None and order.assignee == actor.name


def reveals_requester(kernel: Kernel, actor: Actor, order: Order) -> bool:
    """Whether ``actor`` sees the requester's name and phone unmasked: the requester, the
    party member dispatched, and the branch's dispatchers."""
    return (
        is_requester(actor, order)
        or is_assignee(actor, order)
        or kernel.allowed(actor, DISPATCH, order.unit_code)
    )


def overdue(order: Order, now: datetime) -> bool:
    """Still open after its current deadline."""
    return order.due_at is not None and order.due_at < now


# -- steps ---------------------------------------------------------------------------------


def _refuse(step: Transition, who: str) -> ProxyError:
    return ProxyError(403, f"只有{who}可以{step.label} / not allowed: {step.name}")


def authorise(kernel: Kernel, actor: Actor, order: Order, step: Transition) -> bool:
    """Whether ``actor`` may take ``step`` on ``order`` as far as this service decides, and
    whether it vouches for it (the engine then checks no permission); 403 otherwise."""
    name = step.name
    dispatcher = kernel.allowed(actor, DISPATCH, order.unit_code)
    if name == "dispatch":
        if dispatcher:
            return False  # the engine checks it again, with the version
        raise _refuse(step, "支部")
    if name in ASSIGNEE_STEPS:
        if is_assignee(actor, order):
            return False
        raise _refuse(step, "被派单的代办员")
    if name == "send_back":
        if is_assignee(actor, order):
            return False
        if dispatcher:
            return True  # recalled by the branch, to dispatch it again
        raise _refuse(step, "被派单的代办员或支部")
    if name == "rate":
        if is_requester(actor, order):
            return True
        if order.requester_account is None and dispatcher and not is_assignee(actor, order):
            return True  # 电话回访: the branch records the rating of an order placed for someone
        raise _refuse(step, "点单群众")
    if name == "withdraw":
        if is_requester(actor, order):
            return True
        if dispatcher:
            return False
        raise _refuse(step, "点单群众或支部")
    raise ProxyError(404, f"transition: 代办单没有「{name}」这一步 / no such transition")


def may_take(kernel: Kernel, actor: Actor, order: Order, step: Transition) -> bool:
    """Whether ``actor`` may take ``step`` on ``order`` now (its state allows it)."""
    if order.state not in step.sources:
        return False
    try:
        vouched = authorise(kernel, actor, order, step)
    except ProxyError:
        return False
    return vouched or (
        step.permission is not None and kernel.allowed(actor, step.permission, order.unit_code)
    )


def available(kernel: Kernel, actor: Actor, order: Order) -> list[Transition]:
    """The steps ``actor`` may take on ``order`` now, in the workflow's order."""
    return [s for s in ORDER_WORKFLOW.outgoing(order.state) if may_take(kernel, actor, order, s)]


def _checks(
    session: Session, order: Order, step: Transition, values: dict[str, Any]
) -> dict[str, Any]:
    """What the step needs besides its inputs; returns the fields it sets on the order."""
    if step.name == "dispatch":
        agents = {a.username: a for a in roster.covering(session, order.unit_code)}
        agent = agents.get(values["assignee"])
        if agent is None:
            raise invalid(
                "inputs.assignee", "不是本支部在岗的代办员 / not a party member on duty here"
            )
        return {"assignee": agent.username, "assignee_name": agent.display_name}
    if step.name == "finish" and order.needs_authorization:
        signed = session.exec(
            select(Authorization.id).where(col(Authorization.order_id) == order.id)
        ).first()
        if signed is None:
            raise invalid("authorization", "此事项须先登记委托书再办结 / record the 委托书 first")
    return {}


def _clock(order: Order, step: Transition, now: datetime) -> datetime | None:
    """The deadline the step sets, when not the state's own: the item's time limit in
    working days from 接单, and afresh once the missing materials arrive."""
    if step.name in ("take", "resume"):
        return Deadline(working_days=order.time_limit_days).due(now)
    return None


def _milestones(
    order: Order, step: Transition, values: dict[str, Any], due: datetime | None, now: datetime
) -> dict[str, Any]:
    """What ``step`` marks on the order besides the mirrored instance."""
    name = step.name
    if name == "dispatch":
        return {"dispatched_at": now}
    if name == "take":
        return {"taken_at": now, "complete_due_at": due}
    if name == "resume":
        return {"complete_due_at": due}
    if name == "send_back":
        return {
            "send_backs": order.send_backs + 1,
            "assignee": None,
            "assignee_name": None,
            "dispatched_at": None,
            "taken_at": None,
            "complete_due_at": None,
        }
    if name == "finish":
        return {
            "done_at": now,
            "done_on_time": order.complete_due_at is None or now <= order.complete_due_at,
            "hours_taken": round((now - order.ordered_at).total_seconds() / 3600, 2),
            "result": values["result"],
            "delivery": values["delivery"],
        }
    if name == "rate":
        label = values["rating"]
        return {
            "rated_at": now,
            "rating": len(RATINGS) - RATINGS.index(label),
            "satisfaction": SATISFACTION[label],
            "rating_comment": values.get("comment"),
        }
    if name == "withdraw":
        return {"withdrawn_at": now}
    return {}


def transition_order(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    order: Order,
    name: str,
    version: int,
    inputs: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> Order:
    """Take step ``name`` on ``order`` (as :func:`get_order` read it), last seen at
    ``version``: 404 for an unknown step, 403 for a step the actor may not take, 409 when
    stale or not allowed from the current state, 422 naming ``inputs.<name>`` (or
    ``authorization``). Mirrors the instance onto the order; the caller commits."""
    step = ORDER_WORKFLOW.transition(name)
    if step is None:
        raise ProxyError(404, f"transition: 代办单没有「{name}」这一步 / no such transition")
    vouched = authorise(kernel, actor, order, step)
    values = clean_transition_inputs(step, dict(inputs or {}))
    if version == order.version and order.state in step.sources:
        changes = _checks(session, order, step, values)
    else:
        changes = {}  # the engine answers 409 below
    now = now or kernel.workflows.clock()
    due = _clock(order, step, now)
    with OWNED.step():
        moved, _ = apply_transition(
            session,
            kernel,
            actor,
            order.instance_id,
            step.name,
            version,
            values,
            plugin=PLUGIN,
            workflow=NAME,
            now=now,
            due_at=due,
            vouched=vouched,
        )
    changes |= {
        "state": moved.state,
        "version": moved.version,
        "due_at": moved.due_at,
        "updated_at": now,
        **_milestones(order, step, values, due, now),
    }
    for field, value in changes.items():
        setattr(order, field, value)
    session.add(order)
    session.flush()
    return order


# -- lists ---------------------------------------------------------------------------------

LIST_STATES = ("open", *(s.name for s in ORDER_WORKFLOW.states))


def enabled_only(session: Session, kernel: Kernel, conditions: list[Any]) -> list[Any]:
    """``conditions`` plus one leaving out orders of townships where the plugin is off (a
    county-wide list skips them, as the kernel's metrics do)."""
    townships = session.exec(select(Order.township_code).where(*conditions).distinct()).all()
    off = [code for code in townships if PLUGIN not in kernel.scope(code).enabled]
    return [*conditions, col(Order.township_code).not_in(off)] if off else conditions


def list_orders(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    under: str,
    *,
    state: str | None = None,
    overdue_only: bool = False,
    mine: bool = False,
    assigned: bool = False,
    now: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Order]:
    """Orders ``actor`` may read: its own (``mine``), those dispatched to it (``assigned``),
    or all at ``under`` and below. ``state`` is a state's name or ``open``; ``overdue_only``
    keeps open orders past their deadline. Open lists (``open`` or one open state, such as
    ``ordered``: awaiting dispatch) and overdue lists come due soonest first, others newest
    first. 422 naming ``state`` for an unknown one."""
    conditions: list[Any] = [readable(kernel, actor)]
    if (mine or assigned) and actor.kind != "account":
        conditions.append(false())  # only accounts order or are dispatched to
    elif mine:
        conditions.append(col(Order.requester_account) == actor.name)
    elif assigned:
        conditions.append(col(Order.assignee) == actor.name)
    else:
        conditions.append(subtree(col(Order.unit_code), under))
    if state is not None and state not in LIST_STATES:
        raise invalid("state", f"应为以下之一 / one of: {', '.join(LIST_STATES)}")
    if state == "open":
        conditions.append(col(Order.state).in_(OPEN))
    elif state is not None:
        conditions.append(col(Order.state) == state)
    if overdue_only:
        now = now or kernel.workflows.clock()
        conditions += [col(Order.state).in_(OPEN), col(Order.due_at) < now]
    query = select(Order).where(*enabled_only(session, kernel, conditions))
    if state == "open" or state in OPEN or overdue_only:
        query = query.order_by(col(Order.due_at), col(Order.id))
    else:
        query = query.order_by(col(Order.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)))
