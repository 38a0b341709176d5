"""Extension fields: plugins declare validated fields on persons and households, checked at
start-up, stored namespaced by plugin, written through the archive API (422 naming
``extra.<plugin>.<field>``, merges per plugin, versions, audit) and shown only where the
plugin is enabled. Storage tests run on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from core import ArchiveField, hookimpl
from core.archives.extensions import ArchiveFieldCatalog, ArchiveFieldError, check_fields
from core.audit.models import AuditEntry
from core.plugins.registry import PluginRegistry
from tests.helpers import manifest

TOWN_ON, TOWN_OFF = "330802001000", "330802002000"
GRID_ON, GRID_OFF = "330802001001001", "330802002001001"
API = "/api/v1/archives"

LEASE_FIELDS = [
    ArchiveField(
        "household", "tenure", "居住方式", kind="choice", choices=("自有", "租住"), required=True
    ),
    ArchiveField("household", "rent", "月租金（元）", kind="integer", minimum=0),
    ArchiveField("household", "note", "租住备注", max_length=20, help="如合同到期日"),
    ArchiveField("person", "occupation", "职业"),
    ArchiveField("person", "volunteer", "是否志愿者", kind="boolean"),
    ArchiveField("person", "joined", "登记日期", kind="date"),
]


class Lease:
    """A township plugin with extension fields on households and persons."""

    PLUGIN = manifest("lease", title="租住管理")

    @hookimpl
    def register_archive_fields(self) -> list[ArchiveField]:
        return LEASE_FIELDS


class Broken:
    """A plugin declaring one field name twice: taken out at start-up."""

    PLUGIN = manifest("broken_fields")

    @hookimpl
    def register_archive_fields(self) -> list[ArchiveField]:
        return [ArchiveField("person", "seat", "座位"), ArchiveField("person", "seat", "座位")]


# -- declarations, checked without a database -------------------------------------------------


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        (ArchiveField("person", "Bad-Name", "标题"), "snake_case"),
        (ArchiveField("building", "seat", "座位"), "applies_to"),  # type: ignore[arg-type]
        (ArchiveField("person", "seat", " "), "title"),
        (ArchiveField("person", "seat", "座位", kind="json"), "kind"),  # type: ignore[arg-type]
        (ArchiveField("person", "seat", "座位", kind="choice"), "choices"),
        (ArchiveField("person", "seat", "座位", kind="choice", choices=("甲", "甲")), "twice"),
        (ArchiveField("person", "seat", "座位", choices=("甲",)), "only a choice"),
        (ArchiveField("person", "seat", "座位", kind="integer", max_length=3), "max_length"),
        (ArchiveField("person", "seat", "座位", max_length=5000), "max_length"),
        (ArchiveField("person", "seat", "座位", minimum=1), "minimum"),
        (ArchiveField("person", "seat", "座位", kind="number", minimum=5, maximum=1), "above"),
    ],
)
def test_a_bad_declaration_is_refused_naming_the_field(field: ArchiveField, reason: str) -> None:
    with pytest.raises(ArchiveFieldError, match=reason) as caught:
        check_fields("lease", [field])
    assert "plugin 'lease' field" in str(caught.value)


def test_the_same_name_may_extend_persons_and_households_but_not_one_twice() -> None:
    check_fields(
        "lease", [ArchiveField("person", "seat", "座位"), ArchiveField("household", "seat", "座位")]
    )
    with pytest.raises(ArchiveFieldError, match=r"person\.seat: declared twice"):
        check_fields("lease", [ArchiveField("person", "seat", "座位")] * 2)


def test_a_plugin_with_a_bad_declaration_is_taken_out_and_the_others_start() -> None:
    registry = PluginRegistry().load(
        discover=False, extra=[("lease", Lease()), ("broken_fields", Broken())]
    )
    catalog = ArchiveFieldCatalog.build(registry)
    assert list(catalog.fields("lease", "household")) == ["tenure", "rent", "note"]
    assert catalog.plugins("person") == ["lease"]
    assert "broken_fields" not in registry.plugins
    error = registry.plugins_failed["broken_fields"].error
    assert error is not None and error.startswith("register_archive_fields:")
    assert "declared twice" in error


# -- through the API, on both databases --------------------------------------------------------


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def sanmin_extra_plugins():  # type: ignore[no-untyped-def]
    return [("lease", Lease()), ("broken_fields", Broken())]


@pytest.fixture
def world(sanmin):  # type: ignore[no-untyped-def]
    """Two townships with a grid each; ``lease`` on in the first only."""
    sanmin.unit(GRID_ON)
    sanmin.unit(GRID_OFF)
    sanmin.enable("lease", TOWN_ON)
    return sanmin


def created(answer) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def errors_of(answer) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The 422's messages by location, as ``extra.<plugin>.<field>``."""
    assert answer.status_code == 422, answer.text
    return {".".join(map(str, e["loc"][1:])): e["msg"] for e in answer.json()["detail"]}


