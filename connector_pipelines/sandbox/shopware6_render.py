"""Rendering in the Shopware 6 emulator: stored rows as the Admin API's entity JSON (``JsonType``) or
JSON:API records (``JsonApiType``), nested associations narrowed by their own criteria, and listing links."""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlencode

import orjson

from connector_pipelines.sandbox.shopware6_criteria import Criteria
from connector_pipelines.sandbox.shopware6_read import PLANS, ReadContext, Reader
from connector_pipelines.sandbox.shopware6_schema import SCHEMA, AssocDef, EntityDef
from connector_pipelines.sandbox.shopware6_search import compile_filter, field_getter, sort_key
from connector_pipelines.sandbox.shopware6_store import Row, Store, tr_key, unpack

_KEBAB = re.compile(r"[A-Z]")


def kebab(name: str) -> str:
    """``JsonApiEncoder::camelCaseToSnailCase``: ``configuratorSettings`` -> ``configurator-settings``."""
    return _KEBAB.sub(lambda m: "-" + m.group(0).lower(), name.replace("_", "-")).lstrip("-")


class Renderer:
    """Turns stored rows into the Admin API's entity JSON (``JsonEntityEncoder``) or JSON:API records."""

    def __init__(self, store: Store, ctx: ReadContext) -> None:
        self.store = store
        self.ctx = ctx
        self.reader = Reader(store, ctx)

    def entity(
        self, ent: EntityDef, key: str, row: Row, assocs: dict[str, Criteria] | None = None
    ) -> dict[str, Any]:
        plan = PLANS[ent.name]
        wanted = self.ctx.includes.get(ent.name) if self.ctx.includes else None
        reader = self.reader
        parent = reader.parent(ent, row)
        out: dict[str, Any] = {}
        if not ent.is_mapping and (wanted is None or "id" in wanted):
            out["id"] = key
        inherited = plan.inherited
        for name in plan.plain:
            if wanted is not None and name not in wanted:
                continue
            value = row.get(name)
            if value is None and parent is not None and name in inherited:
                value = parent.get(name)
            out[name] = orjson.loads(value) if value.__class__ is bytes else value
        if plan.computed and (wanted is None or not wanted.isdisjoint(plan.computed)):
            computed = reader.computed_fields(ent, row)
            for name in plan.computed:
                if wanted is None or name in wanted:
                    out[name] = computed[name]
            if "variation" in out and assocs:
                out["variation"] = self.variation(ent, row, assocs)
        if plan.translated:
            want_translated = wanted is None or "translated" in wanted
            translated: dict[str, Any] = {}
            for name in plan.translated:
                keys = reader.translation_keys(name)
                own = row.get(keys[0])
                value = own
                for fallback in keys[1:]:
                    if value is not None:
                        break
                    value = row.get(fallback)
                if parent is not None and name in inherited and (own is None or value is None):
                    own = reader.own_translation(ent, row, name) if own is None else own
                    value = reader.translated(ent, row, name) if value is None else value
                if want_translated:
                    translated[name] = orjson.loads(value) if value.__class__ is bytes else value
                if wanted is None or name in wanted:
                    out[name] = orjson.loads(own) if own.__class__ is bytes else own
            if want_translated:
                out["translated"] = translated
        for name in ("createdAt", "updatedAt"):
            if wanted is None or name in wanted:
                out[name] = row.get(name)
        for name, assoc in ent.assocs.items():
            if wanted is not None and name not in wanted:
                continue
            sub = assocs.get(name) if assocs else None
            if sub is None:
                out[name] = None
            elif assoc.kind == "many_to_one" or assoc.kind == "one_to_one":
                hits = reader.related(ent, row, assoc)
                out[name] = (
                    self.entity(SCHEMA[assoc.ref], hits[0][0], hits[0][1], sub.associations) if hits else None
                )
            else:
                ref = SCHEMA[assoc.ref]
                out[name] = [
                    self.entity(ref, k, r, sub.associations) for k, r in self.children(ent, row, assoc, sub)
                ]
        for name, to_many in ent.phantoms.items():
            if wanted is not None and name not in wanted:
                continue
            if assocs is None or name not in assocs:
                out[name] = None
            elif name == "translations":
                out[name] = self.translations(ent, key, row)
            else:
                out[name] = [] if to_many else None
        if wanted is None:
            if not ent.is_mapping:
                out["_uniqueIdentifier"] = key
            out["extensions"] = []
        out["apiAlias"] = ent.name
        return out

    def variation(self, ent: EntityDef, row: Row, assocs: dict[str, Criteria]) -> list[dict[str, Any]]:
        """``ProductVariationBuilder``: group/option names of the loaded options, ordered by the group's
        position then name; options without a loaded group are left out, so no ``options.group``, no names."""
        sub = assocs.get("options")
        if sub is None or "group" not in sub.associations:
            return []
        reader = self.reader
        groups = self.store.rows["property_group"]
        option_def, group_def = SCHEMA["property_group_option"], SCHEMA["property_group"]
        named: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        for _, option in self.children(ent, row, ent.assocs["options"], sub):
            group = groups.get(option.get("groupId") or "")
            if group is None:
                continue
            group_name = reader.translated(group_def, group, "name")
            position = reader.translated(group_def, group, "position")
            order = (sort_key(position), sort_key(group_name))
            named.append(
                (order, {"group": group_name, "option": reader.translated(option_def, option, "name")})
            )
        named.sort(key=lambda pair: pair[0])
        return [entry for _, entry in named]

    def translations(self, ent: EntityDef, key: str, row: Row) -> list[dict[str, Any]]:
        """The ``translations`` association: one ``<entity>_translation`` per language the row has."""
        alias = f"{ent.name}_translation"
        out = []
        for marker in row:
            if marker[:1] != "|":
                continue
            language = marker[1:]
            entry: dict[str, Any] = {
                name: unpack(row.get(tr_key(name, language))) for name in sorted(ent.translated)
            }
            entry.update(
                {
                    ent.id_property: key,
                    "languageId": language,
                    "createdAt": row.get("createdAt"),
                    "updatedAt": row.get("updatedAt"),
                    "extensions": [],
                    "apiAlias": alias,
                }
            )
            out.append(entry)
        return out

    def children(self, ent: EntityDef, row: Row, assoc: AssocDef, sub: Criteria) -> list[tuple[str, Row]]:
        """A to-many association narrowed by its nested criteria (filter, sort, page)."""
        related = self.reader.related(ent, row, assoc)
        if not (sub.filters or sub.sort or sub.limit is not None):
            return related
        ref = SCHEMA[assoc.ref]
        if sub.filters:
            pred = compile_filter(
                self.reader,
                ref,
                {"type": "multi", "operator": "AND", "negate": False, "queries": sub.filters},
            )
            related = [(k, r) for k, r in related if pred(r)]
        for name, desc in reversed(sub.sort):
            get = field_getter(self.reader, ref, name)
            related.sort(key=lambda kr: sort_key(get(kr[1])[0]), reverse=desc)
        if sub.limit is not None:
            related = related[sub.offset : sub.offset + sub.limit]
        return related

    # -- JSON:API -----------------------------------------------------------------------------------------

    def jsonapi_record(
        self,
        ent: EntityDef,
        key: str,
        row: Row,
        assocs: dict[str, Criteria] | None,
        included: dict[tuple[str, str], dict[str, Any]],
    ) -> dict[str, Any]:
        plain = self.entity(ent, key, row)
        if "variation" in plain and assocs:
            plain["variation"] = self.variation(ent, row, assocs)
        attributes = {
            k: v
            for k, v in plain.items()
            if k not in ent.assocs
            and k not in ent.phantoms
            and k not in ("id", "apiAlias", "_uniqueIdentifier", "extensions")
        }
        self_link = f"{self.ctx.base_url}/api/{ent.alias}/{key}"
        relationships: dict[str, Any] = {}
        for name, assoc in ent.assocs.items():
            single = assoc.kind == "many_to_one" or assoc.kind == "one_to_one"
            rel: dict[str, Any] = {
                "data": None if single else [],
                "links": {"related": f"{self_link}/{kebab(name)}"},
            }
            sub = assocs.get(name) if assocs else None
            if sub is not None:
                ref = SCHEMA[assoc.ref]
                hits = self.reader.related(ent, row, assoc) if single else self.children(ent, row, assoc, sub)
                for hk, hrow in hits:
                    ident = {"type": ref.name, "id": hk}
                    if single:
                        rel["data"] = ident
                    else:
                        rel["data"].append(ident)
                    if (ref.name, hk) not in included:
                        included[(ref.name, hk)] = {}
                        included[(ref.name, hk)] = self.jsonapi_record(
                            ref, hk, hrow, sub.associations, included
                        )
            relationships[name] = rel
        for name, to_many in ent.phantoms.items():
            relationships[name] = {
                "data": [] if to_many else None,
                "links": {"related": f"{self_link}/{kebab(name)}"},
            }
        return {
            "id": key,
            "type": ent.name,
            "attributes": attributes,
            "links": {"self": self_link},
            "relationships": relationships,
            "meta": None,
        }


def listing_links(
    url_path: str, query: dict[str, str], limit: int | None, page: int, total: int
) -> dict[str, str]:
    """``JsonFactoryBase::createPaginationLinks``."""
    if not limit:
        return {}

    def build(p: int) -> str:
        return f"{url_path}?{urlencode({**query, 'limit': limit, 'page': p})}"

    last = max(1, math.ceil(total / limit))
    links = {"first": build(1), "last": build(last)}
    if page > 1:
        links["prev"] = build(page - 1)
    if page < last:
        links["next"] = build(page + 1)
    return links
