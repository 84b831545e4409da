"""The Netsis emulator's company database: its SQL tables, a generated catalog, slips and mutations.

Tables carry Netsis' names: ``TBLSTSABIT`` (stock master), ``TBLSTOKPH`` (stock per warehouse,
``TOP_GIRIS_MIK - TOP_CIKIS_MIK``; ``DEPO_KODU = 0`` holds the total), ``TBLSTOKFIAT`` (price lists by
``FIYATGRUBU``), ``TBLCASABIT`` (customers), ``TBLSIPAMAS``/``TBLSIPATRA`` (orders) and
``TBLFATUIRS``/``TBLSTHAR`` (invoices and dispatch notes). Some generated stock codes carry a leading space
or a trailing TAB, as real ones do; the SKU is the trimmed code. Callers hold ``db.lock`` around anything
spanning several statements.
"""

# ruff: noqa: RUF001 - names and messages are Turkish, as in a Netsis company (the dotless i is a letter there)

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from pydantic import JsonValue

from connector_pipelines.sandbox.logo_tsql import Database, Param, Row, iso, param

GENERATED_AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC).timestamp()
CENT = Decimal("0.01")
# JTFaturaTip: the REST enum, int <-> name.
DOC_TYPES = {
    0: "ftSFat",
    1: "ftAFat",
    2: "ftSIrs",
    3: "ftAIrs",
    6: "ftASip",
    7: "ftSSip",
    8: "ftAmbarG",
    9: "ftAmbarC",
    12: "ftAlTalep",
    13: "ftAlTeklif",
    14: "ftSatTalep",
    15: "ftSatTeklif",
}
DOC_TYPE_BY_NAME = {name.lower(): number for number, name in DOC_TYPES.items()}
SALES_ORDER = 7
SALES_DISPATCH = 2
EXTRA_FIELDS = tuple(f"EKACK{n}" for n in range(1, 17))
_NOUNS = ("Vida", "Somun", "Conta", "Rulman", "Kablo", "Pano", "Sigorta", "Priz", "Anahtar", "Boru")
_ADJECTIVES = ("Çelik", "Galvaniz", "Plastik", "Bakır", "Krom", "Mini", "Maxi", "Sanayi", "Pro", "Eko")
_WAREHOUSES = (10, 20, 30, 40, 50)
_PRICE_GROUPS = ("WEB", "BAYI", "MAGAZA", "KAMPANYA")
_GROUP_FACTORS = (100, 80, 105, 90)  # percent of the base price, per price group


@dataclass(frozen=True)
class SlipKind:
    """Where a document type lives: orders in TBLSIPAMAS/TBLSIPATRA, the rest in TBLFATUIRS/TBLSTHAR."""

    number: int
    header: str
    lines: str
    code: str  # FTIRSIP (UNVERIFIED: the database's own type codes, not the REST enum)


SLIP_KINDS = {
    0: SlipKind(0, "TBLFATUIRS", "TBLSTHAR", "1"),
    1: SlipKind(1, "TBLFATUIRS", "TBLSTHAR", "2"),
    2: SlipKind(2, "TBLFATUIRS", "TBLSTHAR", "3"),
    3: SlipKind(3, "TBLFATUIRS", "TBLSTHAR", "4"),
    6: SlipKind(6, "TBLSIPAMAS", "TBLSIPATRA", "7"),
    7: SlipKind(7, "TBLSIPAMAS", "TBLSIPATRA", "6"),
}


class NetsisRefused(Exception):
    """A business error: Netsis answers it with HTTP 200 and ``IsSuccessful: false``."""

    def __init__(self, code: str, desc: str) -> None:
        self.code = code
        self.desc = desc
        super().__init__(f"{code}: {desc}")


def _header_ddl(table: str) -> str:
    extras = ", ".join(f"{name} TEXT" for name in EXTRA_FIELDS)
    return (
        f"CREATE TABLE {table} (FTIRSIP TEXT, FATIRS_NO TEXT, CARI_KODU TEXT, TARIH TEXT, TIPI INTEGER, "
        f"KDV_DAHILMI TEXT, DOVIZTIP INTEGER, ACIKLAMA TEXT, {extras}, BRUTTUTAR REAL, KDV REAL, "
        "GENELTOPLAM REAL, SUBE_KODU INTEGER, KAYITTARIHI TEXT, DUZELTMETARIHI TEXT, "
        "PRIMARY KEY (FTIRSIP, FATIRS_NO));"
    )


