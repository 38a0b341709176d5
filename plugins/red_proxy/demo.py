"""The demo of 红色代办 in 府山街道 (柯城区, where ``sanmin demo`` switches it on): the common
catalogue, a 党员代办员 and a 支部书记 of 府山社区 on the roster, and a dozen orders placed
for elderly residents (代点单), each walked through the real order service as far as its
story goes, so that every state, the 公示 and the metrics have something to show.

Deterministic: one ``random.Random(SEED)`` spaces the steps, and the dates are relative to
the moment it runs. Idempotent: each order is placed with its own ``Idempotency-Key``, so a
second run finds it and leaves it alone; the catalogue and the roster are matched by name.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from core import Actor, DemoAccount, Kernel, list_accounts, role_at

from . import catalogue, paperwork, roster, service
from .access import AGENT_ROLE, SECRETARY_ROLE
from .models import Item, Order
from .workflow import PLUGIN, STATE_LABELS

SEED = 20260701
TOWNSHIP = "330802001000"  # 府山街道
VILLAGE = "330802001001"  # 府山社区
GRIDS = tuple(f"{VILLAGE}{n:03d}" for n in range(1, 5))
AGENT = DemoAccount("red_proxy_agent", AGENT_ROLE, VILLAGE, "演示代办员")
SECRETARY = DemoAccount("red_proxy_secretary", SECRETARY_ROLE, VILLAGE, "演示支部书记")
ACCOUNTS = [AGENT, SECRETARY]
AGENT_PHONE = "05708881234"  # the branch's service line, as published on the roster


@dataclass(frozen=True)
class Story:
    """One demo order: the item, the requester (fictitious), how many days ago it was
    placed, and its steps, each ``(step, inputs)``."""

    item: str
    requester: str
    phone: str
    days_ago: float
    steps: tuple[tuple[str, dict[str, Any]], ...] = ()
    need: str | None = None


_DISPATCH = ("dispatch", {"assignee": AGENT.username, "note": "请尽快联系老人"})
_TAKE = ("take", {})
_AUTHORISE = ("authorise", {})
_HANDOVER = ("handover", {})


def _finish(result: str) -> tuple[str, dict[str, Any]]:
    return ("finish", {"result": result, "delivery": "当面送达"})


def _rate(rating: str, comment: str | None = None) -> tuple[str, dict[str, Any]]:
    return ("rate", {"rating": rating, **({"comment": comment} if comment else {})})


STORIES: tuple[Story, ...] = (
    Story(
        "养老保险待遇资格认证",
        "张桂英",
        "13905701101",
        30,
        (_DISPATCH, _TAKE, _finish("已上门协助完成刷脸认证"), _rate("很满意", "党员上门，很方便")),
        "腿脚不便，手机不会操作",
    ),
    Story(
        "户籍证明开具",
        "李德明",
        "13905701102",
        26,
        (_DISPATCH, _TAKE, _AUTHORISE, _HANDOVER, _finish("证明已开具并送到家"), _rate("满意")),
    ),
    Story(
        "水电燃气费代缴",
        "王秀兰",
        "13905701103",
        21,
        (_DISPATCH, _TAKE, _finish("已代缴本季度水费"), _rate("基本满意", "比预想慢了一天")),
    ),
    Story(
        "城乡居民医保报销",
        "刘根土",
        "13905701104",
        18,
        (_DISPATCH, _TAKE, _AUTHORISE, _HANDOVER, _finish("报销款已打入本人银行卡")),
        "住院费用报销，材料已备齐",
    ),
    Story(
        "高龄津贴申领",
        "陈美娟",
        "13905701105",
        25,
        (_DISPATCH, _TAKE, _AUTHORISE, _HANDOVER),
        "九十岁老人，子女在外地",
    ),
    Story(
        "残疾人证办理",
        "周福生",
        "13905701106",
        9,
        (
            _DISPATCH,
            _TAKE,
            _AUTHORISE,
            ("request_materials", {"missing": "二级以上医院诊断证明"}),
        ),
    ),
    Story(
        "农房不动产登记",
        "吴小芳",
        "13905701107",
        6,
        (_DISPATCH, _TAKE, _AUTHORISE, _HANDOVER),
    ),
    Story("社会保障卡补换", "郑春花", "13905701108", 1.5, (_DISPATCH,), "社保卡丢失"),
    Story(
        "城乡居民养老保险参保登记",
        "徐来顺",
        "13905701109",
        3,
        (_DISPATCH, ("send_back", {"reason": "本人外出培训一周，请支部改派"})),
    ),
    Story("户籍证明开具", "孙玉珍", "13905701110", 0.3, (), "办理入学需要"),
    Story(
        "高龄津贴申领",
        "胡建平",
        "13905701111",
        12,
        (_DISPATCH, ("withdraw", {"reason": "家属已自行办理"})),
    ),
    Story(
        "养老保险待遇资格认证",
        "朱阿四",
        "13905701112",
        15,
        (_DISPATCH, _TAKE, _finish("已协助完成认证"), _rate("很满意")),
    ),
)


@dataclass
class Cast:
    """Who acts in the demo: the party member and the branch secretary (their accounts) and
    the township admin who loads the catalogue."""

    agent: Actor
    secretary: Actor
    admin: Actor = field(
        default_factory=lambda: Actor(
            "system", 0, "demo", (role_at("township_admin", TOWNSHIP),), display_name="演示"
        )
    )


def _account_actor(session: Session, kernel: Kernel, demo: DemoAccount) -> Actor:
    """The demo account as the services see it; the core demo creates it before this runs."""
    reader = Actor("system", 0, "demo", (role_at("county_admin", "330802000000"),))
    found = [
        a
        for a in list_accounts(session, reader, kernel.access, role=demo.role, q=demo.username)
        if a.username == demo.username
    ]
    if not found:
        raise LookupError(f"demo account {demo.username!r} is missing (run the core demo first)")
    return Actor(
        "account",
        found[0].id,
        demo.username,
        (role_at(demo.role, demo.unit_code),),
        display_name=found[0].display_name or demo.display_name,
    )


def load(kernel: Kernel, *, now: datetime | None = None) -> str | None:
    """Write the demo (see the module's docstring); ``None`` where the demo does not switch
    the plugin on. Returns the one-line summary ``sanmin demo`` prints."""
    if PLUGIN not in kernel.scope(TOWNSHIP).enabled:
        return None
    now = now or kernel.workflows.clock()
    with Session(kernel.engine, expire_on_commit=False) as session:
        cast = Cast(
            agent=_account_actor(session, kernel, AGENT),
            secretary=_account_actor(session, kernel, SECRETARY),
        )
        added = catalogue.load_defaults(session, kernel, cast.admin, TOWNSHIP)
        roster.sign(session, cast.agent, TOWNSHIP, on_duty=True, phone=AGENT_PHONE)
        roster.sign(session, cast.secretary, TOWNSHIP, on_duty=True)
        session.commit()
        items = {item.name: item.id for item in catalogue.list_items(session, TOWNSHIP)}
    rng = random.Random(SEED)
    created = [
        _story(kernel, cast, items, n, story, rng, now) for n, story in enumerate(STORIES, 1)
    ]
    with Session(kernel.engine) as session:
        states = dict(
            session.exec(
                select(Order.state, func.count())
                .where(col(Order.township_code) == TOWNSHIP)
                .group_by(col(Order.state))
            ).all()
        )
        item_count = session.exec(
            select(func.count()).select_from(Item).where(col(Item.unit_code) == TOWNSHIP)
        ).one()
    parts = "、".join(f"{STATE_LABELS[s]} {states[s]}" for s in STATE_LABELS if s in states)
    verb = "新载入" if any(created) or added else "已存在，未改动"
    return (
        f"红色代办（演示数据）：代办事项 {item_count} 项，代办单 {sum(states.values())} 张"
        f"（{parts}），{verb}"
    )


def _story(
    kernel: Kernel,
    cast: Cast,
    items: dict[str, int],
    n: int,
    story: Story,
    rng: random.Random,
    now: datetime,
) -> bool:
    """Place one order and walk its steps; ``False`` when it was there already."""
    at = now - timedelta(days=story.days_ago)
    gaps = [rng.uniform(1, 8) for _ in story.steps]  # drawn whether or not it is new
    body = service.OrderIn(
        item_id=items[story.item],
        requester_name=story.requester,
        requester_phone=story.phone,
        need=story.need,
        on_behalf=True,
    )
    with Session(kernel.engine, expire_on_commit=False) as session:
        order, created = service.place_order(
            session,
            kernel,
            cast.agent,
            GRIDS[n % len(GRIDS)],
            body,
            idempotency_key=f"red_proxy-demo-{n}",
            now=at,
        )
    if not created:
        return False
    for (name, inputs), hours in zip(story.steps, gaps, strict=True):
        at += timedelta(hours=hours * (6 if name in ("finish", "rate") else 1))
        with Session(kernel.engine, expire_on_commit=False) as session:
            current = service.get_order(session, kernel, cast.secretary, order.id)  # type: ignore[arg-type]
            _step(session, kernel, cast, current, name, inputs, at)
            session.commit()
    return True


def _step(
    session: Session,
    kernel: Kernel,
    cast: Cast,
    order: Order,
    name: str,
    inputs: dict[str, Any],
    at: datetime,
) -> None:
    if name == "authorise":
        paperwork.record_authorization(
            session,
            kernel,
            cast.agent,
            order,
            paperwork.AuthorizationIn(
                principal=order.requester_name,
                powers="代为递交申请材料、领取办理结果",
                signed_on=at.date(),
                valid_until=(at + timedelta(days=90)).date(),
                sign_method="手写签名",
            ),
            now=at,
        )
        return
    if name == "handover":
        paperwork.record_handover(
            session,
            kernel,
            cast.agent,
            order,
            paperwork.HandoverIn(
                what=f"{order.item_name}申请材料",
                quantity=1,
                from_party=order.requester_name,
                to_party=cast.agent.display_name,
                handed_at=at,
            ),
            now=at,
        )
        return
    actor = cast.secretary if name in ("dispatch", "rate", "withdraw") else cast.agent
    service.transition_order(session, kernel, actor, order, name, order.version, inputs, now=at)
