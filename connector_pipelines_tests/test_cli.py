from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from connector_pipelines.cli import SYSTEM_EXAMPLES, main
from connector_pipelines.pipelines.builder import build_pipeline
from connector_pipelines.pipelines.catalog import (
    pipeline_recipe,
    pipeline_recipes,
    pipeline_spec,
    tenant_registry,
)
from connector_pipelines.pipelines.resources import ConnectorDatabase, SyncRun
from connector_pipelines.pipelines.runs import sync_run_config
from connector_pipelines.runner import run_sync, summarize
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.recipe import Catalog
from connector_pipelines.store.db import Database
from connector_pipelines.store.models import SyncRun as SyncRunRow
from connector_pipelines.store.repositories import MappingRow, TenantStore
from connector_pipelines.sync.publish import PublishSpec, plan_diff
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.tenants.connections import SYSTEMS
from connector_pipelines.tenants.crypto import generate_key
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines.tenants.systems import Shopware6Credentials
from connector_pipelines_tests.pipelines.conftest import sandbox_tenant
from connector_pipelines_tests.sync.test_preflight import CREDENTIALS, SETTINGS, TENANT, ready_tenant

SECRET = "cli-secret-4711-xyz"


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", database_url)
    return CliRunner()


@pytest.fixture
def settings_file(tmp_path: Path) -> str:
    """Complete settings of plenty_shopware's systems, as `tenants add --settings-file` takes them."""
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(SETTINGS))
    return str(path)


MIGRATIONS = Path(__file__).parents[1] / "connector_pipelines" / "store" / "migrations" / "versions"


def _add(cli: CliRunner, settings_file: str, slug: str = "acme", *args: str) -> str:
    return _run(
        cli, "tenants", "add", slug, "--pipeline", "plenty_shopware", "--settings-file", settings_file, *args
    )


def _run(cli: CliRunner, *args: str, stdin: str | None = None, code: int = 0) -> str:
    result = cli.invoke(main, list(args), input=stdin)
    assert result.exit_code == code, (result.output, result.stderr)
    return result.output + result.stderr


def test_tenant_round_trip_never_prints_secrets(cli: CliRunner, tmp_path: Path, settings_file: str) -> None:
    _add(cli, settings_file, "acme", "--name", "ACME")
    creds = json.dumps({"username": "api-user", "password": SECRET})
    assert "stored plentymarkets credentials" in _run(
        cli, "tenants", "set-credentials", "acme", "plentymarkets", stdin=creds
    )
    creds_file = tmp_path / "creds.json"
    creds_file.write_text(json.dumps({"client_id": "SWIA1", "client_secret": SECRET + "-sw"}))
    _run(cli, "tenants", "set-credentials", "acme", "shopware6", "--credentials-file", str(creds_file))

    shown = _run(cli, "tenants", "show", "acme")
    assert "ACME" in shown and "https://acme.example" in shown and "plentymarkets, shopware6" in shown
    as_json = json.loads(_run(cli, "tenants", "show", "acme", "--json"))
    assert as_json["credentials_set"] == ["plentymarkets", "shopware6"]
    listed = json.loads(_run(cli, "tenants", "list", "--json"))
    assert [t["slug"] for t in listed] == ["acme"]
    for output in (shown, json.dumps(as_json), json.dumps(listed), _run(cli, "tenants", "list")):
        assert SECRET not in output and "api-user" not in output

    _run(cli, "tenants", "update", "acme", "--disable")
    assert "disabled" in _run(cli, "tenants", "list")
    _run(cli, "tenants", "remove", "acme", "--yes")
    assert "no tenants in " in _run(cli, "tenants", "list")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tenants", "show", "ghost"], "error: unknown tenant 'ghost'"),
        (
            ["tenants", "add", "Bad_Slug", "--pipeline", "plenty_shopware"],
            "error: invalid tenant slug 'Bad_Slug'",
        ),
        (["tenants", "add", "acme", "--pipeline", "nope"], "error: unknown pipeline(s) nope"),
        (["tenants", "set-credentials", "ghost", "plentymarkets"], "error: unknown tenant 'ghost'"),
        (["tenants", "update", "ghost", "--enable"], "error: unknown tenant 'ghost'"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(cli: CliRunner, args: list[str], message: str) -> None:
    _run(cli, "db", "upgrade")
    result = cli.invoke(main, args, input='{"username": "u", "password": "p"}')
    assert result.exit_code == 2
    assert result.stderr.strip() == message or result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output + result.stderr


def test_invalid_settings_and_credentials(cli: CliRunner, tmp_path: Path, settings_file: str) -> None:
    _add(cli, settings_file)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"shopware6": {"base_url": "https://x.example", "batch_size": 0}}))
    out = _run(cli, "tenants", "update", "acme", "--settings-file", str(bad), code=2)
    assert "invalid settings for 'shopware6': batch_size" in out
    out = _run(
        cli, "tenants", "set-credentials", "acme", "plentymarkets", stdin=f'{{"password": "{SECRET}"', code=2
    )
    assert "not valid JSON" in out and SECRET not in out
    out = _run(cli, "tenants", "set-credentials", "acme", "sap", stdin="{}", code=2)
    assert "unknown system 'sap'" in out


