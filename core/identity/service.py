"""Accounts, roles, logins, tokens and API keys. Every change is audited in the
caller's transaction; the caller commits."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.audit.service import record
from core.db.types import utcnow
from core.identity.access import AccessCatalog, AccessError, Actor, role_at
from core.identity.models import Account, ApiKey, AuthToken, LoginThrottle, RoleAssignment
from core.identity.secrets import (
    check_password_policy,
    digest,
    dummy_hash,
    hash_password,
    new_token,
    verify_password,
)
from core.units.codes import UnitCodeError
from core.units.models import Unit
from core.units.service import UnitNotFound, get_unit

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,63}$")
ACCOUNT_LOCK_AFTER = 10  # consecutive failures for one account
ADDRESS_LOCK_AFTER = 100  # for one address: higher, a township office shares one address
LOCK_FOR = timedelta(minutes=15)
WRONG_CREDENTIALS = (
    "用户名或密码错误，或账号已停用 / wrong username or password, or the account is inactive"
)
TOKEN_TTL = {"bearer": timedelta(hours=12), "session": timedelta(hours=8)}


class IdentityError(ValueError):
    """A request about accounts that cannot be carried out; the message names the field."""


class LoginRefused(PermissionError):
    """Wrong credentials, an inactive account, or a lock; the message is safe to show."""

    def __init__(self, message: str, locked_until: datetime | None = None) -> None:
        super().__init__(message)
        self.locked_until = locked_until


def unit_field(session: Session, unit_code: str) -> Unit:
    """The unit, with errors that name the field like every other check here."""
    try:
        return get_unit(session, unit_code)
    except (UnitCodeError, UnitNotFound) as exc:
        raise IdentityError(f"unit: {exc}") from exc


def home_unit(session: Session, account_id: int) -> str | None:
    """The unit of the account's first role: where its audit entries are filed."""
    return session.exec(
        select(RoleAssignment.unit_code)
        .where(RoleAssignment.account_id == account_id)
        .order_by(col(RoleAssignment.id))
    ).first()


# -- accounts and roles --------------------------------------------------------------------


def check_new_account(
    session: Session,
    catalog: AccessCatalog,
    *,
    username: str,
    display_name: str,
    roles: list[tuple[str, str]],
) -> str:
    """What :func:`create_account` refuses, short of the password: callers may check before
    asking for one. Returns the username as it will be stored.

    :raises IdentityError: naming the field.
    """
    wanted = username.strip().lower()
    if not USERNAME_RE.match(wanted):
        raise IdentityError(
            "username: 3–64 位小写字母、数字或 . _ - / 3–64 lowercase letters, "
            "digits, '.', '_' or '-'"
        )
    if session.exec(select(Account.id).where(Account.username == wanted)).first():
        raise IdentityError(f"username: {wanted} 已存在 / already exists")
    if len(display_name) > 100:
        raise IdentityError("name: 显示名不超过 100 字 / display name longer than 100")
    for role, unit_code in roles:
        try:
            catalog.check_assignable(role, unit_field(session, unit_code).code)
        except AccessError as exc:
            raise IdentityError(f"role: {exc}") from exc
    return wanted


def create_account(
    session: Session,
    catalog: AccessCatalog,
    *,
    username: str,
    password: str,
    roles: list[tuple[str, str]],
    by: str,
    display_name: str = "",
    password_hash: str | None = None,
) -> Account:
    """Create an account with its roles (``[(role, unit_code), …]``), validated and audited.

    ``password_hash``: a hash of ``password`` made already (the demo's accounts share one
    known password and one hash: Argon2 costs a quarter of a second each)."""
    username = check_new_account(
        session, catalog, username=username, display_name=display_name, roles=roles
    )
    check_password_policy(password, username)
    account = Account(
        username=username,
        display_name=display_name,
        password_hash=password_hash or hash_password(password),
    )
    session.add(account)
    session.flush()
    record(
        session,
        actor=by,
        action="account.create",
        target_type="account",
        target_id=str(account.id),
        unit_code=roles[0][1] if roles else None,  # so admins of that unit find it
        after={"username": username},
    )
    for role, unit_code in roles:
        grant_role(session, catalog, account, role=role, unit_code=unit_code, by=by)
    return account


