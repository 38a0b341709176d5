"""实名核验: a resident account is linked to its own archive record by name and ID number
where it lives, and then reads its own household; a miss never says what was wrong, is
audited without the number, and five of them stop the account for a day; one person, one
account. Through the API and the page, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlmodel import col, select

from core.archives.verification import ATTEMPTS, NO_MATCH
from core.audit.models import AuditEntry
from core.identity.models import Account
from tests.test_archives import GIRL, GRID_A, GRID_B, MAN, OTHER, two_households

VERIFY = "/api/v1/auth/verify"


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def world(sanmin):  # type: ignore[no-untyped-def]
    """Household A (王大 and 王小) in grid A, 李四's in grid B."""
    return two_households(sanmin)


def linked(sanmin, username: str) -> int | None:  # type: ignore[no-untyped-def]
    with sanmin.session() as session:
        return session.exec(select(Account.person_id).where(Account.username == username)).one()


def test_a_resident_verifies_and_then_reads_their_own_household(world) -> None:  # type: ignore[no-untyped-def]
    resident = world.client_as("resident", GRID_A, username="wang.da")
    assert resident.get("/api/v1/archives/households").json() == []
    assert '<a href="/account/verify">实名核验</a>' in resident.get("/").text
    answer = resident.post(VERIFY, json={"name": "王大", "id_number": MAN.lower()})
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == "王大" and answer.json()["unit_code"] == GRID_A
    assert linked(world, "wang.da") == answer.json()["person_id"]
    own = resident.get("/api/v1/archives/households").json()
    assert [h["number"] for h in own] == ["A001"]
    assert '<a href="/account/verify">实名核验</a>' not in resident.get("/").text
    again = resident.post(VERIFY, json={"name": "王大", "id_number": MAN})
    assert again.status_code == 409
    # the daughter's record is someone else's to claim; the father's is taken
    other = world.client_as("resident", GRID_A, username="wang.xiao.2")
    taken = other.post(VERIFY, json={"name": "王大", "id_number": MAN})
    assert taken.status_code == 409 and "另一账号" in taken.json()["detail"]
    with world.session() as session:
        entries = session.exec(
            select(AuditEntry).where(col(AuditEntry.action).startswith("account.verify"))
        ).all()
        assert [e.action for e in entries] == ["account.verify"]
        assert MAN not in str([e.after for e in entries])


@pytest.mark.parametrize(
    ("name", "number"),
    [
        ("王二", MAN),  # the wrong name
        ("王大", OTHER),  # a real number of someone else
        ("李四", OTHER),  # right, but the neighbour lives in grid B
    ],
)
def test_a_miss_says_nothing_of_what_was_wrong(world, name, number) -> None:  # type: ignore[no-untyped-def]
    resident = world.client_as("resident", GRID_A, username="guess")
    answer = resident.post(VERIFY, json={"name": name, "id_number": number})
    assert answer.status_code == 422 and answer.json()["detail"] == NO_MATCH
    assert linked(world, "guess") is None


def test_five_misses_stop_the_account_for_a_day_and_are_audited(world) -> None:  # type: ignore[no-untyped-def]
    resident = world.client_as("resident", GRID_A, username="guess")
    bad = resident.post(VERIFY, json={"name": "王大", "id_number": "330802199001011233"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("id_number:")
    for _ in range(ATTEMPTS - 1):
        assert resident.post(VERIFY, json={"name": "王二", "id_number": MAN}).status_code == 422
    stopped = resident.post(VERIFY, json={"name": "王大", "id_number": MAN})  # right, too late
    assert stopped.status_code == 429 and "核验失败次数过多" in stopped.json()["detail"]
    assert linked(world, "guess") is None
    with world.session() as session:
        failed = session.exec(
            select(AuditEntry).where(AuditEntry.action == "account.verify_failed")
        ).all()
        assert len(failed) == ATTEMPTS and all(MAN not in str(e.after) for e in failed)


def test_only_resident_accounts_verify(world) -> None:  # type: ignore[no-untyped-def]
    worker = world.client_as("grid_worker", GRID_A)
    assert worker.post(VERIFY, json={"name": "王大", "id_number": MAN}).status_code == 403
    assert '<a href="/account/verify">实名核验</a>' not in worker.get("/").text


def test_the_page_verifies_and_shows_a_miss_next_to_the_form(world) -> None:  # type: ignore[no-untyped-def]
    resident = world.client_as("resident", GRID_B, username="li.si")
    page = resident.get("/account/verify")
    assert page.status_code == 200 and 'id="verify"' in page.text
    miss = resident.post("/account/verify", data={"name": "李四", "id_number": GIRL})
    assert miss.status_code == 422 and 'role="alert"' in miss.text
    assert 'value="李四"' in miss.text and GIRL not in miss.text
    done = resident.post("/account/verify", data={"name": "李四", "id_number": OTHER})
    assert done.status_code == 200 and "核验成功" in done.text
    assert re.search(r'role="status">核验成功：本账号已与 李四', done.text)
    assert "本账号已完成实名核验。" in resident.get("/account/verify").text
