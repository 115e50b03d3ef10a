"""Identifiers: time-ordered, URL-safe, prefixed by kind (``ord_01J...``).

48 bits of milliseconds then 80 random bits, in Crockford base32 -- sorts by
creation time, so cursor pagination can simply walk ids.
"""

from __future__ import annotations

import hashlib
import secrets
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_PATTERN = r"^[a-z]{2,5}_[0-9A-Z]{26}$"


def _b32(n: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_ALPHABET[n & 31])
        n >>= 5
    return "".join(reversed(out))


def new_id(prefix: str) -> str:
    ms = time.time_ns() // 1_000_000
    return f"{prefix}_{_b32(ms, 10)}{_b32(secrets.randbits(80), 16)}"


def new_secret(prefix: str, nbytes: int = 32) -> str:
    """A bearer secret (API key, access token, tracking token): >= 256 bits by default."""
    return f"{prefix}{secrets.token_urlsafe(nbytes)}"


def hash_secret(secret: str) -> str:
    """Hash for high-entropy secrets (keys, tokens). Passwords use argon2 instead."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
