"""Travel matrices: straight-line (``haversine``), road services (``road``),
and the time-of-day model that scales either (``timedep``)."""
