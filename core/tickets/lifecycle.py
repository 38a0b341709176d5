"""The ticket lifecycle as a workflow of the engine (domain.md §4.3).

已提交 → 已受理 | 不予受理 → 已派单 → 办理中 (已签收) → 已办结 (待回访) → 已回访 → 已评价 → 已归档,
with 退回, 延期, 上报 (one level up the ladder 网格 → 村社 → 乡镇 → 县), 重办 and 撤销.

The deadlines are not the states' own: each ticket's clocks depend on its type and priority
(:class:`core.tickets.types.Clocks`), so the ticket service passes ``due_at`` with every
transition. Taking a transition of this workflow other than through the ticket service (the
generic workflow API, say) is refused by the tickets plugin's ``workflow_guard``.
"""

from __future__ import annotations

from core.workflows.spec import State, Transition, TransitionInput, Workflow

PLUGIN = "tickets"
WORKFLOW = "ticket"
READ = "ticket.read"
HANDLE = "ticket.handle"
DISPATCH = "ticket.dispatch"
READ_REPORTER = "ticket.read_reporter"  # sensitive: every read of it is audited
CREATE = "ticket.create"

# states whose clock is the response clock (until signed for) and the handling clock
RESPONDING = ("submitted", "accepted", "dispatched")
HANDLING = ("in_progress",)
OPEN_WORK = RESPONDING + HANDLING

_reason = TransitionInput("reason", "理由", max_length=500)
_note = TransitionInput("note", "说明", required=False, max_length=1000)

STATES = (
    State("submitted", "已提交"),
    State("accepted", "已受理"),
    State("dispatched", "已派单"),
    State("in_progress", "办理中"),
    State("resolved", "已办结"),
    State("visited", "已回访"),
    State("rated", "已评价", closed=True),
    State("archived", "已归档", closed=True),
    State("rejected", "不予受理", closed=True),
    State("cancelled", "已撤销", closed=True),
)

TRANSITIONS = (
    Transition("accept", "受理", ("submitted",), "accepted", permission=HANDLE, inputs=(_note,)),
    Transition(
        "reject",
        "不予受理",
        ("submitted",),
        "rejected",
        permission=HANDLE,
        inputs=(TransitionInput("reason", "不予受理理由", max_length=500),),
    ),
    Transition(
        "dispatch",
        "派单",
        ("accepted",),
        "dispatched",
        permission=DISPATCH,
        inputs=(
            TransitionInput("assignee", "承办人（账号）", required=False, max_length=100),
            _note,
        ),
    ),
    Transition("sign", "签收", ("accepted", "dispatched"), "in_progress", permission=HANDLE),
    Transition(
        "return",
        "退回",
        ("dispatched", "in_progress"),
        "accepted",
        permission=HANDLE,
        inputs=(TransitionInput("reason", "退回理由（依据）", max_length=500),),
    ),
    Transition(
        "extend",
        "延期",
        ("in_progress",),
        "in_progress",
        permission=DISPATCH,
        inputs=(
            TransitionInput("days", "延长工作日", kind="integer", minimum=1, maximum=15),
            _reason,
        ),
    ),
    Transition(
        "escalate",
        "上报",
        OPEN_WORK,
        "accepted",
        permission=HANDLE,
        inputs=(_reason,),
        escalate=True,
    ),
    Transition(
        "resolve",
        "办结",
        ("in_progress",),
        "resolved",
        permission=HANDLE,
        inputs=(TransitionInput("result", "办结说明", max_length=2000),),
    ),
    Transition(
        "visit",
        "回访",
        ("resolved",),
        "visited",
        permission=HANDLE,
        inputs=(TransitionInput("note", "回访记录", max_length=1000),),
    ),
    # taken by the reporter through the ticket service (vouched), never by permission alone
    Transition(
        "rate",
        "评价",
        ("resolved", "visited"),
        "rated",
        permission=CREATE,
        inputs=(
            TransitionInput("rating", "评价等级", kind="integer", minimum=1, maximum=5),
            TransitionInput("comment", "评价内容", required=False, max_length=500),
        ),
    ),
    Transition(
        "reopen",
        "重办",
        ("resolved", "visited", "rated"),
        "accepted",
        permission=DISPATCH,
        inputs=(_reason,),
    ),
    Transition(
        "cancel",
        "撤销",
        ("submitted", "accepted", "dispatched"),
        "cancelled",
        permission=DISPATCH,
        inputs=(_reason,),
    ),
    Transition("archive", "归档", ("rated", "visited"), "archived", permission=DISPATCH),
)

TICKET_WORKFLOW = Workflow(
    name=WORKFLOW,
    title="诉求工单",
    states=STATES,
    transitions=TRANSITIONS,
    initial="submitted",
    read_permission=READ,
    start_permission=CREATE,
    description="为民办事全程服务：受理、派单、签收、办结、回访、评价，超时自动上报",
)
