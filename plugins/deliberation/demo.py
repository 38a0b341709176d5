"""The demo of 民主议事 in 府山社区 (府山街道, 柯城区): the owners' register of 府山雅苑 drawn
from the demo archive, the community's 村民代表, and three matters walked through the real
services, each as far as its story goes:

* 府山雅苑 uses its maintenance funds to replace two lifts (使用维修资金, 记名投票): the whole
  course, 议题征集 to 执行结果公示, with most owners voting in person;
* 府山社区's 老年食堂 by 四议两公开: three meetings with their attendance, the representatives'
  meeting's vote, 决议公开 and 实施结果公开;
* 府山雅苑 elects its first 业主委员会 (3 seats, 5 candidates, 无记名投票, 可改票): voting now.

Ballots are recorded in person by the community's 议事工作人员. The core demo verifies its
resident account (实名核验) as the head of the first household of 府山社区第一网格, who owns a
flat of 府山雅苑 here: that resident can change the election ballot recorded for them online.

Deterministic: owners, areas, representatives and choices follow fixed rules over the
(deterministic) demo archive; the dates are relative to the moment it runs. Idempotent: the
estate and the representatives are matched, each matter by its title, so a second run
changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from core import Actor, ArchiveHousehold, ArchivePerson, DemoAccount, Kernel, role_at

from . import ballots, matters, registers
from .access import CLERK_ROLE, subtree
from .models import Estate, Matter, Parcel, Representative, Voter
from .workflows import PLUGIN, state_label

TOWNSHIP = "330802001000"  # 府山街道
VILLAGE = "330802001001"  # 府山社区
GRID = "330802001001001"  # where 府山雅苑 is
ESTATE = "府山雅苑"
CLERK = DemoAccount("deliberation_clerk", CLERK_ROLE, VILLAGE, "演示议事工作人员")
ACCOUNTS = [CLERK]
PARCELS = 24  # flats of the first households of the estate; one owner holds a second one
AREAS = ("89.56", "96.80", "118.26", "72.35", "135.00", "142.66", "104.12", "88.00")
REPRESENTATIVES = 15
FLAT = re.compile(r"\d+幢\d+单元\d+室$")

LIFTS = "使用维修资金更换3幢、5幢电梯"
CANTEEN = "在党群服务中心开办老年食堂"
ELECTION = "选举第一届业主委员会"


@dataclass
class Cast:
    """Who acts: the community's cadre runs the process, its clerk records the votes."""

    cadre: Actor = field(
        default_factory=lambda: Actor(
            "system", 0, "demo", (role_at("village_cadre", VILLAGE),), display_name="演示村社干部"
        )
    )
    clerk: Actor = field(
        default_factory=lambda: Actor(
            "system", 0, "demo", (role_at(CLERK_ROLE, VILLAGE),), display_name="演示议事工作人员"
        )
    )


def load(kernel: Kernel, *, now: datetime | None = None) -> str | None:
    """Write the demo (see the module's docstring); ``None`` where the demo does not switch
    the plugin on, or where the archive has no estate households. Returns the summary line
    ``sanmin demo`` prints."""
    if PLUGIN not in kernel.scope(TOWNSHIP).enabled:
        return None
    now = now or kernel.workflows.clock()
    cast = Cast()
    with Session(kernel.engine, expire_on_commit=False) as session:
        estate, registered = _estate(session, kernel, cast)
        if estate is None:
            return None
        added = _representatives(session, kernel, cast)
        session.commit()
    stories = (
        (LIFTS, lambda: _lifts(kernel, cast, estate, now)),
        (CANTEEN, lambda: _canteen(kernel, cast, now)),
        (ELECTION, lambda: _election(kernel, cast, estate, now)),
    )
    created = [story() for title, story in stories if not _exists(kernel, title)]
    with Session(kernel.engine) as session:
        states = dict(
            session.exec(
                select(Matter.state, func.count())
                .where(col(Matter.village_code) == VILLAGE)
                .group_by(col(Matter.state))
            ).all()
        )
        parcels = session.exec(
            select(func.count()).select_from(Parcel).where(col(Parcel.estate_id) == estate.id)
        ).one()
        representatives = session.exec(
            select(func.count())
            .select_from(Representative)
            .where(col(Representative.unit_code) == VILLAGE)
        ).one()
    parts = "、".join(f"{state_label('owners', s)} {n}" for s, n in sorted(states.items()))
    verb = "新载入" if any(created) or registered or added else "已存在，未改动"
    return (
        f"民主议事（演示数据）：{ESTATE} 专有部分 {parcels} 个、村民代表 {representatives} 名，"
        f"议题 {sum(states.values())} 个（{parts}），{verb}"
    )


