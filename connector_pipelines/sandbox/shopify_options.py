"""Product options through ``productSet``'s ``productOptions``: checked with the rest of the input first,
applied only when all of it is valid (as ``shopify_media`` does for ``files``). Options and their values are
matched to the product's existing ones by id or by name (case-insensitive), so their ids survive an upsert.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector_pipelines.sandbox.shopify_gql import Json
from connector_pipelines.sandbox.shopify_store import Option, OptionValue, Product, gid, next_id

UserError = dict[str, Json]


def _error(path: list[str], message: str, code: str) -> UserError:
    return {"field": path, "message": message, "code": code}


@dataclass
class ValueSpec:
    existing: OptionValue | None
    name: str
    obj: OptionValue | None = None  # set when applied


@dataclass
class OptionSpec:
    existing: Option | None
    name: str
    position: int
    values: list[ValueSpec]


def kept_options(product: Product | None) -> list[OptionSpec] | None:
    if product is None:
        return None
    return [
        OptionSpec(o, o.name, o.position, [ValueSpec(v, v.name, v) for v in o.values])
        for o in product.options
    ]


def check_options(
    product: Product | None, inputs: list[dict[str, Json]] | None, max_options: int, errors: list[UserError]
) -> list[OptionSpec] | None:
    if inputs is None:
        return None
    path = ["input", "productOptions"]
    if len(inputs) > max_options:
        errors.append(
            _error(
                path,
                f"Can only specify a maximum of {max_options} options",
                "OPTIONS_OVER_LIMIT",
            )
        )
        return None
    existing = product.options if product else []
    specs: list[OptionSpec] = []
    names: set[str] = set()
    for i, item in enumerate(inputs):
        here = [*path, str(i)]
        option: Option | None = None
        if item.get("id") is not None:
            option = next((o for o in existing if gid("ProductOption", o.id) == item["id"]), None)
            if option is None:
                errors.append(_error([*here, "id"], "Option does not exist", "OPTION_DOES_NOT_EXIST"))
                continue
        name = (item.get("name") or (option.name if option else "")).strip()
        if not name:
            errors.append(_error([*here, "name"], "Option name can't be blank", "INVALID_INPUT"))
            continue
        if option is None:
            option = next((o for o in existing if o.name.casefold() == name.casefold()), None)
        if name.casefold() in names:
            errors.append(
                _error([*here, "name"], f"Option '{name}' is given more than once.", "DUPLICATED_OPTION_NAME")
            )
            continue
        names.add(name.casefold())
        values = _check_values(option, item.get("values"), here, errors)
        if values is not None:
            specs.append(OptionSpec(option, name, item.get("position") or i + 1, values))
    specs.sort(key=lambda s: s.position)
    return specs


def _check_values(
    option: Option | None, inputs: list[dict[str, Json]] | None, here: list[str], errors: list[UserError]
) -> list[ValueSpec] | None:
    if inputs is None and option is not None:
        return [ValueSpec(v, v.name, v) for v in option.values]
    if not inputs:
        errors.append(_error([*here, "values"], "Option values can't be empty.", "OPTION_VALUES_MISSING"))
        return None
    known = option.values if option else []
    specs: list[ValueSpec] = []
    names: set[str] = set()
    for j, item in enumerate(inputs):
        there = [*here, "values", str(j)]
        value: OptionValue | None = None
        if item.get("id") is not None:
            value = next((v for v in known if gid("ProductOptionValue", v.id) == item["id"]), None)
            if value is None:
                errors.append(
                    _error([*there, "id"], "Option value does not exist", "OPTION_VALUE_DOES_NOT_EXIST")
                )
                continue
        name = (item.get("name") or (value.name if value else "")).strip()
        if not name:
            errors.append(_error([*there, "name"], "Option value name can't be blank", "INVALID_INPUT"))
            continue
        if name.casefold() in names:
            errors.append(
                _error(
                    [*there, "name"],
                    f"Option value '{name}' is given more than once.",
                    "DUPLICATED_OPTION_VALUE",
                )
            )
            continue
        names.add(name.casefold())
        value = value or next((v for v in known if v.name.casefold() == name.casefold()), None)
        specs.append(ValueSpec(value, name))
    return specs


def option_index(options: list[OptionSpec], ref: dict[str, Json]) -> int | None:
    for i, option in enumerate(options):
        if ref.get("optionId") is not None:
            if option.existing is not None and gid("ProductOption", option.existing.id) == ref["optionId"]:
                return i
        elif (
            ref.get("optionName") is not None and option.name.casefold() == str(ref["optionName"]).casefold()
        ):
            return i
    return None


def option_value(option: OptionSpec, ref: dict[str, Json]) -> ValueSpec | None:
    for value in option.values:
        if ref.get("id") is not None:
            if value.existing is not None and gid("ProductOptionValue", value.existing.id) == ref["id"]:
                return value
        elif ref.get("name") is not None and value.name.casefold() == str(ref["name"]).casefold():
            return value
    return None


def apply_options(product: Product, specs: list[OptionSpec]) -> None:
    options: list[Option] = []
    for position, spec in enumerate(specs, 1):
        values: list[OptionValue] = []
        for value_spec in spec.values:
            value = value_spec.existing or OptionValue(next_id(), value_spec.name)
            value.name = value_spec.name
            value_spec.obj = value
            values.append(value)
        option = spec.existing or Option(next_id(), spec.name, position, values)
        option.name, option.position, option.values = spec.name, position, values
        options.append(option)
    product.options = options
    # Kept variants follow the new option order.
    order = {id(v): i for i, o in enumerate(options) for v in o.values}
    for variant in product.variants:
        variant.option_values.sort(key=lambda v: order.get(id(v), 0))


def applied(spec: ValueSpec) -> OptionValue:
    value = spec.obj or spec.existing
    assert value is not None, "option values are applied before variants"
    return value
