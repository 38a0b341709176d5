"""Waking this process's in-process runner when a transaction that emitted events commits."""

from __future__ import annotations

import threading
from collections.abc import Callable

_lock = threading.Lock()
_listeners: list[Callable[[], None]] = []


def subscribe(listener: Callable[[], None]) -> Callable[[], None]:
    """Call ``listener`` (from any thread) after each commit that emitted events; return a
    function that unsubscribes it."""
    with _lock:
        _listeners.append(listener)

    def unsubscribe() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return unsubscribe


def notify() -> None:
    """Tell every subscribed runner that new events were committed."""
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener()
