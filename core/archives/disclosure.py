"""When the archive shows sensitive fields unmasked, and the audit entry of each such read."""

from __future__ import annotations

import functools

from fastapi import Request

from core.archives import service
from core.archives.crypto import ArchiveCipher
from core.archives.idnumbers import mask_id_number
from core.audit.reads import audit_read
from core.identity.access import Actor

SENSITIVE_FIELDS = ["id_number", "phone"]
MASK_CACHE = 16_384  # masked ID numbers remembered (about 5 MB): a few thousand households


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


@functools.lru_cache(maxsize=MASK_CACHE)
def masked_id_number(cipher: ArchiveCipher, id_cipher: str) -> str:
    """The masked ID number stored as ``id_cipher``, remembered per ciphertext (each
    encryption has its own nonce, so a changed number is a new key): paging and printing a
    book decrypt each member once, not on every read. Only the masked form is kept."""
    return mask_id_number(cipher.decrypt(id_cipher))