def _lines_ddl(table: str) -> str:
    return (
        f"CREATE TABLE {table} (FISNO TEXT, STHAR_FTIRSIP TEXT, SIRA INTEGER, STOK_KODU TEXT, "
        "STHAR_GCMIK REAL, STHAR_NF REAL, STHAR_BF REAL, STHAR_KDV REAL, DEPO_KODU INTEGER, "
        "STHAR_DOVTIP INTEGER, STHAR_HTUR TEXT, STHAR_TESTAR TEXT, STHAR_CARIKOD TEXT, STHAR_SIPNUM TEXT, "
        f"STHAR_TARIH TEXT); CREATE INDEX {table}_FISNO ON {table} (STHAR_FTIRSIP, FISNO);"
    )


_SCHEMA = f"""
CREATE TABLE TBLSTSABIT (STOK_KODU TEXT PRIMARY KEY, STOK_ADI TEXT, KDV_ORANI REAL, SATIS_FIAT1 REAL,
    SATIS_FIAT2 REAL, SATIS_FIAT3 REAL, SATIS_FIAT4 REAL, ALIS_FIAT1 REAL, SAT_DOV_TIP INTEGER,
    DOV_SATIS_FIAT REAL, OLCU_BR1 TEXT, GRUP_KODU TEXT, KOD_1 TEXT, BARKOD1 TEXT, DEPO_KODU INTEGER,
    SUBE_KODU INTEGER, ISLETME_KODU INTEGER, KILIT TEXT, KAYITTARIHI TEXT, DUZELTMETARIHI TEXT);
CREATE TABLE TBLSTOKPH (STOK_KODU TEXT, DEPO_KODU INTEGER, TOP_GIRIS_MIK REAL, TOP_CIKIS_MIK REAL,
    PRIMARY KEY (STOK_KODU, DEPO_KODU)) WITHOUT ROWID;
CREATE TABLE TBLSTOKFIAT (FIYATNO INTEGER PRIMARY KEY, STOKKODU TEXT, FIYATGRUBU TEXT, FIYAT1 REAL,
    FIYATDOVIZTIPI INTEGER, BASTAR TEXT, BITTAR TEXT, A_S TEXT, KAYITTARIHI TEXT, DUZELTMETARIHI TEXT);
CREATE TABLE TBLCASABIT (CARI_KOD TEXT PRIMARY KEY, CARI_ISIM TEXT, CARI_TIP TEXT, VERGI_NUMARASI TEXT,
    VERGI_DAIRESI TEXT, CARI_IL TEXT, CARI_ILCE TEXT, CARI_TEL TEXT, CARI_ADRES TEXT, POSTAKODU TEXT,
    ULKE_KODU TEXT, CM_BORCT REAL, SUBE_KODU INTEGER, ISLETME_KODU INTEGER, KAYITTARIHI TEXT,
    DUZELTMETARIHI TEXT);
{_header_ddl("TBLSIPAMAS")}
{_lines_ddl("TBLSIPATRA")}
{_header_ddl("TBLFATUIRS")}
{_lines_ddl("TBLSTHAR")}
"""


def _money(value: Decimal | float) -> float:
    return float(Decimal(str(value)).quantize(CENT, ROUND_HALF_UP))


