"""The gateway ERPs' settings and credentials: what a tenant stores for Logo, Netsis and CSV files, validated
with clear errors; the field mapping's seed spellings; the systems the registry opens them with."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from connector_pipelines.tenants.connections import ERP_CSV, ERP_SYSTEMS, LOGO, NETSIS, SYSTEMS
from connector_pipelines.tenants.systems import (
    ErpFieldMapping,
    LogoCredentials,
    LogoSettings,
    NetsisSettings,
    secret_values,
)

GATEWAY = {"warehouse_code": "1", "price_list_code": "WEB"}


def test_logo_settings_with_their_defaults() -> None:
    settings = LogoSettings.model_validate({"base_url": "http://erp.example:32001/", "firm": 7} | GATEWAY)
    assert settings.base_url == "http://erp.example:32001" and settings.api_path == "/api/v1"
    assert (settings.poll_interval_minutes, settings.breaker_cooldown_s) == (5, 300.0)
    assert settings.mapping == ErpFieldMapping() and settings.customer_prefix == "120.W"
    credentials = LogoCredentials.model_validate({"username": "LOGO", "password": "p", "client_secret": "s"})
    assert sorted(secret_values(credentials)) == ["p", "s"]


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"firm": 1000}, "firm"),
        ({"customer_prefix": "120.WEB.X"}, "at most 7 characters"),
        ({"warehouse_code": ""}, "warehouse_code"),
        ({"breaker_cooldown_s": 0}, "breaker_cooldown_s"),
        ({"base_url": "erp:32001"}, r"must be an http\(s\) URL"),
        ({"mapping": {"stock": {"onhand": "ONHAND"}}}, "stock.onhand"),
    ],
)
def test_bad_logo_settings_are_named(values: dict[str, object], problem: str) -> None:
    base = {"base_url": "http://erp:32001", "firm": 1} | GATEWAY
    with pytest.raises(ValidationError, match=problem):
        LogoSettings.model_validate(base | values)


def test_netsis_free_fields_are_ekack_fields() -> None:
    base = {"base_url": "http://erp:7070", "dbname": "ENTEGRE9"} | GATEWAY
    assert NetsisSettings.model_validate(base | {"tracking_field": "EKACK16"}).tracking_field == "EKACK16"
    with pytest.raises(ValidationError, match="tracking_field"):
        NetsisSettings.model_validate(base | {"tracking_field": "EKACK17"})


def test_the_mapping_takes_the_seed_spellings_and_a_column_name_alone() -> None:
    mapping = ErpFieldMapping.model_validate(
        {
            "prices": {
                "price": {"source": "FIYAT", "transforms": ["parseFloat", {"op": "required"}]},
                "currency": {"source": "DOVIZ", "transforms": [{"defaultValue": "TRY"}, "upper"]},
            },
            "stock": {
                "on_hand": {"source": "MIKTAR", "transforms": [{"op": "parseInt", "decimal_separator": ","}]}
            },
            "items": {"name": "Stok_Adi"},
        }
    )
    assert [op.op for op in mapping.prices["price"].transforms] == ["decimal", "required"]
    assert [op.op for op in mapping.prices["currency"].transforms] == ["default", "upper"]
    assert mapping.stock["on_hand"].transforms[0].op == "integer"
    assert mapping.items["name"].source == "Stok_Adi"


def test_the_erps_are_systems_of_the_registry() -> None:
    assert [s.name for s in ERP_SYSTEMS] == ["logo", "netsis", "erp_csv"]
    assert all(SYSTEMS[s.name] is s and s.probe is not None for s in ERP_SYSTEMS)
    assert (LOGO.pool, NETSIS.pool, ERP_CSV.pool) == ("logo_api", "netsis_api", "erp_files")
    assert ERP_CSV.credentials_optional and not LOGO.credentials_optional
