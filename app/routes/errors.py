"""The one place where domain errors become HTTP answers. Clients never see a stack trace.

Every error body is `{"detail": ..., "error_code": ...}` (`error_body`), the middlewares' own
refusals included; a 422 keeps FastAPI's list in `detail` and adds one readable `message`.
"""

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import (
    BackendUnavailable,
    ErrorCode,
    IdempotencyConflict,
    InsufficientStorage,
    InvalidFieldValue,
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
from app.metrics import FAILURES

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


def error_body(code: ErrorCode, detail: Any, **more: Any) -> dict[str, Any]:
    """The JSON body of every error answer."""
    return {"detail": detail, "error_code": code.value, **more}


def error_response(status: int, code: ErrorCode, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    FAILURES.labels("request", code.value).inc()
    return JSONResponse(error_body(code, detail), status_code=status, headers=headers)


async def _domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ModelLabError)
    if isinstance(error, InvalidFieldValue):
        item = {"type": "value_error", "loc": ("body", error.field), "msg": error.message, "input": None}
        return await _invalid_request(request, RequestValidationError([item]))
    status = next((code for kind, code in STATUS_BY_ERROR.items() if isinstance(error, kind)), None)
    if status is None:
        return await _unexpected_error(request, error)
    log_refusal(request.method, request.url.path, status, error.message)
    return error_response(status, error.error_code, error.message)


async def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    reasons = "; ".join(f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in error.errors())
    log_refusal(request.method, request.url.path, 422, reasons)
    FAILURES.labels("request", ErrorCode.INVALID_REQUEST.value).inc()
    # FastAPI's list form, each bad value cut short: a client's 20 KB header is not sent back.
    detail = jsonable_encoder([_cut_short(item) for item in error.errors()])
    return JSONResponse(
        error_body(ErrorCode.INVALID_REQUEST, detail, message=readable_sentence(error.errors())), status_code=422
    )


def readable_sentence(errors: Sequence[Any]) -> str:
    """FastAPI's list as one sentence that says what to fix: "Fix these fields and send the
    request again: model_choice (field required), sync_mode (input should be 'bounce' or 'loop')."
    """
    parts = []
    for item in errors:
        # ("body", "model_choice") -> model_choice; the part of the request is implied by the name.
        where = ".".join(str(part) for part in item["loc"][1:]) or str(item["loc"][0])
        message = str(item["msg"])
        parts.append(f"{where} ({message[:1].lower()}{message[1:]})")
    return f"Fix these fields and send the request again: {', '.join(parts)}."


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


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    """Starlette's own answers (no such route, method not allowed), with a code like ours."""
    assert isinstance(error, StarletteHTTPException)
    code = ErrorCode.NOT_FOUND if error.status_code == 404 else ErrorCode.INVALID_REQUEST
    if error.status_code >= 500:
        code = ErrorCode.INTERNAL
    return JSONResponse(error_body(code, error.detail), status_code=error.status_code, headers=error.headers)


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    logger.error(
        "event=request.crashed method=%s route=%s", request.method, escaped(request.url.path[:120]), exc_info=error
    )
    return error_response(500, ErrorCode.INTERNAL, "internal server error; try again, and report it if it persists")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ModelLabError, _domain_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
