"""Settings and credential models per external system (``connections.py`` ties each to its client).

Settings are plain configuration a user may see; credentials are secrets, stored encrypted and never shown.
"""

from __future__ import annotations

import codecs
import ipaddress
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from connector_pipelines.sources.erp_mapping.config import FieldRule, TemplateOp, template_parts


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError("must be an http(s) URL")
    return value.rstrip("/")


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class TlsOptions(_Model):
    ca_bundle: str | None = Field(
        None, description="PEM file of a private CA to trust; verification stays on"
    )


class PlentymarketsSettings(_Model):
    base_url: HttpUrl = Field(description="https://<tenant>.my.plentysystems.com (without /rest)")
    lang: str = Field("de", pattern=r"^[a-z]{2}$")
    plenty_id: int | None = Field(None, description="client (webstore) whose visible variations are synced")
    default_sales_price_id: int = Field(1, description="sales price config holding the shop price")
    rrp_sales_price_id: int | None = Field(None, description="sales price config used as list price")
    warehouse_ids: list[int] = Field(
        default_factory=list, description="sum stock over these; empty = all sales"
    )
    page_size: int = Field(250, ge=1, le=250)
    tls: TlsOptions = Field(default_factory=TlsOptions)

    @field_validator("base_url")
    @classmethod
    def _no_rest_suffix(cls, value: str) -> str:
        if value.rstrip("/").endswith("/rest"):
            raise ValueError("give the host without /rest; the client adds it")
        return value


class PlentymarketsCredentials(_Model):
    username: str = Field(min_length=1)
    password: SecretStr


class Shopware6Settings(_Model):
    base_url: HttpUrl = Field(description="https://shop.example.com (the Admin API lives under /api)")
    sales_channel_name: str = Field("Storefront")
    language_locale: str = Field("de-DE")
    currency_map: dict[str, str] = Field(
        default_factory=dict, description="source currency ISO -> Shopware currency ISO, if they differ"
    )
    deletion: Literal["delete", "deactivate"] = "delete"
    batch_size: int = Field(100, ge=1, le=1000, description="parent products per sync request")
    media_budget_s: float = Field(
        120.0,
        ge=0,
        description="seconds a run spends uploading images (one request each); the rest waits for later runs",
    )
    customer_group_rules: dict[str, str] = Field(
        default_factory=dict,
        description="source customer group (Plentymarkets customer class id) -> name of the Shopware rule "
        "its prices become advanced prices for; groups not named here are not synced",
    )
    tier_price_rule: str | None = Field(
        "Always valid (Default)",
        description="name of the Shopware rule for quantity prices every customer gets; null = not synced",
    )
    tls: TlsOptions = Field(default_factory=TlsOptions)


class Shopware6Credentials(_Model):
    client_id: str = Field(min_length=1)
    client_secret: SecretStr


class ShopifySettings(_Model):
    shop_url: HttpUrl = Field(description="https://<shop>.myshopify.com")
    api_version: str = Field("2026-07", pattern=r"^\d{4}-\d{2}$")
    tls: TlsOptions = Field(default_factory=TlsOptions)
    bulk_threshold: int = Field(
        50, ge=1, description="this many products or more go through a bulk mutation; fewer, direct calls"
    )
    bulk_batch_size: int = Field(
        2500,
        ge=1,
        le=50_000,
        description="products per bulk mutation (bounds memory and the staged JSONL file's size)",
    )
    bulk_poll_interval_s: float = Field(0.5, gt=0, le=60, description="status polls of a bulk operation")
    bulk_timeout_s: float = Field(
        3600.0, gt=0, description="give up waiting (the next run adopts the operation still running)"
    )
    missing_sku_action: Literal["delete", "archive", "draft"] = Field(
        "delete", description="what happens to a product whose SKUs are gone from the file"
    )
    location_id: str | None = Field(
        None,
        pattern=r"^gid://shopify/Location/\d+$",
        description="stock the mapping gives no location for is set at this location; none = such stock "
        "is not synced (the mapping's inventory_by_location / inventory_location name their own)",
    )
    sku_lookup_batch_size: int = Field(
        100, ge=1, le=125, description="SKUs per productVariants search (the page holds twice as many)"
    )


class ShopifyCredentials(_Model):
    access_token: SecretStr
    api_secret: SecretStr | None = Field(
        None, description="the app's client secret: verifies the HMAC of the shop's webhooks"
    )


# --- ERP product files --------------------------------------------------------------------------------------

