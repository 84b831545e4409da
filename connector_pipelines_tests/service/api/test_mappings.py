"""A tenant's ERP file mapping through the API: replaced only when valid, each version kept with its author,
edits based on an old version refused, and a preview of what a mapping would change in the snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from connector_pipelines.config import connector_home
from connector_pipelines.service.api.mappings import BEFORE_THE_SERVICE
from connector_pipelines.store.repositories import TenantStore
from connector_pipelines.sync.erp_files_shopify import snapshot_file, tenant_mapping
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.tenants.connections import ERP_FILES
from connector_pipelines_tests.service.conftest import PIPELINE, Service

MAPPING = {
    "fields": {
        "title": "title",
        "variant.sku": "sku",
        "variant.price": {"source": "price", "transforms": ["decimal"]},
    }
}
CSV = "sku,title,price\nA-1,Shirt,9.99\nA-2,Cap,4.50\nA-3,Sock,1.25\n"


@pytest.fixture
def acme(service: Service) -> Service:
    service.add_tenant("acme")
    (service.files / "acme" / "products.csv").write_text(CSV)
    return service


def test_an_invalid_mapping_is_refused_and_nothing_written(acme: Service) -> None:
    answer = acme.client.put(
        "/api/tenants/acme/mapping",
        json={"mapping": {"fields": {"title": "title"}}},
        headers=acme.token("operator"),
    )
    assert answer.status_code == 422
    assert "fields must map variant.sku" in answer.json()["message"]
    read = acme.client.get("/api/tenants/acme/mapping", headers=acme.token("viewer")).json()
    assert (read["version"], read["mapping_file"], read["text"]) == (0, None, None)


def test_a_replaced_mapping_is_written_where_the_pipeline_reads_it_with_its_history(acme: Service) -> None:
    operator = acme.token("operator", subject="olga")
    written = acme.client.put("/api/tenants/acme/mapping", json={"mapping": MAPPING}, headers=operator)
    assert written.status_code == 200, written.text
    assert written.json() == {"version": 1, "changed": True, "mapping_file": "mappings/acme.yaml"}
    file = connector_home() / "mappings" / "acme.yaml"
    assert yaml.safe_load(file.read_text())["fields"]["title"] == {"source": "title"}
    assert tenant_mapping(acme.registry, "acme").fields["variant.sku"].source == "sku"  # what a run reads

    again = acme.client.put(
        "/api/tenants/acme/mapping", json={"mapping": MAPPING, "expected_version": 1}, headers=operator
    )
    assert again.json() == {"version": 1, "changed": False, "mapping_file": "mappings/acme.yaml"}
    text = "fields:\n  title: {source: title, transforms: [trim]}\n  variant.sku: sku\n"
    second = acme.client.put(
        "/api/tenants/acme/mapping",
        json={"text": text, "expected_version": 1},
        headers=acme.token("admin", subject="ada"),
    )
    assert second.json()["version"] == 2
    stale = acme.client.put(
        "/api/tenants/acme/mapping", json={"mapping": MAPPING, "expected_version": 1}, headers=operator
    )
    assert stale.status_code == 409

    viewer = acme.token("viewer")
    versions = acme.client.get("/api/tenants/acme/mapping/versions", headers=viewer).json()
    assert [(v["version"], v["actor"]) for v in versions["items"]] == [(2, "ada"), (1, "olga")]
    first = acme.client.get("/api/tenants/acme/mapping/versions/1", headers=viewer).json()
    assert "decimal" in first["text"]
    current = acme.client.get("/api/tenants/acme/mapping", headers=viewer).json()
    assert current["version"] == 2
    assert current["mapping"]["fields"]["title"]["transforms"] == [{"op": "trim"}]


def test_the_history_starts_with_the_file_the_service_found(acme: Service, tmp_path: Path) -> None:
    existing = tmp_path / "mapping.yaml"
    existing.write_text("fields:\n  title: title\n  variant.sku: sku\n")
    acme.registry.update("acme", settings={"erp_files": {"mapping_file": str(existing)}})
    answer = acme.client.put(
        "/api/tenants/acme/mapping", json={"mapping": MAPPING}, headers=acme.token("operator")
    )
    assert answer.json()["version"] == 2
    versions = acme.client.get("/api/tenants/acme/mapping/versions", headers=acme.token("viewer")).json()[
        "items"
    ]
    assert [v["actor"] for v in versions] == ["tester", BEFORE_THE_SERVICE]
    assert "price" in existing.read_text()  # the tenant's own file, replaced in place


def test_the_preview_compares_the_mapped_file_with_the_snapshot(acme: Service) -> None:
    acme.client.put("/api/tenants/acme/mapping", json={"mapping": MAPPING}, headers=acme.token("operator"))
    viewer = acme.token("viewer")
    fresh = acme.client.post("/api/tenants/acme/mapping/preview", json={}, headers=viewer).json()
    assert (fresh["rows"], fresh["products"], fresh["new"], fresh["changed"], fresh["removed"]) == (
        3,
        3,
        3,
        0,
        0,
    )
    assert fresh["samples"][0]["change"] == "new"

    store = TenantStore(acme.services.db, "acme", PIPELINE)
    with acme.registry.connect("acme", ERP_FILES) as files:
        snapshot_file(store, files, tenant_mapping(acme.registry, "acme"), mode=SyncMode.FULL, run_id=None)
    same = acme.client.post("/api/tenants/acme/mapping/preview", json={}, headers=viewer).json()
    assert (same["unchanged"], same["new"], same["changed"]) == (3, 0, 0)

    retitled = {"fields": {**MAPPING["fields"], "title": {"source": "title", "transforms": ["upper"]}}}
    (acme.files / "acme" / "products.csv").write_text("sku,title,price\nA-1,Shirt,9.99\nA-2,Cap,oops\n")
    tried = acme.client.post(
        "/api/tenants/acme/mapping/preview", json={"mapping": retitled, "limit": 1}, headers=viewer
    )
    preview = tried.json()
    assert (preview["changed"], preview["removed"], preview["row_errors"]) == (1, 2, 1)
    assert preview["samples"] == [{**preview["samples"][0], "change": "changed", "title": "SHIRT"}]
    assert preview["errors"][0]["column"] == "price"
    stored = acme.client.get("/api/tenants/acme/mapping", headers=viewer).json()
    assert stored["mapping"]["fields"]["title"] == {"source": "title"}  # a preview writes nothing


def test_a_tenant_without_erp_files_has_no_mapping(service: Service) -> None:
    service.registry.add("plain", "Plain", [], {})
    answer = service.client.get("/api/tenants/plain/mapping", headers=service.token("viewer", ["plain"]))
    assert answer.status_code == 404
