from __future__ import annotations

import pytest
from sqlalchemy import select

from connector_pipelines import errors
from connector_pipelines.pipelines.catalog import pipeline_recipe, pipeline_recipes
from connector_pipelines.redaction import redact
from connector_pipelines.sandbox.hub import SandboxHub
from connector_pipelines.sandbox.recipe import Catalog
from connector_pipelines.store.db import Database
from connector_pipelines.store.models import TenantCredential
from connector_pipelines.tenants.crypto import DecryptionError, generate_key
from connector_pipelines.tenants.registry import TenantError, TenantRegistry, UnknownTenantError
from connector_pipelines.tenants.systems import (
    PlentymarketsCredentials,
    PlentymarketsSettings,
    Shopware6Credentials,
)

PLENTY = {"base_url": "https://acme.my.plentysystems.com", "lang": "en"}
SECRET = "pw-9f8e7d6c5b4a"


def test_tenant_round_trip(registry: TenantRegistry) -> None:
    registry.add("acme", "ACME Inc.", ["plenty_shopware"], {"plentymarkets": PLENTY})
    registry.add("globex", "", ["plenty_shopware"])
    assert [t.slug for t in registry.tenants()] == ["acme", "globex"]
    info = registry.get("acme")
    assert info.display_name == "ACME Inc." and info.enabled and info.pipelines == ["plenty_shopware"]
    assert registry.settings("acme", "plentymarkets", PlentymarketsSettings).lang == "en"

    registry.update("acme", enabled=False, settings={"plentymarkets": {"lang": "de"}})
    assert [t.slug for t in registry.tenants(enabled_only=True)] == ["globex"]
    settings = registry.settings("acme", "plentymarkets", PlentymarketsSettings)
    assert settings.lang == "de" and settings.base_url == PLENTY["base_url"], "updates merge"

    registry.remove("globex")
    with pytest.raises(UnknownTenantError, match="unknown tenant 'globex'"):
        registry.get("globex")


def test_reenabling_moves_enabled_at(registry: TenantRegistry) -> None:
    first = registry.add("acme", "", ["plenty_shopware"]).enabled_at
    registry.update("acme", enabled=False)
    assert registry.update("acme", enabled=True).enabled_at > first


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.add("Bad Slug", "", ["plenty_shopware"]), "invalid tenant slug 'Bad Slug'"),
        (lambda r: r.add("acme", "", ["nope"]), "unknown pipeline"),
        (lambda r: r.add("acme", "", ["plenty_shopware"], {"sap": {}}), "unknown system 'sap'"),
        (
            lambda r: r.add("acme", "", ["plenty_shopware"], {"plentymarkets": {"base_url": "ftp://x"}}),
            "invalid settings for 'plentymarkets': base_url",
        ),
        (lambda r: r.update("ghost", enabled=True), "unknown tenant 'ghost'"),
    ],
)
def test_bad_requests_are_clear(registry: TenantRegistry, call: object, message: str) -> None:
    with pytest.raises(TenantError, match=message):
        call(registry)  # type: ignore[operator]


def test_duplicate_slug(registry: TenantRegistry) -> None:
    registry.add("acme", "", ["plenty_shopware"])
    with pytest.raises(TenantError, match="already exists"):
        registry.add("acme", "", ["plenty_shopware"])


def test_credentials_are_encrypted_and_round_trip(registry: TenantRegistry, db: Database) -> None:
    registry.add("acme", "", ["plenty_shopware"])
    registry.set_credentials("acme", "plentymarkets", {"username": "api", "password": SECRET})
    with db.session() as s:
        stored = s.scalars(select(TenantCredential)).one()
    assert SECRET.encode() not in stored.ciphertext and b"api" not in stored.ciphertext
    creds = registry.credentials("acme", "plentymarkets", PlentymarketsCredentials)
    assert creds.password.get_secret_value() == SECRET
    assert SECRET not in repr(creds) and SECRET not in registry.get("acme").model_dump_json()
    assert redact(f"login failed for {SECRET}") == "login failed for ***"


def test_invalid_credentials_do_not_echo_values(registry: TenantRegistry) -> None:
    registry.add("acme", "", ["plenty_shopware"])
    with pytest.raises(TenantError) as info:
        registry.set_credentials("acme", "plentymarkets", {"password": SECRET, "extra": SECRET})
    assert "username" in str(info.value) and SECRET not in str(info.value)


