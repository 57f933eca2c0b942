"""The time read-outs: how a time posterior becomes one answer (the one read-out policy).

A run names its read-out in its model card (``readout``, :mod:`gtloc.model.card`); ``Predictor(readout=...)`` and
``gtloc predict --readout`` choose another. Each read-out names the time posterior it reads
(:data:`READOUT_POSTERIOR`, one of :data:`TIME_POSTERIORS`) and how it answers from it (:data:`READOUT_ANSWER`):

* ``argmax``: the top entry of the model's posterior over the time gallery (the paper's);
* ``bayes``: the month and the hour of least expected cyclic error under the model's posterior (the right answer
  for a mean-absolute-error metric when the posterior is bimodal, e.g. 9:00 vs 15:00);
* ``knn``: the same under the training neighbours' kNN posterior;
* ``mix``: the same under the mix of both (the default, chosen by measurement: docs/small-data.md).

Shown with the model's precision: the answer's calendar month and a window of clock hours around its hour that
holds the true hour with the run's stated probability (``July, 14:00-16:00``; ``hour_coverage`` in
:mod:`gtloc.model.calibration`, :func:`gtloc.retrieval.time_posterior.hour_window`), never the day of the time
gallery's weekly grid.

How a posterior is built and read is :class:`gtloc.retrieval.time_posterior.TimePosterior`. No torch here, so that
``gtloc predict --help`` can name the read-outs.
"""

from __future__ import annotations

from gtloc.errors import Param, ParameterError

# Where the time posterior comes from: the model's softmax over the time gallery, the training pictures nearest in
# backbone-feature space, or both (gtloc.retrieval.time_posterior).
TIME_POSTERIORS = ("gallery", "knn", "mix")
READOUT_POSTERIOR = {"argmax": "gallery", "bayes": "gallery", "knn": "knn", "mix": "mix"}
READOUT_ANSWER = {"argmax": "argmax", "bayes": "bayes", "knn": "bayes", "mix": "bayes"}
READOUTS = tuple(READOUT_POSTERIOR)
DEFAULT_READOUT = "mix"
# Each read-out in plain words, for pages and outputs that name the read-out beside a time.
READOUT_WORDS = {
    "argmax": "the model's single likeliest entry of its time gallery (the paper's read-out)",
    "bayes": "the month and hour of least expected error under the model's posterior",
    "knn": "the month and hour of least expected error under the times of the most similar training pictures",
    "mix": "the month and hour of least expected error under the model's posterior mixed with the times of the "
    "most similar training pictures",
}


def check_readout(readout: str) -> str:
    """``readout`` when it is one of :data:`READOUTS`; else a :class:`ParameterError` naming them."""
    if readout not in READOUTS:
        raise ParameterError("unknown ", Param("readout"), f" {readout!r}; choose one of {', '.join(READOUTS)}")
    return readout
