"""Ticket types: the six core profiles, and plugins' types through ``register_ticket_types``."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field
from sqlmodel import Session

from core import Deadline, TicketClocks, TicketIn, TicketType, create_ticket, hookimpl
from core.identity.access import Actor, role_at
from core.plugins.registry import PluginRegistry
from core.tickets.service import TicketError, catalog_of, types_at
from core.tickets.types import CORE_TYPES, TicketTypeCatalog
from tests.helpers import manifest


class ErrandFields(BaseModel):
    item: str = Field(title="代办事项", max_length=100)


ERRAND = TicketType(
    code="errand",
    label="代办跑腿",
    description="党员代办证照、缴费等事项",
    normal=TicketClocks(respond=Deadline(hours=4), handle=Deadline(working_days=5)),
    urgent=TicketClocks(respond=Deadline(hours=1), handle=Deadline(working_days=1)),
    fields=ErrandFields,
)


# a practice's own intake: filed by its staff, never offered to residents
INTAKE = TicketType(
    code="errand_intake",
    label="走访代办",
    description="走访中登记的代办事项",
    normal=ERRAND.normal,
    urgent=ERRAND.urgent,
    fields=ErrandFields,
    staff_only=True,
)


class ErrandPlugin:
    PLUGIN = manifest("errands", default_enabled=False)

    @hookimpl
    def register_ticket_types(self):  # type: ignore[no-untyped-def]
        return [ERRAND, INTAKE]


class BadTypes:
    PLUGIN = manifest("bad_types")

    @hookimpl
    def register_ticket_types(self):  # type: ignore[no-untyped-def]
        return [
            TicketType(
                code="public_repair",
                label="重复",
                description="",
                normal=ERRAND.normal,
                urgent=ERRAND.urgent,
            )
        ]


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def sanmin_extra_plugins():  # type: ignore[no-untyped-def]
    return [("errands", ErrandPlugin())]


def test_the_six_core_types_have_sound_profiles() -> None:
    assert [t.label for t in CORE_TYPES] == [
        "公共维修",
        "投诉举报",
        "小区报事",
        "居家维修",
        "法律纠纷",
        "装修上报",
    ]
    for kind in CORE_TYPES:
        assert kind.problems() == [], kind.code
        assert kind.form_fields, kind.code
    complaint = next(t for t in CORE_TYPES if t.code == "complaint")
    assert complaint.confidential and complaint.anonymous


def test_a_type_declared_twice_takes_its_plugin_out() -> None:
    registry = PluginRegistry().load(only=[], extra=[("bad_types", BadTypes())])
    catalog = TicketTypeCatalog.build(registry)
    assert "bad_types" not in registry.plugins or registry.plugins["bad_types"].error
    assert catalog.types["public_repair"].label == "公共维修"


def test_hook_register_ticket_types(sanmin) -> None:  # type: ignore[no-untyped-def]
    on, off = sanmin.township("开启镇"), sanmin.township("关闭镇")
    sanmin.enable("errands", on)
    grid_on, grid_off = sanmin.unit(on.code[:9] + "001001"), sanmin.unit(off.code[:9] + "001001")
    assert "errand" in {t.code for t in types_at(sanmin.kernel, grid_on.code)}
    assert "errand" not in {t.code for t in types_at(sanmin.kernel, grid_off.code)}
    assert catalog_of(sanmin.kernel).owners["errand"] == "errands"
    account = sanmin.account("resident", grid_on.code)
    resident = Actor("account", account.id, account.username, (role_at("resident", grid_on.code),))
    body = TicketIn(
        type="errand",
        unit_code=grid_on.code,
        title="代办社保卡",
        description="行动不便",
        extra={"item": "社保卡补办"},
    )
    with Session(sanmin.engine, expire_on_commit=False) as session:
        ticket, created = create_ticket(session, sanmin.kernel, resident, body)
        assert created and ticket.extra == {"item": "社保卡补办"}
        elsewhere = body.model_copy(update={"unit_code": grid_off.code})
        other = sanmin.account("resident", grid_off.code)
        there = Actor("account", other.id, other.username, (role_at("resident", grid_off.code),))
        with pytest.raises(TicketError) as refused:
            create_ticket(session, sanmin.kernel, there, elsewhere)
        assert refused.value.detail.startswith("type:")


def test_a_staff_only_type_is_offered_to_staff_and_system_actors_only(sanmin) -> None:  # type: ignore[no-untyped-def]
    town = sanmin.township("开启镇")
    sanmin.enable("errands", town)
    grid = sanmin.unit(town.code[:9] + "001001").code
    worker, resident = sanmin.actor("grid_worker", grid), sanmin.actor("resident", grid)
    system = Actor("system", 0, "errands", (role_at("volunteer", grid),))

    def offered(actor: Actor | None) -> set[str]:
        return {t.code for t in types_at(sanmin.kernel, grid, actor)} & {"errand", "errand_intake"}

    assert offered(worker) == offered(system) == {"errand", "errand_intake"}
    assert offered(resident) == offered(None) == {"errand"}
    body = TicketIn(
        type="errand_intake",
        unit_code=grid,
        title="代办",
        description="走访中登记",
        extra={"item": "x"},
    )
    with Session(sanmin.engine, expire_on_commit=False) as session:
        with pytest.raises(TicketError) as refused:
            create_ticket(session, sanmin.kernel, resident, body)
        assert refused.value.detail.startswith("type:")
        ticket, created = create_ticket(session, sanmin.kernel, worker, body)
        assert created and ticket.type == "errand_intake"
    types = sanmin.client_as("resident", grid).get("/api/v1/tickets/types", params={"unit": grid})
    assert "errand_intake" not in {t["code"] for t in types.json()}
    page = sanmin.client_as("resident", grid).get(f"/tickets/new/errand_intake?unit={grid}")
    assert page.status_code == 404
