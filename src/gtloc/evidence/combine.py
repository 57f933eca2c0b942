"""One verdict from independent checks (issue 22, item 5).

* ``inconsistent`` when any check is (confidently) inconsistent: one solid contradiction is enough, whatever the
  others say; a check answers ``inconsistent`` only when it is confident, so no weighing is done here.
* ``consistent`` only when at least one check affirms the claim and none contradicts it.
* ``cannot judge`` otherwise (no check could read its evidence).

The reason lists the deciding checks' reasons, contradictions first.
"""

from __future__ import annotations

from collections.abc import Sequence

from gtloc.evidence.check import CANNOT_JUDGE, CONSISTENT, INCONSISTENT, Check


def combine(checks: Sequence[Check]) -> Check:
    """The verdict of ``checks`` under the rule above, as a :class:`Check` named ``verdict`` whose figures hold each
    check's verdict by name."""
    figures = {check.name: check.verdict for check in checks}
    against = [c for c in checks if c.verdict == INCONSISTENT]
    if against:
        return Check("verdict", INCONSISTENT, _reasons(against), figures)
    affirming = [c for c in checks if c.verdict == CONSISTENT]
    if affirming:
        return Check("verdict", CONSISTENT, _reasons(affirming), figures)
    why = _reasons(checks) if checks else "no check was run"
    return Check("verdict", CANNOT_JUDGE, why, figures)


def _reasons(checks: Sequence[Check]) -> str:
    return "; ".join(f"{c.name}: {c.reason}" for c in checks)