_GLOB_CHARS = frozenset("*?[")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_HOST_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _check_segments(value: str, what: str) -> list[str]:
    if _CONTROL_RE.search(value):
        raise ValueError(f"{what} must not contain control characters")
    if "\\" in value:
        raise ValueError(f"{what} must use '/' as separator, not '\\'")
    segments = [s for s in value.split("/") if s not in ("", ".")]
    if ".." in segments:
        raise ValueError(f"{what} must not contain '..' segments")
    return segments


def relative_file_path(value: str, what: str = "path") -> str:
    """A path below the configured root: relative, no '..', no drive letter; normalized to 'a/b/c'."""
    if value.startswith("/") or re.match(r"^[A-Za-z]:", value):
        raise ValueError(f"{what} must be relative to the root, not absolute: {value!r}")
    segments = _check_segments(value, what)
    if not segments or value.endswith("/"):
        raise ValueError(f"{what} must name a file below the root")
    return "/".join(segments)


class CsvOptions(_Model):
    delimiter: str = Field(",", min_length=1, max_length=1)
    quotechar: str = Field('"', min_length=1, max_length=1)
    escapechar: str | None = Field(None, min_length=1, max_length=1, description="none = quotes are doubled")

    @model_validator(mode="after")
    def _distinct(self) -> CsvOptions:
        specials = [c for c in (self.delimiter, self.quotechar, self.escapechar) if c is not None]
        if len(set(specials)) != len(specials):
            raise ValueError("delimiter, quotechar and escapechar must differ")
        if any(c in "\r\n" for c in specials):
            raise ValueError("delimiter, quotechar and escapechar cannot be line breaks")
        return self


class ErpFilesSettings(_Model):
    """Where a tenant's ERP product file lives and how it is written.

    ``root`` is the directory every ``path`` / ``pattern`` is relative to (on the server for ftp / ftps /
    sftp, on this machine for local); a path may not leave it.
    """

    kind: Literal["local", "ftp", "ftps", "sftp"]
    host: str | None = Field(None, description="server name or IP (ftp, ftps, sftp)")
    port: int | None = Field(
        None, ge=1, le=65535, description="default 21 (ftp, explicit ftps), 990 (implicit ftps) or 22 (sftp)"
    )
    root: str = Field(".", description="base directory; '.' = the login directory (remote kinds)")
    path: str | None = Field(None, description="one file, relative to root")
    pattern: str | None = Field(
        None, description="glob in the file name, relative to root (e.g. 'exports/products_*.csv')"
    )
    newest_by: Literal["mtime", "name"] = Field(
        "mtime", description="which match of the pattern is read; 'mtime' falls back to the name without one"
    )
    format: Literal["csv", "json", "ndjson"] = "csv"
    encoding: str = Field(
        "utf-8-sig", description="Python codec; 'utf-8-sig' reads UTF-8 with or without a BOM"
    )
    csv: CsvOptions = Field(default_factory=CsvOptions)
    json_records_path: str = Field(
        "", description="dotted keys leading to the record array of a JSON document; '' = the document is it"
    )
    tls: TlsOptions = Field(default_factory=TlsOptions)
    ftps_mode: Literal["explicit", "implicit"] = Field(
        "explicit",
        description="ftps: explicit (AUTH TLS after connecting, port 21) or implicit (TLS from the first "
        "byte, port 990)",
    )
    sftp_host_key: str | None = Field(
        None, description="'SHA256:<base64>' fingerprint, or the OpenSSH public key / known_hosts line"
    )
    sftp_accept_unknown_host_key: bool = Field(
        False, description="sandbox only (loopback hosts): accept any host key, logging its fingerprint"
    )
    timeout_s: float = Field(30.0, gt=0, le=600)
    mapping_file: str | None = Field(
        None, description="the mapping configuration (YAML or JSON); relative paths are below CONNECTOR_HOME"
    )
    sync_frequency_hours: int = Field(
        24, ge=1, le=168, description="scheduled syncs every this many hours (file changes trigger more)"
    )

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(ipaddress.ip_address(value.strip("[]")))
        except ValueError:
            pass
        if not _HOST_RE.match(value):
            raise ValueError("must be a host name or IP address (no scheme, user or port)")
        return value.lower()

    @field_validator("root")
    @classmethod
    def _root(cls, value: str) -> str:
        _check_segments(value, "root")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is None:
            return None
        path = relative_file_path(value)
        if any(c in _GLOB_CHARS for c in path):
            raise ValueError("path names one file; use pattern for a glob")
        return path

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is None:
            return None
        pattern = relative_file_path(value, "pattern")
        directory = pattern.rpartition("/")[0]
        if any(c in _GLOB_CHARS for c in directory):
            raise ValueError("pattern may use wildcards in the file name only, not in directories")
        return pattern

    @field_validator("mapping_file")
    @classmethod
    def _mapping_file(cls, value: str | None) -> str | None:
        # Absolute: the operator's choice; relative: below CONNECTOR_HOME, which '..' would leave.
        if value is not None:
            _check_segments(value, "mapping_file")
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value

    @field_validator("json_records_path")
    @classmethod
    def _records_path(cls, value: str) -> str:
        if value and any(not part for part in value.split(".")):
            raise ValueError("dotted keys without empty parts, e.g. 'data.products'")
        return value

    @field_validator("sftp_host_key")
    @classmethod
    def _host_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if value.startswith("SHA256:"):
            if not re.fullmatch(r"SHA256:[A-Za-z0-9+/]{43}=?", value):
                raise ValueError("a SHA256 fingerprint is 'SHA256:' and 43 base64 characters")
            return value.rstrip("=")
        if not re.search(r"(?:^|\s)(?:ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+) AAAA", value):
            raise ValueError("give a 'SHA256:...' fingerprint or an OpenSSH public key line")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ErpFilesSettings:
        if (self.path is None) == (self.pattern is None):
            raise ValueError("set exactly one of path and pattern")
        remote = self.kind != "local"
        if remote and not self.host:
            raise ValueError(f"{self.kind} needs a host")
        if not remote:
            if self.host or self.port:
                raise ValueError("local files take no host or port")
            if not self.root.startswith("/"):
                raise ValueError("root of a local source must be an absolute directory")
        if self.kind != "ftps" and self.tls.ca_bundle:
            raise ValueError("tls.ca_bundle applies to ftps only")
        if self.kind != "ftps" and self.ftps_mode != "explicit":
            raise ValueError("ftps_mode applies to ftps only")
        if self.kind != "sftp" and (self.sftp_host_key or self.sftp_accept_unknown_host_key):
            raise ValueError("sftp_host_key / sftp_accept_unknown_host_key apply to sftp only")
        if self.kind == "sftp":
            if self.sftp_accept_unknown_host_key and self.host not in LOOPBACK_HOSTS:
                raise ValueError("sftp_accept_unknown_host_key is for the sandbox on loopback only")
            if not self.sftp_host_key and not self.sftp_accept_unknown_host_key:
                raise ValueError("sftp needs sftp_host_key (the server's key fingerprint) to verify it")
        return self

    @property
    def effective_port(self) -> int | None:
        if self.port is not None or self.kind == "local":
            return self.port
        if self.kind == "ftps" and self.ftps_mode == "implicit":
            return 990
        return 22 if self.kind == "sftp" else 21


