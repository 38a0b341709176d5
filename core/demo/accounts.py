"""A demo account: what ``sanmin demo`` creates for the core and for each plugin that asks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoAccount:
    """One demo account: a username, the one role it holds and where, and a display name.

    The core's demo accounts are named after their role (``grid_worker``); a plugin's say
    what they are for (``tea_house_keeper``). All share the demo password.
    """

    username: str
    role: str
    unit_code: str
    display_name: str