def test_missing_key_names_the_variable(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, settings_file: str
) -> None:
    _add(cli, settings_file)
    monkeypatch.delenv("CONNECTOR_ENCRYPTION_KEY")
    out = _run(
        cli,
        "tenants",
        "set-credentials",
        "acme",
        "plentymarkets",
        stdin=f'{{"username": "u", "password": "{SECRET}"}}',
        code=2,
    )
    assert "CONNECTOR_ENCRYPTION_KEY is not set" in out and SECRET not in out


def test_keys_generate_and_rotate(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, settings_file: str
) -> None:
    _add(cli, settings_file)
    _run(
        cli,
        "tenants",
        "set-credentials",
        "acme",
        "plentymarkets",
        stdin=f'{{"username": "u", "password": "{SECRET}"}}',
    )
    import os

    old = os.environ["CONNECTOR_ENCRYPTION_KEY"]
    new = _run(cli, "keys", "generate").strip()
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEY", new)
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEYS_OLD", old)
    assert "re-encrypted 1 credential set(s)" in _run(cli, "keys", "rotate")


def test_db_upgrade(cli: CliRunner) -> None:
    output = _run(cli, "db", "upgrade")
    head = sorted(p.name for p in MIGRATIONS.glob("0*.py"))[-1].split("_", 1)[0]
    assert f"database at revision {head} (" in output, output


def test_bench_and_sandbox_take_the_pipelines_of_the_catalog() -> None:
    from connector_pipelines.pipelines.catalog import pipeline_recipes

    runner = CliRunner()
    for command, extra in (
        (["bench", "nope"], ["webhooks"]),
        (["sandbox", "serve", "--pipeline", "nope"], []),
    ):
        unknown = runner.invoke(main, command)
        said = unknown.output + unknown.stderr
        assert unknown.exit_code == 2 and "'nope' is not one of" in said
        assert all(f"'{name}'" in said for name in [*pipeline_recipes(), *extra])
    assert "PIPELINE" in runner.invoke(main, ["bench", "--help"]).output


def test_enable_and_disable_together_are_refused(cli: CliRunner, settings_file: str) -> None:
    _add(cli, settings_file)
    both = cli.invoke(main, ["tenants", "update", "acme", "--enable", "--disable"])
    assert both.exit_code == 2
    assert both.stderr == "error: --enable and --disable exclude each other: give one of them\n"
    assert "enabled" in _run(cli, "tenants", "list")
    _run(cli, "tenants", "update", "acme", "--disable")
    assert "disabled" in _run(cli, "tenants", "list")
    _run(cli, "tenants", "update", "acme", "--enable")
    assert " enabled " in _run(cli, "tenants", "list")


# --- sync: the checks before a run, and the exit codes -----------------------------------------------------


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def _dagster_runs(home: Path) -> list[dg.DagsterRun]:
    if not home.exists():
        return []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return list(instance.get_runs())


def _sync_rows(registry: TenantRegistry) -> int:
    with registry.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(SyncRunRow)) or 0)


