"""Training a rescorer: the loop, its config, strategies, rank schedules, losses, optimiser, checkpoints, data parallelism."""
