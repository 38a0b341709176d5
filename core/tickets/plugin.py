"""Core plugin ``tickets``: residents' requests (为民办事) through the closed loop — the six
core types and plugins' types (:mod:`core.tickets.types`), the lifecycle as a workflow of the
engine (:mod:`core.tickets.lifecycle`) and the service that keeps each ticket
(:mod:`core.tickets.service`)."""

from __future__ import annotations

from fastapi import APIRouter

from core.hookspecs import hookimpl
from core.identity.access import Actor
from core.jobs.spec import Job
from core.kernel import Kernel
from core.metrics.spec import Metric
from core.plugins.manifest import PluginManifest
from core.tickets import kpis, service
from core.tickets.api import router as tickets_api
from core.tickets.attachments import router as attachments_api
from core.tickets.lifecycle import CREATE, READ, TICKET_WORKFLOW
from core.tickets.open311 import router as open311_router
from core.tickets.pages import pages as ticket_pages
from core.tickets.publication import board as public_board
from core.tickets.publication import router as publication_api
from core.tickets.sweeper import SWEEP_JOB
from core.tickets.workbench import workbench_panels  # noqa: F401  (a hookimpl of this plugin)
from core.version import __version__
from core.web.menu import MenuLink
from core.workflows.spec import Workflow, WorkflowInstance

PLUGIN = PluginManifest(
    name="tickets",
    title="为民办事",
    version=__version__,
    description="诉求工单：受理、派单、办理、回访、评价的闭环，超时自动上报",
    default_enabled=True,
)


# The tickets' routers, one per module: each module adds its own line here.
api = APIRouter()
api.include_router(publication_api)  # first: /tickets/public is not /tickets/{ticket_id}
api.include_router(tickets_api)
api.include_router(attachments_api)

pages = APIRouter()
pages.include_router(public_board)  # /tickets/public: no login, before /tickets/{id}
pages.include_router(ticket_pages)  # /tickets/{ticket_id} last: fixed paths go before it
pages.include_router(open311_router)  # /open311/v2/: outside /api/v1 by contract


@hookimpl
def register_api_routes() -> APIRouter:
    return api


@hookimpl
def register_page_routes() -> APIRouter:
    return pages


@hookimpl
def menu_links(township, request) -> list[MenuLink]:  # type: ignore[no-untyped-def]
    return [
        MenuLink(href="/tickets/new", label="提交诉求", order=120, permission=CREATE),
        MenuLink(href="/tickets/mine", label="我的诉求", order=130, permission=CREATE),
        MenuLink(href="/tickets/inbox", label="工单待办", order=140, permission=READ),
        MenuLink(href="/tickets/public", label="公示栏", order=150),
    ]


@hookimpl
def register_workflows() -> list[Workflow]:
    return [TICKET_WORKFLOW]


@hookimpl
def workflow_guard(
    instance: WorkflowInstance, transition: str, actor: Actor, inputs: dict[str, object]
) -> str | None:
    """Tickets move only through the ticket service (which keeps the ticket row in step)."""
    return service.OWNED.refuse(instance)


@hookimpl
def startup(kernel: Kernel) -> None:
    """Collect the plugins' ticket types (a plugin with a bad one is taken out, with why)."""
    service.catalog_of(kernel)


@hookimpl
def register_metrics() -> list[Metric]:
    """The headline KPIs (响应率, 办结率, 满意率 …) with their counts (:mod:`core.tickets.kpis`)."""
    return kpis.ticket_metrics()


@hookimpl
def register_jobs() -> list[Job]:
    """Every minute: the clocks' reminders and the escalation of overdue tickets."""
    return [SWEEP_JOB]
