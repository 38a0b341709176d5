"""Who does what in 敲门嫂: the plugin's permissions and its two roles.

A 敲门嫂 (``knock_door_volunteer``) sees only the plans assigned to her and records visits;
the team leader (``knock_door_leader``) sees and runs the whole team's work. Grid workers
record and review visits; village cadres and the admins above read everything in their
units and manage teams.
"""

from __future__ import annotations

from core import Level, Permission, Role

PLUGIN = "knock_door"
VISIT = "knock_door.visit"  # see one's assigned plans, join a team
RECORD = "knock_door.record"  # submit 入户问需记录 (only through the plugin's service)
READ = "knock_door.read"  # every plan, visit, need and team in one's units
REVIEW = "knock_door.review"  # 复核 a recorded visit
MANAGE = "knock_door.manage"  # create teams, remove members

VOLUNTEER_ROLE = "knock_door_volunteer"
LEADER_ROLE = "knock_door_leader"

_ADMINS = ("township_admin", "county_admin", "city_admin", "system_admin")
PERMISSIONS = [
    Permission(VISIT, "入户走访", granted_to=("grid_worker",)),
    Permission(RECORD, "填写入户问需记录", granted_to=("grid_worker",)),
    Permission(READ, "查看敲门嫂工作", granted_to=("grid_worker", "village_cadre", *_ADMINS)),
    Permission(REVIEW, "复核走访记录", granted_to=("grid_worker", "village_cadre", *_ADMINS)),
    Permission(MANAGE, "管理敲门嫂队伍", granted_to=("village_cadre", *_ADMINS)),
]
_LOCAL = frozenset({Level.village, Level.grid})
_VOLUNTEER = frozenset({"units.read", "ticket.create", VISIT, RECORD})
ROLES = [
    Role(VOLUNTEER_ROLE, "敲门嫂", _LOCAL, _VOLUNTEER),
    Role(LEADER_ROLE, "敲门嫂队长", _LOCAL, _VOLUNTEER | {READ, MANAGE}),
]
