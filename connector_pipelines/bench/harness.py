"""What every pipeline benchmark shares: the sandbox in its own process, wall time, peak RSS of the
pipeline process, the result shape (`--json` prints exactly these keys per run), and the table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, Field

T = TypeVar("T")
Echo = Callable[[str], None]


class BenchResult(BaseModel):
    wall_s: float
    items_per_s: float
    peak_rss_mb: float
    source_calls: int
    target_calls: int
    target_writes: int
    target_calls_per_product: float = Field(description="target calls per product the run published")
    converged: bool
    bound_s: float | None = Field(
        None, description="with realistic rate limits: the least wall time the limits allow for these calls"
    )


def _status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field} line")


class PeakRss:
    """Peak resident memory of this process during a block, as the kernel counts it (VmHWM), reset at the
    start through /proc/self/clear_refs: exact, where sampling would miss spikes and take CPU from the run."""

    peak_mb = 0.0

    def __enter__(self) -> PeakRss:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")  # 5: reset the peak RSS to the current RSS (Linux 4.0+)
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak_mb = _status_mb("VmHWM")


def measure(run: Callable[[], T]) -> tuple[T, float, float]:
    """(result, wall seconds, peak RSS MB) of one call."""
    with PeakRss() as rss:
        started = time.perf_counter()
        result = run()
        wall = time.perf_counter() - started
    return result, wall, rss.peak_mb


class SandboxProcess:
    """`connector-pipelines sandbox serve` in a child process, so the emulators get their own core."""

    def __init__(self, args: Sequence[str]) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="connector-bench-")
        self.accounts_file = Path(self._dir.name) / "accounts.json"
        command = [
            sys.executable,
            "-m",
            "connector_pipelines",
            "sandbox",
            "serve",
            "--port",
            "0",
            "--json",
        ]
        command += ["--accounts-file", str(self.accounts_file), *args]
        self._process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the sandbox did not start (exit code {self._process.wait()})")
        ready = json.loads(line)
        self.base_url: str = ready["base_url"]
        self.accounts: dict[str, dict[str, dict[str, str]]] = json.loads(self.accounts_file.read_text())
        self.http = httpx.Client(base_url=self.base_url, timeout=600)

    def get(self, path: str) -> Any:
        response = self.http.get(path)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: Any = None) -> Any:
        response = self.http.post(path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    def close(self) -> None:
        self.http.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._dir.cleanup()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def isolated_environment() -> Iterator[Path]:
    """A throwaway connector home (database, key) so a benchmark never touches the user's tenants."""
    from connector_pipelines.tenants.crypto import generate_key

    saved = {
        k: os.environ.get(k) for k in ("CONNECTOR_HOME", "CONNECTOR_DATABASE_URL", "CONNECTOR_ENCRYPTION_KEY")
    }
    with tempfile.TemporaryDirectory(prefix="connector-bench-home-") as home:
        os.environ["CONNECTOR_HOME"] = home
        os.environ.pop("CONNECTOR_DATABASE_URL", None)
        os.environ["CONNECTOR_ENCRYPTION_KEY"] = generate_key()
        try:
            yield Path(home)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def report(results: dict[str, BenchResult], *, as_json: bool, echo: Echo, notes: Sequence[str] = ()) -> None:
    if as_json:
        echo(json.dumps({name: r.model_dump() for name, r in results.items()}))
        return
    header = ["run", *BenchResult.model_fields]
    echo("| " + " | ".join(header) + " |")
    echo("|" + "---|" * len(header))
    for name, r in results.items():
        cells = [name, *(f"{v:.2f}" if isinstance(v, float) else str(v) for v in r.model_dump().values())]
        cells = [cell if cell != "None" else "-" for cell in cells]
        echo("| " + " | ".join(cells) + " |")
    for note in notes:
        echo(note)
