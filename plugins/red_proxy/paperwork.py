"""The paper trail of an order: the 委托书 (authorisation) and the hand-over log of materials.

Acting for someone needs their written authorisation: the 委托书 names the principal (the
requester), the party member authorised, the matters and powers, when it was signed, how, and
until when it holds. An item marked ``needs_authorization`` cannot be finished (办结) before
one is recorded. Every hand-over of materials (originals collected from the requester,
handed to the department, results collected, originals returned) is logged: what, how many,
from whom, to whom and when (交接清单). Both are written by the party member dispatched or
by the branch; the log is append-only.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, Field
from sqlmodel import Session, col, select

from core import Actor, Kernel

from .access import DISPATCH, HANDLE
from .errors import ProxyError, invalid
from .inputs import Optional, Required
from .models import Authorization, Handover, Order
from .service import is_assignee
from .workflow import HANDLING, STATE_LABELS

SIGN_METHODS = ("手写签名", "按手印", "电子签名")
SignMethod = Literal["手写签名", "按手印", "电子签名"]
AUTHORISABLE = ("dispatched", *HANDLING)
CLOCK_SKEW = timedelta(minutes=5)  # a phone's clock a little ahead is not "the future"


class AuthorizationIn(BaseModel):
    """A 委托书 as recorded from the signed paper (or the e-signature)."""

    principal: Required = Field(max_length=50, title="委托人")
    powers: Required = Field(max_length=500, title="委托权限")
    matters: Optional = Field(None, max_length=200, title="委托事项（默认为代办事项）")
    signed_on: date = Field(title="签署日期")
    valid_until: date = Field(title="有效期至")
    sign_method: SignMethod = Field(title="签署方式")


class HandoverIn(BaseModel):
    """One hand-over of materials."""

    what: Required = Field(max_length=200, title="材料名称")
    quantity: int = Field(1, ge=1, le=100, title="份数")
    from_party: Required = Field(max_length=100, title="交出人")
    to_party: Required = Field(max_length=100, title="接收人")
    handed_at: AwareDatetime | None = Field(None, title="交接时间（默认为现在）")
    note: Optional = Field(None, max_length=500, title="备注")


def may_keep_papers(kernel: Kernel, actor: Actor, order: Order) -> bool:
    """The party member dispatched, a handler of the branch, or a dispatcher."""
    return (
        is_assignee(actor, order)
        or kernel.allowed(actor, HANDLE, order.unit_code)
        or kernel.allowed(actor, DISPATCH, order.unit_code)
    )


def _require_keeper(kernel: Kernel, actor: Actor, order: Order) -> None:
    if not may_keep_papers(kernel, actor, order):
        raise ProxyError(403, "只有代办员或支部可以登记 / a handler or dispatcher is required")


def authorization_of(session: Session, order: Order) -> Authorization | None:
    return session.exec(
        select(Authorization).where(col(Authorization.order_id) == order.id)
    ).first()


def record_authorization(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    order: Order,
    body: AuthorizationIn,
    *,
    now: datetime,
) -> Authorization:
    """Record the order's 委托书, once, while it is dispatched or being handled (409 otherwise
    or when one exists); the party member authorised is the one dispatched. The caller
    commits."""
    _require_keeper(kernel, actor, order)
    if order.state not in AUTHORISABLE or order.assignee_name is None:
        state = STATE_LABELS.get(order.state, order.state)
        raise ProxyError(409, f"state: 「{state}」的代办单不能登记委托书 / not now")
    if authorization_of(session, order) is not None:
        raise ProxyError(409, "authorization: 委托书已登记 / already recorded")
    today = now.astimezone(ZoneInfo(kernel.settings.timezone)).date()
    if body.signed_on > today:
        raise invalid("signed_on", "签署日期不能晚于今天 / cannot be in the future")
    if body.valid_until < body.signed_on:
        raise invalid("valid_until", "有效期不能早于签署日期 / before the signing day")
    if body.valid_until < today:
        raise invalid("valid_until", "委托书已过有效期 / already expired")
    found = Authorization(
        order_id=order.id,  # type: ignore[arg-type]
        principal=body.principal,
        agent_name=order.assignee_name,
        matters=body.matters or order.item_name,
        powers=body.powers,
        signed_on=body.signed_on,
        valid_until=body.valid_until,
        sign_method=body.sign_method,
        recorded_by=actor.label,
        recorded_at=now,
    )
    session.add(found)
    session.flush()
    return found


def record_handover(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    order: Order,
    body: HandoverIn,
    *,
    now: datetime,
) -> Handover:
    """Log one hand-over of the order's materials (at any stage: originals are returned
    after 办结 or 退单 too). ``handed_at`` defaults to now and may lie neither in the future
    nor before the order was placed. The caller commits."""
    _require_keeper(kernel, actor, order)
    handed_at = body.handed_at or now
    if handed_at > now + CLOCK_SKEW:
        raise invalid("handed_at", "交接时间不能晚于现在 / cannot be in the future")
    if handed_at < order.ordered_at:
        raise invalid("handed_at", "交接时间不能早于点单时间 / before the order was placed")
    found = Handover(
        order_id=order.id,  # type: ignore[arg-type]
        what=body.what,
        quantity=body.quantity,
        from_party=body.from_party,
        to_party=body.to_party,
        handed_at=handed_at,
        note=body.note,
        recorded_by=actor.label,
        recorded_at=now,
    )
    session.add(found)
    session.flush()
    return found


def handovers_of(session: Session, order: Order) -> list[Handover]:
    """The order's hand-over log, in the order things happened."""
    query = select(Handover).where(col(Handover.order_id) == order.id)
    return list(session.exec(query.order_by(col(Handover.handed_at), col(Handover.id))))


def authorization_view(found: Authorization | None) -> dict[str, object] | None:
    if found is None:
        return None
    return {
        "principal": found.principal,
        "agent_name": found.agent_name,
        "matters": found.matters,
        "powers": found.powers,
        "signed_on": found.signed_on.isoformat(),
        "valid_until": found.valid_until.isoformat(),
        "sign_method": found.sign_method,
        "recorded_at": found.recorded_at,
    }


def handover_view(found: Handover) -> dict[str, object]:
    return {
        "id": found.id,
        "what": found.what,
        "quantity": found.quantity,
        "from_party": found.from_party,
        "to_party": found.to_party,
        "handed_at": found.handed_at,
        "note": found.note,
        "recorded_by": found.recorded_by,
    }
