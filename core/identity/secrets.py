"""Password hashing (Argon2) and opaque tokens stored as SHA-256 digests."""

from __future__ import annotations

import functools
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

MIN_PASSWORD_LENGTH = 10


class PasswordPolicyError(ValueError):
    """A password that is too weak; the message says why."""


def check_password_policy(password: str, username: str = "") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(
            f"password: 密码至少 {MIN_PASSWORD_LENGTH} 位 / "
            f"at least {MIN_PASSWORD_LENGTH} characters"
        )
    if username and username.lower() in password.lower():
        raise PasswordPolicyError("password: 密码不能包含用户名 / must not contain the username")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Constant-time check; ``False`` for a wrong password or an unreadable hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def dummy_hash() -> str:
    """A real hash to verify against when the username does not exist, so that timing
    does not reveal which usernames exist (made on first use: hashing takes ~0.1 s)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def new_token(prefix: str) -> str:
    """An opaque token with 256 bits of randomness, e.g. ``smt_…``; shown once, never stored."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def digest(token: str) -> str:
    """What is stored and looked up: SHA-256 is enough for 256-bit random tokens."""
    return hashlib.sha256(token.encode()).hexdigest()