def _exists(kernel: Kernel, title: str) -> bool:
    with Session(kernel.engine) as session:
        query = select(Matter.id).where(
            col(Matter.village_code) == VILLAGE, col(Matter.title) == title
        )
        return session.exec(query).first() is not None


# -- registers -------------------------------------------------------------------------------


def _estate(session: Session, kernel: Kernel, cast: Cast) -> tuple[Estate | None, int]:
    """府山雅苑 and its 专有部分 (written once); returns the estate and how many parcels this
    run registered."""
    found = session.exec(
        select(Estate).where(col(Estate.unit_code) == GRID, col(Estate.name) == ESTATE)
    ).first()
    if found is not None:
        return found, 0
    homes = session.exec(
        select(ArchiveHousehold.address, ArchivePerson.id)
        .join(ArchivePerson, col(ArchivePerson.household_id) == col(ArchiveHousehold.id))
        .where(
            col(ArchiveHousehold.unit_code) == GRID,
            col(ArchivePerson.relation) == "head",
            col(ArchiveHousehold.address).contains(ESTATE),
        )
        .order_by(col(ArchiveHousehold.id))
        .limit(PARCELS + 1)
    ).all()
    flats = [(m.group(0), owner) for address, owner in homes if (m := FLAT.search(address))]
    if len(flats) <= PARCELS:
        return None, 0
    estate = registers.create_estate(
        session,
        kernel,
        cast.cadre,
        GRID,
        registers.EstateIn(name=ESTATE, address=f"柯城区府山街道{ESTATE}"),
    )
    owners = [owner for _, owner in flats[:PARCELS]] + [flats[0][1]]  # the first owner has two
    for n, ((label, _), owner) in enumerate(zip(flats, owners, strict=True)):
        body = registers.ParcelIn(label=label, area=AREAS[n % len(AREAS)], owner_person_id=owner)
        registers.save_parcel(session, kernel, cast.cadre, estate, body)
    return estate, len(flats)


def _representatives(session: Session, kernel: Kernel, cast: Cast) -> int:
    """The community's 15 representatives (adults, every tenth household head); returns how
    many this run added."""
    have = session.exec(
        select(func.count())
        .select_from(Representative)
        .where(col(Representative.unit_code) == VILLAGE)
    ).one()
    if have:
        return 0
    heads = session.exec(
        select(ArchivePerson.id)
        .where(
            subtree(col(ArchivePerson.unit_code), VILLAGE), col(ArchivePerson.relation) == "head"
        )
        .order_by(col(ArchivePerson.id))
    ).all()
    since = (kernel.workflows.clock() - timedelta(days=400)).date()
    for person in heads[::10][:REPRESENTATIVES]:
        body = registers.RepresentativeIn(person_id=person, since=since)
        registers.save_representative(session, kernel, cast.cadre, VILLAGE, body)
    return REPRESENTATIVES


# -- the stories -----------------------------------------------------------------------------


def _local(kernel: Kernel, moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(kernel.settings.timezone)).strftime("%Y-%m-%d %H:%M")


