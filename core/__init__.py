"""Sanmin core: the one import surface for plugin authors.

Everything a plugin needs comes from here::

    from core import hookimpl, PluginManifest, MenuLink, Unit
"""

from core.archives.care import TAGS as CARE_TAGS
from core.archives.care import ArchiveCareAssessment, ArchivePersonTag, CareInputs, CareResult
from core.archives.care_api import thresholds_for as care_thresholds
from core.archives.crypto import ArchiveCipher, ArchiveKeyError
from core.archives.extensions import ArchiveField
from core.archives.household_file import HouseholdSection, SectionEntry
from core.archives.idnumbers import IdNumberError, mask_id_number, mask_phone, validate_id_number
from core.archives.models import ArchiveHousehold, ArchivePerson
from core.audit.service import record as record_audit
from core.db.engine import get_session, make_engine
from core.db.migration_env import run_migrations_env
from core.db.types import UTCDateTime, utcnow
from core.demo.accounts import DemoAccount
from core.events.outbox import emit
from core.events.spec import Event
from core.forms.service import InvalidSubmission
from core.forms.service import Submission as FormSubmission
from core.forms.service import submit as submit_form
from core.forms.service import validate_data as validate_form_data
from core.forms.spec import FormSpec
from core.hookspecs import hookimpl, hookspec
from core.identity.access import (
    Actor,
    Permission,
    Role,
    bound_scope_clause,
    role_at,
    scope_clause,
    scope_parameters,
    scope_ranges,
)
from core.identity.accounts_service import list_accounts
from core.identity.web import require_permission
from core.jobs.spec import Job, JobContext
from core.kernel import Kernel, Scope
from core.metrics.compute import metric_value
from core.metrics.spec import Metric
from core.plugins.errors import PluginDisabled, PluginHookError, StartupError
from core.plugins.manifest import PluginManifest
from core.plugins.toggles import PluginState, ScopeUnit
from core.settings import Settings
from core.tickets.service import (
    TicketIn,
    create_ticket,
    get_ticket,
    rate_ticket,
    transition_ticket,
)
from core.tickets.service import types_at as ticket_types_at
from core.tickets.types import Clocks as TicketClocks
from core.tickets.types import TicketType
from core.units.codes import Level, UnitCodeError, parse_code
from core.units.models import Unit
from core.units.service import UnitNotFound, get_unit, in_subtree, list_units
from core.version import __version__
from core.web.inputs import DB_INT_MAX, OptionalText, RequiredText, TrimmedText, clean_text
from core.web.menu import MenuLink
from core.web.panels import WorkbenchItem, WorkbenchPanel
from core.web.refusals import field_errors, fields_named, refusal_by_field
from core.web.render import page_link, render
from core.web.requests import actor_of, kernel_of, session_of
from core.web.scope import current_scope
from core.workflows.deadlines import Deadline
from core.workflows.ownership import ServiceOnly
from core.workflows.service import (
    WorkflowError,
    apply_transition,
    get_workflow_instance,
    list_workflow_instances,
    start_workflow,
    transition_workflow,
    workflow_history,
)
from core.workflows.service import clean_inputs as clean_transition_inputs
from core.workflows.spec import State, Transition, TransitionInput, Workflow, WorkflowInstance

__all__ = [
    "CARE_TAGS",
    "DB_INT_MAX",
    "Actor",
    "ArchiveCareAssessment",
    "ArchiveCipher",
    "ArchiveField",
    "ArchiveHousehold",
    "ArchiveKeyError",
    "ArchivePerson",
    "ArchivePersonTag",
    "CareInputs",
    "CareResult",
    "Deadline",
    "DemoAccount",
    "Event",
    "FormSpec",
    "FormSubmission",
    "HouseholdSection",
    "IdNumberError",
    "InvalidSubmission",
    "Job",
    "JobContext",
    "Kernel",
    "Level",
    "MenuLink",
    "Metric",
    "OptionalText",
    "Permission",
    "PluginDisabled",
    "PluginHookError",
    "PluginManifest",
    "PluginState",
    "RequiredText",
    "Role",
    "Scope",
    "ScopeUnit",
    "SectionEntry",
    "ServiceOnly",
    "Settings",
    "StartupError",
    "State",
    "TicketClocks",
    "TicketIn",
    "TicketType",
    "Transition",
    "TransitionInput",
    "TrimmedText",
    "UTCDateTime",
    "Unit",
    "UnitCodeError",
    "UnitNotFound",
    "WorkbenchItem",
    "WorkbenchPanel",
    "Workflow",
    "WorkflowError",
    "WorkflowInstance",
    "__version__",
    "actor_of",
    "apply_transition",
    "bound_scope_clause",
    "care_thresholds",
    "clean_text",
    "clean_transition_inputs",
    "create_ticket",
    "current_scope",
    "emit",
    "field_errors",
    "fields_named",
    "get_session",
    "get_ticket",
    "get_unit",
    "get_workflow_instance",
    "hookimpl",
    "hookspec",
    "in_subtree",
    "kernel_of",
    "list_accounts",
    "list_units",
    "list_workflow_instances",
    "make_engine",
    "mask_id_number",
    "mask_phone",
    "metric_value",
    "page_link",
    "parse_code",
    "rate_ticket",
    "record_audit",
    "refusal_by_field",
    "render",
    "require_permission",
    "role_at",
    "run_migrations_env",
    "scope_clause",
    "scope_parameters",
    "scope_ranges",
    "session_of",
    "start_workflow",
    "submit_form",
    "ticket_types_at",
    "transition_ticket",
    "transition_workflow",
    "utcnow",
    "validate_form_data",
    "validate_id_number",
    "workflow_history",
]

from core.web.app import create_app

__all__ += ["create_app"]
