"""The FastAPI application: `create_app(settings)` for tests and tools, `app` for uvicorn.

Importing this module reads no settings, touches no disk and starts no thread. Building an app
only reads its settings and wires middleware and routes; the service, which recovers tasks from
disk and loads engines, is built when the app starts (its lifespan).
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from app.config import Settings, get_settings
from app.errors import ModelLabError
from app.logs import configure_logging, log_event
from app.routes import process, system, tasks
from app.routes.api_key import ApiKeyGuard
from app.routes.docs import install_docs
from app.routes.errors import install_error_handlers
from app.routes.openapi_schema import schema_builder
from app.routes.page import install_page
from app.routes.security_headers import SecurityHeaders
from app.routes.upload_limit import UploadSizeLimit
from app.routes.upload_slots import UploadSlots
from app.services.lipsync import LipSyncService

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Blocking: building the service recovers tasks from disk and queues the unfinished ones.
        service = await run_in_threadpool(LipSyncService, settings)
        app.state.service = service
        await run_in_threadpool(service.prepare)
        chores = [asyncio.create_task(_periodically(service.sweep_expired, settings.sweep_interval_s, "sweep"))]
        if settings.execution == "celery":
            # Several API hosts may watch at once: a task is requeued by whichever gets there first.
            chores.append(
                asyncio.create_task(_periodically(service.requeue_stalled, settings.heartbeat_timeout_s / 2, "watch"))
            )
        yield
        for chore in chores:
            chore.cancel()
        service.shutdown()

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
    # when CORS_ORIGINS opens it), the API key check, the declared upload size, the upload slots.
    app.add_middleware(UploadSlots, max_uploads=settings.max_concurrent_uploads)
    app.add_middleware(UploadSizeLimit, max_file_bytes=settings.max_upload_bytes)
    app.add_middleware(ApiKeyGuard, api_key=settings.api_key)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "HEAD", "POST", "DELETE"],
            allow_headers=["*"],
            expose_headers=["Content-Disposition", "Content-Range", "Accept-Ranges"],
        )
    app.add_middleware(SecurityHeaders)
    for module in (process, tasks, system):
        app.include_router(module.router)
    install_docs(app)
    install_page(app)
    install_error_handlers(app)
    app.openapi = schema_builder(app, requires_key=settings.api_key is not None)
    return app


async def _periodically(chore: Callable[[], object], interval_s: float, name: str) -> None:
    """Run a blocking chore off the loop every `interval_s`; a failure is logged, never fatal."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await run_in_threadpool(chore)
        except ModelLabError as error:
            # A store away (Redis, S3) is expected now and then: one line; the next round retries.
            log_event(logger, f"{name}.skipped", logging.WARNING, reason=error.message)
        except Exception:
            logger.exception("event=%s.failed", name)


def __getattr__(name: str) -> FastAPI:
    """`app`, for `uvicorn app.main:app`: built from the environment's settings on first use
    (then kept as a plain attribute), so that importing this module reads and configures nothing."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    app = globals()["app"] = create_app()
    return app
