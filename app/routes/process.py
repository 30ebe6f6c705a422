"""POST /process/: upload a video and speech, get a task id at once."""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, File, Form, Request, UploadFile

from app.errors import InvalidUpload
from app.routes.deps import ServiceDep
from app.schemas.processing import ModelChoice, ProcessResponse, SyncMode
from app.schemas.system import ErrorResponse
from app.services.lipsync import Upload

router = APIRouter(tags=["processing"])


# Also without the trailing slash: a redirect would make curl (without -L) lose the upload.
@router.post("/process", status_code=202, response_model=ProcessResponse, include_in_schema=False)
@router.post(
    "/process/",
    status_code=202,
    response_model=ProcessResponse,
    responses={
        400: {"model": ErrorResponse, "description": "Wrong content type, undecodable or too long media"},
        413: {"model": ErrorResponse, "description": "A file is over MAX_UPLOAD_MB"},
        503: {"model": ErrorResponse, "description": "Model not available, or queue full"},
    },
)
async def process(
    request: Request,
    service: ServiceDep,
    background: BackgroundTasks,
    video_file: Annotated[UploadFile, File(description="Talking-head video, video/mp4")],
    audio_file: Annotated[UploadFile, File(description="Speech, audio/wav or audio/mpeg")],
    model_choice: Annotated[ModelChoice, Form()],
    sync_mode: Annotated[SyncMode, Form()] = SyncMode.BOUNCE,
) -> ProcessResponse:
    await _reject_repeated_fields(request)
    task = await service.create_task(
        Upload(video_file, video_file.content_type),
        Upload(audio_file, audio_file.content_type),
        model_choice.value,
        sync_mode,
    )
    background.add_task(service.process_task, task.task_id)
    return ProcessResponse(task_id=task.task_id)


_FIELDS = ("video_file", "audio_file", "model_choice", "sync_mode")


async def _reject_repeated_fields(request: Request) -> None:
    """A field sent twice is ambiguous: refuse it rather than pick one silently."""
    form = await request.form()  # already parsed by FastAPI; this reads its cache
    for field in _FIELDS:
        if len(form.getlist(field)) > 1:
            raise InvalidUpload(field, "sent more than once; send each field once")
