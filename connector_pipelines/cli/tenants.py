"""`tenants ...`: register, show, change and remove tenants and their credentials."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from connector_pipelines import errors
from connector_pipelines.cli.base import (
    INGESTION_PIPELINE,
    UserError,
    existing_registry,
    main,
    open_registry,
    read_json_file,
    read_settings,
    sandbox_config,
    systems_of,
    user_errors,
)

if TYPE_CHECKING:
    from connector_pipelines.tenants.registry import RemovalSummary, TenantInfo


@main.group()
def tenants() -> None:
    """Register and manage tenants."""


def _print_tenant(info: TenantInfo, as_json: bool) -> None:
    if as_json:
        click.echo(info.model_dump_json(indent=2))
        return
    click.echo(f"{info.slug}  ({info.display_name})")
    click.echo(f"  enabled:      {'yes' if info.enabled else 'no'}")
    click.echo(f"  pipelines:    {', '.join(info.pipelines) or '-'}")
    click.echo(f"  credentials:  {', '.join(info.credentials_set) or '-'}")
    for system, settings in sorted(info.settings.items()):
        click.echo(f"  {system}: {json.dumps(settings, sort_keys=True)}")


def _next_steps(info: TenantInfo) -> None:
    """What the tenant still needs before its first run, and what happens then."""
    from connector_pipelines.tenants.connections import SYSTEMS

    needed = [s for s in systems_of(info.pipelines) if not SYSTEMS[s].credentials_optional]
    missing = [s for s in needed if s not in info.credentials_set]
    for system in missing:
        click.echo(
            f"next: store its {system} credentials: `{errors.CLI} tenants set-credentials {info.slug} "
            f"{system} --credentials-file FILE --test` (their fields: `{errors.CLI} systems {system}`)"
        )
    if not info.enabled:
        click.echo(f"it is disabled: enable it with `{errors.CLI} tenants update {info.slug} --enable`")
    waiting = " once its credentials are stored" if missing else ""
    click.echo(
        f"the registry sensor onboards it (a full sync) within 30 s of it being enabled{waiting}, "
        "where the Dagster daemon runs"
    )


FROM_SANDBOX_HELP = (
    "A `sandbox serve --accounts-file` file: settings and credentials of --account come from it."
)


@tenants.command("add")
@click.argument("slug")
@click.option("--name", "display_name", default="", help="Display name (defaults to the slug).")
@click.option(
    "--pipeline", "pipelines", multiple=True, required=True, help="Pipeline to enable (repeatable)."
)
@click.option(
    "--settings-file",
    type=click.Path(dir_okay=False),
    help="JSON: {system: {setting: value}}, for every system of the pipelines (`systems` shows them).",
)
@click.option(
    "--disabled", is_flag=True, help="Register it disabled: nothing runs it until `update --enable`."
)
@click.option("--from-sandbox", "accounts_file", type=click.Path(dir_okay=False), help=FROM_SANDBOX_HELP)
@click.option("--account", help="The sandbox account of --from-sandbox (default: the slug).")
@user_errors
def tenants_add(
    slug: str,
    display_name: str,
    pipelines: tuple[str, ...],
    settings_file: str | None,
    disabled: bool,
    accounts_file: str | None,
    account: str | None,
) -> None:
    """Register a tenant with the settings of every system of its pipelines (checked complete).

    Its credentials follow with `tenants set-credentials` (or come with --from-sandbox); the registry sensor
    onboards the tenant only once they are stored."""
    if account is not None and accounts_file is None:
        raise UserError("--account goes with --from-sandbox")
    settings: dict[str, dict[str, Any]] = {}
    credentials: dict[str, dict[str, Any]] = {}
    registry = open_registry()
    if accounts_file is not None:
        sandbox = sandbox_config(accounts_file, account or slug, pipelines)
        settings, credentials = sandbox.settings, sandbox.credentials
        registry.keyring  # noqa: B018 - the key must be there before the tenant is, to store its credentials
    for system, values in (read_settings(settings_file) or {}).items():
        settings[system] = {**settings.get(system, {}), **values}
    info = registry.add(
        slug,
        display_name,
        list(pipelines),
        settings,
        enabled=not disabled,
        systems=systems_of(pipelines),
    )
    for system, values in credentials.items():
        registry.set_credentials(slug, system, values)
    state = "disabled" if disabled else "enabled"
    click.echo(f"added tenant {info.slug} ({', '.join(info.pipelines)}), {state}")
    _next_steps(registry.get(slug))


@tenants.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@user_errors
def tenants_list(as_json: bool) -> None:
    """List tenants (never shows credentials)."""
    from connector_pipelines import config

    infos = existing_registry().tenants()
    if as_json:
        click.echo(json.dumps([i.model_dump(mode="json") for i in infos], indent=2))
        return
    if not infos:
        click.echo(f"no tenants in {config.database_location()}")
    for info in infos:
        state = "enabled" if info.enabled else "disabled"
        click.echo(f"{info.slug:<30} {state:<9} {','.join(info.pipelines):<30} {info.display_name}")


@tenants.command("show")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@user_errors
def tenants_show(slug: str, as_json: bool) -> None:
    """Show one tenant (never shows credentials)."""
    _print_tenant(existing_registry().get(slug), as_json)


@tenants.command("update")
@click.argument("slug")
@click.option("--name", "display_name", default=None)
@click.option("--enable", is_flag=True, help="Enable the tenant: its schedules and sensors run it again.")
@click.option("--disable", is_flag=True, help="Disable the tenant: nothing runs it but `sync --force`.")
@click.option("--pipeline", "pipelines", multiple=True, help="Replace the enabled pipelines (repeatable).")
@click.option("--settings-file", type=click.Path(dir_okay=False), help="JSON merged into stored settings.")
@user_errors
def tenants_update(
    slug: str,
    display_name: str | None,
    enable: bool,
    disable: bool,
    pipelines: tuple[str, ...],
    settings_file: str | None,
) -> None:
    """Change a tenant's name, state, pipelines or settings."""
    if enable and disable:
        raise UserError("--enable and --disable exclude each other: give one of them")
    enabled = True if enable else False if disable else None
    settings = read_settings(settings_file)
    info = existing_registry().update(
        slug,
        display_name=display_name,
        enabled=enabled,
        pipelines=list(pipelines) or None,
        settings=settings,
        systems=systems_of(pipelines),
    )
    click.echo(f"updated tenant {info.slug}")


