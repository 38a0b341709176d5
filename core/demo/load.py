"""Loading the demo county (idempotent) and its plugin settings."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.plugins.registry import PluginRegistry
from core.plugins.service import bump_config_version, set_plugin_setting
from core.units.service import LoadReport, load_units, read_units_csv

DEMO_UNITS = Path(__file__).resolve().parent / "units.csv"
# Which practice runs where in the demo: 民情直通车 in 衢江区 (where it started),
# 红色代办 in 柯城区; 敲门嫂 and 民情茶馆 are on by default except in 江山市's 双塔街道.
DEMO_SETTINGS = (
    ("mobile_office", "330803000000", True),
    ("red_proxy", "330802000000", True),
    ("tea_house", "330881001000", False),
)


def load_demo(engine: Engine, registry: PluginRegistry) -> LoadReport:
    """Load the demo units and settings; a re-run changes nothing."""
    with Session(engine) as session:
        report = load_units(session, read_units_csv(DEMO_UNITS))
        if report.created or report.updated:
            bump_config_version(session)
        for plugin, unit_code, enabled in DEMO_SETTINGS:
            if plugin in registry.plugins:
                set_plugin_setting(
                    session,
                    registry,
                    plugin=plugin,
                    unit_code=unit_code,
                    enabled=enabled,
                    actor="demo",
                )
        session.commit()
    return report
