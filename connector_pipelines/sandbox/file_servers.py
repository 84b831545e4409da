"""Sandbox file servers for ERP product files, and seeded ERP catalogs with mutation helpers.

- :class:`FtpSandbox`: pyftpdlib on loopback serving a directory; ``tls=True`` makes it explicit FTPS (AUTH
  TLS), with ``implicit=True`` implicit FTPS (TLS from the first byte, as on port 990), with a certificate
  from a CA generated at start (tests trust ``ca_file``); ``legacy=True`` drops MLSD, MLST, SIZE and MDTM,
  like old ERP servers, so clients must fall back to NLST and content hashes.
- :class:`SftpSandbox`: asyncssh with an SFTP subsystem chrooted to a directory, password and public-key
  login, and a host key generated at start (tests pin ``host_key_fingerprint``).
- :func:`write_erp_catalog`: a deterministic catalog (parent column, options, prices, metafield columns) in
  CSV, JSON or NDJSON, written row by row so files of any size fit; ``rich=True`` adds image URLs, a
  variant image, a variant metafield and stock at two locations (:data:`SANDBOX_LOCATIONS`); mutation
  helpers rewrite a file the same way, keeping its columns; :func:`default_mapping` maps those files.

Each server runs on a free port in a background thread; ``start()`` / ``stop()`` or ``with``.
"""

from __future__ import annotations

import asyncio
import csv
import hmac
import io
import ipaddress
import os
import random
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Literal, NoReturn

import asyncssh
import orjson
import pyftpdlib.handlers as ftp_handlers  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import BaseModel, ConfigDict, JsonValue
from pyftpdlib.authorizers import DummyAuthorizer  # type: ignore[import-untyped]
from pyftpdlib.ioloop import IOLoop  # type: ignore[import-untyped]
from pyftpdlib.servers import FTPServer  # type: ignore[import-untyped]

from connector_pipelines.sources.erp_files import SourceRow, parse_records
from connector_pipelines.sources.erp_mapping.config import MappingConfig
from connector_pipelines.sources.erp_mapping.values import NumberParser
from connector_pipelines.tenants.systems import ErpFilesCredentials, ErpFilesSettings

LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 10.0

# --- TLS material -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    cert: Path
    key: Path


