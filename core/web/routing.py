"""Route matching that skips, by literal path prefix, the routers a request cannot reach.

FastAPI (from 0.16x) keeps each ``include_router`` as one nested entry and, for every
request, asks each entry of the application in turn whether one of its routes matches: a
regular expression per route, ~290 routes here, and again one level down once an entry
matched. Measured in process (docs/benchmarks.md, "Pages"): 11 µs to route ``/healthz``, the
first entry, but 0.4 ms for ``/tickets/43`` and 1.1 ms for ``/p/red_proxy/``, a third of
a light page's whole cost.

Every route's path begins with a literal part (up to its first ``{``); a request whose path
does not begin with it cannot match that route. So an included router gets, once, the longest
literal prefix common to all its routes, and answers "no match" at once to a path without it;
everything else is FastAPI's own matching, in FastAPI's order. The answer is always the one
FastAPI would give: only routers that could not match are skipped.

On a FastAPI that copies included routes into the application (before 0.16x) there is no
nested entry to guard and :func:`guard_included_routers` leaves the routes as they are.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from starlette.routing import BaseRoute, Host, Match
from starlette.types import Scope

_Included: Any = getattr(fastapi_routing, "_IncludedRouter", None)


def literal_prefix(path: str) -> str:
    """The part of a route path before its first parameter (the whole path without one)."""
    return path.split("{", 1)[0]


def common_prefix(paths: Iterable[str]) -> str:
    """The longest literal prefix shared by ``paths`` ("" for none), character by character:
    it is tested with ``str.startswith``, so it need not end at a ``/``."""
    return os.path.commonprefix([literal_prefix(path) for path in paths])  # noqa: RUF071


def _route_paths(included: Any) -> list[str] | None:
    """The full path of every route an included router holds, or ``None`` when one of them
    cannot be reduced to a path (a host route): that router is never skipped.

    Read from the routers' own route lists and their inclusion prefixes, as FastAPI composes
    them (the inclusion's prefix, then the route's path): asking FastAPI for its effective
    routes instead builds every route's dependencies, ~0.25 s for the application, paid by
    every ``create_app``."""
    return _paths(included.original_router, included.include_context.prefix)


def _paths(router: Any, prefix: str) -> list[str] | None:
    found: list[str] = []
    for route in router.routes:
        if isinstance(route, _Included):
            inner = _paths(route.original_router, prefix + route.include_context.prefix)
            if inner is None:
                return None
            found += inner
            continue
        path = getattr(route, "path", None)
        if isinstance(route, Host) or not isinstance(path, str):
            return None
        found.append(prefix + path)
    return found


if _Included is not None:

    class PrefixGuardedRouter(_Included):  # type: ignore[misc,valid-type]
        """An included router that first checks the request path against the literal
        prefix all its routes share, and guards the routers included in it the same way."""

        prefix_guard: str = ""
        _guarded: tuple[int | None, list[Any]] = (None, [])

        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):  # as starlette's get_route_path
                path = path[len(root) :]
            if not path.startswith(self.prefix_guard):
                return Match.NONE, {}
            return super().matches(scope)  # type: ignore[no-any-return]

        def effective_candidates(self) -> list[Any]:
            candidates = super().effective_candidates()
            version, guarded = self._guarded
            if version != self._effective_candidates_version:
                guarded = [guarded_copy(candidate) for candidate in candidates]
                self._guarded = (self._effective_candidates_version, guarded)
            return guarded

    def guarded_copy(route: Any) -> Any:
        """``route`` as a :class:`PrefixGuardedRouter` if it is an included router (with no
        guard when its routes share no prefix but "/"), else ``route`` itself."""
        if type(route) is not _Included:
            return route
        paths = _route_paths(route)
        prefix = common_prefix(paths) if paths else ""
        copy = PrefixGuardedRouter(
            original_router=route.original_router, include_context=route.include_context
        )
        copy.prefix_guard = "" if prefix == "/" else prefix
        return copy


def guard_included_routers(app: FastAPI) -> int:
    """Replace each router included in ``app`` (and, as they are reached, those included in
    them) by a prefix-guarded copy; returns how many of the application's own entries got a
    prefix (0 on a FastAPI without nested included routers). Call it once all routes are
    included."""
    if _Included is None:
        return 0
    routes: list[BaseRoute] = app.router.routes
    routes[:] = [guarded_copy(route) for route in routes]
    app.router._mark_routes_changed()
    return sum(1 for route in routes if getattr(route, "prefix_guard", ""))
