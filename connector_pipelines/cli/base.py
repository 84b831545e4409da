"""What every command shares: the root group, user errors, the tenant registry, reading files, choices."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from connector_pipelines import errors
from connector_pipelines.redaction import redact

if TYPE_CHECKING:
    from connector_pipelines.sandbox.recipe import TenantConfig
    from connector_pipelines.tenants.registry import TenantRegistry


F = TypeVar("F", bound=Callable[..., Any])
USER_ERROR_EXIT = 2
# Its tenants hold data keys of their own: key commands and removals say what happens to them.
INGESTION_PIPELINE = "shopify_ingestion"


class UserError(click.ClickException):
    """One clear line on stderr and exit code 2."""

    exit_code = USER_ERROR_EXIT

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {redact(self.format_message())}", err=True)


def user_errors(func: F) -> F:
    """Turn the library's expected failures into UserError, never a traceback."""
    from connector_pipelines.tenants.crypto import DecryptionError, KeyConfigError
    from connector_pipelines.tenants.registry import TenantError

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (TenantError, KeyConfigError, DecryptionError, LookupError) as exc:
            # KeyError-style exceptions quote their argument in str(); show the message itself.
            raise UserError(str(exc.args[0]) if exc.args else str(exc)) from None

    return wrapper  # type: ignore[return-value]


def open_registry() -> TenantRegistry:
    """The tenant registry, on the connector database it creates if missing (`tenants add`, `db upgrade`)."""
    from connector_pipelines.pipelines.catalog import tenant_registry

    return tenant_registry()


def existing_registry() -> TenantRegistry:
    """The tenant registry of an existing connector database. Every command but `tenants add` and `db
    upgrade` uses this one: run in the wrong folder, it says where it looked instead of leaving an empty
    database there."""
    from connector_pipelines import config

    missing = config.missing_database()
    if missing is not None:
        raise UserError(
            f"{missing} — remedy: run where your connector home is, or set {config.HOME_VAR} or "
            f"{config.DATABASE_URL_VAR}; `{errors.CLI} tenants add` creates the database"
        )
    return open_registry()


def read_json_file(path: str | None, what: str, *, stdin_ok: bool = False) -> Any:
    if path is None and not stdin_ok:
        return None
    try:
        text = sys.stdin.read() if path is None or path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {what} file {path}: {exc.strerror}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        # Position only: the text may hold credentials.
        raise UserError(f"{what} is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(doc, dict):
        raise UserError(f"{what} must be a JSON object")
    return doc


def read_settings(path: str | None) -> dict[str, dict[str, Any]] | None:
    """A settings file: {system: {setting: value}} (the values are checked by the systems' models)."""
    from pydantic import TypeAdapter, ValidationError

    doc = read_json_file(path, "settings")
    try:
        return None if doc is None else TypeAdapter(dict[str, dict[str, Any]]).validate_python(doc)
    except ValidationError:
        raise UserError('settings must map each system to an object: {"<system>": {...}}') from None


def sandbox_config(accounts_file: str, account: str, pipelines: Sequence[str]) -> TenantConfig:
    """Settings and credentials of a tenant on ``account`` of a `sandbox serve --accounts-file`, for each
    pipeline by its sandbox recipe (merged)."""
    from pydantic import TypeAdapter, ValidationError

    from connector_pipelines.pipelines.catalog import pipeline_recipe
    from connector_pipelines.sandbox.recipe import TenantConfig

    try:
        text = Path(accounts_file).read_text(encoding="utf-8")
        accounts = TypeAdapter(dict[str, dict[str, dict[str, str]]]).validate_json(text)
    except OSError as exc:
        raise UserError(f"cannot read the accounts file {accounts_file}: {exc.strerror}") from None
    except ValidationError:
        raise UserError(
            f"{accounts_file} is not an accounts file of `{errors.CLI} sandbox serve --accounts-file`"
        ) from None
    settings: dict[str, dict[str, Any]] = {}
    credentials: dict[str, dict[str, Any]] = {}
    for pipeline in pipelines:
        try:
            config = pipeline_recipe(pipeline).tenant_config(accounts, account)
        except KeyError:
            known = sorted({a for by_account in accounts.values() for a in by_account})
            raise UserError(
                f"the accounts file {accounts_file} has no account '{account}' for every system of "
                f"{pipeline} (its accounts: {', '.join(known) or 'none'}) — remedy: serve it with "
                f"`{errors.CLI} sandbox serve --pipeline {pipeline} --account {account} --accounts-file ...`"
            ) from None
        settings.update(config.settings)
        credentials.update(config.credentials)
    return TenantConfig(settings, credentials)


def systems_of(pipelines: Iterable[str]) -> list[str]:
    """The systems of the known ``pipelines`` (an unknown one is named by the registry)."""
    from connector_pipelines.pipelines.catalog import pipeline_specs

    specs = pipeline_specs()
    return list(dict.fromkeys(system for p in pipelines if p in specs for system in specs[p].systems))


class PipelineChoice(click.Choice[str]):
    """The pipelines of the catalog, found when first needed: reading them imports every pipeline, which the
    tenant commands and ``--help`` do not need."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        from connector_pipelines.pipelines.catalog import recipe_names

        return recipe_names()

    @choices.setter
    def choices(self, _value: object) -> None:
        """Set by click.Choice's constructor; the catalog decides."""


@click.group()
def main() -> None:
    """Keep commerce systems in sync for many merchants (tenants), with Dagster."""
    from connector_pipelines.logs import configure_process_logging

    configure_process_logging()
