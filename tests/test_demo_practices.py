"""The four practices in the loaded demo, as their demo accounts use them: each account logs
in with the demo password and finds its practice's demo records through the pages and the
API; a practice switched off in a township is gone there for its accounts, and back when it
is switched on again."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.demo.load import DEMO_PASSWORD
from core.testing import Sanmin, SanminDemo

# (username, the unit it works at, the API listing of its practice's records, its page, the
# practice's title on that page)
PRACTICES = [
    (
        "knock_door_volunteer",
        "330802001001",
        "/api/v1/p/knock_door/plans",
        "/p/knock_door/",
        "敲门嫂",
    ),
    (
        "tea_house_keeper",
        "330802001001",
        "/api/v1/p/tea_house/sessions",
        "/p/tea_house/",
        "民情茶馆",
    ),
    (
        "red_proxy_secretary",
        "330802001001",
        "/api/v1/p/red_proxy/orders",
        "/p/red_proxy/",
        "红色代办",
    ),
    (
        "mobile_office_duty",
        "330803104000",
        "/api/v1/p/mobile_office/calls",
        "/p/mobile_office/",
        "民情直通车",
    ),
]


@pytest.fixture
def demo(sanmin_demo: SanminDemo) -> Sanmin:
    """The harness on a database holding the whole demo (units, accounts, archive, tickets
    and each practice's records): a copy of the demo loaded once per process
    (``core.testing``)."""
    return sanmin_demo


def signed_in(demo: Sanmin, username: str) -> TestClient:
    answer = demo.anonymous.post(
        "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
    )
    assert answer.status_code == 200, (username, answer.text)
    return TestClient(
        demo.app, headers={"Authorization": f"Bearer {answer.json()['access_token']}"}
    )


def rows(answer: Any) -> list[Any]:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return body if isinstance(body, list) else body.get("items", body.get("results", []))


def test_each_practice_s_demo_account_finds_its_demo_records(demo: Sanmin) -> None:
    for username, unit, listing, page, title in PRACTICES:
        client = signed_in(demo, username)
        assert rows(client.get(listing, params={"unit": unit})), username
        shown = client.get(page, params={"unit": unit})
        assert shown.status_code == 200 and title in shown.text, username


def test_a_practice_switched_off_in_a_township_is_gone_there_for_its_accounts(
    demo: Sanmin,
) -> None:
    username, unit, listing, page, _ = PRACTICES[2]  # 红色代办 in 府山街道
    client = signed_in(demo, username)
    demo.disable("red_proxy", "330802001000")
    assert client.get(listing, params={"unit": unit}).status_code == 404
    assert client.get(page, params={"unit": unit}).status_code == 404
    demo.set("red_proxy", "330802001000", None)  # back to what the county says: on
    assert rows(client.get(listing, params={"unit": unit}))


def test_each_practice_s_metrics_are_on_the_dashboard_up_to_the_county(demo: Sanmin) -> None:
    county = demo.client_as("county_admin", "330802000000")  # 柯城区
    township = county.get("/admin/dashboard", params={"unit": "330802001000"})  # 府山街道
    up = county.get("/admin/dashboard", params={"unit": "330802000000"})
    for page in (township, up):
        assert page.status_code == 200, page.text
        for title in ("为民办事", "敲门嫂", "民情茶馆", "红色代办"):
            assert f"<h2>{title}</h2>" in page.text, title
        assert "月探访率" in page.text and "<h2>民情直通车</h2>" not in page.text  # off here
    qujiang = demo.client_as("county_admin", "330803000000")  # 衢江区, where 直通车 runs
    board = qujiang.get("/admin/dashboard", params={"unit": "330803000000"}).text
    assert "<h2>民情直通车</h2>" in board and "当场办结率" in board