def _refused(cli: CliRunner, registry: TenantRegistry, home: Path, *args: str) -> str:
    """`sync acme --pipeline plenty_shopware` refused before any run: exit 2, one line on stderr, no Dagster
    run and no sync_runs row (so no failure alert either)."""
    result = cli.invoke(main, ["sync", TENANT, "--pipeline", "plenty_shopware", *args])
    assert result.exit_code == 2, (result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output and SECRET not in result.output
    assert _dagster_runs(home) == [] and _sync_rows(registry) == 0
    return lines[0].removeprefix("error: ")


def test_sync_without_an_encryption_key_is_refused(
    cli: CliRunner, registry: TenantRegistry, dagster_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready_tenant(registry)
    monkeypatch.delenv("CONNECTOR_ENCRYPTION_KEY")
    line = _refused(cli, registry, dagster_home)
    assert line.startswith("tenant 'acme', plentymarkets: CONNECTOR_ENCRYPTION_KEY is not set — remedy: ")


def test_sync_with_a_wrong_encryption_key_is_refused(
    cli: CliRunner, registry: TenantRegistry, dagster_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready_tenant(registry)
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEY", generate_key())
    line = _refused(cli, registry, dagster_home)
    assert line.startswith("tenant 'acme', plentymarkets: the stored credentials were encrypted with key id")
    assert line.endswith("`connector-pipelines tenants set-credentials acme plentymarkets`")


def test_sync_without_credentials_of_a_system_is_refused(
    cli: CliRunner, registry: TenantRegistry, dagster_home: Path
) -> None:
    ready_tenant(registry, credentials={"plentymarkets": CREDENTIALS["plentymarkets"]})
    assert _refused(cli, registry, dagster_home) == (
        "tenant 'acme', shopware6: no credentials stored — remedy: store the credentials with "
        "`connector-pipelines tenants set-credentials acme shopware6`"
    )


def test_sync_without_settings_of_a_system_is_refused(
    cli: CliRunner, registry: TenantRegistry, dagster_home: Path
) -> None:
    ready_tenant(registry, settings={"plentymarkets": SETTINGS["plentymarkets"]})
    line = _refused(cli, registry, dagster_home)
    assert line.startswith("tenant 'acme', shopware6: no settings stored — remedy: add the settings with ")
    assert "`connector-pipelines tenants update acme --settings-file <file>`" in line


def test_sync_of_a_pipeline_the_tenant_does_not_have_lists_its_pipelines(
    cli: CliRunner, registry: TenantRegistry, dagster_home: Path
) -> None:
    ready_tenant(registry, pipelines=("erp_files_shopify",))
    line = _refused(cli, registry, dagster_home)
    assert (
        "pipeline 'plenty_shopware' is not enabled for the tenant (its pipelines: erp_files_shopify)" in line
    )
    assert line.startswith("tenant 'acme': ")
    assert line.endswith(
        "`connector-pipelines tenants update acme --pipeline erp_files_shopify --pipeline plenty_shopware`"
    )


@pytest.fixture
def sandbox_cli(sqlite_registry: TenantRegistry) -> tuple[CliRunner, TenantRegistry]:
    """The CLI and the registry of one SQLite connector database, for runs against the sandbox."""
    return CliRunner(), sqlite_registry


def test_sync_of_a_disabled_tenant_is_refused_and_runs_with_force(
    hub: SandboxHub, sandbox_cli: tuple[CliRunner, TenantRegistry], dagster_home: Path
) -> None:
    cli, registry = sandbox_cli
    sandbox_tenant(hub, registry, "plenty_shopware", slug=TENANT)
    registry.update(TENANT, enabled=False)
    line = _refused(cli, registry, dagster_home, "--mode", "config")
    assert line.startswith("tenant 'acme': disabled — remedy: ")
    assert "`connector-pipelines sync acme --pipeline plenty_shopware --force`" in line

    forced = cli.invoke(
        main, ["sync", TENANT, "--pipeline", "plenty_shopware", "--mode", "config", "--force"]
    )
    assert forced.exit_code == 0, (forced.output, forced.stderr)
    (run,) = _dagster_runs(dagster_home)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert '"force": true' in json.dumps(run.run_config)


def test_a_scheduled_run_without_credentials_fails_at_once_with_the_one_line(
    sandbox_cli: tuple[CliRunner, TenantRegistry], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the CLI (as a schedule launches it), with a retry policy: every step refuses before any work,
    the first failure is the preflight's line, and nothing is retried."""
    _, registry = sandbox_cli
    ready_tenant(registry, credentials={"plentymarkets": CREDENTIALS["plentymarkets"]})
    monkeypatch.setenv("CONNECTOR_STEP_RETRIES", "2")
    monkeypatch.setenv("CONNECTOR_STEP_RETRY_DELAY_S", "0")
    spec = pipeline_spec("plenty_shopware")
    defs = dg.Definitions.merge(
        dg.Definitions(
            resources={
                "connector_db": ConnectorDatabase(url=registry.db.url),
                "sync_run": SyncRun(mode="delta"),
            },
            executor=dg.in_process_executor,
        ),
        build_pipeline(spec).definitions,
    )
    job = defs.resolve_job_def(spec.job_name("config"))
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(spec.name, [TENANT])
        result = job.execute_in_process(
            instance=instance,
            partition_key=TENANT,
            run_config=sync_run_config(SyncMode.CONFIG),
            raise_on_error=False,
        )
    summary = summarize(result)
    line = (
        "tenant 'acme', shopware6: no credentials stored — remedy: store the credentials with "
        "`connector-pipelines tenants set-credentials acme shopware6`"
    )
    assert not summary.success and summary.error is not None
    assert line in summary.error and len(summary.error.splitlines()) == 1
    events = {e.event_type for e in result.all_events}
    assert dg.DagsterEventType.STEP_UP_FOR_RETRY not in events
    assert dg.DagsterEventType.ASSET_MATERIALIZATION not in events
    assert _sync_rows(registry) == 0, "no step began its work"


def test_sync_with_a_rejected_record_exits_3_and_lists_it(
    hub: SandboxHub, sandbox_cli: tuple[CliRunner, TenantRegistry], dagster_home: Path
) -> None:
    cli, registry = sandbox_cli
    tenant = sandbox_tenant(hub, registry, "plenty_shopware", slug=TENANT)
    tenant.recipe.reject_one(hub, TENANT)
    result = cli.invoke(main, ["sync", TENANT, "--pipeline", "plenty_shopware", "--mode", "full"])
    assert result.exit_code == 3, (result.output, result.stderr)
    (error,) = tenant.store().open_errors()
    assert "1 record(s) rejected by this run:" in result.output
    assert f"  {error.stage} {error.record_key}: {' '.join(error.reason.split())[:80]}" in result.output
    (run,) = _dagster_runs(dagster_home)
    assert run.status == dg.DagsterRunStatus.SUCCESS


def test_sync_and_mapping_check_document_their_exit_codes() -> None:
    runner = CliRunner()
    for command in (["sync", "--help"], ["mapping", "check", "--help"]):
        result = runner.invoke(main, command)
        assert result.exit_code == 0 and "Exit codes:" in result.output, result.output
        assert "  3  " in result.output


# --- tenants: complete settings, --disabled, remove, the sandbox's accounts, --test -----------------------


def test_add_names_every_missing_setting_and_registers_nothing(cli: CliRunner) -> None:
    result = cli.invoke(main, ["tenants", "add", "acme", "--pipeline", "plenty_shopware"])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: tenant 'acme': settings for 'plentymarkets' missing (required: base_url)")
    assert "settings for 'shopware6' missing (required: base_url)" in line
    assert "`connector-pipelines systems`" in line
    assert "no tenants in " in _run(cli, "tenants", "list")


def test_add_disabled_says_what_comes_next(cli: CliRunner, settings_file: str) -> None:
    out = _add(cli, settings_file, "acme", "--disabled")
    assert "added tenant acme (plenty_shopware), disabled" in out
    for system in ("plentymarkets", "shopware6"):
        assert (
            f"`connector-pipelines tenants set-credentials acme {system} --credentials-file FILE --test`"
            in out
        )
    assert "`connector-pipelines tenants update acme --enable`" in out
    assert "disabled" in _run(cli, "tenants", "list")


def test_remove_asks_says_what_stays_and_has_a_dry_run(cli: CliRunner, settings_file: str) -> None:
    _add(cli, settings_file)
    dry = _run(cli, "tenants", "remove", "acme", "--dry-run")
    assert "Products already in the shops STAY THERE" in dry and "dry run: nothing removed" in dry
    assert "settings:                 plentymarkets, shopware6" in dry
    declined = cli.invoke(main, ["tenants", "remove", "acme"], input="n\n")
    assert declined.exit_code == 2 and "Remove tenant acme? [y/N]" in declined.output
    assert declined.stderr == "error: tenant acme not removed\n"
    assert "acme" in _run(cli, "tenants", "list")
    assert "removed tenant acme" in _run(cli, "tenants", "remove", "acme", stdin="y\n")
    assert "no tenants in " in _run(cli, "tenants", "list")


@pytest.fixture
def accounts_file(hub: SandboxHub, tmp_path: Path) -> str:
    """`sandbox serve --accounts-file` of an account 'acme' of plenty_shopware's emulators."""
    pipeline_recipe("plenty_shopware").add_accounts(hub, "acme", Catalog(products=2, variants=1))
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps(hub.accounts()))
    return str(path)


def test_the_sandbox_accounts_file_feeds_add_and_set_credentials(
    cli: CliRunner, accounts_file: str, registry: TenantRegistry
) -> None:
    added = _run(
        cli, "tenants", "add", "acme", "--pipeline", "plenty_shopware", "--from-sandbox", accounts_file
    )
    assert "added tenant acme (plenty_shopware), enabled" in added and "set-credentials" not in added
    assert registry.get("acme").credentials_set == ["plentymarkets", "shopware6"]
    proved = _run(
        cli, "tenants", "set-credentials", "acme", "shopware6", "--from-sandbox", accounts_file, "--test"
    )
    assert "shopware6 credentials of acme work: token granted; 1 sales channel(s) visible" in proved

    ghost = cli.invoke(
        main, ["tenants", "add", "globex", "--pipeline", "plenty_shopware", "--from-sandbox", accounts_file]
    )
    assert (
        ghost.exit_code == 2
        and "has no account 'globex'" in ghost.stderr
        and "(its accounts: acme)" in ghost.stderr
    )
    assert [t.slug for t in registry.tenants()] == ["acme"]


def test_set_credentials_test_stores_only_what_works(
    cli: CliRunner, accounts_file: str, registry: TenantRegistry
) -> None:
    _run(cli, "tenants", "add", "acme", "--pipeline", "plenty_shopware", "--from-sandbox", accounts_file)
    good = registry.credentials("acme", "shopware6", Shopware6Credentials)
    wrong = json.dumps({"client_id": good.client_id, "client_secret": SECRET})
    result = cli.invoke(main, ["tenants", "set-credentials", "acme", "shopware6", "--test"], input=wrong)
    assert result.exit_code == 2, (result.output, result.stderr)
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: tenant 'acme', shopware6: the credentials do not work, nothing stored: ")
    assert "HTTP 401" in line and SECRET not in result.output + result.stderr
    kept = TenantRegistry(registry.db).credentials("acme", "shopware6", Shopware6Credentials)
    assert kept.client_secret.get_secret_value() == good.client_secret.get_secret_value()


# --- systems ------------------------------------------------------------------------------------------------


def test_systems_shows_each_model_with_an_example() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["systems"])
    assert result.exit_code == 0
    assert all(f"\n{name}\n" in f"\n{result.output}" for name in SYSTEMS)
    plenty = _run(runner, "systems", "plentymarkets")
    assert (
        "    base_url" in plenty
        and "required" in plenty
        and "https://<tenant>.my.plentysystems.com" in plenty
    )
    assert re.search(r"\n    password +secret +required\n", plenty)
    assert "    tls.ca_bundle" in plenty
    assert 'settings:    {"plentymarkets": {"base_url": "https://p12345.my.plentysystems.com"' in plenty
    schemas = json.loads(_run(runner, "systems", "--json"))
    for name, system in SYSTEMS.items():
        example = schemas[name]["example"]
        assert schemas[name]["settings_schema"]["title"] == system.settings.__name__
        if not example["placeholders"]:
            system.settings.model_validate(example["settings"])
            system.credentials.model_validate(example["credentials"])
    assert set(SYSTEM_EXAMPLES) <= set(SYSTEMS)
    unknown = runner.invoke(main, ["systems", "sap"])
    assert unknown.exit_code == 2 and "unknown system 'sap'" in unknown.stderr


# --- runs and record errors ---------------------------------------------------------------------------------


def test_runs_groups_steps_into_runs_with_status_counts_and_failure(
    cli: CliRunner, registry: TenantRegistry, settings_file: str
) -> None:
    _add(cli, settings_file)
    store = TenantStore(registry.db, "acme", "plenty_shopware")
    store.finish_run(store.start_run("full", "products", "run-ok"), "success", {"fetched": 4, "failed": 0})
    store.finish_run(store.start_run("full", "shopware:products", "run-ok"), "success", {"created": 4})
    store.finish_run(store.start_run("delta", "products", "run-bad"), "failed", {}, "AuthError: HTTP 401")
    store.record_run_failure("delta", "run-bad", "tenant 'acme', plentymarkets: HTTP 401 — remedy: ...")
    listed = _run(cli, "runs", "acme")
    first, error, second = listed.strip().splitlines()
    assert " plenty_shopware    delta  FAILED   1 steps " in first and first.endswith("run run-bad")
    assert error == "    error: tenant 'acme', plentymarkets: HTTP 401 — remedy: ..."
    assert " full   success  2 steps " in second and "fetched 4, created 4" in second
    runs = json.loads(_run(cli, "runs", "acme", "--json", "--limit", "1"))
    assert [(r["run_id"], r["status"]) for r in runs] == [("run-bad", "failed")]
    assert "no runs of acme recorded in " in _run(cli, "runs", "acme", "--pipeline", "erp_files_shopify")
    assert "unknown tenant 'ghost'" in _run(cli, "runs", "ghost", code=2)


def test_errors_retry_makes_the_next_delta_send_the_record(
    cli: CliRunner, registry: TenantRegistry, settings_file: str
) -> None:
    """A record whose published hash equals its snapshot's (the target confirmed it, then a later stage of
    it failed): only `errors retry` gets it sent again."""
    _add(cli, settings_file)
    store = TenantStore(registry.db, "acme", "plenty_shopware")
    store.put_records("product", [("p:1", "h1", {"name": "one"}), ("p:2", "h2", {"name": "two"})])
    store.put_mappings("product", [MappingRow("p:1", "t1", "h1"), MappingRow("p:2", "t2", "h2")])
    store.record_errors("shopware_products", [("p:1", "stock not set", {"sku": "S1"})], "run-1")
    spec = PublishSpec("product", "product", "shopware_products")
    assert plan_diff(store, spec).update == []
    listed = _run(cli, "errors", "list", "acme")
    assert "plenty_shopware  shopware_products  p:1  (1 attempt, last " in listed
    assert "    reason:  stock not set" in listed and '    payload: {"sku": "S1"}' in listed
    retried = _run(cli, "errors", "retry", "acme", "--key", "p:1")
    assert "plenty_shopware: 1 record(s) will be sent again by the next run (1 published one(s)" in retried
    assert plan_diff(store, spec).update == ["p:1"]
    assert json.loads(_run(cli, "errors", "list", "acme", "--json"))[0]["record_key"] == "p:1", "still open"
    assert "closed 1 record error(s)" in _run(
        cli, "errors", "discard", "acme", "--stage", "shopware_products"
    )
    assert "no open record errors of acme" in _run(cli, "errors", "list", "acme")


def test_dead_letters_are_listed_distinctly_and_retry_rearms_them(
    cli: CliRunner, registry: TenantRegistry, settings_file: str
) -> None:
    _add(cli, settings_file)
    store = TenantStore(registry.db, "acme", "plenty_shopware")
    for _ in range(5):
        store.record_errors("shopware_products", [("p:1", "tax rule missing", {"sku": "S1"})], "run-1")
    store.record_errors("shopware_products", [("p:2", "stock not set", {"sku": "S2"})], "run-1")
    listed = _run(cli, "errors", "list", "acme")
    assert "p:1  (DEAD LETTER: 5 attempts, last " in listed
    assert "retried no more until `errors retry`" in listed
    assert "p:2  (1 attempt, last " in listed
    dead = _run(cli, "errors", "list", "acme", "--dead")
    assert "p:1" in dead and "p:2" not in dead
    as_json = {e["record_key"]: e["dead"] for e in json.loads(_run(cli, "errors", "list", "acme", "--json"))}
    assert as_json == {"p:1": True, "p:2": False}
    retried = _run(cli, "errors", "retry", "acme", "--dead")
    assert "plenty_shopware: 1 record(s) will be sent again by the next run" in retried
    assert "1 dead letter(s) re-armed" in retried
    assert store.dead_letters() == set() and store.count_open_errors() == 2
    assert "no open dead letters of acme" in _run(cli, "errors", "list", "acme", "--dead")


def test_a_rejected_record_is_listed_retried_and_sent(
    hub: SandboxHub, sandbox_cli: tuple[CliRunner, TenantRegistry], dagster_home: Path
) -> None:
    cli, registry = sandbox_cli
    tenant = sandbox_tenant(hub, registry, "plenty_shopware", slug=TENANT)
    tenant.recipe.reject_one(hub, TENANT)
    _run(cli, "sync", TENANT, "--pipeline", "plenty_shopware", "--mode", "full", code=3)
    (error,) = tenant.store().open_errors()
    listed = _run(cli, "errors", "list", TENANT, "--pipeline", "plenty_shopware")
    assert f"plenty_shopware  shopware_products  {error.record_key}  (1 attempt" in listed
    assert "    payload: " in listed
    assert " full   success  " in _run(cli, "runs", TENANT) and "failed 1" in _run(cli, "runs", TENANT)
    tenant.recipe.clear_faults(hub, TENANT)
    assert "will be sent again by the next run" in _run(cli, "errors", "retry", TENANT)
    _run(cli, "sync", TENANT, "--pipeline", "plenty_shopware")
    assert "no open record errors of acme" in _run(cli, "errors", "list", TENANT)
    assert tenant.convergence().converged


# --- sync: the plan, product ids, progress, where runs are recorded ------------------------------------


def test_sync_plan_prints_each_record_and_writes_nothing(
    hub: SandboxHub, sandbox_cli: tuple[CliRunner, TenantRegistry], dagster_home: Path
) -> None:
    cli, registry = sandbox_cli
    tenant = sandbox_tenant(hub, registry, "plenty_shopware", slug=TENANT)
    _run(cli, "sync", TENANT, "--pipeline", "plenty_shopware", "--mode", "full")
    tenant.recipe.change(hub, TENANT, fraction=0.5, seed=3)
    before = tenant.recipe.target_state(hub, TENANT)
    _run(cli, "sync", TENANT, "--pipeline", "plenty_shopware", "--mode", "plan")  # reads the changes
    out = _run(cli, "sync", TENANT, "--pipeline", "plenty_shopware", "--mode", "plan")
    assert tenant.recipe.target_state(hub, TENANT) == before
    plan = out[out.index("plan: ") :]
    assert "to update (nothing was written)" in plan.splitlines()[0]
    assert "  shopware_products  update     plentymarkets:item:" in plan
    doc = json.loads(_run(cli, "sync", TENANT, "--pipeline", "plenty_shopware", "--mode", "plan", "--json"))
    updates = [e for e in doc["plan"] if e["action"] == "update"]
    assert updates and updates[0]["asset"] == "shopware_products" and updates[0]["changed_fields"]
    change = updates[0]["changes"][0]
    assert set(change) == {"field", "old", "new"} and change["field"] == updates[0]["changed_fields"][0]
    old, new = (change[side] if change[side] is not None else "(none)" for side in ("old", "new"))
    assert f"      {change['field']}: {old} -> {new}" in plan.splitlines(), (
        "each changed field on a line of its own, with the value Shopware has and the one a sync writes"
    )
    assert doc["success"] is True and doc["rejected"] == {"total": 0, "records": []}


def test_sync_takes_product_ids_as_the_source_has_them(
    hub: SandboxHub, sandbox_cli: tuple[CliRunner, TenantRegistry], dagster_home: Path
) -> None:
    cli, registry = sandbox_cli
    sandbox_tenant(hub, registry, "plenty_shopware", slug=TENANT)
    line = _refused(cli, registry, dagster_home, "--product", "5f3a9c0e1d2b4a6f8e7d6c5b")
    assert line.startswith(
        "plentymarkets: product id '5f3a9c0e1d2b4a6f8e7d6c5b' is not a Plentymarkets item id"
    )
    assert line.endswith("— remedy: give the item ids Plentymarkets shows, e.g. `--product 102`")
    item = next(iter(hub.plenty[TENANT].emulator.catalog.items))
    doc = json.loads(
        _run(cli, "sync", TENANT, "--pipeline", "plenty_shopware", "--product", str(item), "--json")
    )
    assert doc["steps"]["plenty_products"]["fetched"] == 1
    (run,) = _dagster_runs(dagster_home)
    assert f'"product_ids": ["{item}"]' in json.dumps(run.run_config)


def test_product_ids_of_a_pipeline_that_cannot_select_products_are_refused(
    cli: CliRunner, registry: TenantRegistry, dagster_home: Path, tmp_path: Path
) -> None:
    files = {"kind": "local", "root": str(tmp_path), "path": "products.csv"}
    ready_tenant(
        registry,
        pipelines=("erp_files_shopify",),
        settings={"erp_files": files, "shopify": {"shop_url": "https://acme.myshopify.com"}},
        credentials={"shopify": {"access_token": SECRET}},
    )
    result = cli.invoke(main, ["sync", TENANT, "--pipeline", "erp_files_shopify", "--product", "P1"])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: pipeline 'erp_files_shopify' cannot sync single products — remedy: leave out --product\n"
    )


def test_sync_without_dagster_home_records_under_the_connector_home(
    hub: SandboxHub,
    sandbox_cli: tuple[CliRunner, TenantRegistry],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """One rule: DAGSTER_HOME, else CONNECTOR_HOME/dagster; no throwaway instance, no telemetry banner, and
    progress as plain lines (no terminal codes) when stderr is not a terminal."""
    cli, registry = sandbox_cli
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    sandbox_tenant(hub, registry, "plenty_shopware", slug=TENANT)
    result = cli.invoke(main, ["sync", TENANT, "--pipeline", "plenty_shopware", "--mode", "full"])
    assert result.exit_code == 0, (result.output, result.stderr)
    (run,) = _dagster_runs(tmp_path / "connector" / "dagster")
    assert run.tags["tenant"] == TENANT and run.status == dg.DagsterRunStatus.SUCCESS
    shown = result.output + result.stderr
    assert "Telemetry" not in shown and "\x1b[" not in shown
    # The engine's log line ("5/12 records published (167/s)") stays in the run; a progress line
    # ("5/12 records published, 167/s") may show whenever a step takes longer than the progress interval.
    assert "records published (" not in shown, "the run's log stays in the run, not printed twice"


# --- read-only commands, dev, demo ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["tenants", "list"],
        ["tenants", "show", "acme"],
        ["runs", "acme"],
        ["errors", "list", "acme"],
        ["sync", "acme", "--pipeline", "plenty_shopware"],
    ],
)
def test_commands_that_read_create_no_database_and_say_where_they_looked(
    args: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CONNECTOR_HOME")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"error: no connector database at {tmp_path}/.connector/connector.db "
        "(CONNECTOR_HOME is unset: .connector in the current directory) — remedy: "
    )
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something listens on (the OS picks it)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def test_dev_names_the_option_when_a_port_is_taken(taken_port: int) -> None:
    runner = CliRunner()
    sandbox = runner.invoke(main, ["dev", "--sandbox-port", str(taken_port)])
    assert sandbox.exit_code == 2 and "Traceback" not in sandbox.output + sandbox.stderr
    assert sandbox.stderr == (
        f"error: port {taken_port} is taken (another `sandbox serve` or `dev`?) — remedy: choose a free one "
        f"with `--sandbox-port {taken_port + 1}` (with make: `make dev SANDBOX_PORT={taken_port + 1}`)\n"
    )
    ui = runner.invoke(main, ["dev", "--sandbox-port", "0", "--port", str(taken_port)])
    assert ui.exit_code == 2 and f"with `--port {taken_port + 1}`" in ui.stderr


