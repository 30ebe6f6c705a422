"""The FastAPI application: `create_app(settings)` for tests and tools, `app` for uvicorn.

Importing this module reads no settings, touches no disk and starts no thread. Building an app
only reads its settings and wires middleware and routes; the service, which recovers tasks from
disk and loads engines, is built when the app starts (its lifespan).
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from app import tracing, wiring
from app.config import Settings, get_settings
from app.errors import ModelLabError
from app.logs import configure_logging, log_event
from app.routes import metrics, process, system, tasks
from app.routes.api_key import ApiKeyGuard
from app.routes.docs import install_docs
from app.routes.errors import install_error_handlers
from app.routes.metrics import METRICS_PATH, RequestMetrics
from app.routes.openapi_schema import schema_builder
from app.routes.page import install_page
from app.routes.request_tracing import RequestTracing
from app.routes.security_headers import SecurityHeaders
from app.routes.upload_limit import UploadSizeLimit
from app.routes.upload_slots import UploadSlots
from app.wiring import Chore

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tracing.start(settings, "modellab-api")
        parts = await run_in_threadpool(wiring.build_api, settings)
        app.state.service = parts.service
        app.state.chores = {chore.name: chore.run for chore in parts.chores}  # tests run them at will
        # Blocking: recovers tasks from disk and loads engines, or checks the distributed stores.
        await run_in_threadpool(parts.start)
        running = [asyncio.create_task(_periodically(chore)) for chore in parts.chores]
        yield
        for task in running:
            task.cancel()
        parts.stop()

    app = FastAPI(
        title="ModelLab lip-sync service",
        description="Upload a talking-head mp4 and speech; poll; download the lip-synced mp4.",
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,  # served from local assets by install_docs
        redoc_url=None,
    )
    app.state.settings = settings
    # Added innermost first. From the outside in: security headers on every answer, CORS (only
    # when CORS_ORIGINS opens it), the API key check, the declared upload size, the upload slots;
    # outside them, the request metrics (METRICS_ENABLED), which see every answer; outermost, the
    # request's span (OTEL_EXPORTER_OTLP_ENDPOINT), current while all of them run.
    app.add_middleware(UploadSlots, max_uploads=settings.max_concurrent_uploads)
    app.add_middleware(UploadSizeLimit, max_file_bytes=settings.max_upload_bytes)
    open_metrics = {METRICS_PATH} if settings.metrics_enabled and not settings.metrics_require_key else set()
    app.add_middleware(ApiKeyGuard, api_key=settings.api_key, also_open=frozenset(open_metrics))
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "HEAD", "POST", "DELETE"],
            allow_headers=["*"],
            expose_headers=["Content-Disposition", "Content-Range", "Accept-Ranges"],
        )
    app.add_middleware(SecurityHeaders)
    routers = [process.router, tasks.router, system.router]
    if settings.metrics_enabled:
        app.add_middleware(RequestMetrics)
        routers.append(metrics.router)
    if tracing.enabled(settings):
        app.add_middleware(RequestTracing)
    for router in routers:
        app.include_router(router)
    install_docs(app)
    install_page(app)
    install_error_handlers(app)
    # FastAPI documents replacing `openapi` on the instance to customise the schema.
    app.openapi = schema_builder(app, requires_key=settings.api_key is not None)  # type: ignore[method-assign]
    return app


async def _periodically(chore: Chore) -> None:
    """Run a blocking chore off the loop every interval; a failure is logged, never fatal."""
    while True:
        await asyncio.sleep(chore.interval_s)
        try:
            await run_in_threadpool(chore.run)
        except ModelLabError as error:
            # A store away (Redis, S3) is expected now and then: one line; the next round retries.
            log_event(logger, f"{chore.name}.skipped", logging.WARNING, reason=error.message)
        except Exception:
            logger.exception("event=%s.failed", chore.name)


def __getattr__(name: str) -> FastAPI:
    """`app`, for `uvicorn app.main:app`: built from the environment's settings on first use
    (then kept as a plain attribute), so that importing this module reads and configures nothing."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    app = globals()["app"] = create_app()
    return app
