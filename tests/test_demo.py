"""The demo county: its unit tree, one account per role, idempotent loading, the printout."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import MetaData
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

import core.cli.main as cli_main
from core import DemoAccount, Kernel, Role, hookimpl
from core.archives.models import ArchivePerson
from core.audit.models import AuditEntry
from core.db.engine import make_engine
from core.db.migrate import upgrade_all
from core.demo.load import (
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    DEMO_UNITS,
    DemoReport,
    demo_unit_rows,
    load_demo,
)
from core.demo.tickets import TICKETS
from core.identity.access import CORE_ROLES
from core.identity.models import Account, RoleAssignment
from core.identity.secrets import check_password_policy
from core.identity.service import authenticate
from core.plugins.declarations import collect
from core.plugins.models import PluginSetting
from core.plugins.registry import PluginRegistry
from core.settings import Settings
from core.testing import DemoTemplates, SanminDemo
from core.tickets.models import Ticket
from core.units.codes import Level, parse_code
from core.units.models import Unit
from core.units.service import children, list_units, read_units_csv
from tests.helpers import manifest

KECHENG = "330802000000"
# What other tests (and the browser tests) rely on: kept with these names.
KEPT = {
    "330800000000": "衢州市",
    "330802000000": "柯城区",
    "330802001000": "府山街道",
    "330802001001": "府山社区",
    "330802002000": "荷花街道",
    "330802005000": "双港街道",
    "330802005001": "上洋村",
    "330803000000": "衢江区",
    "330803104000": "莲花镇",
}
EXPECTED_UNITS = {
    "resident": "330802001001001",
    "volunteer": "330802001001",
    "party_member": "330802001001",
    "grid_worker": "330802001001001",
    "village_cadre": "330802001001",
    "township_admin": "330802001000",
    "county_admin": "330802000000",
    "city_admin": "330800000000",
    "system_admin": "330800000000",
}


@pytest.fixture
def registry() -> PluginRegistry:
    return PluginRegistry().load()


@pytest.fixture
def engine(sanmin_database_url: str, registry: PluginRegistry) -> Engine:
    engine = make_engine(sanmin_database_url)
    upgrade_all(engine, registry)
    return engine


def snapshot(engine: Engine) -> dict[str, Any]:
    """Everything load_demo writes, as comparable values."""
    with Session(engine) as session:
        return {
            "units": [
                (u.code, u.name, u.parent_code, u.level)
                for u in session.exec(select(Unit).order_by(col(Unit.code)))
            ],
            "accounts": [
                (a.id, a.username, a.display_name, a.password_hash, a.active, a.created_at)
                for a in session.exec(select(Account).order_by(col(Account.id)))
            ],
            "roles": [
                (r.id, r.account_id, r.role, r.unit_code, r.granted_at)
                for r in session.exec(select(RoleAssignment).order_by(col(RoleAssignment.id)))
            ],
            "settings": [
                (s.plugin, s.unit_code, s.enabled)
                for s in session.exec(select(PluginSetting).order_by(col(PluginSetting.plugin)))
            ],
            "audit": [e.id for e in session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))],
            "tickets": [
                (t.id, t.state, t.version, t.reporter_account_id)
                for t in session.exec(select(Ticket).order_by(col(Ticket.id)))
            ],
        }


def test_load_demo_twice_changes_nothing(engine: Engine, registry: PluginRegistry) -> None:
    first = load_demo(engine, registry)
    assert len(first.units.created) == len(demo_unit_rows())
    assert {a.username for a in DEMO_ACCOUNTS} <= set(first.accounts_created)
    before = snapshot(engine)
    assert len(before["accounts"]) == len(first.logins)  # the core's and the plugins'
    assert first.tickets.created and sum(first.tickets.states.values()) == TICKETS
    assert {"in_progress", "rated"} <= set(first.tickets.states)  # open and closed ones
    resident = next(a[0] for a in before["accounts"] if a[1] == "resident")
    assert any(t[3] == resident for t in before["tickets"])  # 我的诉求 is not empty

    second = load_demo(engine, registry)
    assert second.units.created == [] and second.units.updated == []
    assert second.units.unchanged == len(demo_unit_rows())
    assert second.accounts_created == []
    assert not second.tickets.created
    assert snapshot(engine) == before
    assert [(x.username, x.role, x.unit_code) for x in second.logins] == [
        (x.username, x.role, x.unit_code) for x in first.logins
    ]


def test_kecheng_has_3_townships_12_villages_40_grids(sanmin_demo: SanminDemo) -> None:
    with Session(sanmin_demo.engine) as session:
        townships = children(session, KECHENG)
        assert [t.name for t in townships] == ["府山街道", "荷花街道", "双港街道"]
        villages = list_units(session, KECHENG, level=Level.village)
        grids = list_units(session, KECHENG, level=Level.grid)
        assert len(villages) >= 12 and len(grids) >= 40
        for township in townships:  # spread out, not all in one place
            assert len(children(session, township.code)) >= 3
        for village in villages:
            assert len(children(session, village.code)) >= 2
        assert len({v.name for v in villages}) == len(villages)
        assert len({g.name for g in grids}) == len(grids)
        for code, name in KEPT.items():
            assert session.get(Unit, code).name == name  # type: ignore[union-attr]


def test_base_units_file_is_unchanged_and_every_demo_code_is_valid() -> None:
    base = dict(read_units_csv(DEMO_UNITS))
    assert len(base) == 28
    for code, name in KEPT.items():
        assert base[code] == name
    rows = demo_unit_rows()
    codes = [code for code, _ in rows]
    assert len(codes) == len(set(codes))
    for code, name in rows:
        assert name and parse_code(code).code == code


def test_one_demo_account_per_role_and_its_password_works(sanmin_demo: SanminDemo) -> None:
    engine, report = sanmin_demo.engine, sanmin_demo.report  # the demo as loaded, its report
    core_roles = {r.name for r in CORE_ROLES} - {"integrator"}  # API keys, not people
    assert {a.role for a in DEMO_ACCOUNTS} == core_roles
    assert {a.username: a.unit_code for a in DEMO_ACCOUNTS} == EXPECTED_UNITS
    with Session(engine) as session:
        for demo in DEMO_ACCOUNTS:
            check_password_policy(DEMO_PASSWORD, demo.username)
            account = session.exec(select(Account).where(Account.username == demo.username)).one()
            assert account.active and account.display_name.startswith("演示")
            roles = session.exec(
                select(RoleAssignment.role, RoleAssignment.unit_code).where(
                    RoleAssignment.account_id == account.id
                )
            ).all()
            assert [tuple(r) for r in roles] == [(demo.role, demo.unit_code)]
            assert authenticate(session, demo.username, DEMO_PASSWORD, None).id == account.id
        session.commit()
    levels = {
        "grid_worker": Level.grid,
        "village_cadre": Level.village,
        "township_admin": Level.township,
        "county_admin": Level.county,
        "city_admin": Level.city,
        "system_admin": Level.city,
    }
    for demo in DEMO_ACCOUNTS:
        if demo.role in levels:
            assert parse_code(demo.unit_code).level is levels[demo.role]
        assert demo.unit_code.startswith("3308")
    with Session(engine) as session:  # the demo resident is verified, as the head of a home
        resident = session.exec(select(Account).where(Account.username == "resident")).one()
        person = session.get(ArchivePerson, resident.person_id)
        assert person is not None and person.relation == "head"
        assert person.unit_code == EXPECTED_UNITS["resident"]
        assert resident.person_verified_at is not None
        others = session.exec(select(Account).where(Account.username != "resident")).all()
        assert all(account.person_id is None for account in others)
    by_name = {login.username: login for login in report.logins}
    assert by_name["township_admin"].unit_name == "府山街道"
    assert by_name["grid_worker"].role_title == "网格员"
    assert all(login.password == DEMO_PASSWORD for login in report.logins)


def test_a_changed_demo_account_is_left_alone(sanmin_demo: SanminDemo) -> None:
    engine, registry = sanmin_demo.engine, sanmin_demo.kernel.registry  # the demo is loaded
    with Session(engine) as session:
        account = session.exec(select(Account).where(Account.username == "grid_worker")).one()
        account.active = False
        session.add(account)
        for assignment in session.exec(
            select(RoleAssignment).where(RoleAssignment.account_id == account.id)
        ):
            session.delete(assignment)
        session.commit()
    report: DemoReport = load_demo(engine, registry)
    assert report.accounts_created == []
    with Session(engine) as session:
        account = session.exec(select(Account).where(Account.username == "grid_worker")).one()
        assert not account.active  # left as the admin set it
        roles = session.exec(
            select(RoleAssignment.role).where(RoleAssignment.account_id == account.id)
        ).all()
        assert list(roles) == ["grid_worker"]  # the missing demo role is granted again
        grant = session.exec(
            select(AuditEntry)
            .where(AuditEntry.action == "role.grant")
            .order_by(col(AuditEntry.id).desc())
        ).first()
        assert grant is not None and grant.actor == "demo"


def every_row(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table (the version tables included), as sorted ``repr`` strings."""
    tables = MetaData()
    tables.reflect(engine)
    with engine.connect() as conn:
        return {
            name: sorted(repr(tuple(row)) for row in conn.execute(table.select()))
            for name, table in sorted(tables.tables.items())
        }


