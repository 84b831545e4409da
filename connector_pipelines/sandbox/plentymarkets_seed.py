"""The generated part of the Plentymarkets emulator's catalog: records built deterministically from
(products, variants, seed), and the values derived from them instead of stored.

A 100,000-variation catalog builds in about a second and stays small in memory: records keep only what
varies per object; barcodes, default prices and texts are derived from ids and word lists on demand.
"""

from __future__ import annotations

import gc
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from connector_pipelines.sandbox.plentymarkets_records import (
    LANGUAGES,
    TEXT_FIELDS,
    VAT_RATES,
    Attribute,
    AttributeValue,
    CatalogOptions,
    Category,
    Image,
    Item,
    LegacyProperty,
    Manufacturer,
    PriceRow,
    SalesPrice,
    StockRow,
    TimeFormat,
    Unit,
    Variation,
    Warehouse,
    Webstore,
    gtin13,
    slugify,
)

FIRST_ITEM_ID = 100
FIRST_VARIATION_ID = 1000
CUSTOMER_CLASS_DEALER = 2

# -- word lists (de, en) -------------------------------------------------------------------------------

NOUNS: tuple[tuple[str, str], ...] = (
    ("Sessel", "Armchair"),
    ("Sofa", "Sofa"),
    ("Stuhl", "Chair"),
    ("Tisch", "Table"),
    ("Lampe", "Lamp"),
    ("Regal", "Shelf"),
    ("Jacke", "Jacket"),
    ("Hemd", "Shirt"),
    ("Hose", "Trousers"),
    ("Pullover", "Sweater"),
    ("Schal", "Scarf"),
    ("Mütze", "Beanie"),
    ("Rucksack", "Backpack"),
    ("Tasche", "Bag"),
    ("Sneaker", "Sneaker"),
    ("Decke", "Blanket"),
    ("Kissen", "Cushion"),
    ("Teppich", "Rug"),
    ("Vase", "Vase"),
    ("Becher", "Mug"),
    ("Teller", "Plate"),
    ("Kochtopf", "Cooking pot"),
    ("Pfanne", "Pan"),
    ("Messer", "Knife"),
    ("Armbanduhr", "Wristwatch"),
    ("Sonnenbrille", "Sunglasses"),
    ("Handschuhe", "Gloves"),
    ("Gürtel", "Belt"),
    ("Kleid", "Dress"),
    ("Mantel", "Coat"),
)
_STYLES: tuple[tuple[str, str], ...] = (
    ("Klassik", "Classic"),
    ("Premium", "Premium"),
    ("Vintage", "Vintage"),
    ("Modern", "Modern"),
    ("Outdoor", "Outdoor"),
    ("Öko", "Eco"),
    ("Komfort", "Comfort"),
    ("Urban", "Urban"),
    ("Nordisch", "Nordic"),
    ("Deluxe", "Deluxe"),
)
_LINES: tuple[str, ...] = (
    "Oslo", "Bergen", "Lyon", "Porto", "Verona", "Malmö", "Gent", "Bern", "Graz", "Turku",
    "Aarhus", "Brügge", "Sevilla", "Krakau", "Dublin", "Riga", "Tallinn", "Vigo", "Nantes", "Basel",
    "Salzburg", "Lille", "Cork", "Utrecht", "Bilbao", "Gdansk", "Leipzig", "Como", "Split", "Odense",
    "Lund", "Luzern", "Namur", "Pisa", "Bordeaux", "Kassel", "Trier", "Växjö", "Kiel", "Zadar",
)  # fmt: skip
_MAKER_PREFIXES: tuple[str, ...] = (
    "Nord",
    "Süd",
    "Alpen",
    "Rhein",
    "Elb",
    "Hansa",
    "Berg",
    "Wald",
    "Stern",
    "Licht",
)
_MAKER_SUFFIXES: tuple[str, ...] = ("werk", "haus", "form", "design", "tex", "holz", "linie", "manufaktur")
_MAKER_LEGAL: tuple[str, ...] = ("GmbH", "AG", "KG", "GmbH & Co. KG")
_TOWNS: tuple[tuple[str, str, int], ...] = (
    ("Berlin", "10115", 1),
    ("Hamburg", "20095", 1),
    ("München", "80331", 1),
    ("Kassel", "34117", 1),
    ("Wien", "1010", 2),
    ("Zürich", "8001", 4),
)
_ROOT_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("Wohnen", "Living"),
    ("Bekleidung", "Clothing"),
    ("Küche", "Kitchen"),
    ("Accessoires", "Accessories"),
    ("Garten", "Garden"),
    ("Büro", "Office"),
    ("Sport", "Sports"),
    ("Kinder", "Kids"),
)
_SUB_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("Neuheiten", "New arrivals"),
    ("Bestseller", "Bestsellers"),
    ("Klassiker", "Classics"),
    ("Damen", "Women"),
    ("Herren", "Men"),
    ("Sale", "Sale"),
    ("Textilien", "Textiles"),
    ("Dekoration", "Decoration"),
    ("Aufbewahrung", "Storage"),
    ("Beleuchtung", "Lighting"),
    ("Möbel", "Furniture"),
    ("Geschenke", "Gifts"),
    ("Basics", "Basics"),
    ("Saison", "Seasonal"),
    ("Nachhaltig", "Sustainable"),
    ("Reise", "Travel"),
)
_COLORS: tuple[tuple[str, str], ...] = (
    ("Schwarz", "Black"),
    ("Weiß", "White"),
    ("Rot", "Red"),
    ("Blau", "Blue"),
    ("Grün", "Green"),
    ("Gelb", "Yellow"),
    ("Grau", "Grey"),
    ("Braun", "Brown"),
    ("Beige", "Beige"),
    ("Rosa", "Pink"),
    ("Lila", "Purple"),
    ("Orange", "Orange"),
)
_SIZES: tuple[tuple[str, str], ...] = tuple((s, s) for s in ("XS", "S", "M", "L", "XL", "XXL", "3XL"))
_MATERIALS: tuple[tuple[str, str], ...] = (
    ("Baumwolle", "Cotton"),
    ("Wolle", "Wool"),
    ("Leder", "Leather"),
    ("Leinen", "Linen"),
    ("Polyester", "Polyester"),
    ("Seide", "Silk"),
)
# (code, de, en, decimals allowed, contents a variation may carry)
_UNITS: tuple[tuple[str, str, str, bool, tuple[float, ...]], ...] = (
    ("C62", "Stück", "piece", False, (1.0,)),
    ("KGM", "Kilogramm", "kilogram", True, (0.5, 1.0, 2.5)),
    ("GRM", "Gramm", "gram", True, (250.0, 500.0)),
    ("LTR", "Liter", "litre", True, (0.5, 1.0)),
    ("MLT", "Milliliter", "millilitre", True, (250.0, 750.0)),
    ("MTR", "Meter", "metre", True, (1.0, 5.0, 10.0)),
    ("CMT", "Zentimeter", "centimetre", True, (50.0,)),
    ("MTK", "Quadratmeter", "square metre", True, (1.0, 2.0)),
    ("PR", "Paar", "pair", False, (1.0,)),
    ("SET", "Set", "set", False, (1.0, 3.0)),
)
_SUPPLIER_IDS: tuple[int, ...] = (201, 202, 203)
_IMAGE_COUNTS: tuple[int, ...] = (1, 1, 2, 2, 3, 4)
_CROSS_RELATIONS: tuple[str, ...] = ("Similar", "Accessory", "ReplacementPart")
_LOG_PRICE_MIN = math.log(5)
_LOG_PRICE_SPAN = math.log(800) - math.log(5)


