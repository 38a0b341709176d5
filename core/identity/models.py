"""Accounts, role assignments, tokens, API keys and login throttling."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db.metadata import metadata  # noqa: F401  (naming convention first)
from core.db.types import UTCDateTime, utcnow


class Account(SQLModel, table=True):
    """Someone who logs in. Persons (archive records) are separate; a resident account may
    be linked to its person after verifying name and ID number (``person_id``)."""

    __tablename__ = "account"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    display_name: str = Field(default="", max_length=100)
    password_hash: str = Field(max_length=255)
    active: bool = True
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    password_changed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    person_id: int | None = Field(default=None, index=True)
    person_verified_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class RoleAssignment(SQLModel, table=True):
    """A role held at a unit; it reaches the unit's whole subtree."""

    __tablename__ = "role_assignment"
    __table_args__ = (UniqueConstraint("account_id", "role", "unit_code"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    role: str = Field(max_length=64)
    unit_code: str = Field(foreign_key="unit.code", max_length=15, index=True)
    granted_by: str = Field(max_length=200)
    granted_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class AuthToken(SQLModel, table=True):
    """A bearer or browser-session token; only its SHA-256 is stored."""

    __tablename__ = "auth_token"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    kind: str = Field(max_length=16, description="bearer or session")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    address: str | None = Field(default=None, max_length=64)


class ApiKey(SQLModel, table=True):
    """A key for an integrator, scoped to a unit with one role; only its SHA-256 is stored."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    key_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    role: str = Field(max_length=64)
    unit_code: str = Field(foreign_key="unit.code", max_length=15)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class LoginThrottle(SQLModel, table=True):
    """Consecutive failed logins for one account or one address, and the lock they caused."""

    __tablename__ = "login_throttle"

    key: str = Field(sa_column=Column(String(120), primary_key=True))
    failures: int = 0
    last_failure_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    locked_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class SigningKey(SQLModel, table=True):
    """The key that signs session cookies when ``SANMIN_SECRET_KEY`` is not set: made once,
    shared by every process through the database."""

    __tablename__ = "signing_key"

    id: int = Field(default=1, primary_key=True)
    value: str = Field(max_length=128)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
