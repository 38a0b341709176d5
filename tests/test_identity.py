"""Authentication, sessions and CSRF, tokens, throttling, and scope on every endpoint."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, col, select

from core.audit.models import AuditEntry
from core.identity.models import Account
from core.identity.service import ACCOUNT_LOCK_AFTER, set_active
from core.testing import TEST_PASSWORD, all_routes

PUBLIC = {
    "/healthz",
    "/login",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/api/v1/auth/token",
    "/api/v1/tickets/public",  # the 公示 board: published, de-identified tickets only
    "/tickets/public",  # the same board as a page
}


def audit_actions(sanmin, prefix: str) -> list[str]:  # type: ignore[no-untyped-def]
    with Session(sanmin.engine) as session:
        return list(
            session.exec(
                select(AuditEntry.action)
                .where(col(AuditEntry.action).startswith(prefix))
                .order_by(col(AuditEntry.id))
            )
        )


def test_every_endpoint_but_the_public_ones_refuses_an_anonymous_caller(sanmin) -> None:
    township = sanmin.township()
    sanmin.enable("knock_door", township)
    checked: set[str] = set()
    for route_path, methods in all_routes(sanmin.app):
        # Open311 is public by its specification; its POST needs an api_key (test_open311.py)
        if route_path in PUBLIC or route_path.startswith(("/static/", "/open311/")):
            continue
        path = re.sub(
            r"\{(\w+)(:path)?\}", lambda m: township.code if "unit" in m[1] else "1", route_path
        )
        for method in methods - {"HEAD"}:
            answer = sanmin.anonymous.request(
                method, path, params={"unit": township.code}, follow_redirects=False
            )
            if path.startswith("/api/"):
                assert answer.status_code == 401, (method, path, answer.text)
                assert answer.headers["www-authenticate"] == "Bearer"
            else:
                page = sanmin.anonymous.request(
                    method,
                    path,
                    params={"unit": township.code},
                    headers={"Accept": "text/html"},
                    follow_redirects=False,
                )
                assert page.status_code in (303, 401, 403), (method, path, page.status_code)
            checked.add(route_path)
    assert {"/api/v1/units", "/api/v1/plugins", "/", "/p/knock_door/", "/admin/plugins"} <= checked
    assert sanmin.anonymous.get("/healthz").status_code == 200


def login_form(client) -> str:  # type: ignore[no-untyped-def]
    page = client.get("/login")
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]  # type: ignore[index]


def test_login_page_sets_a_signed_http_only_session_and_logout_ends_it(sanmin) -> None:
    township = sanmin.township()
    sanmin.account("township_admin", township, "zhang-san")
    browser = sanmin.anonymous
    csrf = login_form(browser)
    answer = browser.post(
        "/login",
        data={
            "username": "zhang-san",
            "password": TEST_PASSWORD,
            "csrf_token": csrf,
            "next": "/admin/plugins",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/plugins"
    cookie = answer.headers["set-cookie"]
    assert "sanmin_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert browser.get("/admin/plugins", headers={"Accept": "text/html"}).status_code == 200
    # A write through the session needs the CSRF token; with it, logout works.
    refused = browser.post("/logout", follow_redirects=False)
    assert refused.status_code == 403 and "csrf_token" in refused.text
    done = browser.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    again = browser.get("/admin/plugins", headers={"Accept": "text/html"}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")
    assert audit_actions(sanmin, "auth.") == ["auth.login", "auth.logout"]


def test_login_needs_the_csrf_token_of_our_own_form(sanmin) -> None:
    sanmin.account("township_admin", sanmin.township(), "li-si")
    answer = sanmin.anonymous.post("/login", data={"username": "li-si", "password": TEST_PASSWORD})
    assert answer.status_code == 403


def test_next_never_leaves_the_site(sanmin) -> None:
    sanmin.account("township_admin", sanmin.township(), "wang-wu")
    csrf = login_form(sanmin.anonymous)
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        answer = sanmin.anonymous.post(
            "/login",
            data={
                "username": "wang-wu",
                "password": TEST_PASSWORD,
                "csrf_token": csrf,
                "next": target,
            },
            follow_redirects=False,
        )
        assert answer.headers["location"] == "/"


def test_bearer_tokens_work_until_revoked(sanmin) -> None:
    sanmin.account("grid_worker", "330802001001001", "zhao-liu")
    answer = sanmin.anonymous.post(
        "/api/v1/auth/token", data={"username": "zhao-liu", "password": TEST_PASSWORD}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    me = sanmin.anonymous.get("/api/v1/auth/me", headers=headers).json()
    assert me["name"] == "zhao-liu" and me["roles"][0]["title"] == "网格员"
    assert sanmin.anonymous.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert sanmin.anonymous.get("/api/v1/auth/me", headers=headers).status_code == 401
    with Session(sanmin.engine) as session:
        stored = session.exec(select(col(AuditEntry.target_id))).all()
    assert body["access_token"] not in stored  # only digests are kept


def test_a_deactivated_account_is_refused_on_its_next_request(sanmin) -> None:
    client = sanmin.client_as("township_admin", sanmin.township(), "qian-qi")
    assert client.get("/api/v1/auth/me").status_code == 200
    with sanmin.session() as session:
        account = session.exec(select(Account).where(Account.username == "qian-qi")).one()
        set_active(session, account, False, by="test")
    assert client.get("/api/v1/auth/me").status_code == 401
    refused = sanmin.anonymous.post(
        "/api/v1/auth/token", data={"username": "qian-qi", "password": TEST_PASSWORD}
    )
    assert refused.status_code == 401


def test_ten_failed_logins_lock_the_account_and_say_so(sanmin) -> None:
    sanmin.account("township_admin", sanmin.township(), "sun-ba")
    for _ in range(ACCOUNT_LOCK_AFTER - 1):
        wrong = sanmin.anonymous.post(
            "/api/v1/auth/token", data={"username": "sun-ba", "password": "wrong-password"}
        )
        assert wrong.status_code == 401
    locked = sanmin.anonymous.post(
        "/api/v1/auth/token", data={"username": "sun-ba", "password": "wrong-password"}
    )
    assert locked.status_code == 429 and "锁定" in locked.json()["detail"]
    still = sanmin.anonymous.post(
        "/api/v1/auth/token", data={"username": "sun-ba", "password": TEST_PASSWORD}
    )
    assert still.status_code == 429  # the right password does not unlock it early
    actions = audit_actions(sanmin, "auth.")
    assert actions.count("auth.login_failed") == ACCOUNT_LOCK_AFTER
    assert actions[-1] == "auth.login_locked"


def test_unknown_usernames_count_against_the_address(sanmin) -> None:
    answers = [
        sanmin.anonymous.post(
            "/api/v1/auth/token", data={"username": f"nobody-{i}", "password": "x" * 12}
        )
        for i in range(3)
    ]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert "用户名或密码错误" in answers[0].json()["detail"]  # no hint that the name is unknown


def test_password_change_checks_the_current_one_and_ends_other_sessions(sanmin) -> None:
    sanmin.account("township_admin", sanmin.township(), "zhou-jiu")

    def token() -> dict[str, str]:
        answer = sanmin.anonymous.post(
            "/api/v1/auth/token", data={"username": "zhou-jiu", "password": TEST_PASSWORD}
        )
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    mine, other = token(), token()
    wrong = sanmin.anonymous.post(
        "/api/v1/auth/password",
        headers=mine,
        json={"current_password": "not-it-at-all", "new_password": "a-new-long-password"},
    )
    assert wrong.status_code == 422 and "current_password" in wrong.json()["detail"]
    weak = sanmin.anonymous.post(
        "/api/v1/auth/password",
        headers=mine,
        json={"current_password": TEST_PASSWORD, "new_password": "short"},
    )
    assert weak.status_code == 422 and "password" in weak.json()["detail"]
    done = sanmin.anonymous.post(
        "/api/v1/auth/password",
        headers=mine,
        json={"current_password": TEST_PASSWORD, "new_password": "a-new-long-password"},
    )
    assert done.status_code == 204
    assert sanmin.anonymous.get("/api/v1/auth/me", headers=mine).status_code == 200
    assert sanmin.anonymous.get("/api/v1/auth/me", headers=other).status_code == 401


# -- scope ---------------------------------------------------------------------------------


def test_a_grid_worker_sees_only_their_grid(sanmin) -> None:
    sanmin.unit("330802001001002")
    sanmin.enable("knock_door", "330802001000")
    worker = sanmin.client_as("grid_worker", "330802001001001")
    own = worker.get("/p/knock_door/", params={"unit": "330802001001001"})
    assert own.status_code == 200
    other = worker.get("/p/knock_door/", params={"unit": "330802001001002"})
    assert other.status_code == 404
    units = worker.get("/api/v1/units").json()
    assert [u["code"] for u in units] == ["330802001001001"]
    assert worker.get("/api/v1/units/330802001001002").status_code == 404
    assert worker.get("/api/v1/units/330802001001001").status_code == 200


def test_a_township_admin_sees_their_township_and_nothing_of_the_next(sanmin) -> None:
    a, b = sanmin.unit("330802001001001"), sanmin.unit("330802002001001")
    admin = sanmin.client_as("township_admin", "330802001000")
    assert admin.get(f"/api/v1/units/{a.code}").status_code == 200
    assert admin.get(f"/api/v1/units/{b.code}").status_code == 404
    assert admin.get("/api/v1/units/330802002000").status_code == 404
    listed = {u["code"] for u in admin.get("/api/v1/units").json()}
    assert listed == {"330802001000", "330802001001", "330802001001001"}
    plugins = admin.get("/api/v1/plugins", params={"unit": "330802002000"})
    assert plugins.status_code == 404
    assert admin.get("/api/v1/plugins", params={"unit": "330802001000"}).status_code == 200


def test_a_role_without_the_permission_gets_403_naming_it(sanmin) -> None:
    volunteer = sanmin.client_as("volunteer", sanmin.township())
    answer = volunteer.get("/api/v1/plugins")
    assert answer.status_code == 403 and answer.json()["permission"] == "plugins.read"


def test_api_keys_act_at_their_unit(sanmin) -> None:
    from core.identity.service import create_api_key

    sanmin.unit("330802001001")
    sanmin.unit("330802002001")
    with sanmin.session() as session:
        key = create_api_key(
            session, sanmin.kernel.access, name="12345 热线", unit_code="330802001000", by="test"
        )
    headers = {"X-API-Key": key}
    assert sanmin.anonymous.get("/api/v1/units/330802001001", headers=headers).status_code == 200
    assert sanmin.anonymous.get("/api/v1/units/330802002001", headers=headers).status_code == 404
    wrong = {"X-API-Key": key + "x"}
    assert sanmin.anonymous.get("/api/v1/units/330802001001", headers=wrong).status_code == 401


@pytest.mark.parametrize("role", ["township_admin", "grid_worker"])
def test_role_grants_are_audited(sanmin, role: str) -> None:
    unit = "330802001000" if role == "township_admin" else "330802001001001"
    sanmin.account(role, unit)
    with Session(sanmin.engine) as session:
        grants = session.exec(select(AuditEntry).where(AuditEntry.action == "role.grant")).all()
    assert any(g.after == {"role": role, "unit": unit} for g in grants)


def test_concurrent_wrong_passwords_get_no_more_guesses_than_the_limit(sanmin) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    sanmin.account("township_admin", sanmin.township(), "race-target")
    barrier = threading.Barrier(8)

    def attempt(_: int) -> int:
        barrier.wait()
        return sanmin.anonymous.post(
            "/api/v1/auth/token", data={"username": "race-target", "password": "wrong-password"}
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(attempt, range(24)))
    assert set(codes) <= {401, 429}  # never a 500
    with Session(sanmin.engine) as session:
        checked = session.exec(
            select(AuditEntry).where(AuditEntry.action == "auth.login_failed")
        ).all()
    assert len(checked) <= ACCOUNT_LOCK_AFTER  # each verified guess is a failed-login entry
    assert codes.count(429) >= 24 - ACCOUNT_LOCK_AFTER


def test_unknown_usernames_are_masked_and_known_ones_filed_under_their_unit(sanmin) -> None:
    township = sanmin.township()
    sanmin.account("township_admin", township, "known-user")
    for name in ("known-user", "my-secret-password"):
        sanmin.anonymous.post("/api/v1/auth/token", data={"username": name, "password": "x" * 12})
    with Session(sanmin.engine) as session:
        entries = session.exec(
            select(AuditEntry)
            .where(AuditEntry.action == "auth.login_failed")
            .order_by(col(AuditEntry.id))
        ).all()
    assert [(e.actor, e.unit_code) for e in entries] == [
        ("login:known-user", township.code),
        ("login:my***", None),
    ]


def test_a_non_bearer_authorization_header_never_falls_back_to_the_cookie(sanmin) -> None:
    sanmin.account("township_admin", sanmin.township(), "basic-user")
    browser = sanmin.anonymous
    csrf = login_form(browser)
    browser.post(
        "/login",
        data={"username": "basic-user", "password": TEST_PASSWORD, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert browser.get("/api/v1/auth/me").status_code == 200
    basic = browser.get("/api/v1/auth/me", headers={"Authorization": "Basic eDp4"})
    assert basic.status_code == 401
    write = browser.post(
        "/api/v1/auth/password",
        headers={"Authorization": "Basic eDp4"},
        json={"current_password": TEST_PASSWORD, "new_password": "x" * 12},
    )
    assert write.status_code in (401, 403)


def test_a_password_change_in_the_browser_replaces_the_session(sanmin) -> None:
    sanmin.account("township_admin", sanmin.township(), "rotating")
    browser = sanmin.anonymous
    csrf = login_form(browser)
    browser.post(
        "/login",
        data={"username": "rotating", "password": TEST_PASSWORD, "csrf_token": csrf},
        follow_redirects=False,
    )
    old_cookie = browser.cookies.get("sanmin_session")
    changed = browser.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current_password": TEST_PASSWORD,
            "new_password": "another-long-password",
        },
    )
    assert changed.status_code == 200 and "密码已修改" in changed.text
    assert browser.cookies.get("sanmin_session") != old_cookie
    assert browser.get("/api/v1/auth/me").status_code == 200  # the new session works
    thief = type(browser)(sanmin.app, cookies={"sanmin_session": old_cookie})
    assert thief.get("/api/v1/auth/me").status_code == 401  # the old one does not
