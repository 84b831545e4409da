"""Shopware 6 Admin API client (6.5+): client-credentials token, criteria search, the sync API with typed
errors, and a batched writer that isolates the records Shopware rejects.

Built from ``contracts/shopware6.md``. A sync request is one transaction: one bad record fails all of it.
:meth:`Shopware6Client.sync_units` therefore packs whole *units* (everything that belongs to one source
record) into requests, drops the units a 400's pointers name and retries the rest, and bisects when the
answer names no record (e.g. the 500 with SQL text Shopware gives for an unknown foreign key).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from http import HTTPStatus
from typing import Annotated, Generic, Literal, TypeVar, Unpack, overload

import httpx
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    SecretStr,
    ValidationError,
    model_validator,
)

from connector_pipelines import errors
from connector_pipelines.clients.http import ApiClient, ApiError, AuthError, ClientOptions

log = logging.getLogger(__name__)

DEFAULT_CURRENCY_ID = "b7d2554b0ce847cd82f3ac9bd1c0dfca"
SYSTEM_LANGUAGE_ID = "2fbb5fe2e29a4d70aa5854ce7ce3e20b"
LIVE_VERSION_ID = "0fa91ce3e96a4bc2be4bd9ce752c3425"
MAX_LIMIT = 500  # shopware.api.max_limit default; larger limits are a 400

OAUTH_PATH = "/api/oauth/token"
SYNC_PATH = "/api/_action/sync"
_RENEW_BEFORE_S = 30.0
_ENTITY = re.compile(r"^[a-z][a-z0-9_]*$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
# An integrity-constraint violation (unknown foreign key) is answered with a 500 carrying the SQL error; it
# fails the same way every time. Deadlocks and lock timeouts (SQLSTATE 40001, 1205) stay retryable.
_INTEGRITY_MARKERS = (b"sqlstate[23", b"integrity constraint violation", b"foreign key constraint")
_SNIFF_BYTES = 65536
_REASON_PHRASES = frozenset(status.phrase for status in HTTPStatus)


def shopware_id(*parts: str) -> str:
    """Deterministic Shopware id: md5 hex of the parts joined with ``:`` (contract §9), e.g.
    ``shopware_id("plenty", "variation", "1000")``; one part gives Shopware's ``Uuid::fromStringToHex``."""
    if not parts or not all(parts):
        raise ValueError("shopware_id needs at least one non-empty part")
    return hashlib.md5(":".join(parts).encode(), usedforsecurity=False).hexdigest()


def entity_route(entity: str) -> str:
    """DAL entity name (``product_visibility``) -> route segment (``product-visibility``)."""
    if not _ENTITY.match(entity):
        raise ValueError(f"not a DAL entity name: {entity!r}")
    return entity.replace("_", "-")


# --- criteria ----------------------------------------------------------------------------------------------

FilterType = Literal[
    "equals",
    "equalsAny",
    "equalsAll",
    "contains",
    "prefix",
    "suffix",
    "range",
    "since",
    "until",
    "multi",
    "and",
    "or",
    "not",
    "nand",
    "nor",
]
_LEAF_FILTERS = frozenset({"equals", "equalsAny", "equalsAll", "contains", "prefix", "suffix", "range"})
Scalar = str | int | float | bool | None


class RangeParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gte: int | float | str | None = None
    lte: int | float | str | None = None
    gt: int | float | str | None = None
    lt: int | float | str | None = None


