"""The household list's filters and search: unit, address, and what one member matches
(name prefix, ID number, phone, special-group tag, care level, age range). Every test runs
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

from core.archives.listing import NAME_PREFIX_INDEX

API = "/api/v1/archives"
CARE = f"{API}/care"
GRID_A, GRID_B = "330802001001001", "330802001001002"
MAN = "330802199001011232"  # born 1990-01-01, male


def born(age: int) -> str:
    """A birth date giving exactly ``age`` today (1 January never lies ahead)."""
    return date(date.today().year - age, 1, 1).isoformat()


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


def create(client, kind: str, body: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    answer = client.post(f"{API}/{kind}", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def household(sanmin, number: str, grid: str, address: str, *members: dict[str, Any]) -> list[int]:  # type: ignore[no-untyped-def]
    """A household with ``members`` (name, age and anything else of a person); their ids."""
    home = create(
        sanmin.client, "households", {"number": number, "address": address, "unit_code": grid}
    )
    ids = []
    for n, member in enumerate(members):
        body = {"relation": "head" if n == 0 else "child", "gender": "female"} | member
        if "age" in body:
            body["birth_date"] = born(body.pop("age"))
        ids.append(create(sanmin.client, "persons", {"household_id": home["id"], **body})["id"])
    return ids


@pytest.fixture
def village(sanmin):  # type: ignore[no-untyped-def]
    """Four households in two grids:

    * H1 (grid A, 府山街道 1 号): 王芳 82, tagged 独居老人, assessed red; 王小明 8.
    * H2 (grid A, 府山街道 2 号): 李强, with ID number MAN and a phone.
    * H3 (grid B, 荷花街道 3 号): 王丽 30 tagged 独居老人 (not an elder); 张伟 85.
    * H4 (grid B, 荷花街道 4 号): 赵敏 70, living alone, assessed yellow.
    """
    sanmin.unit(GRID_A)
    sanmin.unit(GRID_B)
    fang, _ = household(
        sanmin,
        "H1",
        GRID_A,
        "府山街道 1 号",
        {"name": "王芳", "age": 82},
        {"name": "王小明", "age": 8},
    )
    household(
        sanmin, "H2", GRID_A, "府山街道 2 号",
        {"name": "李强", "id_number": MAN, "phone": "13812345678", "gender": "male"},
    )  # fmt: skip
    li, _ = household(
        sanmin,
        "H3",
        GRID_B,
        "荷花街道 3 号",
        {"name": "王丽", "age": 30},
        {"name": "张伟", "age": 85},
    )
    (zhao,) = household(sanmin, "H4", GRID_B, "荷花街道 4 号", {"name": "赵敏", "age": 70})
    for pid in (fang, li):
        tagged = sanmin.client.post(
            f"{CARE}/persons/{pid}/tags", json={"tag": "living_alone", "reason": "子女在外地"}
        )
        assert tagged.status_code in (200, 201), tagged.text
    profile = {"children": "away", "adl": "self", "risk": False, "econ": "general"}
    for pid, children in ((fang, "none"), (zhao, "same_city")):
        put = sanmin.client.put(
            f"{CARE}/persons/{pid}/profile", json=profile | {"children": children}
        )
        assert put.status_code == 200, put.text
    return sanmin


def numbers(client, **params: Any) -> list[str]:  # type: ignore[no-untyped-def]
    answer = client.get(f"{API}/households", params=params)
    assert answer.status_code == 200, answer.text
    return [h["number"] for h in answer.json()]


def test_each_filter_finds_the_households_with_a_matching_member(village) -> None:  # type: ignore[no-untyped-def]
    client = village.client
    assert numbers(client) == ["H1", "H2", "H3", "H4"]
    assert numbers(client, unit=GRID_B) == ["H3", "H4"]
    assert numbers(client, name="王") == ["H1", "H3"]
    assert numbers(client, name="王小") == ["H1"]
    assert numbers(client, name="%") == []  # no wildcard
    assert numbers(client, id_number=MAN) == ["H2"]
    assert numbers(client, phone="13812345678") == ["H2"]
    assert numbers(client, tag="living_alone") == ["H1", "H3"]
    assert numbers(client, level="red") == ["H1"]
    assert numbers(client, level="yellow") == ["H4"]  # 70 and living alone
    assert numbers(client, level="green") == []
    assert numbers(client, age_min=80) == ["H1", "H3"]
    assert numbers(client, age_max=10) == ["H1"]
    assert numbers(client, age_min=70, age_max=70) == ["H4"]
    assert numbers(client, address="荷花") == ["H3", "H4"]
    assert numbers(client, address="3 号", unit=GRID_B) == ["H3"]


def test_member_filters_apply_to_one_and_the_same_member(village) -> None:  # type: ignore[no-untyped-def]
    # H3 has a member tagged 独居老人 (王丽, 30) and a member over 80 (张伟), but no one both
    assert numbers(village.client, tag="living_alone", age_min=80) == ["H1"]
    assert numbers(village.client, name="张", tag="living_alone") == []


def test_a_grid_worker_filters_within_its_grid_only(village) -> None:  # type: ignore[no-untyped-def]
    worker = village.client_as("grid_worker", GRID_A)
    assert numbers(worker, tag="living_alone") == ["H1"]
    assert numbers(worker, age_min=80) == ["H1"]
    assert worker.get(f"{API}/households", params={"unit": GRID_B}).status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"tag": "suspect"}, "tag"),
        ({"level": "purple"}, "level"),
        ({"age_min": -1}, "age_min"),
        ({"age_max": "old"}, "age_max"),
        ({"age_min": 80, "age_max": 60}, "age_min"),
        ({"id_number": "330802199001011233"}, "id_number"),
    ],
)
def test_a_bad_filter_is_a_422_naming_it(village, params: dict[str, Any], field: str) -> None:  # type: ignore[no-untyped-def]
    answer = village.client.get(f"{API}/households", params=params)
    assert answer.status_code == 422, answer.text
    assert [e["loc"][-1] for e in answer.json()["detail"]] == [field]


def test_the_list_page_filters_and_takes_empty_fields_as_any(village) -> None:  # type: ignore[no-untyped-def]
    empty = {k: "" for k in ("unit", "name", "address", "tag", "level", "age_min", "age_max")}
    page = village.client.get("/archives/households", params=empty)
    assert page.status_code == 200, page.text
    assert all(f">{n}<" in page.text for n in ("H1", "H2", "H3", "H4"))
    page = village.client.get("/archives/households", params=empty | {"level": "red"})
    assert ">H1<" in page.text and ">H4<" not in page.text
    assert '<option value="red" selected>' in page.text


def test_a_name_prefix_is_an_index_range_not_a_scan(village) -> None:  # type: ignore[no-untyped-def]
    from sqlmodel import col, select

    from core.archives.listing import name_prefix
    from core.archives.models import ArchivePerson

    engine = village.engine
    dialect = engine.dialect.name
    query = select(col(ArchivePerson.id)).where(name_prefix(col(ArchivePerson.name), "王", dialect))
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        if dialect == "sqlite":
            plan = " ".join(r[-1] for r in conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
            assert "USING INDEX ix_archive_person_name" in plan or "USING COVERING INDEX" in plan
        else:
            conn.execute(text("SET enable_seqscan = off"))  # a tiny table is scanned anyway
            plan = " ".join(r[0] for r in conn.execute(text(f"EXPLAIN {compiled}")))
            assert NAME_PREFIX_INDEX in plan
        assert sorted(conn.execute(query).scalars()) == sorted(
            conn.execute(
                select(col(ArchivePerson.id)).where(col(ArchivePerson.name).startswith("王"))
            ).scalars()
        )


def test_persons_are_found_by_id_number_or_name_prefix_masked_and_in_scope(village) -> None:  # type: ignore[no-untyped-def]
    def names(client, **params: Any) -> list[str]:  # type: ignore[no-untyped-def]
        answer = client.get(f"{API}/persons", params=params)
        assert answer.status_code == 200, answer.text
        assert all(p["masked"] for p in answer.json())
        return [p["name"] for p in answer.json()]

    found = village.client.get(f"{API}/persons", params={"id_number": MAN}).json()
    assert [(p["name"], p["id_number"], p["phone"]) for p in found] == [
        ("李强", "330802********1232", "138****5678")
    ]
    assert names(village.client, name="王") == ["王丽", "王小明", "王芳"]  # code-point order
    assert names(village.client, name="王", limit=1) == ["王丽"]
    worker = village.client_as("grid_worker", GRID_A)
    assert names(worker, name="王") == ["王小明", "王芳"]  # 王丽 lives in grid B
    assert names(worker, id_number=MAN) == ["李强"]
    assert names(village.client_as("grid_worker", GRID_B), id_number=MAN) == []
    for params in ({}, {"id_number": MAN, "name": "王"}):
        answer = village.client.get(f"{API}/persons", params=params)
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][-1] == "id_number"


def test_a_bad_filter_is_explained_in_chinese_first_on_the_page_and_in_json(village) -> None:  # type: ignore[no-untyped-def]
    page = village.client.get(
        "/archives/households", params={"age_min": "abc"}, headers={"accept": "text/html"}
    )
    assert page.status_code == 422 and "age_min: 应为整数 / " in page.text
    answer = village.client.get(f"{API}/households", params={"age_max": 200})
    [error] = answer.json()["detail"]
    assert error["msg"].startswith("不能大于 150 / ") and error["loc"][-1] == "age_max"
