"""The FastAPI application (``uvicorn api.app:create_app --factory``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import errors
from api.egress import networks
from api.httpingest import HttpIngest
from api.inbox import InboxHub
from api.live import Hub
from api.middleware import (
    BodyLimit,
    SecurityHeaders,
    content_security_policy,
    inline_script_hashes,
    tile_source,
)
from api.records import RecordProducer
from api.relay import Relay
from api.routers import (
    alerts,
    asset_models,
    assets,
    attachments,
    console,
    customers,
    depots,
    dispatch,
    engineer_app,
    engineers,
    enrolment,
    ingest,
    jobs,
    kpis,
    live,
    notifications,
    pages,
    parts,
    sites,
    telemetry,
    tracks,
    users,
    webhooks,
    work_order_items,
    work_orders,
)
from api.routers.pages import STATIC
from api.throttle import FailureThrottle
from stack.logs import setup_logging
from stack.settings import Settings, get_settings
from store.blobs import open_blobs
from store.db import open_pool

ROUTERS = (
    customers,
    sites,
    asset_models,
    assets,
    engineers,
    tracks,
    enrolment,
    parts,
    depots,
    work_orders,
    work_order_items,
    attachments,
    dispatch,
    alerts,
    kpis,
    telemetry,
    users,
    webhooks,
    notifications,
    console,
    live,
    ingest,
    pages,
    jobs,
    engineer_app,
)


def create_app(settings: Settings | None = None) -> FastAPI:
    s = settings or get_settings()
    setup_logging(s.log_level)  # one format, secrets masked (stack/secrets.py)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = s
        app.state.egress_allowed = networks(s.webhook_allowed_networks)
        app.state.auth_throttle = FailureThrottle(s.auth_failures_per_s, s.auth_failures_burst)
        app.state.pool = await open_pool(s.resolved_database_url, max_size=s.db_pool_size)
        app.state.records = RecordProducer(s)
        app.state.http_ingest = HttpIngest(s, app.state.records)
        app.state.blobs = open_blobs(s)
        app.state.hub = Hub(s)
        app.state.hub.start()
        app.state.inbox = InboxHub(s)
        app.state.inbox.start()
        app.state.relay = Relay(s, app.state.pool)  # outbox + webhooks; one leader
        app.state.relay.start()
        try:
            yield
        finally:
            await app.state.relay.stop()
            app.state.inbox.stop()
            app.state.hub.stop()
            app.state.records.close()
            await app.state.pool.close()

    app = FastAPI(
        title="FieldFlow",
        version="0.1.0",
        lifespan=lifespan,
        description="IoT-driven field service: work orders, live tracking, dispatch. "
        "Authenticate with `Authorization: Bearer <token>`.",
    )
    errors.install(app)
    app.add_middleware(BodyLimit, limit=s.max_json_body_bytes)
    app.add_middleware(
        SecurityHeaders,
        csp=content_security_policy(
            inline_script_hashes(STATIC.glob("*.html")),
            [src for src in (tile_source(s.map_tile_url),) if src],  # the console's street map
        ),
    )

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for module in ROUTERS:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
