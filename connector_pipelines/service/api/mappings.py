"""A tenant's field mapping of ERP files (erp_files_shopify): read it, replace it with the same validation as
``connector-pipelines mapping check``, its version history (who, when, what), and a preview of what it would
change against the latest snapshot.

The mapping stays a file (the ``mapping_file`` of the tenant's erp_files settings, relative paths below
``CONNECTOR_HOME``): the pipeline reads it there, so the service writes it there (atomically) and keeps every
version it wrote in ``mapping_versions``. A tenant without a mapping file gets ``mappings/<tenant>.yaml``."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from connector_pipelines.redaction import redact
from connector_pipelines.service.api.common import Page, PageParams, answers
from connector_pipelines.service.auth import Operator, Viewer
from connector_pipelines.service.context import Ctx, Services
from connector_pipelines.service.problems import ApiError
from connector_pipelines.store.service import MappingVersionConflictError, MappingVersionRepository

if TYPE_CHECKING:
    from connector_pipelines.sources.erp_mapping.config import MappingConfig

router = APIRouter(prefix="/api/tenants/{tenant}/mapping", tags=["mappings"])

PIPELINE = "erp_files_shopify"
SYSTEM = "erp_files"
BEFORE_THE_SERVICE = "(file as found)"  # the author of a file that existed before the service wrote one


class MappingOut(BaseModel):
    pipeline: str
    mapping_file: str | None
    version: int = Field(description="the latest version written through the service; 0: none yet")
    mapping: dict[str, JsonValue] | None
    text: str | None = Field(description="the mapping as stored (YAML or JSON)")


class MappingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mapping: dict[str, JsonValue] | None = Field(None, description="the mapping as a JSON object")
    text: str | None = Field(None, description="or as YAML / JSON text")
    expected_version: int | None = Field(
        None, ge=0, description="the version this edit is based on; another in between is a conflict (409)"
    )

    @model_validator(mode="after")
    def _one(self) -> MappingIn:
        if (self.mapping is None) == (self.text is None):
            raise ValueError("give exactly one of mapping and text")
        return self


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mapping: dict[str, JsonValue] | None = Field(None, description="a mapping to try; none: the stored one")
    text: str | None = None
    limit: int = Field(20, ge=0, le=200, description="changed products shown")


class MappingWritten(BaseModel):
    version: int
    changed: bool
    mapping_file: str


class VersionOut(BaseModel):
    version: int
    actor: str
    created_at: datetime
    digest: str


class VersionText(VersionOut):
    text: str


class RowProblem(BaseModel):
    file: str
    line: int
    column: str
    reason: str


class Preview(BaseModel):
    source: str = Field(description="the file that was mapped")
    rows: int
    products: int
    new: int = Field(description="products the snapshot does not have")
    changed: int = Field(description="products whose content would change")
    unchanged: int
    removed: int = Field(description="snapshot products the file no longer yields")
    row_errors: int
    samples: list[dict[str, JsonValue]] = Field(
        description="new and changed products, in the mapping's terms"
    )
    errors: list[RowProblem] = Field(description="the first 100 row errors")


def _parse(mapping: dict[str, JsonValue] | None, text: str | None) -> MappingConfig:
    import orjson

    from connector_pipelines.sources.erp_mapping.config import MappingConfigError, parse_mapping

    try:
        if mapping is not None:
            return parse_mapping(orjson.dumps(mapping).decode(), name="mapping", fmt="json")
        return parse_mapping(text or "", name="mapping", fmt="yaml")
    except MappingConfigError as exc:
        raise ApiError(
            422, " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        ) from None


def _file_setting(services: Services, tenant: str) -> str | None:
    from connector_pipelines.tenants.connections import ERP_FILES

    with answers():
        info = services.registry.get(tenant)
        if PIPELINE not in info.pipelines or SYSTEM not in info.settings:
            raise ApiError(404, f"tenant '{tenant}' has no {PIPELINE} pipeline with erp_files settings")
        return services.registry.settings(tenant, SYSTEM, ERP_FILES.settings).mapping_file


def _versions(services: Services, tenant: str) -> MappingVersionRepository:
    with answers():
        return MappingVersionRepository(services.db, services.registry.tenant_id(tenant), PIPELINE)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ApiError(503, f"cannot read the mapping file {path}: {exc.strerror}") from None


@router.get("", response_model=MappingOut, summary="The tenant's mapping")
def read_mapping(services: Ctx, caller: Viewer) -> MappingOut:
    from connector_pipelines.sources.erp_mapping.config import MappingConfigError, load_mapping, mapping_path

    setting = _file_setting(services, caller.tenant)
    latest = _versions(services, caller.tenant).latest()
    text = _read(mapping_path(setting)) if setting else None
    mapping = None
    if text is not None and setting:
        try:
            mapping = load_mapping(mapping_path(setting)).model_dump(mode="json", exclude_defaults=True)
        except MappingConfigError:
            mapping = None  # the text shows what is wrong; `mapping check` names it
    return MappingOut(
        pipeline=PIPELINE,
        mapping_file=setting,
        version=latest.version if latest else 0,
        mapping=mapping,
        text=text,
    )


def _write_atomically(config: MappingConfig, path: Path) -> str:
    from connector_pipelines.sources.erp_mapping.config import write_mapping

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    write_mapping(config, temporary)
    text = temporary.read_text(encoding="utf-8")
    os.replace(temporary, path)  # a run reading the file sees the old or the new one, never half
    return text


@router.put("", response_model=MappingWritten, summary="Replace the mapping (validated first)")
def replace_mapping(services: Ctx, caller: Operator, body: MappingIn) -> MappingWritten:
    from connector_pipelines.sources.erp_mapping.config import mapping_path

    config = _parse(body.mapping, body.text)
    setting = _file_setting(services, caller.tenant)
    if setting is None:
        setting = f"mappings/{caller.tenant}.yaml"
        with answers():
            services.registry.update(caller.tenant, settings={SYSTEM: {"mapping_file": setting}})
    versions = _versions(services, caller.tenant)
    latest = versions.latest()
    if body.expected_version is not None and body.expected_version != (latest.version if latest else 0):
        raise ApiError(
            409, f"the mapping is at version {latest.version if latest else 0}, not {body.expected_version}"
        )
    path = mapping_path(setting)
    try:
        if latest is None and (before := _read(path)) is not None:
            # The history starts with what the service found, so the first edit's change can be seen.
            digest = hashlib.sha256(before.encode()).hexdigest()
            latest = versions.get(versions.add(before, digest, BEFORE_THE_SERVICE, expected=0))
        text = _write_atomically(config, path)
        digest = hashlib.sha256(text.encode()).hexdigest()
        if latest is not None and latest.digest == digest:
            return MappingWritten(version=latest.version, changed=False, mapping_file=setting)
        version = versions.add(
            text, digest, caller.principal.subject, expected=latest.version if latest else 0
        )
    except MappingVersionConflictError as exc:
        raise ApiError(409, str(exc)) from None
    except OSError as exc:
        raise ApiError(503, f"cannot write the mapping file {path}: {exc.strerror}") from None
    return MappingWritten(version=version, changed=True, mapping_file=setting)


@router.get("/versions", response_model=Page[VersionOut], summary="The mapping's versions, newest first")
def list_versions(services: Ctx, caller: Viewer, paging: PageParams) -> Page[VersionOut]:
    _file_setting(services, caller.tenant)
    found, total = _versions(services, caller.tenant).versions(limit=paging.limit, offset=paging.offset)
    items = [
        VersionOut(version=v.version, actor=v.actor, created_at=v.created_at, digest=v.digest) for v in found
    ]
    return paging.page(items, total)


@router.get("/versions/{version}", response_model=VersionText, summary="One version's text")
def read_version(services: Ctx, caller: Viewer, version: int) -> VersionText:
    found = _versions(services, caller.tenant).get(version)
    if found is None:
        raise ApiError(404, f"no version {version} of the mapping of '{caller.tenant}'")
    return VersionText(
        version=found.version,
        actor=found.actor,
        created_at=found.created_at,
        digest=found.digest,
        text=found.content,
    )


R = TypeVar("R")


def _counted(records: Iterable[R], counts: dict[str, int]) -> Iterator[R]:
    for record in records:
        counts["rows"] += 1
        yield record


@router.post("/preview", response_model=Preview, summary="Map the latest file; compare with the snapshot")
def preview(services: Ctx, caller: Viewer, body: PreviewIn) -> Preview:
    """Nothing is written: the tenant's newest file is mapped (with the given mapping, else the stored one)
    and each product compared with the snapshot the last run stored."""
    from connector_pipelines.catalog.hashing import content_hash
    from connector_pipelines.sources.erp_files import RowError, read_records
    from connector_pipelines.sources.erp_mapping.check import render_product
    from connector_pipelines.sources.erp_mapping.products import map_records
    from connector_pipelines.store.repositories import TenantStore
    from connector_pipelines.sync.erp_files_shopify import PRODUCTS, tenant_mapping
    from connector_pipelines.tenants.connections import ERP_FILES

    _file_setting(services, caller.tenant)
    with answers():
        if body.mapping is not None or body.text is not None:
            config = _parse(body.mapping, body.text)
        else:
            config = tenant_mapping(services.registry, caller.tenant)
        previous = TenantStore(services.db, caller.tenant, PIPELINE).record_hashes(PRODUCTS)
    counts = {"rows": 0, "products": 0, "new": 0, "changed": 0, "unchanged": 0, "row_errors": 0}
    seen: set[str] = set()
    samples: list[dict[str, JsonValue]] = []
    problems: list[RowProblem] = []
    with answers(), services.registry.connect(caller.tenant, ERP_FILES, max_timeout_s=60) as files:
        info = files.newest()
        records = read_records(files, info)
        try:
            for item in map_records(config, _counted(records, counts)):
                if isinstance(item, RowError):
                    counts["row_errors"] += 1
                    if len(problems) < 100:
                        problems.append(
                            RowProblem(file=item.file, line=item.line, column=item.column, reason=item.reason)
                        )
                    continue
                counts["products"] += 1
                seen.add(item.key)
                stored = previous.get(item.key)
                kind = (
                    "new"
                    if stored is None
                    else "unchanged"
                    if stored == content_hash(item.model_dump(mode="json"))
                    else "changed"
                )
                counts[kind] += 1
                if kind != "unchanged" and len(samples) < body.limit:
                    samples.append({"change": kind, **render_product(item)})
        finally:
            records.close()
        source = f"{files.location}/{info.path}"
    return Preview(
        source=redact(source),
        removed=len(set(previous) - seen),
        samples=samples,
        errors=problems,
        **counts,
    )
