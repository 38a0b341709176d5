"""一户一档, the household file, as the JSON API and the page both show it.

The household and its members (each with plugins' extension values, the care level in force
and special-group tags), its housing and vehicles, the form records of plugins about it or
its members, the sections plugins add (``household_file_sections``) and a timeline of all
of these, newest first. The number of queries does not grow with the members: each table is
read once for all of them.

Masking as everywhere in the archive: ID numbers, phones, plates and care inputs are shown
only to an actor holding ``archive.read_sensitive`` at the household's unit, and that read
is audited first (:func:`core.archives.disclosure.reveal`). Plugins' form records are
listed only for plugins enabled in the household's township, and only those the actor may
read (:func:`core.forms.service.visible`).
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import Request
from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import Session, col, select

from core.archives import service
from core.archives.care import (
    LEVELS,
    TAGS,
    ArchiveCareAssessment,
    ArchiveCareOverride,
    ArchiveCareProfile,
    ArchivePersonTag,
)
from core.archives.care_api import CARE_FIELDS, profile_out, thresholds_for
from core.archives.categories import ENERGIES, HOUSE_USES, RESIDENCE_TYPES, VEHICLE_USES
from core.archives.categories_api import HOUSING, VEHICLES
from core.archives.category_service import Category, mask_plate, record_out
from core.archives.crypto import cipher_for
from core.archives.disclosure import SENSITIVE_FIELDS, reveal
from core.archives.extensions import extensions_of
from core.archives.models import ArchiveHousehold, ArchivePerson
from core.audit.models import AuditEntry
from core.audit.reads import READ_PREFIX
from core.forms.models import FormRecord
from core.forms.service import read_data, visible
from core.identity.access import Actor
from core.identity.web import Forbidden
from core.plugins.calling import call_impl
from core.workflows.deadlines import CHINA

if TYPE_CHECKING:
    from core.kernel import Kernel

log = logging.getLogger("sanmin.archives")

TIMELINE_LIMIT = 50  # the newest entries of the timeline
FORMS_LIMIT = 50  # the newest form records
SECTION_ENTRIES = 50  # entries of one plugin section
TEXT_LIMIT = 500  # characters of one section entry
SUMMARY_FIELDS = 3  # a form record's first fields, in its summary
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
ARCHIVES = ("archives", "民情档案")

# The audit actions the timeline shows, in Chinese; others about these records read 档案变更.
ACTIONS: dict[str, str] = {
    "archive.household.create": "建档",
    "archive.household.update": "修改户信息",
    "archive.person.create": "登记成员",
    "archive.person.update": "修改成员信息",
    "archive.house.create": "登记住房",
    "archive.house.update": "修改住房信息",
    "archive.vehicle.create": "登记车辆",
    "archive.vehicle.update": "修改车辆信息",
    "archive.care.profile": "更新关爱评估要素",
    "archive.care.tag_add": "添加重点人群标签",
    "archive.care.tag_remove": "移除重点人群标签",
    "archive.care.override_propose": "申请调整关爱等级",
    "archive.care.override_approved": "批准关爱等级调整",
    "archive.care.override_rejected": "驳回关爱等级调整",
}
FIELD_TITLES: dict[str, str] = {
    "number": "户号",
    "address": "现住址",
    "unit_code": "所属网格",
    "source": "数据来源",
    "extra": "扩展字段",
    "name": "姓名",
    "household_id": "所属户",
    "relation": "与户主关系",
    "id_number": "身份证号",
    "gender": "性别",
    "birth_date": "出生日期",
    "phone": "联系电话",
}


@dataclass(frozen=True)
class SectionEntry:
    """One line of a plugin's section of the household file; it joins the timeline too.

    :param at: when it happened, timezone-aware (``core.utcnow()``).
    :param text: what happened, in Chinese (at most 500 characters); never an unmasked ID
        number or phone.
    :param href: a link on this site (a path such as ``/p/tea_house/sessions/3``), or ``None``.
    """

    at: datetime
    text: str
    href: str | None = None


@dataclass(frozen=True)
class HouseholdSection:
    """A section a plugin adds to 一户一档 (``household_file_sections``).

    :param key: snake_case, unique within the plugin (the section's anchor on the page).
    :param title: the Chinese heading.
    :param entries: its lines, newest first (at most 50 are shown).
    :param order: sections are shown by ``order``, then by plugin.
    """

    key: str
    title: str
    entries: tuple[SectionEntry, ...] = field(default_factory=tuple)
    order: int = 500


# -- plugin sections -------------------------------------------------------------------------


def _checked(result: Any) -> list[HouseholdSection]:
    """A hook result as a list of valid sections.

    :raises TypeError: or ValueError: a result that is not one, naming what is wrong.
    """
    if result is None:
        return []
    if inspect.iscoroutine(result):
        result.close()  # never awaited: the hook is synchronous
        raise TypeError("returned an awaitable: household_file_sections is synchronous")
    if not isinstance(result, list | tuple):
        raise TypeError(f"returned {type(result).__name__}, not a list of HouseholdSection")
    for section in result:
        if not isinstance(section, HouseholdSection):
            raise TypeError(f"returned a {type(section).__name__}, not a HouseholdSection")
        if not isinstance(section.key, str) or not KEY_RE.match(section.key):
            raise ValueError(f"section key {section.key!r} is not snake_case")
        if not isinstance(section.title, str) or not section.title.strip():
            raise ValueError(f"section {section.key!r} has no title")
        if type(section.order) is not int:
            raise ValueError(f"section {section.key!r}: order must be an integer")
        for entry in section.entries:
            _check_entry(section.key, entry)
    return list(result)


def _check_entry(key: str, entry: Any) -> None:
    if not isinstance(entry, SectionEntry):
        raise TypeError(f"section {key!r} holds a {type(entry).__name__}, not a SectionEntry")
    if not isinstance(entry.at, datetime) or entry.at.tzinfo is None:
        raise ValueError(f"section {key!r}: an entry's time must be timezone-aware")
    if not isinstance(entry.text, str) or not 1 <= len(entry.text) <= TEXT_LIMIT:
        raise ValueError(f"section {key!r}: an entry's text must be 1 to {TEXT_LIMIT} characters")
    href = entry.href
    if href is not None and not (
        isinstance(href, str) and href.startswith("/") and not href.startswith("//")
    ):
        raise ValueError(f"section {key!r}: a link must be a path on this site, not {href!r}")


def plugin_sections(
    kernel: Kernel, household: ArchiveHousehold, members: list[ArchivePerson], actor: Actor
) -> list[tuple[str, HouseholdSection]]:
    """The sections of the plugins enabled in the household's township, each with its
    plugin, by ``order``. A plugin whose hook raises or returns something else than
    sections is logged with its name and left out; the file is shown without it."""
    caller = kernel.hooks_for(household.unit_code).household_file_sections
    arguments = {"household": household, "members": members, "actor": actor, "kernel": kernel}
    found: list[tuple[str, HouseholdSection]] = []
    for impl in reversed(caller.get_hookimpls()):
        try:
            sections = _checked(call_impl(impl, arguments))
        except Exception:
            log.exception(
                "Hook household_file_sections failed: plugin=%s household=%s",
                impl.plugin_name,
                household.id,
            )
            continue
        found += [(impl.plugin_name, s) for s in sections]
    return sorted(found, key=lambda pair: pair[1].order)


# -- reading ---------------------------------------------------------------------------------


@dataclass
class _Care:
    """The care data of a household's members, each table read once."""

    current: dict[int, ArchiveCareAssessment]
    tags: dict[int, list[ArchivePersonTag]]
    profiles: dict[int, ArchiveCareProfile]
    history: list[ArchiveCareAssessment]
    overrides: dict[int, int]  # override id -> person id
    visit_days: dict[str, int]  # level -> days between visits, for the household's county


NO_CARE = _Care({}, {}, {}, [], {}, {})


def _care(session: Session, unit_code: str, ids: list[int]) -> _Care:
    if not ids:
        return NO_CARE
    assessment = col(ArchiveCareAssessment.person_id).in_(ids)
    current = session.exec(
        select(ArchiveCareAssessment).where(assessment, col(ArchiveCareAssessment.current))
    ).all()
    tags: dict[int, list[ArchivePersonTag]] = {}
    for tag in session.exec(
        select(ArchivePersonTag)
        .where(col(ArchivePersonTag.person_id).in_(ids))
        .order_by(col(ArchivePersonTag.id))
    ):
        tags.setdefault(tag.person_id, []).append(tag)
    profiles = session.exec(
        select(ArchiveCareProfile).where(col(ArchiveCareProfile.person_id).in_(ids))
    ).all()
    history = session.exec(
        select(ArchiveCareAssessment)
        .where(assessment)
        .order_by(col(ArchiveCareAssessment.id).desc())
        .limit(TIMELINE_LIMIT)
    ).all()
    overrides = session.exec(
        select(col(ArchiveCareOverride.id), col(ArchiveCareOverride.person_id)).where(
            col(ArchiveCareOverride.person_id).in_(ids)
        )
    ).all()
    thresholds = thresholds_for(session, unit_code)
    return _Care(
        current={a.person_id: a for a in current},
        tags=tags,
        profiles={p.person_id: p for p in profiles},
        history=list(history),
        overrides={oid: pid for oid, pid in overrides},
        visit_days={level: getattr(thresholds, f"{level}_visit_days") for level in LEVELS},
    )


def _of_household(session: Session, category: Category, hid: int) -> list[tuple[Any, str]]:
    """The household's records of ``category`` (housing or vehicles) with their units."""
    model: Any = category.model
    query = category.query().where(col(model.household_id) == hid).order_by(col(model.id))
    return list(session.exec(query))


def _form_records(
    session: Session, kernel: Kernel, actor: Actor, household: ArchiveHousehold, ids: list[int]
) -> list[FormRecord]:
    """The newest records of household and person forms of the plugins enabled in the
    household's township, about it or its members, that the actor may read."""
    readable: list[ColumnElement[bool]] = []
    for plugin in sorted(kernel.scope(household.unit_code).enabled):
        for spec in kernel.forms.of(plugin):
            if spec.subject not in ("household", "person"):
                continue
            try:
                allowed = visible(actor, kernel, spec)
            except Forbidden:
                continue
            readable.append(
                and_(col(FormRecord.plugin) == plugin, col(FormRecord.form) == spec.name, allowed)
            )
    if not readable:
        return []
    about = and_(
        col(FormRecord.subject_kind) == "household",
        col(FormRecord.subject_id) == str(household.id),
    )
    if ids:
        members = and_(
            col(FormRecord.subject_kind) == "person",
            col(FormRecord.subject_id).in_([str(i) for i in ids]),
        )
        about = or_(about, members)
    query = (
        select(FormRecord)
        .where(about, or_(*readable))
        .order_by(col(FormRecord.id).desc())
        .limit(FORMS_LIMIT)
    )
    return list(session.exec(query))


def _audit_entries(
    session: Session, hid: int, targets: dict[str, Iterable[int]]
) -> list[AuditEntry]:
    """The newest audit entries about the household and the records of ``targets``
    (``{target_type: ids}``), leaving out reads of sensitive data."""
    about = [
        and_(col(AuditEntry.target_type) == "household", col(AuditEntry.target_id) == str(hid))
    ]
    for kind, ids in targets.items():
        names = [str(i) for i in ids]
        if names:
            about.append(
                and_(col(AuditEntry.target_type) == kind, col(AuditEntry.target_id).in_(names))
            )
    query = (
        select(AuditEntry)
        .where(or_(*about), ~col(AuditEntry.action).startswith(READ_PREFIX))
        .order_by(col(AuditEntry.id).desc())
        .limit(TIMELINE_LIMIT)
    )
    return list(session.exec(query))


# -- shaping ---------------------------------------------------------------------------------


def _iso(value: datetime) -> str:
    return value.isoformat()


def local_time(iso: str | None) -> str:
    """A time of the file (ISO 8601, UTC) in China's time zone, as the page shows it."""
    if not iso:
        return "—"
    return datetime.fromisoformat(iso).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def _member_care(person_id: int, care: _Care, unmasked: bool) -> dict[str, Any]:
    """A member's care level in force, tags and (only when ``unmasked``) care inputs."""
    current = care.current.get(person_id)
    profile = care.profiles.get(person_id)
    return {
        "care": None
        if current is None
        else {
            "level": current.level,
            "level_label": LEVELS[current.level],
            "reason": current.reason,
            "origin": current.origin,
            "visit_every_days": care.visit_days[current.level],
            "assessed_at": _iso(current.created_at),
        },
        "tags": [
            {
                "tag": t.tag,
                "label": TAGS[t.tag].label,
                "visit_every_days": TAGS[t.tag].visit_days,
                "reason": t.reason,
                "assigned_at": _iso(t.assigned_at),
            }
            for t in care.tags.get(person_id, [])
        ],
        "care_profile_masked": profile is not None and not unmasked,
        "care_profile": None if profile is None or not unmasked else profile_out(profile),
    }


def _house_out(row: Any, unit: str) -> dict[str, Any]:
    out = record_out(HOUSING, row, unit)
    out["usage_label"] = HOUSE_USES.get(row.usage, row.usage)
    kind = row.residence_type
    out["residence_type_label"] = RESIDENCE_TYPES.get(kind, kind) if kind else None
    return out


def _vehicle_out(row: Any, unit: str, unmasked: bool, names: dict[int, str]) -> dict[str, Any]:
    out = record_out(VEHICLES, row, unit, unmasked)
    out["usage_label"] = VEHICLE_USES.get(row.usage, row.usage)
    out["energy_label"] = ENERGIES.get(row.energy) if row.energy else None
    out["owner_name"] = names.get(row.owner_id) if row.owner_id else None
    return out


def _form_out(
    kernel: Kernel, record: FormRecord, names: dict[int, str], number: str
) -> dict[str, Any]:
    spec = kernel.forms.get(record.plugin, record.form)
    assert spec is not None, "only records of declared forms are read"
    values = read_data(spec, record.data)
    summary = "；".join(
        f"{f.title}：{f.label_of(values.get(f.name))}" for f in spec.fields[:SUMMARY_FIELDS]
    )
    if record.subject_kind == "person":
        subject = names.get(int(record.subject_id), record.subject_id)
    else:
        subject = f"户号 {number}"
    info = kernel.registry.info(record.plugin)
    return {
        "id": record.id,
        "plugin": record.plugin,
        "plugin_title": info.title if info else record.plugin,
        "form": record.form,
        "form_title": spec.title,
        "subject_kind": record.subject_kind,
        "subject_id": record.subject_id,
        "subject_label": subject,
        "author": record.author,
        "created_at": _iso(record.created_at),
        "summary": summary,
        "href": f"/p/{record.plugin}/forms/{record.form}/{record.id}",
    }


def _audit_text(entry: AuditEntry, subject: str) -> str:
    """An audit entry in Chinese: the action, the record and the fields it changed
    (never their values)."""
    label = ACTIONS.get(entry.action, "档案变更")
    text = f"{label}：{subject}"
    if entry.action.endswith(".update") and entry.target_type in ("household", "person"):
        changed = [FIELD_TITLES[k] for k in entry.after or {} if k in FIELD_TITLES]
        if changed:
            text += f"（{'、'.join(changed)}）"
    if entry.action in ("archive.care.tag_add", "archive.care.tag_remove"):
        tag = (entry.after or entry.before or {}).get("tag")
        if tag in TAGS:
            text += f" · {TAGS[tag].label}"
    return text


def _timeline(
    household: dict[str, Any],
    entries: list[AuditEntry],
    care: _Care,
    names: dict[int, str],
    forms: list[dict[str, Any]],
    sections: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Every dated thing of the file, newest first, at most :data:`TIMELINE_LIMIT`."""
    items: list[tuple[datetime, dict[str, Any]]] = []

    def add(at: datetime, kind: str, source: tuple[str, str], text: str, **more: Any) -> None:
        item = {"at": _iso(at), "kind": kind, "source": source[0], "source_title": source[1]}
        items.append((at, item | {"text": text, "actor": None, "href": None} | more))

    subjects = {
        "household": {household["id"]: f"户号 {household['number']}"},
        "person": names,
        "house": {h["id"]: h["address"] for h in household["housing"]},
        # a vehicle by its masked plate, also for a reader who sees the plate unmasked
        "vehicle": {v["id"]: f"车辆 {mask_plate(v['plate'])}" for v in household["vehicles"]},
        "care_override": {o: names.get(p, "") for o, p in care.overrides.items()},
    }
    for entry in entries:
        subject = subjects.get(entry.target_type, {}).get(int(entry.target_id), "")
        add(entry.at, "archive", ARCHIVES, _audit_text(entry, subject), actor=entry.actor)
    for row in care.history:
        text = f"关爱等级评定：{names.get(row.person_id, '')} · {LEVELS[row.level]}（{row.reason}）"
        add(row.created_at, "care", ARCHIVES, text, actor=row.actor)
    for record in forms:
        add(
            datetime.fromisoformat(record["created_at"]),
            "form",
            (record["plugin"], record["plugin_title"]),
            f"{record['form_title']}：{record['subject_label']}",
            actor=record["author"],
            href=record["href"],
        )
    for section in sections:
        for entry in section["entries"]:
            add(
                datetime.fromisoformat(entry["at"]),
                "plugin",
                (section["plugin"], section["plugin_title"]),
                f"{section['title']}：{entry['text']}",
                href=entry["href"],
            )
    items.sort(key=lambda pair: pair[0], reverse=True)
    return [item for _, item in items[:TIMELINE_LIMIT]]


def _section_out(kernel: Kernel, plugin: str, section: HouseholdSection) -> dict[str, Any]:
    info = kernel.registry.info(plugin)
    return {
        "plugin": plugin,
        "plugin_title": info.title if info else plugin,
        "key": section.key,
        "title": section.title,
        "order": section.order,
        "entries": [
            {"at": _iso(e.at), "text": e.text, "href": e.href}
            for e in section.entries[:SECTION_ENTRIES]
        ],
    }


def household_file(request: Request, actor: Actor, household_id: int) -> dict[str, Any]:
    """一户一档 as the API and the page show it (404 outside the actor's scope).

    ID numbers, phones, plates and care inputs are unmasked (and that read audited) only
    for an actor holding ``archive.read_sensitive`` at the household's unit.
    """
    kernel: Kernel = request.app.state.kernel
    extensions = extensions_of(kernel)
    with Session(kernel.engine, expire_on_commit=False) as session:
        household = service.visible_household(session, actor, kernel.access, household_id)
        members = service.members_of(session, household_id)
        ids = [m.id for m in members if m.id is not None]
        # Care levels, tags and who changed what: for staff reading the unit, not for a
        # resident reading its own household.
        staff = kernel.allowed(actor, service.READ, household.unit_code)
        care = _care(session, household.unit_code, ids) if staff else NO_CARE
        houses = _of_household(session, HOUSING, household_id)
        vehicles = _of_household(session, VEHICLES, household_id)
        records = _form_records(session, kernel, actor, household, ids)
        targets = {
            "person": ids,
            "care_override": care.overrides,
            "house": [row.id for row, _ in houses],
            "vehicle": [row.id for row, _ in vehicles],
        }
        entries = _audit_entries(session, household_id, targets)
    fields = [
        *SENSITIVE_FIELDS,
        *(["plate"] if vehicles else []),
        *(CARE_FIELDS if care.profiles else []),
    ]
    unmasked = reveal(request, actor, "household", household_id, household.unit_code, fields)
    cipher = cipher_for(kernel)
    names = {m.id: m.name for m in members if m.id is not None}
    members_out = [
        service.person_view(p, cipher, unmasked, extensions)
        | {"extensions": extensions.labelled("person", p.unit_code, p.extra)}
        | _member_care(p.id, care, unmasked)  # type: ignore[arg-type]
        for p in members
    ]
    out = service.household_view(household, extensions) | {
        "extensions": extensions.labelled("household", household.unit_code, household.extra),
        "masked": not unmasked,
        "members": members_out,
        "housing": [_house_out(row, unit) for row, unit in houses],
        "vehicles": [_vehicle_out(row, unit, unmasked, names) for row, unit in vehicles],
        "forms": [_form_out(kernel, r, names, household.number) for r in records],
        "sections": [
            _section_out(kernel, plugin, section)
            for plugin, section in plugin_sections(kernel, household, members, actor)
        ],
    }
    timeline = _timeline(out, entries, care, names, out["forms"], out["sections"])
    out["timeline"] = timeline if staff else [item | {"actor": None} for item in timeline]
    return out
