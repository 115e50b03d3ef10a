"""``lastmile ingest-mqtt``: OwnTracks locations from an MQTT broker into the pipeline."""

from __future__ import annotations

import logging
import os

import typer


def ingest_mqtt(
    host: str = typer.Option("127.0.0.1", help="MQTT broker host"),
    port: int = typer.Option(1883, help="MQTT broker port"),
    topic: list[str] = typer.Option(["owntracks/#"], help="Topic filter(s) to subscribe to"),
    username: str = typer.Option(None, help="Broker login (password from LASTMILE_MQTT_PASSWORD)"),
    client_id: str = typer.Option("lastmile-ingest", help="MQTT client id (a named client keeps its session)"),
    tls: bool = typer.Option(False, help="Connect with TLS"),
) -> None:
    """Ingest OwnTracks positions from MQTT (the broker's ACL authenticates the phones)."""
    from ..config import ConfigError, get_settings
    from ..db import database_for
    from .mqtt import MqttIngest

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    try:
        settings.check()
    except ConfigError as e:
        typer.secho(str(e), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    db = database_for(settings)
    if db.is_sqlite and settings.auto_migrate:
        db.migrate()
    ingest = MqttIngest(db, host=host, port=port, topics=tuple(topic), username=username,
                        password=os.environ.get("LASTMILE_MQTT_PASSWORD"), client_id=client_id, tls=tls)
    try:
        ingest.run_forever()
    except (OSError, RuntimeError) as e:
        typer.secho(f"MQTT: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
