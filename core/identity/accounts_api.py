"""JSON API for managing accounts: ``/api/v1/accounts``. The rules are in
:mod:`core.identity.accounts_service`; every write commits only when it succeeded."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import AfterValidator
from sqlmodel import Session

from core.identity import accounts_service as rules
from core.identity.access import AccessCatalog, Actor
from core.identity.accounts_service import (
    MANAGE,
    READ,
    AccountOut,
    AccountRoleOut,
    NewAccount,
    NewRole,
)
from core.identity.web import access_catalog, require_permission
from core.web.inputs import Offset, RowId, no_nul

api = APIRouter(prefix="/accounts")  # tagged "accounts" where it is mounted

Reader = Annotated[Actor, Depends(require_permission(READ))]
Manager = Annotated[Actor, Depends(require_permission(MANAGE))]
Access = Annotated[AccessCatalog, Depends(access_catalog)]


def _session(request: Request) -> Session:
    return Session(request.app.state.kernel.engine)


@api.get("", summary="列出辖区内的账号 / accounts in your scope", response_model=list[AccountOut])
def list_accounts(
    request: Request,
    actor: Reader,
    access: Access,
    under: str | None = Query(None, description="在此单位及其下级有角色 / a role in this subtree"),
    role: Annotated[
        str | None, Query(description="持有此角色 / holding this role"), AfterValidator(no_nul)
    ] = None,
    active: bool | None = Query(None, description="启用或停用 / active or not"),
    q: Annotated[
        str | None,
        Query(max_length=64, description="用户名前缀 / username prefix"),
        AfterValidator(no_nul),
    ] = None,
    limit: int = Query(50, ge=1, le=500),
    offset: Offset = 0,
) -> list[AccountOut]:
    with _session(request) as session:
        return rules.list_accounts(
            session,
            actor,
            access,
            under=under,
            role=role,
            active=active,
            q=q,
            limit=limit,
            offset=offset,
        )


@api.get("/{account_id}", summary="账号详情 / one account", response_model=AccountOut)
def get_account(request: Request, account_id: RowId, actor: Reader, access: Access) -> AccountOut:
    with _session(request) as session:
        account = rules.visible_account(session, actor, access, account_id)
        return rules.account_view(session, actor, access, account)


@api.post(
    "",
    summary="创建账号并授予一个角色 / create an account with one role",
    response_model=AccountOut,
    status_code=201,
)
def create_account(
    request: Request, body: NewAccount, actor: Manager, access: Access
) -> AccountOut:
    with _session(request) as session:
        account = rules.create(session, actor, access, body)
        session.commit()
        return rules.account_view(session, actor, access, account)


@api.post(
    "/{account_id}/roles",
    summary="授予角色（已有则不变）/ grant a role (idempotent)",
    response_model=AccountRoleOut,
    status_code=201,
)
def grant_role(
    request: Request, account_id: RowId, body: NewRole, actor: Manager, access: Access
) -> AccountRoleOut:
    with _session(request) as session:
        granted = rules.grant(session, actor, access, account_id, body)
        session.commit()
        return granted


@api.delete(
    "/{account_id}/roles/{assignment_id}",
    summary="撤销角色 / revoke a role",
    status_code=204,
)
def revoke_role(
    request: Request, account_id: RowId, assignment_id: RowId, actor: Manager, access: Access
) -> Response:
    with _session(request) as session:
        rules.revoke(session, actor, access, account_id, assignment_id)
        session.commit()
    return Response(status_code=204)


def _set_active(
    request: Request, account_id: int, actor: Actor, access: AccessCatalog, active: bool
) -> AccountOut:
    with _session(request) as session:
        account = rules.change_active(session, actor, access, account_id, active)
        session.commit()
        return rules.account_view(session, actor, access, account)


@api.post(
    "/{account_id}/deactivate",
    summary="停用账号，其令牌立即失效 / deactivate; its tokens stop working at once",
    response_model=AccountOut,
)
def deactivate(request: Request, account_id: RowId, actor: Manager, access: Access) -> AccountOut:
    return _set_active(request, account_id, actor, access, False)


@api.post(
    "/{account_id}/activate", summary="重新启用账号 / activate again", response_model=AccountOut
)
def activate(request: Request, account_id: RowId, actor: Manager, access: Access) -> AccountOut:
    return _set_active(request, account_id, actor, access, True)