def grant_role(
    session: Session,
    catalog: AccessCatalog,
    account: Account,
    *,
    role: str,
    unit_code: str,
    by: str,
) -> RoleAssignment:
    """Give ``account`` a role at a unit (idempotent), audited."""
    unit = unit_field(session, unit_code)
    try:
        catalog.check_assignable(role, unit.code)
    except AccessError as exc:
        raise IdentityError(f"role: {exc}") from exc
    existing = session.exec(
        select(RoleAssignment).where(
            RoleAssignment.account_id == account.id,
            RoleAssignment.role == role,
            RoleAssignment.unit_code == unit.code,
        )
    ).first()
    if existing is not None:
        return existing
    assignment = RoleAssignment(
        account_id=account.id, role=role, unit_code=unit.code, granted_by=by
    )
    session.add(assignment)
    record(
        session,
        actor=by,
        action="role.grant",
        target_type="account",
        target_id=str(account.id),
        unit_code=unit.code,
        after={"role": role, "unit": unit.code},
    )
    return assignment


def revoke_role(session: Session, assignment: RoleAssignment, *, by: str) -> None:
    session.delete(assignment)
    record(
        session,
        actor=by,
        action="role.revoke",
        target_type="account",
        target_id=str(assignment.account_id),
        unit_code=assignment.unit_code,
        before={"role": assignment.role, "unit": assignment.unit_code},
    )


def set_active(session: Session, account: Account, active: bool, *, by: str) -> None:
    """Activate or deactivate; deactivation revokes every token at once."""
    if account.active == active:
        return
    account.active = active
    session.add(account)
    if not active:
        revoke_all_tokens(session, account.id)  # type: ignore[arg-type]
    record(
        session,
        actor=by,
        action="account.activate" if active else "account.deactivate",
        target_type="account",
        target_id=str(account.id),
        unit_code=home_unit(session, account.id),  # type: ignore[arg-type]
        before={"active": not active},
        after={"active": active},
    )


def change_password(
    session: Session,
    account: Account,
    *,
    current: str,
    new: str,
    by: str,
    keep_token: str | None = None,
) -> None:
    """Change a password after checking the current one; other sessions and tokens end."""
    if not verify_password(account.password_hash, current):
        raise IdentityError("current_password: 当前密码不正确 / current password is wrong")
    check_password_policy(new, account.username)
    account.password_hash = hash_password(new)
    account.password_changed_at = utcnow()
    session.add(account)
    revoke_all_tokens(session, account.id, keep=keep_token)  # type: ignore[arg-type]
    record(
        session,
        actor=by,
        action="account.password",
        target_type="account",
        target_id=str(account.id),
        unit_code=home_unit(session, account.id),  # type: ignore[arg-type]
    )


def roles_of(session: Session, account_id: int) -> list[RoleAssignment]:
    return list(
        session.exec(
            select(RoleAssignment)
            .where(RoleAssignment.account_id == account_id)
            .order_by(col(RoleAssignment.id))
        )
    )


def actor_for(session: Session, account: Account) -> Actor:
    roles = tuple(role_at(r.role, r.unit_code) for r in roles_of(session, account.id))
    return Actor(
        "account",
        account.id,
        account.username,
        roles,  # type: ignore[arg-type]
        person_id=account.person_id,
        display_name=account.display_name,
    )


# -- logins and throttling -----------------------------------------------------------------


def count_attempt(session: Session, key: str) -> int:
    """Count one login attempt for ``key`` atomically, commit it, and return the count.

    Counting before the (slow) password check and committing at once means that concurrent
    attempts see each other: no more than the limit are ever checked, whatever the
    number of workers. A concurrent first insert is retried as an update.
    """
    now = utcnow()
    bump = (
        update(LoginThrottle)
        .where(col(LoginThrottle.key) == key)
        .values(failures=LoginThrottle.failures + 1, last_failure_at=now)
    )
    if session.execute(bump).rowcount == 0:  # type: ignore[attr-defined]
        try:
            with session.begin_nested():
                session.add(LoginThrottle(key=key, failures=1, last_failure_at=now))
        except IntegrityError:
            session.execute(bump)
    count = session.execute(
        select(LoginThrottle.failures).where(col(LoginThrottle.key) == key)
    ).scalar_one()
    session.commit()
    return count


