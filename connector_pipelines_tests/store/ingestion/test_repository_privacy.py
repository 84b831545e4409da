"""Personal data in the ingestion store: encrypted at rest, found by email hash, exported on request, and
destroyed (crypto-shredding) per customer and per tenant."""

from __future__ import annotations

import base64

import orjson
import pytest
from sqlalchemy import JSON, LargeBinary, String, insert, select

from connector_pipelines.catalog.commerce import Customer, Order
from connector_pipelines.store.ingestion.db import IngestionDatabase
from connector_pipelines.store.ingestion.keys import PiiUnavailableError
from connector_pipelines.store.ingestion.models import Customer as CustomerRow
from connector_pipelines.store.ingestion.models import IngestionBase, table_of
from connector_pipelines.store.ingestion.repository import IngestionRepository
from connector_pipelines.tenants.crypto import Keyring, generate_key
from connector_pipelines.tenants.pii import PiiKeys
from connector_pipelines_tests.store.ingestion.records import customer, order

CUSTOMERS = table_of(CustomerRow)


def _plaintexts(c: Customer) -> list[str]:
    values = [c.pii.email, c.pii.first_name, c.pii.last_name, c.pii.phone]
    for address in c.addresses:
        values += [address.pii.address1, address.pii.city, address.pii.zip, address.pii.last_name]
    return [v for v in values if v]


def _every_stored_value(db: IngestionDatabase) -> list[bytes]:
    """Every text, binary and JSON value of every ingestion table, as bytes."""
    found: list[bytes] = []
    with db.session() as session:
        for table in IngestionBase.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | LargeBinary | JSON)]
            for row in session.execute(select(*columns)):
                for value in row:
                    if isinstance(value, bytes):
                        found.append(value)
                    elif isinstance(value, str):
                        found.append(value.encode())
                    elif value is not None:
                        found.append(orjson.dumps(value))
    return found


def _customer_row(db: IngestionDatabase, tenant: str, customer_id: int) -> dict[str, object]:
    with db.session() as session:
        row = session.execute(
            select(CUSTOMERS).where(CUSTOMERS.c.tenant == tenant, CUSTOMERS.c.shopify_id == customer_id)
        ).one()
        return dict(row._mapping)


def _keys(current: str, *old: str) -> PiiKeys:
    return PiiKeys(Keyring(base64.b64decode(current), [base64.b64decode(k) for k in old]))


def test_no_plaintext_personal_data_in_any_table(
    repo: IngestionRepository, ingestion_db: IngestionDatabase
) -> None:
    customers = [customer(1), customer(2, email="Second.Person@Example.ORG")]
    repo.upsert_customers("acme", customers)
    repo.upsert_orders("acme", [order(1, customer_id=1)])
    repo.redact_customer("acme", 2, request_id="req-1")
    stored = _every_stored_value(ingestion_db)
    assert stored, "the grep saw the tables"
    for plaintext in [p for c in customers for p in _plaintexts(c)]:
        for form in {plaintext, plaintext.lower()}:
            assert not any(form.encode() in value for value in stored), f"{form!r} stored in clear"


def test_personal_data_round_trips_through_a_data_request(repo: IngestionRepository) -> None:
    original = customer(1)
    repo.upsert_customers("acme", [original, customer(2)])
    repo.upsert_orders("acme", [order(1, customer_id=1), order(2, customer_id=2), order(3, customer_id=1)])
    export = repo.customer_data("acme", 1)
    assert export.customer == original
    assert [o.id for o in export.orders] == [1, 3]
    assert export.orders[0] == order(1, customer_id=1)
    assert export.customer_deleted_at is None
    assert list(repo.iter_customers("acme")) == [original, customer(2)]
    with pytest.raises(PiiUnavailableError, match=r"^tenant 'acme': customer 9 is not stored$"):
        repo.customer_data("acme", 9)


