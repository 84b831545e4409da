"""Security: tenant isolation, secrets nowhere, credential encryption, file paths, SQL metacharacters, TLS."""

from __future__ import annotations

import datetime as dt
import http.server
import inspect
import ipaddress
import json
import logging
import os
import re
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select, update

from connector_pipelines import errors
from connector_pipelines.cli import main
from connector_pipelines.clients.http import ApiClient, ApiError, RetrySettings, TlsSettings
from connector_pipelines.clients.plentymarkets import PlentymarketsClient
from connector_pipelines.clients.shopify import ShopifyClient
from connector_pipelines.clients.shopware6 import Shopware6Client
from connector_pipelines.sandbox.server import FaultConfig
from connector_pipelines.store.db import Database
from connector_pipelines.store.models import (
    Mapping,
    Record,
    RecordError,
    SyncRun,
    SyncState,
    TenantCredential,
)
from connector_pipelines.store.repositories import MappingRow, TenantStore
from connector_pipelines.sync.runtime import SyncMode
from connector_pipelines.tenants.connections import PLENTYMARKETS, SHOPIFY, SHOPWARE6
from connector_pipelines.tenants.crypto import DecryptionError, Keyring, generate_key
from connector_pipelines.tenants.registry import TenantError, TenantRegistry
from connector_pipelines.tenants.systems import ErpFilesSettings
from connector_pipelines_tests.pipelines.conftest import PlentyShopwareTenant

pytestmark = pytest.mark.reliability

PIPELINE = "plenty_shopware"
SQL_NASTIES = [
    "'; DROP TABLE tenants; --",
    '" OR "1"="1',
    "Robert'); DELETE FROM records WHERE ('1'='1",
    "100% _wild_ \\ [x]*?",
    "$1 :param %(name)s ? {0}",
    "ünï 漢字 🧦 \u202e",
    "a\nb\tc\r",
]


# --- tenant isolation -------------------------------------------------------------------------------------


class Anything(BaseModel):
    """Stored settings or credentials as they are, whatever the system."""

    model_config = ConfigDict(extra="allow")


def _public_methods(cls: type) -> set[str]:
    return {
        n for n, v in inspect.getmembers(cls, callable) if not n.startswith("_") and not inspect.isclass(v)
    }


@pytest.fixture
def two_tenants(registry: TenantRegistry, db: Database) -> tuple[TenantStore, TenantStore]:
    """Tenants a and b with the same keys in every table: b's rows are what a must never see or touch."""
    for slug in ("tenant-a", "tenant-b"):
        registry.add(slug, slug, [PIPELINE], {"plentymarkets": {"base_url": f"https://{slug}.example.com"}})
        registry.set_credentials(slug, "plentymarkets", {"username": slug, "password": f"pw-of-{slug}"})
    b = TenantStore(db, "tenant-b", PIPELINE, dead_after=1)  # b's error is a dead letter at once
    b.set_cursor("products", "b-cursor")
    run = b.start_run("full", "products", "dagster-b")
    b.finish_run(run, "success", {"who": "b"})
    b.record_errors("stage", [("key", "b's reason", {"b": 1})], "dagster-b")
    b.put_mappings("product", [MappingRow("key", "b-target", "b-hash", {"b": True})])
    b.put_records("product", [("key", "b-hash", {"b": "payload"})])
    return TenantStore(db, "tenant-a", PIPELINE), b


def _b_rows(db: Database) -> list[tuple[str, Any]]:
    """Every row of tenant b, to compare before and after tenant a's calls."""
    with db.session() as s:
        tenant_b = TenantRegistry(db).tenant_id("tenant-b")
        rows: list[tuple[str, Any]] = []
        for model in (SyncState, SyncRun, RecordError, Mapping, Record, TenantCredential):
            for row in s.scalars(select(model).where(model.tenant_id == tenant_b)):
                values = {c.key: getattr(row, c.key) for c in model.__table__.columns}
                rows.append((model.__name__, sorted(values.items(), key=str)))
    return sorted(rows, key=str)