def household(number: str, grid: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"number": number, "address": "柯城区", "unit_code": grid}
    return body | ({"extra": extra} if extra is not None else {})


def test_a_bad_plugin_is_out_when_the_app_starts(world) -> None:  # type: ignore[no-untyped-def]
    failed = world.kernel.registry.plugins_failed
    assert "broken_fields" in failed and "declared twice" in (failed["broken_fields"].error or "")
    assert "lease" in world.kernel.registry.plugins


def test_values_are_validated_and_each_error_names_its_field(world) -> None:  # type: ignore[no-untyped-def]
    admin = world.client
    url = f"{API}/households"
    bad = admin.post(
        url,
        json=household(
            "E001",
            GRID_ON,
            {
                "lease": {"tenure": "借住", "rent": -1, "note": "x" * 21, "colour": "红"},
                "nope": {"seat": 1},
            },
        ),
    )
    errors = errors_of(bad)
    assert set(errors) == {
        "extra.lease.tenure",
        "extra.lease.rent",
        "extra.lease.note",
        "extra.lease.colour",
        "extra.nope.seat",
    }
    assert errors["extra.lease.tenure"].startswith("请从选项中选择")
    assert errors["extra.lease.colour"].startswith("没有此扩展字段")
    # a required field, once the plugin's values are written
    missing = admin.post(url, json=household("E001", GRID_ON, {"lease": {"rent": 800}}))
    assert errors_of(missing)["extra.lease.tenure"].startswith("此项必填")
    # a plugin switched off in the record's township cannot be written there
    off = admin.post(url, json=household("E002", GRID_OFF, {"lease": {"tenure": "自有"}}))
    assert errors_of(off)["extra.lease.tenure"].startswith("该插件未在本乡镇启用")
    # nothing was written by the refused requests; a record without the namespace is fine
    with world.session() as session:
        assert (
            session.exec(select(AuditEntry).where(AuditEntry.action.startswith("archive."))).all()
            == []
        )
    assert created(admin.post(url, json=household("E002", GRID_OFF)))["extra"] == {}


