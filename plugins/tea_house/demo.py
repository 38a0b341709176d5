"""The demo's 民情茶馆: four villages of 柯城区 with their fixed day (the 10th), the last two
months' sessions with the issues raised there, and the next session announced.

Each village's story, told through the practice's own services with the clock set to each
step's moment: two months ago a session was held (two issues answered on the spot, two
transferred to tickets), and one of those tickets was resolved before last month's session,
which reported it back and transferred two more; one of those was resolved since. The next
session (announced now) therefore reports back one ticket still being handled and last
month's two. Deterministic (one seed) but for the dates, which follow today. Villages in a
township where the practice is off (the demo switches it off in 江山市's 双塔街道) are left
out; a village that has its schedule already is left as it is, so a second run changes
nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from core import (
    Actor,
    DemoAccount,
    Kernel,
    get_ticket,
    role_at,
    transition_ticket,
)

from .forms import CloseIn, IssueIn, OpenIn, ScheduleIn, SessionIn, TransferIn
from .issues import TicketMove, mirror_ticket, record_issue, transfer_issue
from .models import TeaHouseIssue, TeaHouseSession
from .service import NOTICE_DAYS, PLUGIN, local_day, now_of
from .sessions import (
    announce_at,
    close_session,
    next_fixed_day,
    open_session,
    save_schedule,
    schedule_of,
)

SEED = 20260310
FUSHAN = "330802001001"  # 府山社区, where the demo accounts are
ACCOUNTS = [
    DemoAccount("tea_house_head", "tea_house_head", FUSHAN, "演示民情馆长"),
    DemoAccount("tea_house_keeper", "tea_house_keeper", FUSHAN, "演示民情馆员"),
]
VILLAGES = (
    (FUSHAN, "府山社区党群服务中心茶室"),
    ("330802001002", "坊门街社区沟通中心户"),
    ("330802002001", "荷花社区议事厅"),
    ("330802005001", "上洋村文化礼堂"),
)
# (category, summary, details, who raised it, the answer when answered on the spot)
STORIES = (
    (
        "道路",
        "村口道路坑洼积水",
        "进村主干道靠近桥头一段坑洼，下雨积水，电动车容易滑倒",
        "王建国",
        "已列入本季度道路维修计划",
    ),
    (
        "水电",
        "三组自来水水压低",
        "三组地势高，早晚用水高峰水压不足，二楼接不上水",
        "李秀英",
        "已联系水务公司排查",
    ),
    (
        "环境",
        "垃圾分类亭清运不及时",
        "菜场旁的分类亭周末经常满溢，气味大",
        "张志强",
        "周末增加一次清运，保洁员当天落实",
    ),
    (
        "村务",
        "村务公开栏更新不及时",
        "上季度的财务公开还没贴出来，村民想了解修路的开支",
        "刘丽华",
        "本周五前张贴上季度财务公开，并在微信群同步",
    ),
    (
        "建房",
        "危房改造申请进度",
        "老房子漏雨，去年申请的危房改造不知道到哪一步了",
        "陈文明",
        "当场查询：已通过街道审核，等待鉴定",
    ),
    (
        "政策咨询",
        "高龄津贴怎么申领",
        "父亲今年满八十，想问高龄津贴去哪里办、要带什么材料",
        "杨海燕",
        "带身份证、户口本到便民服务中心窗口办理，可由网格员代办",
    ),
    (
        "建议",
        "建议开办老年食堂",
        "独居老人多，建议在党群服务中心开一个老年食堂",
        "黄玉兰",
        "已纳入下月议事会议题",
    ),
    (
        "纠纷",
        "邻里排水沟纠纷",
        "两户之间的排水沟被一方填平，雨水倒灌另一户院子",
        "赵春梅",
        "调解员当场约定双方下周一现场调解",
    ),
    (
        "土地",
        "承包地流转合同到期",
        "五组承包地流转合同今年到期，村民想知道续签的租金标准",
        "吴卫东",
        "按村民代表会议通过的标准续签，公示一周",
    ),
    (
        "道路",
        "路灯坏了三盏",
        "党群服务中心到小学的路灯坏了三盏，晚上接孩子很黑",
        "周红霞",
        "电工明天上午更换",
    ),
    (
        "环境",
        "河边有人倾倒建筑垃圾",
        "北面小河边有人倾倒建筑垃圾，影响河道",
        "徐国平",
        "已安排清运并设立警示牌",
    ),
    (
        "政策咨询",
        "医保缴费时间",
        "想问今年城乡居民医保什么时候开始交、交多少",
        "孙桂芳",
        "当场说明缴费时间、标准和线上缴费方式",
    ),
)
# Each past session: which of its issues are transferred (the others are answered).
PAST = ((False, True, True, False), (False, True, True))


@dataclass
class Loaded:
    """What the demo wrote, for its summary line."""

    villages: int = 0
    sessions: int = 0
    issues: int = 0
    transferred: int = 0


def load(kernel: Kernel) -> str | None:
    """Write the demo's sessions and issues where the practice is on; ``None`` when every
    village had them already."""
    loaded = Loaded()
    today = local_day(kernel, now_of(kernel))
    for index, (village, venue) in enumerate(VILLAGES):
        if PLUGIN not in kernel.scope(village).enabled:
            continue
        with Session(kernel.engine, expire_on_commit=False) as db:
            if schedule_of(db, village) is not None:
                continue
            _village(db, kernel, village, venue, today, random.Random(SEED + index), loaded)
    if not loaded.villages:
        return None
    return (
        f"民情茶馆：{loaded.villages} 个村社，沟通日 {loaded.sessions} 场，"
        f"登记问题 {loaded.issues} 件，转办 {loaded.transferred} 件"
    )


def _village(
    db: Session,
    kernel: Kernel,
    village: str,
    venue: str,
    today: date,
    rng: random.Random,
    loaded: Loaded,
) -> None:
    zone = ZoneInfo(kernel.settings.timezone)

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), zone)

    head = Actor(
        "system", 0, "demo", (role_at("tea_house_head", village),), display_name="演示馆长"
    )
    cadre = Actor(
        "system", 0, "demo", (role_at("village_cadre", village),), display_name="演示干部"
    )
    scope = kernel.scope(village)
    schedule = ScheduleIn(day_of_month=10, start_time="09:00", venue=venue)
    fixed_day = save_schedule(db, kernel, head, scope, schedule)
    db.commit()
    this_month = today.replace(day=10)
    last = (this_month - timedelta(days=28)).replace(day=10)
    first = (last - timedelta(days=28)).replace(day=10)
    stories = rng.sample(STORIES, sum(len(p) for p in PAST))
    tickets: list[int] = []
    for day, plan in zip((first, last), PAST, strict=True):
        body = SessionIn(
            held_on=day,
            start_time="09:00",
            venue=venue,
            topics="本月民情收集；上月转办事项办理情况通报",
            host="村党组织书记",
            recorder="民情馆员",
            cadres="村两委成员；街道联村干部",
        )
        row = announce_at(db, kernel, village, body, head.label, head, at(day - timedelta(7), 8))
        open_session(db, kernel, head, row, OpenIn(version=row.version), at(day, 9))
        db.commit()
        loaded.sessions += 1
        _resolve_due(db, kernel, cadre, tickets, at(day, 8))
        for minute, transfer in enumerate(plan):
            category, summary, details, name, answer = stories.pop()
            issue, _ = record_issue(
                db,
                kernel,
                head,
                row,
                IssueIn(
                    category=category,
                    summary=summary,
                    description=details,
                    reporter_name=name,
                    reporter_phone=f"1380570{rng.randrange(10_000):04d}",
                    answer=None if transfer else f"{answer}。",
                ),
                now=at(day, 9, 10 + minute * 5),
            )
            db.commit()
            loaded.issues += 1
            if transfer:
                promise = TransferIn(
                    version=issue.version,
                    promised_by=day + timedelta(days=10),
                    responsible="村委会主任",
                )
                transfer_issue(db, kernel, head, issue, promise, at(day, 11))
                tickets.append(issue.id)  # type: ignore[arg-type]
                loaded.transferred += 1
        close = CloseIn(
            version=row.version,
            attendance=rng.randrange(25, 60),
            leaders=rng.randrange(0, 3),
            summary="问题已逐项答复或转办，会后一日内汇总上报街道。",
        )
        close_session(db, kernel, head, row, close, at(day, 11, 30))
        db.commit()
    _resolve_due(db, kernel, cadre, tickets, at(today, 8))
    upcoming = next_fixed_day(fixed_day, today + timedelta(days=NOTICE_DAYS))
    announce_at(
        db,
        kernel,
        village,
        SessionIn(held_on=upcoming, start_time="09:00", venue=venue, topics="通报上月转办结果"),
        head.label,
        head,
    )
    db.commit()
    loaded.sessions += 1
    loaded.villages += 1


def _resolve_due(
    db: Session, kernel: Kernel, cadre: Actor, issues: list[int], before: datetime
) -> None:
    """Walk the first transferred issue of each session to 已办结 (accepted, signed for and
    resolved on the three days after its session), if that is before ``before``; the others
    are accepted and signed for: being handled."""
    for position, issue_id in enumerate(issues):
        issue = db.get(TeaHouseIssue, issue_id)
        assert issue is not None and issue.ticket_id is not None
        if issue.ticket_state != "submitted":
            continue
        raised = db.get(TeaHouseSession, issue.session_id)
        assert raised is not None
        start = datetime.combine(raised.held_on, time(14), before.tzinfo)
        steps = [("accept", {}), ("sign", {})]
        if position % 2 == 0:
            steps.append(("resolve", {"result": "已办结，结果在下次沟通日通报"}))
        if start + timedelta(days=len(steps)) >= before:
            continue
        ticket = get_ticket(db, kernel, cadre, issue.ticket_id)
        for offset, (step, inputs) in enumerate(steps, start=1):
            moment = start + timedelta(days=offset)
            ticket = transition_ticket(
                db, kernel, cadre, ticket, step, ticket.version, inputs, now=moment
            )
            mirror_ticket(db, TicketMove(ticket.id, ticket.state, ticket.version, moment))
        db.commit()
