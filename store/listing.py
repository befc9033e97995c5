"""Filtered, paginated reads: the WHERE builder and the page query every list uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from store.sql import Conn, fetch_all, fetch_one


@dataclass(frozen=True)
class Paging:
    limit: int
    offset: int


@dataclass(frozen=True)
class TimeRange:
    start: datetime | None
    end: datetime | None


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