def generate_tls_files(directory: Path, hosts: Sequence[str] = (LOOPBACK, "localhost")) -> TlsFiles:
    """A throwaway CA and a server certificate it signed for ``hosts`` (IPs and DNS names), as PEM files."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "connector sandbox CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


# --- FTP / FTPS ---------------------------------------------------------------------------------------------

LEGACY_MISSING_COMMANDS = frozenset({"MLSD", "MLST", "MDTM", "SIZE"})


def _implicit_tls_handler(base: type[ftp_handlers.FTPHandler]) -> type:
    """pyftpdlib's TLS handler made implicit: it secures the connection as soon as it is accepted and greets
    (220) only once the handshake is done; pyftpdlib itself knows only explicit FTPS (AUTH TLS)."""

    def handle(self: ftp_handlers.TLS_FTPHandler) -> None:
        self.secure_connection(self.ssl_context)

    def handle_ssl_established(self: ftp_handlers.TLS_FTPHandler) -> None:
        if not getattr(self, "_greeted", False):
            self._greeted = True
            base.handle(self)

    return type(
        "ImplicitTlsFtpHandler", (base,), {"handle": handle, "handle_ssl_established": handle_ssl_established}
    )


class FtpSandbox:
    """pyftpdlib serving ``root`` read-only to one user (a random password unless given); FTPS (TLS required
    on control and data channels) with ``tls=True``, explicit or, with ``implicit=True``, implicit; FTPS needs
    pyOpenSSL (pyftpdlib's TLS handler is built on it)."""

    def __init__(
        self,
        root: Path,
        *,
        username: str = "erp",
        password: str | None = None,
        tls: bool = False,
        implicit: bool = False,
        legacy: bool = False,
        host: str = LOOPBACK,
        port: int = 0,
    ) -> None:
        if implicit and not tls:
            raise ValueError("implicit FTPS needs tls=True")
        self.root = Path(root)
        self.username = username
        self.password = password or secrets.token_urlsafe(16)
        self.tls = tls
        self.implicit = implicit
        self.legacy = legacy
        self.host = host
        self._requested_port = port
        self.port = 0
        self.ca_file: Path | None = None
        self._tmp: Path | None = None
        self._server: FTPServer | None = None
        self._loop: IOLoop | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _handler_class(self) -> type:
        authorizer = DummyAuthorizer()
        authorizer.add_user(self.username, self.password, str(self.root), perm="elr")
        attributes: dict[str, object] = {
            "authorizer": authorizer,
            "banner": "connector sandbox FTP",
            "auth_failed_timeout": 0.05,  # pyftpdlib waits 3 s after a failed login; tests need not
        }
        base = ftp_handlers.FTPHandler
        if self.tls:
            # pyftpdlib defines its TLS handler only when pyOpenSSL is importable.
            base = getattr(ftp_handlers, "TLS_FTPHandler", None) or _missing_pyopenssl()
            if self.implicit:
                base = _implicit_tls_handler(base)
            self._tmp = Path(tempfile.mkdtemp(prefix="ftps-sandbox-"))
            files = generate_tls_files(self._tmp, (self.host, "localhost"))
            self.ca_file = files.ca_cert
            attributes |= {
                "certfile": str(files.cert),
                "keyfile": str(files.key),
                "tls_control_required": True,
                "tls_data_required": True,
                "ssl_context": None,  # built per class from certfile; never shared with another sandbox
            }
        if self.legacy:
            attributes["proto_cmds"] = {
                name: spec for name, spec in base.proto_cmds.items() if name not in LEGACY_MISSING_COMMANDS
            }
        return type("SandboxFtpHandler", (base,), attributes)

    def start(self) -> FtpSandbox:
        loop = IOLoop()
        server = FTPServer((self.host, self._requested_port), self._handler_class(), ioloop=loop)
        self._server, self._loop = server, loop
        self.port = int(server.address[1])
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="ftp-sandbox", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        # One loop per server (pyftpdlib's default loop is a process-wide singleton); closed on this thread.
        assert self._loop is not None
        assert self._server is not None
        while not self._stop.is_set():
            self._loop.loop(timeout=0.05, blocking=False)
        self._server.close_all()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=START_TIMEOUT_S)
            self._thread = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> FtpSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def settings(self, layout: ErpFileLayout | None = None, **fields: object) -> ErpFilesSettings:
        """Settings reaching this server (and trusting its CA), plus the layout's format and ``fields``."""
        values: dict[str, object] = {
            "kind": "ftps" if self.tls else "ftp",
            "host": self.host,
            "port": self.port,
        }
        if self.implicit:
            values["ftps_mode"] = "implicit"
        if self.ca_file is not None:
            values["tls"] = {"ca_bundle": str(self.ca_file)}
        return ErpFilesSettings.model_validate(
            values | (layout or ErpFileLayout()).format_settings() | fields
        )

    def credentials(self) -> ErpFilesCredentials:
        return ErpFilesCredentials.model_validate({"username": self.username, "password": self.password})


def _missing_pyopenssl() -> NoReturn:
    raise RuntimeError("the FTPS sandbox needs pyOpenSSL (pyftpdlib's TLS handler is built on it)")


# --- SFTP ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientKey:
    private_openssh: str
    public_openssh: str


def generate_client_key(algorithm: str = "ssh-ed25519") -> ClientKey:
    key = asyncssh.generate_private_key(algorithm)
    return ClientKey(
        key.export_private_key("openssh").decode(), key.export_public_key("openssh").decode().strip()
    )


class _SandboxSshServer(asyncssh.SSHServer):
    def __init__(self, sandbox: SftpSandbox) -> None:
        self.sandbox = sandbox

    def begin_auth(self, username: str) -> bool:
        return True  # every login must authenticate

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == self.sandbox.username and hmac.compare_digest(password, self.sandbox.password)

    def public_key_auth_supported(self) -> bool:
        return bool(self.sandbox.authorized_keys)

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == self.sandbox.username and key.public_data in self.sandbox.authorized_keys


