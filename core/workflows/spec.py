"""What a plugin declares through the workflows service, and the view of an instance hooks get.

A :class:`Workflow` is data: its :class:`State` s (Chinese labels, open or closed, an optional
:class:`Deadline`), its :class:`Transition` s (from which states, to which state, who may take
them, the :class:`TransitionInput` s they require) and its initial state. :meth:`Workflow.problems`
checks a definition against the installation's roles and permissions; the catalog refuses a
plugin whose definitions have any problem, naming each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from core.workflows.deadlines import Deadline

if TYPE_CHECKING:
    from core.identity.access import AccessCatalog

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
InputKind = Literal["text", "choice", "integer"]
INPUT_KINDS = ("text", "choice", "integer")
MAX_TEXT = 2000


class InputError(ValueError):
    """An input value the transition refuses; the message says why (in Chinese and English)."""


@dataclass(frozen=True)
class State:
    """A state: its name (snake_case), its Chinese label, open or ``closed``, and a deadline.

    An instance entering a state with a ``deadline`` is due when it expires; one still in an
    open state after that is *overdue*. Closed states have no deadline, and may still have
    transitions out of them (reopening).
    """

    name: str
    label: str
    closed: bool = False
    deadline: Deadline | None = None


@dataclass(frozen=True)
class TransitionInput:
    """A value the user gives when taking a transition, such as a ``reason``.

    ``kind`` is ``text`` (up to ``max_length`` characters), ``choice`` (one of ``choices``)
    or ``integer`` (between ``minimum`` and ``maximum`` when given). Values are stored in the
    instance's history.
    """

    name: str
    label: str
    kind: InputKind = "text"
    required: bool = True
    choices: tuple[str, ...] = ()
    max_length: int = 500
    minimum: int | None = None
    maximum: int | None = None
    help: str = ""

    def clean(self, raw: object) -> str | int | None:
        """The value to store, ``None`` when left empty; raises :class:`InputError`."""
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if self.required:
                raise InputError(f"{self.label}为必填项 / {self.name} is required")
            return None
        if self.kind == "integer":
            return self._integer(raw)
        if not isinstance(raw, str | int):
            raise InputError(f"{self.label}应为文本 / {self.name} must be text")
        text = str(raw).strip()
        if "\x00" in text:
            raise InputError(f"{self.label}不能含有 NUL 字符 / {self.name} contains a NUL")
        if self.kind == "choice":
            if text not in self.choices:
                raise InputError(
                    f"{self.label}应为 {'、'.join(self.choices)} 之一 / "
                    f"{self.name} must be one of the choices"
                )
            return text
        if len(text) > self.max_length:
            raise InputError(
                f"{self.label}不能超过 {self.max_length} 字 / {self.name} is too long"
            )
        return text

    def _integer(self, raw: object) -> int:
        try:
            value = int(raw) if isinstance(raw, int | str) and not isinstance(raw, bool) else None
        except ValueError:
            value = None
        if value is None:
            raise InputError(f"{self.label}应为整数 / {self.name} must be an integer")
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise InputError(
                f"{self.label}应在 {self.minimum} 到 {self.maximum} 之间 / "
                f"{self.name} is out of range"
            )
        return value


@dataclass(frozen=True)
class Transition:
    """A move from any of ``sources`` to ``target``.

    Who may take it: an actor holding ``permission`` at the instance's unit
    (:meth:`core.Kernel.allowed`, so plugins' ``permission_allowed`` answers count), or one
    of ``roles`` at the unit or above; name one or both. The actor must also see the
    instance (the workflow's ``read_permission``). ``deadline`` replaces the target state's
    deadline for this move (an approved extension, say). ``escalate`` moves the instance to
    the unit one level up (grid → village → township → county), 小事不出格，大事不出社.
    """

    name: str
    label: str
    sources: tuple[str, ...]
    target: str
    permission: str | None = None
    roles: tuple[str, ...] = ()
    inputs: tuple[TransitionInput, ...] = ()
    deadline: Deadline | None = None
    escalate: bool = False

    def input(self, name: str) -> TransitionInput | None:
        return next((i for i in self.inputs if i.name == name), None)


@dataclass(frozen=True)
class Workflow:
    """A state machine a plugin declares in ``register_workflows``.

    Instances are started at a unit by an actor holding ``start_permission`` there; they are
    seen (listed, opened) by actors holding ``read_permission`` at their unit or above.
    """

    name: str
    title: str
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]
    initial: str
    read_permission: str
    start_permission: str
    description: str = ""
    _states: dict[str, State] = field(init=False, repr=False, compare=False)
    _transitions: dict[str, Transition] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_states", {s.name: s for s in self.states})
        object.__setattr__(self, "_transitions", {t.name: t for t in self.transitions})

    def state(self, name: str) -> State | None:
        return self._states.get(name)

    def transition(self, name: str) -> Transition | None:
        return self._transitions.get(name)

    def outgoing(self, state: str) -> list[Transition]:
        """The transitions that may be taken from ``state``, in declaration order."""
        return [t for t in self.transitions if state in t.sources]

    def problems(self, access: AccessCatalog) -> list[str]:
        """Everything wrong with this definition, each naming what it is about."""
        found: list[str] = []
        where = f"workflow {self.name!r}"
        if not isinstance(self.name, str) or not NAME_RE.match(self.name):
            found.append(f"{where}: name must be snake_case, at most 40 characters")
        if not self.title:
            found.append(f"{where}: title (Chinese) is empty")
        found += _duplicates(where, "state", [s.name for s in self.states])
        found += _duplicates(where, "transition", [t.name for t in self.transitions])
        for state in self.states:
            found += _state_problems(where, state)
        initial = self.state(self.initial)
        if initial is None:
            found.append(f"{where}: initial state {self.initial!r} is not a declared state")
        elif initial.closed:
            found.append(f"{where}: initial state {self.initial!r} is closed")
        for name, kind in ((self.read_permission, "read"), (self.start_permission, "start")):
            if name not in access.permissions:
                found.append(f"{where}: {kind}_permission {name!r} is not a known permission")
        for transition in self.transitions:
            found += self._transition_problems(where, transition, access)
        if initial is not None:
            found += self._reachability_problems(where)
        return found

    def _transition_problems(
        self, where: str, transition: Transition, access: AccessCatalog
    ) -> list[str]:
        found: list[str] = []
        at = f"{where} transition {transition.name!r}"
        if not isinstance(transition.name, str) or not NAME_RE.match(transition.name):
            found.append(f"{at}: name must be snake_case, at most 40 characters")
        if not transition.label:
            found.append(f"{at}: label (Chinese) is empty")
        if not isinstance(transition.sources, tuple) or not transition.sources:
            found.append(f"{at}: sources must be a non-empty tuple of state names")
        else:
            found += [
                f"{at}: unknown source state {s!r}" for s in transition.sources if not self.state(s)
            ]
        target = self.state(transition.target)
        if target is None:
            found.append(f"{at}: unknown target state {transition.target!r}")
        if transition.permission is None and not transition.roles:
            found.append(f"{at}: names neither a permission nor roles, so nobody may take it")
        if transition.permission is not None and transition.permission not in access.permissions:
            found.append(f"{at}: permission {transition.permission!r} is not a known permission")
        found += [f"{at}: unknown role {r!r}" for r in transition.roles if r not in access.roles]
        if transition.deadline is not None:
            problem = transition.deadline.problem()
            if problem:
                found.append(f"{at}: {problem}")
            elif target is not None and target.closed:
                found.append(f"{at}: a deadline on a transition into a closed state")
        found += _duplicates(at, "input", [i.name for i in transition.inputs])
        for item in transition.inputs:
            found += _input_problems(at, item)
        return found

    def _reachability_problems(self, where: str) -> list[str]:
        found: list[str] = []
        reached, frontier = {self.initial}, [self.initial]
        while frontier:
            for transition in self.outgoing(frontier.pop()):
                if transition.target not in reached and self.state(transition.target):
                    reached.add(transition.target)
                    frontier.append(transition.target)
        for state in self.states:
            if state.name not in reached:
                found.append(f"{where}: state {state.name!r} is unreachable from {self.initial!r}")
            elif not state.closed and not self.outgoing(state.name):
                found.append(f"{where}: open state {state.name!r} has no way out")
        return found


@dataclass(frozen=True)
class WorkflowInstance:
    """One instance of a workflow as it is now: what ``workflow_guard`` and callers get.

    ``township_code`` is the unit whose plugin settings apply (the instance's township, or
    its county or city when it is held there); ``due_at`` is ``None`` when the current
    state has no deadline.
    """

    id: int
    plugin: str
    workflow: str
    unit_code: str
    township_code: str
    subject: str | None
    state: str
    closed: bool
    version: int
    due_at: datetime | None
    created_at: datetime
    created_by: str
    updated_at: datetime

    def overdue(self, now: datetime) -> bool:
        """Whether the instance is still open after its deadline."""
        return not self.closed and self.due_at is not None and self.due_at < now


@dataclass(frozen=True)
class WorkflowStep:
    """One entry of an instance's history as written: its start (``transition`` and
    ``from_state`` are ``None``) or a transition; ``version`` is the instance's version after
    it and ``unit_code`` where the instance is after it."""

    instance_id: int
    version: int
    transition: str | None
    from_state: str | None
    to_state: str
    unit_code: str
    actor: str
    inputs: dict[str, Any]
    at: datetime


def _duplicates(where: str, kind: str, names: list[Any]) -> list[str]:
    seen: set[Any] = set()
    found = []
    for name in names:
        if name in seen:
            found.append(f"{where}: duplicate {kind} {name!r}")
        seen.add(name)
    return found


def _state_problems(where: str, state: State) -> list[str]:
    found: list[str] = []
    at = f"{where} state {state.name!r}"
    if not isinstance(state.name, str) or not NAME_RE.match(state.name):
        found.append(f"{at}: name must be snake_case, at most 40 characters")
    if not state.label:
        found.append(f"{at}: label (Chinese) is empty")
    if state.deadline is not None:
        if state.closed:
            found.append(f"{at}: a closed state cannot have a deadline")
        elif problem := state.deadline.problem():
            found.append(f"{at}: {problem}")
    return found


def _input_problems(where: str, item: TransitionInput) -> list[str]:
    found: list[str] = []
    at = f"{where} input {item.name!r}"
    if not isinstance(item.name, str) or not NAME_RE.match(item.name):
        found.append(f"{at}: name must be snake_case, at most 40 characters")
    if not item.label:
        found.append(f"{at}: label (Chinese) is empty")
    if item.kind not in INPUT_KINDS:
        found.append(f"{at}: kind must be one of {', '.join(INPUT_KINDS)}")
    if (item.kind == "choice") != bool(item.choices):
        found.append(f"{at}: choices are required for kind 'choice' and only for it")
    if not 1 <= item.max_length <= MAX_TEXT:
        found.append(f"{at}: max_length must be from 1 to {MAX_TEXT}")
    if item.minimum is not None and item.maximum is not None and item.minimum > item.maximum:
        found.append(f"{at}: minimum is greater than maximum")
    return found