def _finish_every_run(store: TenantStore) -> None:
    """Tenant a naming run ids of tenant b (ids are global) must finish none of them."""
    for run_id in range(1, 9):
        store.finish_run(run_id, "failed", {"who": "a"}, "a")


# What tenant a calls; each either returns what a may see (checked to hold nothing of b) or writes (checked
# by b's rows staying as they were). A new public method of TenantStore must be added here.
STORE_CALLS: dict[str, Callable[[TenantStore, TenantStore], object]] = {
    "get_cursor": lambda a, b: a.get_cursor("products"),
    "set_cursor": lambda a, b: a.set_cursor("products", "a-cursor"),
    "start_run": lambda a, b: a.start_run("full", "products", "dagster-b"),
    "finish_run": lambda a, b: _finish_every_run(a),
    "last_run": lambda a, b: a.last_run("products"),
    "record_errors": lambda a, b: a.record_errors("stage", [("key", "a's reason", None)], "dagster-a"),
    "resolve_errors": lambda a, b: a.resolve_errors("stage", ["key"]),
    "open_errors": lambda a, b: a.open_errors(),
    "count_open_errors": lambda a, b: a.count_open_errors(),
    "dead_letters": lambda a, b: a.dead_letters(),
    "dead_letter_keys": lambda a, b: a.dead_letter_keys("stage"),
    "rearm_errors": lambda a, b: a.rearm_errors(["key"]),
    "mappings": lambda a, b: a.mappings("product"),
    "mappings_for": lambda a, b: a.mappings_for("product", ["key"]),
    "mapping_hashes": lambda a, b: a.mapping_hashes("product"),
    "put_mappings": lambda a, b: a.put_mappings("product", [MappingRow("key", "a-target", "a-hash")]),
    "delete_mappings": lambda a, b: a.delete_mappings("product", ["key"]),
    "count_mappings": lambda a, b: a.count_mappings("product"),
    "put_records": lambda a, b: a.put_records("product", [("key", "a-hash", {"a": 1})]),
    "record_hashes": lambda a, b: a.record_hashes("product"),
    "iter_records": lambda a, b: list(a.iter_records("product")) + list(a.iter_records("product", ["key"])),
    "records": lambda a, b: a.records("product"),
    "delete_records": lambda a, b: a.delete_records("product", ["key"]),
    "records_updated_at": lambda a, b: a.records_updated_at("product"),
    "record_run_failure": lambda a, b: a.record_run_failure("full", "dagster-b", "a's failure"),
    "product_counts": lambda a, b: a.product_counts("product"),
    "incomplete_products": lambda a, b: a.incomplete_products("product", "EUR"),
}


def test_a_tenant_store_never_reads_or_writes_another_tenants_rows(
    two_tenants: tuple[TenantStore, TenantStore], db: Database
) -> None:
    assert _public_methods(TenantStore) == set(STORE_CALLS), "every public TenantStore method is checked here"
    a, b = two_tenants
    before = _b_rows(db)
    for name in ["get_cursor", "last_run", "open_errors", "count_open_errors", "mappings", "mappings_for"]:
        assert not STORE_CALLS[name](a, b), f"{name} sees b's rows"
    for name in [
        "count_mappings",
        "mapping_hashes",
        "record_hashes",
        "iter_records",
        "records",
        "records_updated_at",
    ]:
        assert not STORE_CALLS[name](a, b), f"{name} sees b's rows"
    for name, call in STORE_CALLS.items():
        result = call(a, b)
        assert "b-" not in repr(result) and "b's" not in repr(result), f"{name} returned b's data: {result!r}"
        assert _b_rows(db) == before, f"{name} of tenant a changed tenant b's rows"
    other_pipeline = TenantStore(db, "tenant-b", "erp_files_shopify")
    assert not other_pipeline.records("product") and not other_pipeline.mappings("product")


