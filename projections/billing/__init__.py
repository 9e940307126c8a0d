"""The invoice read model, and the usage sums billing reads from the usage read model."""