def test_customers_are_found_by_email_hash_without_decrypting(
    repo: IngestionRepository, ingestion_db: IngestionDatabase
) -> None:
    repo.upsert_customers(
        "acme",
        [customer(1, email="dup@example.org"), customer(2, email=" DUP@Example.org "), customer(3)],
    )
    repo.upsert_customers("globex", [customer(1, email="dup@example.org")])
    assert repo.find_customers_by_email("acme", "Dup@Example.Org") == [1, 2]
    assert repo.find_customers_by_email("acme", "nobody@example.org") == []
    acme_hash = _customer_row(ingestion_db, "acme", 1)["email_hash"]
    globex_hash = _customer_row(ingestion_db, "globex", 1)["email_hash"]
    assert acme_hash != globex_hash, "the hash key is the tenant's: equal emails differ across tenants"
    assert repo.find_customers_by_email("initech", "dup@example.org") == []


def test_ciphertext_moved_to_another_customer_fails(
    repo: IngestionRepository, ingestion_db: IngestionDatabase
) -> None:
    repo.upsert_customers("acme", [customer(1), customer(2)])
    stolen = _customer_row(ingestion_db, "acme", 1)["pii"]
    with ingestion_db.session() as session:
        session.execute(
            CUSTOMERS.update()
            .where(CUSTOMERS.c.tenant == "acme", CUSTOMERS.c.shopify_id == 2)
            .values(pii=stolen)
        )
    with pytest.raises(PiiUnavailableError, match=r"^tenant 'acme': customer 2: .*failed authentication"):
        repo.customer_data("acme", 2)


def test_master_key_rotation_rewraps_data_keys_and_no_row(ingestion_db: IngestionDatabase) -> None:
    old, new = generate_key(), generate_key()
    IngestionRepository(ingestion_db, _keys(old)).upsert_customers("acme", [customer(1)])
    IngestionRepository(ingestion_db, _keys(old)).upsert_customers("globex", [customer(1)])
    before = _customer_row(ingestion_db, "acme", 1)
    assert IngestionRepository(ingestion_db, _keys(new, old)).rewrap_data_keys() == 2
    assert IngestionRepository(ingestion_db, _keys(new, old)).rewrap_data_keys() == 0
    after = _customer_row(ingestion_db, "acme", 1)
    assert (after["pii"], after["email_hash"], after["synced_at"]) == (
        before["pii"],
        before["email_hash"],
        before["synced_at"],
    ), "no row was rewritten"
    only_new = IngestionRepository(ingestion_db, _keys(new))
    assert only_new.customer_data("acme", 1).customer == customer(1)
    assert only_new.find_customers_by_email("globex", customer(1).pii.email or "") == [1]
    with pytest.raises(PiiUnavailableError) as info:
        IngestionRepository(ingestion_db, _keys(old)).customer_data("acme", 1)
    message = str(info.value)
    assert message.startswith("tenant 'acme': the personal-data key ")
    assert "CONNECTOR_ENCRYPTION_KEYS_OLD" in message
    assert old not in message and new not in message


def test_redacting_a_customer_destroys_its_personal_data_for_good(
    repo: IngestionRepository, ingestion_db: IngestionDatabase
) -> None:
    repo.upsert_customers("acme", [customer(1), customer(2)])
    repo.upsert_orders("acme", [order(1, customer_id=1)])
    record = repo.redact_customer("acme", 1, request_id="gdpr-77")
    assert (record.scope, record.reason, record.customer_id, record.request_id) == (
        "customer",
        "customers/redact",
        1,
        "gdpr-77",
    )
    assert record.rows == {"shopify_customers": 1, "shopify_customer_addresses": 2}
    row = _customer_row(ingestion_db, "acme", 1)
    assert (row["pii"], row["email_hash"], row["tags"]) == (None, None, None)
    assert repo.count("acme", "customer_addresses") == 2, "only customer 2's addresses are left"
    with pytest.raises(PiiUnavailableError) as info:
        repo.customer_data("acme", 1)
    assert str(info.value).startswith("tenant 'acme': customer 1's personal data was destroyed at ")
    assert "(customers/redact, request gdpr-77)" in str(info.value)
    assert repo.find_customers_by_email("acme", customer(1).pii.email or "") == []
    assert [c.pii.email for c in repo.iter_customers("acme")] == [None, customer(2).pii.email]
    late = repo.upsert_customers("acme", [customer(1, updated=60)])
    assert (late.skipped_redacted, late.rows_written) == (1, 0), "a later sync does not bring the data back"
    assert _customer_row(ingestion_db, "acme", 1)["pii"] is None
    assert repo.count("acme", "orders") == 1, "orders hold no personal data and stay for the sales"
    assert repo.redact_customer("acme", 1, request_id="gdpr-77") == record, "a replay records nothing new"
    assert len(repo.redactions("acme")) == 1
    assert repo.customer_data("acme", 2).customer == customer(2)


