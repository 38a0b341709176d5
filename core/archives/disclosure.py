"""When the archive shows sensitive fields unmasked, and the audit entry of each such read."""

from __future__ import annotations

from fastapi import Request

from core.archives import service
from core.audit.reads import audit_read
from core.identity.access import Actor

SENSITIVE_FIELDS = ["id_number", "phone"]


def reveal(
    request: Request,
    actor: Actor,
    kind: str,
    rid: int,
    unit_code: str,
    fields: list[str] = SENSITIVE_FIELDS,
) -> bool:
    """Whether to show ``fields`` of ``kind`` ``rid`` unmasked (the actor holds
    ``archive.read_sensitive`` at ``unit_code``); if so the read is audited first."""
    if not request.app.state.kernel.allowed(actor, service.SENSITIVE, unit_code):
        return False
    audit_read(
        request,
        actor,
        service.SENSITIVE,
        target_type=kind,
        target_id=str(rid),
        unit_code=unit_code,
        fields=fields,
    )
    return True
