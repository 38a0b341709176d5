"""How a ticket is shown: a list row's summary and the detail with its timeline, with the
reporter shown, masked or hidden according to who asks — one view for the JSON API, the
pages and Open311.

Reporter privacy (domain.md §4.4, 举报人保密): on an anonymous or confidential ticket the
reporter's name, phone and account are shown only to the reporter and to actors holding
``ticket.dispatch`` at the ticket's unit; everywhere else, whoever sees the phone sees it
masked; an anonymous ticket never shows a name. Where the reporter is hidden, the timeline
names the reporter's own steps and comments 提交人 instead of the account.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from core.archives.idnumbers import mask_phone
from core.audit.reads import record_read
from core.identity.access import Actor
from core.kernel import Kernel
from core.tickets import lifecycle
from core.tickets.models import (
    CHANNELS,
    SATISFACTION_LABELS,
    Ticket,
    TicketAttachment,
    TicketComment,
)
from core.tickets.service import catalog_of, is_reporter
from core.tickets.types import NATURES, PRIORITIES
from core.workflows.models import WorkflowHistoryRow, WorkflowInstanceRow
from core.workflows.service import available_transitions, instance_view
from core.workflows.spec import WorkflowInstance

REPORTER = "提交人"
WORKFLOW = lifecycle.TICKET_WORKFLOW
CLOSED_STATES = tuple(s.name for s in WORKFLOW.states if s.closed)
# taken by the reporter through their own routes (…/rating, …/cancel), never by permission
REPORTER_ACTIONS = ("rate", "cancel")


def state_label(state: str | None) -> str | None:
    found = WORKFLOW.state(state) if state else None
    return found.label if found else state


def type_label(kernel: Kernel, code: str) -> str:
    kind = catalog_of(kernel).types.get(code)
    return kind.label if kind else code


def is_overdue(ticket: Ticket, now: datetime) -> bool:
    """Still open after its current deadline."""
    return ticket.state not in CLOSED_STATES and ticket.due_at is not None and now > ticket.due_at


def summary(kernel: Kernel, ticket: Ticket, now: datetime | None = None) -> dict[str, Any]:
    """A list row: what an inbox shows, never the reporter."""
    now = now or kernel.workflows.clock()
    return {
        "id": ticket.id,
        "type": ticket.type,
        "type_label": type_label(kernel, ticket.type),
        "title": ticket.title,
        "nature": ticket.nature,
        "nature_label": NATURES.get(ticket.nature, ticket.nature),
        "channel": ticket.channel,
        "channel_label": CHANNELS.get(ticket.channel, ticket.channel),
        "priority": ticket.priority,
        "priority_label": PRIORITIES.get(ticket.priority, ticket.priority),
        "state": ticket.state,
        "state_label": state_label(ticket.state),
        "closed": ticket.state in CLOSED_STATES,
        "unit_code": ticket.unit_code,
        "origin_code": ticket.origin_code,
        "level": ticket.level,
        "due_at": ticket.due_at,
        "overdue": is_overdue(ticket, now),
        "submitted_at": ticket.submitted_at,
        "updated_at": ticket.updated_at,
        "version": ticket.version,
        "anonymous": ticket.anonymous,
        "confidential": ticket.confidential,
        "rating": ticket.rating,
        "satisfaction": ticket.satisfaction,
    }


def sees_reporter(kernel: Kernel, actor: Actor, ticket: Ticket) -> bool:
    """Whether ``actor`` sees the reporter in full: the reporter, or a dispatcher there."""
    return is_reporter(actor, ticket) or kernel.allowed(actor, lifecycle.DISPATCH, ticket.unit_code)


def reporter_fields(kernel: Kernel, actor: Actor, ticket: Ticket) -> dict[str, Any]:
    """``reporter_name``, ``reporter_phone``, ``reporter_account_id`` as ``actor`` may see
    them, and ``reporter_hidden`` when they are withheld: an anonymous or confidential
    reporter only to the reporter and dispatchers there; an ordinary reporter's phone in
    full to them and to holders of ``ticket.read_reporter`` there (handlers call back),
    masked to other readers."""
    full = sees_reporter(kernel, actor, ticket)
    if (ticket.anonymous or ticket.confidential) and not full:
        return {
            "reporter_name": None,
            "reporter_phone": None,
            "reporter_account_id": None,
            "reporter_hidden": True,
        }
    phone = ticket.reporter_phone
    calls = full or kernel.allowed(actor, lifecycle.READ_REPORTER, ticket.unit_code)
    return {
        "reporter_name": None if ticket.anonymous else ticket.reporter_name,
        "reporter_phone": phone if calls or not phone else mask_phone(phone),
        "reporter_account_id": ticket.reporter_account_id,
        "reporter_hidden": False,
    }


def revealed(actor: Actor, ticket: Ticket, shown: dict[str, Any]) -> list[str]:
    """What of the reporter ``shown`` gives someone other than the reporter in full: the
    phone, and who reported an anonymous or confidential request. Such reads are audited."""
    if is_reporter(actor, ticket):
        return []
    fields = []
    if ticket.reporter_phone and shown["reporter_phone"] == ticket.reporter_phone:
        fields.append("reporter_phone")
    if (ticket.anonymous or ticket.confidential) and not shown["reporter_hidden"]:
        fields.append("reporter_identity")
    return fields


def reporter_label(ticket: Ticket) -> str | None:
    """The audit label of the reporter's account (who created it, unless on someone's
    behalf), to recognise the reporter's own steps and comments."""
    return ticket.created_by if ticket.reporter_account_id is not None else None


