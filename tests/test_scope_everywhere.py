"""Every endpoint is checked against scope with ``sanmin.assert_scoped``, now and later.

A route added without a case below fails ``test_every_route_has_a_scope_case``: add a case
(in-scope actor gets it, out-of-scope actor gets 404) or an exemption saying why.
"""

from __future__ import annotations

import pytest

from core.testing import all_routes
from tests.plugins.test_deliberation_web import SCOPED_PATHS as DELIBERATION_PATHS
from tests.plugins.test_knock_door import SCOPED_PATHS as KNOCK_DOOR_PATHS
from tests.plugins.test_mobile_office import SCOPED_PATHS as MOBILE_OFFICE_PATHS
from tests.plugins.test_red_proxy_web import SCOPED_PATHS as RED_PROXY_PATHS
from tests.plugins.test_tea_house import SCOPED_PATHS as TEA_HOUSE_PATHS
from tests.test_accounts import SCOPED_PATHS
from tests.test_admin_console import SCOPED_PATHS as ADMIN_CONSOLE_PATHS
from tests.test_archive_categories import SCOPED_PATHS as CATEGORIES_PATHS
from tests.test_archive_export import SCOPED_PATHS as EXPORT_PATHS
from tests.test_archives import PAGE_PATHS as ARCHIVE_PAGE_PATHS
from tests.test_archives import SCOPED_PATHS as ARCHIVES_PATHS
from tests.test_care import SCOPED_PATHS as CARE_PATHS
from tests.test_forms import SCOPED_PATHS as FORMS_PATHS
from tests.test_import_runs import SCOPED_PATHS as IMPORT_RUNS_PATHS
from tests.test_metrics import SCOPED_PATHS as METRICS_PATHS
from tests.test_open311 import SCOPED_PATHS as OPEN311_PATHS
from tests.test_ticket_attachments import SCOPED_PATHS as ATTACHMENTS_PATHS
from tests.test_ticket_pages import SCOPED_PATHS as TICKET_PAGE_PATHS
from tests.test_ticket_publication import SCOPED_PATHS as PUBLICATION_PATHS
from tests.test_tickets_api import SCOPED_PATHS as TICKETS_PATHS
from tests.test_village_book import SCOPED_PATHS as VILLAGE_BOOK_PATHS
from tests.test_workflows import SCOPED_PATHS as WORKFLOWS_PATHS

GRID_A, GRID_B = "330802001001001", "330802002001001"  # two townships of 柯城区
TOWN_A, TOWN_B = "330802001000", "330802002000"

