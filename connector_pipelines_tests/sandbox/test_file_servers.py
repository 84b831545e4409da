"""The ERP file sandbox: the same catalog read over a local folder, FTP, FTPS and SFTP; TLS and host-key
verification; change detection; the seeded catalogs, their mutations and the default mapping."""

from __future__ import annotations

import base64
import hashlib
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector_pipelines.catalog.models import Product
from connector_pipelines.clients.erp_files import (
    FileConnectionError,
    FileSource,
    FileSourceError,
    HostKeyMismatchError,
    host_key_fingerprint,
    open_source,
)
from connector_pipelines.sandbox.file_servers import (
    ErpFileLayout,
    FtpSandbox,
    SftpSandbox,
    add_products,
    change_prices,
    default_mapping,
    delete_products,
    generate_client_key,
    rename_product,
    touch,
    write_erp_catalog,
)
from connector_pipelines.sources.erp_files import RowError, SourceRow, read_records
from connector_pipelines.sources.erp_mapping.products import map_records
from connector_pipelines.tenants.systems import ErpFilesCredentials, ErpFilesSettings

LAYOUT = ErpFileLayout(delimiter=";", decimal_separator=",", bom=True)
PATTERN = "exports/products_*.csv"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "exports").mkdir()
    write_erp_catalog(tmp_path / "exports/products_1.csv", products=4, variants=3, seed=7, layout=LAYOUT)
    touch(tmp_path / "exports/products_1.csv", datetime(2026, 1, 1, tzinfo=UTC))
    write_erp_catalog(tmp_path / "exports/products_2.csv", products=6, variants=2, seed=7, layout=LAYOUT)
    touch(tmp_path / "exports/products_2.csv", datetime(2026, 1, 2, tzinfo=UTC))
    return tmp_path


@pytest.fixture
def ftp(root: Path) -> Iterator[FtpSandbox]:
    with FtpSandbox(root) as server:
        yield server


@pytest.fixture
def ftps(root: Path) -> Iterator[FtpSandbox]:
    pytest.importorskip("OpenSSL", reason="pyftpdlib's FTPS handler needs pyOpenSSL")
    with FtpSandbox(root, tls=True) as server:
        yield server


@pytest.fixture
def implicit_ftps(root: Path) -> Iterator[FtpSandbox]:
    pytest.importorskip("OpenSSL", reason="pyftpdlib's FTPS handler needs pyOpenSSL")
    with FtpSandbox(root, tls=True, implicit=True) as server:
        yield server


@pytest.fixture
def sftp(root: Path) -> Iterator[SftpSandbox]:
    with SftpSandbox(root) as server:
        yield server


def _read(settings: ErpFilesSettings, credentials: ErpFilesCredentials | None = None) -> list[SourceRow]:
    with open_source(settings, credentials) as source:
        return [r for r in read_records(source) if isinstance(r, SourceRow)]


def _local(root: Path) -> ErpFilesSettings:
    return ErpFilesSettings.model_validate(
        {"kind": "local", "root": str(root), "pattern": PATTERN} | LAYOUT.format_settings()
    )


