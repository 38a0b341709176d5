"""The ``sanmin`` command line, run in-process against a real database."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlmodel import Session, select
from typer.testing import CliRunner

from core.audit.models import AuditEntry
from core.cli.main import app
from core.db.engine import make_engine
from core.demo.load import DEMO_UNITS
from core.plugins.registry import PluginRegistry
from core.web.app import create_app
from tests.test_registry import BROKEN


@pytest.fixture
def cli(sanmin_database_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run ``sanmin …`` on the test database; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("SANMIN_DATABASE_URL", sanmin_database_url)
    for name in ("SANMIN_DISABLED_PLUGINS", "SANMIN_LOAD_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.stdout, result.stderr

    return run


@pytest.fixture
def demo_db(cli):  # type: ignore[no-untyped-def]
    assert cli("db", "upgrade")[0] == 0
    assert cli("units", "load", str(DEMO_UNITS))[0] == 0
    return cli


def test_plugins_list_shows_the_four_builtins(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("plugins", "list")
    assert code == 0
    for name, title in [
        ("knock_door", "敲门嫂"),
        ("tea_house", "民情茶馆"),
        ("red_proxy", "红色代办"),
        ("mobile_office", "民情直通车"),
    ]:
        line = next(line for line in out.splitlines() if f" {name} " in line)
        version = importlib.import_module(f"plugins.{name}").PLUGIN.version
        assert title in line and f" {version} " in line and "builtin" in line


def test_enable_and_disable_at_a_unit_are_listed_and_audited(demo_db) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = demo_db("plugins", "enable", "red_proxy", "--unit", "330803104000")
    assert code == 0 and "red_proxy" in out
    _, listed, _ = demo_db("plugins", "list", "--unit", "330803104001")
    line = next(line for line in listed.splitlines() if " red_proxy " in line)
    assert "enabled" in line and "330803104000" in line
    assert demo_db("plugins", "disable", "red_proxy", "--unit", "330803104000")[0] == 0
    _, listed, _ = demo_db("plugins", "list", "--unit", "330803104000")
    assert "disabled" in next(line for line in listed.splitlines() if " red_proxy " in line)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("plugins", "enable", "nope", "--unit", "330803104000"), "未安装"),
        (("plugins", "enable", "red_proxy", "--unit", "330803104001"), "村社区"),
        (("plugins", "enable", "red_proxy", "--unit", "330803999000"), "不存在"),
        (("plugins", "enable", "red_proxy", "--unit", "3308"), "12 位"),
        (("plugins", "disable", "units", "--unit", "330803104000"), "不能停用"),
        (("units", "list", "--under", "330899000000"), "不存在"),
        (("db", "upgrade", "--plugin", "nope"), "nope"),
    ],
)
def test_bad_input_is_one_line_and_exit_one(demo_db, args, message) -> None:  # type: ignore[no-untyped-def]
    code, out, err = demo_db(*args)
    assert code == 1
    assert err.startswith("错误: ") and message in err and err.count("\n") == 1
    assert "Traceback" not in out + err


def test_a_refused_change_writes_nothing(demo_db, sanmin_database_url: str) -> None:  # type: ignore[no-untyped-def]
    demo_db("plugins", "enable", "red_proxy", "--unit", "330803104001")
    with Session(make_engine(sanmin_database_url)) as session:
        assert session.exec(select(AuditEntry)).all() == []


def test_commands_on_an_unmigrated_database_say_what_to_run(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("units", "list")
    assert code == 1 and "sanmin db upgrade" in err


def test_a_plugin_s_migrations_wait_for_the_core_s(cli, sanmin_database_url: str) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("db", "upgrade", "--plugin", "red_proxy")
    assert code == 1 and "请先运行 sanmin db upgrade" in err and "Traceback" not in err
    with make_engine(sanmin_database_url).connect() as connection:  # nothing was made
        assert "red_proxy_order" not in inspect(connection).get_table_names()


def test_units_list_and_load(demo_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = demo_db("units", "list", "--under", "330803000000")
    assert code == 0 and "莲花镇" in out and "府山街道" not in out and "共 7 个单位" in out
    code, out, _ = demo_db("units", "load", str(DEMO_UNITS))
    assert code == 0 and "新增 0" in out and "未变 28" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name\n330803104001,\n", encoding="utf-8")
    code, _, err = demo_db("units", "load", str(bad))
    assert code == 1 and "第 2 行 name" in err


def test_a_broken_plugin_is_named_and_the_app_still_serves(
    demo_db,
    write_distribution,
    sanmin_settings,  # type: ignore[no-untyped-def]
) -> None:
    write_distribution(BROKEN, {n.removeprefix("sanmin_"): n for n in BROKEN})
    code, out, _ = demo_db("plugins", "list")
    assert code == 0
    assert "plugin typo is off: implements unknown hook 'menu_link'" in out
    assert "plugin boom is off: failed to import 'sanmin_boom'" in out
    from fastapi.testclient import TestClient

    from core.testing import Sanmin

    app = create_app(sanmin_settings, registry=PluginRegistry().load())
    with TestClient(app) as started:
        client = Sanmin(app, started).client  # signed in as an administrator
        assert client.get("/healthz").status_code == 200
        page = client.get("/p/knock_door/", params={"unit": "330802001000"})
        assert page.status_code == 200
        assert "typo" in client.get("/admin/plugins").text


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SANMIN_DATABASE_URL": "garbage"}, "bad database URL"),
        ({"SANMIN_DATABASE_URL": "mysql://x@localhost/db"}, "bad database URL"),
        ({"SANMIN_TOGGLE_REFRESH_SECONDS": "5"}, "SANMIN_TOGGLE_REFRESH_SECONDS"),
        ({"SANMIN_DATABASE_URL": "sqlite:////nonexistent/dir/x.db"}, "不存在"),
    ],
)
def test_bad_configuration_is_one_line(env, message, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["units", "list"])
    assert result.exit_code == 1
    assert result.stderr.startswith("错误: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
