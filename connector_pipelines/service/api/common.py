"""What the API routers share: paging, and the library's errors as answers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, ValidationError

from connector_pipelines import errors
from connector_pipelines.service.dagster import DagsterRequestError, DagsterUnavailableError
from connector_pipelines.service.problems import ApiError
from connector_pipelines.store.repositories import TenantNotRegisteredError
from connector_pipelines.tenants.crypto import DecryptionError, KeyConfigError

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None


@dataclass(frozen=True)
class Paging:
    limit: int
    offset: int

    def page(self, items: Sequence[T], total: int) -> Page[T]:
        """``items``: this page's (already sliced)."""
        following = self.offset + len(items)
        return Page[T](
            items=list(items),
            total=total,
            limit=self.limit,
            offset=self.offset,
            next_offset=following if following < total else None,
        )

    def slice(self, items: Sequence[T]) -> Page[T]:
        """A page of ``items``, the whole list."""
        return self.page(items[self.offset : self.offset + self.limit], len(items))


def _paging(
    limit: Annotated[int, Query(ge=1, le=500, description="items per page")] = 50,
    offset: Annotated[int, Query(ge=0, description="items skipped")] = 0,
) -> Paging:
    return Paging(limit, offset)


PageParams = Annotated[Paging, Depends(_paging)]


def problems(exc: ValidationError) -> str:
    """Where and what, never the value (it may be a credential)."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors())


@contextmanager
def answers() -> Iterator[None]:
    """The library's expected failures as answers; their messages name no secret."""
    from connector_pipelines.tenants.registry import TenantError, UnknownTenantError

    try:
        yield
    except (UnknownTenantError, TenantNotRegisteredError) as exc:
        raise ApiError(404, str(exc)) from None
    except TenantError as exc:
        raise ApiError(422, str(exc)) from None
    except (KeyConfigError, DecryptionError) as exc:
        raise ApiError(503, str(exc), code="misconfigured") from None
    except DagsterUnavailableError as exc:
        raise ApiError(503, str(exc)) from None
    except DagsterRequestError as exc:
        raise ApiError(502, str(exc)) from None
    except errors.ConnectorError as exc:
        # An external system's refusal (bad credentials, an API error), already worded for a person.
        raise ApiError(502, str(exc)) from None
