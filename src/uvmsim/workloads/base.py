"""The workload interface: options with types and defaults, and a per-CPU program."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from uvmsim.machine.failure import InputError


@dataclass(frozen=True)
class Option:
    name: str
    type: type
    default: Any
    help: str
    minimum: float | None = 0
    choices: tuple[str, ...] = ()


@dataclass
class Workload(ABC):
    """A named workload: `build(ctx)` returns one function per CPU."""

    name: str
    summary: str
    options: tuple[Option, ...] = ()
    uses_uvm: bool = True
    defaults: dict[str, Any] = field(default_factory=dict)

    def parse(self, given: dict[str, Any]) -> dict[str, Any]:
        """Options with defaults filled in; unknown or ill-typed ones are InputErrors."""
        known = {o.name: o for o in self.options}
        out = {o.name: o.default for o in self.options}
        for key, value in given.items():
            opt = known.get(key)
            if opt is None:
                accepted = ", ".join(sorted(known)) or "none"
                raise InputError(
                    f"workload {self.name}: unknown option {key!r}; accepted: {accepted}"
                )
            try:
                v = opt.type(value)
            except (TypeError, ValueError, OverflowError):
                raise InputError(
                    f"workload {self.name}: option {key} must be {opt.type.__name__}, got {value!r}"
                ) from None
            if isinstance(v, float) and not math.isfinite(v):
                raise InputError(
                    f"workload {self.name}: option {key} must be a finite number, got {value!r}"
                )
            if opt.choices and v not in opt.choices:
                raise InputError(
                    f"workload {self.name}: option {key} must be one of "
                    f"{', '.join(opt.choices)}, got {value!r}"
                )
            if opt.minimum is not None and isinstance(v, int | float) and v < opt.minimum:
                raise InputError(
                    f"workload {self.name}: option {key} must be >= {opt.minimum}, got {value!r}"
                )
            out[key] = v
        return out

    @abstractmethod
    def build(self, ctx: Any) -> list:
        """One program (a callable) per simulated CPU, for the run described by `ctx`."""
