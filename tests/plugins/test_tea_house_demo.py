"""民情茶馆's demo (idempotent, only where the practice is on, telling the whole loop) and its
tables (the migration matches the models)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select
from sqlmodel import SQLModel

from core.testing import Sanmin
from plugins.tea_house import demo
from plugins.tea_house.models import (
    TeaHouseDuty,
    TeaHouseIssue,
    TeaHouseSchedule,
    TeaHouseSession,
)
from tests.plugins.test_tea_house import API, PLUGIN, ok

TABLES = (TeaHouseSchedule, TeaHouseSession, TeaHouseDuty, TeaHouseIssue)
SHUANGGANG = "330802005000"  # 双港街道, where 上洋村 is


@pytest.fixture
def sanmin_plugins() -> list[str]:
    """Only this plugin (and the core's)."""
    return [PLUGIN]


def counts(sanmin: Sanmin) -> dict[str, int]:
    with sanmin.engine.connect() as connection:
        return {
            model.__tablename__: connection.execute(  # type: ignore[attr-defined]
                select(func.count()).select_from(model)
            ).scalar_one()
            for model in TABLES
        }


def test_load_demo_is_idempotent_and_keeps_to_enabled_townships(sanmin: Sanmin) -> None:
    for village, _ in demo.VILLAGES:
        sanmin.unit(village)
    sanmin.disable(PLUGIN, SHUANGGANG)

    summary = demo.load(sanmin.kernel)
    assert summary == "民情茶馆：3 个村社，沟通日 9 场，登记问题 21 件，转办 12 件"
    loaded = counts(sanmin)
    assert loaded == {
        "tea_house_schedule": 3,
        "tea_house_session": 9,
        "tea_house_duty": 0,
        "tea_house_issue": 21,
    }
    assert demo.load(sanmin.kernel) is None
    assert counts(sanmin) == loaded
    with sanmin.engine.connect() as connection:
        villages = connection.execute(select(TeaHouseSession.unit_code).distinct()).scalars()
        assert not any(code.startswith(SHUANGGANG[:9]) for code in villages)

    # the next session reports back last month's two transfers and one still being handled
    resident = sanmin.client_as("resident", demo.FUSHAN + "001")
    public = ok(resident.get(f"{API}/report-back"))
    assert public["session"]["status"] == "announced"
    results = sorted(item["result"] for item in public["report_back"])
    assert len(results) == 3 and results.count("已办结") == 1
    earlier = ok(resident.get(f"{API}/notices"))["sessions"]
    last_month = next(s for s in earlier if s["status"] == "closed")
    back = ok(resident.get(f"{API}/report-back", params={"session": last_month["id"]}))
    assert sorted((i["result"], i["reported"]) for i in back["report_back"]) == [
        ("办理中", False),
        ("已办结", True),
    ]


def test_demo_accounts_hold_the_practice_roles_at_fushan(sanmin: Sanmin) -> None:
    assert [(a.username, a.role, a.unit_code) for a in demo.ACCOUNTS] == [
        ("tea_house_head", "tea_house_head", demo.FUSHAN),
        ("tea_house_keeper", "tea_house_keeper", demo.FUSHAN),
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
