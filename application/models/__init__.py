"""Use cases of the model catalog."""
