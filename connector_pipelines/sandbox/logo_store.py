"""The Logo emulator's firm: its SQL tables (the real names and columns), a generated catalog, mutations.

Everything lives in SQL tables because Logo's REST service is a view over them and its query route reads
them directly: ``LG_{firm}_ITEMS``, ``LG_{firm}_CLCARD`` (customers), ``LG_{firm}_PRCLIST`` (sales prices,
``PTYPE = 2``; a price list is a trading group, ``TRADINGGRP``), ``LG_{firm}_{period}_ORFICHE``/``ORFLINE``
(sales orders), ``STFICHE``/``STLINE`` (dispatches, ``TRCODE = 8``), ``LG_{firm}_{period}_STINVTOT`` (stock
totals per item, warehouse and day; ``INVENNO = -1`` holds the total over all warehouses) and its view
``LV_{firm}_{period}_STINVTOT``. A stock change is a new row for today, so a client must ``SUM`` as real
clients do. Modification stamps are Logo's ``CAPIBLOCK_MODIFIED{DATE,HOUR,MIN,SEC}`` columns (the date column
holds midnight). Callers hold ``db.lock`` around anything spanning several statements.
"""

# ruff: noqa: RUF001 - names and messages are Turkish, as in a Logo firm (the dotless i is a letter there)

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from pydantic import JsonValue

from connector_pipelines.sandbox.logo_tsql import Database, Param, Row, iso, param

GENERATED_AT = datetime(2026, 1, 5, 9, 30, tzinfo=UTC).timestamp()  # stamps of the generated catalog
TL = 160  # Logo's currency number of the Turkish lira
ORDER_TRCODE = 1
DISPATCH_TRCODE = 8
_NOUNS = ("Kalem", "Defter", "Çanta", "Bardak", "Havlu", "Lamba", "Tabak", "Kutu", "Saat", "Şemsiye")
_ADJECTIVES = ("Mavi", "Büyük", "Küçük", "Klasik", "Modern", "Yeşil", "Sade", "Lüks", "Mini", "Eko")
_GROUPS = ("KIRTASIYE", "MUTFAK", "EV", "AKSESUAR")
_WAREHOUSES = ("Merkez Depo", "Web Depo", "Mağaza 1", "Mağaza 2", "Mağaza 3")
_PRICE_LISTS = ("WEB", "BAYI", "MAGAZA", "KAMPANYA")
_LIST_FACTORS = (100, 80, 105, 90)  # percent of the base price, per price list
CENT = Decimal("0.01")


class LogoInvalid(ValueError):
    """What Logo Objects refuses, one message per ModelState ``ValError{i}``."""

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages = list(messages)
        super().__init__("; ".join(self.messages))


@dataclass(frozen=True)
class Tables:
    firm: int
    period: int

    @property
    def f(self) -> str:
        return f"{self.firm:03d}"

    @property
    def fp(self) -> str:
        return f"{self.firm:03d}_{self.period:02d}"

    @property
    def items(self) -> str:
        return f"LG_{self.f}_ITEMS"

    @property
    def customers(self) -> str:
        return f"LG_{self.f}_CLCARD"

    @property
    def prices(self) -> str:
        return f"LG_{self.f}_PRCLIST"

    @property
    def orders(self) -> str:
        return f"LG_{self.fp}_ORFICHE"

    @property
    def order_lines(self) -> str:
        return f"LG_{self.fp}_ORFLINE"

    @property
    def slips(self) -> str:
        return f"LG_{self.fp}_STFICHE"

    @property
    def slip_lines(self) -> str:
        return f"LG_{self.fp}_STLINE"

    @property
    def stock(self) -> str:
        return f"LG_{self.fp}_STINVTOT"

    @property
    def stock_view(self) -> str:
        return f"LV_{self.fp}_STINVTOT"


