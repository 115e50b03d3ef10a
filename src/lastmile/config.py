"""Settings from the environment (``LASTMILE_*``), with secure defaults.

The embedded default needs nothing: a SQLite file and a SQLite job queue in the
user's data directory. Production (``LASTMILE_ENV=production``) refuses to start
without a real secret key.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "insecure-development-secret-change-me"


class ConfigError(RuntimeError):
    """The configuration cannot be used (e.g. production with the default secret)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LASTMILE_", env_file=None, extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("lastmile")))
    # None: a SQLite file in data_dir. PostgreSQL: postgresql+psycopg://user@host/db
    database_url: str | None = None
    auto_migrate: bool = True  # run `alembic upgrade head` on start (SQLite only)
    # None: embedded SQLite job queue in data_dir; redis://127.0.0.1:6379/0 in production
    redis_url: str | None = None
    # travel model for planning, insertion and the ROI baseline: routing.matrix.profiles name
    # (laredo: rush hours, school zones, the four bridges and the cross-border rule; none: free
    # flow with the border; off: neither)
    traffic_profile: str = "laredo"
    queue_name: str = "lastmile"
    # Requests whose blocking part (database work) runs at once, per server process.
    # More threads than this only queue on the GIL and the database's CPUs instead of
    # on the event loop; each one holds at most one pooled connection. 4 measured best
    # on 2 shared CPUs (bench/api.py); raise it when requests wait on slow outside
    # services (a remote geocoder) rather than on this machine's CPUs.
    request_threads: int = Field(default=4, ge=1, le=200)

    # sessions and tokens
    cookie_secure: bool = True
    session_ttl_s: int = 12 * 3600
    access_token_ttl_s: int = 30 * 24 * 3600
    tracking_token_ttl_s: int = 7 * 24 * 3600  # after the order is completed
    # the key that LASTMILE_SECRET_KEY replaced: webhook secrets sealed with it still open
    # (set it while rotating the secret key, until every subscription is re-sealed)
    previous_secret_key: SecretStr | None = None

    # rate limits, shared by all server processes (Redis if redis_url, else the database)
    # requests per credential (API key, token, session; client address when anonymous)
    rate_limit_requests: int = Field(default=20_000, ge=1)  # generous: bench/api.py sends ~6k
    rate_limit_window_s: int = Field(default=60, ge=1)
    rate_limit_sync_s: float = Field(default=1.0, ge=0)  # local counting between syncs; 0 = exact
    # failed logins per account and per client address within the window -> 429
    login_max_failures: int = Field(default=10, ge=1)
    login_max_failures_per_ip: int = Field(default=100, ge=1)
    login_failure_window_s: int = Field(default=15 * 60, ge=1)

    # geocoding: a Nominatim-compatible service; None means lat/lon must be given
    geocoder_url: str | None = None
    geocoder_user_agent: str = "lastmile"
    geocoder_timeout_s: float = 5.0

    # proof of delivery and the driver app (pod/)
    pod_storage_dir: Path | None = None  # content-addressed POD files; None: <data_dir>/pod-files
    pod_max_file_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    pod_clock_skew_flag_s: int = Field(default=300, ge=0)  # device clock this far ahead of the server: flagged
    pod_clock_skew_max_s: int = Field(default=48 * 3600, ge=60)  # device time further off: action refused
    pod_far_from_stop_m: int = Field(default=300, ge=0)  # POD taken further away is flagged
    pod_require_signature: bool = True  # defaults; per shipper and per order in pod_rules
    pod_require_photo: bool = False
    pod_require_scan_all: bool = False
    pod_require_exact_cod: bool = True
    pod_reattempt: Literal["next_day", "customer_choice", "return_to_depot"] = "next_day"
    # POD files in an S3-compatible store instead of the disk (pod/s3.py): s3://bucket/prefix
    storage_url: str = ""  # "" or file:///path: the disk (pod_storage_dir)
    storage_s3_endpoint_url: str = ""  # MinIO/Ceph/R2/Garage: http(s)://host:port; "": AWS
    storage_s3_region: str = "us-east-1"
    storage_s3_access_key_id: str = ""  # "": boto3's own chain (AWS_* variables, instance role)
    storage_s3_secret_access_key: SecretStr = SecretStr("")
    storage_s3_addressing: Literal["path", "virtual", "auto"] = "path"  # path: MinIO, Ceph, Garage, R2
    storage_s3_timeout_s: float = Field(default=10.0, gt=0)
    storage_presign_s: int = Field(default=0, ge=0, le=7 * 24 * 3600)  # >0: file downloads redirect to a
    # presigned URL valid this long (after the same authorization); 0: the server streams the bytes

    # webhooks
    webhook_timeout_s: float = 10.0
    webhook_retry_for_s: int = 3 * 24 * 3600  # keep retrying this long (>= 24 h)
    # receivers on loopback/private networks: None means allowed except in production
    webhook_allow_private: bool | None = None

    # maps in the console: a raster tile URL ("https://tile.example/{z}/{x}/{y}.png", your own
    # tile server or a provider you may use); empty: no tiles, the map still draws everything
    map_tile_url: str = ""
    map_tile_attribution: str = ""  # shown on the map, as the tile provider requires

    # live ETAs and arrival detection (dispatch/eta.py)
    eta_traffic_profile: str | None = None  # routing.matrix.profiles name; None: traffic_profile (the planner's)
    eta_refresh_s: int = Field(default=30, ge=0)  # at most one ETA recompute per route this often
    eta_history_every_s: int = Field(default=600, ge=0)  # a history row per stop at least this often...
    eta_history_min_change_s: int = Field(default=60, ge=0)  # ...and whenever its ETA moved this much
    geofence_radius_m: float = Field(default=75.0, gt=0)  # "at the stop"
    geofence_dwell_s: int = Field(default=60, ge=0)  # inside the fence this long -> arrived
    geofence_still_mps: float = Field(default=0.5, ge=0)  # ...or at most this fast inside it
    moving_mps: float = Field(default=2.0, gt=0)  # faster than this: the driver is on the way
    # "approaching" once fewer than this many stops are still before the customer's (1: the driver
    # is heading to them)... or the ETA is this many minutes away or less (0 disables either rule)
    approaching_stops: int = Field(default=1, ge=0)
    approaching_minutes: int = Field(default=10, ge=0)

    # customer notifications (notifications/): links, channels, quiet hours
    public_url: str = "http://127.0.0.1:8000"  # base of the links customers get (/t/<token>)
    notify_sender: str = "lastmile <no-reply@lastmile.invalid>"
    smtp_host: str | None = None  # None: email goes to the development outbox (log channel)
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = 10.0
    sms_provider: Literal["log", "twilio"] = "log"
    twilio_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str = ""
    vapid_private_key: SecretStr | None = None  # web push; None: no push
    vapid_public_key: str | None = None
    vapid_subject: str = "mailto:ops@lastmile.invalid"
    notify_both_channels: bool = False  # email and SMS when both are known (else email first)
    notify_quiet_start: str = "21:00"  # local time of the order's depot; "" = no quiet hours
    notify_quiet_end: str = "08:00"
    notify_eta_window_s: int = Field(default=30 * 60, ge=0)  # "between 10:30 and 11:30"
    notify_max_attempts: int = Field(default=5, ge=1)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def webhooks_may_reach_private(self) -> bool:
        return (not self.production) if self.webhook_allow_private is None else self.webhook_allow_private

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite:///{self.data_dir / 'lastmile.db'}"

    @property
    def huey_path(self) -> Path:
        return self.data_dir / "queue.db"

    def check(self) -> None:
        """Refuse settings that are unsafe for the current mode."""
        key = self.secret_key.get_secret_value()
        if self.production:
            if not key or key == DEFAULT_SECRET or len(key) < 32:
                raise ConfigError(
                    "LASTMILE_SECRET_KEY must be set to a random value of at least 32 characters "
                    "in production (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
                )
            if not self.cookie_secure:
                raise ConfigError("LASTMILE_COOKIE_SECURE must stay true in production")
            import os

            if os.environ.get("LASTMILE_SIM_CLOCK", "").strip():
                raise ConfigError("LASTMILE_SIM_CLOCK (the demo's simulation clock) is refused in production")
        if self.storage_url.strip() and not self.storage_url.strip().startswith(("s3://", "file://")):
            raise ConfigError("LASTMILE_STORAGE_URL must be s3://bucket[/prefix] or file:///path "
                              f"(got {self.storage_url.strip()[:60]!r})")
        if self.storage_url.strip().startswith("s3://") and not self.storage_url.strip()[5:].split("/")[0]:
            raise ConfigError("LASTMILE_STORAGE_URL names no bucket: s3://bucket[/prefix]")
        if self.webhook_retry_for_s < 24 * 3600:
            raise ConfigError("LASTMILE_WEBHOOK_RETRY_FOR_S must be at least 86400 (24 h)")


def normalize_database_url(url: str) -> str:
    """Accept the common spellings and pick the psycopg 3 driver for PostgreSQL."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache
def get_settings() -> Settings:
    return Settings()
