"""``lastmile pod verify <route_id>``: recompute a route's POD chain and file hashes.
``lastmile pod check-storage``: can the configured file store be used (disk or S3)?"""

from __future__ import annotations

import typer

pod_app = typer.Typer(help="Proof of delivery records.", no_args_is_help=True)


@pod_app.command("verify")
def verify(route_id: str = typer.Argument(..., help="the route whose POD chain to check")) -> None:
    """Recompute every POD record's hash, the chain linking them, and every photo and
    signature file's SHA-256. Exits 1 naming the first broken link, 2 for an unknown route."""
    from sqlalchemy import select

    from ..config import ConfigError, Settings
    from ..db import Database
    from ..dispatch.models import Route
    from .chain import verify as verify_chain
    from .files import StorageUnavailable, storage_for

    try:
        settings = Settings()  # read now (not the cached settings): the environment decides
        settings.check()
    except ConfigError as e:
        typer.secho(str(e), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    db = Database(settings.effective_database_url)
    try:
        with db.read_sessions() as session:
            if session.scalar(select(Route.id).where(Route.id == route_id)) is None:
                typer.secho(f"route {route_id} not found", fg=typer.colors.RED, err=True)
                raise typer.Exit(2)
            try:
                report = verify_chain(session, storage_for(settings), route_id)
            except StorageUnavailable as e:
                typer.secho(e.message, fg=typer.colors.RED, err=True)
                raise typer.Exit(2) from None
    finally:
        db.dispose()
    if not report.ok:
        typer.secho(f"BROKEN: route {route_id}: {report.broken} "
                    f"({report.records} record(s) before it are intact)", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.echo(f"OK: route {route_id}: {report.records} POD record(s) and {report.files} file(s) verified, "
               "chain intact")


@pod_app.command("check-storage")
def check_storage() -> None:
    """Check the POD file store the settings name (``LASTMILE_STORAGE_URL``: the disk, or
    an S3-compatible bucket): write, read back and find a small test object. Exits 1
    saying what is wrong (bucket missing, credentials refused, endpoint unreachable)."""
    from ..config import ConfigError, Settings
    from .files import StorageUnavailable, sha256_hex, storage_for

    probe = b"\x89PNG\r\n\x1a\nlastmile storage check"
    sha = sha256_hex(probe)
    try:
        settings = Settings()
        settings.check()
        storage = storage_for(settings)
        storage.check()
        storage.put(sha, probe, "image/png")
        ok = storage.get(sha) == probe and storage.exists(sha)
    except (ConfigError, StorageUnavailable) as e:
        typer.secho(str(e), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    if not ok:
        typer.secho("the store answered, but the test object did not read back the same", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    where = settings.storage_url.strip() or str(settings.pod_storage_dir or settings.data_dir / "pod-files")
    typer.echo(f"OK: POD file store {where} can write and read")
