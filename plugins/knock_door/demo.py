"""The demo of 敲门嫂 for ``sanmin demo``: two accounts in 府山社区, a team per village of
柯城区, the plans of last and this period from the demo archive's care levels, and visits by
the 府山社区 team (fixed seeds; a second run on the same day changes nothing).

Everything goes through the plugin's services, as the API's requests do: plans through the
planning job's functions, visits through :func:`.service.record_visit` (validated, audited,
tickets filed), overdue flags through the overdue job's. Visits use the archives' form
subjects, which ``sanmin demo`` registers by running the startup hooks first.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from core import Actor, DemoAccount, Kernel, Level, Unit, role_at

from .access import LEADER_ROLE, PLUGIN, VOLUNTEER_ROLE
from .forms import NEED_KINDS
from .models import Member, Plan, Team, Visit
from .planning import assign_open, flag_overdue, generate_plans
from .schedule import OPEN, week_of
from .scoping import subtree
from .service import record_visit, today

COUNTY = "330802000000"  # 柯城区: a team in each of its villages
HOME = "330802001001"  # 府山社区: the demo accounts' team, which records visits
ACCOUNTS = [
    DemoAccount(VOLUNTEER_ROLE, VOLUNTEER_ROLE, HOME, "演示敲门嫂"),
    DemoAccount(LEADER_ROLE, LEADER_ROLE, HOME, "演示敲门嫂队长"),
]
MAX_VISITS = 40
NOTES = {
    "生活照料": "独自洗澡不便，希望有人定期帮忙",
    "就医陪同": "下周复查，子女不在身边，需要陪同就医",
    "代购代办": "需代购降压药并代办高龄补贴认证",
    "维修": "厨房水龙头漏水",
    "政策咨询": "询问居家养老服务补贴如何申请",
    "心理慰藉": "老伴去世后情绪低落，希望常有人来聊天",
    "其他": "希望社区组织老年活动",
}
HAZARDS = ("燃气软管老化开裂，有漏气风险", "插线板过载发烫", "热水器排烟管脱落")


def _enabled_townships(session: Session, kernel: Kernel) -> list[str]:
    codes = session.exec(select(Unit.code).where(col(Unit.level) == Level.township)).all()
    return sorted(c for c in codes if PLUGIN in kernel.scope(c).enabled)


def _teams(session: Session, kernel: Kernel) -> None:
    """A team in each village of 柯城区 where the plugin is on; the demo accounts in 府山社区's."""
    villages = session.exec(
        select(Unit).where(col(Unit.level) == Level.village, subtree(col(Unit.code), COUNTY))
    ).all()
    existing = {t.unit_code: t for t in session.exec(select(Team))}
    for village in villages:
        if village.code not in existing and PLUGIN in kernel.scope(village.code).enabled:
            team = Team(unit_code=village.code, name=f"{village.name}敲门嫂队", created_by="demo")
            session.add(team)
            existing[village.code] = team
    session.flush()
    home = existing.get(HOME)
    if home is None:
        return
    members = set(session.exec(select(Member.username).where(col(Member.team_id) == home.id)))
    for account in ACCOUNTS:
        if account.username not in members:
            role = "leader" if account.role == LEADER_ROLE else "volunteer"
            session.add(
                Member(
                    team_id=home.id,  # type: ignore[arg-type]
                    username=account.username,
                    display_name=account.display_name,
                    role=role,
                )
            )
    session.flush()


def _chosen(plan: Plan, share: int) -> bool:
    """Whether the demo visits this person: a fixed hash, so a re-run picks the same ones."""
    return (plan.person_id * 2654435761) % 100 < share


def _values(plan: Plan, visited_on: Any) -> dict[str, Any]:
    """A plausible 入户问需记录 for the plan, the same on every run."""
    rng = random.Random(f"knock_door:{plan.person_id}:{plan.period_start.isoformat()}")
    values: dict[str, Any] = {
        "visited_on": visited_on.isoformat(),
        "method": rng.choice(("上门", "上门", "上门", "电话")),
        "minutes": rng.choice((20, 30, 40, 45, 60)),
        "services": rng.sample(["量血压", "打扫卫生", "陪同聊天", "理发"], rng.randint(0, 2)),
    }
    for field in ("health", "mood", "hygiene", "environment"):
        values[field] = "关注" if rng.random() < 0.15 else "正常"
    values["safety"] = "正常"
    if rng.random() < 0.08:
        values["safety"], values["safety_note"] = "异常", rng.choice(HAZARDS)
    if rng.random() < 0.3:
        kind = rng.choice(NEED_KINDS)
        values |= {"needs": [kind], "need_note": NOTES[kind], "transfer": rng.random() < 0.7}
    return values


def _visits(kernel: Kernel, session: Session) -> None:
    """Visits by the 府山社区 team: most of last period's plans, a few of this period's."""
    day = today(kernel)
    monday = week_of(day)[0]
    plans = session.exec(
        select(Plan)
        .where(subtree(col(Plan.unit_code), HOME), col(Plan.status).in_(OPEN))
        .order_by(col(Plan.id))
    ).all()
    recorder = Actor(
        "system", 0, "knock_door_demo", (role_at(LEADER_ROLE, HOME),), display_name="演示敲门嫂"
    )
    done = session.exec(
        select(func.count()).select_from(Visit).where(subtree(col(Visit.unit_code), HOME))
    ).one()
    for plan in plans:
        if done >= MAX_VISITS:
            return
        past = plan.due_on < day
        if not _chosen(plan, 70 if past else 25):
            continue
        offset = (plan.person_id % 5) if past else 0
        visited_on = min(plan.period_start + timedelta(days=offset), day)
        if not past and visited_on < monday:
            visited_on = day
        record_visit(
            kernel, recorder, plan.id or 0, _values(plan, visited_on), key=f"demo:{plan.id}"
        )
        done += 1


def load(kernel: Kernel) -> str:
    """Write the demo's teams, plans and visits; return the summary ``sanmin demo`` prints."""
    day = today(kernel)
    with Session(kernel.engine, expire_on_commit=False) as session:
        _teams(session, kernel)
        townships = _enabled_townships(session, kernel)
        for code in townships:
            generate_plans(session, code, day - timedelta(days=7))
            generate_plans(session, code, day)
            assign_open(session, code)
        session.commit()
        _visits(kernel, session)
        for code in townships:
            flag_overdue(session, code, day, kernel.workflows.clock())
        session.commit()
        count = {
            model.__name__: session.exec(select(func.count()).select_from(model)).one()
            for model in (Team, Plan, Visit)
        }
        overdue = session.exec(
            select(func.count()).select_from(Plan).where(col(Plan.overdue_at).is_not(None))
        ).one()
    return (
        f"敲门嫂：队伍 {count['Team']} 支，探访计划 {count['Plan']} 条，"
        f"入户记录 {count['Visit']} 份，逾期 {overdue} 条"
    )