# (method, url, role, inside, outside[, request keyword arguments])
CASES = [
    ("GET", f"/api/v1/units/{GRID_A}", "grid_worker", GRID_A, GRID_B),
    ("GET", f"/api/v1/units?under={GRID_A}", "grid_worker", GRID_A, GRID_B),
    ("GET", f"/api/v1/units/{TOWN_A}", "township_admin", TOWN_A, TOWN_B),
    ("GET", f"/api/v1/plugins?unit={TOWN_A}", "township_admin", TOWN_A, TOWN_B),
    ("GET", f"/?unit={GRID_A}", "grid_worker", GRID_A, GRID_B),
    ("GET", f"/p/knock_door/?unit={GRID_A}", "grid_worker", GRID_A, GRID_B),
    ("GET", f"/p/tea_house/?unit={GRID_A}", "resident", GRID_A, GRID_B),
    ("GET", f"/p/red_proxy/?unit={TOWN_A}", "township_admin", TOWN_A, TOWN_B),
    ("GET", f"/p/mobile_office/?unit={TOWN_A}", "township_admin", TOWN_A, TOWN_B),
    ("GET", f"/api/v1/audit?unit={TOWN_A}", "township_admin", TOWN_A, TOWN_B),
    ("GET", f"/api/v1/audit/export?format=csv&unit={TOWN_A}", "township_admin", TOWN_A, TOWN_B),
    ("GET", f"/admin/audit?unit={TOWN_A}", "township_admin", TOWN_A, TOWN_B),
    (
        "PUT",
        f"/api/v1/plugins/red_proxy/settings/{TOWN_A}",
        "township_admin",
        TOWN_A,
        TOWN_B,
        {"json": {"enabled": False}},
    ),
    (
        "POST",
        f"/admin/plugins/red_proxy/settings/{TOWN_A}",
        "township_admin",
        TOWN_A,
        TOWN_B,
        {"data": {"value": "off"}},
    ),
]
COVERED = {
    "/api/v1/units/{unit_code}",
    "/api/v1/units",
    "/api/v1/plugins",
    "/",
    "/p/knock_door/",
    "/p/tea_house/",
    "/p/red_proxy/",
    "/p/mobile_office/",
    "/api/v1/audit",
    "/api/v1/audit/export",
    "/admin/audit",
    "/admin/dashboard",  # tests/test_metrics_dashboard.py: 404 for a unit outside the scope
    "/api/v1/plugins/{plugin}/settings/{unit_code}",
    "/admin/plugins/{plugin}/settings/{unit_code}",
    # accounts: each route needs an account first; cases in tests/test_accounts.py
    # (test_every_route_answers_404_outside_the_scope, with sanmin.assert_scoped)
    *SCOPED_PATHS,
    *ADMIN_CONSOLE_PATHS,  # tests/test_admin_console.py: test_every_route_answers_404_outside_…
    *ARCHIVES_PATHS,  # tests/test_archives.py: test_every_route_answers_404_outside_the_scope
    *ARCHIVE_PAGE_PATHS,  # tests/test_archives.py: test_the_pages_answer_404_outside_the_scope
    *CATEGORIES_PATHS,  # tests/test_archive_categories.py: test_every_route_answers_404_…
    *CARE_PATHS,  # tests/test_care.py: test_every_care_route_answers_404_outside_the_scope
    *EXPORT_PATHS,  # tests/test_archive_export.py: a grid worker's export, 404 elsewhere
    *IMPORT_RUNS_PATHS,  # tests/test_import_runs.py: each route 404 for another township
    *VILLAGE_BOOK_PATHS,  # tests/test_village_book.py: a cadre of another village gets 404
    *FORMS_PATHS,  # tests/test_forms.py: test_every_forms_route_answers_404_outside_the_scope
    *METRICS_PATHS,  # tests/test_metrics.py: test_every_route_answers_404_outside_the_scope
    *WORKFLOWS_PATHS,  # tests/test_workflows.py: test_every_workflow_route_answers_404_…
    *TICKETS_PATHS,  # tests/test_tickets_api.py: test_every_route_answers_404_outside_the_scope
    # the practices: each plugin's test proves its list is the app's routes and each is 404
    # outside the scope (tests/plugins/test_<plugin>*.py)
    *KNOCK_DOOR_PATHS,
    *TEA_HOUSE_PATHS,
    *RED_PROXY_PATHS,
    *MOBILE_OFFICE_PATHS,
    *DELIBERATION_PATHS,
    *TICKET_PAGE_PATHS,  # tests/test_ticket_pages.py: test_the_pages_answer_404_outside_the_scope
    *ATTACHMENTS_PATHS,  # tests/test_ticket_attachments.py: test_every_route_answers_404_…
    *PUBLICATION_PATHS,  # tests/test_ticket_publication.py: test_every_route_answers_404_…
    *OPEN311_PATHS,  # tests/test_open311.py: test_every_route_answers_404_outside_the_scope
}
# Routes that hold no per-unit records, each with the reason.
EXEMPT = {
    "/healthz": "public liveness",
    "/login": "public login page",
    "/logout": "ends the caller's own session",
    "/account/password": "the caller's own password",
    "/api/v1/auth/token": "public: exchanges credentials",
    "/api/v1/auth/logout": "revokes the caller's own token",
    "/api/v1/auth/me": "the caller's own identity",
    "/api/v1/auth/password": "the caller's own password",
    "/api/v1/auth/verify": "links the caller's own account; finds a person only where the "
    "caller lives (tests/test_account_verification.py)",
    "/account/verify": "the same, as a page",
    "/admin/plugins": "lists only units in the actor's scope (tests/test_identity.py)",
    "/admin": "the caller's own workbench: each panel reads with the caller's scope "
    "(tests/test_workbench.py: another grid's tickets and households are not counted)",
    "/p/{plugin}/{rest}": "404 for any unknown plugin page",
    "/api/v1/p/{plugin}/{rest}": "404 for any unknown plugin route",
    "/openapi.json": "public schema",
    "/docs": "public schema",
    "/docs/oauth2-redirect": "public schema",
    "/redoc": "public schema",
    "/static/core": "public style sheet and icon",
    "/static/plugins/tea_house": "the tea house's public style sheet",
    "/api/v1/tickets/types": "the catalogue of request types offered at a unit: no records",
    "/tickets/public": "the public 公示 board as a page: the same rows as /api/v1/tickets/public",
    "/api/v1/tickets/public": "public 公示 board: published, de-identified tickets only "
    "(tests/test_ticket_publication.py)",
    "/open311/v2/discovery.{fmt}": "public Open311 discovery: no records",
    "/open311/v2/services.{fmt}": "public Open311 catalogue of request types: no records",
    "/open311/v2/services/{service_code}.{fmt}": "public Open311 request type: no records",
    "/open311/v2/tokens/{token}.{fmt}": "Open311 tokens are not used: always 404",
    "/open311/v2/{rest}": "any other Open311 path: 404 in the spec's error format",
}


def route_paths(app) -> set[str]:  # type: ignore[no-untyped-def]
    return {path.replace(":path", "") for path, _ in all_routes(app)}


def test_every_route_has_a_scope_case(sanmin) -> None:
    missing = route_paths(sanmin.app) - COVERED - set(EXEMPT)
    assert missing == set(), f"routes without a scope case or exemption: {sorted(missing)}"


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case[0]} {case[1]}")
def test_scope_case(sanmin, case) -> None:  # type: ignore[no-untyped-def]
    method, url, role, inside, outside, *rest = case
    sanmin.unit(GRID_A)
    sanmin.unit(GRID_B)
    for plugin in ("knock_door", "tea_house", "red_proxy", "mobile_office"):
        sanmin.enable(plugin, "330802000000")
    sanmin.assert_scoped(
        method, url, role=role, inside=inside, outside=outside, **(rest[0] if rest else {})
    )