def test_demo_keeps_apart_from_the_operator_and_says_what_each_step_proves(
    settings_file: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runner = CliRunner()
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEY", generate_key())
    _add(runner, settings_file, "operator-tenant")
    result = runner.invoke(main, ["demo", "--products", "3", "--variants", "2"])
    assert result.exit_code == 0, (result.output, result.stderr)
    home = tmp_path / "connector"
    assert [t.slug for t in tenant_registry(Database(f"sqlite:///{home / 'connector.db'}")).tenants()] == [
        "operator-tenant"
    ]
    demo = tenant_registry(Database(f"sqlite:///{home / 'demo' / 'connector.db'}"))
    assert sorted(t.slug for t in demo.tenants()) == sorted(
        r.demo_tenant for r in pipeline_recipes().values()
    )
    assert (home / "demo" / "dagster" / "dagster.yaml").exists()
    steps = [line for line in result.output.splitlines() if line.startswith("  ") and ": " in line]
    assert any(line.startswith("  config: ok: the source's reference data") for line in steps)
    assert any(
        "full: ok: sent " in line and "the target holds exactly what the source says" in line
        for line in steps
    )
    assert any("(nothing changed): ok: nothing to send (" in line for line in steps)
    assert "missing (e.g." not in result.output
    assert "records published (" not in result.output + result.stderr  # the engine's log line


def test_a_run_launched_with_a_bad_product_id_fails_at_once_with_the_one_line(
    hub: SandboxHub, sqlite_registry: TenantRegistry
) -> None:
    """Past the CLI (the launchpad's run config): the steps convert the ids the same way."""
    tenant = sandbox_tenant(hub, sqlite_registry, "plenty_shopware", slug=TENANT)
    summary = tenant.sync(SyncMode.DELTA, product_ids=None)
    assert summary.success
    failed = run_sync(TENANT, "plenty_shopware", SyncMode.DELTA, instance=tenant.instance, product_ids=["x1"])
    assert not failed.success and failed.error is not None
    assert "product id 'x1' is not a Plentymarkets item id (a whole number)" in failed.error
