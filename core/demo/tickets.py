"""The demo county's requests (为民办事): 80 tickets of the six types over the last six
weeks in 柯城区, each walked through the real ticket service as far as its story goes
(accepted, signed, resolved, visited back, rated, some escalated, rejected or withdrawn), so
that inboxes, 我的诉求, the 公示 board and the KPIs have something to show.

Deterministic (one seed) but for the dates, which are relative to the moment it runs:
a ticket's story stops at the first step that would lie in the future. Reported on behalf
of residents by their grid (``system:demo``), except those of the demo resident's own grid,
which the demo resident submitted (and rates) itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from core.db.types import utcnow
from core.identity.access import Actor, role_at
from core.identity.models import Account
from core.kernel import Kernel
from core.tickets.lifecycle import STATES
from core.tickets.models import Ticket
from core.tickets.service import TicketIn, create_ticket, rate_ticket, transition_ticket
from core.units.codes import Level
from core.units.models import Unit

SEED = 20261127
TICKETS = 80
COUNTY = "330802000000"
RESIDENT = "resident"  # the demo resident's username (core.demo.load.DEMO_ACCOUNTS)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙胡朱高林何郭马罗"
GIVEN = "建国秀英志强丽华文明海燕玉兰春梅卫东红霞国平桂芳"

# (type, title, description, extra fields)
STORIES: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("public_repair", "路灯不亮", "村口到小学的路灯坏了三盏，晚上接孩子很黑", {"facility": "路灯"}),
    (
        "public_repair",
        "路面塌陷",
        "菜市场后面的路面塌了一个坑，电动车容易摔",
        {"facility": "道路", "hazard": True},
    ),
    ("public_repair", "下水道堵塞", "下雨后路口积水，下水道堵了", {"facility": "供排水"}),
    ("complaint", "夜间施工扰民", "工地晚上十一点后还在施工", {"accused": "某建筑工地"}),
    (
        "complaint",
        "占道经营",
        "早市摊位占了消防通道",
        {"accused": "早市摊贩", "occurred": "每天早上"},
    ),
    (
        "estate",
        "楼道堆物",
        "三楼楼道堆满杂物，影响通行",
        {"estate": "府山小区 5 幢", "category": "消防通道"},
    ),
    ("estate", "小区乱停车", "外来车辆停在绿化带上", {"estate": "新华苑", "category": "停车"}),
    ("estate", "宠物扰民", "邻居家的狗整夜叫", {"estate": "府山小区 2 幢", "category": "宠物"}),
    (
        "home_repair",
        "水管漏水",
        "厨房水管接头漏水",
        {"fault": "水", "access_window": "工作日下午", "accepts_charge": True},
    ),
    (
        "home_repair",
        "电路跳闸",
        "家里一开电饭煲就跳闸",
        {"fault": "电", "access_window": "随时", "accepts_charge": False},
    ),
    (
        "legal_dispute",
        "宅基地边界纠纷",
        "与邻居对宅基地边界有争议",
        {"parties": "两户邻居", "dispute_kind": "土地山林"},
    ),
    (
        "legal_dispute",
        "拖欠工资",
        "装修队拖欠两个月工资",
        {"parties": "工人与装修队", "dispute_kind": "劳动报酬", "amount": 12000},
    ),
    (
        "renovation",
        "装修申报",
        "更换门窗和地板，不动结构",
        {
            "owner": "房产证",
            "plan": "更换门窗、地板",
            "structural_change": False,
            "start_date": "2026-12-01",
            "end_date": "2026-12-31",
            "pledge": True,
        },
    ),
)
CHANNELS = ("web", "app", "hotline", "door_knock", "tea_house", "mobile_office")
RATINGS = (5, 5, 5, 4, 4, 3, 2, 1)


@dataclass
class TicketsReport:
    """What :func:`load_tickets` found or wrote: tickets by state."""

    created: bool
    states: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for ``sanmin demo``."""
        total = sum(self.states.values())
        labels = {state.name: state.label for state in STATES}
        parts = "、".join(f"{labels.get(s, s)} {n}" for s, n in sorted(self.states.items()))
        verb = "新载入" if self.created else "已存在，未改动"
        return f"为民办事（演示数据）：{total} 件诉求（{parts}），{verb}"


def _states(session: Session) -> dict[str, int]:
    rows = session.exec(select(Ticket.state, func.count()).group_by(Ticket.state)).all()
    return {state: count for state, count in rows}


