"""The demo archive (core/demo/archive.py): realistic, valid and the same every time; loaded
once; its care levels those the care rules give; scoped like any archive data.

The first test draws the archive in memory (no database). The second loads the demo county
once per database (SQLite and PostgreSQL) and checks what was stored against the draw.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.archives.care import (
    TAGS,
    ArchiveCareAssessment,
    ArchiveCareProfile,
    ArchivePersonTag,
    CareInputs,
    Thresholds,
    evaluate,
)
from core.archives.care_api import reassess_under
from core.archives.categories import (
    ArchiveEstate,
    ArchiveHouse,
    ArchiveOwnersCommittee,
    ArchivePlace,
    ArchivePropertyCompany,
    ArchiveVehicle,
)
from core.archives.category_schemas import (
    CommitteeIn,
    EstateIn,
    HouseIn,
    PlaceIn,
    PropertyCompanyIn,
    VehicleIn,
)
from core.archives.crypto import cipher_for
from core.archives.idnumbers import (
    birth_date_of,
    gender_of,
    validate_id_number,
    validate_phone,
)
from core.archives.models import ArchiveHousehold, ArchivePerson
from core.archives.service import age_on
from core.audit.models import AuditEntry
from core.demo.archive import AS_OF, REGIONS, DemoArchive, generate
from core.demo.load import demo_unit_rows, load_demo
from core.units.codes import Level, parse_code

# repr() of the whole draw: changes only when the generator (or the demo units) change.
DRAW_DIGEST = "65db8fb1d4d12d03682a3002350ab442755587f36136e7f7503f256f4dbc6386"
GRID = "330802001001001"  # 府山社区第一网格, the demo grid worker's grid
VILLAGE = "330802001001"  # 府山社区
TABLES = (
    ArchivePropertyCompany,
    ArchiveEstate,
    ArchiveOwnersCommittee,
    ArchivePlace,
    ArchiveHousehold,
    ArchivePerson,
    ArchiveHouse,
    ArchiveVehicle,
    ArchivePersonTag,
    ArchiveCareProfile,
    ArchiveCareAssessment,
    AuditEntry,
)


def test_the_drawn_archive_is_realistic_valid_and_the_same_every_time() -> None:
    units = demo_unit_rows()
    demo = generate(units)
    assert hashlib.sha256(repr(demo).encode()).hexdigest() == DRAW_DIGEST
    persons = list(demo.persons())
    ages = [age_on(p.birth_date, AS_OF) for p in persons]

    # about 3,000 households and 8,000 persons over every demo grid; ~20% over 60
    grids = {code for code, _ in units if parse_code(code).level is Level.grid}
    per_grid = Counter(h.grid for h in demo.households)
    assert len(demo.households) == 3000 and 7600 <= len(persons) <= 8400
    assert set(per_grid) == grids and min(per_grid.values()) >= 40
    assert 0.18 <= sum(a >= 60 for a in ages) / len(ages) <= 0.23
    assert 0.12 <= sum(a < 18 for a in ages) / len(ages) <= 0.25
    assert sum(a >= 80 for a in ages) >= 150

    # ID numbers, phones and 户号: valid, unique, consistent with the person
    for p in persons:
        assert validate_id_number(p.id_number, AS_OF) == p.id_number
        assert birth_date_of(p.id_number) == p.birth_date
        assert gender_of(p.id_number) == p.gender
        assert p.id_number[:6] in REGIONS  # 衢州 (3308xx)
        assert p.phone is None or validate_phone(p.phone) == p.phone
    assert len({p.id_number for p in persons}) == len(persons)
    phones = [p.phone for p in persons if p.phone] + [p.manager_phone for p in demo.places]
    assert len(set(phones)) == len(phones)
    assert len({h.number for h in demo.households}) == len(demo.households)
    assert all(h.number.startswith(h.grid) for h in demo.households)

    # relations agree with genders and ages
    for h in demo.households:
        head = h.members[0]
        assert [p.relation for p in h.members].count("head") == 1 and head.relation == "head"
        head_age = age_on(head.birth_date, AS_OF)
        for p in h.members[1:]:
            gap = head_age - age_on(p.birth_date, AS_OF)
            if p.relation == "spouse":
                assert p.gender != head.gender and abs(gap) <= 10
            elif p.relation == "child":
                assert 18 <= gap <= 48
            elif p.relation == "parent":
                assert 18 <= -gap <= 48
            elif p.relation == "grandchild":
                assert gap >= 36
            else:
                assert p.relation == "child_in_law" and 14 <= gap <= 48

    # special groups: catalog tags, care inputs for every elder and only for them
    tags = Counter(t for p in persons for t in p.tags)
    assert set(tags) <= set(TAGS) and len(tags) >= 9
    assert all((p.care is not None) == (a >= 60) for p, a in zip(persons, ages, strict=True))
    levels = Counter(
        evaluate(
            CareInputs(age_on(p.birth_date, AS_OF), len(h.members) == 1, *p.care), Thresholds()
        ).level
        for h in demo.households
        for p in h.members
        if p.care is not None
    )
    assert all(levels[c] >= 0.08 * sum(levels.values()) for c in ("red", "yellow", "green"))
    childless = {h.grid for h in demo.households for p in h.members if "gugua" in p.tags}
    assert childless == grids  # a 孤寡老人 (red) to visit in every grid

    # housing, cars, places, estates and companies, each as the API would accept it
    _check_categories(demo, dict(units))


def _check_categories(demo: DemoArchive, names: dict[str, str]) -> None:
    houses = [h.house for h in demo.households if h.house is not None]
    cars = [car for h in demo.households for car in h.vehicles]
    assert len(houses) >= 0.85 * len(demo.households)
    assert 0.2 * len(demo.households) <= len(cars) <= 0.6 * len(demo.households)
    assert len({car.plate for car in cars}) == len(cars)
    for h in demo.households:
        if h.house is not None:
            HouseIn(**_fields(h.house, "estate"), unit_code=h.grid, household_id=1, estate_id=1)
        for car in h.vehicles:
            VehicleIn(**_fields(car, "owner"), usage="own", household_id=1, owner_id=1)
            assert 20 <= age_on(h.members[car.owner].birth_date, AS_OF) <= 70
    for place in demo.places:
        PlaceIn(**_fields(place))
    per_grid = Counter(place.unit_code for place in demo.places)
    assert set(per_grid) == {h.grid for h in demo.households}
    assert {p.kind for p in demo.places} >= {"enterprise", "public_venue", "social"}
    assert sum(p.hazardous for p in demo.places) == 1
    for company in demo.companies:
        PropertyCompanyIn(**_fields(company))
    assert 2 <= len(demo.companies) <= 6
    for estate in demo.estates:  # 小区 in 社区 grids, natural villages in 村 grids
        EstateIn(**_fields(estate, "company"), property_company_id=1)
        village = names[estate.unit_code[:12]]
        assert (estate.kind == "village") == village.endswith("村")
        if estate.company is not None:  # managed by a company of its township
            assert estate.kind == "commercial"
            assert demo.companies[estate.company].unit_code[:9] == estate.unit_code[:9]
    assert sum(e.company is not None for e in demo.estates) >= 10
    for committee in demo.committees:
        CommitteeIn(**_fields(committee, "estate"), estate_id=1)
        assert demo.estates[committee.estate].company is not None


def _fields(record: Any, *left_out: str) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in left_out}


def _rows(engine: Engine) -> str:
    """A digest of every row (all columns, ids and timestamps included) the demo touches."""
    digest = hashlib.sha256()
    with Session(engine) as session:
        for model in TABLES:
            table = model.__table__  # type: ignore[attr-defined]
            for row in session.execute(select(table).order_by(table.c.id)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def test_the_demo_archive_loads_once_assessed_and_scoped(sanmin) -> None:  # type: ignore[no-untyped-def]
    kernel, engine = sanmin.kernel, sanmin.engine
    first = load_demo(engine, kernel.registry, kernel.settings).archive
    demo = generate(demo_unit_rows())
    persons = {p.id_number: (h, p) for h in demo.households for p in h.members}
    assert first.created
    assert first.counts["households"] == len(demo.households)
    assert first.counts["persons"] == len(persons)
    assert first.counts["houses"] == sum(h.house is not None for h in demo.households)
    assert first.counts["places"] == len(demo.places)
    assert first.counts["tags"] == sum(len(p.tags) for _, p in persons.values())

    # what was stored is the draw: each person's ID number decrypts, hashes and validates
    cipher = cipher_for(kernel)
    today = date.today()
    with Session(engine) as session:
        stored = session.execute(
            select(ArchivePerson, ArchiveHousehold.number).join(
                ArchiveHousehold, ArchiveHousehold.id == ArchivePerson.household_id
            )
        ).all()
        assert len(stored) == len(persons)
        for person, number in stored:
            id_number = cipher.decrypt(person.id_cipher)
            assert validate_id_number(id_number, today) == id_number
            assert cipher.lookup_hash(id_number) == person.id_hash
            household, drawn = persons[id_number]
            assert (number, person.unit_code) == (household.number, household.grid)
            assert (person.name, person.gender, person.birth_date) == (
                drawn.name,
                drawn.gender,
                drawn.birth_date,
            )
            assert (person.phone, person.relation, person.source) == (
                drawn.phone,
                drawn.relation,
                "demo",
            )

        # every colour, and each level is what care_api.assess computes (no new row)
        levels = Counter(
            session.scalars(
                select(ArchiveCareAssessment.level).where(ArchiveCareAssessment.current)
            )
        )
        assert set(levels) == {"red", "yellow", "green"} and min(levels.values()) >= 100
        assert levels == Counter(first.levels)
        assessments = session.scalar(select(func.count()).select_from(ArchiveCareAssessment))
        kernel.toggles.refresh()  # the demo units are new to the kernel
        assert reassess_under(session, kernel, parse_code(VILLAGE).path, "test") >= 50
        session.flush()
        assert session.scalar(select(func.count()).select_from(ArchiveCareAssessment)) == (
            assessments
        )
        session.rollback()

    # a second load finds it and changes nothing
    before = _rows(engine)
    second = load_demo(engine, kernel.registry, kernel.settings).archive
    assert not second.created
    assert (second.counts, second.levels) == (first.counts, first.levels)
    assert _rows(engine) == before

    # the demo grid worker sees its grid's households, care list and places, and no other
    client = sanmin.client_as("grid_worker", GRID)
    households = client.get("/api/v1/archives/households", params={"limit": 200}).json()
    in_grid = sum(h.grid == GRID for h in demo.households)
    assert len(households) == in_grid and {h["unit_code"] for h in households} == {GRID}
    cared = client.get("/api/v1/archives/care/persons", params={"limit": 200}).json()
    assert {p["unit_code"] for p in cared} == {GRID}
    assert {p["level"] for p in cared} == {"red", "yellow", "green"}
    places = client.get("/api/v1/archives/places", params={"limit": 200}).json()
    assert places and {p["unit_code"] for p in places} == {GRID}
    other = next(h for h in demo.households if h.grid != GRID)
    response = client.get("/api/v1/archives/households", params={"unit": other.grid})
    assert response.status_code == 404
