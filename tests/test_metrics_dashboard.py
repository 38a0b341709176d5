"""The metrics dashboard page (/admin/dashboard): every plugin's figures at a unit for its
whole subtree, its units one level down to drill into, within the actor's scope only."""

from __future__ import annotations

from sqlmodel import Session

from core.tickets.service import TicketIn, create_ticket

COUNTY, TOWNSHIP, GRID = "330802000000", "330802001000", "330802001001001"
OTHER_GRID = "330802002001001"


def submit(sanmin, unit: str) -> None:  # type: ignore[no-untyped-def]
    body = TicketIn(
        type="public_repair",
        unit_code=unit,
        title="路灯不亮",
        description="3 号楼前路灯坏了",
        extra={"facility": "路灯"},
    )
    with Session(sanmin.engine) as session:
        create_ticket(session, sanmin.kernel, sanmin.actor("resident", unit), body)


def test_the_dashboard_shows_each_plugins_figures_rolled_up_and_links_down(sanmin) -> None:  # type: ignore[no-untyped-def]
    for grid in (GRID, GRID, OTHER_GRID):
        sanmin.unit(grid)
        submit(sanmin, grid)
    admin = sanmin.client_as("county_admin", COUNTY)
    page = admin.get("/admin/dashboard", params={"unit": COUNTY})
    assert page.status_code == 200, page.text
    text = page.text
    assert "为民办事" in text and "诉求提交数" in text and "3 件" in text  # the county's three
    assert f"/admin/dashboard?unit={TOWNSHIP}" in text  # a township to drill into
    township = admin.get("/admin/dashboard", params={"unit": TOWNSHIP}).text
    assert "2 件" in township and "3 件" not in township  # only its own grid's two
    assert "指标看板" in admin.get("/", params={"unit": TOWNSHIP}).text  # in the menu


def test_the_dashboard_answers_only_inside_the_scope(sanmin) -> None:  # type: ignore[no-untyped-def]
    sanmin.unit(GRID)
    sanmin.unit(OTHER_GRID)
    worker = sanmin.client_as("grid_worker", GRID)
    assert worker.get("/admin/dashboard", params={"unit": GRID}).status_code == 200
    assert worker.get("/admin/dashboard", params={"unit": OTHER_GRID}).status_code == 404
    resident = sanmin.client_as("resident", GRID)
    assert resident.get("/admin/dashboard", params={"unit": GRID}).status_code == 403
