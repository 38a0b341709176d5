"""Loading the demo county (idempotent): its units, plugin settings, demo accounts and
archive (about 3,000 households and 8,000 persons, :mod:`core.demo.archive`).

The units come from two files. ``units.csv`` is the base that tests and benchmarks load on
their own (衢州市 with four of its counties, a township or two in each); ``units_kecheng.csv``
fills in 柯城区 so that it is a realistic county: 3 乡镇街道 with 12 村社区 and 40 网格.

Every demo account has the same password, :data:`DEMO_PASSWORD`. It is printed by
``sanmin demo`` and documented in ``core/demo/README.md``: demo only, never in production.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.archives.crypto import ArchiveCipher, archive_secret
from core.archives.models import ArchiveHousehold, ArchivePerson
from core.db.types import utcnow
from core.demo.accounts import DemoAccount
from core.demo.archive import ArchiveReport, load_archive
from core.demo.tickets import TicketsReport, load_tickets
from core.identity.access import AccessCatalog, build_catalog
from core.identity.models import Account
from core.identity.secrets import hash_password
from core.identity.service import create_account, grant_role
from core.kernel import Kernel
from core.plugins.calling import call_impl
from core.plugins.declarations import collect
from core.plugins.registry import PluginRegistry
from core.plugins.service import bump_config_version, set_plugin_setting
from core.plugins.startup import run_startup_hooks
from core.settings import Settings
from core.units.service import LoadReport, get_unit, load_units, read_units_csv

DEMO_DIR = Path(__file__).resolve().parent
DEMO_UNITS = DEMO_DIR / "units.csv"
DEMO_TREE = DEMO_DIR / "units_kecheng.csv"
DEMO_UNIT_FILES = (DEMO_UNITS, DEMO_TREE)
# Which practice runs where in the demo: 民情直通车 in 衢江区 (where it started),
# 红色代办 in 柯城区; 敲门嫂 and 民情茶馆 are on by default except in 江山市's 双塔街道.
DEMO_SETTINGS = (
    ("mobile_office", "330803000000", True),
    ("red_proxy", "330802000000", True),
    ("tea_house", "330881001000", False),
)
DEMO_ACTOR = "demo"
# Demo only: shown on screen and in the README. At least 10 characters and containing no
# demo username, as core.identity.secrets.check_password_policy requires.
DEMO_PASSWORD = "sanmin-demo-2026"


# One account per core role, around 府山街道 in 柯城区: the grid worker and the resident in
# 府山社区's first grid, the volunteer, party member and cadre in 府山社区, then one admin per
# level above it.
DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("resident", "resident", "330802001001001", "演示居民"),
    DemoAccount("volunteer", "volunteer", "330802001001", "演示志愿者"),
    DemoAccount("party_member", "party_member", "330802001001", "演示党员"),
    DemoAccount("grid_worker", "grid_worker", "330802001001001", "演示网格员"),
    DemoAccount("village_cadre", "village_cadre", "330802001001", "演示村社干部"),
    DemoAccount("township_admin", "township_admin", "330802001000", "演示街道管理员"),
    DemoAccount("county_admin", "county_admin", "330802000000", "演示区管理员"),
    DemoAccount("city_admin", "city_admin", "330800000000", "演示市管理员"),
    DemoAccount("system_admin", "system_admin", "330800000000", "演示系统管理员"),
)


@dataclass(frozen=True)
class DemoLogin:
    """A line of the "how to log in" table that ``sanmin demo`` prints."""

    username: str
    role: str
    role_title: str
    unit_code: str
    unit_name: str
    password: str
    created: bool  # made by this run (``False``: it was there already and left as it was)


@dataclass
class DemoReport:
    """What :func:`load_demo` did, and how to log in."""

    units: LoadReport
    archive: ArchiveReport
    tickets: TicketsReport
    logins: list[DemoLogin] = field(default_factory=list)
    plugins: list[str] = field(default_factory=list)  # each plugin's one-line summary

    @property
    def accounts_created(self) -> list[str]:
        return [login.username for login in self.logins if login.created]


def demo_unit_rows() -> list[tuple[str, str]]:
    """Every demo unit as ``(code, name)``, both files in order."""
    return [row for path in DEMO_UNIT_FILES for row in read_units_csv(path)]


def load_demo(
    engine: Engine, registry: PluginRegistry, settings: Settings | None = None
) -> DemoReport:
    """Load the demo units, settings, accounts, archive and tickets; a re-run changes nothing.

    An existing demo account is left as it is (its password, active flag and other roles
    included); only a missing demo role is granted again. The archive is written once
    (:func:`core.demo.archive.load_archive`): once there, it is left as it is. ID numbers
    are encrypted under ``settings.archive_key`` (``SANMIN_ARCHIVE_KEY``; by default
    ``Settings()`` from the environment), else the key kept in the database, as the
    application does.
    """
    catalog = build_catalog(registry)  # plugins' demo accounts may hold their own roles
    accounts = list(DEMO_ACCOUNTS)
    for plugin_accounts in collect(registry, "demo_accounts", DemoAccount).values():
        accounts.extend(plugin_accounts)
    with Session(engine) as session:
        units = load_units(session, demo_unit_rows())
        if units.created or units.updated:
            bump_config_version(session)
        for plugin, unit_code, enabled in DEMO_SETTINGS:
            if plugin in registry.plugins:
                set_plugin_setting(
                    session,
                    registry,
                    plugin=plugin,
                    unit_code=unit_code,
                    enabled=enabled,
                    actor=DEMO_ACTOR,
                )
        logins = [_ensure_account(session, catalog, demo) for demo in accounts]
        session.commit()
    settings = settings or Settings()
    cipher = ArchiveCipher(archive_secret(engine, settings.archive_key))
    archive = load_archive(engine, cipher, demo_unit_rows())
    link_demo_resident(engine)
    kernel = Kernel(settings, registry, engine)  # the ticket service needs types and scopes
    try:
        tickets = load_tickets(kernel)
        asyncio.run(run_startup_hooks(kernel))  # as the app starts: form subjects and the like
        plugins = _load_plugin_demos(registry, kernel)
    finally:
        kernel.dispose()
    return DemoReport(units, archive, tickets, logins, plugins)


def link_demo_resident(engine: Engine) -> int | None:
    """The demo resident is a verified resident (实名核验): its account is linked to the head
    of the first household of its grid, as if they had verified, so that the demo shows what
    a verified resident sees. Left alone once linked; returns the person's id."""
    demo = next(a for a in DEMO_ACCOUNTS if a.role == "resident")
    with Session(engine) as session:
        account = session.exec(select(Account).where(Account.username == demo.username)).first()
        if account is None or account.person_id is not None:
            return account.person_id if account else None
        head = session.exec(
            select(ArchivePerson)
            .join(ArchiveHousehold, col(ArchiveHousehold.id) == col(ArchivePerson.household_id))
            .where(
                col(ArchiveHousehold.unit_code) == demo.unit_code, ArchivePerson.relation == "head"
            )
            .order_by(col(ArchiveHousehold.number))
        ).first()
        if head is None:
            return None
        account.person_id, account.person_verified_at = head.id, utcnow()
        session.add(account)
        session.commit()
        return head.id


