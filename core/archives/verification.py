"""实名核验: a resident links their account to their own record in the archive.

The resident types their name and ID number; the account is linked (``Account.person_id``)
when the archive holds a person with that ID number (found by its keyed hash, never by
decrypting) and exactly that name, living in the units where the account holds its
resident role. A linked account is a *verified* resident: it sees its own household's file
and may cast the ballots of its 小区 or village (``plugins/deliberation``).

Guessing is bounded: every attempt is counted before it is checked (as logins are), and
after :data:`ATTEMPTS` failures the account may not try again for :data:`LOCK_FOR`. A
refusal never says which of the name, the ID number or the place was wrong, so the form
cannot be used to learn who lives where. Every attempt is audited without the ID number;
one person links to one account only (409: a grid worker sorts it out).

``POST /api/v1/auth/verify`` (JSON ``{name, id_number}``) and the page ``/account/verify``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from core.archives.crypto import cipher_for
from core.archives.idnumbers import IdNumberError, validate_id_number
from core.archives.models import ArchivePerson
from core.audit.service import record
from core.db.types import utcnow
from core.identity.access import Actor
from core.identity.models import Account, LoginThrottle
from core.identity.service import count_attempt, running_lock
from core.identity.web import require_actor
from core.kernel import Kernel
from core.units.codes import parse_code
from core.web.render import render

RESIDENT_ROLE = "resident"
ATTEMPTS = 5  # failed attempts before the account must wait
LOCK_FOR = timedelta(hours=24)
NO_MATCH = (
    "姓名与身份证号不符，或此人不在您登记的网格：请核对后重试，仍不成功请联系网格员 / "
    "no resident with this name and ID number where the account lives"
)

api = APIRouter(prefix="/auth", tags=["auth"])  # mounted under /api/v1
pages = APIRouter()
Signed = Annotated[Actor, Depends(require_actor)]


class VerificationIn(BaseModel):
    """What the resident types."""

    name: str = Field(min_length=1, max_length=50, description="姓名 / name")
    id_number: str = Field(min_length=1, max_length=30, description="身份证号 / ID number")


def _refused(status: int, message: str) -> HTTPException:
    return HTTPException(status, message)


def verify_account(
    session: Session, kernel: Kernel, actor: Actor, name: str, id_number: str
) -> ArchivePerson:
    """Link ``actor``'s account to the person it proves to be; commits. Refusals: 403 (not
    a resident account), 409 (already linked, or the person is linked to another account),
    422 (``id_number`` malformed, or no such resident here: one message for every miss),
    429 (too many failed attempts)."""
    homes = [held for held in actor.roles if held.role == RESIDENT_ROLE]
    if actor.kind != "account" or not homes:
        raise _refused(403, "只有居民账号需要实名核验 / only resident accounts verify")
    if actor.person_id is not None:
        raise _refused(409, "本账号已完成实名核验 / this account is verified already")
    key = f"verify:{actor.id}"
    if (until := running_lock(session, [key])) is not None:
        raise _refused(429, f"核验失败次数过多，请于 {until:%Y-%m-%d %H:%M} (UTC) 后再试")
    attempt = count_attempt(session, key)  # committed before the check, as logins are

    def miss(detail: str) -> HTTPException:
        if attempt >= ATTEMPTS:
            session.execute(
                update(LoginThrottle)
                .where(col(LoginThrottle.key) == key)
                .values(locked_until=utcnow() + LOCK_FOR)
            )
        _audit(session, actor, "account.verify_failed", {"attempt": attempt})
        session.commit()
        return _refused(422, detail)

    try:
        number = validate_id_number(id_number.strip())
    except IdNumberError as exc:
        raise miss(f"id_number: {exc}") from None
    cipher = cipher_for(kernel)
    where = or_(
        *(col(ArchivePerson.unit_code).startswith(parse_code(h.unit_code).path) for h in homes)
    )
    person = session.exec(
        select(ArchivePerson).where(col(ArchivePerson.id_hash) == cipher.lookup_hash(number), where)
    ).first()
    if person is None or person.name != name.strip():
        raise miss(NO_MATCH)
    taken = session.exec(
        select(Account.id).where(col(Account.person_id) == person.id, col(Account.id) != actor.id)
    ).first()
    if taken is not None:
        raise _refused(409, "该居民已与另一账号关联，请联系网格员 / linked to another account")
    account = session.get(Account, actor.id)
    assert account is not None
    account.person_id, account.person_verified_at = person.id, utcnow()
    session.add(account)
    session.execute(delete(LoginThrottle).where(col(LoginThrottle.key) == key))
    _audit(session, actor, "account.verify", {"person_id": person.id}, person.unit_code)
    session.commit()
    return person


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    after: dict[str, Any],
    unit_code: str | None = None,
) -> None:
    record(
        session,
        actor=actor.label,
        action=action,
        target_type="account",
        target_id=str(actor.id),
        unit_code=unit_code or actor.home_unit,
        after=after,
    )


def _verify(request: Request, actor: Actor, name: str, id_number: str) -> dict[str, Any]:
    kernel = request.app.state.kernel
    with Session(kernel.engine, expire_on_commit=False) as session:
        person = verify_account(session, kernel, actor, name, id_number)
    return {"person_id": person.id, "name": person.name, "unit_code": person.unit_code}


@api.post("/verify", summary="实名核验 / link the account to its archive record")
async def verify_api(body: VerificationIn, request: Request, actor: Signed) -> dict[str, Any]:
    """The account is linked to the resident with this name and ID number where it lives."""
    return await run_in_threadpool(_verify, request, actor, body.name, body.id_number)


@pages.get("/account/verify", response_class=HTMLResponse)
async def verify_page(request: Request, actor: Signed) -> Response:
    return await render(
        request, "core/account_verify.html", {"error": None, "done": None, "attempts": ATTEMPTS}
    )


@pages.post("/account/verify", response_class=HTMLResponse)
async def verify_submit(
    request: Request,
    actor: Signed,
    name: Annotated[str, Form(max_length=50)],
    id_number: Annotated[str, Form(max_length=30)],
) -> Response:
    try:
        done = await run_in_threadpool(_verify, request, actor, name, id_number)
    except HTTPException as exc:
        return await render(
            request,
            "core/account_verify.html",
            {"error": exc.detail, "done": None, "name": name, "attempts": ATTEMPTS},
            status_code=exc.status_code,
        )
    return await render(
        request, "core/account_verify.html", {"error": None, "done": done, "attempts": ATTEMPTS}
    )


def needs_verifying(actor: Actor | None) -> bool:
    """Whether ``actor`` is a resident account not linked to its archive record yet."""
    return (
        actor is not None
        and actor.kind == "account"
        and actor.person_id is None
        and any(held.role == RESIDENT_ROLE for held in actor.roles)
    )
