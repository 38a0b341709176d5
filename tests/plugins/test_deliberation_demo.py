"""民主议事's demo on the whole demo county (idempotent, only where the practice is on): a full
owners' matter and a full village matter decided by the rules and published, an election
being voted, what the demo account finds; and the tables (the migration matches the models).
"""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel, col, select

from core.demo.load import DEMO_PASSWORD, load_demo
from core.testing import Sanmin
from plugins.deliberation import ballots, demo, matters
from plugins.deliberation.models import Matter
from tests.plugins.test_deliberation import API, PAGES, PLUGIN, ok


@pytest.fixture
def sanmin_plugins() -> list[str]:
    return [PLUGIN]


def matters_by_title(sanmin: Sanmin) -> dict[str, Matter]:
    with sanmin.session() as session:
        rows = session.exec(select(Matter).where(col(Matter.village_code) == demo.VILLAGE)).all()
        return {m.title: m for m in rows}


def test_the_demo_runs_an_owners_and_a_village_matter_end_to_end(sanmin: Sanmin) -> None:
    report = load_demo(sanmin.engine, sanmin.kernel.registry)
    sanmin.kernel.toggles.invalidate()
    summary = next(line for line in report.plugins if line.startswith("民主议事"))
    assert "府山雅苑 专有部分 25 个、村民代表 15 名，议题 3 个" in summary and "新载入" in summary
    found = matters_by_title(sanmin)
    lifts, canteen, election = found[demo.LIFTS], found[demo.CANTEEN], found[demo.ELECTION]

    assert (lifts.state, lifts.quorum_met, lifts.passed) == ("implemented", True, True)
    tally = lifts.tally or {}
    assert tally["electorate"]["heads"] == 24  # 25 专有部分, one owner holds two
    assert tally["participants"]["heads"] == 20
    assert [(o["option"], o["heads"]) for o in tally["options"]] == [
        ("同意", 17),
        ("反对", 2),
        ("弃权", 1),
    ]
    assert (canteen.state, canteen.rule, canteen.passed) == (
        "implemented",
        "representatives_meeting",
        True,
    )
    assert (canteen.tally or {})["participants"]["heads"] == 12  # of 15 representatives
    assert (election.state, election.secret, election.seats) == ("voting", True, 3)
    with sanmin.session() as session:
        for matter in (lifts, canteen):
            assert ballots.recount(session, matter).matches
        assert [m.step for m in matters.meetings_of(session, canteen.id)] == [  # type: ignore[arg-type]
            "proposal",
            "discussion",
            "review",
        ]

    answer = sanmin.anonymous.post(
        "/api/v1/auth/token", data={"username": demo.CLERK.username, "password": DEMO_PASSWORD}
    )
    clerk = sanmin.anonymous
    clerk.headers["Authorization"] = f"Bearer {ok(answer)['access_token']}"
    listed = ok(clerk.get(f"{API}/matters", params={"unit": demo.VILLAGE, "state": "public"}))
    assert {m["title"] for m in listed} == {demo.LIFTS, demo.CANTEEN, demo.ELECTION}
    page = clerk.get(f"{PAGES}/matters/{election.id}", params={"unit": demo.VILLAGE})
    assert page.status_code == 200 and 'id="in-person-form"' in page.text
    roll = ok(clerk.get(f"{API}/matters/{election.id}/roll"))
    assert sum(r["voted"] for r in roll) == 9 and not any("choice" in r for r in roll)

    # the demo resident is verified (the core demo links them) and owns a flat of 府山雅苑:
    # they change the ballot the clerk recorded for them, from their phone
    from fastapi.testclient import TestClient

    token = sanmin.anonymous.post(
        "/api/v1/auth/token", data={"username": "resident", "password": DEMO_PASSWORD}
    )
    resident = TestClient(
        sanmin.app, headers={"Authorization": f"Bearer {ok(token)['access_token']}"}
    )
    detail = ok(resident.get(f"{API}/matters/{election.id}", params={"unit": demo.GRID}))
    picked = [c["id"] for c in detail["candidates"]][:2]
    cast = ok(
        resident.post(
            f"{API}/matters/{election.id}/ballots",
            params={"unit": demo.GRID},
            json={"candidates": picked, "version": detail["version"]},
        )
    )
    assert (cast["voted"], cast["changed"]) == (True, True)
    assert sum(r["voted"] for r in ok(clerk.get(f"{API}/matters/{election.id}/roll"))) == 9

    workbench = clerk.get("/admin")  # the clerk's 工作台: the election being voted on
    assert "议事进行中" in workbench.text and "1 项未决，1 项正在投票" in workbench.text
    assert f'{PAGES}/matters/{election.id}?unit=' in workbench.text

    again = demo.load(sanmin.kernel)
    assert again is not None and "已存在，未改动" in again
    assert {t: (m.state, m.version) for t, m in matters_by_title(sanmin).items()} == {
        t: (m.state, m.version) for t, m in found.items()
    }
    sanmin.disable(PLUGIN, demo.TOWNSHIP)  # switched off there: no panel on the workbench
    assert "议事进行中" not in clerk.get("/admin").text


def test_the_demo_stays_out_of_a_township_where_the_practice_is_off(sanmin: Sanmin) -> None:
    sanmin.unit(demo.GRID)
    sanmin.disable(PLUGIN, demo.TOWNSHIP)
    assert demo.load(sanmin.kernel) is None
    assert matters_by_title(sanmin) == {}


def test_demo_accounts_hold_the_practice_roles(sanmin: Sanmin) -> None:
    assert [(a.username, a.role, a.unit_code) for a in demo.ACCOUNTS] == [
        ("deliberation_clerk", "deliberation_clerk", demo.VILLAGE)
    ]
    for account in demo.ACCOUNTS:
        sanmin.kernel.access.check_assignable(account.role, account.unit_code)


def plugin_tables_only(obj: object, name: str | None, type_: str, *_: object) -> bool:
    """Compare only this plugin's tables (Alembic ``include_object``)."""
    if type_ != "table":
        return True
    name = name or ""
    return name.startswith(f"{PLUGIN}_") and not name.endswith("_alembic_version")


def test_migration_matches_the_models(sanmin: Sanmin) -> None:
    with sanmin.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": plugin_tables_only}
        )
        assert compare_metadata(context, SQLModel.metadata) == []
