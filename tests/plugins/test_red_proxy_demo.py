"""红色代办's demo (``demo_accounts``, ``load_demo``) and its tables: the demo loads orders in
every state once and a second run changes nothing; the migration creates exactly the tables
the models declare."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select
from sqlmodel import SQLModel

from core import Kernel
from core.testing import Sanmin
from plugins.red_proxy import demo, hooks
from plugins.red_proxy.models import Agent, Authorization, Handover, Item, Order

PLUGIN = "red_proxy"
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
TABLES = (Item, Agent, Order, Authorization, Handover)


@pytest.fixture
def sanmin_plugins() -> list[str]:
    return [PLUGIN]


def counts(kernel: Kernel) -> dict[str, Any]:
    """Rows of each of the plugin's tables, the orders by state, and workflow history rows."""
    history = SQLModel.metadata.tables["workflow_history"]
    with kernel.engine.connect() as connection:
        found: dict[str, Any] = {
            model.__tablename__: connection.execute(  # type: ignore[attr-defined]
                select(func.count()).select_from(model)
            ).scalar_one()
            for model in TABLES
        }
        found["history"] = connection.execute(
            select(func.count()).select_from(history)
        ).scalar_one()
        found["states"] = dict(
            connection.execute(select(Order.state, func.count()).group_by(Order.state)).all()  # type: ignore[arg-type]
        )
    return found


def test_load_demo_writes_every_state_once_and_a_second_run_changes_nothing(
    sanmin: Sanmin,
) -> None:
    sanmin.kernel.workflows.clock = lambda: NOW  # the stories are dated back from it
    for grid in demo.GRIDS:
        sanmin.unit(grid)
    sanmin.enable(PLUGIN, "330802000000")  # as the demo does: all of 柯城区
    accounts = hooks.demo_accounts()
    assert [(a.username, a.role, a.unit_code) for a in accounts] == [
        ("red_proxy_agent", "red_proxy_agent", "330802001001"),
        ("red_proxy_secretary", "red_proxy_secretary", "330802001001"),
    ]
    for account in accounts:
        sanmin.account(account.role, account.unit_code, account.username)

    first = hooks.load_demo(sanmin.kernel)
    assert first is not None and "新载入" in first
    before = counts(sanmin.kernel)
    assert before["states"] == {
        "rated": 4,
        "done": 1,
        "in_progress": 2,
        "awaiting_materials": 1,
        "dispatched": 1,
        "ordered": 2,
        "withdrawn": 1,
    }
    assert before["red_proxy_item"] == 10 and before["red_proxy_agent"] == 2
    assert before["red_proxy_authorization"] == 5 and before["red_proxy_handover"] == 4

    again = hooks.load_demo(sanmin.kernel)
    assert again is not None and "已存在，未改动" in again
    assert counts(sanmin.kernel) == before

    agent = sanmin.client_as("village_cadre", "330802001001")
    board = agent.get(f"/api/v1/p/{PLUGIN}/orders", params={"overdue": "true"}).json()
    assert "高龄津贴申领" in [o["item_name"] for o in board]  # taken 25 days ago, 10 days
    public = agent.get(f"/api/v1/p/{PLUGIN}/public").json()
    assert len(public) == 5 and {p["requester"][1:] for p in public} == {"**"}


def test_load_demo_does_nothing_where_the_demo_leaves_the_plugin_off(sanmin: Sanmin) -> None:
    sanmin.unit(demo.GRIDS[0])
    assert hooks.load_demo(sanmin.kernel) is None
    assert counts(sanmin.kernel)["red_proxy_order"] == 0


def test_the_migration_creates_the_tables_the_models_declare(sanmin: Sanmin) -> None:
    def ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table":
            return (
                bool(name and name.startswith(f"{PLUGIN}_")) and name != f"{PLUGIN}_alembic_version"
            )
        table = getattr(obj, "table", None)
        return table is None or table.name.startswith(f"{PLUGIN}_")

    with sanmin.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": ours, "compare_type": True}
        )
        assert compare_metadata(context, SQLModel.metadata) == []