def running_lock(session: Session, keys: list[str]) -> datetime | None:
    """The latest running lock on ``keys``; an expired lock starts the count afresh."""
    now = utcnow()
    session.execute(
        update(LoginThrottle)
        .where(col(LoginThrottle.key).in_(keys), col(LoginThrottle.locked_until) <= now)
        .values(failures=0, locked_until=None)
    )
    until = (
        session.execute(
            select(LoginThrottle.locked_until).where(
                col(LoginThrottle.key).in_(keys), col(LoginThrottle.locked_until) > now
            )
        )
        .scalars()
        .all()
    )
    return max(until) if until else None


def masked(username: str) -> str:
    """An unknown username as the audit log keeps it: it may be a password typed in the
    wrong field, so only its first two characters are kept."""
    return username[:2] + "***"


def authenticate(session: Session, username: str, password: str, address: str | None) -> Account:
    """Check credentials with throttling; every attempt is counted and audited.

    Consecutive failures lock an account after :data:`ACCOUNT_LOCK_AFTER` and an address
    after :data:`ADDRESS_LOCK_AFTER`, for :data:`LOCK_FOR`. Entries about an existing
    account are filed under its home unit (so its administrators see them); an unknown
    username is kept masked. Commits the attempt's count; the caller commits the rest.

    :raises LoginRefused: with a message that does not reveal whether the username exists,
        except for a lock, which says until when.
    """
    username = username.strip().lower()
    if "\x00" in username or "\x00" in password or len(username) > 64:
        raise LoginRefused(WRONG_CREDENTIALS)  # no such account can exist; nothing to count
    account = session.exec(select(Account).where(Account.username == username)).first()
    who = f"login:{username}" if account else f"login:{masked(username)}"
    where = home_unit(session, account.id) if account else None  # type: ignore[arg-type]
    keys = [f"account:{username}"] + ([f"address:{address}"] if address else [])
    limits = (ACCOUNT_LOCK_AFTER, ADDRESS_LOCK_AFTER)

    def note(action: str, until: datetime | None) -> None:
        record(
            session,
            actor=who,
            action=action,
            target_type="account",
            target_id=who.removeprefix("login:"),
            unit_code=where,
            source=address,
            after={"locked_until": until.isoformat() if until else None},
        )

    def lock(locked: list[str]) -> datetime:
        until = utcnow() + LOCK_FOR
        session.execute(
            update(LoginThrottle)
            .where(col(LoginThrottle.key).in_(locked))
            .values(locked_until=until)
        )
        return until

    def refuse_locked(until: datetime) -> LoginRefused:
        note("auth.login_locked", until)
        return LoginRefused(
            f"登录失败次数过多，已锁定至 {until:%H:%M} (UTC) / too many failed logins: locked",
            until,
        )

    if (until := running_lock(session, keys)) is not None:
        raise refuse_locked(until)
    counts = [count_attempt(session, key) for key in keys]
    over = [key for key, count, limit in zip(keys, counts, limits, strict=False) if count > limit]
    if over:  # other attempts in flight used up the allowance: lock without checking
        raise refuse_locked(lock(over))
    valid = verify_password(account.password_hash if account else dummy_hash(), password)
    if account is None or not valid or not account.active:
        reached = [
            key for key, count, limit in zip(keys, counts, limits, strict=False) if count >= limit
        ]
        locked_until = lock(reached) if reached else None
        note("auth.login_failed", locked_until)
        if locked_until is not None:
            raise LoginRefused(
                "登录失败次数过多，账号已锁定 15 分钟 / too many failed logins: "
                "locked for 15 minutes",
                locked_until,
            )
        raise LoginRefused(WRONG_CREDENTIALS)
    # A success clears the account's count and gives the address its attempt back.
    session.execute(delete(LoginThrottle).where(col(LoginThrottle.key) == keys[0]))
    if len(keys) > 1:
        session.execute(
            update(LoginThrottle)
            .where(col(LoginThrottle.key) == keys[1], col(LoginThrottle.failures) > 0)
            .values(failures=LoginThrottle.failures - 1)
        )
    record(
        session,
        actor=f"account:{username}",
        action="auth.login",
        target_type="account",
        target_id=str(account.id),
        unit_code=where,
        source=address,
    )
    return account


# -- tokens and API keys -------------------------------------------------------------------


