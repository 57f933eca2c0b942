"""Reading a time answer out of a posterior over the time gallery: the joint month x hour grid, its marginals and
the least-expected-error ("Bayes") answer.

The protocol scores a time by its cyclic month error and its cyclic hour error, each a mean absolute error. The
answer that minimises the expected error under a posterior is, for each of the two, the candidate with the least
posterior-weighted cyclic distance to the gallery's times; unlike the posterior's argmax (a mode), it does not
jump between the two modes of an AM/PM or spring/autumn ambiguity. Prediction and training's validation both read
times this way, so the validation metrics score the answer that ``predict`` gives.
"""

from __future__ import annotations

import torch

from gtloc.retrieval.posterior import month_hour_cells, month_hour_grid
from gtloc.timecode import HOUR_PERIOD, MONTH_PERIOD, cyclic_difference, hour_fraction, protocol_month_value


class TimeReadout:
    """The month x hour posterior, its marginals and the least-expected-error answer over a fixed time gallery
    ``labels`` ``(T, 5)`` (local ``[month, day, hour, minute, second]``)."""

    def __init__(self, labels: torch.Tensor):
        self.labels = labels
        self.cell = month_hour_cells(labels)
        month_values = protocol_month_value(labels)
        hour_values = hour_fraction(labels)
        self.month_choice = torch.unique(month_values)
        self.hour_choice = torch.unique(hour_values)
        # Cost of answering candidate c when the truth is gallery entry t: (C, T).
        self.month_cost = cyclic_difference(self.month_choice[:, None], month_values[None, :], MONTH_PERIOD)
        self.hour_cost = cyclic_difference(self.hour_choice[:, None], hour_values[None, :], HOUR_PERIOD)
        # A (month, day) row for each month candidate and an (hour, minute, second) row for each hour candidate.
        self.month_rows = labels[[int((month_values == v).nonzero()[0]) for v in self.month_choice]][:, :2]
        self.hour_rows = labels[[int((hour_values == v).nonzero()[0]) for v in self.hour_choice]][:, 2:]

    def month_hour(self, posterior: torch.Tensor) -> torch.Tensor:
        """Gallery posterior ``(N, T)`` -> ``(N, 12, 24)``: each entry's probability added into its cell."""
        return month_hour_grid(posterior, self.cell)

    def marginals(self, posterior: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Month ``(N, 12)`` and hour ``(N, 24)`` posteriors: the sums of :meth:`month_hour` over hours / months."""
        joint = self.month_hour(posterior)
        return joint.sum(dim=2), joint.sum(dim=1)

    def bayes(self, posterior: torch.Tensor) -> torch.Tensor:
        """Gallery posterior ``(N, T)`` -> ``(N, 5)`` times: the month and the hour of least expected cyclic error."""
        month = (posterior @ self.month_cost.T).argmin(dim=1)
        hour = (posterior @ self.hour_cost.T).argmin(dim=1)
        return torch.cat([self.month_rows[month], self.hour_rows[hour]], dim=1)
