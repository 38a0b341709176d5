"""红色代办 through its JSON API and its pages: where it is on and off, 422 naming the field,
409 on a stale version, idempotent 点单, and scope on every route (``SCOPED_PATHS`` lists
them for ``tests/test_scope_everywhere.py``)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from core.testing import Sanmin
from plugins.red_proxy import workbench
from tests.plugins.test_red_proxy import (
    CERTIFICATE,
    GRID,
    NOW,
    OTHER_GRID,
    OTHER_VILLAGE,
    PENSION_CHECK,
    PLUGIN,
    TOWNSHIP,
    VILLAGE,
    Town,
    dispatch,
    open_town,
    place,
    step,
)

API = f"/api/v1/p/{PLUGIN}"
PAGES = f"/p/{PLUGIN}"
OTHER_TOWNSHIP = "330802002000"
OTHER_TOWNSHIP_GRID = "330802002001001"
MENU = ("红色代办", "我要代办", "我的代办", "派单台", "我的接单", "代办事项")
ORDER = {"requester_name": "张三丰", "requester_phone": "13812345678", "need": "开具户籍证明"}

# every route of the plugin: tests/test_scope_everywhere.py imports this set, and
# test_every_route_answers_404_outside_the_scope below proves each one
SCOPED_PATHS = {
    *(
        f"{API}{path}"
        for path in (
            "/items",
            "/items/{item_id}",
            "/items/defaults",
            "/agents",
            "/agents/me",
            "/orders",
            "/orders/{order_id}",
            "/orders/{order_id}/transitions/{name}",
            "/orders/{order_id}/authorization",
            "/orders/{order_id}/handovers",
            "/public",
        )
    ),
    *(
        f"{PAGES}{path}"
        for path in (
            "/",
            "/order",
            "/order/{item_id}",
            "/mine",
            "/board",
            "/tasks",
            "/tasks/duty",
            "/public",
            "/orders/{order_id}",
            "/orders/{order_id}/transitions/{name}",
            "/orders/{order_id}/authorization",
            "/orders/{order_id}/handovers",
            "/catalogue",
            "/catalogue/defaults",
            "/catalogue/new",
            "/catalogue/{item_id}",
        )
    ),
}


@pytest.fixture
def sanmin_plugins() -> list[str]:
    return [PLUGIN]


@pytest.fixture
def town(sanmin: Sanmin) -> Town:
    return open_town(sanmin)


def locs(answer) -> list[list[str]]:  # type: ignore[no-untyped-def]
    assert answer.status_code == 422, answer.text
    return [error["loc"] for error in answer.json()["detail"]]


def nav(html: str) -> str:
    match = re.search(r"<nav>(.*?)</nav>", html, re.S)
    assert match, "the page has no menu"
    return match.group(1)


# -- on and off ----------------------------------------------------------------------------


def test_disabled_in_one_township_absent_there_and_working_where_enabled(
    sanmin: Sanmin,
) -> None:
    on = open_town(sanmin)
    off_resident = sanmin.client_as("resident", OTHER_TOWNSHIP_GRID)
    home = on.resident.client.get("/", params={"unit": GRID}, headers={"accept": "text/html"})
    menu = re.findall(r">([^<]+)</a>", nav(home.text))
    assert [m for m in menu if m in MENU] == ["红色代办", "我要代办", "我的代办"]  # no 派单台
    landing = on.secretary.client.get(f"{PAGES}/", params={"unit": VILLAGE})
    menu = re.findall(r">([^<]+)</a>", nav(landing.text))
    assert [m for m in menu if m in MENU] == ["红色代办", "我要代办", "派单台", "我的接单"]

    placed = on.resident.client.post(
        f"{API}/orders", params={"unit": GRID}, json={**ORDER, "item_id": on.items[CERTIFICATE]}
    )
    assert placed.status_code == 201, placed.text
    assert (placed.json()["state"], placed.json()["state_label"]) == ("ordered", "已点单")

    elsewhere = off_resident.get("/", params={"unit": OTHER_TOWNSHIP_GRID})
    assert not set(re.findall(r">([^<]+)</a>", nav(elsewhere.text))) & set(MENU)
    for path in ("/items", "/orders", "/public"):
        answer = off_resident.get(f"{API}{path}", params={"unit": OTHER_TOWNSHIP_GRID})
        assert answer.status_code == 404, path
        assert answer.json()["plugin"] == PLUGIN and OTHER_TOWNSHIP in answer.json()["detail"]
    page = off_resident.get(
        f"{PAGES}/order", params={"unit": OTHER_TOWNSHIP_GRID}, headers={"accept": "text/html"}
    )
    assert page.status_code == 404 and "红色代办" in page.text
    metric = sanmin.client.get(f"/api/v1/metrics/{PLUGIN}/orders", params={"unit": OTHER_TOWNSHIP})
    assert metric.status_code == 404
    assert (
        sanmin.client.get(f"/api/v1/metrics/{PLUGIN}/orders", params={"unit": TOWNSHIP}).json()[
            "value"
        ]
        == 1
    )
    sanmin.disable(PLUGIN, TOWNSHIP)  # switched off afterwards: its orders are out of reach
    order_id = placed.json()["id"]
    assert on.resident.client.get(f"{API}/orders/{order_id}").status_code == 404


# -- the four steps through the API and the public list -----------------------------------


def test_the_four_steps_through_the_api_and_the_masked_public_list(town: Town) -> None:
    resident, agent, secretary = town.resident.client, town.agent.client, town.secretary.client
    placed = resident.post(
        f"{API}/orders", params={"unit": GRID}, json={**ORDER, "item_id": town.items[PENSION_CHECK]}
    )
    order = placed.json()
    url = f"{API}/orders/{order['id']}"
    board = secretary.get(f"{API}/orders", params={"unit": VILLAGE, "state": "open"}).json()
    assert [(o["id"], o["requester_name"], o["requester_phone"]) for o in board] == [
        (order["id"], "张三丰", "13812345678")  # the branch sees whom to call
    ]
    assert [a["name"] for a in order["actions"]] == ["withdraw"]  # the requester's own
    moved = secretary.post(
        f"{url}/transitions/dispatch", json={"version": 1, "inputs": {"assignee": "agent"}}
    )
    assert moved.status_code == 200, moved.text
    assert [o["id"] for o in agent.get(f"{API}/orders", params={"assigned": "true"}).json()] == [
        order["id"]
    ]
    taken = agent.post(f"{url}/transitions/take", json={"version": 2})
    assert taken.json()["state"] == "in_progress"
    done = agent.post(
        f"{url}/transitions/finish",
        json={"version": 3, "inputs": {"result": "已协助认证", "delivery": "当面送达"}},
    )
    assert done.json()["state"] == "done"
    assert [a["name"] for a in resident.get(url).json()["actions"]] == ["rate"]
    rated = resident.post(
        f"{url}/transitions/rate", json={"version": 4, "inputs": {"rating": "满意"}}
    )
    assert (rated.json()["state"], rated.json()["rating_label"]) == ("rated", "满意")

    # another resident of the village sees the 公示, masked, and not the order itself
    neighbour = town.sanmin.client_as("resident", OTHER_GRID)
    public = neighbour.get(f"{API}/public", params={"unit": OTHER_GRID}).json()
    assert [(p["id"], p["requester"], p["phone"], p["rating_label"]) for p in public] == [
        (order["id"], "张**", "138****5678", "满意")
    ]
    assert neighbour.get(url).status_code == 404
    page = neighbour.get(f"{PAGES}/public", params={"unit": OTHER_GRID})
    assert page.status_code == 200 and "张**" in page.text and "138****5678" in page.text
    assert "张三丰" not in page.text and "13812345678" not in page.text
    # a grid worker reads the order, with the requester masked
    worker = town.sanmin.client_as("grid_worker", GRID)
    seen = worker.get(url).json()
    assert (seen["requester_name"], seen["requester_phone"]) == ("张**", "138****5678")


def test_a_placed_order_is_idempotent_with_the_same_key(town: Town) -> None:
    body = {**ORDER, "item_id": town.items[CERTIFICATE]}
    headers = {"Idempotency-Key": "k-1"}
    first = town.resident.client.post(
        f"{API}/orders", params={"unit": GRID}, json=body, headers=headers
    )
    again = town.resident.client.post(
        f"{API}/orders", params={"unit": GRID}, json=body, headers=headers
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == again.json()["id"]
    other = town.resident.client.post(
        f"{API}/orders", params={"unit": GRID}, json={**body, "need": "别的"}, headers=headers
    )
    assert ["header", "Idempotency-Key"] in locs(other)


def test_a_stale_version_answers_409_through_the_api(town: Town) -> None:
    order = dispatch(town, place(town))
    url = f"{API}/orders/{order.id}/transitions"
    first = town.agent.client.post(f"{url}/take", json={"version": order.version})
    assert first.status_code == 200, first.text
    second = town.agent.client.post(
        f"{url}/send_back", json={"version": order.version, "inputs": {"reason": "改派"}}
    )
    assert second.status_code == 409, second.text
    assert "version" in second.json()["detail"]
    assert town.agent.client.get(f"{API}/orders/{order.id}").json()["state"] == "in_progress"


def test_bad_input_is_422_naming_the_field(town: Town) -> None:
    client = town.resident.client
    item = town.items[CERTIFICATE]
    assert ["body", "requester_phone"] in locs(
        client.post(
            f"{API}/orders",
            params={"unit": GRID},
            json={**ORDER, "item_id": item, "requester_phone": "12ab"},
        )
    )
    assert ["body", "requester_name"] in locs(
        client.post(
            f"{API}/orders",
            params={"unit": GRID},
            json={**ORDER, "item_id": item, "requester_name": "   "},
        )
    )
    assert ["body", "item_id"] in locs(
        client.post(f"{API}/orders", params={"unit": GRID}, json={**ORDER, "item_id": 99999})
    )
    assert ["query", "state"] in locs(
        town.secretary.client.get(f"{API}/orders", params={"state": "lost"})
    )
    order = dispatch(town, place(town))
    url = f"{API}/orders/{order.id}"
    taken = town.agent.client.post(f"{url}/transitions/take", json={"version": order.version})
    version = taken.json()["version"]
    assert ["body", "authorization"] in locs(
        town.agent.client.post(
            f"{url}/transitions/finish",
            json={"version": version, "inputs": {"result": "好", "delivery": "当面送达"}},
        )
    )
    assert ["body", "inputs", "delivery"] in locs(
        town.agent.client.post(
            f"{url}/transitions/finish",
            json={"version": version, "inputs": {"result": "好", "delivery": "飞鸽"}},
        )
    )
    assert ["body", "valid_until"] in locs(
        town.agent.client.post(
            f"{url}/authorization",
            json={
                "principal": "张三丰",
                "powers": "代为办理",
                "signed_on": "2026-11-27",
                "valid_until": "2026-11-01",
                "sign_method": "手写签名",
            },
        )
    )
    assert ["body", "handed_at"] in locs(
        town.agent.client.post(
            f"{url}/handovers",
            json={
                "what": "户口簿",
                "from_party": "张三丰",
                "to_party": "王红梅",
                "handed_at": "2027-01-01T10:00:00+08:00",
            },
        )
    )
    admin = town.sanmin.client_as("township_admin", TOWNSHIP)
    bad_item = {"name": "新事项", "category": "other", "time_limit_days": 0}
    assert ["body", "time_limit_days"] in locs(admin.post(f"{API}/items", json=bad_item))
    assert ["body", "category"] in locs(
        admin.post(f"{API}/items", json={**bad_item, "time_limit_days": 3, "category": "x"})
    )


def test_the_catalogue_is_kept_by_the_township_admin_with_a_version_check(town: Town) -> None:
    admin = town.sanmin.client_as("township_admin", TOWNSHIP)
    assert admin.post(f"{API}/items/defaults").json() == {"added": 0}  # loaded already
    created = admin.post(
        f"{API}/items",
        json={
            "name": "老年人优待证办理",
            "category": "pension",
            "materials": ["身份证", "一寸照片"],
            "time_limit_days": 5,
        },
    )
    assert created.status_code == 201, created.text
    item = created.json()
    assert town.resident.client.post(f"{API}/items", json={**item, "name": "x"}).status_code == 403
    edit = {**{k: item[k] for k in ("name", "category", "materials")}, "time_limit_days": 7}
    first = admin.put(f"{API}/items/{item['id']}", json={**edit, "version": 1})
    assert (first.status_code, first.json()["version"]) == (200, 2)
    stale = admin.put(f"{API}/items/{item['id']}", json={**edit, "active": False, "version": 1})
    assert stale.status_code == 409 and "version" in stale.json()["detail"]
    names = [i["name"] for i in town.resident.client.get(f"{API}/items").json()]
    assert "老年人优待证办理" in names and len(names) == 11


# -- pages -------------------------------------------------------------------------------


def test_a_resident_orders_on_the_page_and_the_branch_dispatches_on_its_board(
    town: Town,
) -> None:
    resident = town.resident.client
    picked = resident.get(f"{PAGES}/order", params={"unit": GRID})
    assert picked.status_code == 200 and CERTIFICATE in picked.text
    form = resident.get(f"{PAGES}/order/{town.items[CERTIFICATE]}", params={"unit": GRID})
    assert "户口簿" in form.text  # the materials to prepare
    key = re.search(r'name="submission_key" value="([^"]+)"', form.text)
    assert key
    data = {**ORDER, "submission_key": key.group(1)}
    bad = resident.post(
        f"{PAGES}/order/{town.items[CERTIFICATE]}",
        params={"unit": GRID},
        data={**data, "requester_phone": "x"},
    )
    assert bad.status_code == 422 and 'id="e-requester-phone"' in bad.text
    posted = resident.post(
        f"{PAGES}/order/{town.items[CERTIFICATE]}",
        params={"unit": GRID},
        data=data,
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text
    page = resident.get(posted.headers["location"])
    assert "点单成功" in page.text and 'data-state="ordered"' in page.text
    order_id = int(re.search(r"/orders/(\d+)", posted.headers["location"]).group(1))  # type: ignore[union-attr]
    assert f'data-order="{order_id}"' in resident.get(f"{PAGES}/mine").text

    secretary = town.secretary.client
    board = secretary.get(f"{PAGES}/board", params={"unit": VILLAGE})
    assert f'data-order="{order_id}"' in board.text and "张三丰" in board.text
    order = secretary.get(f"{PAGES}/orders/{order_id}", params={"unit": VILLAGE})
    assert 'id="step-dispatch"' in order.text
    assert '<option value="agent">王红梅（05708881234）</option>' in order.text  # on duty
    stale = secretary.post(
        f"{PAGES}/orders/{order_id}/transitions/dispatch",
        data={"version": "9", "inputs.assignee": "agent"},
    )
    assert stale.status_code == 409 and "请刷新后重试" in stale.text
    moved = secretary.post(
        f"{PAGES}/orders/{order_id}/transitions/dispatch",
        data={"version": "1", "inputs.assignee": "agent"},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    tasks = town.agent.client.get(f"{PAGES}/tasks")
    assert f'data-order="{order_id}"' in tasks.text and "在岗" in tasks.text
    off = town.agent.client.post(
        f"{PAGES}/tasks/duty", data={"on_duty": "0"}, follow_redirects=False
    )
    assert off.status_code == 303
    assert 'class="good">在岗' not in town.agent.client.get(f"{PAGES}/tasks").text


def test_the_party_member_records_the_papers_on_the_order_page(town: Town) -> None:
    order = step(town, town.agent.actor, dispatch(town, place(town)), "take")
    agent = town.agent.client
    url = f"{PAGES}/orders/{order.id}"
    letter = agent.post(
        f"{url}/authorization",
        data={
            "principal": "张三丰",
            "powers": "代为递交材料",
            "signed_on": "2026-11-27",
            "valid_until": "2027-02-27",
            "sign_method": "按手印",
        },
        follow_redirects=False,
    )
    assert letter.status_code == 303, letter.text
    handed = agent.post(
        f"{url}/handovers",
        data={"what": "户口簿原件", "quantity": "1", "from_party": "张三丰", "to_party": "王红梅"},
        follow_redirects=False,
    )
    assert handed.status_code == 303, handed.text
    page = agent.get(url).text
    assert "按手印" in page and "户口簿原件" in page and 'id="step-finish"' in page
    finished = agent.post(
        f"{url}/transitions/finish",
        data={"version": "3", "inputs.result": "证明已开具", "inputs.delivery": "当面送达"},
        follow_redirects=False,
    )
    assert finished.status_code == 303, finished.text
    public = town.resident.client.get(f"{PAGES}/public").text
    assert "户籍证明开具" in public and "张**" in public and "按期办结" in public


def test_the_catalogue_pages_load_defaults_add_and_edit(town: Town) -> None:
    admin = town.sanmin.client_as("township_admin", TOWNSHIP)
    page = admin.get(f"{PAGES}/catalogue")
    assert CERTIFICATE in page.text and 'id="load-defaults"' in page.text
    assert 'id="load-defaults"' not in town.resident.client.get(f"{PAGES}/catalogue").text
    bad = admin.post(
        f"{PAGES}/catalogue/new",
        data={"name": "代领快递", "category": "payment", "time_limit_days": "99"},
    )
    assert bad.status_code == 422 and 'id="e-time-limit-days"' in bad.text
    added = admin.post(
        f"{PAGES}/catalogue/new",
        data={
            "name": "代领快递",
            "category": "payment",
            "time_limit_days": "1",
            "materials": "取件码\n身份证复印件",
            "active": "1",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    items = admin.get(f"{API}/items").json()
    found = next(i for i in items if i["name"] == "代领快递")
    assert found["materials"] == ["取件码", "身份证复印件"]
    assert found["needs_authorization"] is False  # an unticked box
    edit = admin.get(f"{PAGES}/catalogue/{found['id']}")
    assert "代领快递" in edit.text
    saved = admin.post(
        f"{PAGES}/catalogue/{found['id']}",
        data={"name": "代领快递", "category": "payment", "time_limit_days": "2", "version": "1"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    everything = admin.get(f"{API}/items", params={"all": "true"}).json()
    assert next(i for i in everything if i["id"] == found["id"])["active"] is False
    assert admin.post(f"{PAGES}/catalogue/defaults", follow_redirects=False).status_code == 303


# -- the workbench -------------------------------------------------------------------------


def panel(page: str, title: str) -> str | None:
    """The HTML of the workbench panel titled ``title`` (its count, items and link), or
    ``None`` when the page has none."""
    found = re.search(
        rf'<section class="panel"[^>]*>\s*<h2[^>]*>{title}(.*?)</section>', page, re.S
    )
    return found.group(1) if found else None


def test_the_workbench_shows_my_orders_and_those_awaiting_dispatch_where_the_practice_is_on(
    town: Town, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = NOW - timedelta(days=3)  # a Tuesday: every deadline of that day has passed
    waiting_late = place(town, item=PENSION_CHECK, at=earlier)
    waiting = place(town)
    taken_late = dispatch(town, place(town, at=earlier), at=earlier)
    taken = step(town, town.agent.actor, dispatch(town, place(town)), "take")
    link = f"{PAGES}/orders/{{}}?unit={GRID}"

    mine = panel(town.agent.client.get("/admin").text, "我的接单")
    assert mine is not None and "2 件待办理，1 件已超期" in mine
    assert mine.index(link.format(taken_late.id)) < mine.index(link.format(taken.id))  # due first
    assert "已超期 · 已派单" in mine and "办理中 · 期限" in mine
    assert f'href="{PAGES}/tasks?unit={VILLAGE}"' in mine
    assert panel(town.agent.client.get("/admin").text, "待派单") is None  # no 派单 rights

    board = town.secretary.client.get("/admin").text
    awaiting = panel(board, "待派单")
    assert awaiting is not None and "2 件待派单，1 件已超期" in awaiting
    assert awaiting.index(link.format(waiting_late.id)) < awaiting.index(link.format(waiting.id))
    assert "已超期 · 已点单" in awaiting and "张三丰" in awaiting  # the branch calls back
    assert link.format(taken.id) not in awaiting
    assert f'href="{PAGES}/board?unit={VILLAGE}&amp;state=ordered"' in awaiting
    assert "没有派给您的未办结代办单。" in (panel(board, "我的接单") or "")
    built = workbench.head_statement.cache_info().currsize  # each shape built once, reused
    again = town.secretary.client.get("/admin").text
    assert panel(again, "待派单") == awaiting
    assert panel(again, "我的接单") == panel(board, "我的接单")
    assert workbench.head_statement.cache_info().currsize == built

    worker = town.sanmin.client_as("grid_worker", GRID).get("/admin").text  # reads, no more
    assert panel(worker, "我的接单") is None and panel(worker, "待派单") is None

    monkeypatch.setattr(workbench, "COUNT_LIMIT", 1)  # counted up to the first, due soonest
    cut = panel(town.secretary.client.get("/admin").text, "待派单")
    assert cut is not None and "1 件以上待派单，1 件已超期" in cut
    assert link.format(waiting_late.id) in cut and link.format(waiting.id) not in cut
    monkeypatch.undo()

    town.sanmin.disable(PLUGIN, TOWNSHIP)
    for client in (town.agent.client, town.secretary.client):
        page = client.get("/admin").text
        assert panel(page, "我的接单") is None and panel(page, "待派单") is None


# -- scope -------------------------------------------------------------------------------


def test_every_route_answers_404_outside_the_scope(sanmin: Sanmin) -> None:
    fushan = open_town(sanmin)
    open_town(sanmin, OTHER_TOWNSHIP, prefix="b-")
    sanmin.unit(OTHER_VILLAGE + "001")
    order = place(fushan)
    order_url = f"/orders/{order.id}"
    cases = [
        # (method, path, role, inside, outside, request keyword arguments)
        ("GET", f"{API}/items?unit={GRID}", "resident", GRID, OTHER_TOWNSHIP_GRID, {}),
        (
            "POST",
            f"{API}/items/defaults?unit={TOWNSHIP}",
            "township_admin",
            TOWNSHIP,
            OTHER_TOWNSHIP,
            {},
        ),
        ("GET", f"{API}/agents?unit={VILLAGE}", "village_cadre", VILLAGE, OTHER_VILLAGE, {}),
        (
            "PUT",
            f"{API}/agents/me?unit={VILLAGE}",
            "red_proxy_agent",
            VILLAGE,
            OTHER_VILLAGE,
            {"json": {"on_duty": True}},
        ),
        ("GET", f"{API}/orders?unit={VILLAGE}", "red_proxy_secretary", VILLAGE, OTHER_VILLAGE, {}),
        ("GET", f"{API}{order_url}", "red_proxy_secretary", VILLAGE, OTHER_VILLAGE, {}),
        (
            "POST",
            f"{API}{order_url}/handovers",
            "red_proxy_secretary",
            VILLAGE,
            OTHER_VILLAGE,
            {"json": {"what": "身份证复印件", "from_party": "张三丰", "to_party": "李书记"}},
        ),
        ("GET", f"{API}/public?unit={GRID}", "resident", GRID, OTHER_TOWNSHIP_GRID, {}),
        ("GET", f"{PAGES}/?unit={GRID}", "resident", GRID, OTHER_TOWNSHIP_GRID, {}),
        ("GET", f"{PAGES}/order?unit={GRID}", "resident", GRID, OTHER_TOWNSHIP_GRID, {}),
        (
            "GET",
            f"{PAGES}/order/{fushan.items[CERTIFICATE]}?unit={GRID}",
            "resident",
            GRID,
            OTHER_TOWNSHIP_GRID,
            {},
        ),
        ("GET", f"{PAGES}/mine?unit={GRID}", "resident", GRID, OTHER_TOWNSHIP_GRID, {}),
        ("GET", f"{PAGES}/board?unit={VILLAGE}", "red_proxy_secretary", VILLAGE, OTHER_VILLAGE, {}),
        ("GET", f"{PAGES}/tasks?unit={VILLAGE}", "red_proxy_agent", VILLAGE, OTHER_VILLAGE, {}),
        ("GET", f"{PAGES}/public?unit={GRID}", "resident", GRID, OTHER_TOWNSHIP_GRID, {}),
        ("GET", f"{PAGES}{order_url}", "red_proxy_secretary", VILLAGE, OTHER_VILLAGE, {}),
        (
            "GET",
            f"{PAGES}/catalogue?unit={TOWNSHIP}",
            "township_admin",
            TOWNSHIP,
            OTHER_TOWNSHIP,
            {},
        ),
        (
            "GET",
            f"{PAGES}/catalogue/new?unit={TOWNSHIP}",
            "township_admin",
            TOWNSHIP,
            OTHER_TOWNSHIP,
            {},
        ),
        (
            "GET",
            f"{PAGES}/catalogue/{fushan.items[CERTIFICATE]}?unit={TOWNSHIP}",
            "township_admin",
            TOWNSHIP,
            OTHER_TOWNSHIP,
            {},
        ),
        (
            "PUT",
            f"{API}/items/{fushan.items[CERTIFICATE]}?unit={TOWNSHIP}",
            "township_admin",
            TOWNSHIP,
            OTHER_TOWNSHIP,
            {
                "json": {
                    "name": CERTIFICATE,
                    "category": "certificate",
                    "time_limit_days": 2,
                    "version": 1,
                }
            },
        ),
    ]
    for method, path, role, inside, outside, kwargs in cases:
        sanmin.assert_scoped(method, path, role=role, inside=inside, outside=outside, **kwargs)
    # the writes: a stranger to the order gets 404, never 403
    stranger = sanmin.client_as("red_proxy_secretary", OTHER_VILLAGE)
    letter = {
        "principal": "张三丰",
        "powers": "代为办理",
        "signed_on": "2026-11-27",
        "valid_until": "2027-02-27",
        "sign_method": "手写签名",
    }
    writes = [
        ("POST", f"{API}/orders?unit={GRID}", {"json": {**ORDER, "item_id": 1}}),
        (
            "POST",
            f"{API}{order_url}/transitions/withdraw",
            {"json": {"version": 1, "inputs": {"reason": "x"}}},
        ),
        ("POST", f"{API}{order_url}/authorization", {"json": letter}),
        ("POST", f"{PAGES}{order_url}/transitions/withdraw", {"data": {"version": "1"}}),
        ("POST", f"{PAGES}{order_url}/authorization", {"data": {}}),
        ("POST", f"{PAGES}{order_url}/handovers", {"data": {}}),
        ("POST", f"{PAGES}/order/{fushan.items[CERTIFICATE]}?unit={GRID}", {"data": ORDER}),
        ("POST", f"{PAGES}/tasks/duty?unit={GRID}", {"data": {"on_duty": "1"}}),
        ("POST", f"{PAGES}/catalogue/defaults?unit={TOWNSHIP}", {}),
        ("POST", f"{PAGES}/catalogue/new?unit={TOWNSHIP}", {"data": {}}),
        ("POST", f"{PAGES}/catalogue/1?unit={TOWNSHIP}", {"data": {}}),
        ("POST", f"{API}/items?unit={TOWNSHIP}", {"json": {}}),
    ]
    for method, path, kwargs in writes:
        answer = stranger.request(method, path, **kwargs)
        assert answer.status_code == 404, (path, answer.status_code, answer.text[:200])
    seen = fushan.secretary.client.get(f"{API}{order_url}").json()
    assert (seen["state"], seen["authorization"]) == ("ordered", None)
    assert [h["what"] for h in seen["handovers"]] == ["身份证复印件"]  # the inside case's