def _connected(registry: TenantRegistry) -> object:
    """What tenant a's Plenty client was opened with: its host, user and password."""
    with registry.connect("tenant-a", PLENTYMARKETS) as client:
        return client.base_url, client.username, client._password.get_secret_value()


def _refusal(call: Callable[[], object]) -> str:
    with pytest.raises(errors.ConnectorError) as refused:
        call()
    return str(refused.value)


REGISTRY_CALLS: dict[str, Callable[[TenantRegistry], object]] = {
    "tenants": lambda r: [t for t in r.tenants() if t.slug == "tenant-a"],
    "get": lambda r: r.get("tenant-a"),
    "tenant_id": lambda r: r.tenant_id("tenant-a"),
    "settings": lambda r: r.settings("tenant-a", "plentymarkets", Anything),
    "credentials": lambda r: r.credentials("tenant-a", "plentymarkets", Anything),
    "connect": _connected,
    "add": lambda r: r.add("tenant-c", "c", [PIPELINE]),
    "update": lambda r: r.update("tenant-a", display_name="A", settings={"plentymarkets": {"lang": "en"}}),
    "set_credentials": lambda r: r.set_credentials(
        "tenant-a", "plentymarkets", {"username": "x", "password": "y"}
    ),
    "rotate_keys": lambda r: r.rotate_keys(),
    "missing_settings": lambda r: r.missing_settings("tenant-a", ["plentymarkets", "shopware6"]),
    "removal_summary": lambda r: r.removal_summary("tenant-a"),
    # Refused before any call (the username is empty): what it says names tenant a only.
    "test_credentials": lambda r: _refusal(
        lambda: r.test_credentials("tenant-a", "plentymarkets", {"username": "", "password": "y"})
    ),
    "remove": lambda r: r.remove("tenant-a"),
}


def test_the_registry_keeps_each_tenants_settings_and_credentials_apart(
    two_tenants: tuple[TenantStore, TenantStore], registry: TenantRegistry, db: Database
) -> None:
    assert _public_methods(TenantRegistry) == set(REGISTRY_CALLS), "every public registry method is checked"
    before = _b_rows(db)
    b_info = registry.get("tenant-b")
    for name, call in REGISTRY_CALLS.items():
        result = call(registry)
        assert "tenant-b" not in repr(result) and "pw-of-tenant-b" not in repr(result), f"{name}: {result!r}"
        assert registry.get("tenant-b") == b_info, f"{name} changed tenant b"
        assert _b_rows(db) == before, f"{name} changed tenant b's rows"
    assert (
        registry.credentials("tenant-b", "plentymarkets", Anything).model_dump()["password"]
        == "pw-of-tenant-b"
    )


def test_a_ciphertext_copied_to_another_tenant_is_refused(
    two_tenants: tuple[TenantStore, TenantStore], registry: TenantRegistry, db: Database
) -> None:
    with db.session() as s:
        rows = {r.tenant_id: r for r in s.scalars(select(TenantCredential))}
        a_id, b_id = registry.tenant_id("tenant-a"), registry.tenant_id("tenant-b")
        s.execute(
            update(TenantCredential)
            .where(TenantCredential.tenant_id == a_id)
            .values(key_id=rows[b_id].key_id, ciphertext=rows[b_id].ciphertext)
        )
    with pytest.raises(DecryptionError, match=r"tenant 'tenant-a'.*belongs to another tenant") as refused:
        registry.credentials("tenant-a", "plentymarkets", Anything)
    assert "pw-of-tenant-b" not in str(refused.value)


def test_a_cli_call_for_one_tenant_shows_nothing_of_another(
    two_tenants: tuple[TenantStore, TenantStore], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["tenants", "show", "tenant-a", "--json"])
    assert result.exit_code == 0, result.output
    assert "tenant-b" not in result.output and "pw-of" not in result.output
    assert json.loads(result.output)["slug"] == "tenant-a"


# --- secrets nowhere ----------------------------------------------------------------------------------------