def test_values_are_stored_merged_per_plugin_versioned_and_audited(world) -> None:  # type: ignore[no-untyped-def]
    worker = world.client_as("grid_worker", GRID_ON, "lease-worker")
    home = created(
        worker.post(
            f"{API}/households",
            json=household(
                "E010", GRID_ON, {"lease": {"tenure": "租住", "rent": "1200", "note": " 年底到期 "}}
            ),
        )
    )
    assert home["extra"] == {"lease": {"tenure": "租住", "rent": 1200, "note": "年底到期"}}
    url = f"{API}/households/{home['id']}"
    # a patch touches only the fields it names; null removes one
    patched = created(
        worker.patch(url, json={"version": 1, "extra": {"lease": {"rent": 1500, "note": None}}})
    )
    assert patched["extra"] == {"lease": {"tenure": "租住", "rent": 1500}}
    assert patched["version"] == 2
    stale = worker.patch(url, json={"version": 1, "extra": {"lease": {"rent": 1}}})
    assert stale.status_code == 409
    # removing a required field is refused, naming it
    assert "extra.lease.tenure" in errors_of(
        worker.patch(url, json={"version": 2, "extra": {"lease": {"tenure": None}}})
    )
    # a core-field patch leaves the values alone
    moved = created(worker.patch(url, json={"version": 2, "address": "柯城区新址"}))
    assert moved["extra"] == patched["extra"] and moved["version"] == 3

    person = created(
        worker.post(
            f"{API}/persons",
            json={
                "name": "张租",
                "household_id": home["id"],
                "relation": "head",
                "gender": "male",
                "birth_date": "1980-05-01",
                "extra": {
                    "lease": {"occupation": "教师", "volunteer": True, "joined": "2025-03-01"}
                },
            },
        )
    )
    assert person["extra"] == {
        "lease": {"occupation": "教师", "volunteer": True, "joined": "2025-03-01"}
    }
    person_url = f"{API}/persons/{person['id']}"
    bad_date = worker.patch(person_url, json={"version": 1, "extra": {"lease": {"joined": "去年"}}})
    assert set(errors_of(bad_date)) == {"extra.lease.joined"}
    changed = created(
        worker.patch(person_url, json={"version": 1, "extra": {"lease": {"volunteer": False}}})
    )
    assert changed["extra"]["lease"]["volunteer"] is False
    assert created(worker.get(person_url))["extra"] == changed["extra"]

    with world.session() as session:
        entries = session.exec(
            select(AuditEntry)
            .where(AuditEntry.action.startswith("archive."))
            .order_by(AuditEntry.id)
        ).all()
    assert [e.action for e in entries] == [
        "archive.household.create",
        "archive.household.update",
        "archive.household.update",
        "archive.person.create",
        "archive.person.update",
    ]
    assert entries[0].after["extra"] == {"lease": home["extra"]["lease"]}
    assert (entries[1].before["extra"], entries[1].after["extra"]) == (
        {"lease": {"tenure": "租住", "rent": 1200, "note": "年底到期"}},
        {"lease": {"tenure": "租住", "rent": 1500}},
    )
    assert "extra" not in entries[2].after  # the address change wrote no extension values
    assert entries[4].after["extra"]["lease"]["volunteer"] is False


def test_hook_register_archive_fields(world) -> None:  # type: ignore[no-untyped-def]
    """The declared fields are shown, with their titles, only where the plugin is on."""
    admin = world.client
    home = created(
        admin.post(
            f"{API}/households", json=household("E020", GRID_ON, {"lease": {"tenure": "自有"}})
        )
    )
    member = {"name": "李自", "household_id": home["id"], "relation": "head", "gender": "female"}
    created(
        admin.post(
            f"{API}/persons",
            json=member | {"birth_date": "1975-02-03", "extra": {"lease": {"occupation": "农民"}}},
        )
    )
    url = f"{API}/households/{home['id']}"
    shown = created(admin.get(url))
    assert shown["extra"] == {"lease": {"tenure": "自有"}}
    assert shown["members"][0]["extra"] == {"lease": {"occupation": "农民"}}
    titles = {f["title"]: f["text"] for f in shown["extensions"][0]["fields"]}
    assert shown["extensions"][0]["title"] == "租住管理"
    assert titles == {"居住方式": "自有", "月租金（元）": "—", "租住备注": "—"}
    page = admin.get(f"/archives/households/{home['id']}").text
    assert "租住管理" in page and "居住方式：自有" in page and "职业：农民" in page

    world.disable("lease", TOWN_ON)
    hidden = created(admin.get(url))
    assert hidden["extra"] == {} and hidden["extensions"] == []
    assert hidden["members"][0]["extra"] == {} and hidden["members"][0]["extensions"] == []
    assert "居住方式" not in admin.get(f"/archives/households/{home['id']}").text
    refused = admin.patch(url, json={"version": 1, "extra": {"lease": {"rent": 5}}})
    assert set(errors_of(refused)) == {"extra.lease.rent"}

    world.enable("lease", TOWN_ON)  # stored values were kept while it was off
    assert created(admin.get(url))["extra"] == {"lease": {"tenure": "自有"}}
