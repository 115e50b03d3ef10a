"""The append-only event log: every domain change, in order, never edited."""
