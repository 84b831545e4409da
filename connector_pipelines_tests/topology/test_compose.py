"""docker-compose.yml cannot run here (no Docker engine), so it is checked against what it must agree with:
dagster.yaml's environment, the workspace files, the Dockerfile, pyproject's code location and the CLIs."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
import yaml

from connector_pipelines_tests.topology.processes import BIN, REPO, asset_pools

DAGSTER_SERVICES = ("user_code", "webserver", "daemon")
DAGSTER_HOME = "/opt/dagster/dagster_home"


@cache
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return doc


def service(name: str) -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"][name]
    return found


def command(name: str) -> list[str]:
    argv = service(name)["command"]
    assert isinstance(argv, list), f"{name}: command as a list, so no shell parses it"
    return [str(a) for a in argv]


def option(argv: list[str], *names: str) -> str:
    for i, arg in enumerate(argv):
        if arg in names:
            return argv[i + 1]
    raise AssertionError(f"{names} not in {argv}")


def env_refs(node: Any) -> Iterator[str]:
    """Every ``{env: NAME}`` in a parsed dagster.yaml."""
    if isinstance(node, dict):
        if set(node) == {"env"}:
            yield str(node["env"])
        for value in node.values():
            yield from env_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from env_refs(value)


def help_text(*argv: str) -> str:
    done = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"{' '.join(argv)} --help: {done.stderr}"
    return done.stdout


def test_dagster_services_get_every_variable_of_dagster_yaml() -> None:
    needed = set(env_refs(yaml.safe_load((REPO / "dagster.yaml").read_text())))
    assert {"DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_HOST", "DAGSTER_PG_DB"} <= needed
    for name in (*DAGSTER_SERVICES, "pools"):
        environment = service(name)["environment"]
        assert needed <= set(environment), f"{name} lacks {needed - set(environment)}"
        assert environment["DAGSTER_PG_HOST"] == "postgres"
    postgres = service("postgres")["environment"]
    dagster_env = service("webserver")["environment"]
    assert postgres["POSTGRES_USER"] == dagster_env["DAGSTER_PG_USER"]
    assert postgres["POSTGRES_DB"] == dagster_env["DAGSTER_PG_DB"]
    assert postgres["POSTGRES_PASSWORD"] == dagster_env["DAGSTER_PG_PASSWORD"]


def test_postgres_is_healthchecked_and_keeps_its_data() -> None:
    postgres = service("postgres")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    assert service("pools")["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in DAGSTER_SERVICES:
        assert service(name)["depends_on"], f"{name} starts after its dependencies"


def test_connector_secrets_reach_the_code_server_only() -> None:
    # Sensors are evaluated and runs executed by the code server; the webserver and daemon never open the
    # connector database, so they do not get its URL or the key that decrypts credentials.
    user_code = service("user_code")["environment"]
    for variable in ("CONNECTOR_DATABASE_URL", "CONNECTOR_ENCRYPTION_KEY", "CONNECTOR_ALERT_WEBHOOK_URL"):
        assert variable in user_code
        assert variable not in service("webserver")["environment"]
        assert variable not in service("daemon")["environment"]
    crons = {"PLENTY_SHOPWARE_CONFIG_CRON", "PLENTY_SHOPWARE_DELTA_CRON", "PLENTY_SHOPWARE_FULL_CRON"}
    assert crons <= set(user_code)


def test_code_server_workspace_and_pyproject_agree() -> None:
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["dagster"]
    argv = command("user_code")
    assert argv[:3] == ["dagster", "api", "grpc"]
    assert option(argv, "-m", "--module-name") == tool["module_name"]
    assert option(argv, "--location-name") == tool["code_location_name"]

    (entry,) = yaml.safe_load((REPO / "docker" / "workspace.yaml").read_text())["load_from"]
    grpc = entry["grpc_server"]
    assert grpc["host"] == "user_code" and grpc["host"] in compose()["services"]
    assert str(grpc["port"]) == option(argv, "-p", "--port")
    assert str(grpc["port"]) in service("user_code")["expose"]
    assert grpc["location_name"] == tool["code_location_name"]
    (local,) = yaml.safe_load((REPO / "workspace.yaml").read_text())["load_from"]
    assert local["python_module"]["location_name"] == grpc["location_name"]
    assert local["python_module"]["module_name"] == tool["module_name"]


def test_webserver_and_daemon_load_the_workspace_the_image_holds() -> None:
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    assert re.search(r"^ENV .*DAGSTER_HOME=" + re.escape(DAGSTER_HOME), dockerfile, re.MULTILINE | re.DOTALL)
    assert "COPY dagster.yaml ${DAGSTER_HOME}/dagster.yaml" in dockerfile
    assert "COPY docker/workspace.yaml ${DAGSTER_HOME}/workspace.yaml" in dockerfile
    workspace = f"{DAGSTER_HOME}/workspace.yaml"
    webserver, daemon = command("webserver"), command("daemon")
    assert webserver[0] == "dagster-webserver" and option(webserver, "-w", "--workspace") == workspace
    assert daemon[:2] == ["dagster-daemon", "run"] and option(daemon, "-w", "--workspace") == workspace
    port = option(webserver, "-p", "--port")
    assert f"{port}:{port}" in service("webserver")["ports"]
    for name in (*DAGSTER_SERVICES, "sandbox", "pools"):
        assert service(name)["build"]["dockerfile"] == "docker/Dockerfile"
    # Compute logs are written where runs execute (user_code) and read by the webserver.
    storage = f"dagster_storage:{DAGSTER_HOME}/storage"
    assert all(storage in service(name)["volumes"] for name in DAGSTER_SERVICES)


def test_pools_service_sets_every_pool_the_assets_use() -> None:
    script = command("pools")[-1]
    assert set(re.findall(r"dagster instance concurrency set (\S+) \d+", script)) == asset_pools()
    assert service("user_code")["depends_on"]["pools"]["condition"] == "service_completed_successfully"


def test_sandbox_is_an_optional_profile_of_the_cli() -> None:
    sandbox = service("sandbox")
    assert sandbox["profiles"] == ["sandbox"]
    argv = command("sandbox")
    assert argv[:5] == ["python", "-m", "connector_pipelines", "sandbox", "serve"]
    port = option(argv, "--port")
    assert f"{port}:{port}" in sandbox["ports"]
    assert option(argv, "--host") == "0.0.0.0"


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("user_code", [str(BIN / "dagster"), "api", "grpc"]),
        ("webserver", [str(BIN / "dagster-webserver")]),
        ("daemon", [str(BIN / "dagster-daemon"), "run"]),
        ("sandbox", [sys.executable, "-m", "connector_pipelines", "sandbox", "serve"]),
    ],
)
def test_every_option_exists_in_the_cli(name: str, argv: list[str]) -> None:
    text = help_text(*argv)
    used = [arg for arg in command(name) if arg.startswith("-")]
    assert used and all(re.search(rf"(^|[\s,]){re.escape(flag)}[\s,=]", text) for flag in used), (used, text)
