"""Who may do what in 民情茶馆: the practice's permissions and its two roles.

The roster of a session is made of the holders of the roles: 民情馆长 (the branch secretary,
who schedules and hosts the sessions, answers and transfers) and 民情馆员 (older party
members and volunteers on duty in rotation, who record every issue). Village cadres and
township staff hold the permissions through their core roles.
"""

from __future__ import annotations

from core import Level, Permission, Role

from .service import MANAGE, PERMISSION_TITLES, READ, RECORD, RESPOND

PERMISSIONS = [
    Permission(
        READ,
        PERMISSION_TITLES[READ],
        granted_to=(
            "grid_worker",
            "village_cadre",
            "township_admin",
            "county_admin",
            "city_admin",
            "system_admin",
        ),
    ),
    Permission(
        RECORD,
        PERMISSION_TITLES[RECORD],
        granted_to=("grid_worker", "village_cadre", "township_admin", "system_admin"),
    ),
    Permission(
        RESPOND,
        PERMISSION_TITLES[RESPOND],
        granted_to=("village_cadre", "township_admin", "system_admin"),
    ),
    Permission(
        MANAGE,
        PERMISSION_TITLES[MANAGE],
        granted_to=("village_cadre", "township_admin", "system_admin"),
    ),
]

VILLAGE = frozenset({Level.village})
ROLES = [
    # A transfer submits a ticket on the villager's behalf (代报): ticket.create and
    # ticket.handle at the village.
    Role(
        "tea_house_head",
        "民情馆长",
        VILLAGE,
        frozenset({READ, RECORD, RESPOND, MANAGE, "ticket.create", "ticket.read", "ticket.handle"}),
    ),
    Role("tea_house_keeper", "民情馆员", VILLAGE, frozenset({READ, RECORD})),
]
