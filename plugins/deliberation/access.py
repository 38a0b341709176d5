"""Who does what in 民主议事: the plugin's permissions and its role.

* Residents propose matters (议题征集) and vote on those whose electorate holds them; voting
  needs no permission, only a verified account on the matter's roll.
* 议事工作人员 (``deliberation_clerk``): keeps the owners' and representatives' registers,
  records in-person votes and the 四议 meetings; grid workers record in-person votes too.
* Village cadres and township admins run the process (审核, 公示, 截止, 计票, 结果公示, 执行).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_

from core import Level, Permission, Role, parse_code

READ = "deliberation.read"
PROPOSE = "deliberation.propose"
MANAGE = "deliberation.manage"
RECORD = "deliberation.record"
REGISTER = "deliberation.register"

CLERK_ROLE = "deliberation_clerk"

_ADMINS = ("township_admin", "county_admin", "city_admin", "system_admin")

ROLES = [Role(CLERK_ROLE, "议事工作人员", frozenset({Level.village, Level.grid}))]

PERMISSIONS = [
    Permission(
        READ,
        "查看议事与表决名册",
        granted_to=("grid_worker", "village_cadre", CLERK_ROLE, *_ADMINS),
    ),
    Permission(
        PROPOSE,
        "提出议题",
        granted_to=(
            "resident",
            "party_member",
            "grid_worker",
            "village_cadre",
            CLERK_ROLE,
            *_ADMINS,
        ),
    ),
    Permission(MANAGE, "组织议事与表决", granted_to=("village_cadre", *_ADMINS)),
    Permission(
        RECORD,
        "登记现场投票与会议",
        granted_to=("grid_worker", "village_cadre", CLERK_ROLE, *_ADMINS),
    ),
    Permission(
        REGISTER, "维护业主名册与村民代表名册", granted_to=("village_cadre", CLERK_ROLE, *_ADMINS)
    ),
]

TITLES = {p.name: p.title for p in PERMISSIONS}


def subtree(column: ColumnElement[str], unit_code: str) -> ColumnElement[bool]:
    """SQL: ``column`` holds a unit code at or below ``unit_code`` (one index range scan)."""
    path = parse_code(unit_code).path
    upper = str(int(path) + 1).zfill(len(path)) if path.strip("9") else "9" * len(path) + ":"
    return and_(column >= path, column < upper)


def village_of(unit_code: str) -> str | None:
    """The village (村社区) of a village or grid code; ``None`` above the village level."""
    return parse_code(unit_code).ancestor_at(Level.village)
