"""Read model of the training context: jobs, their events and their checkpoints."""
