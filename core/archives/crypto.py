"""Encryption of ID numbers at rest (AES-256-GCM) and their keyed hash for exact lookup.

Both keys are derived with HKDF-SHA256 from one archive key, with different ``info``: the
encryption key never serves as the hash key. The archive key is ``SANMIN_ARCHIVE_KEY`` when
set (production: keep it outside the database, in the secret store); otherwise one is made
once and kept in the ``archive_key`` table, which only protects a copy of a single column,
not a copy of the database (demo and tests). Changing the key makes stored ID numbers
unreadable: decrypting under the wrong key raises :class:`ArchiveKeyError`, never garbage.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.archives.models import ArchiveKey

if TYPE_CHECKING:
    from core.kernel import Kernel

NONCE_BYTES = 12
MIN_KEY_CHARS = 32


class ArchiveKeyError(RuntimeError):
    """A ciphertext that this key cannot decrypt (another key, or tampered data)."""


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret.encode()
    )


class ArchiveCipher:
    """Encrypts, decrypts and hashes ID numbers under one archive key."""

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_KEY_CHARS:
            raise ValueError(f"the archive key needs at least {MIN_KEY_CHARS} characters")
        self._aead = AESGCM(_derive(secret, b"sanmin-archive-encrypt"))
        self._hash_key = _derive(secret, b"sanmin-archive-lookup")

    def encrypt(self, plaintext: str) -> str:
        """``base64(nonce || ciphertext || tag)``, a fresh random nonce each call."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), None)
        return base64.b64encode(nonce + sealed).decode()

    def decrypt(self, token: str) -> str:
        """The plaintext of :meth:`encrypt`'s output.

        :raises ArchiveKeyError: another key encrypted it, or it was altered.
        """
        raw = base64.b64decode(token)
        try:
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], None).decode()
        except InvalidTag as exc:
            raise ArchiveKeyError(
                "档案密钥无法解密身份证号 / the archive key cannot decrypt this ID number "
                "(was SANMIN_ARCHIVE_KEY changed?)"
            ) from exc

    def lookup_hash(self, number: str) -> str:
        """HMAC-SHA256 of the canonical number, hex: equal numbers hash equal, and nobody
        without the key can test a guess against the column."""
        return hmac.digest(self._hash_key, number.encode(), "sha256").hex()  # one C call


def archive_secret(engine: Engine, configured: str | None) -> str:
    """``SANMIN_ARCHIVE_KEY`` if set, else a key made once and kept in the database."""
    if configured:
        return configured
    with Session(engine) as session:
        if session.get(ArchiveKey, 1) is None:
            session.add(ArchiveKey(id=1, value=secrets.token_urlsafe(48)))
            try:
                session.commit()
            except Exception:  # another process made it first
                session.rollback()
        return session.exec(select(ArchiveKey).where(ArchiveKey.id == 1)).one().value


_CIPHERS: WeakKeyDictionary[Kernel, ArchiveCipher] = WeakKeyDictionary()


def cipher_for(kernel: Kernel) -> ArchiveCipher:
    """The kernel's cipher, built on first use."""
    found = _CIPHERS.get(kernel)
    if found is None:
        secret = archive_secret(kernel.engine, kernel.settings.archive_key)
        found = _CIPHERS[kernel] = ArchiveCipher(secret)
    return found
