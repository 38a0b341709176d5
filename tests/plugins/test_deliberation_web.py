"""民主议事's pages and scope: a resident votes on a phone page, a cadre runs a matter and
keeps the registers on pages (refusals shown next to the field with their status), who sees
which board, and every route answering 404 outside the caller's scope (``SCOPED_PATHS``
lists them for ``tests/test_scope_everywhere.py``)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.testing import Sanmin, all_routes
from plugins.deliberation import workbench
from tests.plugins.test_deliberation import (
    API,
    AT_OPEN,
    GRID,
    NOW,
    OTHER_TOWNSHIP_GRID,
    OTHER_VILLAGE,
    PAGES,
    PLUGIN,
    VILLAGE,
    World,
    count,
    estate,
    ok,
    open_voting,
    open_world,
    propose,
    publish,
    set_clock,
    step,
    vote,
    voting_matter,
)

API_ROUTES = (
    "/rules",
    "/estates",
    "/estates/{estate_id}",
    "/estates/{estate_id}/parcels",
    "/representatives",
    "/matters",
    "/matters/{matter_id}",
    "/matters/{matter_id}/transitions/{name}",
    "/matters/{matter_id}/ballots",
    "/matters/{matter_id}/ballots/in-person",
    "/matters/{matter_id}/roll",
    "/matters/{matter_id}/recount",
    "/board",
)
PAGE_ROUTES = (
    "/",
    "/mine",
    "/manage",
    "/matters/new",
    "/matters/{matter_id}",
    "/matters/{matter_id}/vote",
    "/matters/{matter_id}/in-person",
    "/matters/{matter_id}/transitions/{name}",
    "/matters/{matter_id}/roll",
    "/registers",
    "/registers/estates",
    "/registers/representatives",
    "/estates/{estate_id}",
    "/estates/{estate_id}/parcels",
)
SCOPED_PATHS = {
    *(f"{API}{path}" for path in API_ROUTES),
    *(f"{PAGES}{path}" for path in PAGE_ROUTES),
}
HTML = {"accept": "text/html"}
MENU = ("民主议事", "我的表决", "议事管理", "业主与代表名册")


@pytest.fixture
def sanmin_plugins() -> list[str]:
    return [PLUGIN]


@pytest.fixture
def world(sanmin: Sanmin) -> World:
    return open_world(sanmin)


def nav(html: str) -> list[str]:
    match = re.search(r"<nav>(.*?)</nav>", html, re.S)
    assert match, "the page has no menu"
    return [m for m in re.findall(r">([^<]+)</a>", match.group(1)) if m in MENU]


# -- pages -----------------------------------------------------------------------------------


def test_a_resident_votes_on_the_phone_page(world: World) -> None:
    matter, owners = voting_matter(world, ["90", "80"])
    owner = owners[0].client
    assert nav(owner.get("/", params={"unit": GRID}).text) == ["民主议事", "我的表决"]
    mine = owner.get(f"{PAGES}/mine", params={"unit": GRID})
    assert f'data-matter="{matter["id"]}"' in mine.text and 'data-state="voting"' in mine.text
    page = owner.get(f"{PAGES}/matters/{matter['id']}")
    assert 'id="vote-form"' in page.text and 'name="viewport"' in page.text
    assert re.search(
        r'<label class="check"><input type="radio" name="choice" value="同意"', page.text
    )
    voted = owner.post(
        f"{PAGES}/matters/{matter['id']}/vote", data={"choice": "反对"}, follow_redirects=False
    )
    assert voted.status_code == 303
    after = owner.get(voted.headers["location"])
    assert "投票成功" in after.text and "您已投票" in after.text and "反对" in after.text
    assert 'id="vote-form"' not in after.text  # no change allowed on this matter
    again = owner.post(f"{PAGES}/matters/{matter['id']}/vote", data={"choice": "同意"})
    assert again.status_code == 409 and "不允许改票" in again.text
    bad = owners[1].client.post(f"{PAGES}/matters/{matter['id']}/vote", data={"choice": "赞成"})
    assert bad.status_code == 422 and 'data-field="choice"' in bad.text

    unverified = world.resident(None)
    page = unverified.get(f"{PAGES}/mine", params={"unit": GRID})
    assert "尚未完成实名核验" in page.text
    refused = unverified.post(f"{PAGES}/matters/{matter['id']}/vote", data={"choice": "同意"})
    assert refused.status_code == 403 and "实名核验" in refused.text


def test_a_cadre_runs_a_matter_and_keeps_the_registers_on_pages(world: World) -> None:
    cadre = world.cadre
    assert nav(cadre.get(f"{PAGES}/", params={"unit": VILLAGE}).text) == [
        "民主议事",
        "议事管理",
        "业主与代表名册",
    ]
    posted = cadre.post(
        f"{PAGES}/registers/estates",
        params={"unit": VILLAGE},
        data={"name": "府山雅苑"},
        follow_redirects=False,
    )
    assert posted.status_code == 303
    registers = cadre.get(f"{PAGES}/registers", params={"unit": VILLAGE})
    estate_id = int(re.search(r"/estates/(\d+)", registers.text).group(1))  # type: ignore[union-attr]
    owner = world.owner("业主甲")
    bad = cadre.post(
        f"{PAGES}/estates/{estate_id}/parcels",
        data={"label": "1-101", "area": "89.555", "owner_person_id": str(owner.person_id)},
    )
    assert bad.status_code == 422 and 'id="e-area"' in bad.text and "两位小数" in bad.text
    saved = cadre.post(
        f"{PAGES}/estates/{estate_id}/parcels",
        data={"label": "1-101", "area": "89.55", "owner_person_id": str(owner.person_id)},
    )
    assert saved.status_code == 200 and "专有部分已登记" in saved.text and "89.55" in saved.text

    form = cadre.get(f"{PAGES}/matters/new", params={"unit": VILLAGE})
    assert form.status_code == 200 and f'<option value="{estate_id}"' in form.text
    data = {
        "kind": "owners",
        "title": "更换电梯",
        "description": "使用维修资金更换电梯",
        "estate_id": str(estate_id),
        "matter_type_owners": "fund_use",
        "matter_type_village": "welfare",
        "meeting": "villagers_meeting",
        "seats": "",
        "candidates": "",
    }
    missing = cadre.post(
        f"{PAGES}/matters/new", params={"unit": VILLAGE}, data={**data, "title": ""}
    )
    assert missing.status_code == 422 and 'id="e-title"' in missing.text
    made = cadre.post(
        f"{PAGES}/matters/new", params={"unit": VILLAGE}, data=data, follow_redirects=False
    )
    assert made.status_code == 303
    matter_id = int(re.search(r"/matters/(\d+)", made.headers["location"]).group(1))  # type: ignore[union-attr]
    page = cadre.get(made.headers["location"])
    assert "议题已提交" in page.text and 'id="step-review"' in page.text
    url = f"{PAGES}/matters/{matter_id}/transitions"
    assert (
        cadre.post(f"{url}/review", data={"version": "1"}, follow_redirects=False).status_code
        == 303
    )
    stale = cadre.post(f"{url}/reject", data={"version": "1", "inputs.reason": "重复"})
    assert stale.status_code == 409 and "请刷新后重试" in stale.text
    soon = cadre.post(
        f"{url}/publish",
        data={
            "version": "2",
            "inputs.opens_at": "2030-03-05T09:00",
            "inputs.closes_at": "2030-03-15T18:00",
        },
    )
    assert soon.status_code == 422 and 'data-field="inputs.opens_at"' in soon.text
    published = cadre.post(
        f"{url}/publish",
        data={
            "version": "2",
            "inputs.opens_at": "2030-03-08T09:00",
            "inputs.closes_at": "2030-03-15T18:00",
        },
        follow_redirects=False,
    )
    assert published.status_code == 303
    shown = cadre.get(published.headers["location"])
    assert (
        'data-state="notice"' in shown.text and "2030-03-08 09:00 至 2030-03-15 18:00" in shown.text
    )

    set_clock(world.sanmin, AT_OPEN)
    cadre.post(f"{url}/open", data={"version": "3"})
    voting = world.clerk.get(f"{PAGES}/matters/{matter_id}")
    assert 'id="in-person-form"' in voting.text and "业主甲" in voting.text
    voter = re.search(r'<option value="(\d+)">业主甲', voting.text).group(1)  # type: ignore[union-attr]
    recorded = world.clerk.post(
        f"{PAGES}/matters/{matter_id}/in-person", data={"voter_id": voter, "choice": "同意"}
    )
    assert recorded.status_code == 200 and "现场投票已登记" in recorded.text
    roll = world.clerk.get(f"{PAGES}/matters/{matter_id}/roll")
    assert "业主甲" in roll.text and "现场投票" in roll.text


def test_the_result_page_shows_turnout_by_headcount_and_area(world: World) -> None:
    matter, owners = voting_matter(world, ["100", "50", "50"])
    vote(owners[0], matter)
    vote(owners[1], matter, choice="反对")
    count(world, matter)
    step(world.cadre, matter, "announce")
    page = owners[2].client.get(f"{PAGES}/matters/{matter['id']}").text
    assert "参与 2/3 人（66.67%），面积 150.00/200.00㎡（75.00%），达到法定参与比例" in page
    assert "表决未通过" in page  # 1 of 2 owners agree: not more than half by headcount
    board = owners[2].client.get(f"{PAGES}/", params={"unit": GRID}).text
    assert f'data-matter="{matter["id"]}"' in board and "表决未通过" in board


def test_each_village_sees_its_own_board(world: World) -> None:
    matter, _ = voting_matter(world, ["90"])
    other = world.sanmin.client_as("resident", OTHER_VILLAGE + "001")
    assert ok(other.get(f"{API}/board", params={"unit": OTHER_VILLAGE + "001"})) == []
    assert other.get(f"{API}/matters/{matter['id']}").status_code == 404
    neighbour = world.sanmin.client_as("resident", GRID[:12] + "002")  # the same village
    assert [
        m["id"] for m in ok(neighbour.get(f"{API}/board", params={"unit": GRID[:12] + "002"}))
    ] == [matter["id"]]
    assert ok(neighbour.get(f"{API}/matters/{matter['id']}"))["mine"] is None
    hidden = propose(world.cadre, estate_id=matter["estate_id"], title="尚在征集")
    assert neighbour.get(f"{API}/matters/{hidden['id']}").status_code == 404  # not yet public


# -- scope -----------------------------------------------------------------------------------


def test_the_listed_routes_are_the_app_s(sanmin: Sanmin) -> None:
    ours = {
        path
        for path, _ in all_routes(sanmin.app)
        if path.startswith((f"{API}/", f"{PAGES}/")) and "{rest" not in path
    }
    assert ours == SCOPED_PATHS


def fresh(world: World, estate_id: int, state: str = "collecting") -> dict[str, Any]:
    """A new matter of the estate, taken as far as ``state``."""
    matter = propose(world.cadre, estate_id=estate_id, title=f"议题{state}")
    if state != "collecting":
        set_clock(world.sanmin, NOW)
        publish(world, matter)
        open_voting(world, matter)
    return matter


def test_every_route_answers_404_outside_the_scope(world: World) -> None:
    sanmin = world.sanmin
    estate_id, owners = estate(world, ["90", "80", "70", "60", "50"])
    person = world.person("村民代表")
    voting = fresh(world, estate_id, "voting")
    vote(owners[0], voting)
    counted = fresh(world, estate_id, "voting")
    count(world, counted)
    set_clock(sanmin, AT_OPEN)
    roll = ok(world.clerk.get(f"{API}/matters/{voting['id']}/roll"))
    unvoted = [r["voter_id"] for r in roll if not r["voted"]]
    cadre = ("village_cadre", VILLAGE, OTHER_VILLAGE)
    clerk = ("deliberation_clerk", VILLAGE, OTHER_VILLAGE)
    resident = ("resident", GRID, OTHER_TOWNSHIP_GRID)
    proposal = {
        "kind": "owners",
        "matter_type": "fund_use",
        "title": "新议题",
        "description": "内容",
    }
    cases: list[tuple[str, str, tuple[str, str, str], dict[str, Any]]] = [
        ("GET", f"{API}/rules?unit={GRID}", resident, {}),
        ("GET", f"{API}/estates?unit={VILLAGE}", cadre, {}),
        ("POST", f"{API}/estates?unit={GRID}", cadre, {"json": {"name": "新小区"}}),
        ("GET", f"{API}/estates/{estate_id}", cadre, {}),
        (
            "POST",
            f"{API}/estates/{estate_id}/parcels",
            cadre,
            {"json": {"label": "9-901", "area": "88", "owner_person_id": person}},
        ),
        ("GET", f"{API}/representatives?unit={VILLAGE}", cadre, {}),
        (
            "POST",
            f"{API}/representatives?unit={VILLAGE}",
            cadre,
            {"json": {"person_id": person, "since": "2029-01-01"}},
        ),
        ("GET", f"{API}/matters?unit={VILLAGE}", cadre, {}),
        (
            "POST",
            f"{API}/matters?unit={VILLAGE}",
            cadre,
            {"json": {**proposal, "estate_id": estate_id}},
        ),
        ("GET", f"{API}/matters/{voting['id']}", cadre, {}),
        (
            "POST",
            f"{API}/matters/{fresh(world, estate_id)['id']}/transitions/review",
            cadre,
            {"json": {"version": 1}},
        ),
        (
            "POST",
            f"{API}/matters/{voting['id']}/ballots/in-person",
            clerk,
            {"json": {"voter_id": unvoted[0], "choice": "同意"}},
        ),
        ("GET", f"{API}/matters/{voting['id']}/ballots", cadre, {}),
        ("GET", f"{API}/matters/{voting['id']}/roll", cadre, {}),
        ("GET", f"{API}/matters/{counted['id']}/recount", cadre, {}),
        ("GET", f"{API}/board?unit={GRID}", resident, {}),
        ("GET", f"{PAGES}/?unit={GRID}", resident, {}),
        ("GET", f"{PAGES}/mine?unit={GRID}", resident, {}),
        ("GET", f"{PAGES}/manage?unit={VILLAGE}", cadre, {}),
        ("GET", f"{PAGES}/matters/new?unit={VILLAGE}", cadre, {}),
        (
            "POST",
            f"{PAGES}/matters/new?unit={VILLAGE}",
            cadre,
            {"data": {**proposal, "matter_type_owners": "fund_use", "estate_id": str(estate_id)}},
        ),
        ("GET", f"{PAGES}/matters/{voting['id']}", cadre, {}),
        (
            "POST",
            f"{PAGES}/matters/{voting['id']}/in-person",
            clerk,
            {"data": {"voter_id": str(unvoted[1]), "choice": "反对"}},
        ),
        (
            "POST",
            f"{PAGES}/matters/{fresh(world, estate_id)['id']}/transitions/review",
            cadre,
            {"data": {"version": "1"}},
        ),
        ("GET", f"{PAGES}/matters/{voting['id']}/roll", cadre, {}),
        ("GET", f"{PAGES}/registers?unit={VILLAGE}", cadre, {}),
        (
            "POST",
            f"{PAGES}/registers/estates?unit={VILLAGE}",
            cadre,
            {"data": {"name": "又一小区"}},
        ),
        (
            "POST",
            f"{PAGES}/registers/representatives?unit={VILLAGE}",
            cadre,
            {"data": {"person_id": str(person), "since": "2029-02-01"}},
        ),
        ("GET", f"{PAGES}/estates/{estate_id}", cadre, {}),
        (
            "POST",
            f"{PAGES}/estates/{estate_id}/parcels",
            cadre,
            {"data": {"label": "9-902", "area": "66", "owner_person_id": str(person)}},
        ),
    ]
    for method, url, (role, inside, outside), kwargs in cases:
        sanmin.assert_scoped(method, url, role=role, inside=inside, outside=outside, **kwargs)
    # voting is a voter's own act: the owner votes, a stranger from elsewhere gets 404
    stranger = sanmin.client_as("resident", OTHER_TOWNSHIP_GRID)
    for url, kwargs in (
        (f"{API}/matters/{voting['id']}/ballots", {"json": {"choice": "同意"}}),
        (f"{PAGES}/matters/{voting['id']}/vote", {"data": {"choice": "同意"}}),
    ):
        assert stranger.post(url, **kwargs).status_code == 404, url
    assert ok(
        owners[3].client.post(f"{API}/matters/{voting['id']}/ballots", json={"choice": "同意"}), 201
    )
    page = owners[4].client.post(f"{PAGES}/matters/{voting['id']}/vote", data={"choice": "同意"})
    assert page.status_code == 200 and "投票成功" in page.text
    listed = {urlpath(url) for _, url, _, _ in cases} | {
        f"{API}/matters/{{matter_id}}/ballots",
        f"{PAGES}/matters/{{matter_id}}/vote",
    }
    assert listed == SCOPED_PATHS


def urlpath(url: str) -> str:
    """A case's URL as its route's path."""
    path = re.sub(r"/matters/\d+", "/matters/{matter_id}", url.split("?")[0])
    path = re.sub(r"/estates/\d+", "/estates/{estate_id}", path)
    return re.sub(r"/transitions/\w+", "/transitions/{name}", path)


def test_the_workbench_lists_open_matters_voting_first_and_counts_them(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """议事进行中 counts the open matters of the clerk's village and those being voted on,
    shows the voting first and then the newest, never another township's; past
    ``COUNT_LIMIT`` (the newest only) it says 以上."""
    voting, _ = voting_matter(world, ["100"])
    estate_id, _ = estate(world, ["80"], name="府山花园")
    proposed = [propose(world.cadre, estate_id=estate_id, title=f"议题{n}") for n in range(3)]
    elsewhere = world.sanmin.client_as("village_cadre", OTHER_TOWNSHIP_GRID[:12])
    propose(
        elsewhere,
        unit=OTHER_TOWNSHIP_GRID[:12],
        kind="village",
        matter_type="other",
        meeting="villagers_meeting",
        title="别处的议题",
    )

    def shown() -> str:
        found = re.search(
            r"<h2[^>]*>议事进行中(.*?)</section>", world.clerk.get("/admin").text, re.S
        )
        assert found is not None
        return found.group(1)

    panel = shown()
    assert "4 项未决，1 项正在投票" in panel and "别处的议题" not in panel
    ids = [int(i) for i in re.findall(r"/matters/(\d+)\?unit=", panel)]
    assert ids == [voting["id"], *(m["id"] for m in reversed(proposed))]
    assert panel.count("正在投票 · ") == 1
    monkeypatch.setattr(workbench, "COUNT_LIMIT", 2)  # the two newest: both proposed
    cut = shown()
    assert "2 项以上未决" in cut and "正在投票" not in cut
    assert [int(i) for i in re.findall(r"/matters/(\d+)\?unit=", cut)] == [
        proposed[2]["id"],
        proposed[1]["id"],
    ]