def timeline(
    session: Session,
    kernel: Kernel,
    actor: Actor,
    ticket: Ticket,
    hide_reporter: bool,
    new: bool = False,
) -> list[dict[str, Any]]:
    """The instance's history and the comments, in time order; internal comments only for
    staff holding ``ticket.read`` at the ticket's unit. ``new``: the ticket was created in
    this transaction, so its history is its submission and it has no comments yet."""
    reporter = reporter_label(ticket) if hide_reporter else None

    def who(label: str) -> str:
        return REPORTER if reporter is not None and label == reporter else label

    if new:
        history: Sequence[WorkflowHistoryRow] = [_submission(ticket)]
    else:
        history = session.exec(
            select(WorkflowHistoryRow)
            .where(col(WorkflowHistoryRow.instance_id) == ticket.instance_id)
            .order_by(col(WorkflowHistoryRow.version))
        ).all()
    entries: list[tuple[datetime, int, int, dict[str, Any]]] = []
    for row in history:
        step = WORKFLOW.transition(row.transition) if row.transition else None
        label = step.label if step else ("提交" if row.transition is None else row.transition)
        entry = {
            "kind": "step",
            "version": row.version,
            "transition": row.transition,
            "label": label,
            "from_state": row.from_state,
            "from_state_label": state_label(row.from_state),
            "to_state": row.to_state,
            "to_state_label": state_label(row.to_state),
            "unit_code": row.unit_code,
            "actor": who(row.actor),
            "inputs": row.inputs,
            "at": row.at,
        }
        entries.append((row.at, 0, row.version, entry))
    staff = kernel.allowed(actor, lifecycle.READ, ticket.unit_code)
    comments = select(TicketComment).where(col(TicketComment.ticket_id) == ticket.id)
    if not staff:
        comments = comments.where(col(TicketComment.internal).is_(False))
    for comment in [] if new else session.exec(comments.order_by(col(TicketComment.id))):
        entries.append((comment.created_at, 1, comment.id or 0, comment_view(comment, reporter)))
    entries.sort(key=lambda item: item[:3])
    return [entry for *_, entry in entries]


def _submission(ticket: Ticket) -> WorkflowHistoryRow:
    """A new ticket's one history row, as :func:`core.workflows.service.start_workflow`
    wrote it."""
    return WorkflowHistoryRow(
        instance_id=ticket.instance_id,
        version=1,
        to_state=ticket.state,
        unit_code=ticket.unit_code,
        actor=ticket.created_by,
        inputs={},
        at=ticket.submitted_at,
    )


def _instance(ticket: Ticket) -> WorkflowInstance:
    """A new ticket's workflow instance, as its mirror columns give it (written together)."""
    return WorkflowInstance(
        id=ticket.instance_id,
        plugin=lifecycle.PLUGIN,
        workflow=lifecycle.WORKFLOW,
        unit_code=ticket.unit_code,
        township_code=ticket.township_code,
        subject=None,
        state=ticket.state,
        closed=False,
        version=ticket.version,
        due_at=ticket.due_at,
        created_at=ticket.submitted_at,
        created_by=ticket.created_by,
        updated_at=ticket.updated_at,
    )


def comment_view(comment: TicketComment, hidden_reporter: str | None = None) -> dict[str, Any]:
    """A comment as the timeline shows it; ``hidden_reporter``: the label to show as 提交人."""
    mine = hidden_reporter is not None and comment.actor == hidden_reporter
    return {
        "kind": "comment",
        "id": comment.id,
        "actor": REPORTER if mine else comment.actor,
        "author": REPORTER if mine else comment.author,
        "body": comment.body,
        "internal": comment.internal,
        "at": comment.created_at,
    }


