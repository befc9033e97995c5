"""Pagination and filtering shared by every list route: the query parameters and the
page shape (the queries themselves are ``store.listing``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from store.listing import Paging, TimeRange, Where, fetch_page

__all__ = ["Page", "Paging", "PagingDep", "TimeRange", "TimeRangeDep", "Where", "fetch_page"]

T = TypeVar("T")
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def paging(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="rows to skip")] = 0,
) -> Paging:
    return Paging(limit=limit, offset=offset)


PagingDep = Annotated[Paging, Depends(paging)]


def time_range(
    start: Annotated[datetime | None, Query(alias="from", description="inclusive")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="exclusive")] = None,
) -> TimeRange:
    return TimeRange(start=start, end=end)


TimeRangeDep = Annotated[TimeRange, Depends(time_range)]