def _load_plugin_demos(registry: PluginRegistry, kernel: Kernel) -> list[str]:
    """Each plugin's ``load_demo``, in dependency order; a failure names its plugin."""
    impls = {impl.plugin_name: impl for impl in registry.pm.hook.load_demo.get_hookimpls()}
    summaries = []
    for name in registry.dependency_order():
        if name not in impls:
            continue
        try:
            summary = call_impl(impls[name], {"kernel": kernel})
        except Exception as exc:
            raise RuntimeError(f"plugin {name}: demo data failed: {exc}") from exc
        if summary:
            summaries.append(str(summary))
    return summaries


@functools.cache
def demo_password_hash() -> str:
    """One Argon2 hash of the (public) demo password, shared by every demo account."""
    return hash_password(DEMO_PASSWORD)


def _ensure_account(session: Session, catalog: AccessCatalog, demo: DemoAccount) -> DemoLogin:
    account = session.exec(select(Account).where(Account.username == demo.username)).first()
    created = account is None
    if account is None:
        create_account(
            session,
            catalog,
            username=demo.username,
            password=DEMO_PASSWORD,
            roles=[(demo.role, demo.unit_code)],
            by=DEMO_ACTOR,
            display_name=demo.display_name,
            password_hash=demo_password_hash(),
        )
    else:
        grant_role(
            session, catalog, account, role=demo.role, unit_code=demo.unit_code, by=DEMO_ACTOR
        )
    return DemoLogin(
        username=demo.username,
        role=demo.role,
        role_title=catalog.roles[demo.role].title,
        unit_code=demo.unit_code,
        unit_name=get_unit(session, demo.unit_code).name,
        password=DEMO_PASSWORD,
        created=created,
    )
