"""The `registry-api` command: migrations, API keys, region loading, the background worker, and the months partners
left a rule set's window owed a classification."""

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from kampungkb_shared.observability import configure_logging
from kampungkb_shared.periods import current_period, parse_period
from registry_api import migrate as migrations
from registry_api.auth.models import ApiKey
from registry_api.auth.service import PrincipalKind, Role, create_key, revoke_key
from registry_api.background.worker import serve
from registry_api.changes import partner_windows
from registry_api.classifications.client import classifier_session, create_classifier
from registry_api.db import create_engine, create_sessionmaker
from registry_api.settings import get_settings
from registry_api.wilayah.service import import_csv

T = TypeVar("T")

app = typer.Typer(help="Kampung KB registry administration.", no_args_is_help=True)
keys = typer.Typer(help="API keys: create a principal with its key (shown once), and revoke.", no_args_is_help=True)
app.add_typer(keys, name="keys")


async def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = create_engine(get_settings().database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


@app.command()
def worker() -> None:
    """Relay outbox events (classifications, report refreshes) until stopped; metrics on port 9101 by default."""
    settings = get_settings()
    configure_logging(level=settings.log_level, json_logs=settings.log_json)
    serve(settings)


@app.command()
def migrate(revision: Annotated[str, typer.Argument(help="target revision")] = "head") -> None:
    """Apply the database migrations up to REVISION."""
    migrations.upgrade(get_settings().database_url, revision)
    typer.echo(f"database migrated to {revision}")


@app.command("partner-windows")
def partner_windows_command(
    since: Annotated[str, typer.Option(help="the first month to look at, YYYY-MM (a registry's first month of data)")],
) -> None:
    """Owe a classification to every Kampung KB that a partner left a rule set's window in a month from SINCE to this
    one, where none was made (the relay looks at the last three months only); the relay then classifies them."""
    settings = get_settings()
    try:
        first = parse_period(since)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from exc

    async def work() -> int | None:
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            async with classifier_session(settings.classifier_url) as http:
                return await partner_windows.owe_classifications(
                    create_sessionmaker(engine),
                    create_classifier(http, settings),
                    settings.rulesets,
                    since=first,
                    until=parse_period(current_period()),
                    budget_s=settings.relay_classifier_budget_s,
                )
        finally:
            await engine.dispose()

    owed = asyncio.run(work())
    if owed is None:
        typer.echo("the classifier did not give its rule sets: try again when it answers", err=True)
        raise typer.Exit(1)
    typer.echo(f"{owed} Kampung KB owe a classification; the relay delivers them")


@app.command("load-wilayah")
def load_wilayah(csv_path: Path) -> None:
    """Load (or reload) regions from a CSV with the columns code,name,level,kind,parent_code."""
    result = asyncio.run(_in_transaction(lambda session: import_csv(session, csv_path.read_bytes())))
    typer.echo(result.model_dump_json())


@keys.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="what the key may do")],
    scope: Annotated[str, typer.Option(help="00 (nation), a region code such as 36.71, or kampung:<id>")],
    name: Annotated[str, typer.Option(help="who or what holds it")] = "",
    kind: Annotated[
        PrincipalKind, typer.Option(help="a person, a device or an integration")
    ] = PrincipalKind.INTEGRATION,
    expires_in_days: Annotated[int | None, typer.Option(min=1, help="default: never (keep such keys few)")] = None,
) -> None:
    """Create a principal with its key and print the key; it is stored hashed and cannot be shown again."""

    async def work(session: AsyncSession) -> tuple[ApiKey, str]:
        return await create_key(
            session,
            name=name or f"{role.value} {scope}",
            role=role,
            scope=scope,
            kind=kind,
            expires_in_days=expires_in_days,
            created_by="cli",
        )

    key, plain = asyncio.run(_in_transaction(work))
    typer.echo(f"prefix {key.prefix}  principal {key.principal_id}  role {role.value}  scope {scope}")
    typer.echo(plain)


@keys.command("revoke")
def keys_revoke(prefix: str) -> None:
    """Revoke the key with this prefix (the second part of the key)."""
    asyncio.run(_in_transaction(lambda session: revoke_key(session, prefix=prefix)))
    typer.echo(f"revoked {prefix}")


if __name__ == "__main__":
    app()
