"""Training use cases: fine-tuning and RL jobs."""