def issue_token(session: Session, account: Account, kind: str, address: str | None) -> str:
    """A new opaque token for ``account``; only its digest is stored. Returns it once."""
    raw = new_token("sms" if kind == "session" else "smt")
    session.add(
        AuthToken(
            account_id=account.id,
            token_hash=digest(raw),
            kind=kind,  # type: ignore[arg-type]
            expires_at=utcnow() + TOKEN_TTL[kind],
            address=address,
        )
    )
    return raw


def revoke_token(session: Session, raw: str, *, by: str) -> bool:
    result = session.execute(
        update(AuthToken)
        .where(col(AuthToken.token_hash) == digest(raw), col(AuthToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    if result.rowcount:  # type: ignore[attr-defined]
        record(
            session,
            actor=by,
            action="auth.logout",
            target_type="auth_token",
            target_id=digest(raw)[:12],
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def revoke_all_tokens(session: Session, account_id: int, keep: str | None = None) -> None:
    query = update(AuthToken).where(
        col(AuthToken.account_id) == account_id, col(AuthToken.revoked_at).is_(None)
    )
    if keep is not None:
        query = query.where(col(AuthToken.token_hash) != digest(keep))
    session.execute(query.values(revoked_at=utcnow()))


_ACTOR_BY_TOKEN = (
    select(
        col(Account.id),
        col(Account.username),
        col(Account.display_name),
        col(Account.person_id),
        col(RoleAssignment.role),
        col(RoleAssignment.unit_code),
    )
    .select_from(AuthToken)
    .join(Account, col(AuthToken.account_id) == col(Account.id))
    .outerjoin(RoleAssignment, col(RoleAssignment.account_id) == col(Account.id))
    .where(
        col(AuthToken.token_hash) == bindparam("digest"),
        col(AuthToken.kind) == bindparam("kind"),
        col(AuthToken.revoked_at).is_(None),
        col(AuthToken.expires_at) > bindparam("now"),
        col(Account.active).is_(True),
    )
    .order_by(col(RoleAssignment.id))
)


def actor_from_token(session: Session | Connection, raw: str, kind: str) -> Actor | None:
    """The actor behind a live token of ``kind`` (``bearer`` or ``session``), or ``None``.

    One indexed query (token, account and roles together; it runs on every authenticated
    request); an inactive account or a revoked or expired token gives ``None``.
    """
    rows = session.execute(
        _ACTOR_BY_TOKEN, {"digest": digest(raw), "kind": kind, "now": utcnow()}
    ).all()
    if not rows:
        return None
    account_id, username, display_name, person_id = rows[0][:4]
    roles = tuple(role_at(role, unit) for *_, role, unit in rows if role is not None)
    return Actor(
        "account", account_id, username, roles, person_id=person_id, display_name=display_name
    )


def create_api_key(
    session: Session,
    catalog: AccessCatalog,
    *,
    name: str,
    unit_code: str,
    by: str,
    role: str = "integrator",
) -> str:
    """A new API key named ``name`` holding ``role`` at a unit; returns it once."""
    name = name.strip()
    if not name or len(name) > 100:
        raise IdentityError("name: 名称不能为空且不超过 100 字 / 1–100 characters")
    if session.exec(select(ApiKey.id).where(ApiKey.name == name)).first():
        raise IdentityError(f"name: API key {name!r} 已存在 / already exists")
    unit = unit_field(session, unit_code)
    try:
        catalog.check_assignable(role, unit.code)
    except AccessError as exc:
        raise IdentityError(f"role: {exc}") from exc
    raw = new_token("smk")
    key = ApiKey(name=name, key_hash=digest(raw), role=role, unit_code=unit.code, created_by=by)
    session.add(key)
    session.flush()
    record(
        session,
        actor=by,
        action="apikey.create",
        target_type="api_key",
        target_id=str(key.id),
        unit_code=unit.code,
        after={"name": name, "role": role},
    )
    return raw


def actor_from_api_key(session: Session | Connection, raw: str) -> Actor | None:
    """The actor behind a live API key, or ``None`` (one indexed query)."""
    key = session.execute(
        select(col(ApiKey.id), col(ApiKey.name), col(ApiKey.role), col(ApiKey.unit_code)).where(
            col(ApiKey.key_hash) == digest(raw), col(ApiKey.revoked_at).is_(None)
        )
    ).first()
    if key is None:
        return None
    key_id, name, role, unit_code = key
    return Actor("api_key", key_id, name, (role_at(role, unit_code),))