_STAMP = (
    "CAPIBLOCK_CREADEDDATE TEXT, CAPIBLOCK_MODIFIEDDATE TEXT, CAPIBLOCK_MODIFIEDHOUR INTEGER, "
    "CAPIBLOCK_MODIFIEDMIN INTEGER, CAPIBLOCK_MODIFIEDSEC INTEGER"
)
_STAMP_COLUMNS = (
    "CAPIBLOCK_CREADEDDATE",
    "CAPIBLOCK_MODIFIEDDATE",
    "CAPIBLOCK_MODIFIEDHOUR",
    "CAPIBLOCK_MODIFIEDMIN",
    "CAPIBLOCK_MODIFIEDSEC",
)


def _schema(t: Tables, *, view: bool) -> str:
    ddl = f"""
    CREATE TABLE L_CAPIWHOUSE (FIRMNR INTEGER, NR INTEGER, NAME TEXT, PRIMARY KEY (FIRMNR, NR));
    CREATE TABLE {t.items} (LOGICALREF INTEGER PRIMARY KEY, CODE TEXT UNIQUE, NAME TEXT, NAME2 TEXT,
        CARDTYPE INTEGER, ACTIVE INTEGER, STGRPCODE TEXT, SPECODE TEXT, PRODUCERCODE TEXT, VAT REAL,
        SELLVAT REAL, RETURNVAT REAL, UNITSETCODE TEXT, UNITCODE TEXT, BARCODE TEXT, GUID TEXT, {_STAMP});
    CREATE TABLE {t.customers} (LOGICALREF INTEGER PRIMARY KEY, CODE TEXT UNIQUE, DEFINITION_ TEXT,
        CARDTYPE INTEGER, ACTIVE INTEGER, ADDR1 TEXT, ADDR2 TEXT, TOWN TEXT, CITY TEXT, COUNTRY TEXT,
        COUNTRYCODE TEXT, POSTCODE TEXT, TELNRS1 TEXT, EMAILADDR TEXT, TAXNR TEXT, TAXOFFICE TEXT,
        TCKNO TEXT, ECOMMID TEXT, {_STAMP});
    CREATE TABLE {t.prices} (LOGICALREF INTEGER PRIMARY KEY, CODE TEXT, CARDREF INTEGER, PTYPE INTEGER,
        PRICE REAL, CURRENCY INTEGER, INCVAT INTEGER, UOMREF INTEGER, PRIORITY INTEGER, ACTIVE INTEGER,
        BEGDATE TEXT, ENDDATE TEXT, TRADINGGRP TEXT, CLIENTCODE TEXT, {_STAMP});
    CREATE TABLE {t.stock} (STOCKREF INTEGER, INVENNO INTEGER, DATE_ TEXT, ONHAND REAL, RESERVED REAL,
        PRIMARY KEY (STOCKREF, INVENNO, DATE_)) WITHOUT ROWID;
    CREATE TABLE {t.orders} (LOGICALREF INTEGER PRIMARY KEY, TRCODE INTEGER, FICHENO TEXT, DATE_ TEXT,
        TIME_ INTEGER, DOCODE TEXT, DOCTRACKINGNR TEXT, CUSTORDNO TEXT, SPECODE TEXT, CLIENTREF INTEGER,
        SOURCEINDEX INTEGER, STATUS INTEGER, GROSSTOTAL REAL, TOTALVAT REAL, NETTOTAL REAL, GENEXP1 TEXT,
        CANCELLED INTEGER, {_STAMP});
    CREATE INDEX ORFICHE_DOCODE ON {t.orders} (DOCODE);
    CREATE TABLE {t.order_lines} (LOGICALREF INTEGER PRIMARY KEY, ORDFICHEREF INTEGER, STOCKREF INTEGER,
        LINETYPE INTEGER, LINENO_ INTEGER, AMOUNT REAL, PRICE REAL, TOTAL REAL, VAT REAL, VATAMNT REAL,
        VATINC INTEGER, SOURCEINDEX INTEGER, SHIPPEDAMOUNT REAL, CLOSED INTEGER, LINEEXP TEXT);
    CREATE INDEX ORFLINE_FICHE ON {t.order_lines} (ORDFICHEREF);
    CREATE TABLE {t.slips} (LOGICALREF INTEGER PRIMARY KEY, TRCODE INTEGER, GRPCODE INTEGER, FICHENO TEXT,
        DATE_ TEXT, DOCODE TEXT, CLIENTREF INTEGER, SOURCEINDEX INTEGER, SHPAGNCOD TEXT, TRACKNR TEXT,
        {_STAMP});
    CREATE TABLE {t.slip_lines} (LOGICALREF INTEGER PRIMARY KEY, STFICHEREF INTEGER, STOCKREF INTEGER,
        LINETYPE INTEGER, LINENO_ INTEGER, TRCODE INTEGER, DATE_ TEXT, AMOUNT REAL, SOURCEINDEX INTEGER,
        ORDFICHEREF INTEGER, ORDTRANSREF INTEGER);
    CREATE INDEX STLINE_FICHE ON {t.slip_lines} (STFICHEREF);
    """
    if view:
        ddl += f"CREATE VIEW {t.stock_view} AS SELECT * FROM {t.stock};"
    return ddl


