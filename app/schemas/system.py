"""Bodies of the service-level routes: models, health and probes."""

from typing import Literal

from pydantic import BaseModel

from app.services.execution.engine_catalog import ModelDescription


class ModelInfo(BaseModel):
    model_choice: str
    engine: str
    description: str
    available: bool
    reason: str | None = None

    @classmethod
    def from_description(cls, model: ModelDescription) -> "ModelInfo":
        return cls(
            model_choice=model.model_choice,
            engine=model.engine,
            description=model.description,
            available=model.availability.available,
            reason=model.availability.reason,
        )


class HealthResponse(BaseModel):
    status: Literal["ok"]
    device: str
    queued: int
    running: int


class ProbeResponse(BaseModel):
    status: Literal["ok"]


class ErrorResponse(BaseModel):
    detail: str
