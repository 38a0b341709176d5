"""Calling hooks one implementation at a time, so results and failures name their plugin."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

from pluggy import HookCaller
from pluggy._hooks import HookImpl

log = logging.getLogger("sanmin.plugins")


def call_impl(impl: HookImpl, kwargs: dict[str, Any]) -> Any:
    """Call one implementation with the arguments it declares (it may take fewer than the spec)."""
    return impl.function(*[kwargs[name] for name in impl.argnames])


async def await_me_maybe(value: Any) -> Any:
    """Resolve a hook result that may be a value, a callable or an awaitable (Datasette)."""
    if callable(value):
        value = value()
    if inspect.isawaitable(value):
        value = await value
    return value


async def call_robust(
    caller: HookCaller,
    *,
    where: str | None,
    check: Callable[[Any], Any] | None = None,
    concurrently: bool = False,
    **kwargs: Any,
) -> list[Any]:
    """Call a contribution hook in call order; log and skip an implementation that fails.

    In the style of pretix's ``send_robust``: one broken plugin must not take a
    page down. Results are resolved with :func:`await_me_maybe`; ``None`` is dropped.
    ``check`` converts each result (raising on a bad one), so that a wrong return value
    is logged with its plugin and skipped too. Wrappers are not supported on hooks
    called this way. With ``concurrently``, the implementations' awaitables run at once
    (each reading in its own thread, say); the results keep the call order.
    """

    async def one(impl: HookImpl) -> Any:
        try:
            result = await await_me_maybe(call_impl(impl, kwargs))
            return check(result) if result is not None and check is not None else result
        except Exception:
            log.exception(
                "Hook %s failed: plugin=%s township=%s", caller.name, impl.plugin_name, where
            )
            return None

    impls = list(reversed(caller.get_hookimpls()))
    if concurrently:
        results = await asyncio.gather(*(one(impl) for impl in impls))
    else:
        results = [await one(impl) for impl in impls]
    return [result for result in results if result is not None]
