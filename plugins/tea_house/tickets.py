"""The ticket type 民情事项 this practice adds to the core's six, and how a ticket's state
reads in the public report-back list (结果通报).

An issue that cannot be answered on the spot is transferred to a core ticket (channel
``tea_house``). Most tea-house issues (村务, 土地, 建房, 政策咨询, 建议 …) fit none of the core
six types, so the practice offers 民情事项 where it is on, with the issue's category and the
promised deadline as its fields; a transfer may name any other type offered there instead.
"""

from __future__ import annotations

from datetime import date
from typing import Literal, get_args

from pydantic import BaseModel, Field

from core import Deadline, TicketClocks, TicketType

TICKET_TYPE = "tea_house_matter"
Category = Literal["村务", "土地", "建房", "环境", "道路", "水电", "纠纷", "政策咨询", "建议"]
CATEGORIES: tuple[str, ...] = get_args(Category)

# The core ticket states (core/tickets/lifecycle.py), as the report-back list shows them.
SOLVED_STATES = frozenset({"resolved", "visited", "rated", "archived"})
FINAL_STATES = SOLVED_STATES | {"rejected", "cancelled"}
STATE_LABELS = {
    "submitted": "已提交",
    "accepted": "已受理",
    "dispatched": "已派单",
    "in_progress": "办理中",
    "resolved": "已办结",
    "visited": "已回访",
    "rated": "已评价",
    "archived": "已归档",
    "rejected": "不予受理",
    "cancelled": "已撤销",
}


def result_label(state: str | None) -> str:
    """What the public sees of a ticket's state: every solved state reads 已办结."""
    if state is None:
        return "转办中"
    if state in SOLVED_STATES:
        return "已办结"
    return STATE_LABELS.get(state, state)


class MatterFields(BaseModel):
    """The extra fields of a 民情事项 ticket."""

    category: Category = Field(title="问题类别")
    promised_by: date | None = Field(
        None, title="承诺办理期限", description="民情沟通日转办时村社干部承诺的期限"
    )


MATTER = TicketType(
    code=TICKET_TYPE,
    label="民情事项",
    description="村务、土地、建房、环境、道路、水电、纠纷、政策咨询和建议等民情事项，"
    "含民情沟通日、民情茶馆登记后转办的问题",
    normal=TicketClocks(respond=Deadline(working_days=1), handle=Deadline(working_days=5)),
    urgent=TicketClocks(respond=Deadline(hours=4), handle=Deadline(working_days=2)),
    fields=MatterFields,
    icon="🍵",
    group="民情沟通",
    keywords=("tea house", "民情", "沟通日"),
    staff_only=True,  # transferred by the 馆员 from the issue register
)
