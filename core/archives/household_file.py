"""一户一档, the household file, as the JSON API and the page both show it."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlmodel import Session

from core.archives import service
from core.archives.crypto import cipher_for
from core.archives.disclosure import reveal
from core.identity.access import Actor


def household_file(request: Request, actor: Actor, household_id: int) -> dict[str, Any]:
    """一户一档 as the API and the page show it: the household and its members, unmasked
    (and audited) only for an actor holding ``archive.read_sensitive`` at its unit."""
    kernel = request.app.state.kernel
    with Session(kernel.engine, expire_on_commit=False) as session:
        household = service.visible_household(session, actor, kernel.access, household_id)
        members = service.members_of(session, household_id)
    unmasked = reveal(request, actor, "household", household_id, household.unit_code)
    cipher = cipher_for(kernel)
    return service.household_out(household) | {
        "members": [service.person_out(p, cipher, unmasked) for p in members]
    }
