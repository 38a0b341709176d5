"""Plugins react to tickets after commit (only where they are enabled), a failing reaction
leaves the ticket committed and is retried, and a guard refuses a step with a message the
user sees (issue 6, item 6)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from core import hookimpl, utcnow
from core.events.models import EventDelivery, OutboxEvent
from core.tickets.models import Ticket
from tests.helpers import manifest

BODY = {
    "type": "public_repair",
    "title": "路灯不亮",
    "description": "3 号楼前路灯坏了一周",
    "extra": {"facility": "路灯"},
}


class Watcher:
    """Records ticket events; fails ``fail`` times first; refuses what ``refusal`` says."""

    PLUGIN = manifest("watcher", default_enabled=False)

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.fail = 0
        self.refusal: str | None = None

    @hookimpl
    def on_event(self, event, kernel):  # type: ignore[no-untyped-def]
        if not event.name.startswith("ticket."):
            return
        self.seen.append((event.name, event.township_code))
        if self.fail:
            self.fail -= 1
            raise RuntimeError("the watcher broke")

    @hookimpl
    def workflow_guard(self, instance, transition, actor, inputs):  # type: ignore[no-untyped-def]
        return self.refusal if transition == "accept" else None


class Clock:
    """The worker's time: from now on (events are stamped with the real time)."""

    def __init__(self) -> None:
        self.now = utcnow() + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def sanmin_extra_plugins():  # type: ignore[no-untyped-def]
    return [("watcher", Watcher())]


@pytest.fixture
def towns(sanmin):  # type: ignore[no-untyped-def]
    on, off = sanmin.township("开启镇"), sanmin.township("关闭镇")
    sanmin.enable("watcher", on)
    grids = [sanmin.unit(t.code[:9] + "001001").code for t in (on, off)]
    return sanmin, on.code, grids


def created_delivery(session: Session) -> EventDelivery:
    """The watcher's delivery of the one ``ticket.created`` event of the enabled township."""
    return session.exec(
        select(EventDelivery)
        .join(OutboxEvent, col(OutboxEvent.id) == col(EventDelivery.event_id))
        .where(col(EventDelivery.plugin) == "watcher", col(OutboxEvent.name) == "ticket.created")
    ).one()


def submit(sanmin, grid: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    answer = sanmin.client_as("resident", grid).post(
        "/api/v1/tickets", json={**BODY, "unit_code": grid}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_plugins_enabled_in_the_township_react_and_a_failure_is_retried(towns) -> None:  # type: ignore[no-untyped-def]
    sanmin, township, (grid_on, grid_off) = towns
    watcher = sanmin.kernel.pm.get_plugin("watcher")
    watcher.fail = 1
    ticket = submit(sanmin, grid_on)
    submit(sanmin, grid_off)
    clock = Clock()
    worker = sanmin.worker(clock=clock)
    worker.run_once()  # the reaction fails …
    assert watcher.seen == [("ticket.created", township)]
    with Session(sanmin.engine) as session:
        assert session.get(Ticket, ticket["id"]).state == "submitted"  # … the ticket stays
        delivery = created_delivery(session)
        assert delivery.done_at is None and delivery.attempts == 1
    clock.now += timedelta(minutes=5)
    worker.run_once()  # … and is retried
    assert watcher.seen == [("ticket.created", township)] * 2  # never the other township's
    with Session(sanmin.engine) as session:
        delivery = created_delivery(session)
        assert delivery.done_at is not None and delivery.attempts == 2


def test_a_guard_refuses_a_step_with_its_message(towns) -> None:  # type: ignore[no-untyped-def]
    sanmin, _, (grid_on, _) = towns
    watcher = sanmin.kernel.pm.get_plugin("watcher")
    watcher.refusal = "该网格本周已暂停受理，请联系村社"
    ticket = submit(sanmin, grid_on)
    worker = sanmin.client_as("grid_worker", grid_on)
    url = f"/api/v1/tickets/{ticket['id']}/transitions/accept"
    refused = worker.post(url, json={"version": ticket["version"], "inputs": {}})
    assert refused.status_code == 422 and watcher.refusal in refused.text
    assert worker.get(f"/api/v1/tickets/{ticket['id']}").json()["state"] == "submitted"
    watcher.refusal = None
    accepted = worker.post(url, json={"version": ticket["version"], "inputs": {}})
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
