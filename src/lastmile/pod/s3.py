"""POD files in an S3-compatible object store (AWS S3, MinIO, Ceph RGW, Cloudflare R2,
Garage ...), through boto3.

Settings: ``LASTMILE_STORAGE_URL=s3://bucket/prefix``, ``LASTMILE_STORAGE_S3_ENDPOINT_URL``
(empty for AWS), ``_REGION``, ``_ACCESS_KEY_ID`` / ``_SECRET_ACCESS_KEY`` (empty: boto3's
own chain: ``AWS_*`` variables, instance role), ``_ADDRESSING`` (``path`` by default: the
bucket in the path, what MinIO, Ceph, Garage and R2 expect; ``virtual`` for AWS-style
bucket host names).

Objects are ``<prefix>/ab/cd/<sha256>`` (the same layout as on disk), written once with
their content type; the bytes were checked (type by magic bytes, size) before they get
here. Checksums are sent only when an operation requires them: boto3's default CRC
trailers are refused by several S3-compatible stores.

boto3 rather than the ``minio`` SDK: it speaks to every S3-compatible store (each
documents it), its errors carry S3's own codes (which we turn into clear messages), and
it presigns GET URLs for the ``LASTMILE_STORAGE_PRESIGN_S`` download mode. It is
imported only when an s3:// URL is configured.

Every failure of the store becomes :class:`~lastmile.pod.files.StorageUnavailable`
(503 with a message that says what is wrong) on a request, or
:class:`~lastmile.config.ConfigError` from :meth:`S3Storage.check` at start-up.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ..config import ConfigError, Settings
from .files import StorageUnavailable

log = logging.getLogger("lastmile.pod.s3")
_clients: dict[tuple[Any, ...], S3Storage] = {}
_lock = threading.Lock()


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` -> ``("bucket", "some/prefix")``."""
    rest = url.strip()[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise ConfigError("LASTMILE_STORAGE_URL names no bucket: s3://bucket[/prefix]")
    return bucket, prefix.strip("/")


def _describe(e: Exception, bucket: str, endpoint: str) -> tuple[str, bool]:
    """A sentence saying what went wrong, and whether it is a misconfiguration (vs a
    store that is down or slow)."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
    )

    where = f"bucket {bucket!r} at {endpoint or 'AWS S3'}"
    if isinstance(e, ClientError):
        code = str(e.response.get("Error", {}).get("Code", ""))
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("NoSuchBucket",) or (code in ("404", "NotFound") and status == 404):
            return f"POD file store: {where} does not exist", True
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
                    "AuthorizationHeaderMalformed", "InvalidSecurity") or status == 403 or code in ("403", "AccessDenied"):
            return (f"POD file store: {where} refused the credentials ({code or status}): check "
                    "LASTMILE_STORAGE_S3_ACCESS_KEY_ID / _SECRET_ACCESS_KEY and the bucket's policy"), True
        if code in ("PermanentRedirect", "301", "IllegalLocationConstraintException"):
            return f"POD file store: {where} is in another region than LASTMILE_STORAGE_S3_REGION", True
        return f"POD file store: {where} answered {code or status}", False
    if isinstance(e, NoCredentialsError):
        return ("POD file store: no S3 credentials (set LASTMILE_STORAGE_S3_ACCESS_KEY_ID and "
                "LASTMILE_STORAGE_S3_SECRET_ACCESS_KEY)"), True
    if isinstance(e, EndpointConnectionError):
        return f"POD file store: cannot reach {endpoint or 'AWS S3'}", False
    if isinstance(e, BotoCoreError):
        return f"POD file store: {where}: {type(e).__name__}", False
    raise e


class S3Storage:
    def __init__(self, client: Any, bucket: str, prefix: str, endpoint: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint

    def key(self, sha256: str) -> str:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        rel = f"{sha256[:2]}/{sha256[2:4]}/{sha256}"
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def _fail(self, e: Exception, what: str) -> StorageUnavailable:
        message, _ = _describe(e, self.bucket, self.endpoint)
        log.warning("%s failed: %s", what, message)
        return StorageUnavailable(message)

    def _missing(self, e: Exception) -> bool:
        from botocore.exceptions import ClientError

        if not isinstance(e, ClientError):
            return False
        code = str(e.response.get("Error", {}).get("Code", ""))
        return code in ("NoSuchKey", "404", "NotFound") and not self._bucket_gone(e)

    def _bucket_gone(self, e: Exception) -> bool:
        from botocore.exceptions import ClientError

        return isinstance(e, ClientError) and e.response.get("Error", {}).get("Code") == "NoSuchBucket"

    def exists(self, sha256: str) -> bool:
        try:
            key = self.key(sha256)
        except ValueError:
            return False
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except Exception as e:  # noqa: BLE001 -- every store failure is mapped below
            if self._missing(e):
                # HEAD has no body: a missing bucket also answers 404; tell the two apart
                self._check_bucket("exists")
                return False
            raise self._fail(e, "HEAD object") from None

    def put(self, sha256: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        key = self.key(sha256)  # content-addressed: writing the same bytes again changes nothing
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type,
                                   CacheControl="private, max-age=31536000, immutable")
        except Exception as e:  # noqa: BLE001
            raise self._fail(e, "PUT object") from None

    def get(self, sha256: str) -> bytes | None:
        try:
            key = self.key(sha256)
        except ValueError:
            return None
        try:
            out = self.client.get_object(Bucket=self.bucket, Key=key)
            return bytes(out["Body"].read())
        except Exception as e:  # noqa: BLE001
            if self._missing(e):
                return None
            raise self._fail(e, "GET object") from None

    def url(self, sha256: str, content_type: str, expires_s: int) -> str | None:
        params = {"Bucket": self.bucket, "Key": self.key(sha256), "ResponseContentType": content_type,
                  "ResponseCacheControl": "private, no-store"}
        return str(self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=int(expires_s)))

    def _check_bucket(self, what: str) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as e:  # noqa: BLE001
            raise self._fail(e, f"HEAD bucket ({what})") from None

    def check(self) -> None:
        """Start-up check: the bucket exists and the credentials are accepted. A
        misconfiguration raises ConfigError; a store that is only unreachable is logged
        (requests then answer 503 until it is back)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as e:  # noqa: BLE001
            message, misconfigured = _describe(e, self.bucket, self.endpoint)
            if misconfigured:
                raise ConfigError(message) from None
            log.warning("%s (POD uploads answer 503 until it is reachable)", message)


def _config_key(settings: Settings) -> tuple[Any, ...]:
    return (settings.storage_url.strip(), settings.storage_s3_endpoint_url, settings.storage_s3_region,
            settings.storage_s3_access_key_id, settings.storage_s3_secret_access_key.get_secret_value(),
            settings.storage_s3_addressing, settings.storage_s3_timeout_s)


def s3_storage(settings: Settings) -> S3Storage:
    """The S3 store for these settings (one boto3 client per configuration: clients
    are thread-safe and slow to build)."""
    key = _config_key(settings)
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = _clients[key] = _build(settings)
    return found


def _build(settings: Settings) -> S3Storage:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:  # pragma: no cover -- boto3 is a dependency
        raise ConfigError("LASTMILE_STORAGE_URL is s3:// but boto3 is not installed (pip install boto3)") from None
    bucket, prefix = parse_url(settings.storage_url)
    secret = settings.storage_s3_secret_access_key.get_secret_value()
    creds = ({"aws_access_key_id": settings.storage_s3_access_key_id, "aws_secret_access_key": secret}
             if settings.storage_s3_access_key_id else {})
    config = Config(
        region_name=settings.storage_s3_region or "us-east-1",
        signature_version="s3v4",
        s3={"addressing_style": settings.storage_s3_addressing},
        connect_timeout=settings.storage_s3_timeout_s,
        read_timeout=settings.storage_s3_timeout_s,
        retries={"max_attempts": 3, "mode": "standard"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    endpoint = settings.storage_s3_endpoint_url.strip()
    client = boto3.session.Session().client("s3", endpoint_url=endpoint or None, config=config, **creds)
    return S3Storage(client, bucket, prefix, endpoint)
