"""Read model of the datasets context."""