def test_a_demo_copy_holds_the_loaded_demo_and_keeps_writes_to_itself(
    sanmin_demo: SanminDemo,
    sanmin_demo_templates: DemoTemplates,
    sanmin_settings: Settings,
    sanmin_registry: PluginRegistry,
) -> None:
    """The ``sanmin_demo`` fixture (core.testing): the test's database is the template's rows,
    every table; its sequences carry on after the template's ids; a write stays in the copy."""
    template = sanmin_demo_templates.get(sanmin_settings, sanmin_registry)
    loaded = make_engine(template.url)
    try:
        rows = every_row(loaded)
        assert len(rows["archive_person"]) >= 8000 and rows["ticket"]
        assert every_row(sanmin_demo.engine) == rows
        with Session(loaded) as session:
            last = max(session.exec(select(Account.id)).all(), key=lambda i: i or 0)
        added = sanmin_demo.account("grid_worker", "330802001001001")
        assert added.id is not None and last is not None and added.id > last
        with Session(loaded) as session:
            assert session.get(Account, added.id) is None  # not in the template
        assert every_row(loaded) == rows
    finally:
        loaded.dispose()


def test_demo_command_prints_how_to_log_in(
    sanmin_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANMIN_DATABASE_URL", sanmin_database_url)
    for name in ("SANMIN_DISABLED_PLUGINS", "SANMIN_LOAD_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    served: list[tuple[str, int, int]] = []
    monkeypatch.setattr(cli_main, "_serve", lambda *args: served.append(args))
    runner = CliRunner()

    result = runner.invoke(cli_main.app, ["demo", "--port", "8123"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert served == [("127.0.0.1", 8123, 1)]
    practices = collect(PluginRegistry().load(), "demo_accounts", DemoAccount)
    plugin_accounts = [account for accounts in practices.values() for account in accounts]
    assert {"knock_door", "tea_house", "red_proxy", "mobile_office"} <= set(practices)
    created = len(DEMO_ACCOUNTS) + len(plugin_accounts)
    assert f"新增 {len(demo_unit_rows())} 个单位、{created} 个账号" in out
    assert "http://127.0.0.1:8123/login" in out
    assert "http://127.0.0.1:8123/admin/plugins" in out
    assert "仅供演示" in out and "demo only" in out
    for summary in ("敲门嫂：", "民情茶馆：", "红色代办（演示数据）：", "民情直通车："):
        assert summary in out  # each practice's demo records, through its own services
    for demo in (*DEMO_ACCOUNTS, *plugin_accounts):
        line = next(line for line in out.splitlines() if f" {demo.username} " in line)
        assert demo.role in line and demo.unit_code in line and DEMO_PASSWORD in line
    assert "府山街道 330802001000" in out
    assert "民情档案（演示数据）：3000 户" in out and "新载入" in out

    again = runner.invoke(cli_main.app, ["demo", "--port", "8123"])
    assert again.exit_code == 0
    assert "新增 0 个单位、0 个账号" in again.stdout
    assert "3000 户" in again.stdout and "已存在，未改动" in again.stdout
    assert again.stdout.count(DEMO_PASSWORD) == created  # every account listed again


# -- the two demo hooks: a plugin's demo accounts and records ---------------------------------


class DemoPractice:
    """A plugin with a role of its own, a demo account holding it and demo records."""

    PLUGIN = manifest("demo_practice")

    def __init__(self) -> None:
        self.kernels: list[Kernel] = []

    @hookimpl
    def register_roles(self) -> list[Role]:
        return [Role("demo_practice_keeper", "馆员", frozenset({Level.village}), frozenset())]

    @hookimpl
    def demo_accounts(self) -> list[DemoAccount]:
        return [DemoAccount("keeper", "demo_practice_keeper", "330802001001", "演示馆员")]

    @hookimpl
    def load_demo(self, kernel: Kernel) -> str:
        self.kernels.append(kernel)
        with Session(kernel.engine) as session:  # the core demo is there before the plugin's
            assert session.exec(select(Ticket)).first() is not None
        return f"演示插件：第 {len(self.kernels)} 次"


def _demo_registry(practice: DemoPractice) -> PluginRegistry:
    return PluginRegistry().load(discover=False, extra=[("demo_practice", practice)])


def test_hook_demo_accounts(sanmin_database_url: str) -> None:
    registry = _demo_registry(DemoPractice())
    engine = make_engine(sanmin_database_url)
    upgrade_all(engine, registry)
    report = load_demo(engine, registry)
    keeper = next(login for login in report.logins if login.username == "keeper")
    assert (keeper.role, keeper.role_title, keeper.unit_code) == (
        "demo_practice_keeper",
        "馆员",
        "330802001001",
    )
    with Session(engine) as session:
        account = session.exec(select(Account).where(Account.username == "keeper")).one()
        assert authenticate(session, "keeper", DEMO_PASSWORD, None).id == account.id
        roles = session.exec(
            select(RoleAssignment.role).where(RoleAssignment.account_id == account.id)
        ).all()
    assert roles == ["demo_practice_keeper"]
    assert load_demo(engine, registry).accounts_created == []  # made once


def test_hook_load_demo(sanmin_database_url: str) -> None:
    practice = DemoPractice()
    registry = _demo_registry(practice)
    engine = make_engine(sanmin_database_url)
    upgrade_all(engine, registry)
    assert load_demo(engine, registry).plugins == ["演示插件：第 1 次"]
    assert load_demo(engine, registry).plugins == ["演示插件：第 2 次"]
    assert all(isinstance(kernel, Kernel) for kernel in practice.kernels)