def attachment_view(row: TicketAttachment) -> dict[str, Any]:
    """A photo as a ticket's detail lists it (never who uploaded it: on a confidential ticket
    that could be the reporter); ``url`` serves its bytes (:mod:`core.tickets.attachments`)."""
    return {
        "id": row.id,
        "filename": row.filename,
        "content_type": row.content_type,
        "size": row.size,
        "sha256": row.sha256,
        "created_at": row.created_at,
        "url": f"/api/v1/tickets/{row.ticket_id}/attachments/{row.id}",
    }


def attachments(session: Session, ticket: Ticket) -> list[dict[str, Any]]:
    """The ticket's photos, oldest first."""
    rows = session.exec(
        select(TicketAttachment)
        .where(col(TicketAttachment.ticket_id) == ticket.id)
        .order_by(col(TicketAttachment.id))
    )
    return [attachment_view(row) for row in rows]


def ticket_detail(
    session: Session, kernel: Kernel, actor: Actor, ticket: Ticket, *, new: bool = False
) -> dict[str, Any]:
    """The ticket as ``actor`` (who may read it: :func:`core.tickets.service.get_ticket`) sees
    it: the request, the reporter as the privacy rules allow, the milestones, the timeline,
    the transitions ``actor`` may take now (``…/transitions/{name}``) and what the reporter
    may do (``reporter_actions``: ``rate`` → ``…/rating``, ``cancel`` → ``…/cancel``).

    Showing the reporter's phone or a hidden reporter in full to anyone but the reporter
    writes a ``read.ticket.read_reporter`` audit entry, committed before the answer is
    built. ``new``: ``ticket`` was just created (:func:`core.tickets.service.create_ticket`
    returned it as new), so its instance, first step and empty lists are known and nothing
    is read back."""
    now = kernel.workflows.clock()
    reporter = reporter_fields(kernel, actor, ticket)
    fields = revealed(actor, ticket, reporter)
    if fields:
        record_read(
            session,
            kernel.access,
            actor,
            lifecycle.READ_REPORTER,
            target_type="ticket",
            target_id=str(ticket.id),
            unit_code=ticket.unit_code,
            fields=fields,
        )
        session.commit()
    if new:
        instance = _instance(ticket)
    else:
        row = session.get(WorkflowInstanceRow, ticket.instance_id)
        assert row is not None  # the foreign key
        instance = instance_view(row)
    choices = [
        {"name": t.name, "label": t.label}
        for t in available_transitions(kernel, actor, WORKFLOW, instance)
        if t.name != "rate"
    ]
    mine = is_reporter(actor, ticket)
    own_actions = [
        {"name": t.name, "label": t.label}
        for t in WORKFLOW.outgoing(ticket.state)
        if mine and t.name in REPORTER_ACTIONS
    ]
    kind = catalog_of(kernel).types.get(ticket.type)
    fields = {f.name: f for f in kind.form_fields} if kind else {}
    return {
        **summary(kernel, ticket, now),
        "description": ticket.description,
        "address": ticket.address,
        "latitude": ticket.latitude,
        "longitude": ticket.longitude,
        "media_url": ticket.media_url,  # a link to show, never fetched (Open311 media_url)
        "household_id": ticket.household_id,
        **reporter,
        "reported_by": ticket.reported_by,
        "mine": mine,
        "extra": ticket.extra,
        "extra_labels": [
            {"name": name, "title": fields[name].title, "value": fields[name].label_of(value)}
            for name, value in ticket.extra.items()
            if name in fields
        ],
        "township_code": ticket.township_code,
        "respond_due_at": ticket.respond_due_at,
        "handle_due_at": ticket.handle_due_at,
        "accepted_at": ticket.accepted_at,
        "signed_at": ticket.signed_at,
        "resolved_at": ticket.resolved_at,
        "rated_at": ticket.rated_at,
        "closed_at": ticket.closed_at,
        "responded_on_time": ticket.responded_on_time,
        "resolved_on_time": ticket.resolved_on_time,
        "resolved_level": ticket.resolved_level,
        "escalations": ticket.escalations,
        "reopens": ticket.reopens,
        "reopened_at": ticket.reopened_at,
        "satisfaction_label": SATISFACTION_LABELS.get(ticket.satisfaction or ""),
        "solved": ticket.solved,
        "rating_comment": ticket.rating_comment,
        "public": ticket.public,
        "attachments": [] if new else attachments(session, ticket),
        "timeline": timeline(session, kernel, actor, ticket, reporter["reporter_hidden"], new),
        "transitions": choices,
        "reporter_actions": own_actions,
    }
