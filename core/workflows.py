"""Workflow definitions: loaded from the operator's TOML file and validated on start."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from core.enums import Role
from core.settings import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_KEY = r"^[a-z][a-z0-9_]{0,63}$"


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        msg = f"{text!r} is not a duration; write a number with m, h or d, e.g. '24h'"
        raise ValueError(msg)
    value = float(match.group(1))
    if value <= 0:
        msg = "must be positive"
        raise ValueError(msg)
    return timedelta(**{_UNITS[match.group(2)]: value})


class Titled(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=_KEY)
    title: dict[str, str] = Field(default_factory=dict)

    def display(self, locale: str) -> str:
        return self.title.get(locale) or self.title.get("en") or self.key


class Stage(Titled):
    role: Role
    stuck_after: timedelta
    # When a stuck request goes from a nudge to its assignee to an alert to admins.
    escalate_after: timedelta | None = None
    issues_stock: bool = False

    @field_validator("stuck_after", "escalate_after", mode="before")
    @classmethod
    def _parse_durations(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _escalation_after_stuck(self) -> Stage:
        if self.escalate_after is not None and self.escalate_after <= self.stuck_after:
            msg = f"stage {self.key!r}: escalate_after must be longer than stuck_after"
            raise ValueError(msg)
        return self

    @property
    def escalation(self) -> timedelta:
        return self.escalate_after or self.stuck_after * 2

    @field_validator("role")
    @classmethod
    def _not_requester(cls, value: Role) -> Role:
        if value is Role.REQUESTER:
            msg = "a stage cannot be acted on by 'requester'; use manager, storekeeper, ..."
            raise ValueError(msg)
        return value


# Filter buttons carry a workflow's and a stage's index, bounded 0…999 where callback data is
# parsed (handlers/callbacks.py): a longer list would make buttons that never parse.
MAX_LISTED = 1000


class Workflow(Titled):
    default: bool = False
    stages: tuple[Stage, ...] = Field(alias="stage", min_length=1, max_length=MAX_LISTED)

    @model_validator(mode="after")
    def _check_stages(self) -> Workflow:
        keys = [s.key for s in self.stages]
        if len(set(keys)) != len(keys):
            msg = f"stage keys repeat in workflow {self.key!r}: {keys}"
            raise ValueError(msg)
        if sum(s.issues_stock for s in self.stages) > 1:
            msg = f"workflow {self.key!r}: at most one stage may have issues_stock = true"
            raise ValueError(msg)
        return self

    def stage(self, key: str) -> Stage | None:
        return next((s for s in self.stages if s.key == key), None)

    def previous_stage(self, key: str) -> Stage | None:
        keys = [s.key for s in self.stages]
        index = keys.index(key)
        return self.stages[index - 1] if index > 0 else None

    def next_stage(self, key: str) -> Stage | None:
        keys = [s.key for s in self.stages]
        index = keys.index(key)
        return self.stages[index + 1] if index + 1 < len(self.stages) else None


class WorkflowRegistry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    workflows: tuple[Workflow, ...] = Field(alias="workflow", min_length=1, max_length=MAX_LISTED)

    @model_validator(mode="after")
    def _check_workflows(self) -> WorkflowRegistry:
        keys = [w.key for w in self.workflows]
        if len(set(keys)) != len(keys):
            msg = f"workflow keys repeat: {keys}"
            raise ValueError(msg)
        if sum(w.default for w in self.workflows) > 1:
            msg = "more than one workflow has default = true"
            raise ValueError(msg)
        return self

    @property
    def default(self) -> Workflow:
        return next((w for w in self.workflows if w.default), self.workflows[0])

    def get(self, key: str) -> Workflow | None:
        return next((w for w in self.workflows if w.key == key), None)


def load_workflows(path: Path) -> WorkflowRegistry:
    where = f"WORKFLOWS_FILE ({path})"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{where}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read it: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    try:
        return WorkflowRegistry.model_validate(data)
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ConfigError(f"{where} is invalid:\n" + "\n".join(lines)) from None
