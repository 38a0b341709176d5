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
import hashlib
import os
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from core.kernel import Kernel

NONCE_BYTES = 12
MIN_KEY_CHARS = 32
HMAC_BLOCK = 64  # SHA-256's block size


class ArchiveKeyError(RuntimeError):
    """A ciphertext that this key cannot decrypt (another key, or tampered data)."""


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret.encode()
    )


class ArchiveCipher:
    """Encrypts, decrypts and hashes ID numbers under one archive key.

    This module imports no more than the standard library and ``cryptography`` (the database
    parts import theirs when called): the import's checking process loads it alone.
    """

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_KEY_CHARS:
            raise ValueError(f"the archive key needs at least {MIN_KEY_CHARS} characters")
        self._set_keys(
            _derive(secret, b"sanmin-archive-encrypt"), _derive(secret, b"sanmin-archive-lookup")
        )

    def _set_keys(self, encrypt_key: bytes, hash_key: bytes) -> None:
        self._keys = (encrypt_key, hash_key)
        self._aead = AESGCM(encrypt_key)
        # HMAC (RFC 2104) with the key's inner and outer hash states computed once:
        # hmac.digest() sets them up again for every number, twice the time on this path.
        block = hash_key.ljust(HMAC_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in block))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in block))

    def derived_keys(self) -> tuple[bytes, bytes]:
        """The encryption and lookup keys, for :meth:`from_derived_keys` in a process this
        one starts (the import's checking process): never to be stored or logged."""
        return self._keys

    @classmethod
    def from_derived_keys(cls, encrypt_key: bytes, hash_key: bytes) -> ArchiveCipher:
        """The cipher whose :meth:`derived_keys` these are."""
        cipher = cls.__new__(cls)
        cipher._set_keys(encrypt_key, hash_key)
        return cipher

    def encrypt(self, plaintext: str) -> str:
        """``base64(nonce || ciphertext || tag)``, a fresh random nonce each call."""
        return self._seal(os.urandom(NONCE_BYTES), plaintext)

    def encrypt_many(self, plaintexts: Sequence[str]) -> list[str]:
        """:meth:`encrypt` of each plaintext, their random nonces drawn from the operating
        system in one call rather than one each."""
        nonces = os.urandom(NONCE_BYTES * len(plaintexts))
        return [
            self._seal(nonces[at : at + NONCE_BYTES], text)
            for at, text in zip(range(0, len(nonces), NONCE_BYTES), plaintexts, strict=True)
        ]

    def _seal(self, nonce: bytes, plaintext: str) -> str:
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
        inner = self._inner.copy()
        inner.update(number.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


def archive_secret(engine: Engine, configured: str | None) -> str:
    """``SANMIN_ARCHIVE_KEY`` if set, else a key made once and kept in the database."""
    if configured:
        return configured
    from sqlmodel import Session, select

    from core.archives.models import ArchiveKey

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