def test_ciphertext_copied_to_another_tenant_is_rejected(registry: TenantRegistry, db: Database) -> None:
    registry.add("acme", "", ["plenty_shopware"])
    registry.add("globex", "", ["plenty_shopware"])
    registry.set_credentials("acme", "plentymarkets", {"username": "a", "password": SECRET})
    registry.set_credentials("globex", "plentymarkets", {"username": "g", "password": "other-secret"})
    acme_id, globex_id = registry.tenant_id("acme"), registry.tenant_id("globex")
    with db.session() as s:
        source = s.get(TenantCredential, (acme_id, "plentymarkets"))
        target = s.get(TenantCredential, (globex_id, "plentymarkets"))
        assert source is not None and target is not None
        target.ciphertext, target.key_id = source.ciphertext, source.key_id
    with pytest.raises(DecryptionError, match="tenant 'globex'"):
        registry.credentials("globex", "plentymarkets", PlentymarketsCredentials)


def test_key_rotation_keeps_every_tenant_readable(
    registry: TenantRegistry, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    for slug in ("acme", "globex"):
        registry.add(slug, "", ["plenty_shopware"])
        registry.set_credentials(slug, "plentymarkets", {"username": slug, "password": f"{slug}-{SECRET}"})
    import os

    old_key = os.environ["CONNECTOR_ENCRYPTION_KEY"]
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEY", generate_key())
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEYS_OLD", old_key)
    rotated = TenantRegistry(db)
    assert rotated.rotate_keys() == 2
    assert rotated.rotate_keys() == 0, "already current"

    monkeypatch.delenv("CONNECTOR_ENCRYPTION_KEYS_OLD")
    fresh = TenantRegistry(db)
    for slug in ("acme", "globex"):
        creds = fresh.credentials(slug, "plentymarkets", PlentymarketsCredentials)
        assert creds.password.get_secret_value() == f"{slug}-{SECRET}"


def test_wrong_key_is_a_clear_error(
    registry: TenantRegistry, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.add("acme", "", ["plenty_shopware"])
    registry.set_credentials("acme", "plentymarkets", {"username": "a", "password": SECRET})
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEY", generate_key())
    with pytest.raises(DecryptionError, match=r"^tenant 'acme', plentymarkets: ") as info:
        TenantRegistry(db).credentials("acme", "plentymarkets", PlentymarketsCredentials)
    assert SECRET not in str(info.value)


def test_missing_or_invalid_stored_values_name_tenant_system_and_remedy(
    registry: TenantRegistry, db: Database
) -> None:
    registry.add("acme", "", ["plenty_shopware"])
    with pytest.raises(TenantError) as missing_settings:
        registry.settings("acme", "plentymarkets", PlentymarketsSettings)
    assert str(missing_settings.value) == (
        "tenant 'acme', plentymarkets: no settings stored — remedy: add the settings with "
        "`connector-pipelines tenants update acme --settings-file <file>` "
        '(JSON: {"plentymarkets": {...}})'
    )
    with pytest.raises(TenantError) as missing_credentials:
        registry.credentials("acme", "plentymarkets", PlentymarketsCredentials)
    assert str(missing_credentials.value) == (
        "tenant 'acme', plentymarkets: no credentials stored — remedy: store the credentials with "
        "`connector-pipelines tenants set-credentials acme plentymarkets`"
    )
    assert isinstance(missing_credentials.value, errors.PermanentError)
    assert isinstance(missing_credentials.value, ValueError)

    registry.set_credentials("acme", "plentymarkets", {"username": "api", "password": SECRET})
    with pytest.raises(TenantError) as invalid:
        # Stored for one system, read as another's model: a field is missing.
        registry.credentials("acme", "plentymarkets", Shopware6Credentials)
    message = str(invalid.value)
    assert message.startswith("tenant 'acme', plentymarkets: invalid stored credentials: client_id: ")
    assert message.endswith("set-credentials acme plentymarkets`") and SECRET not in message


# --- complete settings, disabled tenants, removal, proving credentials -----------------------------------

PLENTY_SHOPWARE_SYSTEMS = ("plentymarkets", "shopware6")


def test_add_names_every_missing_and_invalid_setting_at_once(registry: TenantRegistry) -> None:
    with pytest.raises(TenantError) as info:
        registry.add(
            "acme",
            "",
            ["plenty_shopware"],
            {"plentymarkets": {"base_url": "ftp://x", "lang": "english"}},
            systems=PLENTY_SHOPWARE_SYSTEMS,
        )
    message = str(info.value)
    assert message.startswith("tenant 'acme': invalid settings for 'plentymarkets': base_url: ")
    assert "lang: " in message
    assert "settings for 'shopware6' missing (required: base_url)" in message
    assert "remedy: give each system's settings in the settings file" in message
    assert len(message.splitlines()) == 1
    assert registry.tenants() == [], "nothing registered"


def test_add_disabled(registry: TenantRegistry) -> None:
    info = registry.add(
        "acme",
        "",
        ["plenty_shopware"],
        {"plentymarkets": PLENTY, "shopware6": {"base_url": "https://shop.example"}},
        enabled=False,
        systems=PLENTY_SHOPWARE_SYSTEMS,
    )
    assert not info.enabled and registry.tenants(enabled_only=True) == []


def test_a_new_pipeline_needs_the_settings_of_its_systems(registry: TenantRegistry) -> None:
    registry.add("acme", "", ["plenty_shopware"], {"plentymarkets": PLENTY}, systems=("plentymarkets",))
    with pytest.raises(TenantError, match=r"settings for 'shopify' missing \(required: shop_url\)"):
        registry.update("acme", pipelines=["erp_files_shopify"], systems=("erp_files", "shopify"))
    assert registry.get("acme").pipelines == ["plenty_shopware"], "nothing changed"
    shop = {"shop_url": "https://acme.myshopify.com"}
    registry.update("acme", settings={"shopware6": {"base_url": "https://shop.example"}})
    files = {"kind": "local", "root": "/srv/erp", "path": "products.csv"}
    info = registry.update(
        "acme",
        pipelines=["plenty_shopware", "erp_files_shopify"],
        settings={"erp_files": files, "shopify": shop},
        systems=("plentymarkets", "shopware6", "erp_files", "shopify"),
    )
    assert set(info.settings) == {"plentymarkets", "shopware6", "erp_files", "shopify"}


def test_removal_summary_counts_what_remove_deletes(registry: TenantRegistry) -> None:
    from connector_pipelines.store.repositories import MappingRow, TenantStore

    registry.add("acme", "", ["plenty_shopware"], {"plentymarkets": PLENTY})
    registry.set_credentials("acme", "plentymarkets", {"username": "api", "password": SECRET})
    store = TenantStore(registry.db, "acme", "plenty_shopware")
    store.put_records("product", [("p:1", "h1", {}), ("p:2", "h2", {})])
    store.put_mappings("product", [MappingRow("p:1", "t1", "h1")])
    store.record_errors("shopware_products", [("p:2", "rejected", None)], "run-1")
    store.finish_run(store.start_run("full", "products", "run-1"), "success", {})
    summary = registry.removal_summary("acme")
    assert (summary.records, summary.mappings, summary.open_errors, summary.sync_runs) == (2, 1, 1, 1)
    assert summary.settings == ["plentymarkets"] and summary.credentials == ["plentymarkets"]
    registry.remove("acme")
    with pytest.raises(UnknownTenantError):
        registry.removal_summary("acme")


@pytest.mark.parametrize("pipeline", sorted(pipeline_recipes()))
def test_credentials_are_proved_by_one_call_per_system(
    hub: SandboxHub, registry: TenantRegistry, pipeline: str
) -> None:
    recipe = pipeline_recipe(pipeline)
    recipe.add_accounts(hub, "acme", Catalog(products=2, variants=1))
    config = recipe.tenant_config(hub.accounts(), "acme")
    registry.add("acme", "", [pipeline], config.settings)
    for system, values in config.credentials.items():
        assert registry.test_credentials("acme", system, values), system
        wrong = {
            k: (f"wrong-{v}" if "pass" in k or "secret" in k or "token" in k else v)
            for k, v in values.items()
        }
        with pytest.raises(errors.ConnectorError) as refused:
            registry.test_credentials("acme", system, wrong)
        assert "wrong-" not in str(refused.value), "never echoed"
    assert registry.get("acme").credentials_set == [], "testing stores nothing"
