"""Proof of delivery and the driver's day: the driver actions API, POD records
chained per route, content-addressed photo/signature files, failed attempts and the
reattempt policy, pickups, returns and the depot's return manifest."""
