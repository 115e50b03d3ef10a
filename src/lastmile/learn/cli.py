"""``lastmile learn``: train the travel and service time models from the database.

    lastmile learn                         train from the recorded history, store v+1
    lastmile learn --simulate-history 12   first record 12 simulated Laredo days
    lastmile learn --evaluate              also compare ETAs on held-out days
    lastmile learn --list                  the stored versions and their metrics
"""

from __future__ import annotations

import json
import math
from typing import Annotated

import typer


def _fail(message: str, code: int = 2) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def learn(
    database_url: Annotated[str | None, typer.Option("--database-url", help="SQLAlchemy URL (default: LASTMILE_DATABASE_URL or the embedded SQLite file)")] = None,
    simulate_history: Annotated[int, typer.Option("--simulate-history", min=0, help="first record this many simulated days (Mon-Sat, seeds 1..N) the way the live system records a day")] = 0,
    orders: Annotated[int, typer.Option(help="orders per simulated day", min=1)] = 150,
    drivers: Annotated[int, typer.Option(help="drivers per simulated day (1..18)", min=1, max=18)] = 6,
    first_seed: Annotated[int, typer.Option(help="seed of the first simulated day")] = 1,
    evaluate: Annotated[bool, typer.Option("--evaluate", help="hold out the latest days, train on the rest, and print static vs learned ETA accuracy on them (stores nothing)")] = False,
    holdout: Annotated[int, typer.Option(help="days held out by --evaluate", min=1)] = 2,
    kind: Annotated[list[str] | None, typer.Option("--kind", help="travel and/or service (default: both)")] = None,
    profile: Annotated[str, typer.Option(help="the static traffic profile the factors correct")] = "laredo",
    list_: Annotated[bool, typer.Option("--list", help="list the stored model versions and exit")] = False,
) -> None:
    """Learn travel times from recorded pings and service times from actual dwell times
    (LightGBM); store them as the next version, used by plans and live ETAs."""
    from ..config import ConfigError, Settings
    from ..db import Database

    kinds = tuple(kind or ("travel", "service"))
    for k in kinds:
        if k not in ("travel", "service"):
            _fail(f"unknown --kind {k!r}: choose travel or service")
    if database_url is None:
        try:
            settings = Settings()
            settings.check()
        except ConfigError as e:
            _fail(str(e))
        database_url = settings.effective_database_url
    db = Database(database_url)
    try:
        if db.is_sqlite:
            db.migrate()
        if list_:
            _list(db)
            return
        if simulate_history:
            _simulate(db, simulate_history, orders, drivers, first_seed)
        if evaluate:
            _evaluate(db, holdout, profile)
            return
        _train(db, kinds, profile)
    finally:
        db.dispose()


def _simulate(db, days: int, orders: int, drivers: int, first_seed: int) -> None:
    from ..learn.simulate import simulate_history

    typer.echo(f"recording {days} simulated day(s): {orders} orders, {drivers} drivers each ...")

    def show(d) -> None:
        typer.echo(f"  {d.day} (seed {d.seed}): {d.routes} routes, {d.stops} stops, {d.pings} pings")

    simulate_history(db.session, days, first_seed=first_seed, orders=orders, drivers=drivers, via_live=False,
                     progress=show)


def _train(db, kinds: tuple[str, ...], profile: str) -> None:
    from ..learn.train import NotEnoughHistory, train

    with db.session() as s:
        try:
            rows = train(s, kinds, profile=profile)
        except NotEnoughHistory as e:
            _fail(f"cannot learn yet: {e}")
        s.commit()
    for r in rows:
        m = r.metrics
        typer.echo(f"{r.kind} model v{r.version}: {r.training_rows} rows "
                   f"({m.get('rows_train')} train / {m.get('rows_valid')} validation, {m.get('days_valid')} day(s) held out)")
        typer.echo(f"  validation MAE: static {_s(m.get('mae_static_s'))}, learned {_s(m.get('mae_learned_s'))}"
                   f" per {'leg' if r.kind == 'travel' else 'visit'}")


def _evaluate(db, holdout: int, profile: str) -> None:
    from ..learn.evaluate import compare, format_comparison
    from ..learn.history import driven_routes
    from ..learn.train import NotEnoughHistory, train_service, train_travel

    with db.session() as s:
        days = sorted({r.day for r in driven_routes(s)})
        if len(days) <= holdout:
            _fail(f"cannot evaluate: {len(days)} driven day(s) recorded, need more than the {holdout} held out "
                  "(record more, e.g. --simulate-history 12)")
        train_days, test_days = set(days[:-holdout]), set(days[-holdout:])
        try:
            travel = train_travel(s, profile=profile, days=train_days)
            service = train_service(s, days=train_days)
        except NotEnoughHistory as e:
            _fail(f"cannot evaluate: {e}")
        typer.echo(f"trained on {len(train_days)} day(s) ({min(train_days)}..{max(train_days)}), "
                   f"evaluated on {len(test_days)} held-out day(s) ({min(test_days)}..{max(test_days)})")
        for line in format_comparison(compare(s, test_days, travel=travel.predictor, service=service.predictor,
                                              profile=profile)):
            typer.echo(line)


def _list(db) -> None:
    from sqlalchemy import select

    from ..learn.models import LearnedModel

    with db.session() as s:
        rows = s.execute(select(LearnedModel.kind, LearnedModel.version, LearnedModel.trained_at,
                                LearnedModel.training_rows, LearnedModel.metrics)
                         .order_by(LearnedModel.kind, LearnedModel.version)).all()
    if not rows:
        typer.echo("no learned models yet: run `lastmile learn`")
        return
    for kind, version, at, n, metrics in rows:
        typer.echo(f"{kind:8} v{version:<4} {at:%Y-%m-%d %H:%M} UTC  {n} rows  {json.dumps(metrics, sort_keys=True)}")


def _s(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.0f} s"


def register(app: typer.Typer) -> None:
    app.command("learn")(learn)
