"""The FastAPI application (``uvicorn api.app:create_app --factory``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.routers import engineers
from stack.settings import Settings, get_settings
from store.db import open_pool


def create_app(settings: Settings | None = None) -> FastAPI:
    s = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = s
        app.state.pool = await open_pool(s.resolved_database_url, max_size=s.db_pool_size)
        try:
            yield
        finally:
            await app.state.pool.close()

    app = FastAPI(
        title="FieldFlow",
        version="0.1.0",
        lifespan=lifespan,
        description="IoT-driven field service: work orders, live tracking, dispatch.",
    )
    errors.install(app)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(engineers.router)
    return app
