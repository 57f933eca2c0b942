"""The one result type of every check of a claim: a verdict, a reason in plain words, and the figures behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CONSISTENT = "consistent"
INCONSISTENT = "inconsistent"
CANNOT_JUDGE = "cannot judge"
VERDICTS = (CONSISTENT, INCONSISTENT, CANNOT_JUDGE)


@dataclass(frozen=True)
class Check:
    """What one kind of evidence says about a claim (a place and a time for a picture).

    ``name``: the kind of evidence (``clock``, ``sun``, ...). ``verdict``: ``consistent`` (the evidence affirms the
    claim), ``inconsistent`` (it contradicts it, confidently) or ``cannot judge``. ``reason``: why, in plain words
    for the user. ``figures``: the numbers behind the verdict, by name with their unit in the name
    (``sun_elevation_deg``, ``ev100``, ``clock_offset_s``), for tables and reports.
    """

    name: str
    verdict: str
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {', '.join(VERDICTS)}")
