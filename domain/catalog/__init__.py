"""The model catalog: base models of the platform and the models organizations own."""
