"""JSON API of plugins' forms, under each plugin's prefix: ``/api/v1/p/{plugin}/forms/…``.

The forms plugin is a core plugin, mounted without the township guard: every route
depends on :func:`require_actor` and then on the guard of the plugin its path names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_serializer
from sqlmodel import Session

from core.forms import service
from core.forms.models import FormRecord
from core.forms.spec import FormSpec
from core.forms.web import form_in_path
from core.identity.access import Actor
from core.identity.web import require_actor
from core.kernel import Scope
from core.web.inputs import Offset, RowId, no_nul
from core.web.scope import require_plugin_from_path

api = APIRouter(prefix="/p/{plugin}/forms", dependencies=[Depends(require_actor)])

ActorDep = Annotated[Actor, Depends(require_actor)]
ScopeDep = Annotated[Scope, Depends(require_plugin_from_path)]
Form = Annotated[FormSpec, Depends(form_in_path)]
SubjectId = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(no_nul)]


class FormOut(BaseModel):
    """A form a plugin declares, with the JSON schema of its data."""

    name: str
    title: str
    description: str
    subject: str
    version: int
    submit_permission: str
    read_permission: str
    schema_: dict[str, Any] = Field(alias="schema", serialization_alias="schema")

    model_config = ConfigDict(populate_by_name=True)


class NewRecord(BaseModel):
    """A submission: the subject's id (for a unit form, defaults to the request's unit)
    and the form's values."""

    subject: SubjectId | None = Field(
        None, description="对象编号：单位代码、户编号、人员编号或工单编号 / the subject's id"
    )
    data: dict[str, Any] = Field(description="表单内容 / the form's values")

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class RecordOut(BaseModel):
    """One record; ``data`` follows the form's current fields (see ``schema_version``)."""

    id: int
    plugin: str
    form: str
    schema_version: int
    subject_kind: str
    subject_id: str
    unit_code: str
    author: str
    created_at: datetime
    data: dict[str, Any]

    @field_serializer("created_at")
    def _iso(self, at: datetime) -> str:
        return at.isoformat()


class RecordPage(BaseModel):
    """A page of records, newest first; ``next_offset`` is ``None`` on the last page."""

    items: list[RecordOut]
    offset: int
    limit: int
    next_offset: int | None


def record_out(spec: FormSpec, record: FormRecord | service.RecordRow) -> RecordOut:
    """A record (the ORM's, or the service's Core row) as the API answers it."""
    return RecordOut(
        id=record.id,  # type: ignore[arg-type]
        plugin=record.plugin,
        form=record.form,
        schema_version=record.schema_version,
        subject_kind=record.subject_kind,
        subject_id=record.subject_id,
        unit_code=record.unit_code,
        author=record.author,
        created_at=record.created_at,
        data=service.read_data(spec, record.data),
    )


def _session(request: Request) -> Session:
    return Session(request.app.state.kernel.engine)


def _invalid(exc: service.InvalidSubmission) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("body", *loc), "msg": msg, "type": "value_error"} for loc, msg in exc.errors]
    )


@api.get("", summary="插件的表单及其结构 / the plugin's forms", response_model=list[FormOut])
def list_forms(request: Request, plugin: str, scope: ScopeDep) -> list[FormOut]:
    return [
        FormOut(
            name=spec.name,
            title=spec.title,
            description=spec.description,
            subject=spec.subject,
            version=spec.version,
            submit_permission=spec.submit_permission,
            read_permission=spec.read_permission,
            schema=spec.model.model_json_schema(),
        )
        for spec in request.app.state.kernel.forms.of(plugin)
    ]


@api.get(
    "/{form}/records",
    summary="辖区内的表单记录，新的在前 / records in your scope, newest first",
    response_model=RecordPage,
)
def list_records(
    request: Request,
    plugin: str,
    spec: Form,
    actor: ActorDep,
    scope: ScopeDep,
    limit: int = Query(50, ge=1, le=500),
    offset: Offset = 0,
) -> RecordPage:
    with _session(request) as session:
        found = service.list_records(
            session,
            request.app.state.kernel,
            actor,
            plugin,
            spec,
            scope.unit,
            limit=limit + 1,
            offset=offset,
        )
    return RecordPage(
        items=[record_out(spec, r) for r in found[:limit]],
        offset=offset,
        limit=limit,
        next_offset=offset + limit if len(found) > limit else None,
    )


@api.post(
    "/{form}/records",
    summary="提交表单（同一 Idempotency-Key 重试不会重复）/ submit (idempotent with a key)",
    response_model=RecordOut,
    status_code=201,
    responses={
        200: {"description": "已提交过：同一 Idempotency-Key 的原记录 / the earlier record"}
    },
)
async def create_record(
    request: Request,
    plugin: str,
    body: NewRecord,
    spec: Form,
    actor: ActorDep,
    scope: ScopeDep,
    idempotency_key: Annotated[
        str | None,
        Header(min_length=1, max_length=128, description="重试时保持不变 / same on retries"),
        AfterValidator(no_nul),
    ] = None,
) -> Response:
    """``async``, with the database work in one threadpool call on one connection (a write
    must not block the event loop on SQLite's lock), and the body serialised once."""
    subject = body.subject or (scope.unit.code if spec.subject == "unit" else None)
    if subject is None:
        raise _invalid(service.InvalidSubmission([(("subject",), "此项必填 / Field required")]))
    new = service.Submission(subject.strip(), body.data, idempotency_key)
    kernel = request.app.state.kernel

    def store() -> tuple[service.RecordRow, bool]:
        with kernel.engine.connect() as conn:
            return service.submit(conn, kernel, actor, plugin, spec, new)

    try:
        record, created = await run_in_threadpool(store)
    except service.InvalidSubmission as exc:
        raise _invalid(exc) from None
    return Response(
        record_out(spec, record).model_dump_json(),
        status_code=201 if created else 200,
        media_type="application/json",
    )


@api.get(
    "/{form}/records/{record_id}", summary="一条表单记录 / one record", response_model=RecordOut
)
def get_record(
    request: Request, plugin: str, record_id: RowId, spec: Form, actor: ActorDep
) -> RecordOut:
    with _session(request) as session:
        record, _ = service.get_record(
            session, request.app.state.kernel, actor, plugin, spec, record_id
        )
    return record_out(spec, record)
