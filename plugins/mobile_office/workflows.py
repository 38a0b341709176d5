"""The two cases of 民情直通车 as workflows of the kernel (domain.md §3.3).

A call: 来电受理 → 值班领导研判 → 直接答复 | 派车 (→ 到场 → 当场办结 | 约期协调 | 现场转办) | 转办.
A trip (出车单): 待出发 → 已出发 → 已到场 → 已返回.

The engine keeps the state, the version check (409), the history, the audit entries and the
events; the plugin's rows mirror ``state`` and ``version``. Each step has side effects the
engine does not know (a ticket, a trip's calls, arrival times), so the steps are taken only
through this plugin's services: :func:`workflow_guard` refuses them anywhere else (the
generic workflow pages and API).
"""

from __future__ import annotations

from core import ServiceOnly, State, Transition, TransitionInput, Workflow

from .access import DISPATCH, INTAKE, PLUGIN, READ, RECORD

RECEIVED, DISPATCHED, SCHEDULED = "received", "dispatched", "scheduled"
OPEN_CALL_STATES = (RECEIVED, DISPATCHED)  # no outcome yet: they keep a day from closing
PLANNED, DEPARTED, ARRIVED, RETURNED = "planned", "departed", "arrived", "returned"
LINKABLE_TRIP_STATES = (PLANNED, DEPARTED)  # calls and tickets join a trip before arrival
ON_SITE_TRIP_STATES = (ARRIVED, RETURNED)  # on-site records are written from arrival on

_record = TransitionInput("record", "现场处置记录编号", kind="integer", minimum=1)

CALL = Workflow(
    name="call",
    title="民情热线来电",
    description="来电受理、值班领导研判，直接答复、派车到场处置或转办工单",
    initial=RECEIVED,
    read_permission=READ,
    start_permission=INTAKE,
    states=(
        State(RECEIVED, "待研判"),
        State(DISPATCHED, "已派车"),
        State("answered", "已答复", closed=True),
        State("resolved", "当场办结", closed=True),
        State(SCHEDULED, "约期协调"),
        State("settled", "协调办结", closed=True),
        State("transferred", "已转办", closed=True),
    ),
    transitions=(
        Transition(
            "answer",
            "直接答复",
            (RECEIVED, DISPATCHED),
            "answered",
            permission=DISPATCH,
            inputs=(TransitionInput("answer", "答复内容", max_length=1000),),
        ),
        Transition(
            "dispatch",
            "派车",
            (RECEIVED,),
            DISPATCHED,
            permission=DISPATCH,
            inputs=(TransitionInput("trip", "出车单号", kind="integer", minimum=1),),
        ),
        Transition(
            "transfer",
            "转办",
            (RECEIVED, DISPATCHED, SCHEDULED),
            "transferred",
            permission=DISPATCH,
        ),
        Transition(
            "resolve", "当场办结", (DISPATCHED,), "resolved", permission=RECORD, inputs=(_record,)
        ),
        Transition(
            "schedule",
            "约期协调",
            (DISPATCHED,),
            SCHEDULED,
            permission=RECORD,
            inputs=(_record, TransitionInput("promised_on", "约定日期", max_length=10)),
        ),
        Transition(
            "refer", "现场转办", (DISPATCHED,), "transferred", permission=RECORD, inputs=(_record,)
        ),
        Transition(
            "settle",
            "协调办结",
            (SCHEDULED,),
            "settled",
            permission=DISPATCH,
            inputs=(TransitionInput("result", "协调结果", max_length=1000),),
        ),
    ),
)

TRIP = Workflow(
    name="trip",
    title="出车单",
    description="民情直通车出车：出发、到场、返回",
    initial=PLANNED,
    read_permission=READ,
    start_permission=DISPATCH,
    states=(
        State(PLANNED, "待出发"),
        State(DEPARTED, "已出发"),
        State(ARRIVED, "已到场"),
        State(RETURNED, "已返回", closed=True),
    ),
    transitions=(
        Transition("depart", "出发", (PLANNED,), DEPARTED, permission=RECORD),
        Transition("arrive", "到场", (DEPARTED,), ARRIVED, permission=RECORD),
        Transition("finish", "返回", (ARRIVED,), RETURNED, permission=RECORD),
    ),
)

WORKFLOWS = (CALL, TRIP)
CALL_STATES = {s.name: s.label for s in CALL.states}
TRIP_STATES = {s.name: s.label for s in TRIP.states}
OUTSIDE = "民情直通车的来电和出车请在民情直通车页面或接口办理 / use the mobile_office pages or API"

# calls and trips move only through the plugin's services (its workflow_guard)
OWNED = ServiceOnly(PLUGIN, None, OUTSIDE)
