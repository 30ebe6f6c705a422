"""Running one task to its end state: the worker side, shared by worker threads and Celery workers.

A run claims the task (a new attempt), brings its inputs to this host, renders while reporting
progress and a heartbeat, publishes the result, and ends the task. Every change it makes names
its attempt, so a run that another one has replaced (its worker presumed dead) changes nothing:
it stops at its next chunk, and its result is never published.
"""

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from app import tracing
from app.config import Settings
from app.errors import BackendUnavailable, ErrorCode, JobTimedOut, ModelLabError, TaskCancelled, TaskNotFound
from app.logs import current_task_id, log_event
from app.metrics import count_task_failure, observe_run
from app.pipeline.lipsync import RenderedVideo, run_lipsync
from app.pipeline.quality.report import QualityReport
from app.services.execution.engine_catalog import EngineCatalog
from app.services.execution.heartbeat import start_heartbeat
from app.services.execution.jobs import build_job, measure_output
from app.services.execution.outcome import Outcome
from app.services.storage.interface import TaskStorage, remove_quietly
from app.services.tasks.model import OutputInfo, TaskEvent, TaskInfo, TaskState, utc_now
from app.services.tasks.registry import TaskRegistry
from app.services.webhooks.sender import WebhookSender
from app.stages import Stage

logger = logging.getLogger(__name__)

_RUNNING = frozenset({TaskState.PROCESSING})
# Heartbeats per heartbeat timeout: a few may be late without the run being presumed dead.
_BEATS_PER_TIMEOUT = 4
# A run's end is recorded even across a short outage of the task store (Redis restarting).
_END_PATIENCE_S = 120.0
# A run stops itself (job_timeout) this much before JOB_TIME_LIMIT_S, at most, so that it records
# its end before Celery's hard time limit kills its process (which would leave it to be retried).
_TIME_LIMIT_MARGIN_S = 30.0


