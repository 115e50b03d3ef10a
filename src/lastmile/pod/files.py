"""POD files (photos, signatures): checked by their first bytes, stored under their
SHA-256. Two stores implement :class:`StorageBackend`: the disk (the default,
``LASTMILE_POD_STORAGE_DIR``) and any S3-compatible object store
(``LASTMILE_STORAGE_URL=s3://bucket/prefix``, see :class:`S3Storage`)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from ..config import Settings
from ..errors import DomainError, Invalid

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")


class TooLarge(DomainError):
    status = 413
    code = "too_large"


class UnsupportedType(DomainError):
    status = 415
    code = "unsupported_media_type"


def sniff(data: bytes) -> str | None:
    """The image type named by the file's magic bytes, whatever the client claimed."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check_image(data: bytes, max_bytes: int) -> str:
    """The content type of an acceptable upload, or the reason it is refused."""
    if len(data) > max_bytes:
        raise TooLarge(f"the file is larger than {max_bytes} bytes", field="file")
    if not data:
        raise Invalid("the file is empty", field="file")
    kind = sniff(data)
    if kind is None:
        raise UnsupportedType("only JPEG, PNG or WebP images are accepted", field="file")
    return kind


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class StorageUnavailable(DomainError):
    """The file store cannot be used (unreachable, bucket missing, credentials refused):
    a clear 503, never a stack trace; the upload can be retried (the app does)."""

    status = 503
    code = "storage_unavailable"


class StorageBackend(Protocol):
    def put(self, sha256: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...

    def get(self, sha256: str) -> bytes | None: ...

    def exists(self, sha256: str) -> bool: ...

    def url(self, sha256: str, content_type: str, expires_s: int) -> str | None:
        """A time-limited URL a browser can fetch the file from, or None (serve it)."""
        ...

    def check(self) -> None:
        """Raise ConfigError saying what is wrong when the store cannot be used."""
        ...


class DiskStorage:
    """``<root>/ab/cd/abcd…``: written once (temporary file, then rename), never changed."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, sha256: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        target = self.path(sha256)
        if target.exists():
            return
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".up-")
        except OSError as e:
            raise StorageUnavailable(f"POD file store: cannot write under {self.root} ({e.strerror})") from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, sha256: str) -> bytes | None:
        try:
            return self.path(sha256).read_bytes()
        except (FileNotFoundError, ValueError):
            return None

    def exists(self, sha256: str) -> bool:
        try:
            return self.path(sha256).exists()
        except ValueError:
            return False


    def url(self, sha256: str, content_type: str, expires_s: int) -> str | None:
        return None

    def check(self) -> None:
        """Nothing to refuse at start-up (the directory is made on the first upload);
        an unwritable directory answers 503 on upload and is logged here."""
        probe = self.root
        while not probe.exists() and probe.parent != probe:
            probe = probe.parent
        if not os.access(probe, os.W_OK):
            import logging

            logging.getLogger("lastmile.pod.files").warning("POD file store %s is not writable", self.root)


def storage_for(settings: Settings) -> StorageBackend:
    """The configured store: ``LASTMILE_STORAGE_URL`` (``s3://bucket/prefix``, or
    ``file:///path``), else the disk under ``LASTMILE_POD_STORAGE_DIR`` /
    ``<data_dir>/pod-files``. S3 clients are kept per configuration (one connection pool)."""
    url = (settings.storage_url or "").strip()
    if url.startswith("s3://"):
        from .s3 import s3_storage

        return s3_storage(settings)
    if url.startswith("file://"):
        return DiskStorage(Path(url[len("file://"):]))
    return DiskStorage(settings.pod_storage_dir or settings.data_dir / "pod-files")