def psych_price(value: float, ending: float) -> float:
    return round(max(math.floor(value), 0) + ending, 2)


@dataclass(slots=True)
class ItemClock:
    """Hands out the timestamps of one new item: ``created``, then instants after a given start.

    With an ``rng`` the instants are random whole seconds up to ``latest`` (a generated history);
    without one every instant is ``latest`` (an item added now).
    """

    created: float
    latest: float
    rng: random.Random | None = None

    def after_function(self) -> Callable[[float], float]:
        rng, latest = self.rng, self.latest
        if rng is None:
            return lambda start: latest
        r = rng.random
        # start is never below `created`, and start + 1 + r() * (latest - start - 1) stays above start
        return lambda start: float(int(start + 1 + r() * (latest - start - 1)))


class SeededCatalog:
    """All records of one tenant, generated deterministically from (products, variants, seed), and the
    values derived from them (barcodes, default prices, texts)."""

    def __init__(
        self, products: int = 20, variants: int = 3, seed: int = 1, options: CatalogOptions | None = None
    ) -> None:
        if products < 0 or variants < 1:
            raise ValueError("products must be >= 0 and variants >= 1")
        self.products = products
        self.variants = variants
        self.seed = seed
        self.options = options or CatalogOptions()
        self.time = TimeFormat(self.options.timezone)
        self.lock = threading.RLock()
        self.version = 0
        self.anchor = self.options.anchor.timestamp()

        self.webstores: list[Webstore] = []
        self.categories: dict[int, Category] = {}
        self.attributes: dict[int, Attribute] = {}
        self.attribute_values: dict[int, AttributeValue] = {}
        self.sales_prices: dict[int, SalesPrice] = {}
        self.manufacturers: dict[int, Manufacturer] = {}
        self.units: dict[int, Unit] = {}
        self.warehouses: dict[int, Warehouse] = {}
        self.properties: dict[int, LegacyProperty] = {}
        self.items: dict[int, Item] = {}
        self.variations: dict[int, Variation] = {}
        self.images: dict[int, Image] = {}
        self.vat_created = self.anchor - 4 * 365 * 86400

        self._children: dict[int | None, list[int]] = {}
        self._leaf_categories: list[int] = []
        self._unit_combinations: dict[tuple[int, float], int] = {}
        self._price_id_tuples: dict[tuple[int, ...], tuple[int, ...]] = {}
        # Base prices repeat a lot (psychological price points), so derived prices are memoised.
        self._default_prices: dict[tuple[float, int, int], float] = {}
        self._barcodes: dict[int, str] = {}
        self._next_item_id = FIRST_ITEM_ID
        self._next_variation_id = FIRST_VARIATION_ID
        self._next_image_id = 1
        self._cache: dict[object, tuple[int, object]] = {}

        rng = random.Random(seed)
        self._build_reference_data(rng)
        # Generation allocates millions of objects and no reference cycles; the cyclic GC would only
        # rescan them over and over (a fifth of the build time at 100,000 variations).
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for _ in range(products):
                self._add_item(rng, variants, self._historic_clock(rng))
        finally:
            if gc_was_enabled:
                gc.enable()

    # -- generation -----------------------------------------------------------------------------------

    @property
    def plenty_ids(self) -> tuple[int, ...]:
        return tuple(w.plenty_id for w in self.webstores)

    def _historic_clock(self, rng: random.Random) -> ItemClock:
        """Timestamps for a generated item: created up to three years before the anchor, changes after."""
        return ItemClock(float(int(self.anchor - rng.uniform(30, 3 * 365) * 86400)), self.anchor, rng)

    def _build_reference_data(self, rng: random.Random) -> None:
        old = self.anchor - 4 * 365 * 86400
        plenty = sorted(rng.sample(range(10000, 99999), 3))
        self.webstores = [
            Webstore(0, plenty[0], "Standard Shop", "de", ("de", "en"), "EUR", 1),
            Webstore(1, plenty[1], "Schweiz Shop", "de", ("de", "en"), "CHF", 4),
            Webstore(2, plenty[2], "UK Shop", "en", ("en",), "GBP", 12),
        ]
        self._build_categories(rng, old)

        next_value = 1
        specs: list[tuple[str, str, str, tuple[tuple[str, str], ...], bool]] = [
            ("color", "Farbe", "Colour", _COLORS, True),
            ("size", "Größe", "Size", _SIZES, False),
            ("material", "Material", "Material", _MATERIALS, False),
        ]
        capacity = len(_COLORS) * len(_SIZES) * len(_MATERIALS)
        extra = 0
        while capacity < self.variants:
            extra += 1
            values = tuple((f"Variante {extra}.{v}", f"Option {extra}.{v}") for v in range(1, 11))
            specs.append((f"option{extra}", f"Ausführung {extra}", f"Edition {extra}", values, False))
            capacity *= len(values)
        for attr_id, (backend, de, en, values, linkable) in enumerate(specs, start=1):
            value_ids: list[int] = []
            for pos, (vde, ven) in enumerate(values, start=1):
                self.attribute_values[next_value] = AttributeValue(
                    next_value, attr_id, ven.lower(), pos, {"de": vde, "en": ven}, old + 3600 * next_value
                )
                value_ids.append(next_value)
                next_value += 1
            self.attributes[attr_id] = Attribute(
                attr_id, backend, attr_id, {"de": de, "en": en}, value_ids, attr_id == 2, linkable,
                "image" if linkable else "dropdown", old + 86400 * attr_id,
            )  # fmt: skip

        all_clients = (-1,)
        referrers: tuple[float, ...] = (0, 1)
        dealer = (CUSTOMER_CLASS_DEALER,)
        # type, names, currency, clients, customer classes, factor on the base price, price ending,
        # share of variations carrying it, minimum order quantity
        price_specs: list[
            tuple[str, str, str, str, tuple[int, ...], tuple[int, ...], float, float, float, int]
        ] = [
            ("default", "Preis", "Price", "EUR", all_clients, (-1,), 1.0, 0.99, 1.0, 1),
            ("rrp", "UVP", "RRP", "EUR", all_clients, (-1,), 1.25, 0.99, 0.7, 1),
            ("default", "Preis CHF", "Price CHF", "CHF", (plenty[1],), (-1,), 1.05, 0.9, 1.0, 1),
            ("default", "Preis GBP", "Price GBP", "GBP", (plenty[2],), (-1,), 0.87, 0.99, 1.0, 1),
            ("specialOffer", "Angebot", "Special offer", "EUR", all_clients, (-1,), 0.8, 0.95, 0.1, 1),
            ("default", "Staffelpreis", "Tier price", "EUR", all_clients, (-1,), 0.92, 0.49, 0.15, 10),
            ("default", "Händlerpreis", "Dealer price", "EUR", all_clients, dealer, 0.75, 0.0, 0.3, 1),
        ]
        for sp_id, (kind, de, en, currency, clients, classes, factor, ending, share, min_qty) in enumerate(
            price_specs, start=1
        ):
            created = old + 600 * sp_id
            self.sales_prices[sp_id] = SalesPrice(
                sp_id, sp_id - 1, kind, min_qty, currency, clients, classes, referrers, (-1,),
                {"de": de, "en": en}, factor, ending, share, False, created, created + 86400,
            )  # fmt: skip

        manufacturer_count = max(3, min(300, self.products // 50 + 3))
        for m_id in range(1, manufacturer_count + 1):
            index = m_id - 1
            prefix = _MAKER_PREFIXES[index % len(_MAKER_PREFIXES)]
            suffix = _MAKER_SUFFIXES[(index // len(_MAKER_PREFIXES)) % len(_MAKER_SUFFIXES)]
            legal = _MAKER_LEGAL[(index // (len(_MAKER_PREFIXES) * len(_MAKER_SUFFIXES))) % len(_MAKER_LEGAL)]
            town, postcode, country = _TOWNS[rng.randrange(len(_TOWNS))]
            brand = f"{prefix}{suffix}"
            self.manufacturers[m_id] = Manufacturer(
                m_id, f"{brand} {legal}", brand, f"{rng.choice(('Haupt', 'Linden', 'Industrie'))}straße",
                str(rng.randint(1, 120)), postcode, town, country, m_id, old + rng.uniform(0, 365) * 86400,
            )  # fmt: skip

        for u_id, (code, de, en, decimals, contents) in enumerate(_UNITS, start=1):
            self.units[u_id] = Unit(
                u_id, code, {"de": de, "en": en}, decimals, contents, old, old + 3600 * u_id
            )
            for content in contents:
                self._unit_combinations[(u_id, content)] = len(self._unit_combinations) + 1

        self.warehouses = {
            1: Warehouse(1, "Hauptlager", 0, old, old + 86400),
            2: Warehouse(2, "Lager Zürich", 0, old + 86400 * 30, old + 86400 * 31),
            3: Warehouse(3, "Reparaturlager", 1, old + 86400 * 60, old + 86400 * 61),
        }

        def prop(pid: int, backend: str, kind: str, unit: str, de: str, en: str) -> LegacyProperty:
            return LegacyProperty(pid, backend, kind, unit, pid * 10, {"de": de, "en": en}, {}, old)

        sustainability = prop(4, "Sustainability", "selection", "", "Nachhaltigkeit", "Sustainability")
        sustainability.selections = {
            1: {"de": "Recycelt", "en": "Recycled"},
            2: {"de": "Bio", "en": "Organic"},
            3: {"de": "Fair gehandelt", "en": "Fair trade"},
        }
        self.properties = {
            1: prop(1, "Care instructions", "text", "", "Pflegehinweis", "Care instructions"),
            2: prop(2, "Weight class", "int", "KGM", "Gewichtsklasse", "Weight class"),
            3: prop(3, "Filling quantity", "float", "LTR", "Füllmenge", "Filling quantity"),
            4: sustainability,
            5: prop(5, "Gift wrapping", "empty", "", "Geschenkverpackung", "Gift wrapping"),
        }

    def _build_categories(self, rng: random.Random, old: float) -> None:
        target = max(8, min(2000, self.products // 20))
        roots = max(2, min(len(_ROOT_CATEGORIES), target // 10))
        per_root = max(1, target // roots)
        second = max(1, min(8, round(math.sqrt(per_root))))
        third = max(1, min(len(_SUB_CATEGORIES), per_root // second))
        next_id = 16
        plenty = self.plenty_ids

        def add(parent: int | None, level: int, names: dict[str, str], position: int, **kw: str) -> int:
            nonlocal next_id
            cat = Category(
                next_id, parent, level, kw.get("type", "item"), kw.get("right", "all"), position, names,
                plenty, old + rng.uniform(0, 3 * 365) * 86400,
            )  # fmt: skip
            self.categories[next_id] = cat
            self._children.setdefault(parent, []).append(next_id)
            next_id += 1
            return cat.id

        for r in range(roots):
            de, en = _ROOT_CATEGORIES[r]
            root = add(None, 1, {"de": de, "en": en}, r + 1)
            for s in range(second):
                sde, sen = _SUB_CATEGORIES[(r + s) % len(_SUB_CATEGORIES)]
                mid = add(root, 2, {"de": f"{de} {sde}", "en": f"{en} {sen}"}, s + 1)
                for t in range(third):
                    tde, ten = _SUB_CATEGORIES[(r + s + t + 1) % len(_SUB_CATEGORIES)]
                    leaf = add(mid, 3, {"de": tde, "en": ten}, t + 1)
                    self._leaf_categories.append(leaf)
        add(None, 1, {"de": "Händlerbereich", "en": "Dealer area"}, roots + 1, right="customer")
        add(None, 1, {"de": "Über uns", "en": "About us"}, roots + 2, type="content")

    def _interned(self, ids: tuple[int, ...]) -> tuple[int, ...]:
        """A few dozen distinct sales-price-id tuples serve all variations."""
        return self._price_id_tuples.setdefault(ids, ids)

    def _add_item(self, rng: random.Random, k: int, clock: ItemClock) -> Item:
        # Draws use rng.random() arithmetic instead of randint/choice: five times faster, which matters
        # for 100,000 variations, and just as deterministic.
        r = rng.random
        later = clock.after_function()
        item_id = self._next_item_id
        self._next_item_id += 1
        created = clock.created
        plenty = self.plenty_ids
        clients = tuple(p for i, p in enumerate(plenty) if i == 0 or r() < (0.8 if i == 1 else 0.6))
        leaf = self._leaf_categories
        categories: tuple[int, ...] = (leaf[int(r() * len(leaf))],)
        if r() < 0.2:
            extra = leaf[int(r() * len(leaf))]
            if extra != categories[0]:
                categories = (categories[0], extra)
        attribute_ids, combos = self._attribute_combinations(r, k)

        noun = int(r() * len(NOUNS))
        noun_de, noun_en = NOUNS[noun]
        images: list[int] = []
        slug = slugify(noun_en)
        for position in range(_IMAGE_COUNTS[int(r() * len(_IMAGE_COUNTS))]):
            image_id = self._next_image_id
            self._next_image_id += 1
            ext = "png" if r() < 0.2 else "jpg"
            n = position + 1
            names = {
                "de": (f"{noun_de} Bild {n}", f"{noun_de} Ansicht {n}"),
                "en": (f"{noun_en} image {n}", f"{noun_en} view {n}"),
            }
            img_created = later(created)
            self.images[image_id] = Image(
                image_id, item_id, position, ext, f"{item_id}-{slug}-{n}.{ext}", names, clients, img_created,
                later(img_created),
            )  # fmt: skip
            images.append(image_id)

        cross: tuple[tuple[int, str], ...] = ()
        if self.products > 1 and r() < 0.2:
            other = FIRST_ITEM_ID + int(r() * max(self.products, item_id - FIRST_ITEM_ID + 1))
            if other != item_id:
                cross = ((other, _CROSS_RELATIONS[int(r() * len(_CROSS_RELATIONS))]),)

        unit_id = 1 if r() < 0.85 else 2 + int(r() * (len(self.units) - 1))
        contents = self.units[unit_id].contents
        unit_content = contents[int(r() * len(contents))]
        vat_id = 0 if r() < 0.9 else 1
        base_price = psych_price(math.exp(_LOG_PRICE_MIN + r() * _LOG_PRICE_SPAN), 0.99)
        manufacturer_id = 1 + int(r() * len(self.manufacturers))
        style = int(r() * len(_STYLES))
        line = int(r() * len(_LINES))
        item = Item(
            id=item_id,
            position=(0, 0, 0, 10, 100)[int(r() * 5)],
            manufacturer_id=manufacturer_id,
            flag_one=(0, 0, 0, 1, 2, 5)[int(r() * 6)],
            flag_two=(0, 0, 0, 3, 7)[int(r() * 5)],
            store_special=(0, 0, 0, 0, 1, 2, 3)[int(r() * 7)],
            condition=0,
            age_restriction=18 if r() < 0.05 else 0,
            producing_country_id=(1, 1, 1, 2, 4)[int(r() * 5)],
            customs_tariff_number=str(10000000 + int(r() * 90000000)),
            noun=noun,
            style=style,
            line=line,
            created=created,
            updated=later(created),
            main_variation_id=self._next_variation_id,
            variation_ids=[],
            category_ids=categories,
            plenty_ids=clients,
            image_ids=images,
            attribute_ids=attribute_ids,
            cross_selling=cross,
        )
        self.items[item_id] = item
        optional_prices = [(sp.id, sp.share) for sp in self.sales_prices.values()]
        value_names = self.attribute_values
        for position, combo in enumerate(combos):
            variation_id = self._next_variation_id
            self._next_variation_id += 1
            v_created = later(created)
            related = later(v_created)
            price_ids = self._interned(
                tuple(sp_id for sp_id, share in optional_prices if share >= 1.0 or r() < share)
            )
            physical = 0.0 if r() < 0.1 else float(1 + int(r() * 500))
            stock = [StockRow(1, physical, float(min(int(r() * 6), int(physical))), later(v_created))]
            if r() < 0.4:
                stock.append(StockRow(2, float(int(r() * 81)), 0.0, later(v_created)))
            if r() < 0.05:
                stock.append(StockRow(3, float(1 + int(r() * 3)), 0.0, later(v_created)))
            weight = 50 + int(r() * 25000)
            price = (
                base_price if position == 0 else psych_price(base_price + (0, 0, 5, 10)[int(r() * 4)], 0.99)
            )
            variation = Variation(
                variation_id, item_id, position == 0, position, position == 0 or r() > 0.02,
                f"A-{item_id:06d}-{position + 1:03d}",
                f"M{noun:02d}{style:02d}-{line:02d}" if r() < 0.5 else "",
                f"EXT-{variation_id}" if r() < 0.3 else "",
                " / ".join(value_names[v].names["en"] for v in combo),
                (1, 1, 1, 2, 5)[int(r() * 5)],
                round(price * (0.35 + r() * 0.2), 2),
                price, price_ids, float(int(v_created + r() * (related - v_created))),
                weight, int(weight * 0.9), 10 + int(r() * 1190), 10 + int(r() * 1190), 5 + int(r() * 895),
                vat_id, unit_id, unit_content, 1, 1.0 if r() < 0.9 else 2.0, 0.0, 0.0,
                v_created, later(v_created), related, combo, (images[position % len(images)],),
                _SUPPLIER_IDS[(manufacturer_id + position) % len(_SUPPLIER_IDS)], stock,
            )  # fmt: skip
            self.variations[variation_id] = variation
            item.variation_ids.append(variation_id)
        return item

    def _attribute_combinations(
        self, r: Callable[[], float], k: int
    ) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
        """Attributes for an item with ``k`` variations and ``k`` distinct value combinations of them."""
        if k == 1:
            return (), [()]
        base = [1, 2, 3]
        for i in (2, 1):  # Fisher-Yates on the three base attributes
            j = int(r() * (i + 1))
            base[i], base[j] = base[j], base[i]
        chosen: list[int] = []
        capacity = 1
        for attr_id in [*base, *range(4, len(self.attributes) + 1)]:
            chosen.append(attr_id)
            capacity *= len(self.attributes[attr_id].value_ids)
            if capacity >= k:
                break
        attribute_ids = tuple(sorted(chosen))
        value_lists = [self.attributes[a].value_ids for a in attribute_ids]
        picked: dict[int, None] = {}
        while len(picked) < k:
            picked.setdefault(int(r() * capacity))
        combos: list[tuple[int, ...]] = []
        for index in picked:
            digits: list[int] = []
            for values in value_lists:
                index, digit = divmod(index, len(values))
                digits.append(values[digit])
            combos.append(tuple(digits))
        return attribute_ids, combos

    # -- derived data ---------------------------------------------------------------------------------

    def children_of(self, category_id: int | None) -> list[int]:
        return self._children.get(category_id, [])

    def unit_combination_id(self, variation: Variation) -> int:
        return self._unit_combinations.get((variation.unit_id, variation.unit_content), 0)

    def vat_rate(self, vat_id: int) -> float:
        return dict(VAT_RATES).get(vat_id, 0.0)

    def barcode(self, variation: Variation) -> str:
        code = self._barcodes.get(variation.id)
        if code is None:
            code = self._barcodes[variation.id] = gtin13(variation.id, self.seed)
        return code

    def supplier_number(self, variation: Variation) -> str:
        return f"SUP-{variation.supplier_id}-{variation.id}"

    def prices(self, variation: Variation) -> list[tuple[int, PriceRow]]:
        """The variation's sales prices in sales-price-id order: derived defaults plus stored overrides."""
        overrides = variation.price_overrides or {}
        rows: list[tuple[int, PriceRow]] = []
        for sp_id in variation.price_ids:
            row = overrides.get(sp_id)
            if row is None:
                row = PriceRow(self.default_price(variation, sp_id), variation.price_ts, variation.price_ts)
            rows.append((sp_id, row))
        return rows

    def default_price(self, variation: Variation, sales_price_id: int) -> float:
        key = (variation.base_price, sales_price_id, variation.vat_id)
        price = self._default_prices.get(key)
        if price is None:
            sp = self.sales_prices[sales_price_id]
            base = variation.base_price
            price = psych_price(base * sp.factor, sp.ending) if sp.ending else round(base * sp.factor, 2)
            if not self.options.prices_gross:
                price = round(price / (1 + self.vat_rate(variation.vat_id) / 100), 2)
            self._default_prices[key] = price
        return price

    def item_texts(self, item: Item, lang: str) -> dict[str, str] | None:
        """The item's texts in one language, or None when the item has none in that language."""
        overrides = (item.text_overrides or {}).get(lang)
        if lang not in LANGUAGES:  # a language only a mutation added: what it set, blanks elsewhere
            return {name: overrides.get(name, "") for name in TEXT_FIELDS} if overrides else None
        li = LANGUAGES.index(lang)
        noun = NOUNS[item.noun][li]
        style = _STYLES[item.style][li]
        line = _LINES[item.line]
        maker = (
            self.manufacturers[item.manufacturer_id].external_name
            if item.manufacturer_id in self.manufacturers
            else ""
        )
        name = f"{noun} »{line}« {style}"
        if li == 0:
            short = f"{noun} aus der Kollektion {style} von {maker}."
            description = (
                f"<p>Der {noun} »{line}« verbindet {style}-Design mit solider Verarbeitung.</p>"
                f"<ul><li>Hersteller: {maker}</li><li>Artikel {item.id}</li></ul>"
            )
            technical = f"<p>Zolltarifnummer {item.customs_tariff_number}</p>"
        else:
            short = f"{noun} from the {style} collection by {maker}."
            description = (
                f"<p>The {noun.lower()} »{line}« combines {style.lower()} design with solid work.</p>"
                f"<ul><li>Manufacturer: {maker}</li><li>Item {item.id}</li></ul>"
            )
            technical = f"<p>Customs tariff number {item.customs_tariff_number}</p>"
        texts = {
            "name1": name,
            "name2": f"{noun} {line}",
            "name3": "",
            "shortDescription": short,
            "metaDescription": f"{name}: {short}",
            "description": description,
            "technicalData": technical,
            "urlPath": f"{slugify(name)}-{item.id}",
            "keywords": ", ".join((noun.lower(), line.lower(), style.lower())),
        }
        if overrides:
            texts.update(overrides)
        return texts
