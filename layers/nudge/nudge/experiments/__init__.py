"""A/B experiments as data: rows of the Experiments table, assigned by a stable hash of the customer."""