class SftpSandbox:
    """asyncssh SFTP server rooted at ``root``; password login (a random password unless given), and key
    login for ``authorized_keys`` (OpenSSH public key lines)."""

    def __init__(
        self,
        root: Path,
        *,
        username: str = "erp",
        password: str | None = None,
        authorized_keys: Iterable[str] = (),
        host: str = LOOPBACK,
        port: int = 0,
    ) -> None:
        self.root = Path(root)
        self.username = username
        self.password = password or secrets.token_urlsafe(16)
        self.authorized_keys = frozenset(
            asyncssh.import_public_key(line).public_data for line in authorized_keys
        )
        self.host = host
        self._requested_port = port
        self.port = 0
        self._host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.host_key_fingerprint: str = self._host_key.get_fingerprint("sha256")
        self.host_public_key: str = self._host_key.export_public_key("openssh").decode().strip()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def _sftp_server(self, channel: asyncssh.SSHServerChannel[bytes]) -> asyncssh.SFTPServer:
        return asyncssh.SFTPServer(channel, chroot=str(self.root).encode())

    async def _listen(self) -> None:
        self._acceptor = await asyncssh.listen(
            self.host,
            self._requested_port,
            server_host_keys=[self._host_key],
            server_factory=lambda: _SandboxSshServer(self),
            sftp_factory=self._sftp_server,
            allow_scp=False,
            agent_forwarding=False,
            x11_forwarding=False,
        )
        self.port = self._acceptor.get_port()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._listen())
        except BaseException as exc:  # reported to start(), which raises it
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        loop.run_forever()
        if self._acceptor is not None:
            self._acceptor.close()
            loop.run_until_complete(self._acceptor.wait_closed())
        loop.close()

    def start(self) -> SftpSandbox:
        self._ready.clear()
        self._thread = threading.Thread(target=self._serve, name="sftp-sandbox", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError("the SFTP sandbox did not start")
        if self._error is not None:
            raise RuntimeError(f"the SFTP sandbox did not start: {self._error}") from self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=START_TIMEOUT_S)
        self._thread = None
        self._loop = None

    def __enter__(self) -> SftpSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def settings(self, layout: ErpFileLayout | None = None, **fields: object) -> ErpFilesSettings:
        """Settings reaching this server and pinning its host key, plus the layout's format and ``fields``."""
        values: dict[str, object] = {
            "kind": "sftp",
            "host": self.host,
            "port": self.port,
            "sftp_host_key": self.host_key_fingerprint,
        }
        return ErpFilesSettings.model_validate(
            values | (layout or ErpFileLayout()).format_settings() | fields
        )

    def credentials(self, key: ClientKey | None = None) -> ErpFilesCredentials:
        if key is not None:
            return ErpFilesCredentials.model_validate(
                {"username": self.username, "private_key": key.private_openssh}
            )
        return ErpFilesCredentials.model_validate({"username": self.username, "password": self.password})


# --- seeded ERP catalogs ------------------------------------------------------------------------------------

ErpFormat = Literal["csv", "json", "ndjson"]
CSV_COLUMNS = (
    "parent_id",
    "sku",
    "title",
    "description_html",
    "vendor",
    "product_type",
    "tags",
    "status",
    "color",
    "size",
    "price",
    "compare_at_price",
    "barcode",
    "weight_kg",
    "inventory",
    "material",
    "care",
    "release_date",
)
# The columns of a rich catalog (after CSV_COLUMNS), and the shop locations its stock columns are for.
RICH_COLUMNS = ("image_urls", "variant_image", "fit", "stock_main", "stock_berlin")
SANDBOX_LOCATIONS = {1: "Main warehouse", 2: "Berlin store"}
STOCK_COLUMNS = {"stock_main": "Main warehouse", "stock_berlin": "Berlin store"}
IMAGE_HOST = "https://images.example.com"
FITS = ("slim", "regular", "relaxed")
VENDORS = ("Acme Outfitters", "Nordwind", "Bergmann & Söhne", "Lumen Labs", "Kestrel Co.")
ADJECTIVES = ("Classic", "Essential", "Heritage", "Urban", "Alpine", "Coastal", "Everyday", "Signature")
MATERIALS = ("Cotton", "Merino wool", "Linen", "Recycled polyester", "Organic cotton", "Leather")
COLORS = ("Black", "White", "Navy", "Red", "Olive", "Sand", "Grey", "Teal")
APPAREL_SIZES = ("XS", "S", "M", "L", "XL", "XXL")
SHOE_SIZES = ("38", "39", "40", "41", "42", "43", "44", "45", "46")
PRODUCT_TYPES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Shirts", "Shirt", APPAREL_SIZES),
    ("Sweaters", "Sweater", APPAREL_SIZES),
    ("Jackets", "Jacket", APPAREL_SIZES),
    ("Trousers", "Trousers", APPAREL_SIZES),
    ("Shoes", "Sneaker", SHOE_SIZES),
)
TAGS = ("new", "bestseller", "sustainable", "winter", "summer", "sale", "limited")
CARE = ("Machine wash 30°C", "Do not tumble dry", "Iron low", "Dry clean only", "Wash inside out")
WORDS = (
    "soft",
    "durable",
    "breathable",
    "tailored",
    "lightweight",
    "warm",
    "timeless",
    "versatile",
    "relaxed",
)
CENT = Decimal("0.01")


