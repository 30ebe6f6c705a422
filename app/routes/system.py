"""Service-level routes: which models exist, and whether the service is up.

Probes: `/health/live` answers while the process does (a liveness probe restarts a host only when
it is itself broken); `/health/ready` answers 200 only while the task store and the object storage
answer. A shared store's outage is no fault of one host: README says which probe goes where.
"""

from fastapi import APIRouter

from app.routes.deps import ServiceDep
from app.schemas.system import HealthResponse, ModelInfo, ProbeResponse

router = APIRouter(tags=["service"])


@router.get("/models", response_model=list[ModelInfo])
async def list_models(service: ServiceDep) -> list[ModelInfo]:
    return [ModelInfo.from_description(model) for model in await service.models()]


@router.head("/health", include_in_schema=False)
@router.get("/health", response_model=HealthResponse)
async def health(service: ServiceDep) -> HealthResponse:
    queued, running = await service.queue_counts()
    return HealthResponse(status="ok", device=str(service.engines.device), queued=queued, running=running)


# Out of the OpenAPI schema like HEAD /health: they are for orchestrators, not clients.
@router.get("/health/live", response_model=ProbeResponse, include_in_schema=False)
async def live() -> ProbeResponse:
    return ProbeResponse(status="ok")


@router.get("/health/ready", response_model=ProbeResponse, include_in_schema=False)
async def ready(service: ServiceDep) -> ProbeResponse:
    """503 (with the store that does not answer) until both stores answer."""
    await service.check_ready()
    return ProbeResponse(status="ok")
