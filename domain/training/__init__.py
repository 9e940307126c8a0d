"""Fine-tuning and RL jobs: one replayable state machine for both kinds."""
