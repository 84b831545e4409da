"""`demo`, `dev` and `sandbox serve`: the project on the emulators."""

from __future__ import annotations

import contextlib
import errno
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from connector_pipelines.cli.base import PipelineChoice, UserError, main, user_errors

if TYPE_CHECKING:
    pass


@main.command("demo")
@click.option("--products", default=60, show_default=True, help="Items in the sandbox's Plenty catalog.")
@click.option("--variants", default=3, show_default=True, help="Variations per item.")
def demo(products: int, variants: int) -> None:
    """Run the pipelines against the sandbox and print what each step proves and a summary table.

    The demo works in its own connector home (CONNECTOR_HOME/demo: database, key, Dagster instance), apart
    from your tenants; `dev` shows its runs."""
    from connector_pipelines.demo import run_demo
    from connector_pipelines.runner import showing_progress

    with showing_progress(sys.stderr):
        succeeded = run_demo(click.echo, products=products, variants=variants)
    if not succeeded:
        sys.exit(1)


def _port_taken(exc: OSError, port: int, option: str, make_variable: str) -> UserError | None:
    """The one line for a port that is in use, or None for another error."""
    if exc.errno != errno.EADDRINUSE:
        return None
    return UserError(
        f"port {port} is taken (another `sandbox serve` or `dev`?) — remedy: choose a free one with "
        f"`{option} {port + 1}` (with make: `make dev {make_variable}={port + 1}`)"
    )


@main.command("dev")
@click.option("--port", default=3000, show_default=True, help="Port of the Dagster UI.")
@click.option("--sandbox-port", default=8900, show_default=True, help="Port of the sandbox's emulators.")
@click.option("--service-port", default=8008, show_default=True, help="Port of the connector service.")
@click.option("--products", default=60, show_default=True)
@user_errors
def dev(port: int, sandbox_port: int, service_port: int, products: int) -> None:
    """Open the Dagster UI (webserver and daemon) and the connector service on the demo's connector home,
    with the sandbox and the demo tenants registered; the demo's runs show there. Your own tenants and runs
    are not touched. Ctrl-C or SIGTERM stops every process it started."""
    import os
    import signal
    import socket

    from connector_pipelines.demo import demo_environment, register_demo_tenants, start_sandbox
    from connector_pipelines.pipelines.catalog import tenant_registry
    from connector_pipelines.runner import dagster_instance

    def stop_on_sigterm(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    with demo_environment() as home:
        try:
            hub = start_sandbox(products, 3, port=sandbox_port)
        except OSError as exc:
            raise _port_taken(exc, sandbox_port, "--sandbox-port", "SANDBOX_PORT") or exc from None
        children: list[subprocess.Popen[bytes]] = []
        try:
            ports = ((port, "--port", "UI_PORT"), (service_port, "--service-port", "SERVICE_PORT"))
            for taken, option, variable in ports:
                with socket.socket() as probe:
                    # Dagster's own message for a taken port comes after a minute of start-up, in a traceback.
                    try:
                        probe.bind(("127.0.0.1", taken))
                    except OSError as exc:
                        raise _port_taken(exc, taken, option, variable) or exc from None
            register_demo_tenants(hub, tenant_registry())
            dagster_instance().dispose()  # creates the instance folder with its dagster.yaml
            click.echo(
                f"demo home: {home}; sandbox: {hub.url}; the UI on http://127.0.0.1:{port}; the service on "
                f"http://127.0.0.1:{service_port}/docs"
            )
            env = {**os.environ, "CONNECTOR_DAGSTER_URL": f"http://127.0.0.1:{port}"}
            service = [sys.executable, "-m", "connector_pipelines", "serve", "--port", str(service_port)]
            ui = [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-p", str(port)]
            for argv in (service, ui):
                # Their own process groups: stopping one stops its children (dagster dev's webserver, daemon
                # and code server) too.
                children.append(subprocess.Popen(argv, env=env, start_new_session=True))  # noqa: S603
            children[-1].wait()
        except KeyboardInterrupt:
            pass
        finally:
            _stop_process_groups(children)
            hub.stop()


def _stop_process_groups(children: list[subprocess.Popen[bytes]], grace_s: float = 20.0) -> None:
    """SIGTERM to each child's process group, SIGKILL to what is left after ``grace_s``."""
    import os
    import signal

    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()


@main.group()
def sandbox() -> None:
    """The emulators of every external system."""


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8900, show_default=True, help="0 = any free port.")
@click.option("--products", default=20, show_default=True)
@click.option("--variants", default=3, show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option(
    "--account", "accounts", multiple=True, default=("demo",), show_default=True, help="Repeatable."
)
@click.option("--rate-limits", type=click.Choice(["off", "realistic"]), default="off", show_default=True)
@click.option(
    "--pipeline",
    "pipelines",
    multiple=True,
    type=PipelineChoice(),
    default=("plenty_shopware",),
    show_default=True,
    help="Serve the systems of these pipelines (repeatable).",
)
@click.option("--erp-format", type=click.Choice(["csv", "json", "ndjson"]), default="csv", show_default=True)
@click.option(
    "--accounts-file",
    type=click.Path(dir_okay=False),
    help="Write base URLs and the generated credentials here (mode 0600) instead of nowhere.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line with the base URLs when ready.")
def sandbox_serve(
    host: str,
    port: int,
    products: int,
    variants: int,
    seed: int,
    accounts: tuple[str, ...],
    rate_limits: str,
    pipelines: tuple[str, ...],
    erp_format: str,
    accounts_file: str | None,
    as_json: bool,
) -> None:
    """Serve every emulator on one port: /<system>/<account>/... (ERP files: an SFTP server per account).
    Stops on Ctrl-C or SIGTERM."""
    import os
    import signal
    import threading

    from connector_pipelines.pipelines.catalog import pipeline_recipe
    from connector_pipelines.sandbox.hub import SandboxHub
    from connector_pipelines.sandbox.recipe import Catalog

    hub = SandboxHub()
    catalog = Catalog(products, variants, seed, rate_limits == "realistic", erp_format)
    for account in accounts:
        for pipeline in pipelines:
            pipeline_recipe(pipeline).add_accounts(hub, account, catalog)
    server = hub.serve(host=host, port=port)
    described = hub.accounts()
    if accounts_file:
        path = Path(accounts_file)
        path.write_text(json.dumps(described, indent=2))
        path.chmod(0o600)
    urls = {
        system: {
            a: d.get("base_url") or d.get("shop_url") or f"sftp://{d['host']}:{d['port']}/{d['path']}"
            for a, d in by_account.items()
        }
        for system, by_account in described.items()
        if by_account
    }
    if as_json:
        click.echo(json.dumps({"base_url": server.base_url, "urls": urls, "pid": os.getpid()}), nl=True)
    else:
        for system, by_account in urls.items():
            for account, url in by_account.items():
                click.echo(f"{system:<14} {account:<12} {url}")
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    hub.stop()
