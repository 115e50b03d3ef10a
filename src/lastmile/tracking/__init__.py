"""Tracking: device positions in (OsmAnd HTTP, OwnTracks MQTT/HTTP, the driver app),
one normalized fix, an ordered handler pipeline (filter, store, ETA, broadcast)."""
