"""What a route of a plugin (or of the core) takes from its request: the running kernel, the
signed-in actor and a database session. Every plugin had written these three itself."""

from __future__ import annotations

from fastapi import Request
from sqlmodel import Session

from core.identity.access import Actor
from core.kernel import Kernel


def kernel_of(request: Request) -> Kernel:
    """The running kernel."""
    return request.app.state.kernel  # type: ignore[no-any-return]


def actor_of(request: Request) -> Actor:
    """The signed-in actor. Only behind a guard that required one (``require_actor``,
    ``require_permission`` or the kernel's guard of township-level plugins), which put it on
    the request."""
    return request.state.actor  # type: ignore[no-any-return]


def session_of(request: Request) -> Session:
    """A new session on the kernel's engine, whose objects stay readable after commit; use
    it as a context manager (``with session_of(request) as session:``)."""
    return Session(kernel_of(request).engine, expire_on_commit=False)
