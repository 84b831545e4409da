"""The production topology as real processes: docker-compose's one-shot init, then the sandbox, a code
server, the webserver, the daemon and the connector service, with the top-level dagster.yaml on PostgreSQL and
the connector database on PostgreSQL too, and Caddy in front of the UI and the service with the Caddyfile of
deploy/caddy (when the ``caddy`` binary is installed).

Shared by the topology tests (a session fixture in ``conftest.py``) and the throughput measurement
(``python -m connector_pipelines_tests.topology.measure``). Each process leads its own process group, so
stopping it also stops what it spawned (the code server's run workers). Readiness is observed (a log line, an
answer, a process exit), never waited for by the clock.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import psycopg
import yaml
from psycopg.conninfo import conninfo_to_dict

from connector_pipelines.bench.processes import Service, start_service, wait_for
from connector_pipelines.pools import asset_pools
from connector_pipelines.tenants.crypto import generate_key
from connector_pipelines_tests.topology.proxy import Proxy, start_proxy

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCATION = "connector_pipelines"
PIPELINE = "plenty_shopware"


def free_ports(count: int) -> list[int]:
    """For the code server and the webserver, which only take a port number (0 is not "any" to them).

    Distinct free ports below the kernel's ephemeral range: a port the kernel hands out (bind to 0) may
    become the local port of any outgoing connection before the server binds it ("address already in
    use")."""
    ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    found: list[int] = []
    for port in random.sample(range(10_000, ephemeral_low), 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise RuntimeError(f"not {count} free ports between 10000 and {ephemeral_low}")


def listening_socket() -> socket.socket:
    """A socket on a port the kernel picked, already listening: a process handed it (``pass_fds``) serves on
    it, and a connection made before that process accepts waits in the backlog instead of being refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    return sock


def compose_init_script() -> str:
    """The shell script of docker-compose.yml's one-shot ``init`` service, as the container's shell gets it
    (compose reads ``$$`` as a literal ``$``), which the topology runs as is."""
    doc = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    argv = [str(a) for a in doc["services"]["init"]["command"]]
    if argv[:2] != ["sh", "-c"] or len(argv) != 3:
        raise ValueError(f"docker-compose.yml: init's command is not `sh -c SCRIPT`: {argv}")
    return argv[2].replace("$$", "$")


def create_database(admin_dsn: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(admin_dsn: str, name: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Topology:
    work: Path
    env: dict[str, str]
    sandbox_accounts: dict[str, dict[str, dict[str, str]]]
    webserver_url: str
    services: list[Service] = field(default_factory=list)
    instance_home: Path | None = None
    service_url: str = ""
    proxy: Proxy | None = None
    _http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def command(self, *argv: str) -> str:
        """A command with the topology's environment, as an operator runs it; its output, or an error."""
        done = subprocess.run(
            list(argv), env=self.env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def cli(self, *args: str) -> str:
        """``python -m connector_pipelines ...``: the project's CLI."""
        return self.command(sys.executable, "-m", "connector_pipelines", *args)

    def dagster_cli(self, *args: str) -> str:
        """The ``dagster`` command on this topology's instance (DAGSTER_HOME)."""
        return self.command(str(BIN / "dagster"), *args)

    def register_tenant(self, slug: str) -> None:
        """Register a tenant on its sandbox accounts through the CLI; credentials go through files."""
        plenty = self.sandbox_accounts["plentymarkets"][slug]
        shopware = self.sandbox_accounts["shopware6"][slug]
        folder = self.work / "tenants" / slug
        folder.mkdir(parents=True, exist_ok=True)
        files = {
            "settings.json": {
                "plentymarkets": {"base_url": plenty["base_url"]},
                "shopware6": {"base_url": shopware["base_url"]},
            },
            "plentymarkets.json": {"username": plenty["username"], "password": plenty["password"]},
            "shopware6.json": {
                "client_id": shopware["client_id"],
                "client_secret": shopware["client_secret"],
            },
        }
        for name, doc in files.items():
            (folder / name).write_text(json.dumps(doc))
            (folder / name).chmod(0o600)
        self.cli(
            "tenants",
            "add",
            slug,
            "--pipeline",
            PIPELINE,
            "--settings-file",
            str(folder / "settings.json"),
        )
        for system in ("plentymarkets", "shopware6"):
            self.cli(
                "tenants",
                "set-credentials",
                slug,
                system,
                "--credentials-file",
                str(folder / f"{system}.json"),
            )

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self._http.post(
            f"{self.webserver_url}/graphql", json={"query": query, "variables": variables or {}}
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        data: dict[str, Any] = body["data"]
        return data

    def instance(self) -> dg.DagsterInstance:
        """A DagsterInstance on the same PostgreSQL storage, for reads the GraphQL API makes awkward."""
        assert self.instance_home is not None
        return dg.DagsterInstance.from_config(str(self.instance_home))

    def logs(self) -> str:
        return "\n\n".join(f"--- {s.name} ({s.log}) ---\n{s.tail()}" for s in self.services)


def _env(admin_dsn: str, dagster_db: str, connector_db: str, home: Path, delta_cron: str) -> dict[str, str]:
    pg = conninfo_to_dict(admin_dsn)
    user, host, port = (
        str(pg.get("user", "postgres")),
        str(pg.get("host", "127.0.0.1")),
        str(pg.get("port", 5432)),
    )
    password = str(pg.get("password", ""))
    userinfo = f"{user}:{password}" if password else user
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CONNECTOR_", "DAGSTER_", "PLENTY_SHOPWARE_"))
    }
    env.update(
        {
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_USER": user,
            "DAGSTER_PG_PASSWORD": password,
            "DAGSTER_PG_HOST": host,
            "DAGSTER_PG_PORT": port,
            "DAGSTER_PG_DB": dagster_db,
            "CONNECTOR_DATABASE_URL": f"postgresql+psycopg://{userinfo}@{host}:{port}/{connector_db}",
            "CONNECTOR_ENCRYPTION_KEY": generate_key(),
            "CONNECTOR_HOME": str(home.parent / "connector"),
            "PLENTY_SHOPWARE_DELTA_CRON": delta_cron,
            "PYTHONUNBUFFERED": "1",
            # compose's init script calls `dagster` and `connector-pipelines` by name, as in the image.
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    return env


def _instance_config(env: dict[str, str]) -> dict[str, Any]:
    """The test process's own view of the Dagster storage: the same database, with literal values."""
    return {
        "storage": {
            "postgres": {
                "postgres_db": {
                    "username": env["DAGSTER_PG_USER"],
                    "password": env["DAGSTER_PG_PASSWORD"],
                    "hostname": env["DAGSTER_PG_HOST"],
                    "port": int(env["DAGSTER_PG_PORT"]),
                    "db_name": env["DAGSTER_PG_DB"],
                    "scheme": "postgresql+psycopg2",
                }
            }
        },
        "telemetry": {"enabled": False},
    }


def default_pool_limit() -> int:
    settings = yaml.safe_load((REPO / "dagster.yaml").read_text())
    limit: int = settings["concurrency"]["pools"]["default_limit"]
    return limit


def _location_loaded(topology: Topology) -> bool | None:
    query = (
        "{ workspaceOrError { ... on Workspace { "
        "locationEntries { name locationOrLoadError { __typename } } } } }"
    )
    entries = topology.graphql(query)["workspaceOrError"].get("locationEntries", [])
    loaded = {
        e["name"]
        for e in entries
        if (e["locationOrLoadError"] or {}).get("__typename") == "RepositoryLocation"
    }
    return True if LOCATION in loaded else None


def _sandbox_ready(service: Service) -> dict[str, Any] | None:
    for line in service.log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            doc: dict[str, Any] = json.loads(line)
            return doc
    return None


def _answers(url: str, status: int) -> bool | None:
    with contextlib.suppress(httpx.HTTPError):
        if httpx.get(url, timeout=5).status_code == status:
            return True
    return None


@contextlib.contextmanager
def running_topology(
    admin_dsn: str,
    work: Path,
    tenants: Sequence[str],
    *,
    delta_cron: str = "* * * * *",
    products: int = 20,
    variants: int = 3,
    pool_limit: int | None = None,
    caddy: Path | None = None,
) -> Iterator[Topology]:
    """Run compose's init, start everything, register ``tenants`` through the CLI, yield; stop everything on
    the way out. ``pool_limit`` overrides the init's limits; with ``caddy``, the proxy fronts the UI and the
    service as in compose."""
    with contextlib.ExitStack() as stack:
        logs = work / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        dagster_db = create_database(admin_dsn, "topology_dagster")
        stack.callback(drop_database, admin_dsn, dagster_db)
        connector_db = create_database(admin_dsn, "topology_connector")
        stack.callback(drop_database, admin_dsn, connector_db)

        home = work / "dagster_home"
        home.mkdir(exist_ok=True)
        shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
        grpc_port, web_port = free_ports(2)
        workspace = {
            "load_from": [
                {"grpc_server": {"host": "127.0.0.1", "port": grpc_port, "location_name": LOCATION}}
            ]
        }
        (home / "workspace.yaml").write_text(yaml.safe_dump(workspace))
        env = _env(admin_dsn, dagster_db, connector_db, home, delta_cron)
        env["CONNECTOR_DAGSTER_URL"] = f"http://127.0.0.1:{web_port}"
        env["CONNECTOR_DAGSTER_LOCATION"] = LOCATION
        instance_home = work / "test_instance"
        instance_home.mkdir(exist_ok=True)
        (instance_home / "dagster.yaml").write_text(yaml.safe_dump(_instance_config(env)))

        topology = Topology(work, env, {}, env["CONNECTOR_DAGSTER_URL"], instance_home=instance_home)
        stack.callback(topology._http.close)

        def start(
            name: str,
            argv: Sequence[str],
            extra_env: dict[str, str] | None = None,
            pass_fds: Sequence[int] = (),
        ) -> Service:
            service = start_service(name, argv, {**env, **(extra_env or {})}, logs, pass_fds, cwd=REPO)
            topology.services.append(service)
            stack.callback(service.stop)
            return service

        try:
            # The deploy step before any other process opens the databases, exactly as compose's init runs
            # it: Dagster's schema once (two processes creating it at once fail with `type "snapshots" already
            # exists`), the connector tables, the pool limits.
            topology.command("sh", "-c", compose_init_script())
            if pool_limit is not None:
                for pool in sorted(asset_pools()):
                    topology.dagster_cli("instance", "concurrency", "set", pool, str(pool_limit))
            accounts_file = work / "sandbox-accounts.json"
            sandbox = start(
                "sandbox",
                [
                    sys.executable,
                    "-m",
                    "connector_pipelines",
                    "sandbox",
                    "serve",
                    "--port",
                    "0",
                    "--json",
                    "--products",
                    str(products),
                    "--variants",
                    str(variants),
                    "--accounts-file",
                    str(accounts_file),
                    *[arg for slug in tenants for arg in ("--account", slug)],
                ],
            )
            code_server = start(
                "code_server",
                [
                    str(BIN / "dagster"),
                    "api",
                    "grpc",
                    "-m",
                    "connector_pipelines.definitions",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(grpc_port),
                    "--location-name",
                    LOCATION,
                ],
            )
            wait_for(lambda: _sandbox_ready(sandbox), timeout_s=60, what="the sandbox", services=[sandbox])
            topology.sandbox_accounts = json.loads(accounts_file.read_text())
            # Registered before the daemon starts, so the registry sensor's first tick already sees them.
            for slug in tenants:
                topology.register_tenant(slug)
            wait_for(
                lambda: "Started Dagster code server" in code_server.log.read_text(errors="replace") or None,
                timeout_s=90,
                what="the code server",
                services=[code_server],
            )
            workspace_file = str(home / "workspace.yaml")
            webserver = start(
                "webserver",
                [
                    str(BIN / "dagster-webserver"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(web_port),
                    "-w",
                    workspace_file,
                ],
            )
            daemon = start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace_file])
            with contextlib.closing(listening_socket()) as service_socket:
                fd = service_socket.fileno()
                service = start(
                    "service",
                    [sys.executable, "-m", "connector_pipelines", "serve", "--fd", str(fd)],
                    pass_fds=[fd],
                )
                topology.service_url = f"http://127.0.0.1:{service_socket.getsockname()[1]}"
            if caddy is not None:
                topology.proxy = start_proxy(
                    caddy, work, start, env["CONNECTOR_DAGSTER_URL"], topology.service_url
                )
            wait_for(
                lambda: _answers(f"{topology.webserver_url}/server_info", 200),
                timeout_s=90,
                what="the webserver",
                services=[webserver, daemon],
            )
            wait_for(
                lambda: _location_loaded(topology),
                timeout_s=60,
                what="the code location in the webserver",
                services=[webserver, daemon, code_server],
            )
            wait_for(
                lambda: _answers(f"{topology.service_url}/health", 200),
                timeout_s=60,
                what="the connector service",
                services=[service],
            )
            if topology.proxy is not None:
                proxy = topology.proxy
                # The proxy's own answer to an anonymous request: it is up and its basic auth is in place.
                wait_for(
                    lambda: _answers(f"{proxy.url}/", 401),
                    timeout_s=30,
                    what="the proxy",
                    services=[proxy.process],
                )
        except Exception as exc:
            # A start-up failure is only diagnosable with what the processes said.
            raise RuntimeError(f"the topology did not start: {exc}\n{topology.logs()}") from exc
        yield topology
