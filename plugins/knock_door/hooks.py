"""Every hook of 敲门嫂, each handing over to the module that does the work."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from sqlmodel import Session, col, select

from core import (
    Actor,
    ArchiveHousehold,
    ArchivePerson,
    DemoAccount,
    Event,
    FormSpec,
    HouseholdSection,
    Job,
    Kernel,
    MenuLink,
    Metric,
    Permission,
    Role,
    ScopeUnit,
    SectionEntry,
    TicketType,
    WorkbenchPanel,
    hookimpl,
    page_link,
)

from . import demo, workbench
from .access import PERMISSIONS, READ, RECORD, ROLES, VISIT
from .api import api
from .forms import VISIT as VISIT_FORM
from .jobs import JOBS
from .metrics import METRICS
from .models import Visit
from .needs import NEED_TICKET, RECORDED_EVENT, follow_ticket, transfer_needs
from .pages import pages
from .service import recording

BASE = "/p/knock_door"


@hookimpl
def register_api_routes() -> APIRouter:
    """Plans, records and teams (``api.py``)."""
    return api


@hookimpl
def register_page_routes() -> APIRouter:
    """The home, this week's list, the record form and the team overview (``pages.py``)."""
    return pages


@hookimpl
def register_templates() -> Path:
    return Path(__file__).parent / "templates"


@hookimpl
def register_permissions() -> list[Permission]:
    return PERMISSIONS


@hookimpl
def register_roles() -> list[Role]:
    """敲门嫂 and 敲门嫂队长, held at a village or grid."""
    return ROLES


@hookimpl
def register_forms() -> list[FormSpec]:
    """入户问需记录 (``forms.py``)."""
    return [VISIT_FORM]


@hookimpl
def register_ticket_types() -> list[TicketType]:
    """敲门问需: the tickets needs found on visits become (``needs.py``)."""
    return [NEED_TICKET]


@hookimpl
def register_metrics() -> list[Metric]:
    return METRICS


@hookimpl
def register_jobs() -> list[Job]:
    """Plan generation and overdue flags (``jobs.py``)."""
    return JOBS


@hookimpl
def demo_accounts() -> list[DemoAccount]:
    return demo.ACCOUNTS


@hookimpl
def load_demo(kernel: Kernel) -> str:
    """Teams, plans from the demo archive's care levels and some visits (``demo.py``)."""
    return demo.load(kernel)


@hookimpl
def menu_links(township: ScopeUnit | None, request: Request) -> list[MenuLink]:
    """The home for everyone; this week's list for visitors; the overview for readers."""
    if township is None:
        return []
    return [
        MenuLink(href=page_link(request, f"{BASE}/"), label="敲门嫂", order=110),
        MenuLink(
            href=page_link(request, f"{BASE}/week"), label="本周走访", order=111, permission=VISIT
        ),
        MenuLink(
            href=page_link(request, f"{BASE}/teams"), label="队伍概览", order=112, permission=READ
        ),
    ]


@hookimpl
async def workbench_panels(
    township: ScopeUnit | None, request: Request
) -> list[WorkbenchPanel] | None:
    """本周走访 on the workbench of whoever visits: the head of this week's list
    (``workbench.py``)."""
    return await workbench.panels(township, request)


@hookimpl
def permission_allowed(actor: Actor, permission: str, unit_code: str) -> bool | None:
    """入户问需记录 are submitted through the plugin's own page and API only, which tie each
    to its plan and file its tickets; the forms service's generic create routes refuse it."""
    if permission == RECORD and not recording():
        return False
    return None


@hookimpl
def on_event(event: Event, kernel: Kernel) -> None:
    """File a recorded visit's tickets (again, if the first attempt failed) and follow them."""
    if event.name == RECORDED_EVENT:
        transfer_needs(kernel, int(event.payload["visit_id"]))
    elif event.name == "ticket.transitioned":
        follow_ticket(kernel, event)


@hookimpl
def household_file_sections(
    household: ArchiveHousehold, members: list[ArchivePerson], actor: Actor, kernel: Kernel
) -> list[HouseholdSection]:
    """敲门嫂 visits of the household's members in 一户一档: when and how long, never the
    observations; the visitor's name only for staff who read the practice's work there."""
    ids = [m.id for m in members if m.id is not None]
    if not ids:
        return []
    with Session(kernel.engine) as session:
        visits = session.exec(
            select(Visit)
            .where(col(Visit.person_id).in_(ids))
            .order_by(col(Visit.id).desc())
            .limit(50)
        ).all()
    staff = kernel.allowed(actor, READ, household.unit_code)
    names = {m.id: m.name for m in members}

    def text(v: Visit) -> str:
        who = f"敲门嫂{v.visitor_name}" if staff else "敲门嫂"
        whom = names.get(v.person_id, "")
        return f"{v.visited_on.isoformat()} {who}{v.method}走访{whom}，时长 {v.minutes} 分钟"

    entries = tuple(
        SectionEntry(v.created_at, text(v), href=f"{BASE}/visits/{v.id}") for v in visits
    )
    return [
        HouseholdSection(key="knock_door_visits", title="敲门嫂走访", order=40, entries=entries)
    ]
