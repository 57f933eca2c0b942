"""What to expect from a model trained on a small set: the warning ``gtloc train`` prints at the end.

Under :data:`~gtloc.training.small_data.SMALL_DATA_N` pictures a model's errors on new pictures are far from
those on its training pictures, and a new camera or trip can be no better than the best constant guess
(docs/small-data.md). The warning says what the run's held-out pictures measured (whole groups when the records
have a group column, :func:`~gtloc.training.small_data.small_data_validation`) beside the constant guess on the
same pictures, and the ``gtloc crossval`` command that measures it on every group.
"""

from __future__ import annotations

from pathlib import Path

from gtloc.model.card import ModelCard
from gtloc.training.checkpoint import TRAIN_CONFIG_FILE
from gtloc.training.config import load_train_config
from gtloc.training.small_data import SMALL_DATA_N

BEATS_BELOW = 0.9  # "clearly better than the constant guess" under this ratio


def _compare(value: float, constant: float, unit: str) -> str:
    ratio = value / constant if constant > 0 else float("nan")
    verdict = "better than" if ratio < BEATS_BELOW else ("no better than" if ratio >= 1 else "barely better than")
    return f"{value:.2f} {unit} ({ratio:.2f}x the constant guess's {constant:.2f}: {verdict} it)"


def expected_error(run_dir: str | Path, features: str, records: str) -> str | None:
    """The warning for the run in ``run_dir`` (None when it trained on :data:`SMALL_DATA_N` pictures or more, or
    has no model card): its held-out errors beside the constant guess's, or that none were measured, and the
    ``gtloc crossval`` command (``features``: the ``--features`` arguments, ``records``: the records CSV)."""
    run_dir = Path(run_dir)
    card = ModelCard.load(run_dir)
    if card is None:
        return None
    metrics = card.validation
    held = int(metrics.get("pictures", 0))
    config = load_train_config(run_dir / TRAIN_CONFIG_FILE)
    total = card.training_data.pictures + (0 if config.refit else held)  # a refit model trained on all of them
    if total >= SMALL_DATA_N:
        return None
    column = config.val_group
    group_by = f" --group-by {column}" if column else ""
    command = f"gtloc crossval --records {records} {features}{group_by} --out {run_dir}-crossval"
    head = f"warning: a small training set ({total} pictures): answers on new pictures can be far off."
    if "hour_error" not in metrics or "constant_hour_error" not in metrics:
        return f"{head} No held-out pictures measured this model's error; measure it with:\n  {command}"
    if column and metrics.get("held_out_groups"):
        where = f"{held} held-out pictures of {int(metrics['held_out_groups'])} {column} groups it never saw"
    else:
        where = (
            f"{held} pictures held out at random (near-duplicates of training pictures make this optimistic "
            "for a new place)"
        )
    return (
        f"{head}\nExpected error, measured on {where}:\n"
        f"  hour:  {_compare(metrics['hour_error'], metrics['constant_hour_error'], 'h')}\n"
        f"  month: {_compare(metrics['month_error'], metrics['constant_month_error'], 'months')}\n"
        f"Measure it on every group, with confidence intervals:\n  {command}"
    )
