"""Independent checks of a claim ("this picture was taken here, then"), each a :class:`Check` with a verdict.

One module per kind of evidence, all returning the same :class:`Check`: :mod:`~gtloc.evidence.clock` (the camera's
clock against the photo's GPS time), :mod:`~gtloc.evidence.sun` (the light in the picture against the sun at the
claimed place and time; :mod:`~gtloc.evidence.light` reads the light) and :mod:`~gtloc.evidence.model` (a trained
model's posteriors, behind its domain check). :func:`combine` turns checks into one verdict;
:mod:`~gtloc.evidence.verify` runs every check on many photos (:func:`verify_photos`) and
:mod:`~gtloc.evidence.report` writes the verdicts. The model-free checks never import ``inference`` or ``training``
(a contract in pyproject.toml), and without a model nothing here imports torch: the model check is imported only
when a model is given. A new kind of evidence is one new module with a ``check_*`` function returning a
:class:`Check`.
"""

from gtloc.evidence.check import CANNOT_JUDGE, CONSISTENT, INCONSISTENT, VERDICTS, Check
from gtloc.evidence.clock import check_clock
from gtloc.evidence.combine import combine
from gtloc.evidence.sun import check_sun
from gtloc.evidence.verify import PhotoVerdict, verify_photos

__all__ = [
    "CANNOT_JUDGE",
    "CONSISTENT",
    "INCONSISTENT",
    "VERDICTS",
    "Check",
    "PhotoVerdict",
    "check_clock",
    "check_sun",
    "combine",
    "verify_photos",
]
