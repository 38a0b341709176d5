"""Imports every core table so that ``SQLModel.metadata`` is complete (migrations,
autogenerate and ``create_all`` all need the whole set)."""

from core.audit.models import AuditEntry
from core.identity.models import (
    Account,
    ApiKey,
    AuthToken,
    LoginThrottle,
    RoleAssignment,
    SigningKey,
)
from core.plugins.models import ConfigVersion, PluginSetting
from core.units.models import Unit

__all__ = [
    "Account",
    "ApiKey",
    "AuditEntry",
    "AuthToken",
    "ConfigVersion",
    "LoginThrottle",
    "PluginSetting",
    "RoleAssignment",
    "SigningKey",
    "Unit",
]
