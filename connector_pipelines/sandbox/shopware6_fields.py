"""Building blocks of the Shopware 6 emulator's entity definitions: field and association descriptions, the
helpers that declare them the way ``defineFields`` does, and the fixed ids every install shares.

``shopware6_schema`` (catalog entities) and ``shopware6_order_schema`` (orders, state machines) declare their
entities with these helpers; ``shopware6_schema.SCHEMA`` joins them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

# "state": a StateMachineStateField (an FK to state_machine_state that only a state transition may change);
# "calculated_price" / "cart_price": CalculatedPriceField / CartPriceField (JSON with required members).
Kind = Literal[
    "id",
    "fk",
    "uuid",
    "str",
    "text",
    "int",
    "float",
    "bool",
    "price",
    "json",
    "list",
    "date",
    "version",
    "state",
    "calculated_price",
    "cart_price",
]
OnDelete = Literal["cascade", "set_null", "restrict"]
AssocKind = Literal["one_to_many", "many_to_many", "many_to_one", "one_to_one"]

DEFAULT_CURRENCY_ID = "b7d2554b0ce847cd82f3ac9bd1c0dfca"
SYSTEM_LANGUAGE_ID = "2fbb5fe2e29a4d70aa5854ce7ce3e20b"
LIVE_VERSION_ID = "0fa91ce3e96a4bc2be4bd9ce752c3425"
STRING_MAX_LENGTH = 255

# The property mappings of CalculatedPriceField / CartPriceField: (member, type, required)
JSON_PRICE_MEMBERS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "calculated_price": (
        ("unitPrice", "float", True),
        ("totalPrice", "float", True),
        ("quantity", "int", True),
        ("calculatedTaxes", "array", True),
        ("taxRules", "array", True),
        ("referencePrice", "array", False),
        ("listPrice", "array", False),
        ("regulationPrice", "array", False),
    ),
    "cart_price": (
        ("netPrice", "float", True),
        ("totalPrice", "float", True),
        ("calculatedTaxes", "array", True),
        ("taxRules", "array", True),
        ("positionPrice", "float", True),
        ("rawTotal", "float", True),
        ("taxStatus", "string", True),
    ),
}


def seed_id(name: str) -> str:
    """Deterministic id of a seeded record, the way ``Uuid::fromStringToHex`` derives one."""
    return hashlib.md5(f"shopware-sandbox:{name}".encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class FieldDef:
    name: str
    kind: Kind
    ref: str | None = None
    required: bool = False
    translated: bool = False
    inherited: bool = False
    write_protected: bool = False
    on_delete: OnDelete = "restrict"
    max_length: int | None = None
    machine: str | None = None  # kind "state": the technical name of its state machine


@dataclass(frozen=True, slots=True)
class AssocDef:
    """``fk``: one_to_many and one_to_one -> column on ``ref`` pointing back; many_to_one -> local column;
    many_to_many -> the mapping column pointing back, with ``mapping_ref`` pointing at ``ref``."""

    name: str
    kind: AssocKind
    ref: str
    fk: str
    mapping: str | None = None
    mapping_ref: str | None = None
    inherited: bool = False


@dataclass(slots=True)
class EntityDef:
    name: str
    fields: dict[str, FieldDef]
    assocs: dict[str, AssocDef]
    defaults: dict[str, object]
    pk: tuple[str, ...] = ("id",)
    versioned: bool = False
    inheritance: bool = False
    unique: tuple[tuple[str, ...], ...] = ()
    translated: frozenset[str] = frozenset()
    required_translated: frozenset[str] = frozenset()
    fks: tuple[FieldDef, ...] = ()
    indexed: tuple[str, ...] = ()
    incoming: list[tuple[str, FieldDef]] = field(default_factory=list)
    # association name -> to-many; associations to entities not stored here (see the module docstring)
    phantoms: dict[str, bool] = field(default_factory=dict)
    # defaults of translated fields, written into the translation of the language the record is created in
    translated_defaults: dict[str, object] = field(default_factory=dict)
    versions: tuple[str, ...] = ()

    @property
    def alias(self) -> str:
        return self.name.replace("_", "-")

    @property
    def is_mapping(self) -> bool:
        return len(self.pk) > 1

    @property
    def id_property(self) -> str:
        """``productId`` for ``product``: the key translation and mapping rows use to point here."""
        head, *rest = self.name.split("_")
        return head + "".join(part.capitalize() for part in rest) + "Id"


def plain(
    name: str,
    kind: Kind,
    *,
    required: bool = False,
    translated: bool = False,
    inherited: bool = False,
    write_protected: bool = False,
) -> FieldDef:
    return FieldDef(
        name,
        kind,
        required=required,
        translated=translated,
        inherited=inherited,
        write_protected=write_protected,
        max_length=STRING_MAX_LENGTH if kind == "str" else None,
    )


def fk(
    name: str, ref: str, on_delete: OnDelete, *, required: bool = False, inherited: bool = False
) -> FieldDef:
    return FieldDef(name, "fk", ref=ref, on_delete=on_delete, required=required, inherited=inherited)


def ro(name: str, kind: Kind) -> FieldDef:
    return FieldDef(name, kind, write_protected=True)


def version(name: str = "versionId") -> FieldDef:
    """``VersionField`` / ``ReferenceVersionField``: the emulator only has the live version."""
    return FieldDef(name, "version", write_protected=True)


def tr(
    name: str,
    kind: Kind = "str",
    *,
    required: bool = False,
    inherited: bool = False,
    write_protected: bool = False,
) -> FieldDef:
    return plain(
        name, kind, translated=True, required=required, inherited=inherited, write_protected=write_protected
    )


def o2o(name: str, ref: str, fk: str) -> AssocDef:
    """``OneToOneAssociationField`` on the side that does not hold the key (``order.orderCustomer``)."""
    return AssocDef(name, "one_to_one", ref, fk)


def state(name: str, machine: str, *, required: bool = True) -> FieldDef:
    """``StateMachineStateField``: an FK to ``state_machine_state`` of the state machine ``machine``."""
    return FieldDef(name, "state", ref="state_machine_state", required=required, machine=machine)


def o2m(name: str, ref: str, fk: str, *, inherited: bool = False) -> AssocDef:
    return AssocDef(name, "one_to_many", ref, fk, inherited=inherited)


def m2o(name: str, ref: str, fk: str, *, inherited: bool = False) -> AssocDef:
    return AssocDef(name, "many_to_one", ref, fk, inherited=inherited)


def m2m(name: str, ref: str, mapping: str, fk: str, mapping_ref: str, *, inherited: bool = False) -> AssocDef:
    return AssocDef(
        name, "many_to_many", ref, fk, mapping=mapping, mapping_ref=mapping_ref, inherited=inherited
    )


def entity(
    name: str,
    fields: list[FieldDef],
    assocs: list[AssocDef] | None = None,
    defaults: dict[str, object] | None = None,
    *,
    pk: tuple[str, ...] = ("id",),
    versioned: bool = False,
    inheritance: bool = False,
    unique: tuple[tuple[str, ...], ...] = (),
    many: tuple[str, ...] = (),
    one: tuple[str, ...] = (),
) -> EntityDef:
    """``many`` / ``one``: phantom to-many / to-one associations (entities the emulator does not store)."""
    all_fields = [FieldDef("id", "id"), *fields] if pk == ("id",) else fields
    by_name = {f.name: f for f in all_fields}
    plain_defaults = {k: v for k, v in (defaults or {}).items() if not by_name[k].translated}
    return EntityDef(
        name,
        by_name,
        {a.name: a for a in assocs or []},
        plain_defaults,
        pk=pk,
        versioned=versioned,
        inheritance=inheritance,
        unique=unique,
        phantoms={**dict.fromkeys(many, True), **dict.fromkeys(one, False)},
        translated_defaults={k: v for k, v in (defaults or {}).items() if by_name[k].translated},
    )
