"""One place that maps domain errors and bad input to HTTP answers (DESIGN.md §7).

Every error body has the same shape: ``{"error": {"status", "message", ...}}``.
"""

from __future__ import annotations

import logging
import re

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.egress import Refused
from models.workorder import DomainError

log = logging.getLogger("fieldflow.api")


def _body(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse(
        {"error": {"status": status, "message": message, **extra}}, status_code=status
    )


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# "Key (customer_id)=(c-1) is not present in table ..." / "Key (id)=(x) already exists."
_KEY = re.compile(r"^Key \((?P<cols>[a-z_, ]{1,200})\)=\((?P<vals>.{0,200})\)")


def _key(exc: psycopg.Error) -> str:
    """The field names and the caller's own values of a key violation, and nothing else
    of the database's message (no table, constraint or SQL reaches the client)."""
    match = _KEY.match(exc.diag.message_detail or "")
    return f"{match['cols']} {match['vals']!r}" if match else "a referenced or unique field"


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_r: Request, exc: DomainError) -> JSONResponse:
        return _body(exc.status_code, str(exc), type=type(exc).__name__)

    @app.exception_handler(Refused)
    async def refused(_r: Request, exc: Refused) -> JSONResponse:
        return _body(422, str(exc), type="RefusedDestination")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_r: Request, exc: StarletteHTTPException) -> JSONResponse:
        resp = _body(exc.status_code, str(exc.detail))
        if exc.headers:
            resp.headers.update(exc.headers)
        return resp

    @app.exception_handler(RequestValidationError)
    async def validation_error(_r: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()[:10]
        ]
        return _body(422, "invalid request", details=details)

    @app.exception_handler(psycopg.errors.UniqueViolation)
    async def unique_error(_r: Request, exc: psycopg.Error) -> JSONResponse:
        log.info("unique violation: %s", _first_line(exc))
        return _body(409, f"already exists: {_key(exc)}", type="Conflict")

    @app.exception_handler(psycopg.errors.ForeignKeyViolation)
    async def fk_error(_r: Request, exc: psycopg.Error) -> JSONResponse:
        log.info("foreign key violation: %s", _first_line(exc))
        if "still referenced" in (exc.diag.message_detail or ""):
            return _body(409, f"still in use: {_key(exc)} is referenced by other records",
                         type="InUse")
        return _body(422, f"unknown reference: {_key(exc)} does not exist",
                     type="UnknownReference")

    @app.exception_handler(psycopg.errors.IntegrityError)
    async def integrity_error(_r: Request, exc: psycopg.Error) -> JSONResponse:
        log.info("constraint violation: %s", _first_line(exc))
        return _body(422, "rejected: a value is outside what this field allows",
                     type="Constraint")

    @app.exception_handler(psycopg.DataError)
    async def data_error(_r: Request, exc: psycopg.Error) -> JSONResponse:
        log.info("data error: %s", _first_line(exc))
        return _body(422, "invalid value for a field (out of range or malformed)",
                     type="InvalidValue")

    @app.exception_handler(psycopg.OperationalError)
    async def db_down(_r: Request, exc: psycopg.Error) -> JSONResponse:
        log.warning("database unavailable: %s", _first_line(exc))
        return _body(503, "database unavailable, try again", type="Unavailable")

    @app.exception_handler(psycopg.Error)
    async def db_error(_r: Request, exc: psycopg.Error) -> JSONResponse:
        log.error("database error: %s", _first_line(exc))
        return _body(500, "internal error", type="Internal")
