"""A pipeline's sandbox recipe: how its emulators are set up for a tenant, how a tenant is wired to them, how
its source is changed, and how convergence (the target holds what the source says) is checked.

The demo, the benchmark, ``sandbox serve`` and the test harness read a pipeline's recipe
(``pipelines/<pipeline>/recipe.py``, exporting ``RECIPE``) instead of knowing the pipeline. Plain Python: no
Dagster. A recipe works on a :class:`~connector_pipelines.sandbox.hub.SandboxHub` in this process; the hub
serves its changes and convergence checks over HTTP for a pipeline that runs in another process.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from connector_pipelines.sandbox.convergence import ConvergenceReport

if TYPE_CHECKING:
    from connector_pipelines.sandbox.hub import SandboxHub
    from connector_pipelines.tenants.registry import TenantRegistry

# ``SandboxHub.accounts()``: system -> account -> description (base URL, generated credentials, ...).
Accounts = Mapping[str, Mapping[str, Mapping[str, str]]]
Settings = dict[str, dict[str, Any]]
Get = Callable[[str], Any]  # an HTTP GET on the sandbox hub, answering JSON
StepCounts = Callable[[str], Mapping[str, Any]]  # a run's materialization metadata by asset


@dataclass(frozen=True)
class Catalog:
    """What one tenant's source holds in the sandbox, and how the emulators behave."""

    products: int = 12
    variants: int = 3
    seed: int = 1
    realistic_limits: bool = False
    file_format: str = "csv"  # for file sources


@dataclass(frozen=True)
class TenantConfig:
    """Settings and credentials per system, as ``TenantRegistry.add`` / ``set_credentials`` take them."""

    settings: Settings
    credentials: Settings


@dataclass(frozen=True)
class Deleted:
    """A source record deleted by :meth:`SandboxRecipe.delete_one`: its label and the target keys that stay
    until the pipeline sees the deletion."""

    label: str
    target_keys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class KillPoint:
    """Where a run is cut for a killed-run test: ``cls.method`` (a target write) lands, then the run dies,
    as a run killed before it heard back. ``settings`` make the writes small enough to be cut mid-way."""

    cls: type
    method: str
    settings: Settings = field(default_factory=dict)


@dataclass(frozen=True)
class BenchCounts:
    """What a benchmark run cost the systems, from the emulators' ``/__sandbox/stats`` and the run's
    metadata; ``source_cost`` is what the source's rate limit charges (calls, units or points)."""

    source_calls: int
    target_calls: int
    target_writes: int
    cost: int = 0


class SandboxRecipe(ABC):
    """One pipeline's sandbox. Subclasses set the class attributes and implement the methods."""

    pipeline: str
    title: str  # "Plentymarkets -> Shopware 6"
    source_asset: str  # the source snapshot step (its ``fetched`` count)
    target_assets: tuple[str, ...]  # target steps, the product step first
    emulated: tuple[str, ...]  # systems with an HTTP emulator on the hub (their /__sandbox/stats)
    deletions_need_full: bool = False  # only a full read sees what the source deleted
    demo_tenant: str
    demo_seed: int = 1
    bench_products: int = 10_000  # the benchmark's default catalog size
    # Target settings of a test tenant on a small catalog, so that it takes the pipeline's main write path.
    harness_target: Mapping[str, Any] = {}
    kill: KillPoint

    @property
    def target_asset(self) -> str:
        return self.target_assets[0]

    # --- sandbox --------------------------------------------------------------------------------------------

    @abstractmethod
    def add_accounts(
        self, hub: SandboxHub, account: str, catalog: Catalog, *, target_emulator: Any = None
    ) -> None:
        """Add the emulator accounts of one tenant to ``hub``; ``target_emulator`` tunes the target's
        emulator (its settings model). Implementations call :meth:`_registered` first."""

    def _registered(self, hub: SandboxHub) -> None:
        hub.recipes[self.pipeline] = self

    @abstractmethod
    def tenant_config(
        self, accounts: Accounts, account: str, *, target: Mapping[str, Any] | None = None
    ) -> TenantConfig:
        """Settings and credentials of a tenant on ``account`` (from ``hub.accounts()``, in this process or
        read from ``sandbox serve --accounts-file``); ``target`` adds target settings."""

    @abstractmethod
    def describe(self, accounts: Accounts, account: str) -> str:
        """Where the tenant's source is, in a few words."""

    # --- changing the source --------------------------------------------------------------------------------

    @abstractmethod
    def change(self, hub: SandboxHub, account: str, *, fraction: float, seed: int) -> list[str]:
        """Change ``fraction`` of the source's records; returns what changed."""

    @abstractmethod
    def add_one(self, hub: SandboxHub, account: str, *, seed: int, variants: int) -> str:
        """Add one product to the source; returns its label."""

    @abstractmethod
    def delete_one(self, hub: SandboxHub, account: str) -> Deleted:
        """Delete one product from the source."""

    @abstractmethod
    def describe_changes(self, changed: list[str], added: str, deleted: Deleted) -> str:
        """One line on what :meth:`change`, :meth:`add_one` and :meth:`delete_one` did."""

    # --- checking -------------------------------------------------------------------------------------------

    @abstractmethod
    def convergence(self, hub: SandboxHub, account: str) -> ConvergenceReport:
        """Does the target hold what the source says (read from the emulators, never the pipeline)?"""

    @abstractmethod
    def target_state(self, hub: SandboxHub, account: str) -> Any:
        """Everything the target holds (to show that a run wrote nothing)."""

    @abstractmethod
    def reject_one(self, hub: SandboxHub, account: str) -> None:
        """Make the target reject one record (of the next full publication) until :meth:`clear_faults`."""

    @abstractmethod
    def clear_faults(self, hub: SandboxHub, account: str) -> None:
        """Undo :meth:`reject_one`."""

    # --- benchmark ------------------------------------------------------------------------------------------

    @abstractmethod
    def bench_items(self, get: Get, account: str, catalog: Catalog) -> int:
        """The records a run goes through (for items per second)."""

    @abstractmethod
    def bench_counts(self, get: Get, account: str, counts: StepCounts) -> BenchCounts:
        """The calls and writes of the run since the emulators' stats were reset."""

    def bench_bound_s(self, figures: BenchCounts) -> float | None:
        """The least wall time the realistic rate limits allow for the run's calls (None: not worked out)."""
        return None

    @abstractmethod
    def bench_note(self, run: str, figures: BenchCounts, counts: StepCounts, wall_s: float) -> str | None:
        """Under realistic rate limits: the best time the limits allow, against the measured one."""


def register_tenant(
    registry: TenantRegistry,
    recipe: SandboxRecipe,
    accounts: Accounts,
    slug: str,
    *,
    name: str,
    account: str | None = None,
    target: Mapping[str, Any] | None = None,
) -> TenantConfig:
    """(Re)register ``slug`` for the recipe's pipeline on ``account``'s emulators (by default its own)."""
    config = recipe.tenant_config(accounts, account or slug, target=target)
    register_config(registry, recipe.pipeline, slug, config, name=name)
    return config


def register_config(
    registry: TenantRegistry, pipeline: str, slug: str, config: TenantConfig, *, name: str
) -> None:
    """(Re)register ``slug`` for ``pipeline`` with these settings and credentials: the sandbox's credentials
    are new at every start, so a tenant left from an earlier start is replaced."""
    from connector_pipelines.tenants.registry import UnknownTenantError

    with contextlib.suppress(UnknownTenantError):
        registry.remove(slug)
    registry.add(slug, name, [pipeline], config.settings)
    for system, values in config.credentials.items():
        registry.set_credentials(slug, system, values)
