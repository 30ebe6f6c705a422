"""How a run ended, as the fields of the task's record it sets."""

from dataclasses import dataclass
from typing import Any

from app.errors import ErrorCode, ModelLabError
from app.pipeline.quality.report import QualityReport
from app.services.tasks.model import OutputInfo, TaskState
from app.stages import Stage


@dataclass(frozen=True)
class Outcome:
    """How a run ended (a cancelled or replaced run has none): the task's end state and its details."""

    status: TaskState
    output: OutputInfo | None = None
    error: str | None = None
    error_code: ErrorCode | None = None
    quality: QualityReport | None = None

    @classmethod
    def failed(cls, error: ModelLabError) -> "Outcome":
        return cls(TaskState.FAILED, error=error.message, error_code=error.error_code)

    def changes(self) -> dict[str, Any]:
        """The fields of the task's record that this end sets."""
        if self.status is TaskState.FINISHED:
            return {
                "status": self.status,
                "stage": Stage.DONE,
                "progress": 1.0,
                "output": self.output,
                "quality": self.quality,
            }
        code = (self.error_code or ErrorCode.INTERNAL).value
        return {"status": self.status, "stage": Stage.FAILED, "error": self.error, "error_code": code}