class Filter(BaseModel):
    """A DAL filter. Serialised with only the keys that were set, so ``equals(field, None)`` sends
    ``"value": null`` (match NULL) while unset keys are left out."""

    model_config = ConfigDict(extra="forbid")

    type: FilterType
    field: str | None = None
    value: Scalar | list[Scalar] = None
    parameters: RangeParameters | None = None
    operator: Literal["AND", "OR", "and", "or"] | None = None
    queries: list[Filter] | None = None

    @model_validator(mode="after")
    def _shape(self) -> Filter:
        if self.type in _LEAF_FILTERS and not self.field:
            raise ValueError(f"a {self.type!r} filter needs a field")
        if self.type in ("multi", "not") and not self.queries:
            raise ValueError(f"a {self.type!r} filter needs queries")
        return self

    @classmethod
    def equals(cls, field: str, value: Scalar) -> Filter:
        return cls(type="equals", field=field, value=value)

    @classmethod
    def equals_any(cls, field: str, values: Sequence[Scalar]) -> Filter:
        return cls(type="equalsAny", field=field, value=list(values))

    @classmethod
    def contains(cls, field: str, value: str) -> Filter:
        return cls(type="contains", field=field, value=value)

    @classmethod
    def range(cls, field: str, parameters: RangeParameters) -> Filter:
        return cls(type="range", field=field, parameters=parameters)

    @classmethod
    def multi(cls, operator: Literal["AND", "OR"], queries: Sequence[Filter]) -> Filter:
        return cls(type="multi", operator=operator, queries=list(queries))

    @classmethod
    def not_(cls, queries: Sequence[Filter], operator: Literal["AND", "OR"] = "AND") -> Filter:
        return cls(type="not", operator=operator, queries=list(queries))


class Sort(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_by_name=True)

    field: str
    order: Literal["ASC", "DESC"] = "ASC"
    natural_sorting: bool = Field(False, alias="naturalSorting")


class TotalCountMode(IntEnum):
    NONE = 0
    EXACT = 1
    NEXT_PAGES = 2


