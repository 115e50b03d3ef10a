"""The customer's side of a delivery: the tracking page's data, customer <-> driver
messages, delivery preferences, rescheduling and ratings."""