class ErpFileLayout(BaseModel):
    """How a sandbox ERP file is written (and so how it must be read)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: ErpFormat = "csv"
    delimiter: str = ","
    decimal_separator: Literal[".", ","] = "."
    encoding: str = "utf-8"
    bom: bool = False
    json_records_path: str = ""

    def format_settings(self) -> dict[str, object]:
        """The ``ErpFilesSettings`` fields that read this layout."""
        encoding = (
            "utf-8-sig" if self.bom or self.encoding.lower().replace("_", "-") == "utf-8" else self.encoding
        )
        return {
            "format": self.format,
            "encoding": encoding,
            "csv": {"delimiter": self.delimiter},
            "json_records_path": self.json_records_path,
        }


@dataclass(frozen=True)
class CatalogSummary:
    path: Path
    products: int
    variants: int
    bytes: int


def _ean13(number: int) -> str:
    digits = f"400{number % 10**9:09d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


def _product_rows(
    index: int, variants: int, seed: int, description_words: int, *, rich: bool = False
) -> list[dict[str, JsonValue]]:
    """The rows of product ``index``: same product fields on every row (as ERP exports repeat them)."""
    rng = random.Random(seed * 1_000_003 + index)
    plural, singular, sizes = rng.choice(PRODUCT_TYPES)
    colors = list(COLORS)
    rng.shuffle(colors)
    combinations = [(c, s) for c in colors for s in sizes]
    if variants > len(combinations):
        raise ValueError(f"at most {len(combinations)} variants per product ({plural})")
    material = rng.choice(MATERIALS)
    title = f"{rng.choice(ADJECTIVES)} {material} {singular}"
    words = " ".join(rng.choice(WORDS) for _ in range(description_words))
    description = f"<p>{title}: {words}.</p><ul><li>{material}</li><li>{rng.choice(CARE)}</li></ul>"
    parent = f"P{index:06d}"
    base_price = Decimal(rng.randint(500, 150_000)) / 100
    status = "draft" if rng.random() < 0.05 else "active"
    tags = sorted(rng.sample(TAGS, rng.randint(1, 3)))
    care = rng.sample(CARE, 2)
    released = date(2024, 1, 1) + timedelta(days=rng.randint(0, 700))
    rows: list[dict[str, JsonValue]] = []
    for position, (color, size) in enumerate(combinations[:variants]):
        price = base_price + (Decimal(position % 3) * Decimal("2.50"))
        compare = (price * Decimal("1.2")).quantize(CENT, ROUND_HALF_UP) if rng.random() < 0.3 else None
        rows.append(
            {
                "parent_id": parent,
                "sku": f"{parent}-{color[:3].upper()}-{size}",
                "title": title,
                "description_html": description,
                "vendor": rng.choice(VENDORS) if position == 0 else rows[0]["vendor"],
                "product_type": plural,
                "tags": list(tags),
                "status": status,
                "color": color,
                "size": size,
                "price": str(price),
                "compare_at_price": str(compare) if compare is not None else None,
                "barcode": _ean13(index * 100 + position),
                "weight_kg": str(Decimal(rng.randint(100, 2500)) / 1000),
                "inventory": rng.randint(0, 200),
                "material": material,
                "care": list(care),
                "release_date": released.isoformat(),
            }
        )
    if rich:
        # Drawn after the plain columns, so that a rich catalog has the plain one's values.
        images = [f"{IMAGE_HOST}/{parent}/{n}.jpg" for n in range(1, rng.randint(1, 3) + 1)]
        for row in rows:
            color = str(row["color"]).lower()
            row |= {
                "image_urls": list(images),
                "variant_image": f"{IMAGE_HOST}/{parent}/{color}.jpg",
                "fit": rng.choice(FITS),
                "stock_main": rng.randint(0, 50),
                "stock_berlin": rng.randint(0, 20),
            }
    return rows


def csv_columns(row: Mapping[str, JsonValue]) -> tuple[str, ...]:
    """The columns a row is written with: the plain ones, then any other it has (the rich ones, or a column a
    test added)."""
    return CSV_COLUMNS + tuple(name for name in row if name not in CSV_COLUMNS)


def _format_decimal(text: str, separator: str) -> str:
    """'1234.5' as the file writes it: with ',' as separator also '.' thousands groups ('1.234,50')."""
    if separator == ".":
        return text
    whole, _, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    digits = whole.lstrip("-")
    groups: list[str] = []
    while len(digits) > 3:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    grouped = ".".join([digits, *groups])
    return f"{sign}{grouped},{fraction}" if fraction else f"{sign}{grouped}"


def _csv_row(row: Mapping[str, JsonValue], layout: ErpFileLayout) -> list[str]:
    def text(name: str) -> str:
        value = row.get(name)
        if value is None:
            return ""
        if isinstance(value, list):
            separator = {"care": " | ", "image_urls": "|"}.get(name, ", ")
            return separator.join(str(v) for v in value)
        if name in ("price", "compare_at_price", "weight_kg"):
            return _format_decimal(str(value), layout.decimal_separator)
        return str(value)

    return [text(name) for name in csv_columns(row)]


def _json_record(row: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """The JSON shape: numbers as numbers, prices nested (so mappings exercise JSON paths)."""

    def number(name: str) -> float | None:
        value = row.get(name)
        return float(str(value)) if value not in (None, "") else None

    record = {k: v for k, v in row.items() if k not in ("price", "compare_at_price", "weight_kg")}
    record["pricing"] = {"price": number("price"), "compare_at": number("compare_at_price")}
    record["weight_kg"] = number("weight_kg")
    return record


def _file_row(row: Mapping[str, JsonValue], layout: ErpFileLayout) -> dict[str, JsonValue]:
    """A generated row as the file holds it: formatted text for CSV, typed values for JSON."""
    if layout.format == "csv":
        return dict(zip(csv_columns(row), _csv_row(row, layout), strict=True))
    return _json_record(row)


class _Writer:
    """Streams rows, in the shape the file holds them, into a file of one layout."""

    def __init__(self, stream: io.TextIOWrapper, layout: ErpFileLayout) -> None:
        self.stream = stream
        self.layout = layout
        self.count = 0
        self._csv = csv.writer(stream, delimiter=layout.delimiter, lineterminator="\n")
        keys = [k for k in layout.json_records_path.split(".") if k]
        self._suffix = "\n]" + "}" * len(keys) + "\n"
        self._columns: tuple[str, ...] | None = None  # CSV: from the first row (a rich file has more)
        if layout.format == "json":
            prefix = "".join(f'{{"exported_at": "2026-01-01T00:00:00Z", "{k}": ' for k in keys)
            stream.write(prefix + "[\n")

    def write(self, row: Mapping[str, JsonValue]) -> None:
        if self.layout.format == "csv":
            if self._columns is None:
                self._columns = csv_columns(row)
                self._csv.writerow(self._columns)
            self._csv.writerow(
                ["" if row.get(name) is None else str(row.get(name)) for name in self._columns]
            )
        else:
            text = orjson.dumps(row).decode()
            if self.layout.format == "json":
                text = ("" if self.count == 0 else ",\n") + text
            else:
                text += "\n"
            self.stream.write(text)
        self.count += 1

    def close(self) -> None:
        if self.layout.format == "csv" and self._columns is None:
            self._csv.writerow(CSV_COLUMNS)  # an empty catalog still has its header
        if self.layout.format == "json":
            self.stream.write(self._suffix)


def _open_for_writing(path: Path, layout: ErpFileLayout) -> io.TextIOWrapper:
    encoding = "utf-8-sig" if layout.bom else layout.encoding
    return open(path, "w", encoding=encoding, newline="")  # closed by the caller


def write_erp_catalog(
    path: str | Path,
    *,
    products: int = 10,
    variants: int = 3,
    seed: int = 0,
    format: ErpFormat = "csv",
    layout: ErpFileLayout | None = None,
    description_words: int = 12,
    first_index: int = 1,
    rich: bool = False,
) -> CatalogSummary:
    """Write a seeded catalog of ``products`` x ``variants`` rows, streaming (constant memory), in
    ``layout`` (or the default layout of ``format``); ``rich`` adds images, a variant metafield and stock per
    location."""
    layout = layout or ErpFileLayout(format=format)
    path = Path(path)
    with _open_for_writing(path, layout) as stream:
        writer = _Writer(stream, layout)
        for index in range(first_index, first_index + products):
            for row in _product_rows(index, variants, seed, description_words, rich=rich):
                writer.write(_file_row(row, layout))
        writer.close()
    return CatalogSummary(path, products, products * variants, path.stat().st_size)


# --- mutations ----------------------------------------------------------------------------------------------

RowEdit = Callable[[dict[str, JsonValue]], dict[str, JsonValue] | None]


def read_rows(path: Path, layout: ErpFileLayout) -> Iterator[dict[str, JsonValue]]:
    """The rows of a sandbox catalog, as the file holds them (streaming)."""
    settings = ErpFilesSettings.model_validate(
        {"kind": "local", "root": str(path.parent), "path": path.name} | layout.format_settings()
    )
    with path.open("rb") as stream:
        for record in parse_records(stream, path.name, settings):
            if isinstance(record, SourceRow):
                yield dict(record.data)


def _rewrite(
    path: Path, layout: ErpFileLayout, edit: RowEdit, append: Callable[[], Iterable[Mapping[str, JsonValue]]]
) -> None:
    """Stream ``path`` through ``edit`` (None drops a row), add ``append()``'s rows, replace atomically."""
    tmp = path.with_name(f".{path.name}.tmp")
    with _open_for_writing(tmp, layout) as stream:
        writer = _Writer(stream, layout)
        for row in read_rows(path, layout):
            edited = edit(row)
            if edited is not None:
                writer.write(edited)
        for extra in append():
            writer.write(extra)
        writer.close()
    os.replace(tmp, path)


