"""The write side of the emulator: ``_action/sync`` and single CRUD writes, one transaction per request.

Mirrors ``EntityWriter::sync``: the FK resolver and delete-by-criteria run first against the state before the
request, then every record is validated (all constraint violations of all operations are collected and
reported together, as ``WriteException``), then the "SQL" phase checks unique keys and foreign keys. Any error
rolls the whole request back through the store's undo log.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from connector_pipelines.sandbox.shopware6_criteria import Criteria, parse_criteria
from connector_pipelines.sandbox.shopware6_errors import (
    ShopwareError,
    fail,
    fail_plain,
    format_value,
    invalid_uuid,
    not_blank,
    resource_not_found,
    sql_error,
    state_change_forbidden,
    violation,
    write_protected,
)
from connector_pipelines.sandbox.shopware6_read import ReadContext
from connector_pipelines.sandbox.shopware6_schema import (
    SCHEMA,
    SYSTEM_LANGUAGE_ID,
    AssocDef,
    EntityDef,
    FieldDef,
)
from connector_pipelines.sandbox.shopware6_search import Searcher
from connector_pipelines.sandbox.shopware6_settings import RejectRule, ShopwareSettings
from connector_pipelines.sandbox.shopware6_store import Row, Store, now_iso, primary_key, tr_key, tr_marker
from connector_pipelines.sandbox.shopware6_validate import PK, FieldValidator, WriteTx, is_uuid, malformed

_INVALID_PAYLOAD = "Invalid payload. Should contain a list of associative arrays"
_COMMAND_NS = "Shopware\\Core\\Framework\\DataAbstractionLayer\\Write\\Command\\"
_ON_DELETE_SQL = {"cascade": "CASCADE", "set_null": "SET NULL", "restrict": "RESTRICT"}
# NumberRangeField: generated from the entity's number range when a new record leaves it out
_NUMBER_RANGES = {"order": "orderNumber"}


def _snake(name: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), name)


@dataclass(slots=True)
class SyncOperation:
    key: str
    entity: EntityDef
    action: str
    payload: list[Any]
    criteria: list[Any] | None


@dataclass(slots=True)
class SyncOutcome:
    data: dict[str, list[PK]]
    not_found: dict[str, list[PK]]
    deleted: dict[str, list[PK]]

    def body(self) -> dict[str, Any]:
        def out(bucket: dict[str, list[PK]]) -> dict[str, list[PK]] | list[Any]:
            return {k: bucket[k] for k in sorted(bucket)} if bucket else []

        return {
            "extensions": [],
            "data": out(self.data),
            "notFound": out(self.not_found),
            "deleted": out(self.deleted),
        }


class Writer:
    def __init__(self, store: Store, searcher: Searcher, settings: ShopwareSettings) -> None:
        self.store = store
        self.searcher = searcher
        self.settings = settings
        self.reject_rules: list[RejectRule] = []
        self._required: dict[str, tuple[FieldDef, ...]] = {
            name: tuple(f for f in ent.fields.values() if f.required and not f.translated and f.kind != "id")
            for name, ent in SCHEMA.items()
        }
        self._required_fks: dict[str, tuple[FieldDef, ...]] = {
            name: tuple(f for f in ent.fks if f.required) for name, ent in SCHEMA.items()
        }
        self.fields = FieldValidator(store)

    # -- sync ---------------------------------------------------------------------------------------------

    def sync(self, body: Any, language_id: str, *, resolvers: bool = True) -> SyncOutcome:
        """One sync request; ``resolvers=False`` skips the FK-resolver scan of a payload without any."""
        operations = self._parse_operations(body)
        with self.store.lock:
            criteria_keys: dict[int, list[str]] = {}
            for i, op in enumerate(operations):
                if op.action == "delete" and op.criteria is not None:
                    criteria_keys[i] = self._criteria_keys(op, language_id)
                elif op.action == "upsert" and resolvers:
                    self._resolve_operation(op)
            tx = WriteTx(language_id, now_iso())
            return self._transaction(tx, lambda: self._run_operations(operations, criteria_keys, tx))

    def _run_operations(
        self, operations: list[SyncOperation], criteria_keys: dict[int, list[str]], tx: WriteTx
    ) -> None:
        for i, op in enumerate(operations):
            if op.action == "upsert":
                for index, record in enumerate(op.payload):
                    self._upsert(op.entity, record, f"/{op.key}/{index}", tx, {}, None)
            else:
                keys = list(criteria_keys.get(i, []))
                keys.extend(self._delete_payload_keys(op.entity, op.payload, tx))
                self._delete_keys(op.entity, keys, tx)

    def _transaction(self, tx: WriteTx, work: Callable[[], None]) -> SyncOutcome:
        store = self.store
        with store.lock:
            store.begin()
            try:
                work()
                if tx.violations:
                    raise ShopwareError(400, tx.violations)
                if tx.sql_error is not None:
                    raise tx.sql_error
                self._check_foreign_keys(tx)
            except BaseException:
                store.rollback()
                raise
            finally:
                self._consume_reject_rules(tx)
            store.commit()
        return SyncOutcome(
            {e: list(v.values()) for e, v in tx.written.items()},
            {e: list(v.values()) for e, v in tx.not_found.items()},
            {e: list(v.values()) for e, v in tx.deleted.items()},
        )

    def _parse_operations(self, body: Any) -> list[SyncOperation]:
        if isinstance(body, list):
            items: Iterable[tuple[Any, Any]] = enumerate(body)
        elif isinstance(body, dict):
            items = body.items()
        else:
            raise fail_plain(400, "Invalid payload format. Expected an array of operations.")
        raw_ops: list[tuple[str, dict[str, Any]]] = []
        for raw_key, op in items:
            if not isinstance(op, dict):
                raise fail_plain(400, "Invalid payload format. Expected an array of operations.")
            key = str(op["key"]) if op.get("key") is not None else str(raw_key)
            if not op.get("entity"):
                raise _invalid_sync(
                    f'Missing "entity" argument for operation with key "{key}". '
                    "It needs to be a non-empty string."
                )
            raw_ops.append((key, op))
        operations = []
        for key, op in raw_ops:
            action = op.get("action")
            payload = op.get("payload", [])
            criteria = _criteria_of(op)
            errors = []
            if action not in ("upsert", "delete"):
                errors.append(
                    f'Missing or invalid "action" argument for operation with key "{key}". '
                    "Supported actions are [upsert, delete]"
                )
            if not payload and not criteria:
                errors.append(
                    f'Missing "payload"|"criteria" argument for operation with key "{key}". '
                    "It needs to be a non-empty array."
                )
            if errors:
                raise _invalid_sync("Invalid sync operation. " + " ".join(errors))
            ent = SCHEMA.get(str(op["entity"]))
            if ent is None:
                # DefinitionNotFoundException is a ShopwareHttpException (500) that SyncController does not
                # catch (it only turns DataAbstractionLayerException into 400).
                raise fail(
                    500,
                    "FRAMEWORK__DEFINITION_NOT_FOUND",
                    'Definition for entity "{{ entityName }}" does not exist.',
                    {"entityName": op["entity"]},
                )
            if payload is None:
                payload = []
            if not isinstance(payload, list) or not all(isinstance(p, dict) for p in payload):
                raise fail_plain(400, _INVALID_PAYLOAD)
            if criteria is not None and action == "upsert":
                criteria = None
            operations.append(SyncOperation(key, ent, str(action), payload, criteria))
        return operations

    # -- FK resolver (SyncFkResolver) ---------------------------------------------------------------------

    def _resolve_operation(self, op: SyncOperation) -> None:
        unresolved: list[tuple[str, str]] = []
        self._resolve(op.entity, op.payload, op.key, unresolved)
        if unresolved:
            status = self.settings.resolver_missing_status
            messages, params = [], {}
            for i, (pointer, ref) in enumerate(unresolved):
                messages.append(f"Can not resolve foreign key at position {pointer}. Reference field: {ref}")
                params[f"pointer-{i}"] = pointer
                params[f"field-{i}"] = ref
            raise fail(status, "FRAMEWORK__API_INVALID_SYNC_RESOLVERS", "\n".join(messages), params)

    def _resolve(
        self, ent: EntityDef, rows: list[Any], pointer: str, unresolved: list[tuple[str, str]]
    ) -> None:
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                continue
            current = f"{pointer}/{index}"
            for name, value in list(row.items()):
                if (
                    isinstance(value, dict)
                    and value.get("resolver") is not None
                    and value.get("value") is not None
                ):
                    fd = ent.fields.get(name)
                    if fd is None and name not in ent.assocs:
                        raise fail(
                            400,
                            "FRAMEWORK__API_SYNC_RESOLVER_FIELD_NOT_FOUND",
                            "Can not resolve entity field name {{ entity }}.{{ field }} "
                            "for sync operation resolver",
                            {"entity": ent.name, "field": name},
                        )
                    if fd is not None and fd.kind in ("fk", "id"):
                        resolver = str(value["resolver"])
                        if resolver != "product.number":
                            raise fail(
                                400,
                                "API_RESOLVER_NOT_FOUND_EXCEPTION",
                                f"Foreign key resolver for key {resolver} not found",
                            )
                        found = self.store.product_id_by_number(str(value["value"]))
                        if found is not None:
                            row[name] = found
                        elif value.get("nullOnMissing"):
                            row[name] = None
                        else:
                            unresolved.append((f"{current}/{name}", f"{ent.name}.{name}"))
                        continue
                assoc = ent.assocs.get(name)
                if assoc is None:
                    continue
                if assoc.kind in ("many_to_one", "one_to_one") and isinstance(value, dict):
                    self._resolve(SCHEMA[assoc.ref], [value], f"{current}/{name}", unresolved)
                elif assoc.kind not in ("many_to_one", "one_to_one") and isinstance(value, list):
                    self._resolve(SCHEMA[assoc.ref], value, f"{current}/{name}", unresolved)

    # -- upsert -------------------------------------------------------------------------------------------

    def _upsert(
        self,
        ent: EntityDef,
        rec: Any,
        path: str,
        tx: WriteTx,
        ctx_ids: dict[str, str],
        forced: dict[str, Any] | None,
    ) -> str | None:
        violations = tx.violations
        if not isinstance(rec, dict):
            violations.append(malformed(path))
            return None
        if ent.is_mapping:
            return self._upsert_mapping(ent, rec, path, tx, ctx_ids, forced)
        raw_id = rec.get("id")
        if raw_id is None:
            key = uuid.uuid4().hex
        elif is_uuid(raw_id):
            key = raw_id
        else:
            violations.append(invalid_uuid(f"{path}/id", raw_id))
            return None
        old = self.store.rows[ent.name].get(key)
        before = len(violations)
        fields = ent.fields
        new: dict[str, Any] = {}
        plain_tr: dict[str, Any] | None = None
        raw_translations: Any = None
        nested: list[tuple[AssocDef, Any]] = []
        for name, value in rec.items():
            fd = fields.get(name)
            if fd is None:
                assoc = ent.assocs.get(name)
                if assoc is not None:
                    nested.append((assoc, value))
                elif name == "translations":
                    raw_translations = value
                continue
            if fd.kind == "id" or fd.kind == "version":
                continue  # the emulator has only the live version
            if fd.write_protected:
                violations.append(write_protected(f"{path}/{name}"))
            elif fd.kind == "state" and old is not None:
                violations.append(state_change_forbidden(f"{path}/{name}", value))
            elif fd.translated:
                if plain_tr is None:
                    plain_tr = {}
                plain_tr[name] = value
            elif value is None:
                new[name] = None
            else:
                ok, normalized = self.fields.validate(ent, fd, value, path, key, tx)
                if ok:
                    new[name] = normalized
        if forced:
            new.update(forced)
        number_field = _NUMBER_RANGES.get(ent.name)
        if old is None and number_field is not None and new.get(number_field) is None:
            new[number_field] = self.store.next_number(ent.name)
        child_ctx = {**ctx_ids, ent.name: key} if nested else ctx_ids
        for assoc, value in nested:
            if assoc.kind != "many_to_one" or value is None:
                continue
            sub_path = f"{path}/{assoc.name}"
            if not isinstance(value, dict):
                violations.append(malformed(sub_path))
                continue
            sub_key = self._upsert(SCHEMA[assoc.ref], value, sub_path, tx, child_ctx, None)
            if sub_key is not None:
                new[assoc.fk] = sub_key
        if old is None:
            for fd in self._required_fks[ent.name]:
                if new.get(fd.name) is None and fd.name not in rec and fd.ref in ctx_ids:
                    new[fd.name] = ctx_ids[fd.ref]
        parent_id = new["parentId"] if "parentId" in new else old.get("parentId") if old else None
        is_child = ent.inheritance and parent_id is not None
        for fd in self._required[ent.name]:
            if is_child and fd.inherited:
                continue
            name = fd.name
            if name in new:
                value = new[name]
                if value is None or value == "":
                    violations.append(not_blank(f"{path}/{name}", value))
            elif old is None and name not in rec and name not in ent.defaults:
                # getDefaults() fill a new record before it is validated
                violations.append(not_blank(f"{path}/{name}"))
        translations: dict[str, dict[str, Any]] = {}
        if plain_tr is not None or raw_translations is not None:
            translations = self.fields.translations(ent, plain_tr, raw_translations, path, tx)
        if ent.required_translated:
            self.fields.check_translations(ent, old, translations, is_child, path, tx)
        if self.reject_rules:
            self._apply_reject_rules(ent, key, rec, path, tx)
        if len(violations) == before:
            self._store_row(ent, key, old, new, translations, tx)
        for assoc, value in nested:
            if assoc.kind == "many_to_one" or value is None:
                continue
            sub_path = f"{path}/{assoc.name}"
            if assoc.kind == "one_to_one":
                if isinstance(value, dict):
                    self._upsert(SCHEMA[assoc.ref], value, sub_path, tx, child_ctx, {assoc.fk: key})
                else:
                    violations.append(malformed(sub_path))
                continue
            items = (
                value
                if isinstance(value, list)
                else list(value.values())
                if isinstance(value, dict)
                else None
            )
            if items is None:
                violations.append(malformed(sub_path))
                continue
            ref = SCHEMA[assoc.ref]
            if assoc.kind == "one_to_many":
                forced_fk = {assoc.fk: key}
                for i, item in enumerate(items):
                    self._upsert(ref, item, f"{sub_path}/{i}", tx, child_ctx, forced_fk)
            else:
                self._link_many(key, assoc, ref, items, sub_path, tx, child_ctx)
        return key

    def _link_many(
        self,
        key: str,
        assoc: AssocDef,
        ref: EntityDef,
        items: list[Any],
        sub_path: str,
        tx: WriteTx,
        child_ctx: dict[str, str],
    ) -> None:
        """A many-to-many list: ``{"id"}`` alone only links (FK-checked); more fields upsert the target."""
        assert assoc.mapping is not None
        assert assoc.mapping_ref is not None
        mapping = SCHEMA[assoc.mapping]
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                tx.violations.append(malformed(f"{sub_path}/{i}"))
                continue
            if len(item) == 1 and "id" in item:
                target = item["id"]
                if not is_uuid(target):
                    tx.violations.append(invalid_uuid(f"{sub_path}/{i}/id", target))
                    continue
            else:
                upserted = self._upsert(ref, item, f"{sub_path}/{i}", tx, child_ctx, None)
                if upserted is None:
                    continue
                target = upserted
            self._put_mapping(mapping, {assoc.fk: key, assoc.mapping_ref: target}, assoc.mapping_ref, tx)

    def _upsert_mapping(
        self,
        ent: EntityDef,
        rec: dict[str, Any],
        path: str,
        tx: WriteTx,
        ctx_ids: dict[str, str],
        forced: dict[str, Any] | None,
    ) -> str | None:
        values = {**rec, **(forced or {})}
        ok = True
        for col in ent.pk:
            value = values.get(col)
            if value is None:
                value = ctx_ids.get(ent.fields[col].ref or "")
            if value is None:
                tx.violations.append(not_blank(f"{path}/{col}"))
                ok = False
            elif not is_uuid(value):
                tx.violations.append(invalid_uuid(f"{path}/{col}", value))
                ok = False
            values[col] = value
        if not ok:
            return None
        return self._put_mapping(ent, {col: values[col] for col in ent.pk}, None, tx)

    def _put_mapping(self, mapping: EntityDef, pk: dict[str, str], checked: str | None, tx: WriteTx) -> str:
        """Link two rows; ``checked`` names the column to FK-check (the other is the row being written)."""
        first, second = mapping.pk
        key = f"{pk[first]}-{pk[second]}"
        table = self.store.rows[mapping.name]
        if key not in table:
            self.store.put(mapping.name, key, {**pk, "createdAt": tx.now, "updatedAt": None})
        rows = self.store.rows
        for col in mapping.pk:
            if checked is None or col == checked:
                fd = mapping.fields[col]
                if pk[col] not in rows[fd.ref or ""]:
                    tx.fk_checks.append((mapping.name, key, col, fd.ref or "", pk[col], fd.on_delete))
        written = tx.written.get(mapping.name)
        if written is None:
            tx.written[mapping.name] = {key: pk}
        else:
            written[key] = pk
        return key

    def _store_row(
        self,
        ent: EntityDef,
        key: str,
        old: Row | None,
        new: dict[str, Any],
        translations: dict[str, dict[str, Any]],
        tx: WriteTx,
    ) -> None:
        if old is not None:
            row = {**old, **new, "updatedAt": tx.now}
        else:
            row = {**ent.defaults, **new, "id": key, "createdAt": tx.now, "updatedAt": None}
        written = tx.written
        for lang, values in translations.items():
            if ent.translated_defaults and (old is None or tr_marker(lang) not in old):
                # column defaults of the translation table: every new translation row gets them
                for name, default in ent.translated_defaults.items():
                    values.setdefault(name, default)
            if not values:
                continue
            row[tr_marker(lang)] = True
            for name, value in values.items():
                row[tr_key(name, lang)] = value
            pk = {ent.id_property: key, "languageId": lang}
            translation_entity = f"{ent.name}_translation"
            bucket = written.get(translation_entity)
            if bucket is None:
                written[translation_entity] = {f"{key}-{lang}": pk}
            else:
                bucket[f"{key}-{lang}"] = pk
        store = self.store
        for cols in ent.unique:
            if tx.sql_error is not None or (old is not None and not any(c in new for c in cols)):
                continue
            owner = store.unique_owner(ent.name, cols, row)
            if owner is not None and owner != key:
                tx.sql_error = self._duplicate(ent, cols, row)
        store.put(ent.name, key, row)
        bucket = written.get(ent.name)
        if bucket is None:
            written[ent.name] = {key: key}
        else:
            bucket[key] = key

    def _duplicate(self, ent: EntityDef, cols: tuple[str, ...], row: Row) -> ShopwareError:
        values = [str(row.get(c)) for c in cols]
        if ent.name == "product" and cols == ("productNumber",):
            return fail(
                400,
                "CONTENT__DUPLICATE_PRODUCT_NUMBER",
                'Product with number "{{ number }}" already exists.',
                {"number": values[0]},
            )
        index = f"{ent.name}.uniq.{'__'.join(_snake(c) for c in cols)}"
        return sql_error(
            self.settings.unique_violation_status,
            "1062",
            f"SQLSTATE[23000]: Integrity constraint violation: 1062 Duplicate entry '{'-'.join(values)}' "
            f"for key '{index}'",
        )

    # -- reject rules (test hook) ---------------------------------------------------------------------------

    def _apply_reject_rules(
        self, ent: EntityDef, key: str, rec: dict[str, Any], path: str, tx: WriteTx
    ) -> None:
        for i, rule in enumerate(self.reject_rules):
            if rule.entity != ent.name:
                continue
            candidate = key if rule.match_field == "id" else rec.get(rule.match_field)
            if candidate is None and rule.match_field == "productNumber":
                candidate = (self.store.rows[ent.name].get(key) or {}).get("productNumber")
            if candidate == rule.match_value:
                tx.violations.append(
                    violation(
                        f"{path}/{rule.field}",
                        rule.message,
                        code=rule.code,
                        parameters={"{{ value }}": format_value(rec.get(rule.field))},
                    )
                )
                tx.rejected.add(i)

    def _consume_reject_rules(self, tx: WriteTx) -> None:
        if not tx.rejected:
            return
        kept = []
        for i, rule in enumerate(self.reject_rules):
            if i in tx.rejected and rule.remaining is not None:
                if rule.remaining <= 1:
                    continue
                rule = rule.model_copy(update={"remaining": rule.remaining - 1})
            kept.append(rule)
        self.reject_rules = kept

    # -- the "SQL" phase ----------------------------------------------------------------------------------

    def _check_foreign_keys(self, tx: WriteTx) -> None:
        rows = self.store.rows
        for entity, key, column, ref, value, on_delete in tx.fk_checks:
            if value in rows[ref]:
                continue
            if key is not None:
                row = rows[entity].get(key)
                if row is None or row.get(column) != value:
                    continue
            sql_column = "currency_id" if column == "price" else _snake(column)
            raise sql_error(
                self.settings.unknown_fk_status,
                "1452",
                "SQLSTATE[23000]: Integrity constraint violation: 1452 Cannot add or update a child row: "
                f"a foreign key constraint fails (`shopware`.`{entity}`, CONSTRAINT "
                f"`fk.{entity}.{sql_column}` FOREIGN KEY (`{sql_column}`) REFERENCES `{ref}` (`id`) "
                f"ON DELETE {_ON_DELETE_SQL[on_delete]} ON UPDATE CASCADE)",
            )

    # -- deletes ------------------------------------------------------------------------------------------

    def _criteria_keys(self, op: SyncOperation, language_id: str) -> list[str]:
        if self.settings.criteria_delete_mapping_only and not op.entity.is_mapping:
            raise _invalid_criteria(op.key)
        if not op.criteria:
            raise _invalid_criteria(op.key)
        criteria = parse_criteria(op.entity, {"filter": op.criteria}, max_limit=None, default_limit=None)
        if not criteria.filters:
            raise _invalid_criteria(op.key)
        result = self.searcher.search(
            op.entity, Criteria(filters=criteria.filters), ReadContext(language_id=language_id)
        )
        return result.keys

    def _delete_payload_keys(self, ent: EntityDef, payload: list[Any], tx: WriteTx) -> list[str]:
        table = self.store.rows[ent.name]
        keys = []
        for item in payload:
            values = []
            for col in ent.pk:
                value = item.get(col)
                if value is None:
                    raise fail(
                        500,
                        "FRAMEWORK__INCONSISTENT_PRIMARY_KEY",
                        "Primary key field {{ entity }}::{{ field }} not found in payload or command queue",
                        {"entity": ent.name, "field": col},
                    )
                if not is_uuid(value):
                    raise fail(
                        400,
                        "FRAMEWORK__INVALID_UUID",
                        "Value is not a valid UUID: {{ input }}",
                        {"input": value},
                    )
                values.append(value)
            key = "-".join(values)
            if key in table:
                keys.append(key)
            else:
                pk: PK = {col: v for col, v in zip(ent.pk, values, strict=True)} if ent.is_mapping else key
                tx.mark(tx.not_found, ent.name, key, pk)
        return keys

    def _delete_keys(self, ent: EntityDef, keys: list[str], tx: WriteTx) -> None:
        """Delete with the DAL cascade / set-null / restrict semantics, computed before removing anything."""
        store = self.store
        closure: dict[tuple[str, str], None] = {}
        set_null: list[tuple[str, str, str]] = []
        restricted: list[tuple[str, str]] = []
        stack = [(ent.name, k) for k in keys if k in store.rows[ent.name]]
        while stack:
            entity, key = stack.pop()
            if (entity, key) in closure:
                continue
            closure[(entity, key)] = None
            for src, fd in SCHEMA[entity].incoming:
                for src_key in store.referencing(src, fd.name, key):
                    if fd.on_delete == "cascade":
                        stack.append((src, src_key))
                    elif fd.on_delete == "set_null":
                        set_null.append((src, src_key, fd.name))
                    else:
                        restricted.append((src, src_key))
        usages: dict[str, int] = {}
        for src, src_key in restricted:
            if (src, src_key) not in closure:
                usages[src] = usages.get(src, 0) + 1
        if usages:
            usage_text = ", ".join(f"{name} ({count})" for name, count in usages.items())
            raise fail(
                400,
                "FRAMEWORK__DELETE_RESTRICTED",
                "The delete request for {{ entity }} was denied due to a conflict. "
                "The entity is currently in use by: {{ usagesString }}",
                {"entity": ent.name, "usagesString": usage_text},
            )
        for src, src_key, column in set_null:
            if (src, src_key) in closure:
                continue
            row = store.rows[src].get(src_key)
            if row is not None and row.get(column) is not None:
                store.put(src, src_key, {**row, column: None, "updatedAt": tx.now})
        for entity, key in closure:
            row = store.remove(entity, key)
            if row is not None:
                tx.mark(tx.deleted, entity, key, primary_key(SCHEMA[entity], key, row))

    # -- single CRUD writes (ApiController) ----------------------------------------------------------------

    def write_one(self, ent: EntityDef, payload: Any, key: str | None, language_id: str) -> str:
        """``POST /api/{entity}`` (``key`` None) or ``PATCH /api/{entity}/{key}``; returns the written key."""
        if not isinstance(payload, dict):
            raise fail_plain(
                400,
                "Only single write operations are supported. Please send the entities one by one or use the "
                "/sync api endpoint.",
            )
        if ent.is_mapping:
            raise fail(
                400,
                "FRAMEWORK__UNSUPPORTED_OPERATION_EXCEPTION",
                "Unsupported {{ operation }} operation.",
                {"operation": "write"},
            )
        if key is not None:
            payload = {**payload, "id": key}
        target = payload.get("id")
        exists = isinstance(target, str) and target in self.store.rows[ent.name]
        if key is None and exists:
            raise _write_type_intend(ent, "InsertCommand", "UpdateCommand")
        if key is not None and not exists:
            raise _write_type_intend(ent, "UpdateCommand", "InsertCommand")
        tx = WriteTx(language_id, now_iso())
        written: list[str] = []

        def work() -> None:
            result = self._upsert(ent, payload, "/0", tx, {}, None)
            if result is not None:
                written.append(result)

        self._transaction(tx, work)
        return written[0]

    def delete_one(self, ent: EntityDef, key: str) -> None:
        if key not in self.store.rows[ent.name]:
            raise resource_not_found(ent.name, key)
        tx = WriteTx(SYSTEM_LANGUAGE_ID, now_iso())
        self._transaction(tx, lambda: self._delete_keys(ent, [key], tx))


def _criteria_of(op: dict[str, Any]) -> list[Any] | None:
    """Delete-by-filter: ``criteria`` (code since 2023) and ``filter`` (late-2024 changelog) both work;
    an empty list means no criteria, as ``SyncOperation::hasCriteria`` sees it."""
    found = [f for name in ("criteria", "filter") if isinstance(op.get(name), list) for f in op[name]]
    return found or None


def _invalid_sync(message: str) -> ShopwareError:
    return fail(400, "FRAMEWORK__INVALID_SYNC_OPERATION", message)


def _invalid_criteria(key: str) -> ShopwareError:
    return fail(
        400,
        "API_INVALID_SYNC_CRITERIA_EXCEPTION",
        f'Sync operation {key}, with action "delete", requires a criteria with at least one filter and can '
        "only be applied for mapping entities",
    )


def _write_type_intend(ent: EntityDef, expected: str, actual: str) -> ShopwareError:
    hint = " Hint: Use POST method to create new entities." if expected == "UpdateCommand" else ""
    return fail(
        400,
        "FRAMEWORK__WRITE_TYPE_INTEND_ERROR",
        'Expected command for "{{ definition }}" to be "{{ expectedClass }}". (Got: {{ actualClass }})'
        + hint,
        {
            "definition": ent.name,
            "expectedClass": _COMMAND_NS + expected,
            "actualClass": _COMMAND_NS + actual,
        },
    )