def test_redacting_a_customer_never_stored_keeps_it_out(repo: IngestionRepository) -> None:
    repo.redact_customer("acme", 5, request_id="gdpr-1")
    assert repo.upsert_customers("acme", [customer(5)]).skipped_redacted == 1
    assert repo.count("acme", "customers") == 0


def test_shredding_a_tenant_makes_its_data_unreadable(
    repo: IngestionRepository, ingestion_db: IngestionDatabase
) -> None:
    repo.upsert_customers("acme", [customer(1), customer(2)])
    repo.upsert_orders("acme", [order(1)])
    repo.set_cursor("acme", "orders", "2026-03-01T00:00:00Z")
    repo.upsert_customers("globex", [customer(1)])
    backup = _customer_row(ingestion_db, "acme", 1)
    record = repo.shred_tenant("acme", request_id="shop-redact-9")
    assert (record.scope, record.reason, record.request_id, record.customer_id) == (
        "tenant",
        "shop/redact",
        "shop-redact-9",
        None,
    )
    assert record.data_key_id is not None
    assert record.rows["shopify_customers"] == 2
    assert record.rows["shopify_order_lines"] == 2
    assert repo.count("acme", "customers", include_deleted=True) == 0
    assert repo.count("acme", "orders", include_deleted=True) == 0
    assert repo.cursors("acme") == {}
    assert repo.redactions("acme") == [record]
    with pytest.raises(
        PiiUnavailableError, match=r"^tenant 'acme': customer 2: the tenant's data was destroyed"
    ):
        repo.customer_data("acme", 2)
    # A copy of the row made before (a backup) is ciphertext without a key.
    with ingestion_db.session() as session:
        session.execute(insert(CUSTOMERS).values(**backup))
    fresh = IngestionRepository(ingestion_db, PiiKeys(Keyring.from_env()))
    with pytest.raises(PiiUnavailableError) as info:
        fresh.customer_data("acme", 1)
    assert str(info.value).startswith("tenant 'acme': the tenant has no personal-data key (destroyed at ")
    assert fresh.customer_data("globex", 1).customer == customer(1), "other tenants are untouched"


def test_a_tenant_added_again_gets_a_new_key(ingestion_db: IngestionDatabase) -> None:
    repo = IngestionRepository(ingestion_db, PiiKeys(Keyring.from_env()))
    repo.upsert_customers("acme", [customer(1)])
    backup = _customer_row(ingestion_db, "acme", 1)
    old_key = repo.shred_tenant("acme", reason="tenant removed").data_key_id
    assert repo.upsert_customers("acme", [customer(2)]).inserted == 1
    assert repo.customer_data("acme", 2).customer == customer(2)
    with ingestion_db.session() as session:
        session.execute(insert(CUSTOMERS).values(**backup))
    with pytest.raises(PiiUnavailableError) as info:
        repo.customer_data("acme", 1)
    assert str(info.value).startswith(
        f"tenant 'acme': customer 1: the personal data of customer:1 was sealed with data key {old_key}, "
        "which no longer exists"
    )


def test_a_writer_stops_when_its_tenant_is_shredded_meanwhile(ingestion_db: IngestionDatabase) -> None:
    writer = IngestionRepository(ingestion_db, PiiKeys(Keyring.from_env()))
    writer.upsert_customers("acme", [customer(1)])
    IngestionRepository(ingestion_db, PiiKeys(Keyring.from_env())).shred_tenant("acme")
    with pytest.raises(
        PiiUnavailableError, match=r"^tenant 'acme': the personal-data key \w+ was destroyed while"
    ):
        writer.upsert_customers("acme", [customer(2)])
    assert writer.count("acme", "customers") == 0


def test_orders_of_a_customer_carry_no_personal_data() -> None:
    assert not {"email", "phone", "first_name", "last_name", "addresses"} & set(Order.model_fields)
