"""Pagination and filtering shared by every list route."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from api.deps import Conn, fetch_all, fetch_one

T = TypeVar("T")
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class Paging:
    limit: int
    offset: int


def paging(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="rows to skip")] = 0,
) -> Paging:
    return Paging(limit=limit, offset=offset)


PagingDep = Annotated[Paging, Depends(paging)]


@dataclass(frozen=True)
class TimeRange:
    start: datetime | None
    end: datetime | None


def time_range(
    start: Annotated[datetime | None, Query(alias="from", description="inclusive")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="exclusive")] = None,
) -> TimeRange:
    return TimeRange(start=start, end=end)


TimeRangeDep = Annotated[TimeRange, Depends(time_range)]


@dataclass
class Where:
    """WHERE clauses built from optional filters; column names are code, never input."""

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> Where:
        self.clauses.append(clause)
        self.params.extend(params)
        return self

    def eq(self, column: str, value: Any) -> Where:
        if value is not None:
            self.add(f"{column} = %s", value)
        return self

    def within(self, column: str, rng: TimeRange) -> Where:
        if rng.start is not None:
            self.add(f"{column} >= %s", rng.start)
        if rng.end is not None:
            self.add(f"{column} < %s", rng.end)
        return self

    @property
    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


async def fetch_page(
    conn: Conn, select: str, where: Where, order_by: str, page: Paging
) -> dict[str, Any]:
    """One page of ``select`` (a query without WHERE) plus the total row count."""
    sql = select + where.sql
    total = await fetch_one(conn, f"SELECT count(*) AS n FROM ({sql}) AS q", where.params)  # noqa: S608  # nosec B608 - select is ours, values are parameters
    items = await fetch_all(
        conn,
        f"{sql} ORDER BY {order_by} LIMIT %s OFFSET %s",
        [*where.params, page.limit, page.offset],
    )
    return {
        "items": items,
        "total": int(total["n"]) if total else 0,
        "limit": page.limit,
        "offset": page.offset,
    }