def _step(
    kernel: Kernel,
    cast: Cast,
    matter_id: int,
    name: str,
    at: datetime,
    inputs: dict[str, Any] | None = None,
) -> Matter:
    with Session(kernel.engine, expire_on_commit=False) as session:
        matter = matters.get_matter(session, kernel, cast.cadre, matter_id)
        matters.transition(
            session, kernel, cast.cadre, matter, name, matter.version, inputs, now=at
        )
        session.commit()
        return matter


def _propose(kernel: Kernel, cast: Cast, body: matters.MatterIn, at: datetime) -> int:
    with Session(kernel.engine, expire_on_commit=False) as session:
        matter = matters.propose(session, kernel, cast.cadre, VILLAGE, body, now=at)
        session.commit()
        return matter.id  # type: ignore[return-value]


def _publish(
    kernel: Kernel, cast: Cast, matter_id: int, at: datetime, opens: datetime, closes: datetime
) -> Matter:
    inputs = {"opens_at": _local(kernel, opens), "closes_at": _local(kernel, closes)}
    return _step(kernel, cast, matter_id, "publish", at, inputs)


def _vote(kernel: Kernel, cast: Cast, matter: Matter, choices: list[dict[str, Any]]) -> None:
    """Record ``choices`` in person, one per voter in roll order, an hour apart from the
    opening."""
    with Session(kernel.engine, expire_on_commit=False) as session:
        voters = session.exec(
            select(Voter.id).where(col(Voter.matter_id) == matter.id).order_by(col(Voter.id))
        ).all()
        current = matters.get_matter(session, kernel, cast.clerk, matter.id)  # type: ignore[arg-type]
        assert current.opens_at is not None
        for n, (voter, choice) in enumerate(zip(voters, choices, strict=False)):
            body = ballots.InPersonIn(voter_id=voter, **choice)
            at = current.opens_at + timedelta(hours=n + 1)
            ballots.cast_in_person(session, kernel, cast.clerk, current, body, at)
        session.commit()


def _finish(kernel: Kernel, cast: Cast, matter: Matter, note: str, reported: datetime) -> None:
    """截止, 计票, 公示结果, 执行 and 执行结果公示."""
    assert matter.closes_at is not None
    closed = matter.closes_at
    for name, at in (
        ("close", closed),
        ("count", closed + timedelta(hours=2)),
        ("announce", closed + timedelta(days=1)),
        ("implement", closed + timedelta(days=2)),
    ):
        _step(kernel, cast, matter.id, name, at)  # type: ignore[arg-type]
    _step(kernel, cast, matter.id, "report", reported, {"note": note})  # type: ignore[arg-type]


def _lifts(kernel: Kernel, cast: Cast, estate: Estate, now: datetime) -> bool:
    body = matters.MatterIn(
        kind="owners",
        matter_type="fund_use",
        title=LIFTS,
        description="3幢、5幢电梯已运行十八年，年检多次整改。"
        "拟使用专项维修资金约 86 万元更换两部电梯，施工单位经公开比选确定，"
        "费用按规定在两幢业主分户账中列支。",
        estate_id=estate.id,
    )
    day = timedelta(days=1)
    matter_id = _propose(kernel, cast, body, now - 40 * day)
    _step(kernel, cast, matter_id, "review", now - 39 * day)
    matter = _publish(kernel, cast, matter_id, now - 38 * day, now - 34 * day, now - 27 * day)
    matter = _step(kernel, cast, matter_id, "open", matter.opens_at)  # type: ignore[arg-type]
    pattern = ["同意"] * 15 + ["反对"] * 2 + ["弃权"] + ["同意"] * 2  # 20 of 24 owners
    _vote(kernel, cast, matter, [{"choice": c} for c in pattern])
    _finish(
        kernel,
        cast,
        matter,
        "两部电梯已更换并通过特种设备检验，于本月投入使用；维修资金列支明细已在小区公示栏公布。",
        now - 5 * day,
    )
    return True


