"""The checks before a run (``sync/preflight.py``): each problem is one PermanentError line naming tenant,
system and the command that fixes it; nothing is read but the connector database and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connector_pipelines.errors import PermanentError
from connector_pipelines.pipelines.catalog import pipeline_spec
from connector_pipelines.sync.preflight import check_product_ids, preflight, waiting_for
from connector_pipelines.tenants.crypto import generate_key
from connector_pipelines.tenants.registry import TenantRegistry

TENANT = "acme"
SECRET = "preflight-secret-4711"
PLENTY_SHOPWARE = pipeline_spec("plenty_shopware")
ERP_FILES_SHOPIFY = pipeline_spec("erp_files_shopify")
SETTINGS: dict[str, dict[str, Any]] = {
    "plentymarkets": {"base_url": "https://acme.example", "lang": "en"},
    "shopware6": {"base_url": "https://shop.acme.example"},
}
CREDENTIALS = {
    "plentymarkets": {"username": "api-user", "password": SECRET},
    "shopware6": {"client_id": "SWIA1", "client_secret": SECRET},
}


def ready_tenant(
    registry: TenantRegistry,
    *,
    pipelines: tuple[str, ...] = ("plenty_shopware",),
    settings: dict[str, dict[str, Any]] | None = None,
    credentials: dict[str, dict[str, Any]] | None = None,
) -> None:
    """``acme`` with every setting and credential plenty_shopware needs, unless told otherwise."""
    registry.add(TENANT, "", list(pipelines), SETTINGS if settings is None else settings)
    for system, values in (CREDENTIALS if credentials is None else credentials).items():
        registry.set_credentials(TENANT, system, values)


def refused(registry: TenantRegistry, spec: Any = PLENTY_SHOPWARE, *, force: bool = False) -> str:
    """The one line preflight refuses with."""
    with pytest.raises(PermanentError) as caught:
        preflight(registry, TENANT, spec, force=force)
    line = str(caught.value)
    assert len(line.splitlines()) == 1 and SECRET not in line
    return line


def test_a_ready_tenant_passes(registry: TenantRegistry) -> None:
    ready_tenant(registry)
    assert preflight(registry, TENANT, PLENTY_SHOPWARE).slug == TENANT


def test_an_unknown_tenant(registry: TenantRegistry) -> None:
    line = refused(registry)
    assert line.startswith("unknown tenant 'acme' — remedy: ")
    assert "`connector-pipelines tenants add acme --pipeline <pipeline>`" in line


def test_a_disabled_tenant_is_refused_unless_forced(registry: TenantRegistry) -> None:
    ready_tenant(registry)
    registry.update(TENANT, enabled=False)
    line = refused(registry)
    assert line.startswith("tenant 'acme': disabled — remedy: ")
    assert "`connector-pipelines tenants update acme --enable`" in line
    assert "`connector-pipelines sync acme --pipeline plenty_shopware --force`" in line
    assert preflight(registry, TENANT, PLENTY_SHOPWARE, force=True).enabled is False


def test_a_pipeline_the_tenant_does_not_have_lists_its_own_pipelines(registry: TenantRegistry) -> None:
    ready_tenant(registry, pipelines=("erp_files_shopify",))
    line = refused(registry)
    assert line.startswith(
        "tenant 'acme': pipeline 'plenty_shopware' is not enabled for the tenant "
        "(its pipelines: erp_files_shopify) — remedy: "
    )
    expected = "tenants update acme --pipeline erp_files_shopify --pipeline plenty_shopware`"
    assert line.endswith(expected)


def test_missing_settings_of_a_system(registry: TenantRegistry) -> None:
    ready_tenant(registry, settings={"plentymarkets": SETTINGS["plentymarkets"]})
    line = refused(registry)
    assert line.startswith("tenant 'acme', shopware6: no settings stored — remedy: add the settings with ")
    assert "`connector-pipelines tenants update acme --settings-file <file>`" in line


def test_missing_credentials_of_a_system(registry: TenantRegistry) -> None:
    ready_tenant(registry, credentials={"plentymarkets": CREDENTIALS["plentymarkets"]})
    assert refused(registry) == (
        "tenant 'acme', shopware6: no credentials stored — remedy: store the credentials with "
        "`connector-pipelines tenants set-credentials acme shopware6`"
    )


def test_no_encryption_key(registry: TenantRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    ready_tenant(registry)
    monkeypatch.delenv("CONNECTOR_ENCRYPTION_KEY")
    fresh = TenantRegistry(registry.db, pipelines=registry.pipelines)  # the key is read once per registry
    line = refused(fresh)
    assert line.startswith("tenant 'acme', plentymarkets: CONNECTOR_ENCRYPTION_KEY is not set — remedy: ")
    assert "`connector-pipelines keys generate`" in line


def test_a_wrong_encryption_key(registry: TenantRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    ready_tenant(registry)
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEY", generate_key())
    line = refused(TenantRegistry(registry.db, pipelines=registry.pipelines))
    assert line.startswith("tenant 'acme', plentymarkets: the stored credentials were encrypted with key id")
    assert line.endswith("`connector-pipelines tenants set-credentials acme plentymarkets`")


def test_optional_credentials_need_none_stored_but_stored_ones_must_decrypt(
    registry: TenantRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = {
        "erp_files": {"kind": "local", "root": str(tmp_path), "path": "products.csv"},
        "shopify": {"shop_url": "https://acme.myshopify.com"},
    }
    ready_tenant(
        registry,
        pipelines=("erp_files_shopify",),
        settings=settings,
        credentials={"shopify": {"access_token": SECRET}},
    )
    preflight(registry, TENANT, ERP_FILES_SHOPIFY)  # anonymous: erp_files has no credentials

    registry.set_credentials(TENANT, "erp_files", {"username": "ftp-user", "password": SECRET})
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEY", generate_key())
    line = refused(TenantRegistry(registry.db, pipelines=registry.pipelines), ERP_FILES_SHOPIFY)
    assert line.startswith("tenant 'acme', erp_files: the stored credentials were encrypted with key id")


def test_waiting_for_says_what_a_tenant_still_lacks(registry: TenantRegistry) -> None:
    ready_tenant(registry, credentials={"plentymarkets": CREDENTIALS["plentymarkets"]})
    assert waiting_for(registry, TENANT, PLENTY_SHOPWARE) == (
        "tenant 'acme', shopware6: no credentials stored — remedy: store the credentials with "
        "`connector-pipelines tenants set-credentials acme shopware6`"
    )
    registry.set_credentials(TENANT, "shopware6", CREDENTIALS["shopware6"])
    assert waiting_for(registry, TENANT, PLENTY_SHOPWARE) is None


def test_product_ids_are_checked_as_the_pipeline_reads_them() -> None:
    check_product_ids(PLENTY_SHOPWARE, ["102", "7"])
    check_product_ids(ERP_FILES_SHOPIFY, [])
    with pytest.raises(
        PermanentError, match=r"^plentymarkets: product id 'abc' is not a Plentymarkets item id"
    ):
        check_product_ids(PLENTY_SHOPWARE, ["102", "abc"])
    with pytest.raises(PermanentError, match="pipeline 'erp_files_shopify' cannot sync single products"):
        check_product_ids(ERP_FILES_SHOPIFY, ["P1"])
