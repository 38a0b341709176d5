"""工作台 (``/admin``): each staff member's panels from the ``workbench_panels`` hook — the
open tickets they may read due soonest first with the overdue marked (the head of their
inbox), their households counted by care level (each count the household list's own), and a
plugin's panel only where that plugin is on; a resident is sent to the residents' home; a
failing panel is left out and the page still answers. On SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from fastapi import Request
from sqlalchemy import text

from core import WorkbenchItem, WorkbenchPanel, hookimpl
from tests.helpers import manifest
from tests.test_care import elder, put_profile
from tests.test_tickets_api import NOW, submit

TOWN_A, TOWN_B = "330802001000", "330802002000"
GRID_A, GRID_B = "330802001001001", "330802002001001"


class Practice:
    """A practice plugin with a panel that says whom it is for."""

    PLUGIN = manifest("practice", default_enabled=False)

    @hookimpl
    def workbench_panels(self, township, request: Request):  # type: ignore[no-untyped-def]
        actor = request.state.actor
        return [
            WorkbenchPanel(
                title="练习面板",
                items=(WorkbenchItem(label=f"给 {actor.name}", note="已逾期", urgent=True),),
                order=5,
            )
        ]


class Broken:
    PLUGIN = manifest("broken_panel", default_enabled=True)

    @hookimpl
    def workbench_panels(self, township, request):  # type: ignore[no-untyped-def]
        return "not a list"


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def sanmin_extra_plugins():  # type: ignore[no-untyped-def]
    return [("practice", Practice()), ("broken_panel", Broken())]


@pytest.fixture
def town(sanmin):  # type: ignore[no-untyped-def]
    sanmin.unit(GRID_A)
    sanmin.unit(GRID_B)
    sanmin.kernel.workflows.clock = lambda: NOW
    return sanmin


def panels(page: str) -> dict[str, str]:
    """Each panel's title to its HTML."""
    found = re.findall(
        r'<section class="panel"[^>]*>\s*<h2[^>]*>([^<]+)(.*?)</section>', page, re.S
    )
    return {title.strip(): body for title, body in found}


def test_a_grid_worker_s_workbench_holds_their_tickets_and_households(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID_A)
    first = submit(resident, title="路灯不亮")
    second = submit(resident, title="井盖松动")
    submit(town.client_as("resident", GRID_B), title="别处的诉求", unit_code=GRID_B)
    # the first ticket's deadline passes
    town.kernel.workflows.clock = lambda: NOW + timedelta(days=30)
    red = elder(town, GRID_A, "A001", 70)
    assert put_profile(town.client, red, children="none").status_code == 200
    green = elder(town, GRID_A, "A002", 65)
    assert put_profile(town.client, green).status_code == 200
    elder(town, GRID_B, "B001", 70)

    worker = town.client_as("grid_worker", GRID_A)
    page = worker.get("/admin")
    assert page.status_code == 200, page.text
    assert '<a href="/admin">工作台</a>' in page.text  # in the menu
    shown = panels(page.text)
    assert list(shown)[:2] == ["我的待办", "我的住户"]
    tickets = shown["我的待办"]
    assert "2 件未办结，2 件超时" in tickets
    assert tickets.index(f'/tickets/{first["id"]}"') < tickets.index(f'/tickets/{second["id"]}"')
    assert "别处的诉求" not in tickets and tickets.count('class="urgent"') == 2
    assert "已超时 · 已提交" in tickets
    inbox = worker.get("/tickets/inbox").text
    assert {first["id"], second["id"]} == {
        int(i) for i in re.findall(r'data-ticket="(\d+)"', inbox)
    }

    households = shown["我的住户"]
    assert "2 户" in households  # both of GRID_A's, none of GRID_B's
    for level, count in (("red", 1), ("yellow", 0), ("green", 1)):
        assert f'/archives/households?level={level}">' in households
        listed = worker.get(f"/api/v1/archives/households?level={level}").json()
        assert len(listed["items"] if isinstance(listed, dict) else listed) == count
    assert "红（重点） · 1 户" in households and "绿（常态） · 1 户" in households
    assert "重点关注" in households


