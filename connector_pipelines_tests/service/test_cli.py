"""The service's commands: tokens issued, keys rotated and retired (click's CliRunner on the service's group),
and ``serve`` stopping cleanly on SIGTERM, having written what it acknowledged."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from connector_pipelines.service.auth import SigningKeys, verify_token
from connector_pipelines.service.cli import cli, parse_ttl
from connector_pipelines.store.db import Database
from connector_pipelines.store.models import WebhookInbox
from connector_pipelines.tenants.crypto import Keyring
from connector_pipelines.tenants.registry import TenantRegistry
from connector_pipelines_tests.service.conftest import TenantSecrets, product_update, shopify_headers


@pytest.fixture
def keys(sqlite_registry: TenantRegistry) -> SigningKeys:
    """The signing keys of the connector database the commands use (CONNECTOR_DATABASE_URL)."""
    return SigningKeys(sqlite_registry.db, Keyring.from_env)


def test_tokens_issue_prints_a_token_the_service_accepts(keys: SigningKeys) -> None:
    result = CliRunner().invoke(
        cli, ["tokens", "issue", "--role", "operator", "--tenant", "acme", "--tenant", "beta", "--ttl", "30m"]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    principal = verify_token(keys, token)
    assert principal.role.value == "operator"
    assert principal.tenants == frozenset({"acme", "beta"})
    assert principal.subject.startswith("cli:")
    assert "operator token for acme, beta" in result.stderr


def test_tokens_issue_for_every_tenant(keys: SigningKeys) -> None:
    result = CliRunner().invoke(
        cli, ["tokens", "issue", "--role", "admin", "--tenant", "*", "--subject", "ops"]
    )
    principal = verify_token(keys, result.stdout.strip())
    assert (principal.tenants, principal.subject) == (None, "ops")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--role", "root", "--tenant", "acme"], "Invalid value for '--role'"),
        (["--role", "admin"], "Missing option '--tenant'"),
        (["--role", "admin", "--tenant", "acme", "--ttl", "forever"], "30m, 12h, 90d"),
        (["--role", "admin", "--tenant", "acme", "--ttl", "400d"], "365 days"),
    ],
)
def test_tokens_issue_refuses_bad_options(keys: SigningKeys, arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["tokens", "issue", *arguments])
    assert result.exit_code != 0
    assert message in result.output


def test_rotate_and_retire_keys(keys: SigningKeys) -> None:
    runner = CliRunner()
    assert "no signing keys yet" in runner.invoke(cli, ["tokens", "keys"]).output
    old = runner.invoke(cli, ["tokens", "issue", "--role", "viewer", "--tenant", "acme"]).stdout.strip()
    first = keys.current()[0]
    rotated = runner.invoke(cli, ["tokens", "rotate-key"])
    assert rotated.exit_code == 0
    listing = runner.invoke(cli, ["tokens", "keys"]).output
    assert f"{first}  active" in listing
    assert "current" in listing
    verify_token(keys, old)  # still valid after the rotation
    assert runner.invoke(cli, ["tokens", "retire-key", first]).exit_code == 0
    keys.retire(first)  # this process's cache: the command ran on its own instance
    with pytest.raises(Exception, match="retired"):
        verify_token(keys, old)
    assert runner.invoke(cli, ["tokens", "retire-key", first]).exit_code != 0


def test_a_missing_encryption_key_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONNECTOR_ENCRYPTION_KEY")
    result = CliRunner().invoke(cli, ["tokens", "issue", "--role", "admin", "--tenant", "*"])
    assert result.exit_code == 1
    assert "CONNECTOR_ENCRYPTION_KEY is not set" in result.output


def test_ttl_units() -> None:
    assert [parse_ttl(v).total_seconds() for v in ("90", "15m", "12h", "7d")] == [90, 900, 43200, 604800]


def test_serve_stops_cleanly_on_sigterm(sqlite_registry: TenantRegistry, tmp_path: Path) -> None:
    acme = _tenant(sqlite_registry)
    log = tmp_path / "serve.log"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        listener.set_inheritable(True)
        port = listener.getsockname()[1]
        with log.open("wb") as out:
            child = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "connector_pipelines.service.cli",
                    "serve",
                    "--fd",
                    str(listener.fileno()),
                ],
                pass_fds=[listener.fileno()],
                env=dict(os.environ),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            # The socket listens already: the request waits in its queue until the service accepts it.
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
                assert client.get("/health").status_code == 200
                body = product_update()
                stored = client.post("/webhooks/shopify", content=body, headers=shopify_headers(acme, body))
                assert stored.status_code == 200, stored.text
            child.send_signal(signal.SIGTERM)
            # uvicorn shuts down gracefully, then ends with the signal it caught (status 143 in a shell).
            assert child.wait(timeout=120) == -signal.SIGTERM, log.read_text()
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    output = log.read_text()
    assert "Application shutdown complete" in output and "Traceback" not in output
    db = Database(sqlite_registry.db.url)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(WebhookInbox)) == 1
    db.dispose()


def _tenant(registry: TenantRegistry) -> TenantSecrets:
    secrets = TenantSecrets(
        "acme", "acme.myshopify.com", "app-secret-acme", "unused-erp-secret", "shpat_acme"
    )
    registry.add("acme", "Acme", [], {"shopify": {"shop_url": "https://acme.myshopify.com"}})
    registry.set_credentials(
        "acme", "shopify", {"access_token": secrets.access_token, "api_secret": secrets.app_secret}
    )
    return secrets
