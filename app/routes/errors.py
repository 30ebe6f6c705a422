"""The one place where domain errors become HTTP answers. Clients never see a stack trace."""

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.errors import (
    BackendUnavailable,
    IdempotencyConflict,
    InsufficientStorage,
    InvalidUpload,
    ModelLabError,
    ModelUnavailable,
    QueueFull,
    ResultMissing,
    TaskNotFound,
    UploadTimedOut,
    UploadTooLarge,
)
from app.logs import escaped, log_event

logger = logging.getLogger(__name__)

# Characters of a bad value a 422 sends back: enough to recognise it.
_ECHO_CHARS = 64

STATUS_BY_ERROR: dict[type[ModelLabError], int] = {
    InvalidUpload: 400,
    TaskNotFound: 404,
    ResultMissing: 404,
    IdempotencyConflict: 409,
    UploadTimedOut: 408,
    UploadTooLarge: 413,
    ModelUnavailable: 503,
    QueueFull: 503,
    BackendUnavailable: 503,
    InsufficientStorage: 507,
}


async def _domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ModelLabError)
    status = next((code for kind, code in STATUS_BY_ERROR.items() if isinstance(error, kind)), None)
    if status is None:
        return await _unexpected_error(request, error)
    log_refusal(request.method, request.url.path, status, error.message)
    return JSONResponse({"detail": error.message}, status_code=status)


async def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    reasons = "; ".join(f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in error.errors())
    log_refusal(request.method, request.url.path, 422, reasons)
    # FastAPI's list form, each bad value cut short: a client's 20 KB header is not sent back.
    return JSONResponse({"detail": jsonable_encoder([_cut_short(item) for item in error.errors()])}, status_code=422)


def _cut_short(item: dict) -> dict:
    value = item.get("input")
    if isinstance(value, str | bytes) and len(value) > _ECHO_CHARS:
        shown = value[:_ECHO_CHARS] if isinstance(value, str) else value[:_ECHO_CHARS].decode("latin-1")
        return {**item, "input": shown + "…"}
    return item


def log_refusal(method: str, url_path: str, status: int, reason: str) -> None:
    """One line per refused request with its reason (messages name fields, never files or keys)."""
    log_event(
        logger,
        "request.refused",
        logging.WARNING,
        method=method,
        route=url_path[:120],
        status=status,
        reason=reason[:300],
    )


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    logger.error(
        "event=request.crashed method=%s route=%s", request.method, escaped(request.url.path[:120]), exc_info=error
    )
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ModelLabError, _domain_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _unexpected_error)
