"""The 四单制 as a workflow of the kernel's engine (domain.md §3.4, §6.1).

① 群众点单 (``ordered``) → ② 支部派单 (``dispatched``) → ③ 党员接单·办单 (``in_progress``,
⇄ 待补材料 ``awaiting_materials``) → 已办结 (``done``) → ④ 群众评单 (``rated``); besides
退单 (the party member hands it back with a reason, back to the branch for 派单), and 撤单
(the requester withdraws).

Deadlines, all from the engine: 派单 within 1 working day, 接单 within 24 hours, materials
within 5 working days; while 办理中 the order is due at the end of the item's time limit in
working days, counted from 接单 and again from the day the missing materials arrive (the
statutory clock restarts with a complete file). The order service passes that deadline
with each step (:mod:`plugins.red_proxy.service`); the plugin's ``workflow_guard`` refuses
any step taken around it, so the order row and the instance never part.
"""

from __future__ import annotations

from core import Deadline, State, Transition, TransitionInput, Workflow

from .access import DISPATCH, HANDLE, ORDER, READ, SECRETARY_ROLE

PLUGIN = "red_proxy"
NAME = "order"

RATINGS = ("很满意", "满意", "较满意", "基本满意", "不满意")
DELIVERIES = ("当面送达", "代为领取后送达", "邮寄送达", "电子送达")
MATERIALS_DAYS = 5

_reason = TransitionInput("reason", "理由", max_length=500)

STATES = (
    State("ordered", "已点单", deadline=Deadline(working_days=1)),
    State("dispatched", "已派单", deadline=Deadline(hours=24)),
    State("in_progress", "办理中"),
    State("awaiting_materials", "待补材料", deadline=Deadline(working_days=MATERIALS_DAYS)),
    State("done", "已办结"),
    State("rated", "已评单", closed=True),
    State("withdrawn", "已撤单", closed=True),
)
OPEN = ("ordered", "dispatched", "in_progress", "awaiting_materials")
HANDLING = ("in_progress", "awaiting_materials")
FINISHED = ("done", "rated")

TRANSITIONS = (
    Transition(
        "dispatch",
        "派单",
        ("ordered",),
        "dispatched",
        permission=DISPATCH,
        inputs=(
            TransitionInput("assignee", "代办员（账号）", max_length=64),
            TransitionInput("note", "派单说明", required=False, max_length=500),
        ),
    ),
    Transition("take", "接单", ("dispatched",), "in_progress", permission=HANDLE),
    Transition(
        "send_back",
        "退单",
        ("dispatched", "in_progress", "awaiting_materials"),
        "ordered",
        permission=HANDLE,
        roles=(SECRETARY_ROLE,),
        inputs=(TransitionInput("reason", "退单理由", max_length=500),),
    ),
    Transition(
        "request_materials",
        "待补材料",
        ("in_progress",),
        "awaiting_materials",
        permission=HANDLE,
        inputs=(TransitionInput("missing", "需补充的材料", max_length=500),),
    ),
    Transition(
        "resume",
        "材料补齐",
        ("awaiting_materials",),
        "in_progress",
        permission=HANDLE,
        inputs=(TransitionInput("note", "说明", required=False, max_length=500),),
    ),
    Transition(
        "finish",
        "办结",
        ("in_progress",),
        "done",
        permission=HANDLE,
        inputs=(
            TransitionInput("result", "办理结果", max_length=1000),
            TransitionInput("delivery", "送达方式", kind="choice", choices=DELIVERIES),
        ),
    ),
    # the requester's own steps: the order service vouches for them (see service.py)
    Transition(
        "rate",
        "评单",
        ("done",),
        "rated",
        permission=ORDER,
        inputs=(
            TransitionInput("rating", "满意程度", kind="choice", choices=RATINGS),
            TransitionInput("comment", "评价内容", required=False, max_length=500),
        ),
    ),
    Transition("withdraw", "撤单", OPEN, "withdrawn", permission=DISPATCH, inputs=(_reason,)),
)

ORDER_WORKFLOW = Workflow(
    name=NAME,
    title="红色代办单",
    description="群众点单、支部派单、党员接单办单、群众评单，办结后公示",
    states=STATES,
    transitions=TRANSITIONS,
    initial="ordered",
    read_permission=READ,
    start_permission=ORDER,
)

STATE_LABELS = {state.name: state.label for state in STATES}
# 5-level rating onto the 3 levels of 12345 (domain.md §6.7): 满意率 = (满意 + 基本满意) ÷ 已评
SATISFACTION = {
    "很满意": "satisfied",
    "满意": "satisfied",
    "较满意": "basic",
    "基本满意": "basic",
    "不满意": "unsatisfied",
}
SATISFIED = ("satisfied", "basic")
