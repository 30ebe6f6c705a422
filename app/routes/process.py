"""POST /process/: upload a video and speech, get a task id at once."""

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app.routes.deps import ServiceDep
from app.routes.multipart_form import ReceivedForm, UploadTimeouts, receive_form
from app.schemas.processing import PROCESS_FILE_FIELDS, ProcessFields, ProcessResponse, process_form_schema
from app.schemas.system import ErrorResponse, ValidationErrorResponse
from app.services.uploads.validation import ACCEPTED_FORMATS

router = APIRouter(tags=["processing"])

_OPENAPI_BODY = {
    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": process_form_schema()}}}
}


# Also without the trailing slash: a redirect would make curl (without -L) lose the upload.
@router.post("/process", status_code=202, response_model=ProcessResponse, include_in_schema=False)
@router.post(
    "/process/",
    status_code=202,
    response_model=ProcessResponse,
    openapi_extra=_OPENAPI_BODY,
    responses={
        400: {
            "model": ErrorResponse,
            "description": "`invalid_media`: a file that is not media we read (video_file: "
            f"{ACCEPTED_FORMATS['video_file']}; audio_file: {ACCEPTED_FORMATS['audio_file']}), damaged, "
            "over a limit, or labelled as another type; `media_too_long`: over MAX_VIDEO_SECONDS or the "
            "output's frame limit; `invalid_request`: a malformed body, a bad webhook_url or face_point",
        },
        422: {
            "model": ValidationErrorResponse,
            "description": "`invalid_request`: a missing field, a value outside its enum, or segments that "
            "are malformed, unordered, overlapping or past the end of the video or audio (FastAPI's list in "
            "`detail` naming the segment, one sentence in `message`)",
        },
        401: {"model": ErrorResponse, "description": "`unauthorized`: API_KEY is set and X-API-Key is not it"},
        408: {"model": ErrorResponse, "description": "`upload_timeout`: the upload stalled or took too long"},
        409: {
            "model": ErrorResponse,
            "description": "`idempotency_conflict`: Idempotency-Key already used with different uploads",
        },
        413: {"model": ErrorResponse, "description": "`upload_too_large`: a file is over MAX_UPLOAD_MB"},
        503: {
            "model": ErrorResponse,
            "description": "`model_unavailable`, `queue_full`, `server_busy` (too many uploads at once) or "
            "`storage_unavailable` (Redis or the bucket is away); retry later or pick another model",
        },
        507: {"model": ErrorResponse, "description": "`insufficient_storage`: too little free disk space"},
    },
)
async def process(
    request: Request,
    service: ServiceDep,
    background: BackgroundTasks,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=255,
            description="Repeat a request safely: the same key with the same uploads and fields "
            "answers the same task id (within TASK_TTL_HOURS); with different ones, 409",
        ),
    ] = None,
) -> ProcessResponse:
    settings = request.app.state.settings
    timeouts = UploadTimeouts(settings.upload_idle_timeout_s, settings.upload_timeout_s)
    async with service.receive_task(idempotency_key) as incoming:
        form = await receive_form(
            request, incoming.open_sink, tuple(PROCESS_FILE_FIELDS), settings.max_upload_bytes, timeouts
        )
        fields = _validated_fields(form)
        task, created = await service.create_task(
            incoming,
            form.file_types["video_file"],
            form.file_types["audio_file"],
            fields.model_choice.value,
            fields.choices,
            idempotency_key=idempotency_key,
            webhook_url=fields.webhook_url,
            result_url=f"{_public_base_url(request)}result/{incoming.task_id}",
        )
    if created:
        background.add_task(service.process_task, task.task_id)
    return ProcessResponse(task_id=task.task_id)


def _public_base_url(request: Request) -> str:
    """Where clients reach this service: PUBLIC_URL, or else this request's own scheme and Host
    (which the client chose: set PUBLIC_URL behind a proxy or on a public address)."""
    return request.app.state.settings.public_url or str(request.base_url)


def _validated_fields(form: ReceivedForm) -> ProcessFields:
    """The text fields, or a 422 in FastAPI's list form naming every missing or invalid one."""
    errors: list[dict[str, Any]] = [
        {"type": "missing", "loc": ("body", name), "msg": "Field required", "input": None}
        for name in PROCESS_FILE_FIELDS
        if name not in form.file_types
    ]
    try:
        fields = ProcessFields.model_validate(form.fields)
    except ValidationError as error:
        # A missing field's "input" would be the whole form: left out, like the files'.
        errors += [
            {
                **detail,
                "loc": ("body", *detail["loc"]),
                "input": None if detail["type"] == "missing" else detail["input"],
            }
            for detail in error.errors(include_url=False, include_context=False)
        ]
    if errors:
        raise RequestValidationError(errors)
    return fields