def _everything_stored(db: Database) -> str:
    """Every row of the connector database but the ciphertexts, as text."""
    with db.session() as s:
        return "\n".join(
            repr(row.__dict__)
            for model in (SyncState, SyncRun, RecordError, Mapping, Record)
            for row in s.scalars(select(model))
        )


def test_no_secret_in_logs_metadata_errors_store_or_cli_of_full_runs(
    plenty_shopware: PlentyShopwareTenant, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = plenty_shopware
    caplog.set_level(logging.DEBUG)
    plenty, shopware = tenant.plenty.emulator, tenant.shopware.emulator
    runs = [tenant.sync(mode) for mode in (SyncMode.CONFIG, SyncMode.FULL, SyncMode.PLAN)]
    plenty.expire_tokens()  # renewals: refresh tokens and new access tokens in flight
    shopware.expire_tokens()
    plenty.change_random(0.3, seed=3, kinds=("price",))
    shopware.reject_next_sync_record(next(iter(plenty.catalog.variations.values())).number, times=5)
    runs.append(tenant.sync(SyncMode.DELTA))
    plenty.faults.configure(FaultConfig(storm_429=50, retry_after_s=0))  # fails at once, retries spent
    runs.append(tenant.sync(SyncMode.DELTA))
    plenty.faults.clear()
    tenant.registry.set_credentials(
        tenant.slug,
        "shopware6",
        {"client_id": tenant.shopware.client_id, "client_secret": "wrong-but-secret"},
    )
    runs.append(tenant.sync(SyncMode.CONFIG))
    assert [r.success for r in runs] == [True, True, True, True, False, False]

    secrets = [tenant.plenty.password, tenant.shopware.client_secret, "wrong-but-secret"]
    secrets += [s.access_token for s in plenty.sessions._by_access.values()]
    secrets += [s.refresh_token for s in plenty.sessions._by_refresh.values()]
    secrets += list(shopware.auth.tokens)
    secrets.append(os.environ["CONNECTOR_ENCRYPTION_KEY"])
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", tenant.registry.db.url)
    cli = CliRunner()
    texts = {
        "logs": caplog.text,
        "errors": "\n".join(str(r.error) for r in runs),
        "metadata": json.dumps([r.materializations for r in runs], default=str),
        "event logs": "\n".join(tenant.event_log_text(r.run_id) for r in runs),
        "connector database": _everything_stored(tenant.registry.db),
        "cli": "\n".join(
            cli.invoke(main, args).output
            for args in (["tenants", "list", "--json"], ["tenants", "show", "acme"])
        ),
    }
    assert len(secrets) > 5 and all(len(s) >= 8 for s in secrets)
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a secret in the {where}"


# --- credential encryption ----------------------------------------------------------------------------------


def test_every_tampering_of_a_ciphertext_is_refused() -> None:
    ring = Keyring(bytes(range(32)))
    sealed = ring.encrypt(b'{"password": "hunter2-hunter2"}', "acme", "shopware6")
    blob = sealed.blob
    variants = [blob[:n] for n in range(len(blob))]  # every truncation, down to empty
    variants += [blob[:i] + bytes([blob[i] ^ 0x01]) + blob[i + 1 :] for i in range(len(blob))]  # every byte
    variants += [blob + b"\x00", blob[12:] + blob[:12], bytes(len(blob))]
    for tampered in variants:
        with pytest.raises(DecryptionError, match=r"^tenant 'acme', shopware6: "):
            ring.decrypt(type(sealed)(sealed.key_id, tampered), "acme", "shopware6")
    with pytest.raises(DecryptionError, match="neither"):
        Keyring(bytes(32)).decrypt(sealed, "acme", "shopware6")
    with pytest.raises(DecryptionError, match="altered or belongs to another tenant"):
        Keyring(bytes(32), old=[bytes(range(1, 33))]).decrypt(
            type(sealed)(Keyring(bytes(range(1, 33))).current_id, blob), "acme", "shopware6"
        )


def test_key_rotation_keeps_every_tenant_readable(
    registry: TenantRegistry, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = generate_key(), generate_key()
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEY", old)
    written = {}
    for i in range(5):
        slug = f"tenant-{i}"
        registry.add(slug, slug, [PIPELINE])
        for system, creds in (
            ("plentymarkets", {"username": slug, "password": f"pw-{i}-{slug}"}),
            ("shopware6", {"client_id": slug, "client_secret": f"cs-{i}-{slug}"}),
        ):
            registry.set_credentials(slug, system, creds)
            written[(slug, system)] = creds

    def readable(reg: TenantRegistry) -> dict[tuple[str, str], dict[str, Any]]:
        return {
            (slug, system): reg.credentials(slug, system, Anything).model_dump() for slug, system in written
        }

    assert readable(TenantRegistry(db)) == written
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEY", new)
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEYS_OLD", old)
    rotating = TenantRegistry(db)
    assert readable(rotating) == written, "readable with the old key among the old ones"
    assert rotating.rotate_keys() == len(written)
    assert rotating.rotate_keys() == 0, "a second rotation has nothing left to do"
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEYS_OLD", "")
    assert readable(TenantRegistry(db)) == written, "readable with the new key alone"
    with db.session() as s:
        assert {c.key_id for c in s.scalars(select(TenantCredential))} == {Keyring.from_env().current_id}


def test_a_rotation_meeting_an_unreadable_row_changes_nothing(
    registry: TenantRegistry, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = generate_key()
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEY", old)
    for slug in ("tenant-a", "tenant-b"):
        registry.add(slug, slug, [PIPELINE])
        registry.set_credentials(slug, "plentymarkets", {"username": slug, "password": "pw-pw-pw"})
    with db.session() as s:
        row = s.scalars(select(TenantCredential).order_by(TenantCredential.tenant_id.desc())).first()
        assert row is not None
        row.ciphertext = row.ciphertext[:-1] + bytes([row.ciphertext[-1] ^ 1])
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEY", generate_key())
    monkeypatch.setenv("CONNECTOR_ENCRYPTION_KEYS_OLD", old)
    with db.session() as s:
        before = sorted((c.tenant_id, c.key_id, c.ciphertext) for c in s.scalars(select(TenantCredential)))
    with pytest.raises(DecryptionError):
        TenantRegistry(db).rotate_keys()
    with db.session() as s:
        after = sorted((c.tenant_id, c.key_id, c.ciphertext) for c in s.scalars(select(TenantCredential)))
    assert after == before, "all or nothing"


# --- file paths ---------------------------------------------------------------------------------------------

ESCAPES = [
    "../secret.csv",
    "exports/../../secret.csv",
    "/etc/passwd",
    "C:/Windows/win.ini",
    "c:secret.csv",
    "exports\\..\\secret.csv",
    "exports/\x00.csv",
    "exports/\n.csv",
    "./../x.csv",
]


@pytest.mark.parametrize("value", ESCAPES)
@pytest.mark.parametrize("field", ["path", "pattern", "root", "mapping_file"])
def test_file_settings_refuse_paths_that_leave_their_root(field: str, value: str) -> None:
    base: dict[str, Any] = {
        "kind": "sftp",
        "host": "files.example.com",
        "sftp_host_key": "SHA256:" + "A" * 43,
    }
    base |= {"pattern": "exports/*.csv"} if field == "path" else {"path": "exports/products.csv"}
    if field in ("root", "mapping_file") and re.match(r"^(/|[A-Za-z]:)", value):
        pytest.skip(f"{field} may be absolute: the operator's choice, like a local source's root")
    if field == "pattern":
        base.pop("path")
    with pytest.raises(ValidationError):
        ErpFilesSettings.model_validate({**base, field: value})


def test_a_local_source_never_reads_outside_its_root(tmp_path: Path) -> None:
    from connector_pipelines.clients.erp_files import FileSourceError, LocalFileSource

    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.csv").write_text("sku\nS\n")
    (root / "link.csv").symlink_to(tmp_path / "secret.csv")
    source = LocalFileSource(ErpFilesSettings(kind="local", root=str(root), path="link.csv"))
    with pytest.raises(FileSourceError, match="outside the root"), source.open_binary("link.csv"):
        pass
    for escape in ("../secret.csv", "/etc/passwd"):
        with pytest.raises((FileSourceError, ValueError)), source.open_binary(escape):
            pass


# --- SQL metacharacters -------------------------------------------------------------------------------------


@pytest.mark.parametrize("nasty", SQL_NASTIES)
def test_sql_metacharacters_are_stored_and_returned_verbatim(
    registry: TenantRegistry, db: Database, nasty: str
) -> None:
    info = registry.add(
        "acme",
        nasty,
        [PIPELINE],
        {
            "shopware6": {
                "base_url": "https://shop.example.com",
                "sales_channel_name": nasty,
                "currency_map": {"EUR": nasty},
            }
        },
    )
    registry.set_credentials("acme", "shopware6", {"client_id": nasty, "client_secret": nasty + "-secret"})
    assert info.display_name == nasty and registry.tenants()[0].display_name == nasty
    assert registry.get("acme").settings["shopware6"]["sales_channel_name"] == nasty
    assert registry.update("acme", display_name=nasty + "!").display_name == nasty + "!"
    creds = registry.credentials("acme", "shopware6", Anything).model_dump()
    assert creds == {"client_id": nasty, "client_secret": nasty + "-secret"}
    store = TenantStore(db, "acme", PIPELINE)
    kind = nasty[:40]  # kinds and stages are columns of 40: the pipeline's own names, not user input
    store.set_cursor(kind, nasty)
    store.put_records(kind, [(nasty, nasty[:64], {nasty: [nasty]})])
    store.put_mappings(kind, [MappingRow(nasty, nasty, nasty[:64], {nasty: nasty})])
    store.record_errors(kind, [(nasty, nasty, {"payload": nasty})], nasty[:64])
    assert store.get_cursor(kind) == nasty
    assert store.records(kind) == {nasty: {nasty: [nasty]}}
    assert store.record_hashes(kind) == {nasty: nasty[:64]}
    assert store.mappings(kind) == {nasty: MappingRow(nasty, nasty, nasty[:64], {nasty: nasty})}
    (error,) = store.open_errors(kind)
    assert (error.record_key, error.reason, error.payload) == (nasty, nasty, {"payload": nasty})
    assert store.resolve_errors(kind, [nasty]) == 1
    store.delete_records(kind, [nasty])
    store.delete_mappings(kind, [nasty])
    assert store.records(kind) == {} and store.mappings(kind) == {}
    assert {t.slug for t in registry.tenants()} == {"acme"}, "no statement was cut short or extended"


def test_a_nul_character_in_source_data_never_fails_a_write(registry: TenantRegistry, db: Database) -> None:
    """PostgreSQL cannot store U+0000 in text or jsonb: it becomes U+FFFD there instead of failing the run."""
    registry.add("acme", "ACME", [PIPELINE])
    store = TenantStore(db, "acme", PIPELINE)
    text = "Kabel\x00 5 m"
    shown = text if db.dialect == "sqlite" else "Kabel\ufffd 5 m"
    store.put_records("product", [(text, "h", {"name": text, text: [text, 1]})])
    store.record_errors("stage", [(text, f"bad {text}", {"v": text})], None)
    store.put_mappings("product", [MappingRow(text, text, "h", {"n": text})])
    assert store.records("product") == {shown: {"name": shown, shown: [shown, 1]}}
    (error,) = store.open_errors()
    assert (error.record_key, error.reason, error.payload) == (shown, f"bad {shown}", {"v": shown})
    assert store.mappings_for("product", [text])[shown].extra == {"n": shown}
    store.delete_records("product", [text])
    assert store.records("product") == {}, "the key as the source spells it still finds the row"


def test_a_tenant_slug_cannot_carry_sql(registry: TenantRegistry) -> None:
    for slug in SQL_NASTIES:
        with pytest.raises(TenantError, match="invalid tenant slug"):
            registry.add(slug, "x", [PIPELINE])


# --- TLS ----------------------------------------------------------------------------------------------------


class _Tls:
    def __init__(self, directory: Path) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "connector test")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)  # self-signed
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .sign(key, hashes.SHA256())
        )
        self.cert = directory / "cert.pem"
        self.key = directory / "key.pem"
        self.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )


