"""Managing accounts within an administrator's scope: the rules both the API and the pages use.

* **Seeing** an account needs ``accounts.read`` at the unit of at least one of its roles.
  That is decided in the query (:func:`visible_accounts`, an ``EXISTS`` over its role
  assignments with :func:`core.scope_clause`); an account outside it answers 404. Of a
  visible account only the roles inside that scope are shown; the others are only counted
  (``roles_elsewhere``), so nothing of the next township is disclosed.
* **Granting** (or revoking) role R at unit U needs ``accounts.manage`` at U and every
  permission of R at U: nobody hands out more than they hold (:func:`check_grantable`).
  ``system_admin`` (:data:`HOLDER_ONLY`) is handed out only by an actor holding it itself:
  a city admin holds every core permission too, but must not appoint system administrators.
* **Deactivating** (or activating) an account needs that for every one of its roles, and
  is never allowed on oneself. Revoking one's own role or an account's last role is refused
  too: the first locks administrators out, the second leaves an account no one can see.
  The last-role rule holds under concurrency: :func:`revoke` locks the account row and
  deletes with a condition on the count in the same statement (:func:`delete_unless_last`).

Every function raises :class:`HTTPException` with a message that starts with the field it
is about; the caller commits only when nothing was raised. The changes themselves go through
:mod:`core.identity.service`, which audits them.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Exists, delete, func, not_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from core.audit.service import record
from core.identity.access import AccessCatalog, AccessError, Actor, scope_clause
from core.identity.models import Account, RoleAssignment
from core.identity.secrets import PasswordPolicyError
from core.identity.service import (
    IdentityError,
    create_account,
    grant_role,
    roles_of,
    set_active,
)
from core.units.codes import UnitCodeError, parse_code, path_upper_bound
from core.units.models import Unit
from core.web.inputs import Text

READ = "accounts.read"
MANAGE = "accounts.manage"
NOT_FOUND = "账号不存在或不在您的范围内 / no such account in your scope"
# Roles only an actor holding them may grant, revoke, or (de)activate an account holding.
HOLDER_ONLY = frozenset({"system_admin"})


class AccountRoleOut(BaseModel):
    """One role assignment: its id (to revoke it), the role and its unit."""

    id: int
    role: str
    title: str
    unit_code: str
    unit_name: str


class AccountOut(BaseModel):
    id: int
    username: str
    display_name: str
    active: bool
    created_at: datetime
    roles: list[AccountRoleOut] = Field(description="您范围内的角色 / roles inside your scope")
    roles_elsewhere: int = Field(
        0, description="在您范围之外的角色数 / how many roles lie outside your scope"
    )


class NewAccount(BaseModel):
    username: Text = Field(max_length=64, description="3–64 位小写字母、数字或 . _ -")
    password: str = Field(max_length=256, description="至少 10 位，不含用户名")
    display_name: Text = Field("", max_length=100, description="显示名，如姓名")
    role: Text = Field(max_length=64, description="角色，如 grid_worker")
    unit_code: Text = Field(max_length=15, description="角色所在单位代码")


class NewRole(BaseModel):
    role: Text = Field(max_length=64, description="角色，如 grid_worker")
    unit_code: Text = Field(max_length=15, description="角色所在单位代码")


# -- seeing --------------------------------------------------------------------------------


def in_read_scope(actor: Actor, access: AccessCatalog) -> ColumnElement[bool]:
    """SQL: the role assignment lies where ``actor`` holds ``accounts.read``."""
    return scope_clause(actor, access, READ, col(RoleAssignment.unit_code))


def holds_role_where(*conditions: ColumnElement[bool]) -> Exists:
    """SQL: the account (of the enclosing query) has a role assignment meeting ``conditions``."""
    return (
        select(RoleAssignment.id)
        .where(col(RoleAssignment.account_id) == col(Account.id), *conditions)
        .exists()
    )


def visible_accounts(actor: Actor, access: AccessCatalog) -> ColumnElement[bool]:
    """SQL: the account has a role where ``actor`` holds ``accounts.read``."""
    return holds_role_where(in_read_scope(actor, access))


def visible_account(
    session: Session, actor: Actor, access: AccessCatalog, account_id: int
) -> Account:
    """The account, if ``actor`` may see it; 404 otherwise (as if it did not exist)."""
    account = session.exec(
        select(Account).where(col(Account.id) == account_id, visible_accounts(actor, access))
    ).first()
    if account is None:
        raise HTTPException(404, NOT_FOUND)
    return account


def scoped_unit(
    session: Session, actor: Actor, access: AccessCatalog, code: str, field: str, permission: str
) -> Unit:
    """The unit ``code`` where ``actor`` holds ``permission``.

    422 for a malformed code; 404 for a unit the actor cannot see (or that does not exist);
    403 for one it can see but where it lacks ``permission``.
    """
    try:
        parsed = parse_code(code)
    except UnitCodeError as exc:
        raise HTTPException(422, f"{field}: {exc}") from None
    if not actor.role_allows(access, permission, parsed.code):
        if permission != READ and actor.role_allows(access, READ, parsed.code):
            raise HTTPException(
                403,
                f"{field}: 您在 {parsed.code} 没有 {permission} 权限 / "
                f"permission {permission!r} required at {parsed.code}",
            )
        raise HTTPException(
            404, f"{field}: 单位 {parsed.code} 不存在或不在您的范围内 / no such unit in your scope"
        )
    unit = session.get(Unit, parsed.code)
    if unit is None:
        raise HTTPException(
            404, f"{field}: 单位 {parsed.code} 不存在或不在您的范围内 / no such unit in your scope"
        )
    return unit


def role_views(
    session: Session, actor: Actor, access: AccessCatalog, accounts: list[Account]
) -> list[AccountOut]:
    """The accounts with their roles inside the actor's scope (two queries for the lot)."""
    ids = [a.id for a in accounts]
    if not ids:
        return []
    inside = in_read_scope(actor, access)
    rows = session.exec(
        select(RoleAssignment, Unit.name)
        .join(Unit, col(Unit.code) == col(RoleAssignment.unit_code))
        .where(col(RoleAssignment.account_id).in_(ids), inside)
        .order_by(col(RoleAssignment.id))
    ).all()
    elsewhere = dict(
        session.exec(
            select(RoleAssignment.account_id, func.count())
            .where(col(RoleAssignment.account_id).in_(ids), not_(inside))
            .group_by(col(RoleAssignment.account_id))
        ).all()
    )
    held: dict[int, list[AccountRoleOut]] = {}
    for assignment, unit_name in rows:
        known = access.roles.get(assignment.role)
        held.setdefault(assignment.account_id, []).append(
            AccountRoleOut(
                id=assignment.id,  # type: ignore[arg-type]
                role=assignment.role,
                title=known.title if known else assignment.role,
                unit_code=assignment.unit_code,
                unit_name=unit_name,
            )
        )
    return [
        AccountOut(
            id=a.id,  # type: ignore[arg-type]
            username=a.username,
            display_name=a.display_name,
            active=a.active,
            created_at=a.created_at,
            roles=held.get(a.id, []),  # type: ignore[arg-type]
            roles_elsewhere=elsewhere.get(a.id, 0),
        )
        for a in accounts
    ]


