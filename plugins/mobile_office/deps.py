"""What the plugin's routes depend on: the kernel, the actor, a session, a permission."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from sqlmodel import Session

from core import Actor, Kernel, Scope, current_scope

from .errors import split


def kernel_of(request: Request) -> Kernel:
    """The running kernel."""
    return request.app.state.kernel


async def actor_of(request: Request) -> Actor:
    """The signed-in actor (the township guard of the plugin's routers requires one)."""
    actor = getattr(request.state, "actor", None)
    if actor is None:
        raise HTTPException(401, "需要登录 / authentication required")
    return actor


async def session_of(request: Request) -> AsyncIterator[Session]:
    """A session on the application's engine whose objects stay readable after commit."""
    with Session(kernel_of(request).engine, expire_on_commit=False) as session:
        yield session


SignedActor = Annotated[Actor, Depends(actor_of)]
DbSession = Annotated[Session, Depends(session_of)]
ScopeDep = Annotated[Scope, Depends(current_scope)]


def require(kernel: Kernel, actor: Actor, permission: str, unit_code: str) -> None:
    """403 naming ``permission`` unless ``actor`` holds it at ``unit_code``."""
    if not kernel.allowed(actor, permission, unit_code):
        raise HTTPException(403, f"没有权限 {permission} / permission {permission!r} required")


def location(field: str, where: str = "body") -> tuple[str | int, ...]:
    """A service's field path (``crew.0``) as a validation error's ``loc``."""
    return (where, *(int(part) if part.isdigit() else part for part in field.split(".")))


@contextmanager
def as_validation_errors(where: str = "body") -> Iterator[None]:
    """A service's 422 ``"field: message"`` as FastAPI's validation error at that field."""
    try:
        yield
    except HTTPException as exc:
        field, message = split(exc.detail)
        if exc.status_code != 422 or field is None:
            raise
        error = {"loc": location(field, where), "msg": message, "type": "value_error"}
        raise RequestValidationError([error]) from None
