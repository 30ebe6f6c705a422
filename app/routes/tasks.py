"""Task routes: result download, status, cancellation."""

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from app.routes.deps import ServiceDep
from app.routes.ranged_file import file_download, object_download
from app.schemas.processing import ResultStatusResponse, TaskStatusResponse
from app.schemas.system import ErrorResponse
from app.services.tasks.model import ACTIVE_STATES, TaskState

router = APIRouter(tags=["tasks"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Unknown task, or its result is gone"}
}
# Seconds a client waits before polling GET /result again.
_RETRY_AFTER_S = {TaskState.QUEUED: 5, TaskState.PROCESSING: 2}


# HEAD answers as GET without the body (curl -I, link checkers); left out of the schema.
@router.head("/result/{task_id}", include_in_schema=False)
@router.get(
    "/result/{task_id}",
    response_model=ResultStatusResponse,
    responses={
        200: {
            "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The video; or, for a failed or cancelled task, its status (JSON)",
        },
        202: {
            "model": ResultStatusResponse,
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            "description": "Queued or processing: no video yet; poll again after Retry-After seconds",
        },
        206: {
            "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The requested byte range of the video",
        },
        307: {"description": "RESULT_REDIRECT=true: a short-lived presigned URL of the video in the bucket"},
        416: {"model": ErrorResponse, "description": "No requested byte range lies within the video"},
        **_NOT_FOUND,
    },
)
async def get_result(task_id: str, service: ServiceDep, request: Request) -> Response:
    task = await service.get_status(task_id)
    if task.status is not TaskState.FINISHED:
        # 202 while there is no video yet (clients poll again after Retry-After); 200 once it
        # has ended without one.
        waiting = task.status in ACTIVE_STATES
        return Response(
            ResultStatusResponse.from_task(task).model_dump_json(exclude_none=True),
            status_code=202 if waiting else 200,
            media_type="application/json",
            headers={"Retry-After": str(_RETRY_AFTER_S[task.status])} if waiting else None,
        )
    stored = await service.get_result(task)
    filename = f"{task.task_id}_lipsynced.mp4"
    # Range requests get 206, so browsers can seek.
    if stored.local_path is not None:  # on this host's disk: served straight from the file
        return file_download(request, stored.local_path, media_type="video/mp4", filename=filename)
    if link := await service.result_link(stored, filename):
        return RedirectResponse(link, status_code=307)
    return object_download(
        request,
        stored,
        lambda start, end: service.read_result(stored, start, end),
        media_type="video/mp4",
        filename=filename,
    )


@router.head("/status/{task_id}", include_in_schema=False)
@router.get("/status/{task_id}", response_model=TaskStatusResponse, responses=_NOT_FOUND)
async def get_status(task_id: str, service: ServiceDep) -> TaskStatusResponse:
    task = await service.get_status(task_id)
    return TaskStatusResponse.from_task(task, await service.queue_position(task))


@router.delete("/tasks/{task_id}", status_code=204, responses=_NOT_FOUND)
async def delete_task(task_id: str, service: ServiceDep) -> Response:
    await service.cancel(task_id)
    return Response(status_code=204)