def _price_fields(row: dict[str, JsonValue]) -> tuple[dict[str, JsonValue], str, str]:
    """(the dict holding the prices, price key, compare key) in the CSV or the JSON shape."""
    pricing = row.get("pricing")
    if isinstance(pricing, dict):
        return pricing, "price", "compare_at"
    return row, "price", "compare_at_price"


def change_prices(
    path: str | Path, layout: ErpFileLayout, *, fraction: float = 0.1, factor: str = "1.10", seed: int = 0
) -> list[str]:
    """Multiply the price of about ``fraction`` of the rows by ``factor``; returns the changed SKUs."""
    rng = random.Random(seed)
    numbers = NumberParser(layout.decimal_separator)
    changed: list[str] = []

    def edit(row: dict[str, JsonValue]) -> dict[str, JsonValue]:
        if rng.random() >= fraction:
            return row
        holder, key, _ = _price_fields(row)
        current = holder.get(key)
        if isinstance(current, str):
            new = (numbers.parse(current) * Decimal(factor)).quantize(CENT, ROUND_HALF_UP)
            holder[key] = _format_decimal(str(new), layout.decimal_separator)
        elif isinstance(current, int | float):
            holder[key] = float((Decimal(repr(current)) * Decimal(factor)).quantize(CENT, ROUND_HALF_UP))
        else:
            return row
        changed.append(str(row.get("sku")))
        return row

    _rewrite(Path(path), layout, edit, list)
    return changed