def _print_removal(summary: RemovalSummary, location: str) -> None:
    from connector_pipelines.tenants.connections import SYSTEMS

    systems = ", ".join(s for s in systems_of(summary.pipelines) if s in SYSTEMS) or "its systems"
    click.echo(f"Removing tenant {summary.slug} deletes from the connector database ({location}):")
    click.echo(f"  pipelines:                {', '.join(summary.pipelines) or '-'}")
    click.echo(f"  settings:                 {', '.join(summary.settings) or '-'}")
    click.echo(f"  credentials:              {', '.join(summary.credentials) or '-'}")
    click.echo(f"  cached source records:    {summary.records}")
    click.echo(f"  mappings to target ids:   {summary.mappings} (what its pipelines published)")
    click.echo(f"  open record errors:       {summary.open_errors}")
    click.echo(f"  sync run records:         {summary.sync_runs}")
    click.echo(
        f"Products already in the shops STAY THERE: nothing is deleted or changed in {systems}; remove "
        "them in the shop's admin if they should go too."
    )
    click.echo(
        "Dagster drops its partitions within 30 s (the registry sensor); its runs stay in the run history."
    )
    if INGESTION_PIPELINE in summary.pipelines:
        click.echo(
            "Its shopify_ingestion tables are crypto-shredded: its data key is destroyed (personal data in "
            "any backup becomes unreadable), its rows deleted, the redaction recorded."
        )


