"""``sanmin users …`` and ``sanmin apikeys …``, in-process against SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner

from core.audit.models import AuditEntry
from core.cli.main import app, cli_actor
from core.db.engine import make_engine
from core.demo.load import DEMO_UNITS
from core.identity.models import Account, ApiKey, AuthToken, RoleAssignment
from core.identity.secrets import digest
from core.identity.service import actor_from_api_key, actor_from_token, authenticate, issue_token

GRID = "330802001001001"  # 府山社区第一网格
VILLAGE = "330802001001"  # 府山社区
TOWNSHIP = "330802001000"  # 府山街道
COUNTY = "330802000000"  # 柯城区
OTHER_COUNTY = "330803000000"  # 衢江区
LIANHUA_VILLAGE = "330803104001"  # 莲花村, in 衢江区
PASSWORD = "correct-horse-battery"

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def engine(sanmin_database_url: str) -> Engine:
    return make_engine(sanmin_database_url)


@pytest.fixture
def cli(sanmin_database_url: str, monkeypatch: pytest.MonkeyPatch, engine: Engine) -> Run:
    """``sanmin …`` on a migrated database holding the demo units; (exit code, stdout, stderr)."""
    monkeypatch.setenv("SANMIN_DATABASE_URL", sanmin_database_url)
    for name in ("SANMIN_DISABLED_PLUGINS", "SANMIN_LOAD_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
        result = runner.invoke(app, list(args), input=input)
        return result.exit_code, result.stdout, result.stderr

    assert run("db", "upgrade")[0] == 0
    assert run("units", "load", str(DEMO_UNITS))[0] == 0
    return run


def create(cli: Run, username: str, role: str, unit: str, *more: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return cli(
        "users",
        "create",
        username,
        "--role",
        role,
        "--unit",
        unit,
        "--password-stdin",
        *more,
        input=password + "\n",
    )


def counts(engine: Engine) -> dict[str, int]:
    """How many rows each table that these commands write holds."""
    with Session(engine) as session:
        return {
            model.__name__: session.exec(select(func.count()).select_from(model)).one()
            for model in (Account, RoleAssignment, ApiKey, AuditEntry, AuthToken)
        }


def audit(engine: Engine, action: str) -> list[AuditEntry]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(AuditEntry).where(AuditEntry.action == action).order_by(col(AuditEntry.id))
            )
        )


def roles_of(engine: Engine, username: str) -> set[tuple[str, str]]:
    with Session(engine) as session:
        rows = session.exec(
            select(RoleAssignment.role, RoleAssignment.unit_code)
            .join(Account, col(Account.id) == col(RoleAssignment.account_id))
            .where(Account.username == username)
        )
        return set(rows)  # type: ignore[arg-type]


def assert_one_line_error(code: int, out: str, err: str, *words: str) -> None:
    assert code == 1, (out, err)
    assert err.startswith("错误: ") and err.count("\n") == 1, err
    for word in words:
        assert word in err
    assert "Traceback" not in out + err


# -- users create ------------------------------------------------------------------------------


def test_create_with_password_on_stdin(cli: Run, engine: Engine) -> None:
    code, out, err = create(cli, "Wang.Li", "grid_worker", GRID, "--name", "王丽")
    assert code == 0, err
    assert out.count("\n") == 1
    assert "wang.li" in out and "网格员" in out and "府山社区第一网格" in out and GRID in out
    with Session(engine) as session:
        account = session.exec(select(Account).where(Account.username == "wang.li")).one()
        assert account.display_name == "王丽" and account.active
        assert PASSWORD not in account.password_hash
        assert authenticate(session, "wang.li", PASSWORD, None).id == account.id
    assert roles_of(engine, "wang.li") == {("grid_worker", GRID)}
    (created,) = audit(engine, "account.create")
    (granted,) = audit(engine, "role.grant")
    assert created.actor == granted.actor == cli_actor()
    assert created.after == {"username": "wang.li"}
    assert granted.unit_code == GRID and granted.after == {"role": "grid_worker", "unit": GRID}


def test_password_on_stdin_keeps_all_but_the_line_end(cli: Run, engine: Engine) -> None:
    code, _, err = create(cli, "zhao", "volunteer", VILLAGE, password="  spaced out pw\r")
    assert code == 0, err
    with Session(engine) as session:
        authenticate(session, "zhao", "  spaced out pw", None)


def test_create_prompts_twice_for_the_password(cli: Run, engine: Engine) -> None:
    args = ("users", "create", "chen", "--role", "township_admin", "--unit", TOWNSHIP)
    code, out, err = cli(*args, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert code == 0, err
    assert PASSWORD not in out  # hidden input is not echoed
    assert out.splitlines()[-1].startswith("已创建账号 chen") and "府山街道" in out
    with Session(engine) as session:
        authenticate(session, "chen", PASSWORD, None)


def test_passwords_that_differ_create_nothing(cli: Run, engine: Engine) -> None:
    before = counts(engine)
    args = ("users", "create", "chen", "--role", "township_admin", "--unit", TOWNSHIP)
    code, out, _ = cli(*args, input=f"{PASSWORD}\nsomething-else-entirely\n")
    assert code == 1 and "do not match" in out
    assert counts(engine) == before


@pytest.mark.parametrize(
    ("username", "role", "unit", "password", "words"),
    [
        ("Bad Name", "grid_worker", GRID, PASSWORD, ["username:"]),
        ("x", "grid_worker", GRID, PASSWORD, ["username:"]),
        ("wang", "grid_worker", GRID, "short", ["password:", "10"]),
        ("wang", "grid_worker", GRID, "hello-wang-2026", ["password:", "username"]),
        ("wang", "grid_worker", GRID, "", ["password:", "stdin"]),
        ("wang", "no_such_role", GRID, PASSWORD, ["role:", "no_such_role"]),
        ("wang", "grid_worker", TOWNSHIP, PASSWORD, ["role:", "网格员", "township"]),
        ("wang", "county_admin", GRID, PASSWORD, ["role:", "grid"]),
        ("wang", "grid_worker", "330802001001009", PASSWORD, ["unit:", "不存在"]),
        ("wang", "grid_worker", "3308", PASSWORD, ["unit:", "12 位"]),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(  # type: ignore[no-untyped-def]
    cli: Run, engine: Engine, username, role, unit, password, words
) -> None:
    before = counts(engine)
    code, out, err = create(cli, username, role, unit, password=password)
    assert_one_line_error(code, out, err, *words)
    assert counts(engine) == before


def test_create_refuses_a_taken_username_and_writes_nothing(cli: Run, engine: Engine) -> None:
    assert create(cli, "wang", "grid_worker", GRID)[0] == 0
    before = counts(engine)
    code, out, err = create(cli, "WANG", "volunteer", VILLAGE, password="another-password")
    assert_one_line_error(code, out, err, "username:", "wang", "已存在")
    assert counts(engine) == before
    assert roles_of(engine, "wang") == {("grid_worker", GRID)}


def test_create_refuses_a_display_name_too_long(cli: Run, engine: Engine) -> None:
    before = counts(engine)
    code, out, err = create(cli, "wang", "grid_worker", GRID, "--name", "名" * 101)
    assert_one_line_error(code, out, err, "name:")
    assert counts(engine) == before


def test_create_without_role_or_unit_is_a_usage_error(cli: Run, engine: Engine) -> None:
    code, _, err = cli("users", "create", "wang", "--unit", GRID, input=PASSWORD + "\n")
    assert code == 2 and "--role" in err


def test_create_on_an_unmigrated_database_says_what_to_run(
    sanmin_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANMIN_DATABASE_URL", sanmin_database_url)
    result = CliRunner().invoke(
        app,
        ["users", "create", "wang", "--role", "grid_worker", "--unit", GRID, "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 1 and "sanmin db upgrade" in result.stderr


# -- users grant, deactivate, activate, list ---------------------------------------------------


def test_grant_adds_a_role_once_and_audits_it(cli: Run, engine: Engine) -> None:
    assert create(cli, "wang", "grid_worker", GRID)[0] == 0
    code, out, err = cli("users", "grant", "wang", "--role", "village_cadre", "--unit", VILLAGE)
    assert code == 0, err
    assert "wang" in out and "村社干部" in out and "府山社区" in out and "未变" not in out
    assert roles_of(engine, "wang") == {("grid_worker", GRID), ("village_cadre", VILLAGE)}
    grants = audit(engine, "role.grant")
    assert len(grants) == 2 and grants[-1].actor == cli_actor()
    assert grants[-1].after == {"role": "village_cadre", "unit": VILLAGE}

    before = counts(engine)
    code, out, _ = cli("users", "grant", "WANG", "--role", "village_cadre", "--unit", VILLAGE)
    assert code == 0 and "未变" in out
    assert counts(engine) == before


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("nobody", "--role", "volunteer", "--unit", VILLAGE), ["username:", "nobody"]),
        (("wang", "--role", "nope", "--unit", VILLAGE), ["role:", "nope"]),
        (("wang", "--role", "village_cadre", "--unit", TOWNSHIP), ["role:", "township"]),
        (("wang", "--role", "volunteer", "--unit", "330802001999"), ["unit:", "不存在"]),
    ],
)
def test_grant_refuses_bad_input_and_writes_nothing(cli: Run, engine: Engine, args, words) -> None:  # type: ignore[no-untyped-def]
    assert create(cli, "wang", "grid_worker", GRID)[0] == 0
    before = counts(engine)
    assert_one_line_error(*cli("users", "grant", *args), *words)
    assert counts(engine) == before


def test_deactivate_ends_tokens_at_once_and_activate_restores_logins(
    cli: Run, engine: Engine
) -> None:
    assert create(cli, "wang", "grid_worker", GRID)[0] == 0
    with Session(engine) as session:
        account = session.exec(select(Account).where(Account.username == "wang")).one()
        token = issue_token(session, account, "bearer", None)
        session.commit()
        assert actor_from_token(session, token, "bearer") is not None

    code, out, err = cli("users", "deactivate", "wang")
    assert code == 0 and "wang" in out and "停用" in out, err
    with Session(engine) as session:
        assert actor_from_token(session, token, "bearer") is None
        stored = session.exec(select(AuthToken).where(AuthToken.token_hash == digest(token))).one()
        assert stored.revoked_at is not None
        assert not session.exec(select(Account).where(Account.username == "wang")).one().active
    (entry,) = audit(engine, "account.deactivate")
    assert entry.actor == cli_actor()
    assert entry.before == {"active": True} and entry.after == {"active": False}

    before = counts(engine)
    code, out, _ = cli("users", "deactivate", "wang")
    assert code == 0 and "未变" in out
    assert counts(engine) == before

    code, out, _ = cli("users", "activate", "wang")
    assert code == 0 and "启用" in out
    assert len(audit(engine, "account.activate")) == 1
    with Session(engine) as session:
        authenticate(session, "wang", PASSWORD, None)
        assert actor_from_token(session, token, "bearer") is None  # revoked stays revoked


@pytest.mark.parametrize("command", ["deactivate", "activate"])
def test_deactivate_and_activate_refuse_an_unknown_account(
    cli: Run, engine: Engine, command: str
) -> None:
    before = counts(engine)
    assert_one_line_error(*cli("users", command, "nobody"), "username:", "nobody")
    assert counts(engine) == before


def test_list_shows_accounts_with_roles_at_units(cli: Run) -> None:
    assert create(cli, "wang", "grid_worker", GRID, "--name", "王丽")[0] == 0
    assert cli("users", "grant", "wang", "--role", "village_cadre", "--unit", VILLAGE)[0] == 0
    assert create(cli, "liu", "village_cadre", LIANHUA_VILLAGE)[0] == 0
    assert cli("users", "deactivate", "liu")[0] == 0
    assert create(cli, "sun", "county_admin", COUNTY)[0] == 0

    code, out, _ = cli("users", "list")
    assert code == 0 and "共 3 个账号" in out
    wang = next(line for line in out.splitlines() if " wang " in line)
    assert "王丽" in wang and "active" in wang and "inactive" not in wang
    assert f"grid_worker@{GRID}(府山社区第一网格)" in wang
    assert f"village_cadre@{VILLAGE}(府山社区)" in wang
    liu = next(line for line in out.splitlines() if " liu " in line)
    assert "inactive" in liu and f"village_cadre@{LIANHUA_VILLAGE}(莲花村)" in liu

    code, out, _ = cli("users", "list", "--under", OTHER_COUNTY)
    assert code == 0 and "共 1 个账号" in out and " liu " in out and " wang " not in out
    code, out, _ = cli("users", "list", "--under", VILLAGE)
    assert code == 0 and "共 1 个账号" in out and " wang " in out
    assert " sun " not in out  # held above the subtree, not in it


def test_list_under_an_unknown_unit_is_one_line(cli: Run) -> None:
    assert_one_line_error(*cli("users", "list", "--under", "330899000000"), "unit:", "不存在")


# -- apikeys -----------------------------------------------------------------------------------


def test_apikeys_create_prints_the_key_alone_on_its_last_line(cli: Run, engine: Engine) -> None:
    code, out, err = cli("apikeys", "create", "12345 热线", "--unit", COUNTY)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) >= 2 and out.endswith("\n")
    key = lines[-1]
    assert key.startswith("smk_") and key == key.strip() and " " not in key
    assert "12345 热线" in out and "integrator" in out and "柯城区" in out
    assert key not in "\n".join(lines[:-1])
    with Session(engine) as session:
        actor = actor_from_api_key(session, key)
        assert actor is not None and actor.name == "12345 热线"
        assert [(r.role, r.unit_code) for r in actor.roles] == [("integrator", COUNTY)]
        stored = session.exec(select(ApiKey)).one()
        assert stored.key_hash == digest(key) and key not in stored.key_hash
        assert stored.created_by == cli_actor()
    (entry,) = audit(engine, "apikey.create")
    assert entry.actor == cli_actor() and entry.unit_code == COUNTY
    assert entry.after == {"name": "12345 热线", "role": "integrator"}


def test_apikeys_create_with_another_role(cli: Run, engine: Engine) -> None:
    code, out, _ = cli("apikeys", "create", "dashboard", "--unit", TOWNSHIP, "--role", "volunteer")
    assert code == 0
    with Session(engine) as session:
        actor = actor_from_api_key(session, out.splitlines()[-1])
        assert actor is not None and actor.roles[0].role == "volunteer"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("taken", "--unit", COUNTY), ["name:", "taken", "已存在"]),
        (("  ", "--unit", COUNTY), ["name:"]),
        (("x" * 101, "--unit", COUNTY), ["name:"]),
        (("new", "--unit", GRID), ["role:", "grid"]),
        (("new", "--unit", COUNTY, "--role", "nope"), ["role:", "nope"]),
        (("new", "--unit", COUNTY, "--role", "grid_worker"), ["role:", "county"]),
        (("new", "--unit", "330802999000"), ["unit:", "不存在"]),
        (("new", "--unit", "abc"), ["unit:", "12 位"]),
    ],
)
def test_apikeys_create_refuses_bad_input_and_writes_nothing(
    cli: Run,
    engine: Engine,
    args: tuple[str, ...],
    words: list[str],
) -> None:
    assert cli("apikeys", "create", "taken", "--unit", COUNTY)[0] == 0
    before = counts(engine)
    code, out, err = cli("apikeys", "create", *args)
    assert_one_line_error(code, out, err, *words)
    assert "smk_" not in out
    assert counts(engine) == before


def test_apikeys_list_and_revoke(cli: Run, engine: Engine) -> None:
    _, out, _ = cli("apikeys", "create", "12345 热线", "--unit", COUNTY)
    key = out.splitlines()[-1]
    assert cli("apikeys", "create", "村务公开屏", "--unit", VILLAGE)[0] == 0

    code, out, _ = cli("apikeys", "list")
    assert code == 0 and "共 2 个" in out and key not in out and "smk_" not in out
    hotline = next(line for line in out.splitlines() if "12345 热线" in line)
    assert "integrator" in hotline and f"柯城区 {COUNTY}" in hotline and "UTC" in hotline
    assert hotline.rstrip(" │").endswith("—")  # not revoked

    code, out, err = cli("apikeys", "revoke", "12345 热线")
    assert code == 0 and "已撤销" in out and "未变" not in out, err
    with Session(engine) as session:
        assert actor_from_api_key(session, key) is None
        stored = session.exec(select(ApiKey).where(ApiKey.name == "12345 热线")).one()
        assert stored.revoked_at is not None
    (entry,) = audit(engine, "apikey.revoke")
    assert entry.actor == cli_actor() and entry.unit_code == COUNTY
    assert entry.target_type == "api_key" and entry.target_id == str(stored.id)
    assert entry.before == {"revoked_at": None} and entry.after is not None

    _, out, _ = cli("apikeys", "list")
    hotline = next(line for line in out.splitlines() if "12345 热线" in line)
    assert hotline.count("UTC") == 2  # created and revoked
    screen = next(line for line in out.splitlines() if "村务公开屏" in line)
    assert screen.count("UTC") == 1

    before = counts(engine)
    code, out, _ = cli("apikeys", "revoke", "12345 热线")
    assert code == 0 and "未变" in out
    assert counts(engine) == before


def test_apikeys_revoke_an_unknown_key_is_one_line(cli: Run, engine: Engine) -> None:
    before = counts(engine)
    assert_one_line_error(*cli("apikeys", "revoke", "nope"), "name:", "nope")
    assert counts(engine) == before
