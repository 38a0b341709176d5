"""A matter's course as workflows of the kernel's engine (domain.md §3.6).

Owners' matters (``owners_matter``, 业主共同决定):
议题征集 → 审核 → 公示 (at least 3 days before voting) → 投票中 → 截止 → 计票 → 结果公示 →
执行 → 执行结果公示; or 不予通过 at 审核, 撤回 before voting, 结束 when the vote did not pass.

Village matters (``village_matter``, 四议两公开): 议题征集 → 村党组织提议 → 村“两委”商议 →
党员大会审议 (each a meeting recorded with its attendance) → 公示 → 表决中 (the villagers' or
representatives' meeting: 决议) → 截止 → 计票 → 决议公开 → 执行 → 实施结果公开.

The engine keeps the state, the version (409 when stale), the deadlines and the history;
the matter service (:mod:`plugins.deliberation.matters`) takes every step, checks what the
engine cannot know (the notice period, the voting window, whether the vote passed) and
mirrors the instance onto the matter row; the plugin's ``workflow_guard`` refuses any step
taken around it.
"""

from __future__ import annotations

from core import Deadline, State, Transition, TransitionInput, Workflow

from .access import MANAGE, PROPOSE, READ

PLUGIN = "deliberation"
OWNERS = "owners_matter"
VILLAGE = "village_matter"
NOTICE_DAYS = 3  # 公示 at least this many days before voting opens
FORMS = ("现场会议", "视频会议")

_reason = TransitionInput("reason", "理由", max_length=500)
_count = {"kind": "integer", "minimum": 0, "maximum": 100_000}
MEETING_INPUTS = (
    TransitionInput("held_on", "会议日期", max_length=10, help="格式 2030-03-10"),
    TransitionInput("form", "会议形式", kind="choice", choices=FORMS),
    TransitionInput("due", "应到人数", kind="integer", minimum=1, maximum=100_000),
    TransitionInput("present", "实到人数", **_count),  # type: ignore[arg-type]
    TransitionInput("agree", "同意", **_count),  # type: ignore[arg-type]
    TransitionInput("against", "反对", **_count),  # type: ignore[arg-type]
    TransitionInput("abstain", "弃权", **_count),  # type: ignore[arg-type]
    TransitionInput("content", "会议内容与结论", max_length=1000),
    TransitionInput("attendees", "参会人员（签字）", max_length=1000),
    TransitionInput("township_attendees", "乡镇参会人员", required=False, max_length=500),
)
PUBLISH_INPUTS = (
    TransitionInput("opens_at", "投票开始时间", max_length=16, help="格式 2030-03-10 09:00"),
    TransitionInput("closes_at", "投票截止时间", max_length=16, help="格式 2030-03-17 18:00"),
)
REPORT_INPUTS = (TransitionInput("note", "执行情况", max_length=1000),)


def _states(first: tuple[State, ...], published: str, implemented: str) -> tuple[State, ...]:
    return (
        *first,
        State("notice", "公示中"),
        State("voting", "投票中"),
        State("closed", "已截止", deadline=Deadline(working_days=1)),
        State("counted", "已计票", deadline=Deadline(working_days=2)),
        State("published", published),
        State("implementing", "执行中"),
        State("implemented", implemented, closed=True),
        State("concluded", "已结束（未通过）", closed=True),
        State("rejected", "未通过", closed=True),
        State("withdrawn", "已撤回", closed=True),
    )


