"""Pydantic models of Netsis NetOpenX REST answers and requests (``contracts/logo_netsis.md`` §2).

Field names are mixed-case as NetOpenX sends them (``Stok_Kodu``, ``CARI_KOD``, ``STra_GCMIK``); the models
read them by alias. Stock codes may carry stray blanks and TABs: ``code`` is the trimmed one, ``raw_code``
what Netsis holds. A slip is read whether it comes ``FatUst``-nested or flat.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, model_validator

R = TypeVar("R")
TRIM = " \t"


def _trim(value: object) -> object:
    return value.strip(TRIM) if isinstance(value, str) else value


Code = Annotated[str, BeforeValidator(_trim)]


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class _Row(BaseModel):
    """A record the gateway maps field by field: every field the answer has is kept (``model_extra``)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")


class NetsisToken(_Model):
    access_token: str
    expires_in: float | None = None


class NetsisResult(_Model):
    """What every answer shares: ``IsSuccessful`` with ``ErrorCode``/``ErrorDesc`` on failure."""

    is_successful: bool = Field(True, alias="IsSuccessful")
    error_code: str | int | None = Field(None, alias="ErrorCode")
    error_desc: str | None = Field(None, alias="ErrorDesc")


class NetsisErrorBody(_Model):
    """HTTP errors: OWIN ``error``/``error_description`` (token), ASP.NET ``Message``, or a failed result."""

    error: str | None = None
    error_description: str | None = None
    message: str | None = Field(None, alias="Message")
    error_desc: str | None = Field(None, alias="ErrorDesc")


class NetsisList(NetsisResult, Generic[R]):
    offset: int | None = Field(None, alias="Offset")
    limit: int | None = Field(None, alias="Limit")
    total_count: int | None = Field(None, alias="TotalCount")
    data: list[R] | None = Field(None, alias="Data")


class NetsisOne(NetsisResult, Generic[R]):
    data: R | None = Field(None, alias="Data")


class NetsisItem(_Row):
    """``StokTemelBilgi`` (and ``StokEkBilgi``) of one stock card, flattened."""

    raw_code: str = Field(alias="Stok_Kodu")
    name: str = Field("", alias="Stok_Adi")
    vat_rate: Decimal | None = Field(None, alias="KDV_Orani", description="a percentage, e.g. 20.0")
    quantity: Decimal | None = Field(None, alias="Miktar")
    price1: Decimal | None = Field(None, alias="Satis_Fiat1")
    unit: str | None = Field(None, alias="Olcu_Br1")
    barcode: str | None = Field(None, alias="Barkod1")
    locked: str | None = Field(None, alias="Kilit", description='"E" locked, "H" open')
    modified: datetime | None = Field(None, alias="DUZELTMETARIHI")

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, value: object) -> object:
        if isinstance(value, dict) and "StokTemelBilgi" in value:
            flat: dict[str, object] = {}
            for group in ("StokEkBilgi", "StokTemelBilgi"):
                part = value.get(group)
                if isinstance(part, dict):
                    flat.update(part)
            return flat
        return value

    @property
    def code(self) -> str:
        return self.raw_code.strip(TRIM)


class NetsisArp(_Model):
    code: Code = Field(alias="CARI_KOD")
    name: str = Field("", alias="CARI_ISIM")
    kind: str | None = Field(None, alias="CARI_TIP")
    tax_number: str | None = Field(None, alias="VERGI_NUMARASI")

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, value: object) -> object:
        if isinstance(value, dict) and "CariTemelBilgi" in value:
            part = value.get("CariTemelBilgi")
            return part if isinstance(part, dict) else {}
        return value


class NetsisArpInput(_Model):
    """A new customer account: ``POST /ARPs`` with ``CariTemelBilgi`` (Netsis has no e-mail field)."""

    code: str = Field(min_length=1, max_length=15)
    name: str = Field(min_length=1)
    kind: str = "A"  # buyer
    tax_number: str = ""
    tax_office: str = ""
    city: str = ""
    district: str = ""
    phone: str = ""
    address: str = ""
    postal_code: str = ""
    country_code: str = ""

    def to_body(self) -> dict[str, JsonValue]:
        basic: dict[str, JsonValue] = {
            "CARI_KOD": self.code,
            "CARI_ISIM": self.name,
            "CARI_TIP": self.kind,
            "VERGI_NUMARASI": self.tax_number,
            "VERGI_DAIRESI": self.tax_office,
            "CARI_IL": self.city,
            "CARI_ILCE": self.district,
            "CARI_TEL": self.phone,
            "CARI_ADRES": self.address,
            "POSTAKODU": self.postal_code,
            "ULKE_KODU": self.country_code,
        }
        return {"CariTemelBilgi": basic, "CariEkBilgi": {"CARI_KOD": self.code}}


class NetsisSlipLine(_Model):
    raw_code: str = Field(alias="StokKodu")
    quantity: Decimal = Field(Decimal(0), alias="STra_GCMIK")
    net_price: Decimal | None = Field(None, alias="STra_NF")
    vat_rate: Decimal | None = Field(None, alias="STra_KDV")
    warehouse: int | None = Field(None, alias="DEPO_KODU")
    order_number: Code = Field("", alias="STra_SIPNUM", description="the order a dispatch line ships")

    @property
    def code(self) -> str:
        return self.raw_code.strip(TRIM)


