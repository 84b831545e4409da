"""The webhook benchmark, short: the service killed with SIGKILL mid-load and started again loses nothing it
acknowledged, on SQLite and on PostgreSQL. (Whenever the kill lands, ``lost`` must be 0.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector_pipelines.service.bench import run_webhook_benchmark


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_nothing_acknowledged_is_lost_across_a_sigkill(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'ignored.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_server")
    )
    figures = run_webhook_benchmark(seconds=3, senders=4, as_json=True, database_url=url)
    assert json.loads(capsys.readouterr().out) == figures
    assert figures["lost"] == 0
    assert figures["rejected"] == 0
    assert isinstance(figures["acknowledged"], int) and figures["acknowledged"] > 0
    assert figures["database"] == backend
    assert set(figures) >= {"accepted_per_s", "p50_ms", "p99_ms", "rejected", "lost"}
