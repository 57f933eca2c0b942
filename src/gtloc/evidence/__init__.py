"""Independent checks of a claim ("this picture was taken here, then"), each a :class:`Check` with a verdict.

One module per kind of evidence, all returning the same :class:`Check`: :mod:`~gtloc.evidence.clock` (the camera's
clock against the photo's GPS time), :mod:`~gtloc.evidence.sun` (the light in the picture against the sun at the
claimed place and time; :mod:`~gtloc.evidence.light` reads the light). :func:`combine` turns checks into one
verdict. These checks need no model: they never import ``inference`` or ``training`` (a contract in
pyproject.toml); a check from a learned model will be one more module beside them. A new kind of evidence is one
new module with a ``check_*`` function returning a :class:`Check`.
"""

from gtloc.evidence.check import CANNOT_JUDGE, CONSISTENT, INCONSISTENT, VERDICTS, Check
from gtloc.evidence.clock import check_clock
from gtloc.evidence.combine import combine
from gtloc.evidence.sun import check_sun

__all__ = ["CANNOT_JUDGE", "CONSISTENT", "INCONSISTENT", "VERDICTS", "Check", "check_clock", "check_sun", "combine"]
