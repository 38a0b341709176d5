"""Managing accounts and role assignments within an administrator's scope: API and pages.

Every test runs on SQLite and PostgreSQL. The township admin works in 府山街道-like
330802001000; the next township, 330802002000, is outside its scope.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from core import Permission, Role, hookimpl
from core.audit.models import AuditEntry
from core.identity.access import LOCAL
from core.testing import TEST_PASSWORD, all_routes
from tests.helpers import manifest

HOME, NEXT = "330802001000", "330802002000"
VILLAGE, GRID = "330802001001", "330802001001001"
NEXT_VILLAGE = "330802002001"
NEW_PASSWORD = "a-long-enough-password"
HTML = {"Accept": "text/html"}


class ProbePlugin:
    """A plugin role whose permission no core role holds: granting it is an escalation."""

    PLUGIN = manifest("probe")

    @hookimpl
    def register_permissions(self) -> list[Permission]:
        return [Permission("probe.secret", "探针机密", granted_to=("probe_keeper",))]

    @hookimpl
    def register_roles(self) -> list[Role]:
        return [Role("probe_keeper", "探针保管员", LOCAL, frozenset({"units.read"}))]


@pytest.fixture
def sanmin_plugins():  # type: ignore[no-untyped-def]
    return []


@pytest.fixture
def sanmin_extra_plugins():  # type: ignore[no-untyped-def]
    return [("probe", ProbePlugin())]


@pytest.fixture
def units(sanmin):  # type: ignore[no-untyped-def]
    for code in (GRID, NEXT_VILLAGE):
        sanmin.unit(code)
    return sanmin


def admin_of(sanmin, unit: str = HOME, username: str = "fushan-admin") -> TestClient:  # type: ignore[no-untyped-def]
    return sanmin.client_as("township_admin", unit, username)


def new_account(username: str, role: str, unit_code: str, **extra: str) -> dict[str, str]:
    return {
        "username": username,
        "password": NEW_PASSWORD,
        "display_name": extra.get("display_name", ""),
        "role": role,
        "unit_code": unit_code,
    }


def usernames(answer) -> list[str]:  # type: ignore[no-untyped-def]
    assert answer.status_code == 200, answer.text
    return [a["username"] for a in answer.json()]


def audit(sanmin, action: str) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    with Session(sanmin.engine) as session:
        return list(
            session.exec(
                select(AuditEntry).where(AuditEntry.action == action).order_by(col(AuditEntry.id))
            )
        )


# -- API -----------------------------------------------------------------------------------


def test_a_township_admin_lists_creates_and_grants_within_the_township(units) -> None:
    sanmin = units
    sanmin.account("grid_worker", GRID, "wang-grid")
    sanmin.account("grid_worker", NEXT_VILLAGE, "li-next")
    admin = admin_of(sanmin)
    assert usernames(admin.get("/api/v1/accounts")) == ["fushan-admin", "wang-grid"]

    created = admin.post(
        "/api/v1/accounts",
        json=new_account("chen-cadre", "village_cadre", VILLAGE, display_name="陈干部"),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["username"] == "chen-cadre" and body["display_name"] == "陈干部"
    assert body["active"] is True and body["roles_elsewhere"] == 0
    [role] = body["roles"]
    assert role["role"] == "village_cadre" and role["title"] == "村社干部"
    assert role["unit_code"] == VILLAGE and role["unit_name"]

    grant = admin.post(
        f"/api/v1/accounts/{body['id']}/roles", json={"role": "volunteer", "unit_code": GRID}
    )
    assert grant.status_code == 201 and grant.json()["unit_code"] == GRID
    again = admin.post(
        f"/api/v1/accounts/{body['id']}/roles", json={"role": "volunteer", "unit_code": GRID}
    )
    assert again.status_code == 201 and again.json()["id"] == grant.json()["id"]  # idempotent
    detail = admin.get(f"/api/v1/accounts/{body['id']}").json()
    assert [(r["role"], r["unit_code"]) for r in detail["roles"]] == [
        ("village_cadre", VILLAGE),
        ("volunteer", GRID),
    ]
    grants = [e.after for e in audit(sanmin, "role.grant") if e.actor == "account:fushan-admin"]
    assert grants == [
        {"role": "village_cadre", "unit": VILLAGE},
        {"role": "volunteer", "unit": GRID},
    ]

    listed = admin.get("/api/v1/accounts", params={"role": "village_cadre"})
    assert usernames(listed) == ["chen-cadre"]
    assert usernames(admin.get("/api/v1/accounts", params={"under": GRID})) == [
        "chen-cadre",
        "wang-grid",
    ]
    assert usernames(admin.get("/api/v1/accounts", params={"q": "WANG"})) == ["wang-grid"]
    assert usernames(admin.get("/api/v1/accounts", params={"q": "%"})) == []
    assert usernames(admin.get("/api/v1/accounts", params={"active": "false"})) == []
    assert usernames(admin.get("/api/v1/accounts", params={"limit": 1, "offset": 1})) == [
        "fushan-admin"
    ]
    assert admin.get("/api/v1/accounts", params={"under": NEXT}).status_code == 404
    assert admin.get("/api/v1/accounts", params={"role": "nobody"}).status_code == 422
    # The province's system administrator sees everyone.
    everyone = usernames(sanmin.client.get("/api/v1/accounts"))
    assert {"li-next", "chen-cadre", "admin"} <= set(everyone)


def test_an_account_whose_roles_are_all_in_the_next_township_is_not_found(units) -> None:
    sanmin = units
    other = sanmin.account("grid_worker", NEXT_VILLAGE, "li-next")
    admin = admin_of(sanmin)
    for answer in (
        admin.get(f"/api/v1/accounts/{other.id}"),
        admin.post(
            f"/api/v1/accounts/{other.id}/roles", json={"role": "volunteer", "unit_code": GRID}
        ),
        admin.post(f"/api/v1/accounts/{other.id}/deactivate"),
        admin.post(f"/api/v1/accounts/{other.id}/activate"),
        admin.delete(f"/api/v1/accounts/{other.id}/roles/1"),
        admin.get(f"/admin/accounts/{other.id}", headers=HTML),
    ):
        assert answer.status_code == 404, answer.text
    assert admin.get("/api/v1/accounts/999999").status_code == 404


def test_roles_outside_the_scope_are_counted_not_shown_and_block_deactivation(units) -> None:
    sanmin = units
    both = sanmin.account("grid_worker", GRID, "two-places")
    with sanmin.session() as session:
        from core.identity.service import grant_role

        grant_role(
            session, sanmin.kernel.access, both, role="volunteer", unit_code=NEXT_VILLAGE, by="test"
        )
    admin = admin_of(sanmin)
    seen = admin.get(f"/api/v1/accounts/{both.id}").json()
    assert [r["unit_code"] for r in seen["roles"]] == [GRID] and seen["roles_elsewhere"] == 1
    refused = admin.post(f"/api/v1/accounts/{both.id}/deactivate")
    assert refused.status_code == 403 and "account" in refused.json()["detail"]
    assert admin.get(f"/api/v1/accounts/{both.id}").json()["active"] is True
    assert admin.get("/api/v1/accounts", params={"role": "volunteer"}).json() == []


def test_a_township_admin_cannot_grant_or_create_above_or_beside_the_township(units) -> None:
    sanmin = units
    target = sanmin.account("grid_worker", GRID, "wang-grid")
    admin = admin_of(sanmin)
    county = admin.post(
        f"/api/v1/accounts/{target.id}/roles",
        json={"role": "county_admin", "unit_code": "330802000000"},
    )
    assert county.status_code in (403, 404) and "unit_code" in county.json()["detail"]
    beside = admin.post(
        f"/api/v1/accounts/{target.id}/roles", json={"role": "township_admin", "unit_code": NEXT}
    )
    assert beside.status_code == 404 and "unit_code" in beside.json()["detail"]
    created = admin.post("/api/v1/accounts", json=new_account("zhou", "grid_worker", NEXT_VILLAGE))
    assert created.status_code == 404
    wrong_level = admin.post(
        f"/api/v1/accounts/{target.id}/roles", json={"role": "county_admin", "unit_code": HOME}
    )
    assert wrong_level.status_code == 422 and wrong_level.json()["detail"].startswith("role:")
    assert not [e for e in audit(sanmin, "role.grant") if e.actor == "account:fushan-admin"]
    assert audit(sanmin, "account.create") == []


def test_nobody_grants_more_than_they_hold(units) -> None:
    sanmin = units
    cadre = sanmin.client_as("village_cadre", VILLAGE, "cadre")
    assert usernames(cadre.get("/api/v1/accounts")) == ["cadre"]  # accounts.read, not manage
    refused = cadre.post("/api/v1/accounts", json=new_account("zhou-vol", "volunteer", VILLAGE))
    assert refused.status_code == 403 and refused.json()["permission"] == "accounts.manage"
    target = sanmin.account("grid_worker", GRID, "wang-grid")
    grant = cadre.post(
        f"/api/v1/accounts/{target.id}/roles", json={"role": "volunteer", "unit_code": GRID}
    )
    assert grant.status_code == 403

    admin = admin_of(sanmin)
    escalation = admin.post(
        f"/api/v1/accounts/{target.id}/roles", json={"role": "probe_keeper", "unit_code": GRID}
    )
    assert escalation.status_code == 403
    detail = escalation.json()["detail"]
    assert detail.startswith("role:") and "probe_keeper" in detail and "probe.secret" in detail
    create = admin.post("/api/v1/accounts", json=new_account("probe-1", "probe_keeper", VILLAGE))
    assert create.status_code == 403 and "probe_keeper" in create.json()["detail"]
    # A peer role is no escalation: a township admin may appoint another at the township.
    peer = admin.post(
        f"/api/v1/accounts/{target.id}/roles", json={"role": "township_admin", "unit_code": HOME}
    )
    assert peer.status_code == 201


def test_an_admin_cannot_deactivate_or_demote_themselves(units) -> None:
    sanmin = units
    admin = admin_of(sanmin)
    me = admin.get("/api/v1/accounts", params={"q": "fushan-admin"}).json()[0]
    refused = admin.post(f"/api/v1/accounts/{me['id']}/deactivate")
    assert refused.status_code == 403 and refused.json()["detail"].startswith("account:")
    revoke = admin.delete(f"/api/v1/accounts/{me['id']}/roles/{me['roles'][0]['id']}")
    assert revoke.status_code == 403
    assert admin.get("/api/v1/auth/me").status_code == 200
    assert audit(sanmin, "account.deactivate") == []


def test_deactivation_ends_the_accounts_tokens_at_once(units) -> None:
    sanmin = units
    worker = sanmin.client_as("grid_worker", GRID, "wang-grid")
    assert worker.get("/api/v1/auth/me").status_code == 200
    admin = admin_of(sanmin)
    target = admin.get("/api/v1/accounts", params={"q": "wang-grid"}).json()[0]
    done = admin.post(f"/api/v1/accounts/{target['id']}/deactivate")
    assert done.status_code == 200 and done.json()["active"] is False
    assert worker.get("/api/v1/auth/me").status_code == 401
    assert usernames(admin.get("/api/v1/accounts", params={"active": "false"})) == ["wang-grid"]
    back = admin.post(f"/api/v1/accounts/{target['id']}/activate")
    assert back.status_code == 200 and back.json()["active"] is True
    assert worker.get("/api/v1/auth/me").status_code == 401  # old tokens stay revoked
    login = sanmin.anonymous.post(
        "/api/v1/auth/token", data={"username": "wang-grid", "password": TEST_PASSWORD}
    )
    assert login.status_code == 200
    [entry] = audit(sanmin, "account.deactivate")
    assert entry.actor == "account:fushan-admin" and entry.target_id == str(target["id"])
    assert len(audit(sanmin, "account.activate")) == 1


def test_revoking_a_role(units) -> None:
    sanmin = units
    admin = admin_of(sanmin)
    account = admin.post("/api/v1/accounts", json=new_account("zhao-vol", "volunteer", GRID)).json()
    [only] = account["roles"]
    last = admin.delete(f"/api/v1/accounts/{account['id']}/roles/{only['id']}")
    assert last.status_code == 409  # the last role: deactivate instead
    extra = admin.post(
        f"/api/v1/accounts/{account['id']}/roles",
        json={"role": "party_member", "unit_code": VILLAGE},
    ).json()
    other = sanmin.account("grid_worker", GRID, "wang-grid")
    wrong_account = admin.delete(f"/api/v1/accounts/{other.id}/roles/{extra['id']}")
    assert wrong_account.status_code == 404
    gone = admin.delete(f"/api/v1/accounts/{account['id']}/roles/{extra['id']}")
    assert gone.status_code == 204
    assert [r["role"] for r in admin.get(f"/api/v1/accounts/{account['id']}").json()["roles"]] == [
        "volunteer"
    ]
    [entry] = audit(sanmin, "role.revoke")
    assert entry.actor == "account:fushan-admin" and entry.unit_code == VILLAGE
    assert entry.before == {"role": "party_member", "unit": VILLAGE}
    [created] = audit(sanmin, "account.create")
    assert created.actor == "account:fushan-admin" and created.after == {"username": "zhao-vol"}


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"username": "X"}, 422, "username"),
        ({"password": "short"}, 422, "password"),
        ({"password": "zhou-wu-secret-1"}, 422, "password"),  # contains the username
        ({"unit_code": "33080200100"}, 422, "unit_code"),
        ({"role": "nobody"}, 422, "role"),
        ({"role": "grid_worker", "unit_code": HOME}, 422, "role"),  # wrong level
        ({"username": "wang-grid"}, 409, "username"),
    ],
)
def test_validation_errors_name_the_field(units, change, status, field) -> None:  # type: ignore[no-untyped-def]
    sanmin = units
    sanmin.account("grid_worker", GRID, "wang-grid")
    admin = admin_of(sanmin)
    answer = admin.post(
        "/api/v1/accounts", json={**new_account("zhou-wu", "volunteer", GRID), **change}
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["detail"].startswith(f"{field}:")
    assert audit(sanmin, "account.create") == []


def test_a_missing_or_overlong_field_is_named(units) -> None:
    admin = admin_of(units)
    body = new_account("zhou-wu", "volunteer", GRID, display_name="长" * 101)
    answer = admin.post("/api/v1/accounts", json=body)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "display_name"]
    missing = admin.post("/api/v1/accounts", json={"username": "zhou-wu"})
    assert {e["loc"][-1] for e in missing.json()["detail"]} >= {"password", "role", "unit_code"}


# -- pages ---------------------------------------------------------------------------------


def csrf_of(page) -> str:  # type: ignore[no-untyped-def]
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "form without csrf_token"
    return found[1]


def test_the_pages_list_create_grant_and_deactivate(units) -> None:
    sanmin = units
    sanmin.account("grid_worker", GRID, "wang-grid")
    browser = sanmin.client  # the province's system administrator
    listing = browser.get("/admin/accounts", headers=HTML)
    assert listing.status_code == 200 and "wang-grid" in listing.text
    assert 'href="/admin/accounts"' in listing.text  # the menu link
    assert 'href="/admin/accounts/new"' in listing.text
    filtered = browser.get("/admin/accounts", params={"q": "nobody"}, headers=HTML)
    assert "wang-grid" not in filtered.text and "没有符合条件的账号" in filtered.text
    bad_filter = browser.get("/admin/accounts", params={"under": "123"}, headers=HTML)
    assert bad_filter.status_code == 422 and "under:" in bad_filter.text

    form = browser.get("/admin/accounts/new", headers=HTML)
    assert form.status_code == 200 and csrf_of(form)
    assert 'value="township_admin"' in form.text
    fields = new_account("xu-cadre", "village_cadre", VILLAGE, display_name="徐干部")
    refused = browser.post(
        "/admin/accounts/new", data={**fields, "password": "short"}, headers=HTML
    )
    assert refused.status_code == 422 and "password:" in refused.text
    assert 'value="xu-cadre"' in refused.text and csrf_of(refused)  # the form, kept filled in
    created = browser.post("/admin/accounts/new", data=fields, headers=HTML, follow_redirects=False)
    assert created.status_code == 303
    location = created.headers["location"]
    assert re.fullmatch(r"/admin/accounts/\d+\?done=created", location)
    detail = browser.get(location, headers=HTML)
    assert detail.status_code == 200 and "账号已创建" in detail.text and "徐干部" in detail.text
    assert detail.text.count('name="csrf_token"') >= 3  # grant, deactivate, logout
    base = location.split("?")[0]

    wrong = browser.post(
        f"{base}/roles", data={"role": "volunteer", "unit_code": "1"}, headers=HTML
    )
    assert wrong.status_code == 422 and "unit_code:" in wrong.text and csrf_of(wrong)
    granted = browser.post(
        f"{base}/roles",
        data={"role": "volunteer", "unit_code": GRID},
        headers=HTML,
        follow_redirects=False,
    )
    assert granted.status_code == 303 and granted.headers["location"] == f"{base}?done=granted"
    detail = browser.get(base, headers=HTML)
    revoke = re.search(rf'action="({base}/roles/\d+/revoke)"', detail.text)
    assert revoke, "a revoke button for each role"
    revoked = browser.post(revoke[1], headers=HTML, follow_redirects=False)
    assert revoked.status_code == 303
    off = browser.post(f"{base}/deactivate", headers=HTML, follow_redirects=False)
    assert off.status_code == 303 and off.headers["location"] == f"{base}?done=deactivated"
    detail = browser.get(off.headers["location"], headers=HTML)
    assert "账号已停用" in detail.text and f'action="{base}/activate"' in detail.text
    on = browser.post(f"{base}/activate", headers=HTML, follow_redirects=False)
    assert on.status_code == 303
    actions = [e.action for e in audit(sanmin, "account.create")] + [
        e.action for e in audit(sanmin, "role.revoke")
    ]
    assert actions == ["account.create", "role.revoke"]


def test_a_cookie_session_needs_the_csrf_token_on_every_form(units) -> None:
    sanmin = units
    sanmin.account("township_admin", HOME, "fushan-admin")
    browser = TestClient(sanmin.app)
    login = browser.get("/login")
    answer = browser.post(
        "/login",
        data={"username": "fushan-admin", "password": TEST_PASSWORD, "csrf_token": csrf_of(login)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    form = browser.get("/admin/accounts/new", headers=HTML)
    assert form.status_code == 200
    token = csrf_of(form)
    fields = new_account("he-vol", "volunteer", GRID)
    forged = browser.post("/admin/accounts/new", data=fields, headers=HTML, follow_redirects=False)
    assert forged.status_code == 403 and "csrf_token" in forged.text
    assert audit(sanmin, "account.create") == []
    done = browser.post(
        "/admin/accounts/new",
        data={**fields, "csrf_token": token},
        headers=HTML,
        follow_redirects=False,
    )
    assert done.status_code == 303
    base = done.headers["location"].split("?")[0]
    no_token = browser.post(f"{base}/deactivate", headers=HTML, follow_redirects=False)
    assert no_token.status_code == 403
    with_token = browser.post(
        f"{base}/deactivate", data={"csrf_token": token}, headers=HTML, follow_redirects=False
    )
    assert with_token.status_code == 303
    me = browser.get("/admin/accounts", params={"q": "fushan"}, headers=HTML)
    own = re.search(r'href="(/admin/accounts/\d+)">fushan-admin', me.text)
    assert own
    mine = browser.get(own[1], headers=HTML)
    assert "不能停用自己" in mine.text and "/deactivate" not in mine.text
    refused = browser.post(
        f"{own[1]}/deactivate", data={"csrf_token": token}, headers=HTML, follow_redirects=False
    )
    assert refused.status_code == 403 and "不能停用自己的账号" in refused.text


def test_the_menu_shows_the_link_only_to_account_readers(units) -> None:
    sanmin = units
    volunteer = sanmin.client_as("volunteer", GRID)
    page = volunteer.get("/", headers=HTML)
    assert page.status_code == 200 and 'href="/admin/accounts"' not in page.text
    assert volunteer.get("/admin/accounts", headers=HTML).status_code == 403
    assert volunteer.get("/api/v1/accounts").status_code == 403
    cadre = sanmin.client_as("village_cadre", VILLAGE)
    page = cadre.get("/admin/accounts", headers=HTML)
    assert page.status_code == 200 and 'href="/admin/accounts"' in page.text
    assert 'href="/admin/accounts/new"' not in page.text  # reads, does not manage
    assert cadre.get("/admin/accounts/new", headers=HTML).status_code == 403


# -- scope on every route (sanmin.assert_scoped) ---------------------------------------------

NEXT_GRID = "330802002001001"
# (method, url, body); {id} is an account with two roles in GRID, {aid} its second one.
SCOPE_CASES = [
    ("GET", f"/api/v1/accounts?under={GRID}", None),
    ("GET", "/api/v1/accounts/{id}", None),
    ("POST", "/api/v1/accounts", {"json": new_account("scoped-new", "volunteer", GRID)}),
    ("POST", "/api/v1/accounts/{id}/roles", {"json": {"role": "party_member", "unit_code": GRID}}),
    ("DELETE", "/api/v1/accounts/{id}/roles/{aid}", None),
    ("POST", "/api/v1/accounts/{id}/deactivate", None),
    ("POST", "/api/v1/accounts/{id}/activate", None),
    ("GET", f"/admin/accounts?under={GRID}", None),
    ("GET", "/admin/accounts/{id}", None),
    ("POST", "/admin/accounts/new", {"data": new_account("scoped-new", "volunteer", GRID)}),
    ("POST", "/admin/accounts/{id}/roles", {"data": {"role": "party_member", "unit_code": GRID}}),
    ("POST", "/admin/accounts/{id}/roles/{aid}/revoke", None),
    ("POST", "/admin/accounts/{id}/deactivate", None),
    ("POST", "/admin/accounts/{id}/activate", None),
]
# Every route of the accounts plugin but the blank form /admin/accounts/new (GET).
SCOPED_PATHS = {
    "/api/v1/accounts",
    "/api/v1/accounts/{account_id}",
    "/api/v1/accounts/{account_id}/roles",
    "/api/v1/accounts/{account_id}/roles/{assignment_id}",
    "/api/v1/accounts/{account_id}/deactivate",
    "/api/v1/accounts/{account_id}/activate",
    "/admin/accounts",
    "/admin/accounts/new",
    "/admin/accounts/{account_id}",
    "/admin/accounts/{account_id}/roles",
    "/admin/accounts/{account_id}/roles/{assignment_id}/revoke",
    "/admin/accounts/{account_id}/deactivate",
    "/admin/accounts/{account_id}/activate",
}


def test_the_scope_cases_cover_every_route_of_the_plugin(sanmin) -> None:  # type: ignore[no-untyped-def]
    ours = {
        path
        for path, _ in all_routes(sanmin.app)
        if path.startswith(("/api/v1/accounts", "/admin/accounts"))
    }
    assert ours == SCOPED_PATHS


@pytest.mark.parametrize(("method", "url", "body"), SCOPE_CASES)
def test_every_route_answers_404_outside_the_scope(sanmin, method, url, body) -> None:  # type: ignore[no-untyped-def]
    from core.identity.service import grant_role

    sanmin.unit(NEXT_GRID)
    target = sanmin.account("grid_worker", GRID, "scoped-target")
    with sanmin.session() as session:
        second = grant_role(
            session, sanmin.kernel.access, target, role="volunteer", unit_code=GRID, by="test"
        )
    url = url.format(id=target.id, aid=second.id)
    headers = HTML if url.startswith("/admin/") else {}
    sanmin.assert_scoped(
        method,
        url,
        role="township_admin",
        inside=HOME,
        outside=NEXT,
        headers=headers,
        **(body or {}),
    )


# -- the last role under concurrency ----------------------------------------------------------


def test_concurrent_revokes_of_the_last_two_roles_leave_one(units) -> None:  # type: ignore[no-untyped-def]
    """Two administrators revoke the account's two roles at the same moment: one succeeds,
    the other answers 409, and the account keeps a role (finding 4 of the review).

    Both requests start together (a barrier), and each DELETE of a role assignment waits a
    little before it runs, so that without the row lock and the conditional DELETE both
    requests would have counted two roles before either deleted one."""
    import threading
    import time

    from sqlalchemy import event

    sanmin = units
    target = sanmin.account("volunteer", GRID, "two-roles")
    with sanmin.session() as session:
        from core.identity.service import grant_role

        grant_role(
            session, sanmin.kernel.access, target, role="party_member", unit_code=GRID, by="test"
        )
    admin = admin_of(sanmin)
    ids = [r["id"] for r in admin.get(f"/api/v1/accounts/{target.id}").json()["roles"]]
    assert len(ids) == 2

    def slow_delete(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("DELETE FROM ROLE_ASSIGNMENT"):
            time.sleep(0.3)

    barrier = threading.Barrier(2)
    answers: dict[int, int] = {}

    def revoke(assignment_id: int) -> None:
        client = TestClient(sanmin.app, raise_server_exceptions=False)
        client.headers.update(admin.headers)
        barrier.wait(timeout=10)
        answer = client.delete(f"/api/v1/accounts/{target.id}/roles/{assignment_id}")
        answers[assignment_id] = answer.status_code

    event.listen(sanmin.engine, "before_cursor_execute", slow_delete)
    try:
        threads = [threading.Thread(target=revoke, args=(i,)) for i in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        event.remove(sanmin.engine, "before_cursor_execute", slow_delete)
    assert sorted(answers.values()) == [204, 409], answers
    left = admin.get(f"/api/v1/accounts/{target.id}").json()["roles"]
    assert len(left) == 1
    [kept] = [i for i, status in answers.items() if status == 409]
    assert left[0]["id"] == kept
    assert len(audit(sanmin, "role.revoke")) == 1


# -- system_admin is handed out by system administrators only --------------------------------


def test_only_a_system_admin_grants_revokes_or_deactivates_system_admin(units) -> None:
    sanmin = units
    city = "330800000000"
    city_admin = sanmin.client_as("city_admin", city, "quzhou-admin")
    created = city_admin.post("/api/v1/accounts", json=new_account("mini-sa", "system_admin", city))
    assert created.status_code == 403, created.text
    detail = created.json()["detail"]
    assert detail.startswith("role:") and "system_admin" in detail
    target = sanmin.account("grid_worker", GRID, "wang-grid")
    granted = city_admin.post(
        f"/api/v1/accounts/{target.id}/roles", json={"role": "system_admin", "unit_code": city}
    )
    assert granted.status_code == 403 and "system_admin" in granted.json()["detail"]
    form = city_admin.get("/admin/accounts/new", headers=HTML)
    assert 'value="city_admin"' in form.text and 'value="system_admin"' not in form.text
    assert [e for e in audit(sanmin, "role.grant") if e.actor == "account:quzhou-admin"] == []

    # a system administrator may, and the city admin may then neither revoke nor deactivate
    by_system = sanmin.client.post(
        f"/api/v1/accounts/{target.id}/roles", json={"role": "system_admin", "unit_code": city}
    )
    assert by_system.status_code == 201, by_system.text
    revoked = city_admin.delete(f"/api/v1/accounts/{target.id}/roles/{by_system.json()['id']}")
    assert revoked.status_code == 403 and "system_admin" in revoked.json()["detail"]
    deactivated = city_admin.post(f"/api/v1/accounts/{target.id}/deactivate")
    assert deactivated.status_code == 403
    # a system administrator at a city appoints another there
    city_system = sanmin.client_as("system_admin", city, "quzhou-sa")
    peer = city_system.post("/api/v1/accounts", json=new_account("second-sa", "system_admin", city))
    assert peer.status_code == 201, peer.text
