"""The README's operations section and docs/ work from a fresh clone: every command is documented, nothing
points outside the repository, and every example file is valid for the models that read it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest

from connector_pipelines.cli import SYSTEM_EXAMPLES, main
from connector_pipelines.pipelines.catalog import pipeline_spec, pipeline_specs
from connector_pipelines.sources.erp_files import parse_records
from connector_pipelines.sources.erp_mapping.check import check_mapping
from connector_pipelines.sources.erp_mapping.config import load_mapping
from connector_pipelines.tenants.connections import SYSTEMS
from connector_pipelines.tenants.systems import ErpFilesSettings

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLES = ROOT / "docs" / "examples"


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        found += _commands(command, f"{path} ") if isinstance(command, click.Group) else [path]
    return found


def test_the_readme_documents_every_command() -> None:
    missing = [c for c in _commands(main) if f"connector-pipelines {c}" not in README]
    assert missing == []


def test_the_readme_needs_nothing_outside_the_repository() -> None:
    assert not re.search(r"(?<![.\w])\.\./", README), "a path outside the clone"
    assert "DESIGN.md" not in README
    for reference in re.findall(r"`(docs/[^`\s]+)`", README):
        assert (ROOT / reference).exists(), reference


@pytest.mark.parametrize("pipeline", sorted(pipeline_specs()))
def test_the_settings_examples_are_complete_and_those_of_the_systems_command(pipeline: str) -> None:
    example = json.loads((EXAMPLES / f"{pipeline}.settings.json").read_text())
    spec = pipeline_spec(pipeline)
    # A role chosen per tenant (the gateway's ERP and shop) is shown with one of its options.
    chosen = [[s.name for s in choice.options if s.name in example] for choice in spec.choices]
    assert all(len(names) == 1 for names in chosen), chosen
    systems = [*spec.systems, *(names[0] for names in chosen)]
    assert set(example) == set(systems)
    for system in systems:
        assert example[system] == SYSTEM_EXAMPLES[system]["settings"]
        SYSTEMS[system].settings.model_validate(example[system])


def test_the_credentials_examples_are_those_of_the_systems_command() -> None:
    for system, example in SYSTEM_EXAMPLES.items():
        stored = json.loads((EXAMPLES / "credentials" / f"{system}.json").read_text())
        assert stored == example["credentials"]
        SYSTEMS[system].credentials.model_validate(stored)


def test_the_mapping_example_maps_its_sample_file_without_a_row_error() -> None:
    settings = ErpFilesSettings.model_validate(
        {
            **SYSTEM_EXAMPLES["erp_files"]["settings"],
            "kind": "local",
            "host": None,
            "root": "/",
            "sftp_host_key": None,
        }
    )
    with (EXAMPLES / "products.csv").open("rb") as stream:
        report = check_mapping(
            load_mapping(EXAMPLES / "mapping.yaml"), parse_records(stream, "products.csv", settings)
        )
    assert (report.rows, report.products_mapped, report.variants_mapped) == (3, 2, 3)
    assert report.errors == [] and report.missing_sources == []
