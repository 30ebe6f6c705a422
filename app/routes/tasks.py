"""Task routes: result download, status, cancellation."""

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from app.routes.deps import ServiceDep
from app.schemas.processing import ResultStatusResponse, TaskStatusResponse
from app.schemas.system import ErrorResponse
from app.services.registry import TaskState

router = APIRouter(tags=["tasks"])

_NOT_FOUND = {404: {"model": ErrorResponse, "description": "Unknown task, or its result is gone"}}


@router.get(
    "/result/{task_id}",
    response_model=ResultStatusResponse,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "The status while not finished, else the video"},
        **_NOT_FOUND,
    },
)
async def get_result(task_id: str, service: ServiceDep) -> Response:
    task = service.get_status(task_id)
    if task.status is not TaskState.FINISHED:
        return Response(
            ResultStatusResponse.from_task(task).model_dump_json(exclude_none=True),
            media_type="application/json",
        )
    # FileResponse answers Range requests with 206, so browsers can seek.
    return FileResponse(
        service.get_result_path(task),
        media_type="video/mp4",
        filename=f"{task.task_id}_lipsynced.mp4",
    )


@router.get("/status/{task_id}", response_model=TaskStatusResponse, responses=_NOT_FOUND)
async def get_status(task_id: str, service: ServiceDep) -> TaskStatusResponse:
    return TaskStatusResponse.from_task(service.get_status(task_id))


@router.delete("/tasks/{task_id}", status_code=204, responses=_NOT_FOUND)
async def delete_task(task_id: str, service: ServiceDep) -> Response:
    await service.cancel(task_id)
    return Response(status_code=204)
