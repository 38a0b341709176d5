"""Route matching by literal prefix (:mod:`core.web.routing`) picks the same route as
FastAPI's own matching, for every route of the application and for paths near them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.routing import Match

from core import Settings, create_app
from core.plugins.registry import PluginRegistry
from core.testing import all_routes
from core.web import routing
from core.web.routing import common_prefix, literal_prefix

PARAMETER = re.compile(r"\{([^}:]+)(:[^}]+)?\}")


def test_literal_prefix_stops_at_the_first_parameter() -> None:
    assert literal_prefix("/tickets/{ticket_id}/photos") == "/tickets/"
    assert literal_prefix("/admin/units") == "/admin/units"
    assert literal_prefix("/p/{plugin}/{rest:path}") == "/p/"


def test_common_prefix_is_character_wise_and_empty_when_nothing_is_shared() -> None:
    assert common_prefix(["/api/v1/archives/households", "/api/v1/auth/verify"]) == "/api/v1/a"
    assert common_prefix(["/login", "/account/password"]) == "/"
    assert common_prefix(["/tickets/{ticket_id}", "/tickets/inbox"]) == "/tickets/"
    assert common_prefix([]) == ""


def _sample(path: str) -> str:
    """``path`` with each parameter given a value (a path parameter two segments)."""
    return PARAMETER.sub(lambda m: "a/b" if m.group(2) == ":path" else "1", path)


def _chosen(app: FastAPI, path: str, method: str) -> tuple[str, Any, Any]:
    """The route FastAPI's matching picks for ``method path``, down through included
    routers: (how it matched, the route's endpoint or path)."""
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }
    partial: tuple[str, Any, Any] | None = None
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match is Match.NONE:
            continue
        inner = route
        while hasattr(inner, "_match"):  # an included router: the route it matched
            _, _, inner, _ = inner._match(scope)
        endpoint = getattr(inner, "endpoint", None)
        name = f"{endpoint.__module__}.{endpoint.__qualname__}" if endpoint else None
        found = (match.name, name, getattr(inner, "path", None))
        if match is Match.FULL:
            return found
        partial = partial or found
    return partial or ("NONE", None, None)


@pytest.fixture
def both_apps(
    sanmin_settings: Settings, sanmin_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """The application with its routers guarded, and the same without the guards."""
    guarded = create_app(sanmin_settings, registry=sanmin_registry)
    with monkeypatch.context() as patch:
        patch.setattr("core.web.app.guard_included_routers", lambda app: 0)
        plain = create_app(
            sanmin_settings.model_copy(update={"auto_migrate": False}),
            registry=PluginRegistry().load(),
        )
    yield guarded, plain
    guarded.state.kernel.dispose()
    plain.state.kernel.dispose()


def test_guards_are_installed_on_the_included_routers(both_apps: Any) -> None:
    guarded, plain = both_apps
    if routing._Included is None:
        pytest.skip("this FastAPI copies included routes into the app: nothing to guard")
    prefixes = {getattr(r, "prefix_guard", None) for r in guarded.router.routes}
    assert {"/api/v1/tickets", "/p/red_proxy/", "/admin/units"} <= prefixes
    assert not any(hasattr(r, "prefix_guard") for r in plain.router.routes)


def test_every_route_and_its_neighbours_resolve_as_without_the_guards(both_apps: Any) -> None:
    guarded, plain = both_apps
    routes = all_routes(plain)
    assert len(routes) > 200
    paths = {_sample(path) for path, _ in routes}
    paths |= {path.rstrip("/") if path.endswith("/") else path + "/" for path in paths}
    paths |= {"/", "/nowhere", "/p/nope/page", "/api/v1/p/nope/x", "/static/core/app.css"}
    methods = {"GET", "POST", "PUT", "DELETE"}
    checked = 0
    for path in sorted(paths):
        for method in sorted(methods):
            assert _chosen(guarded, path, method) == _chosen(plain, path, method), (method, path)
            checked += 1
    assert checked > 1000


def test_the_schema_and_named_urls_are_unchanged(both_apps: Any) -> None:
    guarded, plain = both_apps
    assert guarded.openapi() == plain.openapi()
    assert guarded.url_path_for("static-core", path="app.css") == "/static/core/app.css"


def test_route_paths_read_from_the_routers_equal_fastapis_effective_paths(both_apps: Any) -> None:
    guarded, _ = both_apps
    if routing._Included is None:
        pytest.skip("this FastAPI copies included routes into the app: nothing to guard")
    included = [r for r in guarded.router.routes if isinstance(r, routing._Included)]
    assert len(included) > 20
    for router in included:
        effective = [
            getattr(c.starlette_route, "path", None) or c.path
            for c in router.effective_route_contexts()
        ]
        assert routing._route_paths(router) == effective
