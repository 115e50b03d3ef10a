"""Tracking settings (``LASTMILE_TRACKING_*``): filter thresholds, limits, states.

Separate from :mod:`lastmile.config` so the ingest domain owns its knobs."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TrackingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LASTMILE_TRACKING_", env_file=None, extra="ignore")

    # filter (rejections are counted per reason: GET /tracking/stats)
    max_accuracy_m: float = Field(default=200.0, gt=0)  # worse (larger) accuracy is rejected
    max_age_s: int = Field(default=24 * 3600, gt=0)  # fixes older than this are stale
    future_skew_s: int = Field(default=120, ge=0)  # device clocks may run this far ahead
    max_speed_mps: float = Field(default=70.0, gt=0)  # ~250 km/h: faster jumps are impossible
    jump_slack_m: float = Field(default=100.0, ge=0)  # tolerated on top of both fixes' accuracy

    # the ETA work (dispatch.eta.on_position) sees a driver's fixes at most this often,
    # and always the newest of a batch; off: positions are only stored and broadcast
    # (ETAs computed elsewhere; bench/ingest.py measures the ingest alone with it)
    eta_min_interval_s: float = Field(default=5.0, ge=0)
    eta: bool = True
    # ...and refreshes a route's ETAs at most this often in real time as well (besides
    # every eta_refresh_s of fix time): a backlog replayed faster than real time
    # does not recompute them for every 30 s of its history
    eta_refresh_wall_s: float = Field(default=5.0, ge=0)

    # limits
    max_batch: int = Field(default=1000, ge=1)  # positions per POST /tracking/positions
    max_body_bytes: int = Field(default=512 * 1024, ge=1024)  # HTTP bodies of the tracking endpoints
    max_message_bytes: int = Field(default=16 * 1024, ge=256)  # one OwnTracks MQTT message
    device_requests_per_window: int = Field(default=600, ge=1)  # per device (or driver login)
    device_window_s: int = Field(default=60, ge=1)

    # driver state (GET /tracking/live, broadcasts)
    moving_mps: float = Field(default=1.5, gt=0)  # faster than this is driving
    at_stop_m: float = Field(default=100.0, gt=0)  # this close to the next stop is at_stop
    offline_after_s: int = Field(default=300, gt=0)  # no fix for this long is offline


@lru_cache
def get_tracking_settings() -> TrackingSettings:
    return TrackingSettings()
