"""Core plugin ``archives``: the resident archive (民情档案) — households and persons, their
JSON API (:mod:`core.archives.api`) and the ``household``/``person`` form subjects."""

from __future__ import annotations

from fastapi import APIRouter

from core.archives import exports, import_runs, service, verification, village_book
from core.archives.api import router as households_api
from core.archives.bulk_indexes import ensure_indexes
from core.archives.care_api import PERMISSIONS as CARE_PERMISSIONS
from core.archives.care_api import REASSESS_JOB
from core.archives.care_api import router as care_api
from core.archives.categories_api import router as categories_api
from core.archives.crypto import cipher_for
from core.archives.extensions import extensions_of
from core.archives.listing_api import router as listing_api
from core.archives.pages import pages
from core.archives.subjects import resolve_household, resolve_person
from core.archives.workbench import workbench_panels  # noqa: F401  (a hookimpl of this plugin)
from core.hookspecs import hookimpl
from core.identity.access import Permission
from core.jobs.spec import Job
from core.kernel import Kernel
from core.plugins.manifest import PluginManifest
from core.version import __version__
from core.web.menu import MenuLink

PLUGIN = PluginManifest(
    name="archives",
    title="民情档案",
    version=__version__,
    description="一户一档：户与人员，身份证号加密存储、脱敏显示、敏感读取留痕",
    default_enabled=True,
)


# The archive's routers, one per module (households and persons, and the other categories).
api = APIRouter()
api.include_router(listing_api)
api.include_router(households_api)
api.include_router(categories_api)
api.include_router(care_api)
api.include_router(village_book.api)
api.include_router(exports.api)
api.include_router(import_runs.api)
api.include_router(verification.api)

all_pages = APIRouter()
all_pages.include_router(pages)
all_pages.include_router(village_book.pages)
all_pages.include_router(import_runs.pages)
all_pages.include_router(verification.pages)


@hookimpl
def register_api_routes() -> APIRouter:
    return api


@hookimpl
def register_permissions() -> list[Permission]:
    """Approving a care-level override, and setting a county's care thresholds."""
    return CARE_PERMISSIONS


@hookimpl
def register_jobs() -> list[Job]:
    """The daily care-level re-assessment of each township."""
    return [REASSESS_JOB, *import_runs.JOBS]


@hookimpl
def register_page_routes() -> APIRouter:
    return all_pages


@hookimpl
def menu_links(township, request) -> list[MenuLink]:  # type: ignore[no-untyped-def]
    """The archive's pages for staff; 实名核验 for a resident account not yet linked."""
    actor = getattr(getattr(request, "state", None), "actor", None)
    verify = [MenuLink(href="/account/verify", label="实名核验", order=940)]
    return [
        MenuLink(href="/archives/households", label="民情档案", order=200, permission=service.READ),
        *village_book.MENU,
        *import_runs.MENU,
        *(verify if verification.needs_verifying(actor) else []),
    ]


@hookimpl
def startup(kernel: Kernel) -> None:
    """Check the archive key (a short ``SANMIN_ARCHIVE_KEY`` stops the start), let plugin
    forms attach to households and persons, rebuild indexes a killed first import left
    unbuilt (:mod:`core.archives.bulk_indexes`), and collect plugins' extension fields (a
    plugin with a bad one is taken out, with the reason)."""
    cipher_for(kernel)
    ensure_indexes(kernel.engine)
    kernel.forms.subjects.register("household", resolve_household)
    kernel.forms.subjects.register("person", resolve_person)
    extensions_of(kernel)
