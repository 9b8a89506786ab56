"""Expected verification findings, and the check that a report shows exactly them.

Shared by the tamper matrix on a database (test_tamper.py) and on a bundle
(test_bundle_verify.py): both verifiers report the same ``Finding`` shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ledger.errors import Finding


class Report(Protocol):
    @property
    def valid(self) -> bool: ...

    findings: list[Finding]


@dataclass(frozen=True)
class Expect:
    index: int | None
    code: str  # a trailing "*" matches any code with that prefix
    expected: str | None = None
    found: str | None = None

    def matches(self, finding: Finding) -> bool:
        code_ok = (
            finding.code.startswith(self.code[:-1]) if self.code.endswith("*") else finding.code == self.code
        )
        return (
            finding.index == self.index
            and code_ok
            and (self.expected is None or finding.expected == self.expected)
            and (self.found is None or finding.found == self.found)
        )


def describe(findings: Sequence[Finding]) -> str:
    return "\n".join(
        f"  {f.index} {f.code} expected={f.expected} found={f.found}: {f.message}" for f in findings
    )


def assert_findings(report: Report, expect: Sequence[Expect], exact: bool) -> None:
    """``report`` is invalid with every ``expect``ed finding: exactly these, or (not ``exact``)
    at least these and none before the first tampered index."""
    findings = report.findings
    assert not report.valid
    missing = [e for e in expect if not any(e.matches(f) for f in findings)]
    assert not missing, f"not reported: {missing}\nfindings:\n{describe(findings)}"
    if exact:
        unexplained = [f for f in findings if not any(e.matches(f) for e in expect)]
        assert not unexplained, f"unexpected findings:\n{describe(unexplained)}"
        assert len(findings) == len(expect), describe(findings)
    else:
        first = min(e.index for e in expect if e.index is not None)
        early = [f for f in findings if f.index is not None and f.index < first]
        assert not early, f"findings before the first tampered index {first}:\n{describe(early)}"
