"""One place that maps domain errors and bad input to HTTP answers (DESIGN.md §7).

Every error body has the same shape: ``{"error": {"status", "message", ...}}``.
"""

from __future__ import annotations

import logging

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from models.workorder import DomainError

log = logging.getLogger("fieldflow.api")


def _body(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse(
        {"error": {"status": status, "message": message, **extra}}, status_code=status
    )


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_r: Request, exc: DomainError) -> JSONResponse:
        return _body(exc.status_code, str(exc), type=type(exc).__name__)

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
        return _body(409, "already exists: " + _first_line(exc), type="Conflict")

    @app.exception_handler(psycopg.errors.ForeignKeyViolation)
    async def fk_error(_r: Request, exc: psycopg.Error) -> JSONResponse:
        detail = exc.diag.message_detail or _first_line(exc)
        return _body(422, "unknown reference: " + detail, type="UnknownReference")

    @app.exception_handler(psycopg.errors.IntegrityError)
    async def integrity_error(_r: Request, exc: psycopg.Error) -> JSONResponse:
        return _body(422, "rejected by a constraint: " + _first_line(exc), type="Constraint")

    @app.exception_handler(psycopg.DataError)
    async def data_error(_r: Request, exc: psycopg.Error) -> JSONResponse:
        return _body(422, "invalid value: " + _first_line(exc), type="InvalidValue")

    @app.exception_handler(psycopg.OperationalError)
    async def db_down(_r: Request, exc: psycopg.Error) -> JSONResponse:
        log.warning("database unavailable: %s", _first_line(exc))
        return _body(503, "database unavailable, try again", type="Unavailable")
