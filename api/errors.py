"""One place that maps domain errors and bad input to HTTP answers (DESIGN.md §7)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from models.workorder import DomainError


def _body(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse(
        {"error": {"status": status, "message": message, **extra}}, status_code=status
    )


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
