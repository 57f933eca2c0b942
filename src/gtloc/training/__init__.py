"""Training the heads on cached features: config, loop, checkpoints, distributed runs."""