class ErpFilesCredentials(_Model):
    username: str = Field("", description="empty = anonymous FTP")
    password: SecretStr | None = None
    private_key: SecretStr | None = Field(None, description="SFTP: OpenSSH or PEM private key text")
    private_key_passphrase: SecretStr | None = None

    @model_validator(mode="after")
    def _passphrase_needs_key(self) -> ErpFilesCredentials:
        if self.private_key_passphrase is not None and self.private_key is None:
            raise ValueError("private_key_passphrase given without private_key")
        return self


# --- Plytix PIM ---------------------------------------------------------------------------------------------

_ObjectId = Annotated[str, Field(pattern=r"^[0-9a-f]{24}$")]


def _rule_shorthand(value: object) -> object:
    return {"source": value} if isinstance(value, str) else value


MappedField = Annotated[FieldRule, BeforeValidator(_rule_shorthand)]


PlytixTarget = Literal["name", "description", "price", "compare_at_price", "images", "weight_kg"]


def _default_fields() -> dict[PlytixTarget, FieldRule]:
    return {
        "name": FieldRule(source="label"),
        "description": FieldRule(source="attributes.description"),
        "price": FieldRule(source="attributes.price"),
        "compare_at_price": FieldRule(source="attributes.compare_at_price"),
        "images": FieldRule(source="assets"),
        "weight_kg": FieldRule(source="attributes.weight"),
    }


