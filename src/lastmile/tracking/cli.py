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
    share: str = typer.Option(None, help="Join this MQTT 5 shared-subscription group: run several ingest "
                                         "processes with the same group (and distinct client ids) to share the load"),
    inflight: int = typer.Option(20_000, help="Messages the broker may send before they are acknowledged "
                                              "(acknowledged after commit)"),
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
    store = None
    if share and settings.redis_url:  # several processes: flood limits counted in the shared store
        from ..kit.ratelimit import RedisStore

        store = RedisStore(settings.redis_url)
    ingest = MqttIngest(db, host=host, port=port, topics=tuple(topic), username=username,
                        password=os.environ.get("LASTMILE_MQTT_PASSWORD"), client_id=client_id, tls=tls,
                        share=share, inflight=inflight, limit_store=store)
    try:
        ingest.run_forever()
    except (OSError, RuntimeError) as e:
        typer.secho(f"MQTT: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