class Criteria(BaseModel):
    """Search criteria (``RequestCriteriaBuilder``). Only keys that were set are sent."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True)

    ids: list[str] | None = None
    page: int | None = Field(None, ge=1)
    limit: int | None = Field(None, ge=1, le=MAX_LIMIT)
    filter: list[Filter] | None = None
    post_filter: list[Filter] | None = Field(None, alias="post-filter")
    sort: list[Sort] | None = None
    term: str | None = None
    associations: dict[str, Criteria] | None = None
    includes: dict[str, list[str]] | None = None
    fields: list[str] | None = None
    grouping: list[str] | None = None
    total_count_mode: TotalCountMode | None = Field(None, alias="total-count-mode")

    def to_body(self) -> dict[str, JsonValue]:
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


# --- answers -----------------------------------------------------------------------------------------------


def _empty_list_to_dict(value: object) -> object:
    # PHP serialises an empty associative array as [].
    return {} if value == [] else value


class Entity(BaseModel):
    """Any entity as the Admin API returns it (``Accept: application/json``): all fields kept."""

    model_config = ConfigDict(extra="allow", validate_by_name=True)

    id: str | None = None
    api_alias: str | None = Field(None, alias="apiAlias")


EntityT = TypeVar("EntityT", bound=BaseModel)


class SearchResult(BaseModel, Generic[EntityT]):
    total: int
    data: list[EntityT]
    aggregations: Annotated[dict[str, JsonValue], BeforeValidator(_empty_list_to_dict)] = {}


PrimaryKey = str | dict[str, str]
"""An id, or the key object of a mapping/translation entity (``{"productId": ..., "categoryId": ...}``)."""


class SearchIdsResult(BaseModel):
    total: int
    data: list[PrimaryKey]


EntityKeys = Annotated[dict[str, list[PrimaryKey]], BeforeValidator(_empty_list_to_dict)]


class SyncResult(BaseModel):
    """Sync answer; every map is keyed by entity name (not by operation key)."""

    model_config = ConfigDict(validate_by_name=True)

    data: EntityKeys = {}
    not_found: EntityKeys = Field({}, alias="notFound")
    deleted: EntityKeys = {}

    def merged(self, other: SyncResult) -> SyncResult:
        def join(
            a: dict[str, list[PrimaryKey]], b: dict[str, list[PrimaryKey]]
        ) -> dict[str, list[PrimaryKey]]:
            out = {k: list(v) for k, v in a.items()}
            for k, v in b.items():
                out.setdefault(k, []).extend(v)
            return out

        return SyncResult(
            data=join(self.data, other.data),
            not_found=join(self.not_found, other.not_found),
            deleted=join(self.deleted, other.deleted),
        )


def _number_to_str(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class SyncError(BaseModel):
    """One entry of a Shopware ``errors`` list; ``pointer`` is ``/<operationKey>/<recordIndex>/<field…>``
    for write violations and absent for errors about the whole request."""

    model_config = ConfigDict(extra="ignore")

    code: Annotated[str, BeforeValidator(_number_to_str)] = ""
    status: Annotated[str, BeforeValidator(_number_to_str)] = ""
    title: str | None = None
    detail: str | None = None
    template: str | None = None
    pointer: str | None = None
    parameters: dict[str, JsonValue] = {}

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        flat = dict(value)
        source = flat.pop("source", None)
        if isinstance(source, dict) and "pointer" not in flat:
            flat["pointer"] = source.get("pointer")
        meta = flat.pop("meta", None)
        if isinstance(meta, dict) and isinstance(meta.get("parameters"), dict) and "parameters" not in flat:
            flat["parameters"] = meta["parameters"]
        return flat

    def _pointer_parts(self) -> list[str]:
        return self.pointer.split("/")[1:] if self.pointer and self.pointer.startswith("/") else []

    @property
    def operation_key(self) -> str | None:
        parts = self._pointer_parts()
        return parts[0] if parts else None

    @property
    def record_index(self) -> int | None:
        parts = self._pointer_parts()
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None

    @property
    def field(self) -> str | None:
        """The field path below the record, e.g. ``stock`` or ``translations/<languageId>/name``."""
        return "/".join(self._pointer_parts()[2:]) or None

    def describe(self) -> str:
        # A title that is only the HTTP reason phrase adds nothing; OAuth titles carry the reason.
        title = self.title if self.title and self.title not in _REASON_PHRASES else None
        text = ": ".join(t for t in (title, self.detail) if t) or self.title or "error"
        where = f" at {self.pointer}" if self.pointer else ""
        return f"{self.code or self.status}{where}: {text}"


class _ErrorBody(BaseModel):
    errors: list[SyncError] = []


class ShopwareApiError(ApiError):
    """An error answer of the Admin API with its parsed ``errors``."""

    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        detail: str,
        errors: list[SyncError],
        *,
        body: bytes = b"",
    ) -> None:
        super().__init__(Shopware6Client.system, method, path, status, detail, body=body)
        self.errors = errors


class SyncRejected(ShopwareApiError, errors.PermanentError):
    """A sync request Shopware refused as a whole: a 400 (validation; pointers name the records), a 404
    for an unresolvable FK resolver (6.6.0 changelog), or the deterministic 500 of an integrity-constraint
    violation (no pointers). Nothing of it was written."""

    system: str  # always known here (ApiError's), though optional for other permanent errors


# --- sync input and report ---------------------------------------------------------------------------------


class SyncOperation(BaseModel):
    """One sync operation: ``upsert`` records, or ``delete`` by primary keys and/or by ``criteria``.
    ``key`` is the operation key in the request (and the first segment of error pointers); when omitted,
    :meth:`Shopware6Client.sync` derives ``<action>-<entity>``."""

    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(None, min_length=1, pattern=r"^[^/]+$")
    entity: str = Field(pattern=_ENTITY.pattern)
    action: Literal["upsert", "delete"]
    payload: list[dict[str, JsonValue]] = []
    criteria: list[Filter] | None = None

    @model_validator(mode="after")
    def _shape(self) -> SyncOperation:
        if self.action == "upsert" and (not self.payload or self.criteria is not None):
            raise ValueError("an upsert needs a non-empty payload and no criteria")
        if self.action == "delete" and not self.payload and not self.criteria:
            raise ValueError("a delete needs a payload of keys or criteria")
        return self

    @property
    def record_count(self) -> int:
        return len(self.payload) or 1

    def body(self) -> dict[str, JsonValue]:
        out: dict[str, JsonValue] = {"entity": self.entity, "action": self.action}
        if self.payload or self.criteria is None:
            out["payload"] = list(self.payload)
        if self.criteria is not None:
            out["criteria"] = [f.model_dump(mode="json", exclude_unset=True) for f in self.criteria]
        return out


class SyncUnit(BaseModel):
    """Everything that belongs to one source record (a parent product with its variants, the visibility
    deletes, ...): written together, rejected together."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1)
    operations: list[SyncOperation] = Field(min_length=1)

    @property
    def record_count(self) -> int:
        return sum(op.record_count for op in self.operations)


