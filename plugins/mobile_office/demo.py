"""The demo of 民情直通车 in 莲花镇, 衢江区 (where the practice started, domain.md §3.3).

``sanmin demo`` enables the plugin in 衢江区 and creates :data:`ACCOUNTS` (a duty leader,
an operator and a crew member of 莲花镇); :func:`load` then writes a week of the hotline
through the plugin's own services — calls, triage, trips with their departures and
arrivals, on-site records, tickets with the callers' ratings, and the closed days — so
that the boards, the ledger and the metrics have something to show.

Deterministic (one seed) but for the dates, which are relative to the day it runs: the
six days before today are complete and closed; today has a call waiting for triage and a
trip about to leave. Written once: if 莲花镇 has calls already, nothing is written.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from core import (
    Actor,
    DemoAccount,
    Kernel,
    UnitNotFound,
    get_ticket,
    list_accounts,
    role_at,
    transition_ticket,
)

from . import calls, ledger, trips
from .access import CREW, DUTY_LEADER, OPERATOR, PLUGIN
from .models import Call, Ledger, OnSiteRecord, Trip
from .schemas import CallIn, CloseIn, FeedbackIn, MoveIn, RecordIn, TicketSpec, TriageIn, TripIn
from .scoping import now_of, zone_of

SEED = 20230330  # the day 莲花镇's 直通车 took its first complaint call (domain.md §3.3)
COUNTY = "330803000000"  # 衢江区
TOWNSHIP = "330803104000"  # 莲花镇
VILLAGE = "330803104001"  # 莲花村
DAYS = 6  # complete days before today
SURNAMES = "王李张刘陈杨黄赵吴周徐孙胡朱高林何郭马罗"
GIVEN = "建国秀英志强丽华文明海燕玉兰春梅卫东红霞国平桂芳"

ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("mobile_office_duty", DUTY_LEADER, TOWNSHIP, "莲花镇值班领导"),
    DemoAccount("mobile_office_operator", OPERATOR, TOWNSHIP, "莲花镇接线员"),
    DemoAccount("mobile_office_crew", CREW, TOWNSHIP, "莲花镇随车人员"),
)


@dataclass(frozen=True)
class Story:
    """A kind of call and how the duty leader and the crew settle it."""

    category: str
    question: str
    decision: str  # answer | trip | transfer
    answer: str = ""
    findings: str = ""
    result: str = "resolved"  # on site: resolved | scheduled | referred
    ticket: tuple[str, dict[str, Any]] | None = None  # type and extra fields when it becomes one


STORIES: tuple[Story, ...] = (
    Story(
        "政策咨询",
        "咨询城乡居民医保今年的缴费时间和标准",
        "answer",
        answer="已告知缴费时间为每年9月至12月，标准按区医保局当年公告执行",
    ),
    Story(
        "政策咨询",
        "想了解农房改造补助怎么申请",
        "answer",
        answer="已告知向村委会提交申请表和房屋照片，由镇农办审核",
    ),
    Story(
        "矛盾纠纷",
        "邻居在我家门口堆放柴火，多次协商无果",
        "trip",
        findings="柴火堆放在两户之间的通道上",
        result="resolved",
    ),
    Story(
        "安全隐患",
        "村口老桥护栏松动，学生每天经过",
        "trip",
        findings="护栏两处螺栓脱落",
        result="referred",
        ticket=("public_repair", {"facility": "道路", "hazard": True}),
    ),
    Story(
        "应急求助",
        "独居老人家中停电，老人行动不便",
        "trip",
        findings="老人家中空气开关跳闸",
        result="resolved",
    ),
    Story(
        "道路水电",
        "自来水一直很浑浊，已经三天了",
        "trip",
        findings="村里蓄水池需要清洗，与水厂约定时间",
        result="scheduled",
    ),
    Story(
        "生产生活",
        "田里的灌溉渠被堵，影响春耕",
        "trip",
        findings="渠道被落叶和泥沙堵塞约二十米",
        result="resolved",
    ),
    Story(
        "环境卫生",
        "河道里有人倾倒建筑垃圾",
        "transfer",
        ticket=("public_repair", {"facility": "村庄公共区域"}),
    ),
    Story(
        "矛盾纠纷",
        "承包山林的边界和邻村有争议",
        "transfer",
        ticket=("legal_dispute", {"parties": "莲花村与邻村承包户", "dispute_kind": "土地山林"}),
    ),
)
RATINGS = (5, 4, 5, 1, 4)  # the callers' ratings at the visit back, in turn


def load(kernel: Kernel) -> str | None:
    """Write the demo week (once); return the one-line summary ``sanmin demo`` prints."""
    try:
        enabled = PLUGIN in kernel.scope(TOWNSHIP).enabled
    except UnitNotFound:
        return None
    if not enabled:
        return None
    with Session(kernel.engine, expire_on_commit=False) as session:
        written = session.exec(
            select(func.count()).select_from(Call).where(col(Call.township_code) == TOWNSHIP)
        ).one()
        if not written:
            people = demo_actors(session, kernel)
            if people is None:
                return None
            Week(session, kernel, *people).write()
        return summary(session)


def summary(session: Session) -> str:
    """The demo's figures in one line."""

    def count(model: Any, column: Any, *where: Any) -> int:
        query = select(func.count()).select_from(model).where(column == TOWNSHIP, *where)
        return int(session.exec(query).one())

    figures = (
        count(Call, col(Call.township_code)),
        count(Trip, col(Trip.township_code)),
        count(OnSiteRecord, col(OnSiteRecord.township_code)),
        count(Ledger, col(Ledger.township_code), col(Ledger.closed_at).is_not(None)),
    )
    return "民情直通车：来电 {} 件，出车 {} 次，现场处置 {} 条，日清日结 {} 天".format(*figures)


