"""The README's first command, on a tiny world: every output the demo promises is there and well formed."""

from __future__ import annotations

import json

import pytest

from helpers.cli import run_cli

pytestmark = pytest.mark.slow


def test_demo_writes_metrics_report_and_pictures(monkeypatch, capsys, tmp_path):
    out = tmp_path / "demo"
    args = ["demo", "--out", out, "--n-train", 100, "--n-test", 16, "--epochs", 1, "--size", 64, "--workers", 1]
    code, stdout, stderr = run_cli(monkeypatch, capsys, *args, "--no-progress")
    assert code == 0, stderr
    assert f"report: {out / 'report.md'}" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["geo"]) == {"median_km", "acc_1km", "acc_25km", "acc_200km", "acc_750km", "acc_2500km"}
    assert set(metrics["time"]) == {"month_error", "hour_error"}
    expected = {
        "gtloc_argmax_readout",
        "gtloc_bayes_readout",
        "gtloc_given_location",
        "constant",
        "random",
        "classification",
    }
    assert expected | {"gtloc_hard_targets", "gtloc_time_only"} == set(metrics["baselines"])
    assert metrics["baselines"]["gtloc_time_only"]["geo"] is None
    trust = metrics["trust"]
    assert "generated pictures (synthetic world, seed 1); it has never seen a real photo" in trust["model"]
    assert 0 <= trust["in_domain_share"] <= 1 and trust["readout"] == "mix"
    card = json.loads((out / "runs" / "gtloc" / "model_card.json").read_text())
    # 10 of 100 held out: just enough for the temperatures, the location weight and the validation metrics
    assert card["training_data"]["pictures"] == 90 and card["validation"]["pictures"] == 10
    assert set(card["calibration"]) == {"place", "time", "location_weight"}
    report = (out / "report.md").read_text()
    assert "## How far to trust it" in report and "Test pictures in the model's domain" in report
    assert "| gtloc |" in report and "ten-crop" in report and "synthetic" in report.lower()
    for picture in ("world_map.png", "time_posteriors.png"):
        assert (out / picture).stat().st_size > 10_000
    assert len((out / "predictions.csv").read_text().splitlines()) == 17

    # What a new user reads: an estimate first, the model and three next commands last, no bar in a log.
    lines = stdout.splitlines()
    assert lines[0].startswith(f"gtloc demo into {out}: about ") and "finished stages are reused" in lines[0]
    run, photo = out / "runs" / "gtloc", out / "world-test" / "images"
    assert lines[-5] == f"trained model: {run}"
    assert lines[-3].startswith(f"  gtloc predict {photo}/") and lines[-3].endswith(f" --checkpoint {run}")
    assert lines[-2].startswith(f"  gtloc verify {photo}/") and " --time '2023-" in lines[-2]
    assert lines[-1] == f"  gtloc serve --checkpoint {run}"
    assert "\r" not in stdout + stderr
    assert f"encoding the 100,000-place GPS gallery once (cached in {run / 'galleries'})" in stdout
    # One GPS gallery on disk, the one `gtloc predict --checkpoint runs/gtloc` reuses: the ablations, calibrated
    # and scored once, encode theirs in memory (each was another 200 MB).
    assert [p.relative_to(out).parts[:2] for p in out.rglob("gps-*.safetensors")] == [("runs", "gtloc")]

    code, stdout, _ = run_cli(monkeypatch, capsys, *args, "--no-progress")  # a second run reuses every stage
    assert code == 0 and "reusing 100 pictures" in stdout
    assert "reusing the efficientnet-lite0 features of all 100 pictures" in stdout and "extracting" not in stdout
    assert f"the run in {run} finished at step " in stdout and "loaded, not trained or calibrated again" in stdout
    assert "encoding the 100,000-place GPS gallery once (cached" not in stdout  # the cache answers
    # nothing is trained, calibrated, fitted or encoded again: the baselines' and ablations' scores are reused
    assert "to load what is there: every stage is reused" in stdout.splitlines()[0]  # the estimate is for that
    assert "reusing the scores of the classification baseline" in stdout and "training the classification" not in stdout
    assert "reusing the scores of ablation gtloc_hard_targets" in stdout and "calibrating" not in stdout
    assert "encoding the 100,000-place GPS gallery once" not in stdout
    assert json.loads((out / "metrics.json").read_text()) == metrics  # the same table
