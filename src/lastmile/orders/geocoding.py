"""Geocoding behind a small protocol. Orders keep the address as typed; lat/lon
given by the client win. With ``LASTMILE_GEOCODER_URL`` set, a Nominatim-compatible
service is asked (through geopy)."""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlparse

from ..config import Settings
from ..errors import Invalid, Unavailable


class Geocoder(Protocol):
    def geocode(self, address: str) -> tuple[float, float] | None:
        """(lat, lon) for an address, or None when nothing matches."""
        ...


class NoGeocoder:
    def geocode(self, address: str) -> tuple[float, float] | None:
        raise Invalid("no geocoder is configured: give lat and lon", field="lat")


class NominatimGeocoder:
    def __init__(self, url: str, user_agent: str, timeout_s: float = 5.0) -> None:
        from geopy.geocoders import Nominatim

        u = urlparse(url)
        domain = u.netloc + (u.path.rstrip("/") if u.path not in ("", "/") else "")
        self._geo = Nominatim(domain=domain, scheme=u.scheme or "https", user_agent=user_agent, timeout=timeout_s)

    def geocode(self, address: str) -> tuple[float, float] | None:
        from geopy.exc import GeopyError

        try:
            loc = self._geo.geocode(address, exactly_one=True)
        except GeopyError as e:
            raise Unavailable(f"geocoding service failed: {type(e).__name__}") from None
        if loc is None:
            return None
        return float(loc.latitude), float(loc.longitude)


def geocoder_for(settings: Settings) -> Geocoder:
    if settings.geocoder_url:
        return NominatimGeocoder(settings.geocoder_url, settings.geocoder_user_agent, settings.geocoder_timeout_s)
    return NoGeocoder()