@pytest.mark.parametrize("kind", ["ftp", "ftps", "implicit_ftps", "sftp", "sftp with a key"])
def test_the_same_catalog_over_local_ftp_ftps_and_sftp(
    root: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    expected = _read(_local(root))
    assert len(expected) == 12  # the newest match: 6 products x 2 variants
    assert all(row.file == "exports/products_2.csv" for row in expected)
    if kind == "sftp with a key":
        key = generate_client_key()
        with SftpSandbox(root, authorized_keys=[key.public_openssh]) as keyed:
            known_hosts_line = f"[127.0.0.1]:{keyed.port} {keyed.host_public_key}"
            settings = keyed.settings(LAYOUT, pattern=PATTERN, sftp_host_key=known_hosts_line)
            assert _read(settings, keyed.credentials(key)) == expected
        return
    server: FtpSandbox | SftpSandbox = request.getfixturevalue(kind)
    assert _read(server.settings(LAYOUT, pattern=PATTERN), server.credentials()) == expected


def test_ftps_verifies_the_certificate(ftps: FtpSandbox) -> None:
    settings = ftps.settings(LAYOUT, pattern=PATTERN, tls={})  # the system trust store only
    with open_source(settings, ftps.credentials()) as source, pytest.raises(FileSourceError) as exc:
        source.list_files()
    assert "TLS certificate of ftps://127.0.0.1" in str(exc.value)
    assert "not trusted" in str(exc.value)
    assert ftps.password not in str(exc.value)


def test_ftps_requires_tls_from_clients(ftps: FtpSandbox) -> None:
    plain = ftps.settings(LAYOUT, pattern=PATTERN, kind="ftp", tls={})
    with open_source(plain, ftps.credentials()) as source, pytest.raises(FileSourceError) as exc:
        source.list_files()
    assert ftps.password not in str(exc.value)


def test_implicit_ftps_speaks_tls_from_the_first_byte(implicit_ftps: FtpSandbox, ftps: FtpSandbox) -> None:
    settings = implicit_ftps.settings(LAYOUT, pattern=PATTERN)
    assert (settings.kind, settings.ftps_mode) == ("ftps", "implicit")
    with socket.create_connection((implicit_ftps.host, implicit_ftps.port)) as plain:
        # The server waits for a TLS handshake: a ClientHello gets a TLS record back, never a "220" greeting.
        context = ssl.create_default_context(cafile=str(implicit_ftps.ca_file))
        with context.wrap_socket(plain, server_hostname=implicit_ftps.host) as secured:
            assert secured.recv(4).startswith(b"220"), "greeted once TLS is up"
    with open_source(settings, implicit_ftps.credentials()) as source:
        assert sorted(f.path for f in source.list_files()) == [
            "exports/products_1.csv",
            "exports/products_2.csv",
        ]

    # An explicit FTPS server greets in plain text: an implicit client says which mode to set.
    wrong = ftps.settings(LAYOUT, pattern=PATTERN, ftps_mode="implicit")
    with open_source(wrong, ftps.credentials()) as source, pytest.raises(FileSourceError) as exc:
        source.list_files()
    assert "does not start TLS at once" in str(exc.value) and "ftps_mode: explicit" in str(exc.value)
    assert not isinstance(exc.value, FileConnectionError), "a setting to fix, not retried"


def test_sftp_refuses_a_wrong_host_key(sftp: SftpSandbox) -> None:
    other = host_key_fingerprint(b"another server's key")
    for pinned in (other, generate_client_key().public_openssh):
        settings = sftp.settings(LAYOUT, pattern=PATTERN, sftp_host_key=pinned)
        with open_source(settings, sftp.credentials()) as source, pytest.raises(HostKeyMismatchError) as exc:
            source.list_files()
        assert f"the server presented ssh-ed25519 {sftp.host_key_fingerprint}" in str(exc.value)


def test_sftp_sandbox_setting_accepts_any_host_key(sftp: SftpSandbox) -> None:
    settings = sftp.settings(LAYOUT, pattern=PATTERN, sftp_host_key=None, sftp_accept_unknown_host_key=True)
    assert len(_read(settings, sftp.credentials())) == 12


def test_wrong_credentials_are_refused_without_echoing_them(ftp: FtpSandbox, sftp: SftpSandbox) -> None:
    wrong = "wrong-password-123"
    for server, settings in (
        (ftp, ftp.settings(LAYOUT, pattern=PATTERN)),
        (sftp, sftp.settings(LAYOUT, pattern=PATTERN)),
    ):
        credentials = ErpFilesCredentials.model_validate({"username": "erp", "password": wrong})
        with open_source(settings, credentials) as source, pytest.raises(FileSourceError) as exc:
            source.list_files()
        assert "login refused for user 'erp'" in str(exc.value), server
        assert wrong not in str(exc.value)


def _identity_changes(source: FileSource, root: Path) -> None:
    before = source.identity()
    rename_product(root / "exports/products_2.csv", LAYOUT, "P000001", "Renamed")
    assert source.identity() != before


def test_newest_match_and_change_detection_over_ftp_and_sftp(
    root: Path, ftp: FtpSandbox, sftp: SftpSandbox
) -> None:
    for settings, credentials in (
        (ftp.settings(LAYOUT, pattern=PATTERN), ftp.credentials()),
        (sftp.settings(LAYOUT, pattern=PATTERN), sftp.credentials()),
    ):
        touch(root / "exports/products_2.csv", datetime(2026, 1, 2, tzinfo=UTC))
        with open_source(settings, credentials) as source:
            newest = source.newest()
            assert newest.path == "exports/products_2.csv"
            assert newest.mtime == datetime(2026, 1, 2, tzinfo=UTC)
            assert newest.size == (root / newest.path).stat().st_size
            touch(root / "exports/products_1.csv", datetime(2026, 1, 3, tzinfo=UTC))
            assert source.newest().path == "exports/products_1.csv"
            touch(root / "exports/products_1.csv", datetime(2026, 1, 1, tzinfo=UTC))
            _identity_changes(source, root)


def test_servers_without_mlsd_size_or_mdtm_fall_back_to_content_hashes(root: Path) -> None:
    with (
        FtpSandbox(root, legacy=True) as server,
        open_source(server.settings(LAYOUT, pattern=PATTERN), server.credentials()) as source,
    ):
        files = source.list_files()
        assert {(f.size, f.mtime) for f in files} == {(None, None)}
        assert source.newest().path == "exports/products_2.csv"  # the greater name, without mtimes
        identity = source.identity()
        assert identity.sha256 == hashlib.sha256((root / "exports/products_2.csv").read_bytes()).hexdigest()
        change_prices(root / "exports/products_2.csv", LAYOUT, fraction=1.0)
        assert source.identity().sha256 != identity.sha256


@pytest.mark.parametrize("kind", ["ftp", "ftps", "implicit_ftps", "sftp"])
def test_a_reader_may_stop_early_and_the_source_reads_again(
    kind: str, request: pytest.FixtureRequest
) -> None:
    server: FtpSandbox | SftpSandbox = request.getfixturevalue(kind)
    with open_source(server.settings(LAYOUT, pattern=PATTERN), server.credentials()) as source:
        records = read_records(source)
        assert isinstance(next(records), SourceRow)
        records.close()  # a sample: the transfer is abandoned
        assert len([r for r in read_records(source) if isinstance(r, SourceRow)]) == 12


def test_host_key_fingerprints_match_openssh() -> None:
    key = generate_client_key()
    blob = base64.b64decode(key.public_openssh.split()[1])
    assert host_key_fingerprint(blob) == "SHA256:" + base64.b64encode(
        hashlib.sha256(blob).digest()
    ).decode().rstrip("=")


# --- seeded catalogs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layout",
    [
        ErpFileLayout(),
        ErpFileLayout(delimiter=";", decimal_separator=",", encoding="latin-1"),
        ErpFileLayout(format="json", json_records_path="data.products"),
        ErpFileLayout(format="ndjson"),
    ],
    ids=["csv", "csv-latin1-comma", "json", "ndjson"],
)
def test_catalogs_map_without_errors_through_the_default_mapping(
    tmp_path: Path, layout: ErpFileLayout
) -> None:
    path = tmp_path / f"catalog.{layout.format}"
    summary = write_erp_catalog(path, products=30, variants=4, seed=3, layout=layout)
    assert (summary.products, summary.variants) == (30, 120)
    settings = ErpFilesSettings.model_validate(
        {"kind": "local", "root": str(tmp_path), "path": path.name} | layout.format_settings()
    )
    with open_source(settings) as source:
        items = list(map_records(default_mapping(layout), read_records(source)))
    assert [i for i in items if isinstance(i, RowError)] == []
    products = [i for i in items if isinstance(i, Product)]
    assert len(products) == 30
    assert all(len(p.variants) == 4 for p in products)
    first = products[0]
    assert first.key == "erp_files:product:P000001"
    assert {m.key for m in first.metafields} == {"material", "care", "release_date"}
    assert [o.option_name for o in first.variants[0].options] == ["Color", "Size"]
    assert first.variants[0].prices[0].gross > 0