class PlytixMapping(_Model):
    """Which Plytix field feeds each Webflow field: a system field (``label``, ``sku``, ``assets``,
    ``thumbnail``) or ``attributes.<label>``, through the transformations of the ERP file mapping (trim,
    decimal, map, template, ...). Variant values override their parent's (Plytix variants inherit the
    parent-level attributes)."""

    fields: dict[PlytixTarget, MappedField] = Field(default_factory=_default_fields)
    product_fields: dict[str, MappedField] = Field(
        default_factory=dict, description="Webflow product field slug -> Plytix field (custom fields)"
    )
    sku_fields: dict[str, MappedField] = Field(
        default_factory=dict, description="Webflow SKU field slug -> Plytix field (custom fields)"
    )

    @model_validator(mode="after")
    def _required(self) -> PlytixMapping:
        missing = [name for name in ("name", "price") if name not in self.fields]
        if missing:
            raise ValueError(f"fields must map {' and '.join(missing)}")
        return self

    def attributes(self) -> list[str]:
        """The fields a product search must return for this mapping."""
        rules = [*self.fields.values(), *self.product_fields.values(), *self.sku_fields.values()]
        found = [r.source.split("[", 1)[0] for r in rules if r.source]
        for rule in rules:
            for op in rule.transforms:
                if isinstance(op, TemplateOp):
                    found.extend(p[0] for p in template_parts(op.template) if isinstance(p, tuple))
        return list(dict.fromkeys(found))


class PlytixSettings(_Model):
    base_url: HttpUrl = Field("https://pim.plytix.com", description="the PIM API host")
    auth_url: HttpUrl | None = Field(
        None, description="the token host; default: auth.plytix.com for pim.plytix.com, else base_url"
    )
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$", description="currency of the prices in Plytix")
    language: str = Field("en", pattern=r"^[a-z]{2}$", description="language of labels and descriptions")
    mapping: PlytixMapping = Field(default_factory=PlytixMapping)
    page_size: int = Field(100, ge=1, le=100)
    requests_per_10s: int | None = Field(
        None, ge=1, description="the plan's limit per 10 s: calls are paced below it (none = no pacing)"
    )
    requests_per_hour: int | None = Field(None, ge=1, description="the plan's limit per hour")
    read_concurrency: int = Field(4, ge=1, le=16, description="variant reads in flight at once")
    delta_overlap_s: int = Field(300, ge=0, description="a delta re-reads this much before its cursor")

    def token_url(self) -> str:
        if self.auth_url:
            return self.auth_url
        return (
            self.base_url.replace("://pim.", "://auth.", 1) if "://pim." in self.base_url else self.base_url
        )


class PlytixCredentials(_Model):
    api_key: SecretStr
    api_password: SecretStr


# --- Webflow ------------------------------------------------------------------------------------------------


class WebflowSettings(_Model):
    base_url: HttpUrl = Field("https://api.webflow.com/v2", description="the Data API v2 base URL")
    site_id: _ObjectId = Field(description="the e-commerce site the products go to")
    rate_limit_per_minute: int = Field(
        60, ge=1, description="the plan's limit: 60 (Starter, Basic) or 120 (CMS, eCommerce, Business)"
    )
    publish: Literal["live", "staging", "site"] = Field(
        "live",
        description="live: each changed product and SKU is published with its write; staging: written, not "
        "published; site: one site publish after a run that changed something (one per minute at most)",
    )
    publish_custom_domains: list[_ObjectId] = Field(default_factory=list)
    publish_to_webflow_subdomain: bool = True
    removal: Literal["archive", "draft"] = Field(
        "archive", description="what a product gone from Plytix becomes (Webflow cannot delete products)"
    )
    product_type: Literal["physical", "digital", "service", "advanced"] = "physical"
    tax_category: str | None = Field(None, description="Webflow tax category, e.g. standard-taxable")
    category_collection: str = Field("category", description="slug of the category collection")
    max_sku_properties: int = Field(3, ge=1, description="product options Webflow allows per product")
    max_option_values: int = Field(100, ge=1, description="values Webflow allows per option")
    batch_size: int = Field(25, ge=1, le=500, description="products per write batch")


class WebflowCredentials(_Model):
    token: SecretStr = Field(description="site API token or OAuth token (ecommerce, CMS, sites scopes)")


# --- ERPs of the gateway (Logo, Netsis, CSV files) -------------------------------------------------------

ErpItemField = Literal["sku", "name", "vat_rate", "barcode", "unit", "active"]
ErpStockField = Literal["sku", "on_hand", "reserved", "warehouse_code"]
ErpPriceField = Literal[
    "sku", "price", "currency", "includes_vat", "valid_from", "valid_to", "price_list_code"
]
# The transformation names of the gateway's original specification, spelled as the ERP file mapping does.
SEED_TRANSFORMS = {"parseFloat": "decimal", "parseInt": "integer", "defaultValue": "default"}