class _Answer(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback with a self-signed certificate: (base URL, the certificate's PEM)."""
    tls = _Tls(tmp_path_factory.mktemp("tls"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert, tls.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", tls.cert
    server.shutdown()


CLIENTS: dict[str, Callable[..., ApiClient]] = {
    "api": lambda url, **kw: ApiClient(url, **kw),
    "plentymarkets": lambda url, **kw: PlentymarketsClient(url, "user", "password", **kw),
    "shopware6": lambda url, **kw: Shopware6Client(url, "SWIA", "secret", **kw),
    "shopify": lambda url, **kw: ShopifyClient(url.replace("127.0.0.1", "localhost"), "shpat", **kw),
}


@pytest.mark.parametrize("system", CLIENTS)
def test_every_client_verifies_tls_and_trusts_only_a_configured_ca(
    system: str, https_server: tuple[str, Path]
) -> None:
    url, cert = https_server
    retry = RetrySettings(max_attempts=3, base_delay_s=0)
    client = CLIENTS[system](url, retry=retry)
    with pytest.raises(ApiError, match="certificate") as refused:
        client.request("GET", "/probe", authenticated=False)
    assert client.stats.calls == 1, "a certificate that is not trusted is not retried"
    assert "self-signed" in str(refused.value) or "verify failed" in str(refused.value)
    trusted = CLIENTS[system](url, retry=retry, tls=TlsSettings(ca_bundle=str(cert)))
    assert trusted.request("GET", "/probe", authenticated=False).status_code == 200
    # No setting turns verification off, neither on the client nor in a tenant's settings.
    assert set(TlsSettings.model_fields) == {"ca_bundle"}
    with pytest.raises(ValidationError):
        ErpFilesSettings.model_validate(
            {
                "kind": "ftps",
                "host": "h.example.com",
                "path": "a.csv",
                "tls": {"ca_bundle": None, "verify": False},
            }
        )


def test_tenant_settings_reach_the_clients_with_verification_on(
    https_server: tuple[str, Path], registry: TenantRegistry
) -> None:
    url, cert = https_server
    registry.add(
        "acme",
        "ACME",
        ["plenty_shopware", "erp_files_shopify"],
        {
            "plentymarkets": {"base_url": url},
            "shopware6": {"base_url": url, "tls": {"ca_bundle": str(cert)}},
            "shopify": {"shop_url": url.replace("127.0.0.1", "localhost")},
        },
    )
    registry.set_credentials("acme", "plentymarkets", {"username": "u", "password": "p"})
    registry.set_credentials("acme", "shopware6", {"client_id": "c", "client_secret": "s"})
    registry.set_credentials("acme", "shopify", {"access_token": "t"})
    with pytest.raises(ApiError, match="certificate"), registry.connect("acme", PLENTYMARKETS) as plenty:
        plenty.request("GET", "/probe", authenticated=False)
    with pytest.raises(ApiError, match="certificate"), registry.connect("acme", SHOPIFY) as shopify:
        shopify.request("GET", "/probe", authenticated=False)
    with registry.connect("acme", SHOPWARE6) as shopware:
        assert shopware.request("GET", "/probe", authenticated=False).status_code == 200
    with pytest.raises(TenantError, match=r"tls\.verify: Extra inputs are not permitted"):
        registry.add("globex", "G", [PIPELINE], {"shopware6": {"base_url": url, "tls": {"verify": False}}})
