"""The platform's base-model catalog file and its loader."""
