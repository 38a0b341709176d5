"""Who does what in 红色代办: the plugin's permissions and its two roles.

* 党员代办员 (``red_proxy_agent``): party members who take and handle orders (接单·办单).
* 支部书记 (``red_proxy_secretary``): the branch's dispatcher (派单), who may also handle.

Core roles hold them too: residents order (点单), village cadres and township admins
dispatch, township and county admins keep the catalogue.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_

from core import Level, Permission, Role, parse_code

ORDER = "red_proxy.order"
READ = "red_proxy.read"
HANDLE = "red_proxy.handle"
DISPATCH = "red_proxy.dispatch"
CATALOGUE = "red_proxy.catalogue"

AGENT_ROLE = "red_proxy_agent"
SECRETARY_ROLE = "red_proxy_secretary"
HANDLER_ROLES = (AGENT_ROLE, SECRETARY_ROLE)

_ADMINS = ("township_admin", "county_admin", "city_admin", "system_admin")

ROLES = [
    Role(
        AGENT_ROLE,
        "党员代办员",
        frozenset({Level.township, Level.village, Level.grid}),
    ),
    Role(SECRETARY_ROLE, "支部书记", frozenset({Level.township, Level.village})),
]

PERMISSIONS = [
    Permission(
        ORDER,
        "红色代办点单",
        granted_to=(
            "resident",
            "party_member",
            "volunteer",
            "grid_worker",
            "village_cadre",
            "township_admin",
            *HANDLER_ROLES,
        ),
    ),
    Permission(
        READ,
        "查看红色代办单",
        granted_to=("grid_worker", "village_cadre", *_ADMINS, *HANDLER_ROLES),
    ),
    Permission(HANDLE, "接单办单", granted_to=HANDLER_ROLES),
    Permission(DISPATCH, "红色代办派单", granted_to=(SECRETARY_ROLE, "village_cadre", *_ADMINS)),
    Permission(CATALOGUE, "维护代办事项目录", granted_to=_ADMINS),
]


def subtree(column: ColumnElement[str], unit_code: str) -> ColumnElement[bool]:
    """SQL: ``column`` holds a unit code at or below ``unit_code`` (one index range scan)."""
    path = parse_code(unit_code).path
    upper = str(int(path) + 1).zfill(len(path)) if path.strip("9") else "9" * len(path) + ":"
    return and_(column >= path, column < upper)