def account_view(
    session: Session, actor: Actor, access: AccessCatalog, account: Account
) -> AccountOut:
    return role_views(session, actor, access, [account])[0]


def list_accounts(
    session: Session,
    actor: Actor,
    access: AccessCatalog,
    *,
    under: str | None = None,
    role: str | None = None,
    active: bool | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[AccountOut]:
    """Visible accounts by username. ``under`` and ``role`` match roles inside the scope only;
    an ``under`` outside it answers 404, like a unit that does not exist."""
    conditions = [in_read_scope(actor, access)]
    if under:
        unit = scoped_unit(session, actor, access, under, "under", READ)
        conditions += [
            col(RoleAssignment.unit_code) >= unit.path,
            col(RoleAssignment.unit_code) < path_upper_bound(unit.path),
        ]
    if role:
        if role not in access.roles:
            raise HTTPException(422, f"role: 角色 {role!r} 不存在 / unknown role")
        conditions.append(col(RoleAssignment.role) == role)
    query = select(Account).where(holds_role_where(*conditions))
    if active is not None:
        query = query.where(col(Account.active).is_(active))
    if q and q.strip():
        query = query.where(col(Account.username).startswith(q.strip().lower(), autoescape=True))
    query = query.order_by(col(Account.username)).offset(offset).limit(limit)
    return role_views(session, actor, access, list(session.exec(query)))


# -- changing ------------------------------------------------------------------------------


def missing_permissions(
    actor: Actor, access: AccessCatalog, role: str, unit_code: str
) -> list[str]:
    """What ``actor`` lacks at ``unit_code`` to hand out ``role`` (``accounts.manage`` first)."""
    found = access.roles.get(role)
    wanted = [MANAGE, *sorted(found.permissions if found else ())]
    return [p for p in dict.fromkeys(wanted) if not actor.role_allows(access, p, unit_code)]


def lacks_holder_role(actor: Actor, role: str) -> bool:
    """Whether ``role`` is one only its holders hand out and ``actor`` does not hold it."""
    return role in HOLDER_ONLY and not any(r.role == role for r in actor.roles)


def may_hand_out(actor: Actor, access: AccessCatalog, role: str, unit_code: str) -> bool:
    """Whether ``actor`` may grant or revoke ``role`` at ``unit_code`` (level aside)."""
    return not lacks_holder_role(actor, role) and not missing_permissions(
        actor, access, role, unit_code
    )


def grantable_roles(actor: Actor, access: AccessCatalog) -> list[str]:
    """Roles the actor may hand out at one of its own units at least (for the pages' selects)."""
    units = [r.unit_code for r in actor.roles]
    return [
        name
        for name in access.roles
        if any(may_hand_out(actor, access, name, code) for code in units)
    ]


def check_grantable(actor: Actor, access: AccessCatalog, role: str, unit: Unit) -> None:
    """422 for an unknown role or one not held at that level; 403 for an escalation."""
    try:
        access.check_assignable(role, unit.code)
    except AccessError as exc:
        raise HTTPException(422, f"role: {exc}") from None
    if lacks_holder_role(actor, role):
        title = access.roles[role].title
        raise HTTPException(
            403,
            f"role: 只有{title}才能授予或撤销角色 {title}（{role}）/ only a holder of role "
            f"{role!r} may grant or revoke it",
        )
    missing = missing_permissions(actor, access, role, unit.code)
    if missing:
        title = access.roles[role].title
        raise HTTPException(
            403,
            f"role: 不能在 {unit.name} 授予角色 {title}（{role}）：您在此没有 "
            f"{'、'.join(missing)} 权限 / cannot grant role {role!r} at {unit.code}: "
            f"you lack {', '.join(missing)} there",
        )


def is_self(actor: Actor, account: Account) -> bool:
    return actor.kind == "account" and actor.id == account.id


def create(session: Session, actor: Actor, access: AccessCatalog, new: NewAccount) -> Account:
    unit = scoped_unit(session, actor, access, new.unit_code, "unit_code", MANAGE)
    check_grantable(actor, access, new.role, unit)
    username = new.username.strip().lower()
    if session.exec(select(Account.id).where(col(Account.username) == username)).first():
        raise HTTPException(409, f"username: {username} 已存在 / already exists")
    try:
        return create_account(
            session,
            access,
            username=username,
            password=new.password,
            roles=[(new.role, unit.code)],
            by=actor.label,
            display_name=new.display_name.strip(),
        )
    except (IdentityError, PasswordPolicyError) as exc:
        raise HTTPException(422, str(exc)) from None
    except IntegrityError:  # the same username, created at the same moment
        raise HTTPException(409, f"username: {username} 已存在 / already exists") from None


def grant(
    session: Session, actor: Actor, access: AccessCatalog, account_id: int, new: NewRole
) -> AccountRoleOut:
    """Give a visible account a role (idempotent: an existing assignment is returned)."""
    account = visible_account(session, actor, access, account_id)
    unit = scoped_unit(session, actor, access, new.unit_code, "unit_code", MANAGE)
    check_grantable(actor, access, new.role, unit)
    try:
        assignment = grant_role(
            session, access, account, role=new.role, unit_code=unit.code, by=actor.label
        )
        session.flush()
    except IdentityError as exc:
        raise HTTPException(422, str(exc)) from None
    except IntegrityError:  # the same grant, made at the same moment
        raise HTTPException(409, "role: 该角色刚被授予，请刷新 / granted just now") from None
    return AccountRoleOut(
        id=assignment.id,  # type: ignore[arg-type]
        role=assignment.role,
        title=access.roles[assignment.role].title,
        unit_code=unit.code,
        unit_name=unit.name,
    )


def lock_account(session: Session, account_id: int) -> None:
    """Lock the account's row until the transaction ends (``SELECT … FOR UPDATE``), so that
    changes to its roles are serialized. SQLite ignores the clause: it has a single writer,
    and :func:`delete_unless_last` is one statement."""
    session.exec(select(Account.id).where(col(Account.id) == account_id).with_for_update()).first()


def delete_unless_last(session: Session, assignment: RoleAssignment) -> bool:
    """Delete the assignment unless it is its account's only one, in ONE statement::

        DELETE FROM role_assignment WHERE id = :id
          AND (SELECT count(*) FROM role_assignment WHERE account_id = :account) > 1

    so that two concurrent revokes cannot each see the other's role and remove both.
    Returns whether a row was deleted."""
    held = aliased(RoleAssignment)
    count = (
        select(func.count())
        .select_from(held)
        .where(col(held.account_id) == assignment.account_id)
        .scalar_subquery()
    )
    statement = (
        delete(RoleAssignment)
        .where(col(RoleAssignment.id) == assignment.id, count > 1)
        .execution_options(synchronize_session=False)
    )
    session.expunge(assignment)
    return session.execute(statement).rowcount == 1  # type: ignore[attr-defined]


def revoke(
    session: Session, actor: Actor, access: AccessCatalog, account_id: int, assignment_id: int
) -> None:
    """Revoke one role of a visible account; 409 when it is the account's last one."""
    lock_account(session, account_id)
    account = visible_account(session, actor, access, account_id)
    assignment = session.exec(
        select(RoleAssignment).where(
            col(RoleAssignment.id) == assignment_id,
            col(RoleAssignment.account_id) == account.id,
            in_read_scope(actor, access),
        )
    ).first()
    if assignment is None:
        raise HTTPException(404, "assignment_id: 该账号没有此角色 / no such role assignment")
    if is_self(actor, account):
        raise HTTPException(403, "assignment_id: 不能撤销自己的角色 / cannot revoke your own role")
    if assignment.role in access.roles:  # a role of a removed plugin grants nothing: anyone
        unit = session.get(Unit, assignment.unit_code)  # with accounts.manage may clear it
        check_grantable(actor, access, assignment.role, unit)  # type: ignore[arg-type]
    elif not actor.role_allows(access, MANAGE, assignment.unit_code):
        raise HTTPException(
            403,
            f"assignment_id: 您在 {assignment.unit_code} 没有 {MANAGE} 权限 / "
            f"permission {MANAGE!r} required at {assignment.unit_code}",
        )
    if not delete_unless_last(session, assignment):
        if session.get(RoleAssignment, assignment_id) is None:  # revoked meanwhile
            raise HTTPException(404, "assignment_id: 该账号没有此角色 / no such role assignment")
        raise HTTPException(
            409,
            "assignment_id: 这是该账号唯一的角色，请改为停用账号 / the account's only role: "
            "deactivate the account instead",
        )
    record(  # as core.identity.service.revoke_role records it
        session,
        actor=actor.label,
        action="role.revoke",
        target_type="account",
        target_id=str(assignment.account_id),
        unit_code=assignment.unit_code,
        before={"role": assignment.role, "unit": assignment.unit_code},
    )


def change_active(
    session: Session, actor: Actor, access: AccessCatalog, account_id: int, active: bool
) -> Account:
    """(De)activate a visible account all of whose roles the actor could have granted."""
    account = visible_account(session, actor, access, account_id)
    if not active and is_self(actor, account):
        raise HTTPException(403, "account: 不能停用自己的账号 / cannot deactivate yourself")
    outside = session.exec(
        select(RoleAssignment.id).where(
            col(RoleAssignment.account_id) == account.id,
            not_(scope_clause(actor, access, MANAGE, col(RoleAssignment.unit_code))),
        )
    ).first()
    if outside is None:  # every role is where the actor manages: now the permissions
        for assignment in roles_of(session, account.id):  # type: ignore[arg-type]
            if assignment.role in access.roles and not may_hand_out(
                actor, access, assignment.role, assignment.unit_code
            ):
                outside = assignment.id
                break
    if outside is not None:
        raise HTTPException(
            403,
            "account: 该账号有您无权管理的角色 / the account holds roles you may not manage",
        )
    set_active(session, account, active, by=actor.label)
    return account
