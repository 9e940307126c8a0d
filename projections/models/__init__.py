"""Read model of the model catalog."""
