"""Changing plugin settings: validated, versioned and audited in one transaction."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, select

from core.audit.service import record
from core.plugins.models import ConfigVersion, PluginSetting
from core.plugins.registry import PluginRegistry
from core.units.codes import TOGGLE_LEVELS, Level
from core.units.service import get_unit


class ToggleError(ValueError):
    """A plugin setting that cannot be made; the message says why."""


def bump_config_version(session: Session) -> None:
    """Tell every process that settings or units changed (in the caller's transaction)."""
    result = session.execute(
        update(ConfigVersion).where(ConfigVersion.id == 1).values(version=ConfigVersion.version + 1)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(ConfigVersion(id=1, version=1))


def set_plugin_setting(
    session: Session,
    registry: PluginRegistry,
    *,
    plugin: str,
    unit_code: str,
    enabled: bool | None,
    actor: str,
    source: str | None = None,
) -> bool:
    """Switch ``plugin`` on or off at a city, county or township (``None``: inherit again).

    Validates the plugin and the unit, writes the setting, bumps the config
    version and audits before and after, all in the caller's transaction.

    :return: whether anything changed (a repeated call is a no-op, not audited).
    :raises ToggleError: unknown, failed or core plugin; unit at the wrong level.
    :raises UnitNotFound, UnitCodeError: the unit does not exist or the code is malformed.
    """
    info = registry.info(plugin)
    if info is None:
        known = ", ".join(sorted(p.name for p in registry.optional())) or "none"
        raise ToggleError(
            f"插件 {plugin!r} 未安装 / plugin {plugin!r} is not installed (installed: {known})"
        )
    if info.essential:
        raise ToggleError(
            f"核心功能 {plugin!r} 不能停用 / core plugin {plugin!r} cannot be toggled"
        )
    if not info.loaded:
        raise ToggleError(
            f"插件 {plugin!r} 加载失败，不能启用 / plugin {plugin!r} failed to load: {info.error}"
        )
    unit = get_unit(session, unit_code)
    if Level(unit.level) not in TOGGLE_LEVELS:
        raise ToggleError(
            f"只能在市、县区或乡镇街道设置插件，{unit.name} ({unit.code}) 是{unit.level_label} / "
            "settings are made at a city, county or township"
        )
    current = session.exec(
        select(PluginSetting).where(
            PluginSetting.unit_code == unit.code, PluginSetting.plugin == plugin
        )
    ).first()
    before = None if current is None else current.enabled
    if before == enabled:
        return False
    if enabled is None:
        assert current is not None
        session.delete(current)
    elif current is None:
        session.add(
            PluginSetting(unit_code=unit.code, plugin=plugin, enabled=enabled, updated_by=actor)
        )
    else:
        current.enabled, current.updated_by = enabled, actor
        session.add(current)
    bump_config_version(session)
    record(
        session,
        actor=actor,
        action="plugin.enable"
        if enabled
        else "plugin.disable"
        if enabled is False
        else "plugin.inherit",
        target_type="plugin_setting",
        target_id=f"{unit.code}:{plugin}",
        unit_code=unit.code,
        before={"enabled": before},
        after={"enabled": enabled},
        source=source,
    )
    return True