def rename_product(path: str | Path, layout: ErpFileLayout, parent_id: str, title: str) -> int:
    """Set the title on every row of product ``parent_id``; returns the rows changed."""
    count = 0

    def edit(row: dict[str, JsonValue]) -> dict[str, JsonValue]:
        nonlocal count
        if row.get("parent_id") == parent_id:
            row["title"] = title
            count += 1
        return row

    _rewrite(Path(path), layout, edit, list)
    return count


def delete_products(path: str | Path, layout: ErpFileLayout, parent_ids: Iterable[str]) -> int:
    """Drop every row of the given products; returns the rows removed."""
    doomed = set(parent_ids)
    removed = 0

    def edit(row: dict[str, JsonValue]) -> dict[str, JsonValue] | None:
        nonlocal removed
        if row.get("parent_id") in doomed:
            removed += 1
            return None
        return row

    _rewrite(Path(path), layout, edit, list)
    return removed


def add_products(
    path: str | Path, layout: ErpFileLayout, count: int, *, variants: int = 3, seed: int = 0
) -> list[str]:
    """Append ``count`` new products (numbered after the highest parent id; rich when the file is);
    returns their parent ids."""
    highest = 0
    rich = False
    added: list[str] = []

    def edit(row: dict[str, JsonValue]) -> dict[str, JsonValue]:
        nonlocal highest, rich
        parent = str(row.get("parent_id", ""))
        if parent[1:].isdigit():
            highest = max(highest, int(parent[1:]))
        rich = rich or "image_urls" in row
        return row

    def new_rows() -> Iterator[dict[str, JsonValue]]:
        for index in range(highest + 1, highest + 1 + count):
            rows = _product_rows(index, variants, seed, 12, rich=rich)
            added.append(str(rows[0]["parent_id"]))
            yield from (_file_row(row, layout) for row in rows)

    _rewrite(Path(path), layout, edit, new_rows)
    return added