def stamp(epoch_s: float) -> tuple[str, str, int, int, int]:
    """(created date, modified date, hour, minute, second) as Logo's CAPIBLOCK columns hold them."""
    moment = datetime.fromtimestamp(epoch_s, UTC)
    day = moment.strftime("%Y-%m-%dT00:00:00")
    return day, day, moment.hour, moment.minute, moment.second


def day_of(epoch_s: float) -> str:
    return iso(epoch_s)[:10] + "T00:00:00"


def packed_time(epoch_s: float) -> int:
    """Logo's TIME: ``h*16777216 + m*65536 + s*256`` (milliseconds left at 0)."""
    moment = datetime.fromtimestamp(epoch_s, UTC)
    return moment.hour * 16777216 + moment.minute * 65536 + moment.second * 256


def _money(value: Decimal) -> float:
    return float(value.quantize(CENT, ROUND_HALF_UP))


class LogoStore:
    """One firm's data. ``clock`` (epoch seconds) stamps every change."""

    def __init__(
        self,
        *,
        firm: int,
        period: int,
        items: int,
        warehouses: int,
        price_lists: int,
        customers: int,
        seed: int,
        stock_view: bool,
        clock: Callable[[], float],
    ) -> None:
        if not 1 <= warehouses <= len(_WAREHOUSES):
            raise ValueError(f"warehouses must be between 1 and {len(_WAREHOUSES)}")
        if not 1 <= price_lists <= len(_PRICE_LISTS):
            raise ValueError(f"price_lists must be between 1 and {len(_PRICE_LISTS)}")
        self.tables = Tables(firm, period)
        self.clock = clock
        self.db = Database(clock)
        self.seed = seed
        self.warehouse_numbers = list(range(warehouses))
        self.price_list_codes = list(_PRICE_LISTS[:price_lists])
        self._stock_view = stock_view
        self._sizes = (items, customers)
        self._build()

    # --- generation --------------------------------------------------------------------------------------

    def _build(self) -> None:
        t = self.tables
        self.db.script(_schema(t, view=self._stock_view))
        rng = random.Random(self.seed)
        items, customers = self._sizes
        created = stamp(GENERATED_AT)
        self.db.executemany(
            "INSERT INTO L_CAPIWHOUSE VALUES (?, ?, ?)",
            [(t.firm, n, _WAREHOUSES[n]) for n in self.warehouse_numbers],
        )
        item_rows: list[Sequence[Param]] = []
        stock_rows: list[Sequence[Param]] = []
        price_rows: list[Sequence[Param]] = []
        first_day = day_of(GENERATED_AT)
        later_day = day_of(GENERATED_AT + 3 * 86400)
        price_ref = 0
        draw = rng.random  # randrange is several times slower, and 50,000 items draw half a million numbers
        for ref in range(1, items + 1):
            vat = (20.0, 20.0, 20.0, 10.0, 1.0)[int(draw() * 5)]
            guid = f"{rng.getrandbits(128):032X}"
            item_rows.append(
                (
                    ref,
                    f"M{self.seed % 100:02d}.{ref:06d}",
                    f"{_ADJECTIVES[int(draw() * 10)]} {_NOUNS[int(draw() * 10)]} {ref}",
                    "",
                    1,
                    1 if ref % 50 == 0 else 0,
                    _GROUPS[int(draw() * len(_GROUPS))],
                    "",
                    "",
                    vat,
                    vat,
                    vat,
                    "05",
                    "ADET",
                    f"869{1_000_000_000 + int(draw() * 9_000_000_000)}",
                    f"{guid[:8]}-{guid[8:12]}-{guid[12:16]}-{guid[16:20]}-{guid[20:]}",
                    *created,
                )
            )
            for wh in self.warehouse_numbers:
                onhand = 0 if draw() < 0.1 else 1 + int(draw() * 199)
                reserved = 1 + int(draw() * 4) if draw() < 0.1 else 0
                stock_rows.append((ref, wh, first_day, onhand, reserved))
                if draw() < 0.3:
                    stock_rows.append((ref, wh, later_day, int(draw() * (onhand + 20)) - onhand, 0))
            base_cents = 1000 + int(draw() * 199_000)
            for index, list_code in enumerate(self.price_list_codes):
                price_ref += 1
                price_rows.append(
                    (
                        price_ref,
                        f"{list_code}.{ref:06d}",
                        ref,
                        2,
                        round(base_cents * _LIST_FACTORS[index] / 100) / 100,
                        TL,
                        1 if index == 0 else 0,
                        1,
                        0,
                        0,
                        first_day,
                        "2099-12-31T00:00:00",
                        list_code,
                        "",
                        *created,
                    )
                )
        self.db.executemany(f"INSERT INTO {t.items} VALUES ({_marks(21)})", item_rows)
        self.db.executemany(f"INSERT INTO {t.stock} VALUES (?, ?, ?, ?, ?)", stock_rows)
        # INVENNO -1: the total over all warehouses, per day, as Logo keeps it.
        self.db.execute(
            f"INSERT INTO {t.stock} SELECT STOCKREF, -1, DATE_, SUM(ONHAND), SUM(RESERVED) FROM {t.stock} "
            "GROUP BY STOCKREF, DATE_"
        )
        self.db.executemany(f"INSERT INTO {t.prices} VALUES ({_marks(19)})", price_rows)
        # Indexes after the bulk load: building them once is faster than keeping them up row by row.
        self.db.script(
            f"CREATE INDEX PRCLIST_GRP ON {t.prices} (TRADINGGRP, LOGICALREF);"
            f"CREATE INDEX STINVTOT_DATE ON {t.stock} (INVENNO, DATE_);"
            f"CREATE INDEX STINVTOT_WH ON {t.stock} (INVENNO, STOCKREF, DATE_);"
        )
        customer_rows: list[Sequence[Param]] = []
        for ref in range(1, customers + 1):
            customer_rows.append(
                (
                    ref,
                    f"120.01.{ref:04d}",
                    f"Müşteri {ref} Ltd. Şti.",
                    3,
                    0,
                    f"Atatürk Cad. No:{ref}",
                    "",
                    "Kadıköy",
                    "İstanbul",
                    "Türkiye",
                    "TR",
                    "34710",
                    f"0216555{ref:04d}",
                    f"musteri{ref}@example.com.tr",
                    f"{rng.randrange(10**9, 10**10)}",
                    "Kadıköy",
                    "",
                    "",
                    *created,
                )
            )
        self.db.executemany(f"INSERT INTO {t.customers} VALUES ({_marks(23)})", customer_rows)

    def reset(self) -> None:
        """Back to the generated catalog: orders, dispatches, customers and changes are gone."""
        with self.db.lock:
            # Views first (they depend on tables); indexes go with their tables.
            objects = self.db.rows(
                "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY type DESC"
            )
            for row in objects:
                self.db.execute(f"DROP {str(row['type']).upper()} {row['name']}")
            self._build()

    # --- lookups -----------------------------------------------------------------------------------------

    def item_ref(self, code: str) -> int | None:
        value = self.db.scalar(f"SELECT LOGICALREF FROM {self.tables.items} WHERE CODE = ?", (code,))
        return int(value) if isinstance(value, int) else None

    def item_vat(self, ref: int) -> float:
        value = self.db.scalar(f"SELECT VAT FROM {self.tables.items} WHERE LOGICALREF = ?", (ref,))
        return float(value) if isinstance(value, int | float) else 0.0

    def customer_ref(self, code: str) -> int | None:
        value = self.db.scalar(f"SELECT LOGICALREF FROM {self.tables.customers} WHERE CODE = ?", (code,))
        return int(value) if isinstance(value, int) else None

    def has_customer_ref(self, ref: int) -> bool:
        return self.db.scalar(f"SELECT 1 FROM {self.tables.customers} WHERE LOGICALREF = ?", (ref,)) == 1

    def skus(self) -> list[str]:
        return [str(r["CODE"]) for r in self.db.rows(f"SELECT CODE FROM {self.tables.items} ORDER BY 1")]

    def stock_levels(self, warehouse: int) -> dict[str, Decimal]:
        t = self.tables
        rows = self.db.rows(
            f"SELECT I.CODE AS CODE, SUM(S.ONHAND) AS ONHAND FROM {t.stock} S "
            f"JOIN {t.items} I ON I.LOGICALREF = S.STOCKREF WHERE S.INVENNO = ? GROUP BY I.CODE",
            (warehouse,),
        )
        return {str(r["CODE"]): _decimal(r["ONHAND"]) for r in rows}

    def price_levels(self, price_list: str) -> dict[str, Decimal]:
        t = self.tables
        rows = self.db.rows(
            f"SELECT I.CODE AS CODE, P.PRICE AS PRICE FROM {t.prices} P "
            f"JOIN {t.items} I ON I.LOGICALREF = P.CARDREF WHERE P.TRADINGGRP = ? AND P.PTYPE = 2",
            (price_list,),
        )
        return {str(r["CODE"]): _decimal(r["PRICE"]) for r in rows}

    # --- stock and prices --------------------------------------------------------------------------------

    def set_stock(self, code: str, warehouse: int, quantity: Decimal) -> None:
        """A stock movement today that brings ``code`` in ``warehouse`` to ``quantity``."""
        ref = self.item_ref(code)
        if ref is None:
            raise KeyError(f"no item with code {code!r}")
        if warehouse not in self.warehouse_numbers:
            raise KeyError(f"no warehouse {warehouse}")
        current = self.db.scalar(
            f"SELECT TOTAL(ONHAND) FROM {self.tables.stock} WHERE STOCKREF = ? AND INVENNO = ?",
            (ref, warehouse),
        )
        delta = float(quantity) - float(current if isinstance(current, int | float) else 0)
        if delta:
            self._move(ref, warehouse, delta)

    def _move(self, ref: int, warehouse: int, delta: float) -> None:
        day = day_of(self.clock())
        for number in (warehouse, -1):
            self.db.execute(
                f"INSERT INTO {self.tables.stock} VALUES (?, ?, ?, ?, 0) "
                "ON CONFLICT DO UPDATE SET ONHAND = ONHAND + excluded.ONHAND",
                (ref, number, day, delta),
            )

    def change_stock(self, fraction: float, seed: int) -> list[str]:
        """New quantities for a ``fraction`` of the items, in every warehouse; returns their codes."""
        rng = random.Random(seed)
        codes = self._sample(fraction, rng)
        for code in codes:
            for warehouse in self.warehouse_numbers:
                self.set_stock(code, warehouse, Decimal(rng.randrange(0, 250)))
        return codes

    def set_price(self, code: str, price_list: str, price: Decimal) -> None:
        ref = self.item_ref(code)
        if ref is None:
            raise KeyError(f"no item with code {code!r}")
        if price_list not in self.price_list_codes:
            raise KeyError(f"no price list {price_list!r}")
        _, modified, hour, minute, second = stamp(self.clock())
        self.db.execute(
            f"UPDATE {self.tables.prices} SET PRICE = ?, CAPIBLOCK_MODIFIEDDATE = ?, "
            "CAPIBLOCK_MODIFIEDHOUR = ?, CAPIBLOCK_MODIFIEDMIN = ?, CAPIBLOCK_MODIFIEDSEC = ? "
            "WHERE CARDREF = ? AND TRADINGGRP = ? AND PTYPE = 2",
            (_money(price), modified, hour, minute, second, ref, price_list),
        )

    def change_prices(self, fraction: float, seed: int, price_list: str | None = None) -> list[str]:
        """Reprice a ``fraction`` of the items (in one price list, or in all); returns their codes."""
        rng = random.Random(seed)
        codes = self._sample(fraction, rng)
        lists = [price_list] if price_list is not None else self.price_list_codes
        current = {name: self.price_levels(name) for name in lists}
        for code in codes:
            for name in lists:
                factor = Decimal(rng.choice((90, 95, 105, 110, 120))) / 100
                self.set_price(code, name, current[name][code] * factor)
        return codes

    def available(self, warehouse: int) -> dict[str, Decimal]:
        """On hand minus reserved per SKU in one warehouse."""
        t = self.tables
        rows = self.db.rows(
            f"SELECT I.CODE AS CODE, SUM(S.ONHAND) - SUM(S.RESERVED) AS AVAILABLE FROM {t.stock} S "
            f"JOIN {t.items} I ON I.LOGICALREF = S.STOCKREF WHERE S.INVENNO = ? GROUP BY I.CODE",
            (warehouse,),
        )
        return {str(r["CODE"]): _decimal(r["AVAILABLE"]) for r in rows}

    # --- item cards -----------------------------------------------------------------------------------------

    def add_item(
        self,
        code: str,
        name: str,
        vat: Decimal,
        stock: Mapping[int, Decimal],
        prices: Mapping[str, Decimal],
    ) -> None:
        """A new item card stamped now, a stock movement today per warehouse, a price row per price list."""
        t = self.tables
        if not code or len(code) > 50:
            raise ValueError(f"item code {code!r}: 1 to 50 characters")
        if self.item_ref(code) is not None:
            raise ValueError(f"an item with code {code!r} exists")
        unknown = [str(n) for n in stock if n not in self.warehouse_numbers]
        unknown += [name for name in prices if name not in self.price_list_codes]
        if unknown:
            raise KeyError(f"item {code!r}: no warehouse or price list {', '.join(unknown)}")
        now = self.clock()
        created = stamp(now)
        ref = self._next_ref(t.items)
        rate = float(vat)
        self.db.execute(
            f"INSERT INTO {t.items} VALUES ({_marks(21)})",
            (ref, code, name or code, "", 1, 0, "", "", "", rate, rate, rate, "05", "ADET", "", "", *created),
        )
        for warehouse, quantity in stock.items():
            self._move(ref, warehouse, float(quantity))
        today = day_of(now)
        for list_code, price in prices.items():
            self.db.execute(
                f"INSERT INTO {t.prices} VALUES ({_marks(19)})",
                (
                    self._next_ref(t.prices),
                    f"{list_code}.{code}",
                    ref,
                    2,
                    _money(price),
                    TL,
                    1 if self.price_list_codes.index(list_code) == 0 else 0,  # as the generated lists
                    1,
                    0,
                    0,
                    today,
                    "2099-12-31T00:00:00",
                    list_code,
                    "",
                    *created,
                ),
            )

    def delete_item(self, code: str) -> None:
        """The item card, its stock rows and its price rows are gone."""
        ref = self.item_ref(code)
        if ref is None:
            raise KeyError(f"no item with code {code!r}")
        t = self.tables
        self.db.execute(f"DELETE FROM {t.stock} WHERE STOCKREF = ?", (ref,))
        self.db.execute(f"DELETE FROM {t.prices} WHERE CARDREF = ?", (ref,))
        self.db.execute(f"DELETE FROM {t.items} WHERE LOGICALREF = ?", (ref,))

    def _sample(self, fraction: float, rng: random.Random) -> list[str]:
        if not 0 < fraction <= 1:
            raise ValueError("fraction must be in (0, 1]")
        skus = self.skus()
        return sorted(rng.sample(skus, max(1, round(len(skus) * fraction))))

    # --- customers -----------------------------------------------------------------------------------------

    def create_customer(self, values: dict[str, Param]) -> int:
        """A new CLCARD row from column values; returns its LOGICALREF."""
        code = values.get("CODE")
        problems = []
        if not isinstance(code, str) or not code.strip():
            problems.append("Cari hesap kodu boş olamaz.")
        elif self.customer_ref(code) is not None:
            problems.append(f"{code} kodlu cari hesap kartı zaten var.")
        if not values.get("DEFINITION_"):
            problems.append("Cari hesap unvanı boş olamaz.")
        if problems:
            raise LogoInvalid(problems)
        t = self.tables
        ref = self._next_ref(t.customers)
        row: dict[str, Param] = {"ACTIVE": 0, "CARDTYPE": 3, **values, "LOGICALREF": ref}
        row.update(zip(_STAMP_COLUMNS, stamp(self.clock()), strict=True))
        self._insert(t.customers, row)
        return ref

    # --- orders and dispatches -----------------------------------------------------------------------------

    def create_order(self, header: dict[str, Param], lines: Sequence[dict[str, Param]]) -> int:
        """Insert a sales order (already validated by the app); returns its LOGICALREF."""
        t = self.tables
        ref = self._next_ref(t.orders)
        number = header.get("FICHENO")
        if number in (None, "~"):
            header["FICHENO"] = self._next_number(t.orders)
        gross = vat_total = 0.0
        line_ref = self._next_ref(t.order_lines)
        for index, line in enumerate(lines, 1):
            amount, price, vat = (float(line.get(k) or 0) for k in ("AMOUNT", "PRICE", "VAT"))
            total = round(amount * price, 2)
            if line.get("VATINC"):
                net_total = round(total / (1 + vat / 100), 2)
                vat_amount = round(total - net_total, 2)
                total = net_total
            else:
                vat_amount = round(total * vat / 100, 2)
            gross += total
            vat_total += vat_amount
            row = {
                **line,
                "LOGICALREF": line_ref,
                "ORDFICHEREF": ref,
                "LINENO_": index,
                "TOTAL": total,
                "VATAMNT": vat_amount,
                "SHIPPEDAMOUNT": 0.0,
                "CLOSED": 0,
            }
            self._insert(t.order_lines, row)
            line_ref += 1
        full: dict[str, Param] = {
            "TRCODE": ORDER_TRCODE,
            "CANCELLED": 0,
            **header,
            "LOGICALREF": ref,
            "GROSSTOTAL": round(gross, 2),
            "TOTALVAT": round(vat_total, 2),
            "NETTOTAL": round(gross + vat_total, 2),
        }
        full.update(zip(_STAMP_COLUMNS, stamp(self.clock()), strict=True))
        self._insert(t.orders, full)
        return ref

    def find_orders(self, order_no: str) -> list[Row]:
        """Orders whose number (FICHENO) or document number (DOCODE) is ``order_no``."""
        return self.db.rows(
            f"SELECT * FROM {self.tables.orders} WHERE FICHENO = ? OR DOCODE = ? ORDER BY LOGICALREF",
            (order_no, order_no),
        )

    def delete_order(self, ref: int) -> bool:
        t = self.tables
        found = self.db.scalar(f"SELECT 1 FROM {t.orders} WHERE LOGICALREF = ?", (ref,)) == 1
        self.db.execute(f"DELETE FROM {t.orders} WHERE LOGICALREF = ?", (ref,))
        self.db.execute(f"DELETE FROM {t.order_lines} WHERE ORDFICHEREF = ?", (ref,))
        return found

    def ship(self, order_no: str, tracking: str, carrier: str | None) -> str:
        """A sales dispatch (TRCODE 8) of every open line of the order; the stock leaves the warehouse."""
        t = self.tables
        found = self.find_orders(order_no)
        if len(found) != 1:
            raise KeyError(f"{len(found)} orders with number or document number {order_no!r}")
        order = found[0]
        order_ref = int(str(order["LOGICALREF"]))
        lines = self.db.rows(
            f"SELECT * FROM {t.order_lines} WHERE ORDFICHEREF = ? AND CLOSED = 0 ORDER BY LINENO_",
            (order_ref,),
        )
        if not lines:
            raise ValueError(f"order {order_no!r} has no open lines: already shipped")
        now = self.clock()
        slip_ref = self._next_ref(t.slips)
        number = self._next_number(t.slips)
        slip: dict[str, Param] = {
            "LOGICALREF": slip_ref,
            "TRCODE": DISPATCH_TRCODE,
            "GRPCODE": 2,
            "FICHENO": number,
            "DATE_": day_of(now),
            "DOCODE": str(order["DOCODE"] or ""),
            "CLIENTREF": int(str(order["CLIENTREF"])),
            "SOURCEINDEX": int(str(order["SOURCEINDEX"] or 0)),
            "SHPAGNCOD": carrier or "",
            "TRACKNR": tracking,
        }
        slip.update(zip(_STAMP_COLUMNS, stamp(now), strict=True))
        self._insert(t.slips, slip)
        line_ref = self._next_ref(t.slip_lines)
        for index, line in enumerate(lines, 1):
            amount = float(str(line["AMOUNT"]))
            warehouse = int(str(line["SOURCEINDEX"] or 0))
            self._insert(
                t.slip_lines,
                {
                    "LOGICALREF": line_ref,
                    "STFICHEREF": slip_ref,
                    "STOCKREF": param(line["STOCKREF"]),
                    "LINETYPE": param(line["LINETYPE"]),
                    "LINENO_": index,
                    "TRCODE": DISPATCH_TRCODE,
                    "DATE_": day_of(now),
                    "AMOUNT": amount,
                    "SOURCEINDEX": warehouse,
                    "ORDFICHEREF": order_ref,
                    "ORDTRANSREF": param(line["LOGICALREF"]),
                },
            )
            line_ref += 1
            self.db.execute(
                f"UPDATE {t.order_lines} SET SHIPPEDAMOUNT = AMOUNT, CLOSED = 1 WHERE LOGICALREF = ?",
                (param(line["LOGICALREF"]),),
            )
            self._move(int(str(line["STOCKREF"])), warehouse, -amount)
        _, modified, hour, minute, second = stamp(now)
        self.db.execute(
            f"UPDATE {t.orders} SET CAPIBLOCK_MODIFIEDDATE = ?, CAPIBLOCK_MODIFIEDHOUR = ?, "
            "CAPIBLOCK_MODIFIEDMIN = ?, CAPIBLOCK_MODIFIEDSEC = ? WHERE LOGICALREF = ?",
            (modified, hour, minute, second, order_ref),
        )
        return number

    # --- helpers -------------------------------------------------------------------------------------------

    def _insert(self, table: str, row: dict[str, Param]) -> None:
        columns = ", ".join(row)
        self.db.execute(f"INSERT INTO {table} ({columns}) VALUES ({_marks(len(row))})", list(row.values()))

    def _next_ref(self, table: str) -> int:
        value = self.db.scalar(f"SELECT COALESCE(MAX(LOGICALREF), 0) + 1 FROM {table}")
        return int(value) if isinstance(value, int) else 1

    def _next_number(self, table: str) -> str:
        # Logo's numbering template: 16 digits, one more than the highest numeric number so far.
        value = self.db.scalar(
            f"SELECT MAX(CAST(FICHENO AS INTEGER)) FROM {table} WHERE FICHENO GLOB '[0-9]*'"
        )
        return f"{(int(value) if isinstance(value, int) else 0) + 1:016d}"


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _decimal(value: JsonValue) -> Decimal:
    return Decimal(str(value if isinstance(value, int | float) else 0)).quantize(CENT, ROUND_HALF_UP)