def _seed_op(op: object) -> object:
    if isinstance(op, str):
        return SEED_TRANSFORMS.get(op, op)
    if isinstance(op, dict) and isinstance(op.get("op"), str):
        return {**op, "op": SEED_TRANSFORMS.get(op["op"], op["op"])}
    if isinstance(op, dict) and len(op) == 1:
        ((name, argument),) = op.items()
        return {SEED_TRANSFORMS.get(name, name): argument}
    return op


def _erp_rule(value: object) -> object:
    if isinstance(value, str):
        return {"source": value}
    if isinstance(value, dict) and isinstance(value.get("transforms"), list):
        return {**value, "transforms": [_seed_op(op) for op in value["transforms"]]}
    return value


ErpRule = Annotated[FieldRule, BeforeValidator(_erp_rule)]


class ErpFieldMapping(_Model):
    """Which ERP field feeds each gateway field, through the ERP file mapping's transformations (``trim``,
    ``decimal`` / ``parseFloat``, ``integer`` / ``parseInt``, ``default`` / ``defaultValue``, ``required``,
    ``map``, ``template``, ...). A rule given here replaces the connector's own rule for that field; fields
    not named keep theirs. Sources are the ERP's field names: Logo's item fields (``CODE``, ``NAME2``,
    ``AUXIL_CODE``, ``UNITS[0].UNIT_CODE``) and the columns of its stock (``CODE``, ``ONHAND``, ``RESERVED``)
    and price queries (``CODE``, ``PRICE``, ``CURRENCY``, ``INCVAT``, ``BEGDATE``, ``ENDDATE``); Netsis'
    stock card fields (``Stok_Kodu``, ``Satis_Fiat2``, ``Grup_Kodu``), ``STOK_KODU``/``BAKIYE`` and
    ``STOKKODU``/``FIYAT1``/``FIYATDOVIZTIPI``/``BASTAR``/``BITTAR``; a CSV file's column names."""

    decimal_separator: Literal[".", ","] | None = Field(
        None, description="of numbers given as text; default: the connector's ('.')"
    )
    items: dict[ErpItemField, ErpRule] = Field(default_factory=dict)
    stock: dict[ErpStockField, ErpRule] = Field(default_factory=dict)
    prices: dict[ErpPriceField, ErpRule] = Field(default_factory=dict)


def _code_prefix(value: str) -> str:
    if len(value) > 7:
        raise ValueError("at most 7 characters: the codes the gateway makes have 15")
    return value


CodePrefix = Annotated[str, AfterValidator(_code_prefix)]


class ErpGatewaySettings(_Model):
    """What every ERP of the gateway is told: which stock and prices go to the shop, how often, the circuit
    breaker's cool-down, and the field mapping."""

    warehouse_code: str = Field(
        min_length=1,
        description="the warehouse whose stock goes to the shop (Logo INVENNO, Netsis DEPO_KODU)",
    )
    price_list_code: str = Field(
        min_length=1, description="the price list of the shop price (Logo trading group, Netsis FIYATGRUBU)"
    )
    poll_interval_minutes: int = Field(5, ge=1, le=1440, description="stock and prices are polled this often")
    breaker_cooldown_s: float = Field(
        300.0, gt=0, le=86_400, description="an open circuit breaker waits this long before one probe"
    )
    mapping: ErpFieldMapping = Field(default_factory=ErpFieldMapping)


class LogoSettings(ErpGatewaySettings):
    base_url: HttpUrl = Field(description="http(s)://<host>:32001 of the Logo REST service (without /api/v1)")
    api_path: str = Field("/api/v1", pattern=r"^/[A-Za-z0-9/_-]*$")
    firm: int = Field(ge=1, le=999, description="the Logo firm number (firmno)")
    period: int | None = Field(None, ge=1, le=99, description="the period; default: the active one")
    client_id: str = Field("LOGO", min_length=1, description="the REST client id of the Basic header")
    send_client_basic: bool = Field(True, description="send the client id and secret as a Basic header")
    page_size: int = Field(100, ge=1, le=1000)
    sql_page_size: int = Field(5000, ge=1, le=50_000)
    requests_per_second: int | None = Field(None, ge=1, description="pace the calls (the ERP's own server)")
    customer_prefix: CodePrefix = Field("120.W", description="start of the account codes the gateway creates")
    order_status: int = Field(
        1, ge=1, le=4, description="ORDER_STATUS of a new order (1 proposal, 4 shippable)"
    )
    local_currency: str = Field("TRY", pattern=r"^[A-Z]{3}$")
    default_warehouse: int | None = Field(None, ge=0, description="SOURCE_WH of orders without a warehouse")
    tls: TlsOptions = Field(default_factory=TlsOptions)