def load_tickets(kernel: Kernel, *, now: datetime | None = None) -> TicketsReport:
    """Write the demo tickets unless there are tickets already; the demo units, accounts and
    archive must be loaded."""
    with Session(kernel.engine, expire_on_commit=False) as session:
        if session.scalar(select(func.count()).select_from(Ticket)):
            return TicketsReport(False, _states(session))
        grids = list(
            session.exec(
                select(Unit.code)
                .where(col(Unit.level) == Level.grid.value, col(Unit.code).startswith("330802"))
                .order_by(Unit.code)
            ).scalars()
        )
        resident = (
            session.exec(select(Account).where(Account.username == RESIDENT)).scalars().first()
        )
    if not grids:
        return TicketsReport(False, {})
    rng = random.Random(SEED)
    now = now or utcnow()
    staff = Actor("system", 0, "demo", (role_at("county_admin", COUNTY),), display_name="演示")
    for n in range(TICKETS):
        _story(kernel, rng, n, grids, resident, staff, now)
    with Session(kernel.engine) as session:
        return TicketsReport(True, _states(session))


def _story(
    kernel: Kernel,
    rng: random.Random,
    n: int,
    grids: list[str],
    resident: Account | None,
    staff: Actor,
    now: datetime,
) -> None:
    kind, title, description, extra = rng.choice(STORIES)
    own = resident is not None and n % 6 == 0  # the demo resident's own requests
    grid = "330802001001001" if own else rng.choice(grids)
    at = now - timedelta(days=min(42.0, rng.expovariate(1 / 6)))  # most of them recent
    reporter = (
        Actor("account", resident.id, resident.username, (role_at("resident", grid),))
        if own and resident is not None
        else Actor("system", 0, "demo", (role_at("grid_worker", grid),), display_name="演示网格员")
    )
    body = TicketIn(
        type=kind,
        unit_code=grid,
        title=title,
        description=description,
        priority="urgent" if extra.get("hazard") or rng.random() < 0.1 else "normal",
        nature="complaint" if kind == "complaint" else "help",
        channel=rng.choice(CHANNELS),
        reporter_name=rng.choice(SURNAMES) + rng.choice(GIVEN[::2]) if not own else None,
        reporter_phone=f"13{rng.randrange(10**8, 10**9)}",
        on_behalf=not own,
        extra=extra,
    )
    with Session(kernel.engine, expire_on_commit=False) as session:
        ticket, _ = create_ticket(session, kernel, reporter, body, now=at)
    plan = _plan(rng, kind)
    for name, hours, inputs in plan:
        at += timedelta(hours=hours)
        if at >= now:
            return
        with Session(kernel.engine, expire_on_commit=False) as session:
            current = session.get(Ticket, ticket.id)
            assert current is not None
            if name == "rate" and own:
                ticket = rate_ticket(
                    session,
                    kernel,
                    reporter,
                    current,
                    current.version,
                    inputs["rating"],
                    solved=inputs["rating"] >= 3,
                    now=at,
                )
            else:
                ticket = transition_ticket(
                    session,
                    kernel,
                    staff,
                    current,
                    name,
                    current.version,
                    inputs,
                    vouched=name in ("rate", "cancel"),
                    now=at,
                )
            session.commit()


def _plan(rng: random.Random, kind: str) -> list[tuple[str, float, dict[str, Any]]]:
    """The steps of one ticket's story, each with the hours since the step before."""
    roll = rng.random()
    if roll < 0.05:
        return [("reject", rng.uniform(1, 6), {"reason": "属于司法程序事项，已告知当事人依法起诉"})]
    if roll < 0.09:
        return [("cancel", rng.uniform(0.2, 2), {"reason": "问题已自行解决"})]
    if roll < 0.25:  # the grid cannot settle it: up to the village, which has it accepted
        steps = [("escalate", rng.uniform(0.5, 3), {"reason": "需村社协调处理"})]
    else:
        steps = [("accept", rng.uniform(0.2, 2), {})]
    steps += [
        ("sign", rng.uniform(0.2, 3), {}),
        (
            "resolve",
            rng.uniform(3, 90 if kind != "legal_dispute" else 200),
            {"result": "已处理完毕，现场拍照存档"},
        ),
        ("visit", rng.uniform(4, 30), {"note": "电话回访，群众认可处理结果"}),
        ("rate", rng.uniform(2, 48), {"rating": rng.choice(RATINGS)}),
    ]
    return steps