class TaskExecutor:
    def __init__(
        self,
        settings: Settings,
        registry: TaskRegistry,
        storage: TaskStorage,
        engines: EngineCatalog,
        webhooks: WebhookSender,
    ) -> None:
        self._settings = settings
        self._webhooks = webhooks
        self._registry = registry
        self._storage = storage
        self._engines = engines

    def run(self, task_id: str) -> None:
        """Run one task to its end state, its id on every log line, in one span (`lipsync.job`)."""
        token = current_task_id.set(task_id)
        try:
            with tracing.span("lipsync.job", task_id=task_id):
                attempt = self._claim(task_id)
                if attempt is not None:
                    with self._storage.hold_scratch(task_id):
                        self._run_attempt(self._registry.get(task_id), attempt)
                    # This run's folder, released now, and any that a killed run left on this host.
                    self._storage.remove_orphan_scratch()
        finally:
            current_task_id.reset(token)

    def is_stalled(self, task: TaskInfo) -> bool:
        """A run in progress that has not reported for the heartbeat timeout while the task store
        answered: its worker is gone. Time the store was away is no silence of the worker's."""
        last = task.heartbeat_at or task.started_at
        back = self._registry.answering_since()
        if last is not None and back is not None:
            last = max(last, back)
        return task.status is TaskState.PROCESSING and (
            last is None or (utc_now() - last).total_seconds() > self._settings.heartbeat_timeout_s
        )

    def _claim(self, task_id: str) -> int | None:
        """Start a new attempt of a queued task, or of a running one whose worker died; None when
        there is nothing to run (cancelled, ended, gone, running elsewhere, or out of attempts)."""
        # A job delivered again while its previous run's heartbeat is fresh waits for it to go
        # stale (that worker just died) or to end (the job was delivered twice).
        deadline = time.monotonic() + self._settings.heartbeat_timeout_s + 1
        while True:
            try:
                task = self._registry.get(task_id)
            except TaskNotFound:
                return None
            if task.status is TaskState.PROCESSING and not self.is_stalled(task):
                if time.monotonic() > deadline:
                    return None
                time.sleep(1)
                continue
            if task.status not in (TaskState.QUEUED, TaskState.PROCESSING):
                return None
            seen = {"attempt": task.attempt, "heartbeat_at": task.heartbeat_at}
            if task.attempt >= self._settings.max_attempts:
                self._give_up(task, seen)
                return None
            now = utc_now()
            if self._registry.transition(
                task_id,
                frozenset({task.status}),
                expect=seen,
                status=TaskState.PROCESSING,
                stage=Stage.STARTING,
                progress=0.0,
                started_at=now,
                heartbeat_at=now,
                attempt=task.attempt + 1,
            ):
                if task.attempt:
                    log_event(logger, "task.retried", attempt=task.attempt + 1)
                else:
                    self._webhooks.announce(self._registry, task_id, TaskEvent.STARTED)
                return task.attempt + 1

    def _give_up(self, task: TaskInfo, seen: Mapping[str, object]) -> None:
        error = (
            f"the job stopped its worker {task.attempt} times (MAX_ATTEMPTS={self._settings.max_attempts}); "
            "it is not tried again: send shorter or smaller media, or report it if it persists"
        )
        if self._registry.transition(
            task.task_id,
            frozenset({task.status}),
            expect=seen,
            status=TaskState.FAILED,
            stage=Stage.FAILED,
            error=error,
            error_code=ErrorCode.WORKER_LOST.value,
            finished_at=utc_now(),
        ):
            remove_quietly(self._storage.remove_inputs, task.task_id)
            self._webhooks.announce(self._registry, task.task_id, TaskEvent.FAILED)
            count_task_failure(ErrorCode.WORKER_LOST.value)
            log_event(logger, "task.failed", logging.ERROR, error=error)

    def _run_attempt(self, task: TaskInfo, attempt: int) -> None:
        clock = time.perf_counter()
        mine = {"attempt": attempt}
        tracing.annotate(model=task.model_choice, engine=task.engine, attempt=attempt)
        stages = tracing.StageSpans(Stage.STARTING, task_id=task.task_id, model=task.model_choice, engine=task.engine)
        stop_beating = start_heartbeat(
            self._registry, task.task_id, mine, self._settings.heartbeat_timeout_s / _BEATS_PER_TIMEOUT
        )
        outcome: Outcome | None
        deadline = time.monotonic() + self._time_limit_s()
        try:
            video, quality = self._render(task, mine, deadline, stages)
            output = OutputInfo(round(video.frames / video.fps, 3), video.frames, video.width, video.height)
            outcome = Outcome(TaskState.FINISHED, output=output, quality=quality)
        except TaskCancelled:
            outcome = None
            if time.monotonic() > deadline:  # stopped by its own time limit, not by a cancel
                outcome = Outcome.failed(
                    JobTimedOut(
                        f"the job ran longer than its limit of {self._settings.job_time_limit_s:g} s "
                        "(JOB_TIME_LIMIT_S); send shorter media or a lighter model"
                    )
                )
        except ModelLabError as error:
            outcome = Outcome.failed(error)
        except Exception:
            logger.exception("event=task.crashed")
            outcome = Outcome(
                TaskState.FAILED,
                error="internal error while processing the video; try again, and report it if it persists",
                error_code=ErrorCode.INTERNAL,
            )
        finally:
            stop_beating()
        _trace_outcome(stages, outcome)
        observe_run(task.engine, outcome, duration_s := time.perf_counter() - clock)
        try:
            self._finish(task.task_id, mine, outcome, duration_s)
        finally:
            remove_quietly(self._storage.release_scratch, task.task_id)

    def _finish(self, task_id: str, mine: Mapping[str, object], outcome: Outcome | None, duration_s: float) -> None:
        ended = outcome is not None and _patiently(
            lambda: self._registry.transition(
                task_id, _RUNNING, expect=mine, finished_at=utc_now(), **outcome.changes()
            )
        )
        if not ended:
            # Cancelled meanwhile: nothing of it stays. Replaced by a newer run: that run owns its files.
            if (status := _patiently(lambda: self._current_status(task_id))) in (TaskState.CANCELLED, None):
                remove_quietly(self._storage.remove_task, task_id)
                log_event(logger, "task.cancelled", duration_s=duration_s)
            else:
                log_event(logger, "task.superseded", logging.WARNING, duration_s=duration_s, now=status.value)
            return
        assert outcome is not None  # `ended` needs an outcome
        # A failed task's inputs go first: the status already says failed, and nothing waits on
        # them (announcing can take a while).
        if outcome.status is TaskState.FAILED:
            remove_quietly(self._storage.remove_inputs, task_id)
        self._webhooks.announce(self._registry, task_id, TaskEvent(outcome.status.value))
        if outcome.error:
            log_event(logger, f"task.{outcome.status}", duration_s=duration_s, error=outcome.error)
        else:
            log_event(logger, f"task.{outcome.status}", duration_s=duration_s)

    def _time_limit_s(self) -> float:
        limit = self._settings.job_time_limit_s
        return limit - min(_TIME_LIMIT_MARGIN_S, limit / 10)

    def _render(
        self, task: TaskInfo, mine: Mapping[str, object], deadline: float, stages: tracing.StageSpans
    ) -> tuple[RenderedVideo, QualityReport | None]:
        self._storage.fetch_inputs(task.task_id, task.video_extension, task.audio_extension)
        job = build_job(
            self._settings,
            self._engines,
            video=self._storage.video_path(task.task_id, task.video_extension),
            audio=self._storage.audio_path(task.task_id, task.audio_extension),
            output=self._storage.result_path(task.task_id),
            choices=task.choices,
        )
        engine = self._engines.load(task.engine)
        stage_started: dict[str, Any] = {"stage": Stage.STARTING, "at": time.perf_counter()}

        def on_progress(stage: Stage, progress: float) -> None:
            try:
                self._registry.transition(task.task_id, _RUNNING, expect=mine, stage=stage, progress=round(progress, 4))
            except BackendUnavailable:
                pass  # progress is a courtesy: the run goes on while the task store is away
            if stage != stage_started["stage"]:
                now = time.perf_counter()
                log_event(
                    logger,
                    "task.stage",
                    stage=stage,
                    previous=stage_started["stage"],
                    previous_duration_s=now - stage_started["at"],
                )
                stage_started.update(stage=stage, at=now)
                stages.enter(stage)

        def is_cancelled() -> bool:
            """Also true for a run that a newer one replaced: it must stop writing, and for one past
            its time limit. While the task store is away, the run goes on (its end waits for the store)."""
            if time.monotonic() > deadline:
                return True
            try:
                return not _still_mine(self._registry.get(task.task_id), mine)
            except BackendUnavailable:
                return False

        video = run_lipsync(job, engine, on_progress, is_cancelled)
        with tracing.span("lipsync.quality", task_id=task.task_id):
            quality = measure_output(job)
        # The last look before publishing: a run that is no longer current never writes a result.
        if not _still_mine(_patiently(lambda: self._registry.get(task.task_id)), mine):
            raise TaskCancelled("the task was cancelled or handed to another worker")
        self._storage.publish_result(task.task_id)
        return video, quality

    def _current_status(self, task_id: str) -> TaskState | None:
        try:
            return self._registry.get(task_id).status
        except TaskNotFound:
            return None


Answer = TypeVar("Answer")


def _trace_outcome(stages: tracing.StageSpans, outcome: Outcome | None) -> None:
    """The run's end on its spans: the stage it stopped in, and the job's (no outcome: cancelled or replaced)."""
    failure = outcome.error if outcome is not None and outcome.status is TaskState.FAILED else None
    stages.close(failure)
    if outcome is not None:
        tracing.annotate(status=outcome.status, error_code=outcome.error_code)
    if failure is not None:
        tracing.fail(failure)


def _still_mine(task: TaskInfo, mine: Mapping[str, object]) -> bool:
    return task.status is TaskState.PROCESSING and task.attempt == mine["attempt"]


def _patiently(call: Callable[[], Answer]) -> Answer:
    """Call the task store, retrying through an outage of up to _END_PATIENCE_S."""
    deadline = time.monotonic() + _END_PATIENCE_S
    while True:
        try:
            return call()
        except BackendUnavailable:
            if time.monotonic() > deadline:
                raise
            log_event(logger, "task.store_unreachable", logging.WARNING)
            time.sleep(1)
