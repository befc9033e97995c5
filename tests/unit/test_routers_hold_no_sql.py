"""No module in api/routers/ executes SQL: routers parse, authorise, call a use case or a
store query and shape the answer (DESIGN.md §7). An AST check, so a comment or a
docstring that mentions SQL is fine and a query hidden in a helper call is not."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROUTERS = Path(__file__).resolve().parents[2] / "api" / "routers"

DB_METHODS = frozenset({"execute", "executemany", "copy", "cursor", "fetchone", "fetchall",
                        "fetchmany", "transaction"})
# Helpers that run a query the caller writes.
RAW_QUERY_HELPERS = frozenset({"fetch_one", "fetch_all", "fetch_by_id", "fetch_page", "Where",
                               "by_id"})
DB_MODULES = ("psycopg", "psycopg_pool", "store.sql", "store.listing")
SQL_TEXT = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|ALTER|DROP)\s", re.I)


def sql_in(source: str) -> list[str]:
    """What in ``source`` runs SQL, one line per finding (empty: none)."""
    found: list[str] = []
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            found += [f"{where}: import {a.name}" for a in node.names
                      if a.name.startswith(DB_MODULES)]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith(DB_MODULES):
                found.append(f"{where}: from {node.module} import ...")
            found += [f"{where}: imports {a.name}" for a in node.names
                      if a.name in RAW_QUERY_HELPERS]
        elif isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if isinstance(fn, ast.Attribute) and name in DB_METHODS:
                found.append(f"{where}: .{name}(...)")
            elif name in RAW_QUERY_HELPERS:
                found.append(f"{where}: {name}(...)")
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in docstrings and SQL_TEXT.match(node.value)):
            found.append(f"{where}: SQL text {node.value.strip()[:40]!r}")
    return found


@pytest.mark.parametrize(
    "router", sorted(p.name for p in ROUTERS.glob("*.py"))
)
def test_router_executes_no_sql(router: str) -> None:
    assert sql_in((ROUTERS / router).read_text()) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "import psycopg",
        "from psycopg.rows import dict_row",
        "async def f(conn):\n    await conn.execute('UPDATE x SET y = 1')",
        "async def f(conn):\n    async with conn.cursor() as cur:\n        pass",
        "async def f(conn):\n    async with conn.transaction():\n        pass",
        "async def f(conn):\n    await conn.copy('COPY x FROM STDIN')",
        "from api.deps import fetch_one",
        "async def f(conn):\n    return await deps.fetch_all(conn, q)",
        "from store.sql import Conn",
        "Q = 'SELECT * FROM work_orders'",
        "async def f(conn):\n    await run(conn, '''\n  insert into t values (1)''')",
    ],
)
def test_the_check_finds_sql(snippet: str) -> None:
    assert sql_in(snippet), snippet


def test_the_check_passes_a_router_shape() -> None:
    source = '''"""SELECT in a docstring is prose."""
from services import catalog
from store import customers

async def get(conn, ident):
    """UPDATE: also prose."""
    return found(await customers.get(conn, ident), "customer", ident)

async def create(conn, p, body):
    return await catalog.create_customer(conn, p, body.model_dump())
'''
    assert sql_in(source) == []
