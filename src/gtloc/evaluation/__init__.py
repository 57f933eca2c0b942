"""The evaluation protocol, baselines, experiments, reports and the demo."""
