from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector_pipelines.cli import main

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
