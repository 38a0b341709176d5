"""JSON API of 红色代办, mounted under ``/api/v1/p/red_proxy/`` (the kernel's guard: a
signed-in actor, the request's unit within its units, the plugin on in that township).

* ``/items``: the township's catalogue (GET; POST, PUT ``/items/{id}`` with the version
  seen, POST ``/items/defaults`` for the common items: catalogue keepers only);
* ``/agents``: the township's roster; ``PUT /agents/me``: 上岗 / 下岗;
* ``/orders``: 点单 (POST, ``Idempotency-Key``), lists (``state``, ``overdue``, ``mine``,
  ``assigned``), one order (GET ``/orders/{id}``), a step (POST
  ``/orders/{id}/transitions/{name}`` with ``{version, inputs}``: 409 when stale), the 委托书
  (POST ``/orders/{id}/authorization``) and the hand-over log (POST ``/orders/{id}/handovers``);
* ``/public``: the 公示 of the request's unit.

Refused input answers 422 in FastAPI's shape (``detail: [{loc, msg, type}]``) with ``loc``
naming the field; an order outside the caller's scope answers 404, like an unknown one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, Field

from core import Scope, actor_of, current_scope, fields_named, kernel_of, session_of

from . import catalogue, paperwork, publication, roster, service, views
from .inputs import DB_INT_MAX, Phone, RowId

api = APIRouter()

ScopeDep = Annotated[Scope, Depends(current_scope)]
OrderId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="代办单编号 / order id")]
ItemId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="事项编号 / item id")]
Limit = Annotated[int, Query(ge=1, le=100, description="条数 / page size")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="跳过的条数 / rows to skip")]


# -- catalogue -----------------------------------------------------------------------------


@api.get("/items", summary="代办事项目录 / the township's catalogue")
def list_items(
    request: Request,
    scope: ScopeDep,
    everything: Annotated[
        bool, Query(alias="all", description="含暂停受理的事项（目录维护人员）")
    ] = False,
) -> list[dict[str, Any]]:
    """Items open for 点单; with ``all=true``, keepers of the catalogue also see closed ones."""
    township = scope.township.code
    keeper = catalogue.may_edit(kernel_of(request), actor_of(request), township)
    with session_of(request) as session:
        items = catalogue.list_items(session, township, active_only=not (everything and keeper))
        return [catalogue.item_view(item) for item in items]


@api.post("/items", status_code=201, summary="新增代办事项 / add an item")
def create_item(request: Request, scope: ScopeDep, body: catalogue.ItemIn) -> dict[str, Any]:
    with session_of(request) as session, fields_named():
        item = catalogue.create_item(
            session, kernel_of(request), actor_of(request), scope.township.code, body
        )
        session.commit()
        return catalogue.item_view(item)


@api.put("/items/{item_id}", summary="修改代办事项 / edit an item (with the version seen)")
def update_item(
    request: Request, scope: ScopeDep, item_id: ItemId, body: catalogue.ItemUpdate
) -> dict[str, Any]:
    with session_of(request) as session, fields_named():
        item = catalogue.update_item(
            session, kernel_of(request), actor_of(request), scope.township.code, item_id, body
        )
        session.commit()
        return catalogue.item_view(item)


@api.post("/items/defaults", summary="载入常用代办事项 / add the common items")
def load_defaults(request: Request, scope: ScopeDep) -> dict[str, int]:
    with session_of(request) as session:
        added = catalogue.load_defaults(
            session, kernel_of(request), actor_of(request), scope.township.code
        )
        session.commit()
        return {"added": added}


# -- roster --------------------------------------------------------------------------------


class SignIn(BaseModel):
    on_duty: bool = Field(description="上岗 true / 下岗 false")
    phone: Phone | None = Field(None, description="服务电话（公开）")


@api.get("/agents", summary="代办员名册 / the township's roster")
def list_agents(request: Request, scope: ScopeDep) -> list[dict[str, Any]]:
    with session_of(request) as session:
        return [roster.agent_view(a) for a in roster.in_township(session, scope.township.code)]


@api.put("/agents/me", summary="上岗或下岗 / sign on or off duty")
def sign(request: Request, scope: ScopeDep, body: SignIn) -> list[dict[str, Any]]:
    with session_of(request) as session, fields_named():
        rows = roster.sign(
            session,
            actor_of(request),
            scope.township.code,
            on_duty=body.on_duty,
            phone=body.phone,
        )
        session.commit()
        return [roster.agent_view(a) for a in rows]


# -- orders --------------------------------------------------------------------------------


@api.post("/orders", status_code=201, summary="点单 / place an order")
def place_order(
    request: Request,
    response: Response,
    scope: ScopeDep,
    body: service.OrderIn,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", max_length=200, description="重试时使用同一个键"),
    ] = None,
) -> dict[str, Any]:
    """A new order at the request's unit (201); a retry with the same ``Idempotency-Key``
    returns the first (200, ``Idempotent-Replayed: true``)."""
    kernel, actor = kernel_of(request), actor_of(request)
    with session_of(request) as session:
        with fields_named():
            order, created = service.place_order(
                session, kernel, actor, scope.unit.code, body, idempotency_key=idempotency_key
            )
        if not created:
            response.status_code = 200
            response.headers["Idempotent-Replayed"] = "true"
        return views.order_detail(session, kernel, actor, order, kernel.workflows.clock())


@api.get("/orders", summary="代办单列表 / orders")
def list_orders(
    request: Request,
    scope: ScopeDep,
    state: Annotated[str | None, Query(max_length=40, description="状态或 open")] = None,
    overdue: Annotated[bool, Query(description="只看已超期的")] = False,
    mine: Annotated[bool, Query(description="我点的单")] = False,
    assigned: Annotated[bool, Query(description="派给我的单")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    kernel, actor = kernel_of(request), actor_of(request)
    now = kernel.workflows.clock()
    with session_of(request) as session, fields_named("query"):
        found = service.list_orders(
            session,
            kernel,
            actor,
            scope.unit.code,
            state=state,
            overdue_only=overdue,
            mine=mine,
            assigned=assigned,
            now=now,
            limit=limit,
            offset=offset,
        )
        return [views.order_summary(kernel, actor, order, now) for order in found]


@api.get("/orders/{order_id}", summary="代办单详情 / one order")
def get_order(request: Request, order_id: OrderId) -> dict[str, Any]:
    kernel, actor = kernel_of(request), actor_of(request)
    with session_of(request) as session:
        order = service.get_order(session, kernel, actor, order_id)
        return views.order_detail(session, kernel, actor, order, kernel.workflows.clock())


class StepIn(BaseModel):
    version: RowId = Field(description="所见版本 / the version you saw")
    inputs: dict[str, str | int | None] = Field(default_factory=dict, description="输入项")


@api.post(
    "/orders/{order_id}/transitions/{name}",
    summary="派单、接单、退单、待补材料、办结、评单、撤单 / take a step",
)
def take_step(
    request: Request,
    order_id: OrderId,
    name: Annotated[str, Path(max_length=40)],
    body: StepIn,
) -> dict[str, Any]:
    """The order after the step; 409 when ``version`` is stale (reload and retry)."""
    kernel, actor = kernel_of(request), actor_of(request)
    with session_of(request) as session:
        order = service.get_order(session, kernel, actor, order_id)
        with fields_named():
            service.transition_order(session, kernel, actor, order, name, body.version, body.inputs)
        session.commit()
        return views.order_detail(session, kernel, actor, order, kernel.workflows.clock())


@api.post("/orders/{order_id}/authorization", status_code=201, summary="登记委托书 / the 委托书")
def record_authorization(
    request: Request, order_id: OrderId, body: paperwork.AuthorizationIn
) -> dict[str, Any]:
    kernel, actor = kernel_of(request), actor_of(request)
    with session_of(request) as session:
        order = service.get_order(session, kernel, actor, order_id)
        with fields_named():
            found = paperwork.record_authorization(
                session, kernel, actor, order, body, now=kernel.workflows.clock()
            )
        session.commit()
        return paperwork.authorization_view(found) or {}


@api.post("/orders/{order_id}/handovers", status_code=201, summary="登记材料交接 / log a hand-over")
def record_handover(
    request: Request, order_id: OrderId, body: paperwork.HandoverIn
) -> dict[str, Any]:
    kernel, actor = kernel_of(request), actor_of(request)
    with session_of(request) as session:
        order = service.get_order(session, kernel, actor, order_id)
        with fields_named():
            found = paperwork.record_handover(
                session, kernel, actor, order, body, now=kernel.workflows.clock()
            )
        session.commit()
        return paperwork.handover_view(found)


# -- 公示 ----------------------------------------------------------------------------------


@api.get("/public", summary="代办公示 / finished orders, requester masked")
def public_list(
    request: Request, scope: ScopeDep, limit: Limit = 30, offset: Offset = 0
) -> list[dict[str, Any]]:
    with session_of(request) as session:
        return publication.published(
            session, kernel_of(request), scope.unit.code, limit=limit, offset=offset
        )
