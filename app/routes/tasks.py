"""Task routes: result download, status, cancellation."""

from fastapi import APIRouter, Request, Response

from app.routes.deps import ServiceDep
from app.routes.ranged_file import file_download
from app.schemas.processing import ResultStatusResponse, TaskStatusResponse
from app.schemas.system import ErrorResponse
from app.services.registry import TaskState

router = APIRouter(tags=["tasks"])

_NOT_FOUND = {404: {"model": ErrorResponse, "description": "Unknown task, or its result is gone"}}


# HEAD answers as GET without the body (curl -I, link checkers); left out of the schema.
@router.head("/result/{task_id}", include_in_schema=False)
@router.get(
    "/result/{task_id}",
    response_model=ResultStatusResponse,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "The status while not finished, else the video"},
        206: {"content": {"video/mp4": {}}, "description": "The requested byte ranges of the video"},
        416: {"model": ErrorResponse, "description": "No requested byte range lies within the video"},
        **_NOT_FOUND,
    },
)
async def get_result(task_id: str, service: ServiceDep, request: Request) -> Response:
    task = service.get_status(task_id)
    if task.status is not TaskState.FINISHED:
        return Response(
            ResultStatusResponse.from_task(task).model_dump_json(exclude_none=True),
            media_type="application/json",
        )
    # Range requests get 206, so browsers can seek.
    return file_download(
        request, service.get_result_path(task), media_type="video/mp4", filename=f"{task.task_id}_lipsynced.mp4"
    )


@router.head("/status/{task_id}", include_in_schema=False)
@router.get("/status/{task_id}", response_model=TaskStatusResponse, responses=_NOT_FOUND)
async def get_status(task_id: str, service: ServiceDep) -> TaskStatusResponse:
    return TaskStatusResponse.from_task(service.get_status(task_id))


@router.delete("/tasks/{task_id}", status_code=204, responses=_NOT_FOUND)
async def delete_task(task_id: str, service: ServiceDep) -> Response:
    await service.cancel(task_id)
    return Response(status_code=204)