def test_hook_workbench_panels(town, caplog) -> None:  # type: ignore[no-untyped-def]
    """A plugin's panel shows only where the plugin is on; a broken one is logged and left
    out, and the page still answers."""
    town.enable("practice", TOWN_A)
    in_a = town.client_as("grid_worker", GRID_A, username="wang.a").get("/admin")
    assert in_a.status_code == 200
    practice = panels(in_a.text)["练习面板"]
    assert "给 wang.a" in practice and 'class="urgent"' in practice and "已逾期" in practice
    assert next(iter(panels(in_a.text))) == "练习面板"  # its order, 5, comes first
    with caplog.at_level(logging.ERROR, logger="sanmin.plugins"):
        in_b = town.client_as("grid_worker", GRID_B).get("/admin")
    assert in_b.status_code == 200 and "练习面板" not in in_b.text
    assert "Hook workbench_panels failed: plugin=broken_panel" in caplog.text


def test_a_resident_is_sent_home_and_no_one_unsigned_gets_in(town) -> None:  # type: ignore[no-untyped-def]
    resident = town.client_as("resident", GRID_A)
    answer = resident.get("/admin", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert '<a href="/admin">工作台</a>' not in resident.get("/").text
    assert town.anonymous.get("/admin", follow_redirects=False).status_code in (303, 401)


def test_the_tickets_panel_counts_every_open_ticket_and_shows_the_first_eight(town) -> None:  # type: ignore[no-untyped-def]
    """我的待办 counts all the open tickets the actor may read (its own reports elsewhere
    too, as the inbox has them), shows the first eight, and leaves out closed ones."""
    resident = town.client_as("resident", GRID_A)
    opened = [submit(resident, title=f"诉求{n}") for n in range(9)]
    withdrawn = submit(resident, title="已撤销的诉求")
    cancelled = resident.post(
        f"/api/v1/tickets/{withdrawn['id']}/cancel", json={"version": 1, "reason": "已解决"}
    )
    assert cancelled.status_code == 200, cancelled.text
    worker = town.client_as("grid_worker", GRID_A, username="li.a")
    own = submit(town.client_as("resident", GRID_B), title="我在别处的诉求", unit_code=GRID_B)
    with town.engine.begin() as conn:  # li.a reported it
        conn.execute(
            text(
                "UPDATE ticket SET reporter_account_id = "
                "(SELECT id FROM account WHERE username = 'li.a') WHERE id = :id"
            ),
            {"id": own["id"]},
        )

    tickets = panels(worker.get("/admin").text)["我的待办"]
    assert "10 件未办结" in tickets and "超时" not in tickets
    shown = [int(i) for i in re.findall(r'href="/tickets/(\d+)"', tickets)]
    assert len(shown) == 8 and withdrawn["id"] not in shown
    assert shown == sorted(shown)  # the same deadline each: by id, as the inbox orders them
    assert set(shown) <= {t["id"] for t in opened} | {own["id"]}
    in_b = panels(town.client_as("grid_worker", GRID_B).get("/admin").text)["我的待办"]
    assert "1 件未办结" in in_b and "我在别处的诉求" in in_b


def test_the_households_panel_counts_the_level_in_force_at_any_breadth_of_scope(town) -> None:  # type: ignore[no-untyped-def]
    """我的住户 counts the households by their members' current level only (a reassessed
    member counts under the new level, not the old), the same for a grid worker (read on the event
    loop) and a township admin (wider: read in a thread), and a staff member's own
    household elsewhere among theirs, as the household list has it."""
    first = elder(town, GRID_A, "A001", 70)
    assert put_profile(town.client, first, children="none").status_code == 200  # red
    second = elder(town, GRID_A, "A002", 70)
    assert put_profile(town.client, second, children="none").json()["care"]["level"] == "red"
    reassessed = put_profile(town.client, second, version=1)
    assert reassessed.json()["care"]["level"] == "yellow", reassessed.text
    elder(town, GRID_B, "B001", 70)
    own = elder(town, GRID_B, "B002", 70)
    assert put_profile(town.client, own, children="none").status_code == 200  # red

    def counts(client) -> str:  # type: ignore[no-untyped-def]
        households = panels(client.get("/admin").text)["我的住户"]
        return " ".join(re.findall(r"(\d+) 户", households))

    grid = town.client_as("grid_worker", GRID_A, username="zhao.a")
    township = town.client_as("township_admin", TOWN_A)
    # total, then 红 黄 绿
    assert counts(grid) == counts(township) == "2 1 1 0"
    assert counts(town.client_as("township_admin", TOWN_B)) == "2 1 0 0"
    with town.engine.begin() as conn:
        link = text("UPDATE account SET person_id = :person WHERE username = 'zhao.a'")
        conn.execute(link, {"person": own})
    assert counts(grid) == "3 2 1 0"  # their own household in GRID_B too
