"""Depots: where routes start and end, each in its time zone."""