class FailedUnit(BaseModel):
    key: str
    status: int
    errors: list[SyncError]


class SyncReport(BaseModel):
    written: list[str] = []
    failed: list[FailedUnit] = []
    requests: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed


class _TokenAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    access_token: SecretStr
    expires_in: float = Field(600.0, gt=0)


@dataclass
class _Request:
    """Units merged into one sync request, and which unit owns each record of each operation."""

    operations: list[SyncOperation]
    owners: dict[str, list[str]] = field(default_factory=dict)

    def owner(self, error: SyncError) -> str | None:
        owners = self.owners.get(error.operation_key or "")
        if not owners:
            return None
        if len(owners) == 1:
            return owners[0]
        index = error.record_index
        return owners[index] if index is not None and index < len(owners) else None


# --- the client --------------------------------------------------------------------------------------------

IndexingBehavior = Literal["use-queue-indexing", "disable-indexing"]


class Shopware6Client(ApiClient):
    """Client of one Shopware 6 shop via an integration (client-credentials grant). The token is reused
    for its ``expires_in`` lifetime and fetched again 30 s before expiry or after a 401."""

    system = "shopware6"

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str | SecretStr,
        *,
        indexing_behavior: IndexingBehavior | None = "use-queue-indexing",
        skip_trigger_flow: bool = True,
        **options: Unpack[ClientOptions],
    ) -> None:
        _check_base_url(base_url)
        super().__init__(base_url, **options)
        self._client_id = client_id
        self._client_secret = (
            client_secret if isinstance(client_secret, SecretStr) else SecretStr(client_secret)
        )
        self.add_secret(self._client_secret)
        self.indexing_behavior = indexing_behavior
        self.skip_trigger_flow = skip_trigger_flow
        self._token: SecretStr | None = None
        self._renew_at = 0.0

    # --- authentication --------------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        if self._token is None or self.clock() >= self._renew_at:
            self._fetch_token()
        assert self._token is not None
        return {"Authorization": f"Bearer {self._token.get_secret_value()}"}

    def reauthenticate(self) -> None:
        self._fetch_token()

    def _fetch_token(self) -> None:
        self._token = None
        response = self.request(
            "POST",
            OAUTH_PATH,
            json={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret.get_secret_value(),
            },
            authenticated=False,
        )
        try:
            answer = _TokenAnswer.model_validate_json(response.content)
        except ValidationError:
            # The pydantic message would quote the body; say only what is missing.
            raise AuthError(
                self.system,
                "POST",
                OAUTH_PATH,
                response.status_code,
                "token answer has no usable access_token",
            ) from None
        self.add_secret(answer.access_token)
        self._token = answer.access_token
        self._renew_at = self.clock() + answer.expires_in - min(_RENEW_BEFORE_S, answer.expires_in / 2)

    # --- errors ------------------------------------------------------------------------------------------

    def is_retryable(self, response: httpx.Response) -> bool:
        return super().is_retryable(response) and not _is_integrity_violation(response)

    def describe_error(self, response: httpx.Response) -> str:
        errors = _parse_errors(response.content)
        if not errors:
            return super().describe_error(response)
        more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
        return "; ".join(e.describe() for e in errors[:3]) + more

    def make_error(self, method: str, path: str, response: httpx.Response, detail: str) -> ApiError:
        status = response.status_code
        if path == OAUTH_PATH and status in (400, 401):
            return AuthError(self.system, method, path, status, detail)
        if status in (401, 403):
            return super().make_error(method, path, response, detail)
        body = self.redact_bytes(response.content)
        errors = _parse_errors(body)
        if path == SYNC_PATH and (
            status == 400 or _is_integrity_violation(response) or _is_unresolved_reference(status, errors)
        ):
            return SyncRejected(method, path, status, detail, errors, body=body)
        return ShopwareApiError(method, path, status, detail, errors, body=body)

    # --- search ------------------------------------------------------------------------------------------

    @overload
    def search(self, entity: str, criteria: Criteria | None = None) -> SearchResult[Entity]: ...

    @overload
    def search(
        self, entity: str, criteria: Criteria | None = None, *, model: type[EntityT]
    ) -> SearchResult[EntityT]: ...

    def search(
        self,
        entity: str,
        criteria: Criteria | None = None,
        *,
        model: type[EntityT] = Entity,  # type: ignore[assignment]  # the overloads type the default
    ) -> SearchResult[EntityT]:
        """``POST /api/search/<entity-with-hyphens>``; records validated into ``model``."""
        path = f"/api/search/{entity_route(entity)}"
        body = (criteria or Criteria()).to_body()
        response = self.request("POST", path, json=body)
        try:
            return SearchResult[model].model_validate_json(response.content)  # type: ignore[valid-type]
        except ValidationError as exc:
            raise ApiError(self.system, "POST", path, response.status_code, _fields(exc)) from None

    @overload
    def iter_search(
        self, entity: str, criteria: Criteria | None = None, *, page_size: int = MAX_LIMIT
    ) -> Iterator[Entity]: ...

    @overload
    def iter_search(
        self,
        entity: str,
        criteria: Criteria | None = None,
        *,
        page_size: int = MAX_LIMIT,
        model: type[EntityT],
    ) -> Iterator[EntityT]: ...

    def iter_search(
        self,
        entity: str,
        criteria: Criteria | None = None,
        *,
        page_size: int = MAX_LIMIT,
        model: type[BaseModel] = Entity,
    ) -> Iterator[BaseModel]:
        """Every match, page by page (``page``/``limit`` of ``criteria`` are replaced). The first page asks
        for the exact total; iteration stops at that total or at a short page. Without a ``sort`` the pages
        are ordered by ``id`` so that offsets are stable."""
        if not 1 <= page_size <= MAX_LIMIT:
            raise ValueError(f"page_size must be between 1 and {MAX_LIMIT}")
        base = criteria or Criteria()
        if base.sort is None:
            base = base.model_copy(update={"sort": [Sort(field="id", order="ASC")]})
        page = 1
        seen = 0
        total: int | None = None
        while True:
            update: dict[str, object] = {"page": page, "limit": page_size}
            update["total_count_mode"] = TotalCountMode.EXACT if page == 1 else TotalCountMode.NONE
            result = self.search(entity, base.model_copy(update=update), model=model)
            if total is None:
                total = result.total
            yield from result.data
            seen += len(result.data)
            if len(result.data) < page_size or seen >= total:
                return
            page += 1

    def search_ids(self, entity: str, criteria: Criteria | None = None) -> SearchIdsResult:
        """``POST /api/search-ids/<entity>``: ids only, the cheapest existence test."""
        path = f"/api/search-ids/{entity_route(entity)}"
        response = self.request("POST", path, json=(criteria or Criteria()).to_body())
        try:
            return SearchIdsResult.model_validate_json(response.content)
        except ValidationError as exc:
            raise ApiError(self.system, "POST", path, response.status_code, _fields(exc)) from None

    # --- writing -----------------------------------------------------------------------------------------

    def sync(self, operations: Sequence[SyncOperation]) -> SyncResult:
        """One ``POST /api/_action/sync`` (one transaction). Raises :class:`SyncRejected` when Shopware
        refuses it; operations without a key get ``<action>-<entity>`` (``-2``, ``-3`` when repeated)."""
        if not operations:
            return SyncResult()
        body: dict[str, JsonValue] = {}
        for op in operations:
            key = op.key
            if key is None:
                key = f"{op.action}-{op.entity}"
                n = 1
                while key in body:
                    n += 1
                    key = f"{op.action}-{op.entity}-{n}"
            elif key in body:
                raise ValueError(f"duplicate sync operation key {key!r}")
            body[key] = op.body()
        headers = {}
        if self.skip_trigger_flow:
            headers["sw-skip-trigger-flow"] = "1"
        # Queue indexing is "not supported in bulk delete" (shopware-api-client), so only for upserts.
        if self.indexing_behavior and any(op.action == "upsert" for op in operations):
            headers["indexing-behavior"] = self.indexing_behavior
        response = self.request("POST", SYNC_PATH, json=body, headers=headers)
        try:
            return SyncResult.model_validate_json(response.content)
        except ValidationError as exc:
            raise ApiError(self.system, "POST", SYNC_PATH, response.status_code, _fields(exc)) from None

    def sync_units(
        self, units: Sequence[SyncUnit], *, max_records_per_request: int = MAX_LIMIT
    ) -> SyncReport:
        """Write ``units`` in as few requests as possible, isolating the ones Shopware rejects.

        Units are packed in order into requests of at most ``max_records_per_request`` records (a larger
        unit goes alone). Within a request, operations with the same entity and action are merged into one
        operation keyed ``<action>-<entity>`` (delete-by-criteria operations keep one key each, since
        criteria lists cannot be merged) in order of first appearance, so each error pointer
        ``/<key>/<index>`` maps back to its unit. On :class:`SyncRejected`: units named by pointers fail with
        their errors and the rest is retried; without usable pointers the request is bisected down to
        single units. Other errors (auth, transient after retries) propagate."""
        if max_records_per_request < 1:
            raise ValueError("max_records_per_request must be positive")
        keys = [u.key for u in units]
        if len(set(keys)) != len(keys):
            raise ValueError("sync unit keys must be unique")
        report = SyncReport()
        queue = deque(_pack(units, max_records_per_request))
        while queue:
            batch = queue.popleft()
            request = _merge(batch)
            report.requests += 1
            try:
                self.sync(request.operations)
            except SyncRejected as exc:
                named: dict[str, list[SyncError]] = {}
                for error in exc.errors:
                    owner = request.owner(error)
                    if owner is not None:
                        named.setdefault(owner, []).append(error)
                if named:
                    for unit in batch:
                        if unit.key in named:
                            _fail(report, unit.key, exc.status or 400, named[unit.key])
                    rest = [u for u in batch if u.key not in named]
                    if rest:
                        queue.appendleft(rest)
                elif len(batch) == 1:
                    _fail(report, batch[0].key, exc.status or 400, exc.errors)
                else:
                    middle = len(batch) // 2
                    queue.appendleft(batch[middle:])
                    queue.appendleft(batch[:middle])
                continue
            report.written.extend(u.key for u in batch)
        return report

    def delete(self, entity: str, ids: Iterable[str], *, chunk_size: int = MAX_LIMIT) -> SyncResult:
        """Delete by id through sync delete operations of at most ``chunk_size`` ids each. Missing ids
        are not an error; they come back in ``not_found``."""
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        result = SyncResult()
        chunk: list[str] = []
        for entity_id in ids:
            chunk.append(entity_id)
            if len(chunk) == chunk_size:
                result = result.merged(self._delete_chunk(entity, chunk))
                chunk = []
        if chunk:
            result = result.merged(self._delete_chunk(entity, chunk))
        return result

    def _delete_chunk(self, entity: str, ids: list[str]) -> SyncResult:
        payload: list[dict[str, JsonValue]] = [{"id": i} for i in ids]
        return self.sync([SyncOperation(entity=entity, action="delete", payload=payload)])

    def upload_media_from_url(self, media_id: str, url: str, file_name: str, extension: str) -> None:
        """Let Shopware download ``url`` into the existing media entity ``media_id``
        (``file_name`` without extension). A name used by another media is a 400
        ``CONTENT__MEDIA_DUPLICATED_FILE_NAME``."""
        if not _HEX32.match(media_id):
            raise ValueError(f"media id must be 32 lowercase hex characters: {media_id!r}")
        self.request(
            "POST",
            f"/api/_action/media/{media_id}/upload",
            params={"extension": extension, "fileName": file_name},
            json={"url": url},
        )