def test_catalogs_are_deterministic(tmp_path: Path) -> None:
    write_erp_catalog(tmp_path / "a.csv", products=5, variants=3, seed=11)
    write_erp_catalog(tmp_path / "b.csv", products=5, variants=3, seed=11)
    write_erp_catalog(tmp_path / "c.csv", products=5, variants=3, seed=12)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()
    with pytest.raises(ValueError, match="at most"):
        write_erp_catalog(tmp_path / "d.csv", products=1, variants=100)


@pytest.mark.parametrize("layout", [LAYOUT, ErpFileLayout(format="json")], ids=["csv", "json"])
def test_mutation_helpers(tmp_path: Path, layout: ErpFileLayout) -> None:
    path = tmp_path / f"catalog.{layout.format}"
    write_erp_catalog(path, products=10, variants=2, layout=layout)
    settings = ErpFilesSettings.model_validate(
        {"kind": "local", "root": str(tmp_path), "path": path.name} | layout.format_settings()
    )

    def catalog() -> dict[str, Product]:
        with open_source(settings) as source:
            items = list(map_records(default_mapping(layout), read_records(source)))
        assert [i for i in items if isinstance(i, RowError)] == []
        return {p.key: p for p in items if isinstance(p, Product)}

    before = catalog()
    changed = change_prices(path, layout, fraction=0.5, factor="2", seed=1)
    assert 0 < len(changed) < 20
    after = catalog()
    prices_before = {v.sku: v.prices[0].gross for p in before.values() for v in p.variants}
    prices_after = {v.sku: v.prices[0].gross for p in after.values() for v in p.variants}
    assert {sku for sku in prices_after if prices_after[sku] != prices_before[sku]} == set(changed)
    assert all(prices_after[sku] == prices_before[sku] * 2 for sku in changed)

    assert rename_product(path, layout, "P000002", "Brand-new name") == 2
    assert catalog()["erp_files:product:P000002"].texts["en"].name == "Brand-new name"
    assert delete_products(path, layout, ["P000003", "P000004"]) == 4
    assert add_products(path, layout, 2, variants=3) == ["P000011", "P000012"]
    keys = set(catalog())
    assert "erp_files:product:P000003" not in keys
    assert {"erp_files:product:P000011", "erp_files:product:P000012"} <= keys
    assert len(keys) == 10

    touch(path, datetime(2030, 1, 1, tzinfo=UTC))
    assert path.stat().st_mtime == datetime(2030, 1, 1, tzinfo=UTC).timestamp()


