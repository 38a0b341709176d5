"""Who does what in 民情直通车: the plugin's roles and permissions.

* 值班领导 (duty leader, at a township): triages calls, sends trips, transfers to tickets,
  records the caller's rating at the visit back and closes the day (日清日结); reads the
  township's accounts to pick a crew, and takes tickets on the caller's behalf.
* 接线员 (operator, at a township): registers calls.
* 随车人员 (crew, at a township: the 机动队伍 of cadres, police, volunteers and village
  liaisons): moves the trips it is on and records what happened on site, turning a matter
  into a ticket when it cannot be settled there.

Township, county and city administrators read everything (the caller's phone masked).
"""

from __future__ import annotations

from core import Level, Permission, Role

PLUGIN = "mobile_office"

READ = "mobile_office.read"
INTAKE = "mobile_office.intake"
DISPATCH = "mobile_office.dispatch"
RECORD = "mobile_office.record"
PHONE = "mobile_office.phone"

DUTY_LEADER = "mobile_office_duty_leader"
OPERATOR = "mobile_office_operator"
CREW = "mobile_office_crew"

# What the core services ask of the duty leader and the crew: tickets on the caller's
# behalf (ticket.handle), the caller's phone on them to call back (ticket.read_reporter,
# audited), and the accounts of the township to choose a crew from.
_TICKETS = frozenset(
    {"units.read", "ticket.create", "ticket.read", "ticket.handle", "ticket.read_reporter"}
)

PERMISSIONS: tuple[Permission, ...] = (
    Permission(
        READ,
        "查看民情热线与出车",
        granted_to=("township_admin", "county_admin", "city_admin", "system_admin"),
    ),
    Permission(INTAKE, "登记热线来电"),
    Permission(DISPATCH, "研判派车与日清日结"),
    Permission(RECORD, "出车与现场处置记录"),
    Permission(PHONE, "查看来电人完整电话"),
)

ROLES: tuple[Role, ...] = (
    Role(
        DUTY_LEADER,
        "值班领导",
        frozenset({Level.township}),
        # ticket.dispatch: the duty leader supervises the tickets and records the caller's
        # rating given by phone (回访)
        frozenset({READ, INTAKE, DISPATCH, RECORD, PHONE, "accounts.read", "ticket.dispatch"})
        | _TICKETS,
    ),
    Role(OPERATOR, "接线员", frozenset({Level.township}), frozenset({READ, INTAKE, PHONE})),
    Role(
        CREW,
        "随车人员",
        frozenset({Level.township}),
        frozenset({READ, RECORD, PHONE}) | _TICKETS,
    ),
)
