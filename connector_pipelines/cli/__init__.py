"""The `connector-pipelines` command. Heavy modules (Dagster, emulators) are imported by the commands that
need them, so `--help` and the tenant commands stay fast.

`base` holds the root group and what the commands share; each other module adds its commands to it."""

from connector_pipelines.cli import admin, bench, dev, mapping, records, running, systems, tenants
from connector_pipelines.cli.base import main
from connector_pipelines.cli.systems import SYSTEM_EXAMPLES
from connector_pipelines.service import cli as service_cli

main.add_command(service_cli.serve)
main.add_command(service_cli.tokens)

__all__ = [
    "SYSTEM_EXAMPLES",
    "admin",
    "bench",
    "dev",
    "main",
    "mapping",
    "records",
    "running",
    "systems",
    "tenants",
]
