from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from connector_pipelines.cli import main
from connector_pipelines.pipelines.builder import build_pipeline
from connector_pipelines.pipelines.catalog import pipeline_spec
from connector_pipelines.pipelines.resources import ConnectorDatabase, SyncRun
from connector_pipelines.pipelines.runs import sync_run_config
from connector_pipelines.runner import summarize
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.store.models import SyncRun as SyncRunRow
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.tenants.crypto import generate_key
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines_tests.pipelines.conftest import sandbox_tenant
from connector_pipelines_tests.sync.test_preflight import CREDENTIALS, SETTINGS, TENANT, ready_tenant

SECRET = "cli-secret-4711-xyz"


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", database_url)
    return CliRunner()


def _run(cli: CliRunner, *args: str, stdin: str | None = None, code: int = 0) -> str:
    result = cli.invoke(main, list(args), input=stdin)
    assert result.exit_code == code, (result.output, result.stderr)
    return result.output + result.stderr


def test_tenant_round_trip_never_prints_secrets(cli: CliRunner, tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"plentymarkets": {"base_url": "https://acme.example", "lang": "en"}}))
    _run(
        cli,
        "tenants",
        "add",
        "acme",
        "--name",
        "ACME",
        "--pipeline",
        "plenty_shopware",
        "--settings-file",
        str(settings),
    )
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
    _run(cli, "tenants", "remove", "acme")
    assert "no tenants" in _run(cli, "tenants", "list")


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
    result = cli.invoke(main, args, input='{"username": "u", "password": "p"}')
    assert result.exit_code == 2
    assert result.stderr.strip() == message or result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output + result.stderr


def test_invalid_settings_and_credentials(cli: CliRunner, tmp_path: Path) -> None:
    _run(cli, "tenants", "add", "acme", "--pipeline", "plenty_shopware")
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


def test_missing_key_names_the_variable(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    _run(cli, "tenants", "add", "acme", "--pipeline", "plenty_shopware")
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


def test_keys_generate_and_rotate(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    _run(cli, "tenants", "add", "acme", "--pipeline", "plenty_shopware")
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
    assert "database at revision 0001" in _run(cli, "db", "upgrade")


def test_bench_and_sandbox_take_the_pipelines_of_the_catalog() -> None:
    from connector_pipelines.pipelines.catalog import pipeline_recipes

    runner = CliRunner()
    for command in (["bench", "--help"], ["sandbox", "serve", "--help"]):
        result = runner.invoke(main, command)
        assert result.exit_code == 0, result.output
        assert all(name in result.output for name in pipeline_recipes())
    unknown = runner.invoke(main, ["bench", "nope"])
    assert unknown.exit_code == 2 and "'nope' is not one of" in unknown.output + unknown.stderr


def test_enable_and_disable_together_are_refused(cli: CliRunner) -> None:
    _run(cli, "tenants", "add", "acme", "--pipeline", "plenty_shopware")
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