# --- helpers -----------------------------------------------------------------------------------------------


def _check_base_url(base_url: str) -> None:
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("base_url must be an http(s) URL of the shop")
    if url.userinfo:
        raise ValueError("base_url must not carry credentials")
    if url.path.rstrip("/").endswith("/api"):
        raise ValueError(f"base_url must not end in /api, the client adds it: {url.host}{url.path}")


def _is_integrity_violation(response: httpx.Response) -> bool:
    if response.status_code != 500:
        return False
    text = response.content[:_SNIFF_BYTES].lower()
    return any(marker in text for marker in _INTEGRITY_MARKERS)


def _is_unresolved_reference(status: int, errors: list[SyncError]) -> bool:
    # Shopware 6.6.0's changelog answers an unresolvable FK resolver with 404 (the code says 400); a 404
    # without such an error means a wrong URL, which no record can be blamed for.
    return status == 404 and any(
        "resolve" in f"{e.code} {e.detail}".lower() or "foreign key" in f"{e.detail}".lower() for e in errors
    )


def _parse_errors(content: bytes) -> list[SyncError]:
    try:
        return _ErrorBody.model_validate_json(content).errors
    except ValidationError:
        return []


def _pack(units: Sequence[SyncUnit], max_records: int) -> Iterator[list[SyncUnit]]:
    batch: list[SyncUnit] = []
    size = 0
    for unit in units:
        if batch and size + unit.record_count > max_records:
            yield batch
            batch, size = [], 0
        batch.append(unit)
        size += unit.record_count
    if batch:
        yield batch


def _merge(batch: Sequence[SyncUnit]) -> _Request:
    merged: dict[str, SyncOperation] = {}
    owners: dict[str, list[str]] = {}
    for unit in batch:
        for op in unit.operations:
            if op.criteria is not None:
                key = f"{op.action}-{op.entity}-criteria-{len(owners)}"
                merged[key] = op.model_copy(update={"key": key})
                owners[key] = [unit.key]
                continue
            key = f"{op.action}-{op.entity}"
            if key not in merged:
                merged[key] = SyncOperation.model_construct(
                    key=key, entity=op.entity, action=op.action, payload=[]
                )
                owners[key] = []
            merged[key].payload.extend(op.payload)
            owners[key].extend([unit.key] * len(op.payload))
    return _Request(operations=list(merged.values()), owners=owners)


def _fail(report: SyncReport, key: str, status: int, errors: list[SyncError]) -> None:
    first = errors[0].describe() if errors else "no error detail"
    log.warning("shopware6 rejected unit %s: %s", key, first)
    report.failed.append(FailedUnit(key=key, status=status, errors=errors))


def _fields(exc: ValidationError) -> str:
    return "unexpected answer: " + "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors(include_url=False)
    )