@tenants.command("remove")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@user_errors
def tenants_remove(slug: str, yes: bool, dry_run: bool) -> None:
    """Remove a tenant and everything the connector stores for it (never anything in its shops)."""
    from connector_pipelines import config

    registry = existing_registry()
    _print_removal(registry.removal_summary(slug), config.database_location())
    if dry_run:
        click.echo("dry run: nothing removed")
        return
    if not yes and not click.confirm(f"Remove tenant {slug}?", default=False):
        raise UserError(f"tenant {slug} not removed")
    from connector_pipelines.sync.shopify_webhooks import forget_removed_tenant

    record = forget_removed_tenant(slug, registry.get(slug).pipelines)
    if record is not None:
        click.echo(
            f"crypto-shredded its ingestion data: data key {record.data_key_id or '-'} destroyed, "
            f"{sum(record.rows.values())} rows deleted"
        )
    registry.remove(slug)
    click.echo(f"removed tenant {slug}")


@tenants.command("customer-data")
@click.argument("slug")
@click.argument("customer_id", type=click.IntRange(min=1))
@click.option(
    "--output", type=click.Path(dir_okay=False), help="Write it to this file (mode 0600), not stdout."
)
@user_errors
def tenants_customer_data(slug: str, customer_id: int, output: str | None) -> None:
    """Everything shopify_ingestion stores about one customer of the tenant's shop, personal data decrypted:
    the answer to a data request (Shopify's customers/data_request webhook writes the same export under
    CONNECTOR_HOME/privacy/<tenant>/)."""
    from connector_pipelines.store.ingestion.keys import PiiUnavailableError
    from connector_pipelines.sync.shopify_ingestion import ingestion_repository

    existing_registry().get(slug)
    try:
        export = ingestion_repository().customer_data(slug, customer_id)
    except PiiUnavailableError as exc:
        raise UserError(str(exc)) from None
    text = export.model_dump_json(indent=2)
    if output is None:
        click.echo(text)
        return
    path = Path(output)
    path.write_text(text)
    path.chmod(0o600)
    click.echo(f"customer {customer_id} of {slug}: written to {path}")


@tenants.command("set-credentials")
@click.argument("slug")
@click.argument("system")
@click.option("--credentials-file", type=click.Path(dir_okay=False), help="JSON file; '-' or absent = stdin.")
@click.option("--from-sandbox", "accounts_file", type=click.Path(dir_okay=False), help=FROM_SANDBOX_HELP)
@click.option("--account", help="The sandbox account of --from-sandbox (default: the slug).")
@click.option(
    "--test",
    is_flag=True,
    help="First make one cheap authenticated call with them; store them only if it works.",
)
@user_errors
def tenants_set_credentials(
    slug: str,
    system: str,
    credentials_file: str | None,
    accounts_file: str | None,
    account: str | None,
    test: bool,
) -> None:
    """Store a tenant's credentials for a system, encrypted. Values come from a file or stdin, never argv
    (their fields: `connector-pipelines systems SYSTEM`)."""
    registry = existing_registry()
    if accounts_file is not None:
        if credentials_file is not None:
            raise UserError("give --credentials-file or --from-sandbox, not both")
        config = sandbox_config(accounts_file, account or slug, registry.get(slug).pipelines)
        if system not in config.credentials:
            raise UserError(f"the tenant's pipelines take no {system} credentials from the sandbox")
        values = config.credentials[system]
    elif account is not None:
        raise UserError("--account goes with --from-sandbox")
    else:
        values = read_json_file(credentials_file, "credentials", stdin_ok=True)
    if test:
        from connector_pipelines.errors import ConnectorError, PermanentError
        from connector_pipelines.tenants.registry import TenantError

        try:
            seen = registry.test_credentials(slug, system, values)
        except TenantError:
            raise
        except ConnectorError as exc:
            if isinstance(exc, PermanentError):
                exc.add_context(tenant=slug, system=system)  # its remedy names the tenant
            detail = str(exc)
            for named in (f"tenant '{slug}', {system}: ", f"tenant '{slug}': "):
                detail = detail.removeprefix(named)
            verdict = (
                f"could not reach {system} to test the credentials"
                if errors.is_transient(exc)
                else "the credentials do not work"
            )
            raise UserError(f"tenant '{slug}', {system}: {verdict}, nothing stored: {detail}") from None
        click.echo(f"{system} credentials of {slug} work: {seen}")
    registry.set_credentials(slug, system, values)
    click.echo(f"stored {system} credentials for {slug}")
