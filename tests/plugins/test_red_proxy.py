"""红色代办 (red_proxy): the 四单制 through the order service — the four steps and the 公示,
退单, 撤单 and 待补材料, deadlines against a fixed clock, who may take which step, and the
metrics on a small fixture. Every test runs on SQLite and on PostgreSQL.

The helpers here (``Town``, ``place``, ``step``) are shared with the other
``test_red_proxy_*`` modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from core import Actor, WorkflowError, metric_value, role_at
from core.identity.models import Account
from core.testing import Sanmin
from plugins.red_proxy import catalogue, paperwork, publication, roster, service, views
from plugins.red_proxy.errors import ProxyError
from plugins.red_proxy.models import Order

PLUGIN = "red_proxy"
COUNTY = "330802000000"
TOWNSHIP = "330802001000"
VILLAGE = "330802001001"
GRID = "330802001001001"
OTHER_GRID = "330802001001002"
OTHER_VILLAGE = "330802001002"
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # a Friday, 10:00 in China
CERTIFICATE = "户籍证明开具"  # 2 working days, needs a 委托书
PENSION_CHECK = "养老保险待遇资格认证"  # 3 working days, no 委托书


@pytest.fixture
def sanmin_plugins() -> list[str]:
    return [PLUGIN]


@dataclass
class Person:
    """An account as the services see it (``actor``) and as the API does (``client``)."""

    actor: Actor
    client: TestClient


def person(sanmin: Sanmin, role: str, unit: str, name: str, display: str = "") -> Person:
    """A new account ``name`` holding ``role`` at ``unit``, with a bearer token."""
    token = sanmin.token_for(role, unit, name)
    with sanmin.session() as session:
        account = session.exec(select(Account).where(col(Account.username) == name)).one()
        account.display_name = display
        session.add(account)
    client = TestClient(sanmin.app, headers={"Authorization": f"Bearer {token}"})
    actor = Actor("account", account.id, name, (role_at(role, unit),), display_name=display)
    return Person(actor, client)


@dataclass
class Town:
    """府山街道 with the plugin on, the common catalogue, and the cast of the 四单制."""

    sanmin: Sanmin
    resident: Person
    agent: Person
    secretary: Person
    items: dict[str, int]

    @property
    def kernel(self):  # type: ignore[no-untyped-def]
        return self.sanmin.kernel


def open_town(sanmin: Sanmin, township: str = TOWNSHIP, prefix: str = "") -> Town:
    """The plugin on in ``township`` (its first village and grid created), the catalogue
    loaded, a resident of the first grid, and an agent (on duty) and a secretary of the
    first village."""
    village, grid = township[:9] + "001", township[:9] + "001001"
    sanmin.unit(grid)
    sanmin.enable(PLUGIN, township)
    sanmin.kernel.workflows.clock = lambda: NOW
    admin = sanmin.actor("township_admin", township)
    with sanmin.session() as session:
        catalogue.load_defaults(session, sanmin.kernel, admin, township)
        items = {i.name: i.id for i in catalogue.list_items(session, township)}
    agent = person(sanmin, "red_proxy_agent", village, f"{prefix}agent", "王红梅")
    with sanmin.session() as session:
        roster.sign(session, agent.actor, township, on_duty=True, phone="05708881234")
    return Town(
        sanmin=sanmin,
        resident=person(sanmin, "resident", grid, f"{prefix}resident", "张三丰"),
        agent=agent,
        secretary=person(sanmin, "red_proxy_secretary", village, f"{prefix}secretary", "李书记"),
        items=items,  # type: ignore[arg-type]
    )


@pytest.fixture
def town(sanmin: Sanmin) -> Town:
    return open_town(sanmin)


def place(
    town: Town,
    actor: Actor | None = None,
    item: str = CERTIFICATE,
    unit: str = GRID,
    at: datetime = NOW,
    **changes: Any,
) -> Order:
    """An order placed through the service (by the town's resident unless told)."""
    body = service.OrderIn(
        **{
            "item_id": town.items[item],
            "requester_name": "张三丰",
            "requester_phone": "13812345678",
            **changes,
        }
    )
    with Session(town.sanmin.engine, expire_on_commit=False) as session:
        order, created = service.place_order(
            session, town.kernel, actor or town.resident.actor, unit, body, now=at
        )
    assert created
    return order


def step(
    town: Town, actor: Actor, order: Order, name: str, at: datetime = NOW, **inputs: Any
) -> Order:
    """Take a step as ``actor`` with the order's current version; commits."""
    with Session(town.sanmin.engine, expire_on_commit=False) as session:
        current = service.get_order(session, town.kernel, actor, order.id)  # type: ignore[arg-type]
        moved = service.transition_order(
            session, town.kernel, actor, current, name, current.version, inputs, now=at
        )
        session.commit()
        return moved


def authorise(town: Town, order: Order, at: datetime = NOW) -> None:
    with Session(town.sanmin.engine, expire_on_commit=False) as session:
        current = service.get_order(session, town.kernel, town.agent.actor, order.id)  # type: ignore[arg-type]
        body = paperwork.AuthorizationIn(
            principal="张三丰",
            powers="代为递交材料、领取证明",
            signed_on=at.date(),
            valid_until=date(2027, 2, 27),
            sign_method="手写签名",
        )
        paperwork.record_authorization(
            session, town.kernel, town.agent.actor, current, body, now=at
        )
        session.commit()


def dispatch(town: Town, order: Order, at: datetime = NOW) -> Order:
    return step(town, town.secretary.actor, order, "dispatch", at, assignee=town.agent.actor.name)


def refused(town: Town, actor: Actor, order: Order, name: str, **inputs: Any) -> ProxyError:
    """The refusal of a step (nothing is written)."""
    with pytest.raises((ProxyError, WorkflowError)) as caught:
        step(town, actor, order, name, **inputs)
    return caught.value  # type: ignore[return-value]


def reread(town: Town, order: Order) -> Order:
    with Session(town.sanmin.engine) as session:
        found = session.get(Order, order.id)
        assert found is not None
        return found


# -- the four steps ------------------------------------------------------------------------


def test_an_order_passes_the_four_steps_and_is_published_masked(town: Town) -> None:
    order = place(town)  # ① 群众点单
    assert (order.state, order.requester_account, order.on_behalf) == ("ordered", "resident", False)
    assert order.due_at == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 派单: 1 working day

    order = dispatch(town, order, NOW + timedelta(hours=1))  # ② 支部派单
    assert (order.state, order.assignee, order.assignee_name) == ("dispatched", "agent", "王红梅")

    order = step(town, town.agent.actor, order, "take", NOW + timedelta(hours=2))  # ③ 接单
    assert order.state == "in_progress"
    # 2 working days from Friday: Monday and Tuesday, due at Tuesday 24:00 in China
    assert order.due_at == order.complete_due_at == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    authorise(town, order)
    with Session(town.sanmin.engine) as session:
        paperwork.record_handover(
            session,
            town.kernel,
            town.agent.actor,
            order,
            paperwork.HandoverIn(
                what="户口簿原件", from_party="张三丰", to_party="王红梅", handed_at=NOW
            ),
            now=NOW + timedelta(hours=3),
        )
        session.commit()
    done_at = NOW + timedelta(days=3)  # Monday
    order = step(
        town, town.agent.actor, order, "finish", done_at, result="证明已开具", delivery="当面送达"
    )  # ③ 办单
    assert (order.state, order.done_on_time, order.hours_taken) == ("done", True, 72.0)

    order = step(town, town.resident.actor, order, "rate", done_at, rating="很满意")  # ④ 评单
    assert (order.state, order.rating, order.satisfaction) == ("rated", 5, "satisfied")

    with Session(town.sanmin.engine) as session:
        board = publication.published(session, town.kernel, GRID)
        history = service.get_order(session, town.kernel, town.secretary.actor, order.id)  # type: ignore[arg-type]
        log = paperwork.handovers_of(session, history)
    assert [(r["id"], r["item"], r["requester"], r["phone"]) for r in board] == [
        (order.id, CERTIFICATE, "张**", "138****5678")
    ]
    assert (board[0]["rating_label"], board[0]["on_time"], board[0]["assignee_name"]) == (
        "很满意",
        True,
        "王红梅",
    )
    assert "张三丰" not in str(board) and "13812345678" not in str(board)
    assert [(h.what, h.from_party, h.to_party, h.handed_at) for h in log] == [
        ("户口簿原件", "张三丰", "王红梅", NOW)
    ]


def test_a_sensitive_item_is_published_without_its_name(town: Town) -> None:
    order = place(town, item="城乡居民医保报销")
    order = dispatch(town, order)
    order = step(town, town.agent.actor, order, "take")
    authorise(town, order)
    step(town, town.agent.actor, order, "finish", result="已报销", delivery="当面送达")
    with Session(town.sanmin.engine) as session:
        board = publication.published(session, town.kernel, VILLAGE)
    assert [(r["item"], r["category_label"]) for r in board] == [(publication.PRIVATE_ITEM, "—")]


def test_only_the_dispatched_party_member_handles_the_order(town: Town) -> None:
    other = person(town.sanmin, "red_proxy_agent", VILLAGE, "other-agent").actor
    order = dispatch(town, place(town))
    assert refused(town, other, order, "take").status_code == 403
    assert refused(town, town.resident.actor, order, "take").status_code == 403
    assert refused(town, town.agent.actor, order, "withdraw", reason="x").status_code == 403
    assert (
        refused(town, town.resident.actor, place(town), "dispatch", assignee="agent").status_code
        == 403
    )
    with Session(town.sanmin.engine) as session:
        roster.sign(session, other, TOWNSHIP, on_duty=False)
        session.commit()
    order = step(town, town.secretary.actor, order, "send_back", reason="改派")
    problem = refused(town, town.secretary.actor, order, "dispatch", assignee="other-agent")
    assert (problem.status_code, str(problem.detail).split(":")[0]) == (422, "inputs.assignee")


def test_finishing_an_item_that_needs_a_letter_of_authorisation_waits_for_it(town: Town) -> None:
    order = step(town, town.agent.actor, dispatch(town, place(town)), "take")
    problem = refused(town, town.agent.actor, order, "finish", result="好", delivery="当面送达")
    assert (problem.status_code, str(problem.detail).split(":")[0]) == (422, "authorization")
    authorise(town, order)
    done = step(town, town.agent.actor, order, "finish", result="好", delivery="当面送达")
    assert done.state == "done"
    no_letter = step(
        town, town.agent.actor, dispatch(town, place(town, item=PENSION_CHECK)), "take"
    )
    finished = step(town, town.agent.actor, no_letter, "finish", result="好", delivery="当面送达")
    assert finished.state == "done"


# -- 退单, 撤单, 待补材料 -------------------------------------------------------------------


def test_send_back_needs_a_reason_and_returns_the_order_to_the_branch(town: Town) -> None:
    order = step(town, town.agent.actor, dispatch(town, place(town)), "take")
    problem = refused(town, town.agent.actor, order, "send_back")
    assert (problem.status_code, str(problem.detail).split(":")[0]) == (422, "inputs.reason")
    order = step(town, town.agent.actor, order, "send_back", reason="本人外出一周，请改派")
    assert (order.state, order.assignee, order.send_backs, order.taken_at) == (
        "ordered",
        None,
        1,
        None,
    )
    assert refused(town, town.agent.actor, order, "take").status_code == 403  # no longer theirs
    order = dispatch(town, order)
    assert (order.state, order.assignee) == ("dispatched", "agent")
    with Session(town.sanmin.engine) as session:
        current = service.get_order(session, town.kernel, town.secretary.actor, order.id)  # type: ignore[arg-type]
        timeline = views.order_detail(session, town.kernel, town.secretary.actor, current, NOW)[
            "timeline"
        ]
    assert [e["label"] for e in timeline] == ["点单", "派单", "接单", "退单", "派单"]
    assert timeline[3]["inputs"] == [
        {"name": "reason", "label": "退单理由", "value": "本人外出一周，请改派"}
    ]


def test_the_requester_withdraws_an_open_order_and_no_one_else_but_the_branch(
    town: Town,
) -> None:
    order = dispatch(town, place(town))
    neighbour = person(town.sanmin, "resident", GRID, "neighbour").actor
    with Session(town.sanmin.engine) as session, pytest.raises(ProxyError) as unseen:
        service.get_order(session, town.kernel, neighbour, order.id)  # type: ignore[arg-type]
    assert unseen.value.status_code == 404  # another resident's order: not even seen
    assert refused(town, town.agent.actor, order, "withdraw", reason="x").status_code == 403
    order = step(town, town.resident.actor, order, "withdraw", reason="家属已自行办理")
    assert (order.state, order.withdrawn_at, order.due_at) == ("withdrawn", NOW, None)
    assert refused(town, town.agent.actor, order, "take").status_code in (403, 409)
    by_branch = step(town, town.secretary.actor, place(town), "withdraw", reason="群众电话撤单")
    assert by_branch.state == "withdrawn"


def test_waiting_for_materials_pauses_and_the_clock_restarts_when_they_arrive(
    town: Town,
) -> None:
    order = step(town, town.agent.actor, dispatch(town, place(town)), "take")
    order = step(town, town.agent.actor, order, "request_materials", missing="户口簿原件")
    assert order.state == "awaiting_materials"
    # the requester has 5 working days: Monday 11-30 to Friday 12-04, until 24:00 in China
    assert order.due_at == datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    problem = refused(town, town.agent.actor, order, "finish", result="x", delivery="当面送达")
    assert problem.status_code == 409  # not while materials are missing
    arrived = NOW + timedelta(days=5)  # Wednesday 12-02, 10:00 in China
    order = step(town, town.agent.actor, order, "resume", arrived, note="材料已收齐")
    assert order.state == "in_progress"
    assert order.due_at == order.complete_due_at == datetime(2026, 12, 4, 16, 0, tzinfo=UTC)


# -- deadlines -----------------------------------------------------------------------------


def overdue_ids(town: Town, at: datetime) -> list[int]:
    with Session(town.sanmin.engine) as session:
        found = service.list_orders(
            session, town.kernel, town.secretary.actor, VILLAGE, overdue_only=True, now=at
        )
    return [o.id for o in found]  # type: ignore[misc]


def test_an_order_is_overdue_after_the_item_time_limit_in_working_days(town: Town) -> None:
    order = step(town, town.agent.actor, dispatch(town, place(town)), "take")
    due = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # Friday + 2 working days
    assert order.due_at == due
    assert overdue_ids(town, due - timedelta(minutes=1)) == []
    assert overdue_ids(town, due + timedelta(minutes=1)) == [order.id]
    summary = views.order_summary(town.kernel, town.secretary.actor, order, due)
    assert summary["overdue"] is False
    later = views.order_summary(
        town.kernel, town.secretary.actor, order, due + timedelta(seconds=1)
    )
    assert later["overdue"] is True


def test_an_order_finished_after_its_deadline_is_not_on_time(town: Town) -> None:
    order = step(town, town.agent.actor, dispatch(town, place(town, item=PENSION_CHECK)), "take")
    late = order.complete_due_at + timedelta(hours=1)  # type: ignore[operator]
    done = step(town, town.agent.actor, order, "finish", late, result="已认证", delivery="当面送达")
    assert (done.done_on_time, done.due_at) == (False, None)


def test_a_stale_version_is_a_conflict(town: Town) -> None:
    order = dispatch(town, place(town))
    with Session(town.sanmin.engine, expire_on_commit=False) as session:
        current = service.get_order(session, town.kernel, town.agent.actor, order.id)  # type: ignore[arg-type]
        with pytest.raises(WorkflowError) as stale:
            service.transition_order(
                session, town.kernel, town.agent.actor, current, "take", order.version - 1
            )
    assert stale.value.status_code == 409
    assert str(stale.value.detail).startswith("version:")
    assert reread(town, order).state == "dispatched"


def test_the_generic_workflow_api_cannot_move_an_order(town: Town) -> None:
    order = dispatch(town, place(town))
    answer = town.agent.client.post(
        f"/api/v1/p/{PLUGIN}/workflows/order/instances/{order.instance_id}/transitions/take",
        json={"version": order.version, "inputs": {}},
    )
    assert answer.status_code == 422, answer.text
    assert "red_proxy" in answer.text
    assert reread(town, order).state == "dispatched"


# -- metrics -------------------------------------------------------------------------------


def test_metrics_on_a_small_fixture_roll_up_to_the_county(sanmin: Sanmin) -> None:
    town = open_town(sanmin)
    other = open_town(sanmin, "330802002000", prefix="b-")
    monday = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in China

    def finished(t: Town, item: str, hours: float, rating: str | None) -> Order:
        order = step(
            t,
            t.agent.actor,
            dispatch(
                t, place(t, item=item, unit=t.resident.actor.roles[0].unit_code, at=monday), monday
            ),
            "take",
            monday,
        )
        if item == CERTIFICATE:
            authorise(t, order, monday)
        order = step(
            t,
            t.agent.actor,
            order,
            "finish",
            monday + timedelta(hours=hours),
            result="办结",
            delivery="当面送达",
        )
        if rating:
            order = step(
                t, t.resident.actor, order, "rate", monday + timedelta(hours=hours), rating=rating
            )
        return order

    finished(town, PENSION_CHECK, 24, "很满意")  # on time (3 working days)
    finished(town, CERTIFICATE, 96, "不满意")  # late: due Wednesday 24:00, done Friday
    finished(town, PENSION_CHECK, 30, None)  # on time, not rated
    withdrawn = place(town, at=monday)
    step(town, town.resident.actor, withdrawn, "withdraw", monday, reason="不需要了")
    place(town, at=monday)  # still open
    finished(other, PENSION_CHECK, 12, "基本满意")

    def value(name: str, unit: str) -> float | None:
        return metric_value(
            sanmin.engine, sanmin.kernel, PLUGIN, name, unit, date(2026, 11, 1), date(2026, 11, 30)
        )

    expected = {
        "orders": 5,
        "valid_orders": 4,
        "done": 3,
        "completion_rate": 75.0,
        "done_on_time": 2,
        "on_time_rate": pytest.approx(200 / 3),
        "hours_taken": 150.0,
        "mean_hours": 50.0,
        "rated": 2,
        "satisfied": 1,
        "satisfaction_rate": 50.0,
    }
    assert {name: value(name, TOWNSHIP) for name in expected} == expected
    county = {
        "orders": 6,
        "done": 4,
        "completion_rate": 80.0,
        "on_time_rate": 75.0,
        "mean_hours": 40.5,
        "satisfaction_rate": pytest.approx(200 / 3),
    }
    assert {name: value(name, COUNTY) for name in county} == county
    answer = sanmin.client.get(
        f"/api/v1/metrics/{PLUGIN}/completion_rate",
        params={"unit": COUNTY, "start": "2026-11-01", "end": "2026-11-30"},
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["title"], answer.json()["value"]) == ("办结率", 80.0)
