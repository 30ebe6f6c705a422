"""Service-level routes: which models exist, and whether the service is up."""

from fastapi import APIRouter

from app.routes.deps import ServiceDep
from app.schemas.system import HealthResponse, ModelInfo

router = APIRouter(tags=["service"])


@router.get("/models", response_model=list[ModelInfo])
async def list_models(service: ServiceDep) -> list[ModelInfo]:
    return [ModelInfo.from_description(model) for model in await service.models()]


@router.head("/health", include_in_schema=False)
@router.get("/health", response_model=HealthResponse)
async def health(service: ServiceDep) -> HealthResponse:
    queued, running = await service.queue_counts()
    return HealthResponse(status="ok", device=str(service.engines.device), queued=queued, running=running)