def demo_actors(session: Session, kernel: Kernel) -> tuple[Actor, Actor, Actor, int] | None:
    """The demo duty leader, operator and crew member as the services see them, and the
    crew member's account id; ``None`` when their accounts are missing."""
    looker = Actor("system", 0, "demo", (role_at("county_admin", COUNTY),), display_name="演示")
    found = {
        a.username: a
        for a in list_accounts(session, looker, kernel.access, under=TOWNSHIP, q="mobile_office_")
    }
    actors = []
    for demo in ACCOUNTS:
        account = found.get(demo.username)
        if account is None:
            return None
        held = (role_at(demo.role, demo.unit_code),)
        name = account.display_name or demo.display_name
        actors.append(Actor("account", account.id, account.username, held, display_name=name))
    return actors[0], actors[1], actors[2], actors[2].id


class Week:
    """The demo week, written call by call through the services at the moments they happen."""

    def __init__(
        self,
        session: Session,
        kernel: Kernel,
        leader: Actor,
        operator: Actor,
        crew: Actor,
        crew_id: int,
    ) -> None:
        self.session, self.kernel = session, kernel
        self.leader, self.operator, self.crew, self.crew_id = leader, operator, crew, crew_id
        self.rng = random.Random(SEED)
        self.now = now_of(kernel)
        self.zone = zone_of(kernel)
        self.scope = kernel.scope(TOWNSHIP)
        self.ratings = iter(RATINGS * 10)
        self.first: Call | None = None  # the week's first call, which a caller asks about again

    def at(self, day: date, hour: int, minute: int) -> datetime:
        """A moment of a local day."""
        return datetime.combine(day, time(hour, minute), self.zone)

    def past(self, moment: datetime) -> bool:
        """Whether a moment is before now (a story stops at the first step that is not)."""
        return moment < self.now - timedelta(minutes=1)

    def write(self) -> None:
        """The six days before today, each closed in the evening, then today."""
        today = self.now.astimezone(self.zone).date()
        for back in range(DAYS, 0, -1):
            day = today - timedelta(days=back)
            for slot in range(self.rng.randint(3, 5)):
                hour = 8 + slot * 2 + self.rng.randint(0, 1)  # settled before the 21:00 close
                story = self.rng.choice(STORIES)
                self.settle(story, self.at(day, hour, self.rng.randint(0, 50)))
            if back == 1:
                self.repeat(self.at(day, 20, 10))
            body = CloseIn(day=day, note="当日来电均已处置")
            ledger.close_day(
                self.session,
                self.kernel,
                self.leader,
                TOWNSHIP,
                body.day,
                body.note,
                now=self.at(day, 21, 0),
            )
        self.today(today)

    def call(self, story: Story, received: datetime) -> Call:
        """A call received at ``received``, registered by the operator."""
        body = CallIn(
            caller_name=self.rng.choice(SURNAMES) + "".join(self.rng.sample(GIVEN, 2)),
            caller_phone="13" + "".join(str(self.rng.randint(0, 9)) for _ in range(9)),
            unit_code=VILLAGE,
            category=story.category,
            question=story.question,
            urgency="urgent" if story.category == "应急求助" else "normal",
            received_at=received,
        )
        found, _ = calls.register_call(
            self.session, self.kernel, self.operator, self.scope, body, now=received
        )
        self.first = self.first or found
        return found

    def repeat(self, received: datetime) -> None:
        """The first caller of the week calls again about the same matter (重复来电)."""
        assert self.first is not None
        first = self.first
        body = CallIn(
            caller_name=first.caller_name,
            caller_phone=first.caller_phone,
            unit_code=first.unit_code,
            category=first.category,
            question=f"再次反映：{first.question}",
            repeat_of=first.id,
            received_at=received,
        )
        call, _ = calls.register_call(
            self.session, self.kernel, self.operator, self.scope, body, now=received
        )
        answered = received + timedelta(minutes=10)
        answer = TriageIn(version=call.version, decision="answer", answer="已告知办理进度和结果")
        calls.triage(self.session, self.kernel, self.leader, call, answer, now=answered)

    def ticket_of(self, story: Story) -> TicketSpec:
        """The ticket a story's matter becomes."""
        assert story.ticket is not None
        kind, extra = story.ticket
        return TicketSpec(type=kind, extra=extra)

    def settle(self, story: Story, received: datetime) -> None:
        """One call of a past day, from intake to its outcome (and its ticket's rating)."""
        call = self.call(story, received)
        decided = received + timedelta(minutes=self.rng.randint(5, 15))
        if story.decision == "answer":
            body = TriageIn(version=call.version, decision="answer", answer=story.answer)
            calls.triage(self.session, self.kernel, self.leader, call, body, now=decided)
            return
        if story.decision == "transfer":
            body = TriageIn(version=call.version, decision="transfer", ticket=self.ticket_of(story))
            calls.triage(self.session, self.kernel, self.leader, call, body, now=decided)
            self.close_ticket(call, decided)
            return
        trip = self.send(call, decided)
        on_site = trip.arrived_at + timedelta(minutes=self.rng.randint(20, 50))
        record = RecordIn(
            call_id=call.id,
            findings=story.findings,
            actions="现场调解处置" if story.result == "resolved" else None,
            result=story.result,
            promised_on=on_site.astimezone(self.zone).date() + timedelta(days=2)
            if story.result == "scheduled"
            else None,
            meeting_place="莲花村村委会" if story.result == "scheduled" else None,
            ticket=self.ticket_of(story) if story.result == "referred" else None,
        )
        trips.add_record(self.session, self.kernel, self.crew, trip, record, now=on_site)
        back = on_site + timedelta(minutes=30)
        trips.move_trip(
            self.session,
            self.kernel,
            self.crew,
            trip,
            "finish",
            MoveIn(version=trip.version, at=back),
            now=back,
        )
        if story.result == "referred":
            self.close_ticket(call, on_site)
        if story.result == "scheduled" and call.promised_on is not None:
            meeting = self.at(call.promised_on, 10, 0)
            if self.past(meeting):
                body = TriageIn(
                    version=call.version,
                    decision="settle",
                    answer="在村委会召开协调会，双方达成一致",
                )
                calls.triage(self.session, self.kernel, self.leader, call, body, now=meeting)

    def send(self, call: Call, decided: datetime) -> Trip:
        """A trip for one call: sent, departed and arrived."""
        body = TripIn(
            destination=f"莲花村 · {call.category}现场",
            unit_code=VILLAGE,
            vehicle="浙H·民情直通车",
            crew=[self.crew_id],
            call_ids=[call.id],  # type: ignore[list-item]
        )
        trip = trips.create_trip(
            self.session, self.kernel, self.leader, self.scope, body, now=decided
        )
        left = decided + timedelta(minutes=self.rng.randint(3, 8))
        trips.move_trip(
            self.session,
            self.kernel,
            self.crew,
            trip,
            "depart",
            MoveIn(version=trip.version, at=left),
            now=left,
        )
        there = left + timedelta(minutes=self.rng.randint(12, 30))
        trips.move_trip(
            self.session,
            self.kernel,
            self.crew,
            trip,
            "arrive",
            MoveIn(version=trip.version, at=there),
            now=there,
        )
        return trip

    def close_ticket(self, call: Call, since: datetime) -> None:
        """The ticket a call became: accepted, signed and resolved the next day, then rated
        by the caller at the visit back — when all that lies in the past."""
        if call.ticket_id is None:
            return
        resolved = since + timedelta(days=1)
        rated = resolved + timedelta(hours=2)
        if not self.past(rated):
            return
        ticket = get_ticket(self.session, self.kernel, self.leader, call.ticket_id)
        for step, inputs, when in (
            ("accept", {}, since + timedelta(hours=1)),
            ("sign", {}, since + timedelta(hours=2)),
            ("resolve", {"result": "已安排处理完毕"}, resolved),
        ):
            transition_ticket(
                self.session,
                self.kernel,
                self.leader,
                ticket,
                step,
                ticket.version,
                inputs,
                now=when,
            )
        self.session.commit()
        feedback = FeedbackIn(rating=next(self.ratings))
        calls.record_feedback(self.session, self.kernel, self.leader, call, feedback, now=rated)

    def today(self, today: date) -> None:
        """A call waiting for triage, and one on a trip about to leave."""
        start = datetime.combine(today, time(0), self.zone)
        waiting = max(self.now - timedelta(minutes=40), start)
        self.call(STORIES[1], waiting)
        sent = self.call(STORIES[4], max(self.now - timedelta(minutes=20), start))
        body = TripIn(
            destination="莲花村 · 独居老人家中",
            unit_code=VILLAGE,
            vehicle="浙H·民情直通车",
            crew=[self.crew_id],
            call_ids=[sent.id],  # type: ignore[list-item]
        )
        trips.create_trip(self.session, self.kernel, self.leader, self.scope, body, now=self.now)
