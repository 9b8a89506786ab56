"""Running the ``custody`` command in tests: a clean environment, and what it printed.

Every CLI test module runs the command with the caller's ``CUSTODY_*`` settings
removed (a developer's own ``.env`` or shell must not leak in), a wide plain
terminal (so output is not wrapped or coloured), and the settings the test gives.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from typing import Any


def clean_env(**settings: str | None) -> dict[str, str]:
    """The caller's environment without CUSTODY_* variables, then ``settings`` (None removes one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODY_")}
    env.update(COLUMNS="200", NO_COLOR="1", TERM="dumb")
    for name, value in settings.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@dataclass(frozen=True)
class Run:
    """One run of the command: exit code, stdout and stderr as text."""

    code: int
    out: str
    err: str
    args: tuple[str, ...] = ()

    def json(self) -> Any:
        """The last non-empty stdout line, parsed."""
        lines = [line for line in self.out.splitlines() if line.strip()]
        assert lines, f"no output from {self}"
        return json.loads(lines[-1])

    def __str__(self) -> str:
        return (
            f"custody {shlex.join(self.args)} -> exit {self.code}\n"
            f"stdout: {self.out[:3000]}\nstderr: {self.err[:3000]}"
        )
