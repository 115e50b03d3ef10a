"""Orders: what to deliver or pick up, where, when, for whom."""
