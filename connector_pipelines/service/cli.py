"""The service's commands: ``serve`` and the ``tokens`` group (registered on `connector-pipelines` by its CLI;
``python -m connector_pipelines.service.cli`` runs them on their own)."""

from __future__ import annotations

import getpass
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

import click

from connector_pipelines import config, errors
from connector_pipelines.service.roles import ALL_TENANTS, Role

if TYPE_CHECKING:
    from connector_pipelines.service.auth import SigningKeys

_TTL_RE = re.compile(r"^(\d+)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(value: str) -> timedelta:
    found = _TTL_RE.fullmatch(value.strip())
    if found is None:
        raise click.BadParameter("a number with s, m, h or d, e.g. 30m, 12h, 90d")
    return timedelta(seconds=int(found[1]) * _UNITS[found[2]])


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=8008, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on."
)
@click.option("--fd", type=int, hidden=True, help="A listening socket inherited from a supervisor.")
def serve(host: str, port: int, fd: int | None) -> None:
    """Serve webhooks, the management API (/docs), /health and /metrics until SIGTERM or Ctrl-C.

    Runs are launched through the Dagster webserver at CONNECTOR_DAGSTER_URL (default http://127.0.0.1:3000)."""
    from connector_pipelines.service.server import serve as run

    with _user_errors():
        run(host, port, fd=fd)


@click.group("tokens")
def tokens() -> None:
    """API tokens of the service and the keys that sign them."""


@contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except (errors.PermanentError, LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def _keys() -> Iterator[SigningKeys]:
    from connector_pipelines.service.auth import SigningKeys
    from connector_pipelines.store.db import Database
    from connector_pipelines.tenants.crypto import Keyring

    with _user_errors():
        keyring = Keyring.from_env()
        db = Database(config.database_url())
        try:
            yield SigningKeys(db, lambda: keyring)
        finally:
            db.dispose()


@tokens.command("issue")
@click.option(
    "--role", required=True, type=click.Choice([r.value for r in Role]), help="What the token may do."
)
@click.option(
    "--tenant",
    "tenants",
    multiple=True,
    required=True,
    help=f"A tenant the token covers (repeatable); '{ALL_TENANTS}' for every tenant.",
)
@click.option("--ttl", default="1h", show_default=True, help="Lifetime: 30m, 12h, 90d, ...")
@click.option("--subject", help="Who the token is for (the audit trail's actor); default: cli:<user>.")
def issue(role: str, tenants: tuple[str, ...], ttl: str, subject: str | None) -> None:
    """Print a new token (and nothing else on stdout). The first token creates the first signing key."""
    lifetime = parse_ttl(ttl)
    scope = ALL_TENANTS if ALL_TENANTS in tenants else list(tenants)
    with _keys() as keys, _user_errors():
        from connector_pipelines.service.auth import issue_token

        token = issue_token(
            keys, subject=subject or f"cli:{getpass.getuser()}", role=Role(role), tenants=scope, ttl=lifetime
        )
    click.echo(token)
    covered = "every tenant" if scope == ALL_TENANTS else ", ".join(sorted(set(scope)))
    click.echo(f"{role} token for {covered}, valid {lifetime}", err=True)


@tokens.command("rotate-key")
def rotate_key() -> None:
    """Sign new tokens with a new key; tokens of the older keys stay valid until those are retired."""
    with _keys() as keys:
        click.echo(f"new signing key {keys.rotate()}; retire old ones with `tokens retire-key <kid>`")


@tokens.command("retire-key")
@click.argument("kid")
def retire_key(kid: str) -> None:
    """Refuse every token signed with this key from now on."""
    with _keys() as keys:
        if not keys.retire(kid):
            raise click.ClickException(f"no active signing key {kid}")
    click.echo(f"retired {kid}: its tokens are refused (by running services within 30 s)")


@tokens.command("keys")
def list_keys() -> None:
    """The signing keys: the current one signs, every active one verifies."""
    with _keys() as keys:
        found = keys.describe()
    if not found:
        click.echo("no signing keys yet: `tokens issue` creates the first")
    for key in found:
        state = "current" if key.current else "retired" if key.retired_at else "active"
        click.echo(f"{key.kid}  {state:<8} created {key.created_at:%Y-%m-%d %H:%M:%SZ}")


cli = click.Group("service", commands={"serve": serve, "tokens": tokens}, help="The connector service.")

if __name__ == "__main__":
    cli()