def _meeting(
    kernel: Kernel, at: datetime, due: int, present: int, agree: int, content: str, attendees: str
) -> dict[str, Any]:
    return {
        "held_on": at.astimezone(ZoneInfo(kernel.settings.timezone)).date().isoformat(),
        "form": "现场会议",
        "due": due,
        "present": present,
        "agree": agree,
        "against": present - agree,
        "abstain": 0,
        "content": content,
        "attendees": attendees,
        "township_attendees": "府山街道联村干部",
    }


def _canteen(kernel: Kernel, cast: Cast, now: datetime) -> bool:
    body = matters.MatterIn(
        kind="village",
        matter_type="welfare",
        title=CANTEEN,
        description="社区独居和高龄老人较多。拟利用党群服务中心一楼开办老年食堂，每日供应午餐，"
        "八十岁以上老人每餐补助 5 元，所需资金由社区公益金和街道补助解决。",
        meeting="representatives_meeting",
    )
    day = timedelta(days=1)
    matter_id = _propose(kernel, cast, body, now - 31 * day)
    steps = (
        ("propose", 30, 5, 5, 5, "支部委员会一致同意提出开办老年食堂的议题", "支部委员 5 人"),
        ("discuss", 28, 9, 8, 8, "两委联席会议商议选址、补助标准和运营方式", "两委成员 8 人"),
        ("review", 25, 36, 28, 26, "党员大会审议通过实施方案", "党员 28 人"),
    )
    for name, days, due, present, agree, content, attendees in steps:
        at = now - days * day
        _step(
            kernel,
            cast,
            matter_id,
            name,
            at,
            _meeting(kernel, at, due, present, agree, content, attendees),
        )
    matter = _publish(kernel, cast, matter_id, now - 24 * day, now - 20 * day, now - 18 * day)
    matter = _step(kernel, cast, matter_id, "open", matter.opens_at)  # type: ignore[arg-type]
    pattern = ["同意"] * 10 + ["反对", "弃权"]  # 12 of 15 representatives
    _vote(kernel, cast, matter, [{"choice": c} for c in pattern])
    _finish(
        kernel,
        cast,
        matter,
        "老年食堂已于上月开业，日均就餐 46 人；补助发放与收支情况每月在社区公开栏公示。",
        now - 3 * day,
    )
    return True


def _election(kernel: Kernel, cast: Cast, estate: Estate, now: datetime) -> bool:
    with Session(kernel.engine) as session:
        owners = [name for _, name in registers.parcels_of(session, estate)]
    names = list(dict.fromkeys(owners))[1:6]
    body = matters.MatterIn(
        kind="owners",
        matter_type="committee_election",
        title=ELECTION,
        description=f"{ESTATE}业主大会选举第一届业主委员会委员 3 名，任期五年。"
        "候选人由业主推荐、筹备组审查后公示。",
        estate_id=estate.id,
        secret=True,
        allow_change=True,
        seats=3,
        candidates=[matters.CandidateIn(name=name, statement="业主推荐") for name in names],
    )
    day = timedelta(days=1)
    matter_id = _propose(kernel, cast, body, now - 10 * day)
    _step(kernel, cast, matter_id, "review", now - 9 * day)
    matter = _publish(kernel, cast, matter_id, now - 8 * day, now - 2 * day, now + 5 * day)
    matter = _step(kernel, cast, matter_id, "open", matter.opens_at)  # type: ignore[arg-type]
    with Session(kernel.engine) as session:
        keys = [c.id for c in ballots.candidates_of(session, matter_id)]
    picks = (
        [0, 1, 2],
        [0, 1, 3],
        [0, 2, 4],
        [1, 2, 3],
        [0, 1],
        [0, 3, 4],
        [1, 2],
        [0, 1, 2],
        [2, 3],
    )
    _vote(kernel, cast, matter, [{"candidates": [keys[i] for i in p]} for p in picks])
    return True
