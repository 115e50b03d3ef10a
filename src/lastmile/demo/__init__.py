"""``lastmile demo``: a living Laredo day on the real system.

The day comes from :mod:`lastmile.sim.world` (depots, shippers, fleet, orders and the
day's events) and its hidden truth from :mod:`lastmile.sim.truth` (travel and service
times, who is at home). Everything else is the platform itself: the day is seeded through
the HTTP API (admin, dispatcher, shipper API keys), planned by the job queue as
``POST /plans`` does, published, and then driven -- positions through the ingest
endpoints (OsmAnd, the driver app, OwnTracks over MQTT), stops through the driver API,
new orders through the shipper API, a driver falling ill through the dispatcher's
endpoints. Nothing here writes to the database except the first admin account.

Modules: ``spec`` (the day as the demo needs it), ``adapter`` (from ``sim``), ``api``
(an HTTP client for in-process or live servers), ``seed``, ``jobs`` (the job queue
drained at simulated time when headless), ``agents`` (drivers and the dispatcher),
``run`` (headless and live), ``outcome`` (the day's figures, read from the API).
"""