class NetsisSlipHeader(BaseModel):
    """``FatUst``; free fields (``EKACK1..16``) are kept as extra fields, read with :meth:`field`."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    number: str = Field(alias="FATIRS_NO")
    customer_code: Code = Field("", validation_alias=AliasChoices("CariKod", "CARI_KOD", "CARI_KODU"))
    date: datetime | None = Field(None, validation_alias=AliasChoices("Tarih", "TARIH"))

    def field(self, name: str) -> str:
        value = (self.model_extra or {}).get(name)
        return value.strip() if isinstance(value, str) else ""


class NetsisSlip(_Model):
    header: NetsisSlipHeader = Field(alias="FatUst")
    lines: list[NetsisSlipLine] = Field([], alias="Kalems")

    @model_validator(mode="before")
    @classmethod
    def _nest(cls, value: object) -> object:
        # Some answers are flat: the header fields at the top, the lines beside them.
        if isinstance(value, dict) and "FatUst" not in value:
            return {"FatUst": value, "Kalems": value.get("Kalems", [])}
        return value


class NetsisSlipLineInput(_Model):
    stock_code: str
    quantity: Decimal = Field(gt=0)
    net_price: Decimal = Field(ge=0, description="unit price after discounts")
    gross_price: Decimal = Field(ge=0, description="unit price before discounts")
    vat_rate: Decimal = Field(ge=0, description="a percentage")
    warehouse: int
    order_number: str = ""

    def to_body(self, row: int, delivery: str) -> dict[str, JsonValue]:
        line: dict[str, JsonValue] = {
            "StokKodu": self.stock_code,
            "Sira": row,
            "DEPO_KODU": self.warehouse,
            "STra_GCMIK": float(self.quantity),
            "STra_NF": float(self.net_price),
            "STra_BF": float(self.gross_price),
            "STra_KDV": float(self.vat_rate),
            "STra_DOVTIP": 0,
            "STra_HTUR": "H",
            "STra_testar": delivery,
            "Stra_FiyatTar": delivery,
        }
        if self.order_number:
            line["STra_SIPNUM"] = self.order_number
        return line


class NetsisSlipInput(_Model):
    """An item slip to post (a customer order by default): the number is chosen by the client, 15
    characters, and Netsis must keep it (``KayitliNumaraOtomatikGuncellensin: false``)."""

    doc_type: int = 7  # ftSSip
    number: str = Field(min_length=15, max_length=15)
    customer_code: str = Field(min_length=1)
    date: datetime
    vat_included: bool
    tipi: int = 2  # UNVERIFIED: 2 (SADO, live) or 7 (AKY)
    branch_code: int = 0
    note: str = ""
    extra: dict[str, str] = Field(default_factory=dict, description="free fields EKACK1..16")
    lines: list[NetsisSlipLineInput] = Field(min_length=1)

    def to_body(self) -> dict[str, JsonValue]:
        when = self.date.strftime("%Y-%m-%d %H:%M:%S")
        day = self.date.strftime("%Y-%m-%d 00:00:00")
        header: dict[str, JsonValue] = {
            "Sube_Kodu": self.branch_code,
            "FATIRS_NO": self.number,
            "CariKod": self.customer_code,
            "Tarih": day,
            "ENTEGRE_TRH": day,
            "FiiliTarih": when,
            "SIPARIS_TEST": day,
            "FIYATTARIHI": day,
            "KOSULTARIHI": day,
            "Tip": self.doc_type,
            "TIPI": self.tipi,
            "KDV_DAHILMI": self.vat_included,
            "DOVIZTIP": 0,
            "Aciklama": self.note,
            **self.extra,
        }
        return {
            "FaturaTip": self.doc_type,
            "KayitliNumaraOtomatikGuncellensin": False,
            "SeriliHesapla": True,
            "KosulluHesapla": False,
            "FiyatSistemineGoreHesapla": False,
            "OtoVadeGunGetir": True,
            "OtomatikCevrimYapilsin": False,
            "RiskKontrol": True,
            "FatUst": header,
            "Kalems": [line.to_body(i, day) for i, line in enumerate(self.lines, 1)],
        }


class NetsisStockRow(_Row):
    raw_code: str = Field(alias="STOK_KODU")
    balance: Decimal = Field(Decimal(0), alias="BAKIYE")

    @property
    def code(self) -> str:
        return self.raw_code.strip(TRIM)


class NetsisPriceRow(_Row):
    raw_code: str = Field(alias="STOKKODU")
    price: Decimal = Field(alias="FIYAT1")
    currency_type: int = Field(0, alias="FIYATDOVIZTIPI")
    valid_from: datetime | None = Field(None, alias="BASTAR")
    valid_to: datetime | None = Field(None, alias="BITTAR")

    @property
    def code(self) -> str:
        return self.raw_code.strip(TRIM)