def _voting(before_notice: str, before_withdraw: tuple[str, ...]) -> tuple[Transition, ...]:
    return (
        Transition(
            "publish", "公示议题", (before_notice,), "notice", MANAGE, inputs=PUBLISH_INPUTS
        ),
        Transition("open", "开始投票", ("notice",), "voting", MANAGE),
        Transition("close", "截止投票", ("voting",), "closed", MANAGE),
        Transition("count", "计票", ("closed",), "counted", MANAGE),
        Transition("announce", "公示结果", ("counted",), "published", MANAGE),
        Transition("implement", "组织执行", ("published",), "implementing", MANAGE),
        Transition("conclude", "结束（未通过）", ("published",), "concluded", MANAGE),
        Transition(
            "report", "公示执行结果", ("implementing",), "implemented", MANAGE, inputs=REPORT_INPUTS
        ),
        Transition(
            "withdraw", "撤回", (*before_withdraw, "notice"), "withdrawn", MANAGE, inputs=(_reason,)
        ),
    )


OWNERS_WORKFLOW = Workflow(
    name=OWNERS,
    title="业主共同决定事项",
    description="议题征集、审核、公示、投票、计票、结果公示、执行与执行结果公示",
    initial="collecting",
    read_permission=READ,
    start_permission=PROPOSE,
    states=_states(
        (
            State("collecting", "议题征集", deadline=Deadline(working_days=5)),
            State("reviewing", "审核中", deadline=Deadline(working_days=5)),
        ),
        "结果公示",
        "执行结果已公示",
    ),
    transitions=(
        Transition("review", "受理审核", ("collecting",), "reviewing", MANAGE),
        Transition(
            "reject", "不予通过", ("collecting", "reviewing"), "rejected", MANAGE, inputs=(_reason,)
        ),
        *_voting("reviewing", ("collecting", "reviewing")),
    ),
)

VILLAGE_WORKFLOW = Workflow(
    name=VILLAGE,
    title="村级重大事项（四议两公开）",
    description="村党组织提议、两委商议、党员大会审议、村民（代表）会议决议，决议公开、实施结果公开",
    initial="collecting",
    read_permission=READ,
    start_permission=PROPOSE,
    states=_states(
        (
            State("collecting", "议题征集", deadline=Deadline(working_days=10)),
            State("proposed", "已提议（村党组织）"),
            State("discussed", "已商议（两委）"),
            State("reviewed", "已审议（党员大会）"),
        ),
        "决议公开",
        "实施结果已公开",
    ),
    transitions=(
        Transition(
            "propose", "村党组织提议", ("collecting",), "proposed", MANAGE, inputs=MEETING_INPUTS
        ),
        Transition(
            "discuss", "村“两委”商议", ("proposed",), "discussed", MANAGE, inputs=MEETING_INPUTS
        ),
        Transition(
            "review", "党员大会审议", ("discussed",), "reviewed", MANAGE, inputs=MEETING_INPUTS
        ),
        Transition(
            "reject",
            "不予通过",
            ("collecting", "proposed", "discussed"),
            "rejected",
            MANAGE,
            inputs=(_reason,),
        ),
        *_voting("reviewed", ("collecting", "proposed", "discussed", "reviewed")),
    ),
)

WORKFLOWS = {OWNERS: OWNERS_WORKFLOW, VILLAGE: VILLAGE_WORKFLOW}
# The 四议 steps recorded as meetings, by transition; their rules are rules.STEP_RULES.
MEETING_STEPS = {"propose": "proposal", "discuss": "discussion", "review": "review"}
STEP_LABELS = {"proposal": "村党组织提议", "discussion": "村“两委”商议", "review": "党员大会审议"}
PUBLIC_STATES = (
    "notice",
    "voting",
    "closed",
    "counted",
    "published",
    "implementing",
    "implemented",
    "concluded",
)
OPEN_STATES = ("collecting", "reviewing", "proposed", "discussed", "reviewed", "notice", "voting")
RESULT_STATES = ("published", "implementing", "implemented", "concluded")


def workflow_of(kind: str) -> Workflow:
    """The workflow of an owners' or a village matter."""
    return OWNERS_WORKFLOW if kind == "owners" else VILLAGE_WORKFLOW


def state_label(kind: str, state: str) -> str:
    """The state's Chinese label in the matter's workflow."""
    found = workflow_of(kind).state(state)
    return found.label if found else state
