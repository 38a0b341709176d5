"""Imports every core table so that ``SQLModel.metadata`` is complete (migrations,
autogenerate and ``create_all`` all need the whole set)."""

from core.archives.care import (
    ArchiveCareAssessment,
    ArchiveCareOverride,
    ArchiveCareProfile,
    ArchiveCareThreshold,
    ArchivePersonTag,
)
from core.archives.categories import (
    ArchiveEstate,
    ArchiveHouse,
    ArchiveOwnersCommittee,
    ArchivePlace,
    ArchivePropertyCompany,
    ArchiveVehicle,
)
from core.archives.import_models import ArchiveImportFile, ArchiveImportRun
from core.archives.models import ArchiveHousehold, ArchiveKey, ArchivePerson
from core.audit.models import AuditEntry
from core.events.models import EventDelivery, OutboxEvent
from core.forms.models import FormRecord
from core.identity.models import (
    Account,
    ApiKey,
    AuthToken,
    LoginThrottle,
    RoleAssignment,
    SigningKey,
)
from core.jobs.models import JobRun
from core.metrics.models import MetricDaily, MetricRefresh
from core.plugins.models import ConfigVersion, PluginSetting
from core.units.models import Unit
from core.workflows.models import WorkflowHistoryRow, WorkflowInstanceRow

__all__ = [
    "Account",
    "ApiKey",
    "ArchiveCareAssessment",
    "ArchiveCareOverride",
    "ArchiveCareProfile",
    "ArchiveCareThreshold",
    "ArchiveEstate",
    "ArchiveHouse",
    "ArchiveHousehold",
    "ArchiveImportFile",
    "ArchiveImportRun",
    "ArchiveKey",
    "ArchiveOwnersCommittee",
    "ArchivePerson",
    "ArchivePersonTag",
    "ArchivePlace",
    "ArchivePropertyCompany",
    "ArchiveVehicle",
    "AuditEntry",
    "AuthToken",
    "ConfigVersion",
    "EventDelivery",
    "FormRecord",
    "JobRun",
    "LoginThrottle",
    "MetricDaily",
    "MetricRefresh",
    "OutboxEvent",
    "PluginSetting",
    "RoleAssignment",
    "SigningKey",
    "Unit",
    "WorkflowHistoryRow",
    "WorkflowInstanceRow",
]
