"""Bodies of the service-level routes: models, health and probes."""

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.errors import ErrorCode
from app.services.execution.engine_catalog import ModelDescription


class ModelInfo(BaseModel):
    model_choice: str
    engine: str
    description: str
    available: bool
    reason: str | None = None
    install_command: str | None = Field(
        None,
        description="For a model that is not available: the command that installs its weights on the server",
        examples=["python -m app.weights fetch model4"],
    )

    @classmethod
    def from_description(cls, model: ModelDescription) -> "ModelInfo":
        return cls(
            model_choice=model.model_choice,
            engine=model.engine,
            description=model.description,
            available=model.availability.available,
            reason=model.availability.reason,
            install_command=model.install_command,
        )


class HealthResponse(BaseModel):
    status: Literal["ok"]
    device: str
    queued: int
    running: int


class ProbeResponse(BaseModel):
    status: Literal["ok"]


class ErrorResponse(BaseModel):
    """Every 4xx/5xx body: what went wrong and what to do, and a code to branch on (docs/api.md)."""

    detail: str = Field(description="What went wrong and what to do next, for people")
    error_code: ErrorCode = Field(description="Stable: branch on this, never on `detail`")


class ValidationErrorResponse(BaseModel):
    """A 422: FastAPI's list of field errors, the code, and one readable sentence."""

    detail: list[dict[str, Any]] = Field(description="FastAPI's list: one item per bad field (loc, msg, type)")
    error_code: Literal[ErrorCode.INVALID_REQUEST]
    message: str = Field(description="The same, as one sentence that says what to fix")
