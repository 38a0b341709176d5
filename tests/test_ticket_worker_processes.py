"""Two real ``sanmin worker`` processes sweeping the same overdue tickets: each is escalated
exactly once (issue 6: "two workers never escalate one ticket twice").

The tickets were submitted two days ago at a grid, so every one is overdue; the workers'
sweeper escalates each to its village, where the response clock restarts from now and the
ticket is no longer overdue. A second escalation of the same ticket would show as a second
``escalate`` row in its history. The deadline only guards against a hang; nothing is timed.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session

from core.db.types import utcnow
from core.identity.access import Actor, role_at
from core.identity.models import Account
from core.settings import Settings
from core.tickets.service import TicketIn, create_ticket
from core.units.models import Unit
from core.web.app import create_app
from tests.servers import child_env, sanmin_command

HANG_GUARD_SECONDS = 90.0
TICKETS = 40
GRIDS = ("330802001001001", "330802001002001", "330802002001001")


def submit_overdue(database_url: str) -> list[int]:
    """Migrate, load the units and submit ``TICKETS`` tickets two days ago."""
    app = create_app(Settings(database_url=database_url, auto_migrate=True))
    kernel = app.state.kernel
    try:
        with Session(kernel.engine, expire_on_commit=False) as session:
            for code in ("330000000000", "330800000000", "330802000000"):
                session.add(Unit.build(code, f"单位{code}"))
                session.flush()
            for grid in GRIDS:
                for code in (grid[:9] + "000", grid[:12], grid):
                    if session.get(Unit, code) is None:
                        session.add(Unit.build(code, f"单位{code}"))
                        session.flush()
            account = Account(username="resident", password_hash="x")
            session.add(account)
            session.commit()
        past = utcnow() - timedelta(days=2)
        ids = []
        for n in range(TICKETS):
            grid = GRIDS[n % len(GRIDS)]
            resident = Actor("account", account.id, "resident", (role_at("resident", grid),))
            body = TicketIn(
                type="public_repair",
                unit_code=grid,
                title=f"路灯不亮 {n}",
                description="路灯坏了",
                extra={"facility": "路灯"},
            )
            with Session(kernel.engine, expire_on_commit=False) as session:
                ticket, _ = create_ticket(session, kernel, resident, body, now=past)
                ids.append(ticket.id)
        return ids
    finally:
        kernel.dispose()


def escalations(database_url: str) -> Counter[int]:
    """How many ``escalate`` steps each ticket's history holds."""
    app = create_app(Settings(database_url=database_url))
    try:
        with app.state.kernel.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT t.id FROM ticket t JOIN workflow_history h "
                    "ON h.instance_id = t.instance_id WHERE h.transition = 'escalate'"
                )
            ).scalars()
            return Counter(rows)
    finally:
        app.state.kernel.dispose()


def test_two_workers_escalate_each_overdue_ticket_once(
    sanmin_database_url: str, tmp_path: Path
) -> None:
    ids = submit_overdue(sanmin_database_url)
    env = child_env(sanmin_database_url, tmp_path)
    env["SANMIN_LOAD_PLUGINS"] = ""
    workers = []
    for i in (1, 2):
        with (tmp_path / f"w{i}.out").open("wb") as out, (tmp_path / f"w{i}.err").open("wb") as err:
            workers.append(
                subprocess.Popen(
                    [*sanmin_command(), "worker", "--interval", "0.05"],
                    env=env,
                    cwd=tmp_path,
                    stdout=out,
                    stderr=err,
                )
            )
    try:
        deadline = time.monotonic() + HANG_GUARD_SECONDS
        while len(escalations(sanmin_database_url)) < len(ids):
            logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("w*"))
            assert all(w.poll() is None for w in workers), f"a worker exited early\n{logs}"
            assert time.monotonic() < deadline, f"not all escalated in time\n{logs}"
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.terminate()
        codes = [worker.wait(timeout=30) for worker in workers]
    # a worker still starting when the other finished the work dies of the signal itself,
    # before its handler is installed: both are clean ends
    assert set(codes) <= {0, -signal.SIGTERM}, codes
    counts = escalations(sanmin_database_url)
    assert set(counts) == set(ids)
    assert set(counts.values()) == {1}, {t: n for t, n in counts.items() if n > 1}