class NetsisStore:
    """One company database. ``clock`` (epoch seconds) stamps every change."""

    def __init__(
        self,
        *,
        items: int,
        warehouses: int,
        price_lists: int,
        customers: int,
        seed: int,
        branch: int,
        clock: Callable[[], float],
    ) -> None:
        if not 1 <= warehouses <= len(_WAREHOUSES):
            raise ValueError(f"warehouses must be between 1 and {len(_WAREHOUSES)}")
        if not 1 <= price_lists <= len(_PRICE_GROUPS):
            raise ValueError(f"price_lists must be between 1 and {len(_PRICE_GROUPS)}")
        self.clock = clock
        self.db = Database(clock)
        self.seed = seed
        self.branch = branch
        self.warehouse_codes = list(_WAREHOUSES[:warehouses])
        self.price_groups = list(_PRICE_GROUPS[:price_lists])
        self._sizes = (items, customers)
        self.raw_codes: dict[str, str] = {}
        self._build()

    def _build(self) -> None:
        self.db.script(_SCHEMA)
        items, customers = self._sizes
        rng = random.Random(self.seed)
        draw = rng.random
        created = iso(GENERATED_AT)
        self.raw_codes = {}
        item_rows: list[Sequence[Param]] = []
        stock_rows: list[Sequence[Param]] = []
        price_rows: list[Sequence[Param]] = []
        for n in range(1, items + 1):
            sku = f"ST{self.seed % 100:02d}-{n:05d}"
            # Real codes carry stray blanks and TABs (contract 2.2): every 7th here.
            raw = (f" {sku}" if n % 14 == 0 else f"{sku}\t") if n % 7 == 0 else sku
            self.raw_codes[sku] = raw
            base_cents = 500 + int(draw() * 99_500)
            prices = [
                round(base_cents * _GROUP_FACTORS[i] / 100) / 100 for i in range(len(self.price_groups))
            ]
            fiat = [*prices, 0.0, 0.0, 0.0, 0.0][:4]
            item_rows.append(
                (
                    raw,
                    f"{_ADJECTIVES[int(draw() * 10)]} {_NOUNS[int(draw() * 10)]} {n}",
                    (20.0, 20.0, 20.0, 10.0, 1.0)[int(draw() * 5)],
                    *fiat,
                    round(base_cents * 0.6) / 100,
                    0,
                    0.0,
                    "AD",
                    ("HIRDAVAT", "ELEKTRIK", "TESISAT")[int(draw() * 3)],
                    "",
                    f"868{1_000_000_000 + int(draw() * 9_000_000_000)}",
                    self.warehouse_codes[0],
                    self.branch,
                    1,
                    "H",
                    created,
                    created,
                )
            )
            total_in = total_out = 0.0
            for warehouse in self.warehouse_codes:
                received = 0.0 if draw() < 0.1 else float(1 + int(draw() * 300))
                issued = float(int(draw() * received * 0.5))
                stock_rows.append((raw, warehouse, received, issued))
                total_in += received
                total_out += issued
            stock_rows.append((raw, 0, total_in, total_out))
            for index, group in enumerate(self.price_groups):
                price_rows.append(
                    (
                        None,
                        raw,
                        group,
                        prices[index],
                        0,
                        created,
                        "2099-12-31T00:00:00",
                        "S",
                        created,
                        created,
                    )
                )
        self.db.executemany(f"INSERT INTO TBLSTSABIT VALUES ({_marks(20)})", item_rows)
        self.db.executemany("INSERT INTO TBLSTOKPH VALUES (?, ?, ?, ?)", stock_rows)
        self.db.executemany(f"INSERT INTO TBLSTOKFIAT VALUES ({_marks(10)})", price_rows)
        self.db.script("CREATE INDEX STOKFIAT_GRUP ON TBLSTOKFIAT (FIYATGRUBU, STOKKODU);")
        customer_rows: list[Sequence[Param]] = [
            (
                f"120.01.{n:03d}",
                f"Bayi {n} Tic. A.Ş.",
                "A",
                f"{1_000_000_000 + int(draw() * 9_000_000_000)}",
                "Kozyatağı",
                "İSTANBUL",
                "Ataşehir",
                f"0216444{n:04d}",
                f"Sanayi Cad. No:{n}",
                "34750",
                "TR",
                0.0,
                self.branch,
                1,
                created,
                created,
            )
            for n in range(1, customers + 1)
        ]
        self.db.executemany(f"INSERT INTO TBLCASABIT VALUES ({_marks(16)})", customer_rows)

    def reset(self) -> None:
        """Back to the generated catalog: slips, new customers and changes are gone."""
        with self.db.lock:
            for row in self.db.rows("SELECT name FROM sqlite_master WHERE type = 'table'"):
                self.db.execute(f"DROP TABLE {row['name']}")
            self._build()

    # --- lookups -----------------------------------------------------------------------------------------

    def skus(self) -> list[str]:
        return sorted(self.raw_codes)

    def raw_code(self, code: str) -> str | None:
        """The stored stock code for a code as a client sends it: exact, or after trimming blanks and TABs
        (UNVERIFIED how strictly Netsis matches; lenient here)."""
        if code in self.raw_codes.values():
            return code
        return self.raw_codes.get(code.strip(" \t"))

    def customer_exists(self, code: str) -> bool:
        return self.db.scalar("SELECT 1 FROM TBLCASABIT WHERE CARI_KOD = ?", (code,)) == 1

    def stock_levels(self, warehouse: int) -> dict[str, Decimal]:
        rows = self.db.rows(
            "SELECT STOK_KODU, TOP_GIRIS_MIK - TOP_CIKIS_MIK AS BAKIYE FROM TBLSTOKPH WHERE DEPO_KODU = ?",
            (warehouse,),
        )
        return {str(r["STOK_KODU"]).strip(" \t"): _decimal(r["BAKIYE"]) for r in rows}

    def price_levels(self, group: str) -> dict[str, Decimal]:
        rows = self.db.rows("SELECT STOKKODU, FIYAT1 FROM TBLSTOKFIAT WHERE FIYATGRUBU = ?", (group,))
        return {str(r["STOKKODU"]).strip(" \t"): _decimal(r["FIYAT1"]) for r in rows}

    # --- stock and prices --------------------------------------------------------------------------------

    def set_stock(self, sku: str, warehouse: int, quantity: Decimal) -> None:
        raw = self.raw_code(sku)
        if raw is None:
            raise KeyError(f"no stock code {sku!r}")
        if warehouse not in self.warehouse_codes:
            raise KeyError(f"no warehouse {warehouse}")
        current = self.db.scalar(
            "SELECT TOP_GIRIS_MIK - TOP_CIKIS_MIK FROM TBLSTOKPH WHERE STOK_KODU = ? AND DEPO_KODU = ?",
            (raw, warehouse),
        )
        delta = float(quantity) - float(current if isinstance(current, int | float) else 0)
        self._move(raw, warehouse, delta)

    def _move(self, raw: str, warehouse: int, delta: float) -> None:
        # A receipt raises TOP_GIRIS_MIK, an issue TOP_CIKIS_MIK; DEPO_KODU 0 follows as the total.
        column = "TOP_GIRIS_MIK" if delta >= 0 else "TOP_CIKIS_MIK"
        for code in (warehouse, 0):
            self.db.execute(
                f"UPDATE TBLSTOKPH SET {column} = {column} + ? WHERE STOK_KODU = ? AND DEPO_KODU = ?",
                (abs(delta), raw, code),
            )
        self.db.execute(
            "UPDATE TBLSTSABIT SET DUZELTMETARIHI = ? WHERE STOK_KODU = ?", (iso(self.clock()), raw)
        )

    def change_stock(self, fraction: float, seed: int) -> list[str]:
        rng = random.Random(seed)
        skus = self._sample(fraction, rng)
        for sku in skus:
            for warehouse in self.warehouse_codes:
                self.set_stock(sku, warehouse, Decimal(rng.randrange(0, 250)))
        return skus

    def set_price(self, sku: str, group: str, price: Decimal) -> None:
        raw = self.raw_code(sku)
        if raw is None:
            raise KeyError(f"no stock code {sku!r}")
        if group not in self.price_groups:
            raise KeyError(f"no price group {group!r}")
        now = iso(self.clock())
        self.db.execute(
            "UPDATE TBLSTOKFIAT SET FIYAT1 = ?, DUZELTMETARIHI = ? WHERE STOKKODU = ? AND FIYATGRUBU = ?",
            (_money(price), now, raw, group),
        )
        index = self.price_groups.index(group) + 1
        if index <= 4:  # Satis_Fiat1..4 follow the first four price groups
            self.db.execute(
                f"UPDATE TBLSTSABIT SET SATIS_FIAT{index} = ?, DUZELTMETARIHI = ? WHERE STOK_KODU = ?",
                (_money(price), now, raw),
            )

    def change_prices(self, fraction: float, seed: int, group: str | None = None) -> list[str]:
        rng = random.Random(seed)
        skus = self._sample(fraction, rng)
        groups = [group] if group is not None else self.price_groups
        current = {name: self.price_levels(name) for name in groups}
        for sku in skus:
            for name in groups:
                factor = Decimal(rng.choice((90, 95, 105, 110, 120))) / 100
                self.set_price(sku, name, current[name][sku] * factor)
        return skus

    # --- item cards -----------------------------------------------------------------------------------------

    def add_item(
        self,
        sku: str,
        name: str,
        vat: Decimal,
        stock: Mapping[int, Decimal],
        prices: Mapping[str, Decimal],
    ) -> None:
        """A new stock card stamped now, its balance per warehouse (and the total, ``DEPO_KODU`` 0) and a
        price row per price group; ``Satis_Fiat1..4`` follow the first four groups."""
        if not sku or len(sku) > 35 or sku != sku.strip(" \t"):
            raise ValueError(f"stock code {sku!r}: 1 to 35 characters, no leading or trailing blanks")
        if self.raw_code(sku) is not None:
            raise ValueError(f"a stock card with code {sku!r} exists")
        unknown = [str(n) for n in stock if n not in self.warehouse_codes]
        unknown += [group for group in prices if group not in self.price_groups]
        if unknown:
            raise KeyError(f"stock code {sku!r}: no warehouse or price group {', '.join(unknown)}")
        now = iso(self.clock())
        fiat = [_money(prices[g]) if g in prices else 0.0 for g in self.price_groups] + [0.0] * 4
        self.db.execute(
            f"INSERT INTO TBLSTSABIT VALUES ({_marks(20)})",
            (
                sku,
                name or sku,
                float(vat),
                *fiat[:4],
                0.0,
                0,
                0.0,
                "AD",
                "",
                "",
                "",
                self.warehouse_codes[0],
                self.branch,
                1,
                "H",
                now,
                now,
            ),
        )
        balances = [(sku, code, float(stock.get(code, 0)), 0.0) for code in self.warehouse_codes]
        total = sum(balance for _, _, balance, _ in balances)
        self.db.executemany("INSERT INTO TBLSTOKPH VALUES (?, ?, ?, ?)", [*balances, (sku, 0, total, 0.0)])
        self.db.executemany(
            f"INSERT INTO TBLSTOKFIAT VALUES ({_marks(10)})",
            [
                (None, sku, group, _money(price), 0, now, "2099-12-31T00:00:00", "S", now, now)
                for group, price in prices.items()
            ],
        )
        self.raw_codes[sku] = sku

    def delete_item(self, sku: str) -> None:
        """The stock card, its balances and its price rows are gone."""
        raw = self.raw_code(sku)
        if raw is None:
            raise KeyError(f"no stock code {sku!r}")
        for table, column in (
            ("TBLSTOKPH", "STOK_KODU"),
            ("TBLSTOKFIAT", "STOKKODU"),
            ("TBLSTSABIT", "STOK_KODU"),
        ):
            self.db.execute(f"DELETE FROM {table} WHERE {column} = ?", (raw,))
        del self.raw_codes[raw.strip(" \t")]

    def _sample(self, fraction: float, rng: random.Random) -> list[str]:
        if not 0 < fraction <= 1:
            raise ValueError("fraction must be in (0, 1]")
        skus = self.skus()
        return sorted(rng.sample(skus, max(1, round(len(skus) * fraction))))

    # --- customers -----------------------------------------------------------------------------------------

    def create_customer(self, values: dict[str, Param]) -> None:
        code = values.get("CARI_KOD")
        if not isinstance(code, str) or not code.strip():
            raise NetsisRefused("101", "Cari Kod boş olamaz.")
        if len(code) > 15:
            raise NetsisRefused("101", f"Cari Kod en fazla 15 karakter olabilir: {code}")
        if self.customer_exists(code):
            raise NetsisRefused("101", f"{code} kodlu cari zaten kayıtlı.")
        now = iso(self.clock())
        row: dict[str, Param] = {
            "CARI_TIP": "A",
            "CM_BORCT": 0.0,
            "SUBE_KODU": self.branch,
            "ISLETME_KODU": 1,
            **values,
            "KAYITTARIHI": now,
            "DUZELTMETARIHI": now,
        }
        self._insert("TBLCASABIT", row)

    # --- slips ---------------------------------------------------------------------------------------------

    def slip_exists(self, kind: SlipKind, number: str) -> bool:
        return (
            self.db.scalar(
                f"SELECT 1 FROM {kind.header} WHERE FTIRSIP = ? AND FATIRS_NO = ?", (kind.code, number)
            )
            == 1
        )

    def next_number(self, kind: SlipKind, series: str) -> str:
        """The next 15-character number of a series: the prefix, then digits."""
        width = 15 - len(series)
        rows = self.db.rows(
            f"SELECT FATIRS_NO FROM {kind.header} WHERE FTIRSIP = ? AND FATIRS_NO LIKE ?",
            (kind.code, f"{series}%"),
        )
        used = [int(n[len(series) :]) for r in rows if (n := str(r["FATIRS_NO"]))[len(series) :].isdigit()]
        return f"{series}{max(used, default=0) + 1:0{width}d}"

    def insert_slip(
        self, kind: SlipKind, header: dict[str, Param], lines: Sequence[dict[str, Param]]
    ) -> None:
        now = iso(self.clock())
        gross = vat = 0.0
        for index, line in enumerate(lines, 1):
            amount = float(line.get("STHAR_GCMIK") or 0)
            price = float(line.get("STHAR_NF") or 0)
            rate = float(line.get("STHAR_KDV") or 0)
            total = amount * price
            if header.get("KDV_DAHILMI") == "E":
                net = total / (1 + rate / 100)
                vat += total - net
                total = net
            else:
                vat += total * rate / 100
            gross += total
            self._insert(
                kind.lines,
                {
                    **line,
                    "FISNO": header["FATIRS_NO"],
                    "STHAR_FTIRSIP": kind.code,
                    "SIRA": line.get("SIRA") or index,
                    "STHAR_CARIKOD": header["CARI_KODU"],
                    "STHAR_TARIH": header["TARIH"],
                },
            )
        full: dict[str, Param] = {
            **header,
            "FTIRSIP": kind.code,
            "BRUTTUTAR": _money(gross),
            "KDV": _money(vat),
            "GENELTOPLAM": _money(gross + vat),
            "KAYITTARIHI": now,
            "DUZELTMETARIHI": now,
        }
        self._insert(kind.header, full)

    def delete_slip(self, kind: SlipKind, number: str) -> bool:
        found = self.slip_exists(kind, number)
        self.db.execute(f"DELETE FROM {kind.header} WHERE FTIRSIP = ? AND FATIRS_NO = ?", (kind.code, number))
        self.db.execute(
            f"DELETE FROM {kind.lines} WHERE STHAR_FTIRSIP = ? AND FISNO = ?", (kind.code, number)
        )
        return found

    def slip_rows(self, kind: SlipKind, where: str = "1 = 1", params: Sequence[Param] = ()) -> list[Row]:
        return self.db.rows(
            f"SELECT * FROM {kind.header} WHERE FTIRSIP = ? AND ({where}) ORDER BY KAYITTARIHI, FATIRS_NO",
            [kind.code, *params],
        )

    def render_slip(self, kind: SlipKind, header: Row) -> dict[str, JsonValue]:
        """``{"FatUst": {…}, "Kalems": [...]}`` as ``GET /ItemSlips/{type};{no};`` answers."""
        lines = self.db.rows(
            f"SELECT * FROM {kind.lines} WHERE STHAR_FTIRSIP = ? AND FISNO = ? ORDER BY SIRA",
            (kind.code, param(header["FATIRS_NO"])),
        )
        fat_ust: dict[str, JsonValue] = {
            "Sube_Kodu": header["SUBE_KODU"],
            "FATIRS_NO": header["FATIRS_NO"],
            "CariKod": header["CARI_KODU"],
            "Tarih": header["TARIH"],
            "Tip": kind.number,
            "TIPI": header["TIPI"],
            "KDV_DAHILMI": header["KDV_DAHILMI"] == "E",
            "DOVIZTIP": header["DOVIZTIP"],
            "Aciklama": header["ACIKLAMA"] or "",
            **{name: header[name] for name in EXTRA_FIELDS if header[name]},
            "BRUTTUTAR": header["BRUTTUTAR"],
            "KDV": header["KDV"],
            "GENELTOPLAM": header["GENELTOPLAM"],
        }
        kalems: list[JsonValue] = [
            {
                "StokKodu": line["STOK_KODU"],
                "Sira": line["SIRA"],
                "STra_GCMIK": line["STHAR_GCMIK"],
                "STra_NF": line["STHAR_NF"],
                "STra_BF": line["STHAR_BF"],
                "STra_KDV": line["STHAR_KDV"],
                "DEPO_KODU": line["DEPO_KODU"],
                "STra_DOVTIP": line["STHAR_DOVTIP"],
                "STra_HTUR": line["STHAR_HTUR"],
                "STra_CARI_KOD": line["STHAR_CARIKOD"],
                "STra_FATIRSNO": line["FISNO"],
                "STra_TAR": line["STHAR_TARIH"],
                "STra_SIPNUM": line["STHAR_SIPNUM"] or "",
            }
            for line in lines
        ]
        return {"FatUst": fat_ust, "Kalems": kalems}

    def ship(self, order_no: str, tracking: str, carrier: str | None, fields: tuple[str, str]) -> str:
        """A sales dispatch note (ftSIrs) of a whole order, found by FATIRS_NO or by the shop number in
        EKACK1; tracking and carrier go to the header fields ``fields``. Returns its number."""
        order_kind, dispatch_kind = SLIP_KINDS[SALES_ORDER], SLIP_KINDS[SALES_DISPATCH]
        found = self.slip_rows(order_kind, "FATIRS_NO = ? OR EKACK1 = ?", (order_no, order_no))
        if len(found) != 1:
            raise KeyError(f"{len(found)} orders with FATIRS_NO or EKACK1 {order_no!r}")
        order = found[0]
        number = str(order["FATIRS_NO"])
        shipped = self.db.scalar(
            "SELECT 1 FROM TBLSTHAR WHERE STHAR_FTIRSIP = ? AND STHAR_SIPNUM = ?",
            (dispatch_kind.code, number),
        )
        if shipped == 1:
            raise ValueError(f"order {order_no!r} is already shipped")
        lines = self.db.rows(
            "SELECT * FROM TBLSIPATRA WHERE STHAR_FTIRSIP = ? AND FISNO = ? ORDER BY SIRA",
            (order_kind.code, number),
        )
        dispatch_no = self.next_number(dispatch_kind, "IRS")
        now = iso(self.clock())
        tracking_field, carrier_field = fields
        header: dict[str, Param] = {
            "FATIRS_NO": dispatch_no,
            "CARI_KODU": param(order["CARI_KODU"]),
            "TARIH": now,
            "TIPI": param(order["TIPI"]),
            "KDV_DAHILMI": param(order["KDV_DAHILMI"]),
            "DOVIZTIP": param(order["DOVIZTIP"]),
            "ACIKLAMA": f"{number} nolu siparişin sevki",
            "SUBE_KODU": param(order["SUBE_KODU"]),
            tracking_field: tracking,
        }
        if carrier:
            header[carrier_field] = carrier
        copied = [
            {name: param(line[name]) for name in line if name.startswith(("STHAR_", "STOK_", "DEPO_"))}
            | {"STHAR_SIPNUM": number, "SIRA": param(line["SIRA"])}
            for line in lines
        ]
        self.insert_slip(dispatch_kind, header, copied)
        for line in lines:
            self._move(str(line["STOK_KODU"]), int(str(line["DEPO_KODU"])), -float(str(line["STHAR_GCMIK"])))
        return dispatch_no

    # --- helpers -------------------------------------------------------------------------------------------

    def _insert(self, table: str, row: dict[str, Param]) -> None:
        columns = ", ".join(row)
        self.db.execute(f"INSERT INTO {table} ({columns}) VALUES ({_marks(len(row))})", list(row.values()))


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _decimal(value: JsonValue) -> Decimal:
    return Decimal(str(value if isinstance(value, int | float) else 0)).quantize(CENT, ROUND_HALF_UP)
