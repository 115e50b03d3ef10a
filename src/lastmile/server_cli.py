"""Server commands: serve, worker, migrate, user create. ``register(app)`` adds
them to the main ``lastmile`` Typer app."""

from __future__ import annotations

import getpass
import os
import sys

import typer

from .config import ConfigError, get_settings


def _fail(msg: str) -> None:
    typer.secho(msg, fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on"),
    port: int = typer.Option(8000, help="Port"),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes"),
    reload: bool = typer.Option(False, help="Reload on code changes (development)"),
) -> None:
    """Run the API server (uvicorn). OpenAPI docs at /docs."""
    import uvicorn

    from .db import database_for

    settings = get_settings()
    try:
        settings.check()
    except ConfigError as e:
        _fail(str(e))
    db = database_for(settings)
    db.migrate() if db.is_sqlite and settings.auto_migrate else None
    db.dispose()
    # Each worker builds the app before it answers the supervisor's health pings; on a
    # busy 2-core machine that took longer than uvicorn's 5 s default, and the workers
    # were killed and restarted forever.
    uvicorn.run("lastmile.app:create_app", factory=True, host=host, port=port, workers=workers, reload=reload,
                proxy_headers=True, server_header=False, timeout_worker_healthcheck=120)


def worker(
    workers: int = typer.Option(2, min=1, max=64, help="Concurrent job threads"),
) -> None:
    """Run the job-queue consumer (plans, webhook delivery and retries)."""
    from huey.consumer import Consumer

    settings = get_settings()
    try:
        settings.check()
    except ConfigError as e:
        _fail(str(e))
    from .db import database_for

    db = database_for(settings)
    db.migrate() if db.is_sqlite and settings.auto_migrate else None
    # register every task module with the queue
    import lastmile.dispatch.tasks  # noqa: F401
    import lastmile.notifications.tasks  # noqa: F401
    import lastmile.orders.tasks  # noqa: F401
    import lastmile.webhooks.tasks  # noqa: F401

    from .jobs.queue import huey

    Consumer(huey, workers=workers, worker_type="thread", periodic=True).run()


def migrate() -> None:
    """Bring the database schema up to date (alembic upgrade head)."""
    from .db import database_for

    settings = get_settings()
    db = database_for(settings)
    db.migrate()
    typer.echo(f"database is up to date: {db.engine.url.render_as_string(hide_password=True)}")


user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)


@user_app.command("create")
def user_create(
    email: str = typer.Option(..., help="Login email"),
    role: str = typer.Option("admin", help="admin | dispatcher | driver"),
    name: str = typer.Option("", help="Display name"),
    language: str = typer.Option("es", help="es | en"),
    password: str = typer.Option(None, help="Read from LASTMILE_PASSWORD or prompted when omitted"),
) -> None:
    """Create a user (e.g. the first admin)."""
    from pydantic import ValidationError

    from .auth.schemas import UserCreate
    from .auth.service import create_user, get_or_create_organization
    from .db import database_for
    from .errors import DomainError

    pw = password or os.environ.get("LASTMILE_PASSWORD")
    if not pw:
        if not sys.stdin.isatty():
            _fail("give --password, LASTMILE_PASSWORD, or run in a terminal")
        pw = getpass.getpass("Password (12+ characters): ")
        if pw != getpass.getpass("Again: "):
            _fail("passwords differ")
    try:
        body = UserCreate(email=email, password=pw, name=name, role=role, language=language)  # type: ignore[arg-type]
    except ValidationError as e:
        err = e.errors()[0]
        _fail(f"{'.'.join(map(str, err['loc']))}: {err['msg']}")
    settings = get_settings()
    db = database_for(settings)
    if db.is_sqlite and settings.auto_migrate:
        db.migrate()
    with db.session() as s:
        org = get_or_create_organization(s)
        try:
            user = create_user(s, org.id, str(body.email), body.password, body.role, body.name, body.language)
        except DomainError as e:
            _fail(e.message)
        s.commit()
        typer.echo(f"created {user.role} {user.email} ({user.id})")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.command("migrate")(migrate)
    app.add_typer(user_app, name="user")
    app.add_typer(__import__("lastmile.pod.cli", fromlist=["pod_app"]).pod_app, name="pod")  # lastmile pod verify
    app.command("ingest-mqtt")(__import__("lastmile.tracking.cli", fromlist=["ingest_mqtt"]).ingest_mqtt)


def main() -> None:  # standalone: python -m lastmile.server_cli
    app = typer.Typer(no_args_is_help=True)
    register(app)
    app()


if __name__ == "__main__":
    main()