class LogoCredentials(_Model):
    username: str = Field(min_length=1)
    password: SecretStr
    client_secret: SecretStr = Field(SecretStr(""), description="the REST client's secret (Basic header)")


class NetsisSettings(ErpGatewaySettings):
    base_url: HttpUrl = Field(description="http(s)://<host>:7070 of NetOpenX REST (without /api/v2)")
    api_path: str = Field("/api/v2", pattern=r"^/[A-Za-z0-9/_-]*$")
    dbname: str = Field(min_length=1, description="the company database")
    dbuser: str = Field("TEMELSET", min_length=1)
    branch_code: int = Field(0, ge=0)
    dbtype: int | None = Field(
        None, ge=0, description="sent only when set (one server version crashed on it)"
    )
    page_size: int = Field(500, ge=1, le=5000)
    sql_page_size: int = Field(5000, ge=1, le=50_000)
    requests_per_second: int | None = Field(None, ge=1)
    customer_prefix: CodePrefix = Field("120.W")
    document_prefix: CodePrefix = Field("WEB", description="start of the 15-character order numbers")
    default_warehouse: int | None = Field(None, ge=0, description="DEPO_KODU of order lines")
    prices_include_vat: bool = Field(True, description="whether the price group's prices include VAT")
    local_currency: str = Field("TRY", pattern=r"^[A-Z]{3}$")
    tipi: int = Field(2, ge=0, description="the order header's TIPI (2 or 7: agree it with accounting)")
    shop_number_field: str = Field("EKACK1", pattern=r"^EKACK([1-9]|1[0-6])$")
    tracking_field: str = Field("EKACK2", pattern=r"^EKACK([1-9]|1[0-6])$")
    carrier_field: str = Field("EKACK3", pattern=r"^EKACK([1-9]|1[0-6])$")
    tls: TlsOptions = Field(default_factory=TlsOptions)


class NetsisCredentials(_Model):
    username: str = Field(min_length=1)
    password: SecretStr
    dbpassword: SecretStr = Field(SecretStr(""), description="the database user's password")


class ErpCsvSettings(ErpGatewaySettings):
    """Stock and price files of an ERP without an API, in a folder or on FTP, FTPS or SFTP."""

    stock: ErpFilesSettings = Field(
        description="the stock file: where it lives and how it is written (path or pattern names it)"
    )
    prices_file: str | None = Field(
        None,
        description="path or glob of the price file below stock.root, same server and format; "
        "none: the stock file's rows carry the prices",
    )
    items_file: str | None = Field(
        None, description="path or glob of an item file (names, VAT, barcodes); none: the stock file's rows"
    )
    currency: str = Field("TRY", pattern=r"^[A-Z]{3}$", description="of prices without a mapped currency")
    prices_include_vat: bool = Field(True, description="of prices without a mapped includes_vat")

    @field_validator("prices_file", "items_file")
    @classmethod
    def _file(cls, value: str | None) -> str | None:
        if value is None:
            return None
        path = relative_file_path(value)
        if any(c in _GLOB_CHARS for c in path.rpartition("/")[0]):
            raise ValueError("wildcards only in the file name, not in directories")
        return path

    @model_validator(mode="after")
    def _gateway_mapping(self) -> ErpCsvSettings:
        if self.stock.mapping_file is not None:
            raise ValueError("stock.mapping_file does not apply: the columns are mapped by `mapping`")
        return self

    def file_settings(self, which: Literal["stock", "prices", "items"]) -> ErpFilesSettings:
        """The file settings of one of the files (the price and item files live beside the stock file)."""
        name = {"stock": None, "prices": self.prices_file, "items": self.items_file}[which]
        if name is None:
            return self.stock
        glob = any(c in _GLOB_CHARS for c in name)
        located = {"path": None, "pattern": name} if glob else {"path": name, "pattern": None}
        return self.stock.model_copy(update=located)


def secret_values(credentials: BaseModel) -> list[str]:
    """Every secret string inside a credentials model (for redaction)."""
    return [v.get_secret_value() for v in credentials.__dict__.values() if isinstance(v, SecretStr)]
