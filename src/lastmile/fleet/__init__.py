"""Vehicles, drivers and their shifts."""