def rewrite_rows(path: str | Path, layout: ErpFileLayout, edit: RowEdit) -> None:
    """Stream every row of ``path`` through ``edit`` (changed in place, or None to drop it)."""
    _rewrite(Path(path), layout, edit, list)


def touch(path: str | Path, when: datetime | None = None) -> None:
    """Set the modification time (default: now, plus a second so that it surely differs)."""
    stamp = when.timestamp() if when is not None else time.time() + 1
    os.utime(path, (stamp, stamp))


def default_mapping(
    layout: ErpFileLayout | None = None, *, currency: str = "EUR", rich: bool = False
) -> MappingConfig:
    """The mapping of the sandbox catalogs (JSON layouts read prices from the nested ``pricing`` object);
    ``rich``: of rich catalogs, with images, a variant metafield and stock per location."""
    layout = layout or ErpFileLayout()
    json_shape = layout.format != "csv"
    document: dict[str, JsonValue] = {
        "currency": currency,
        "language": "en",
        "decimal_separator": layout.decimal_separator,
        "group_by": "parent_id",
        "fields": {
            "title": {"source": "title", "transforms": ["trim", "required"]},
            "descriptionHtml": "description_html",
            "vendor": {"source": "vendor", "transforms": ["trim"]},
            "productType": "product_type",
            "tags": {"source": "tags", "transforms": [{"split": ","}, "trim"]},
            "status": {"source": "status", "transforms": ["lower", {"default": "active"}]},
            "variant.sku": {"source": "sku", "transforms": ["trim", "required"]},
            "variant.price": {
                "source": "pricing.price" if json_shape else "price",
                "transforms": ["decimal", "required"],
            },
            "variant.compareAtPrice": {
                "source": "pricing.compare_at" if json_shape else "compare_at_price",
                "transforms": ["decimal"],
            },
            "variant.barcode": "barcode",
            "weight": {"source": "weight_kg", "transforms": ["decimal"]},
            "inventory": {"source": "inventory", "transforms": [{"default": "0"}, "integer"]},
        },
        "options": {"Color": "color", "Size": "size"},
        "metafields": [
            {
                "namespace": "custom",
                "key": "material",
                "type": "single_line_text_field",
                "source": "material",
            },
            {
                "namespace": "custom",
                "key": "care",
                "type": "list.single_line_text_field",
                "source": "care",
                "transforms": [{"split": "|"}, "trim"],
            },
            {"namespace": "custom", "key": "release_date", "type": "date", "source": "release_date"},
        ],
    }
    if rich:
        fields = document["fields"]
        assert isinstance(fields, dict)
        del fields["inventory"]  # stock comes per location instead
        document |= {
            "variant_metafields": [
                {"namespace": "custom", "key": "fit", "type": "single_line_text_field", "source": "fit"}
            ],
            "images": {"source": "image_urls", "transforms": [{"split": "|"}, "trim"], "alt": "title"},
            "variant_image": "variant_image",
            "inventory_by_location": {
                location: {"source": column, "transforms": [{"default": "0"}, "integer"]}
                for column, location in STOCK_COLUMNS.items()
            },
        }
    return MappingConfig.model_validate(document)