@pytest.mark.parametrize("layout", [LAYOUT, ErpFileLayout(format="ndjson")], ids=["csv", "ndjson"])
def test_rich_catalogs_carry_images_a_variant_metafield_and_stock_per_location(
    tmp_path: Path, layout: ErpFileLayout
) -> None:
    path = tmp_path / f"catalog.{layout.format}"
    write_erp_catalog(path, products=4, variants=3, seed=3, layout=layout, rich=True)
    plain = tmp_path / f"plain.{layout.format}"
    write_erp_catalog(plain, products=4, variants=3, seed=3, layout=layout)
    settings = ErpFilesSettings.model_validate(
        {"kind": "local", "root": str(tmp_path), "path": path.name} | layout.format_settings()
    )

    def catalog() -> list[Product]:
        with open_source(settings) as source:
            items = list(map_records(default_mapping(layout, rich=True), read_records(source)))
        assert [i for i in items if isinstance(i, RowError)] == []
        return [p for p in items if isinstance(p, Product)]

    first = catalog()[0]
    assert first.media and all(m.url.startswith("https://images.example.com/P000001/") for m in first.media)
    assert all(v.media_keys and v.media_keys[0] in {m.key for m in first.media} for v in first.variants)
    assert all([m.key for m in v.metafields] == ["fit"] for v in first.variants)
    assert all(
        [s.location for s in v.stock_by_location] == ["Main warehouse", "Berlin store"]
        for v in first.variants
    )
    with open_source(settings.model_copy(update={"path": plain.name})) as source:
        plain_items = list(map_records(default_mapping(layout), read_records(source)))
    plain_first = next(p for p in plain_items if isinstance(p, Product))
    assert [v.prices for v in plain_first.variants] == [v.prices for v in first.variants], "same plain values"

    # Mutations keep the rich columns, and products added to a rich file are rich.
    change_prices(path, layout, fraction=1.0, seed=2)
    assert add_products(path, layout, 1, variants=2) == ["P000005"]
    products = catalog()
    assert (
        products[0].media == first.media
        and products[0].variants[0].metafields == first.variants[0].metafields
    )
    assert products[-1].media and products[-1].variants[0].stock_by_location
