"""LipSyncService: accepts tasks, schedules them off the event loop, and reports on them."""

import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from app.config import Settings
from app.errors import InsufficientStorage, ModelLabError, QueueFull, ResultMissing, TaskCancelled
from app.logs import current_task_id, log_event
from app.pipeline.lipsync import LipSyncJob, run_lipsync
from app.pipeline.media.probe import MediaInfo
from app.pipeline.timeline import SyncMode
from app.services import validation
from app.services.engines import EngineCatalog, ModelDescription
from app.services.registry import ACTIVE_STATES, DurableTaskRegistry, TaskInfo, TaskRegistry, TaskState, utc_now
from app.services.runner import JobRunner, ThreadJobRunner
from app.services.storage import TaskStorage, UploadSink, parse_task_id
from app.services.task_records import read_records, write_record

logger = logging.getLogger(__name__)

_DEFAULT_CHUNK_FRAMES = {"cuda": 128, "cpu": 32}


@dataclass(frozen=True)
class IncomingTask:
    """A task whose files are being received: its folder exists, it is not registered yet."""

    task_id: str
    # Where each upload field's bytes go.
    paths: dict[str, Path]
    max_bytes: int
    min_free_bytes: int

    def open_sink(self, field: str) -> UploadSink:
        return UploadSink(self.paths[field], field, self.max_bytes, self.min_free_bytes)


def build_job(
    settings: Settings, engines: EngineCatalog, video: Path, audio: Path, output: Path, sync_mode: SyncMode
) -> LipSyncJob:
    """A pipeline job with the tuning that settings give (shared by the service and the CLI)."""
    return LipSyncJob(
        video=video, audio=audio, output=output, sync_mode=sync_mode,
        chunk_frames=settings.chunk_frames or _DEFAULT_CHUNK_FRAMES[engines.device.type],
        face_detect_interval=settings.face_detect_interval, landmark_step=settings.landmark_step,
        encoder_preset=settings.encoder_preset, encoder_crf=settings.encoder_crf,
        gpu_encode=engines.device.type == "cuda",
        max_seconds=validation.MediaLimits.from_settings(settings).read_seconds,
        max_fps=settings.max_output_fps,
    )


class LipSyncService:
    def __init__(
        self, settings: Settings, registry: TaskRegistry | None = None, runner: JobRunner | None = None
    ) -> None:
        self._settings = settings
        self.storage = TaskStorage(settings.upload_dir)
        self._registry = registry or DurableTaskRegistry(
            lambda task: write_record(self.storage.task_dir(task.task_id), task)
        )
        self._runner = runner or ThreadJobRunner(settings.max_concurrent_jobs)
        self.engines = EngineCatalog.from_settings(settings)
        self._recover()

    @asynccontextmanager
    async def receive_task(self) -> AsyncIterator[IncomingTask]:
        """A folder for a new task's uploads, if the queue and the disk have room (raises if not).

        Whatever fails inside the block, the folder and everything written to it are removed.
        """
        self._require_queue_room()
        await self._require_disk_space()
        task_id = str(uuid.uuid4())
        self.storage.create_task_dir(task_id)
        try:
            yield IncomingTask(
                task_id,
                {"video_file": self.storage.video_path(task_id),
                 "audio_file": self.storage.audio_upload_path(task_id)},
                self._settings.max_upload_bytes, self._settings.min_free_disk_bytes,
            )
        except BaseException:
            # Synchronous on purpose: an awaited clean-up would not run if the request is cancelled.
            self.storage.remove_task(task_id)
            raise

    async def create_task(
        self, incoming: IncomingTask, video_type: str | None, audio_type: str | None,
        model_choice: str, sync_mode: SyncMode,
    ) -> TaskInfo:
        """Check the received uploads and register the task as queued. Raises on bad input."""
        validation.check_video_type(video_type)
        validation.check_audio_type(audio_type)
        # Off the loop: the first look at a Wav2Lip checkpoint reads hundreds of MB.
        await run_in_threadpool(self.engines.require_available, model_choice)
        media, extension = await run_in_threadpool(self._check_inputs, incoming.task_id)
        self._require_queue_room()
        task = TaskInfo(
            task_id=incoming.task_id, model_choice=model_choice,
            engine=self.engines.engine_name(model_choice), sync_mode=sync_mode,
            audio_extension=extension, media=media,
        )
        self._registry.add(task)
        log_event(logger, "task.accepted", task_id=task.task_id, model=model_choice, sync_mode=sync_mode.value)
        return task

    async def process_task(self, task_id: str) -> None:
        """Hand an accepted task to the runner; returns at once."""
        self._enqueue(task_id)

    def _enqueue(self, task_id: str) -> None:
        self._runner.submit(lambda: self._run(task_id))

    def get_status(self, raw_task_id: str) -> TaskInfo:
        return self._registry.get(parse_task_id(raw_task_id))

    def get_result_path(self, task: TaskInfo) -> Path:
        path = self.storage.result_path(task.task_id)
        if not path.is_file():
            raise ResultMissing(f"the result of task {task.task_id} is no longer on the server")
        return path

    async def cancel(self, raw_task_id: str) -> None:
        """Stop an active task (a running one stops after its current chunk) and delete its files."""
        task = self.get_status(raw_task_id)
        cancelled = self._registry.transition(
            task.task_id, ACTIVE_STATES, status=TaskState.CANCELLED, stage="cancelled",
            finished_at=utc_now(),
        )
        if not cancelled:
            self._registry.remove(task.task_id)
        # A running task's files are removed by its worker when it stops, after its current chunk.
        if task.status is not TaskState.PROCESSING:
            await run_in_threadpool(self.storage.remove_task, task.task_id)
        log_event(logger, "task.deleted", task_id=task.task_id, was=task.status.value)

    def sweep_expired(self) -> int:
        """Delete tasks older than TASK_TTL_HOURS that are not running (blocking: call off the loop)."""
        cutoff = utc_now() - timedelta(hours=self._settings.task_ttl_hours)
        expired = [
            task.task_id for task in self._registry.all()
            if task.created_at < cutoff and task.status not in ACTIVE_STATES
        ]
        known = {task.task_id for task in self._registry.all()}
        # Folders no task owns (a broken record skipped at start-up) expire by their age on disk.
        expired += [
            name for name in self.storage.task_dirs()
            if name not in known and self.storage.modified_at(name) < cutoff.timestamp()
        ]
        for task_id in expired:
            # Files first: once a task is unknown (404), nothing of it is left on disk.
            self.storage.remove_task(task_id)
            self._registry.remove(task_id)
        if expired:
            log_event(logger, "sweep.deleted", tasks=len(expired))
        return len(expired)

    async def models(self) -> list[ModelDescription]:
        return await run_in_threadpool(self.engines.describe)

    def queue_counts(self) -> tuple[int, int]:
        return self._registry.count(TaskState.QUEUED), self._registry.count(TaskState.PROCESSING)

    def shutdown(self) -> None:
        self._runner.stop()

    def _recover(self) -> None:
        """Rebuild the registry from task.json files: finished tasks stay, unfinished ones run again."""
        tasks, broken = read_records(self.storage.upload_dir)
        self.storage.remove_partial_results()
        known = {task.task_id for task in tasks} | set(broken)
        for leftover in set(self.storage.task_dirs()) - known:
            self.storage.remove_task(leftover)  # an upload cut off by the restart
        requeued = []
        for task in tasks:
            if task.status is TaskState.CANCELLED:
                self.storage.remove_task(task.task_id)
                continue
            self._registry.restore(task)
            if task.status in ACTIVE_STATES:
                self._registry.transition(
                    task.task_id, ACTIVE_STATES, status=TaskState.QUEUED, stage="queued",
                    progress=0.0, started_at=None,
                )
                requeued.append(task.task_id)
        for task_id in requeued:
            self._enqueue(task_id)
        if tasks or broken:
            log_event(logger, "registry.recovered", tasks=len(tasks), requeued=len(requeued), broken=len(broken))

    async def _require_disk_space(self) -> None:
        free = await run_in_threadpool(self.storage.free_bytes)
        if free < self._settings.min_free_disk_bytes:
            raise InsufficientStorage(
                f"the server is short of disk space ({free // (1024 * 1024)} MB free); try again later"
            )

    def _require_queue_room(self) -> None:
        queued, running = self.queue_counts()
        if queued + running >= self._settings.max_concurrent_jobs + self._settings.max_queued:
            raise QueueFull("the processing queue is full; try again later")

    def _check_inputs(self, task_id: str) -> tuple[MediaInfo, str]:
        """Blocking (ffmpeg): check both uploads; the audio gets its detected container's extension."""
        received_audio = self.storage.audio_upload_path(task_id)
        media, container = validation.check_inputs(
            self.storage.video_path(task_id), received_audio, validation.MediaLimits.from_settings(self._settings)
        )
        os.replace(received_audio, self.storage.audio_path(task_id, container.extension))
        return media, container.extension

    def _run(self, task_id: str) -> None:
        """Worker thread: run one task to its end state, its id on every log line."""
        token = current_task_id.set(task_id)
        try:
            self._run_task(task_id)
        finally:
            current_task_id.reset(token)

    def _run_task(self, task_id: str) -> None:
        started = utc_now()
        if not self._registry.transition(
            task_id, frozenset({TaskState.QUEUED}), status=TaskState.PROCESSING,
            stage="starting", started_at=started,
        ):
            return  # cancelled while queued
        task = self._registry.get(task_id)
        clock = time.perf_counter()
        outcome: dict[str, object] | None
        try:
            self._render(task)
            outcome = {"status": TaskState.FINISHED, "stage": "done", "progress": 1.0}
        except TaskCancelled:
            outcome = None
        except ModelLabError as error:
            outcome = {"status": TaskState.FAILED, "stage": "failed", "error": error.message}
        except Exception:
            logger.exception("event=task.crashed")
            outcome = {"status": TaskState.FAILED, "stage": "failed", "error": "internal error while processing the video"}
        # A task cancelled meanwhile keeps its cancelled state, and nothing of it stays on disk.
        if outcome is None or not self._end(task_id, **outcome):
            self.storage.remove_task(task_id)
            log_event(logger, "task.cancelled", duration_s=time.perf_counter() - clock)
            return
        if outcome["status"] is TaskState.FAILED:
            self.storage.remove_inputs(task_id)
        log_event(
            logger, f"task.{outcome['status']}", duration_s=time.perf_counter() - clock,
            **({"error": outcome["error"]} if "error" in outcome else {}),
        )

    def _render(self, task: TaskInfo) -> None:
        job = build_job(
            self._settings, self.engines,
            video=self.storage.video_path(task.task_id),
            audio=self.storage.audio_path(task.task_id, task.audio_extension),
            output=self.storage.result_path(task.task_id),
            sync_mode=task.sync_mode,
        )
        engine = self.engines.load(task.engine)
        active = frozenset({TaskState.PROCESSING})

        stage_started = {"stage": "starting", "at": time.perf_counter()}

        def on_progress(stage: str, progress: float) -> None:
            self._registry.transition(task.task_id, active, stage=stage, progress=round(progress, 4))
            if stage != stage_started["stage"]:
                now = time.perf_counter()
                log_event(logger, "task.stage", stage=stage, previous=stage_started["stage"],
                          previous_duration_s=now - stage_started["at"])
                stage_started.update(stage=stage, at=now)

        def is_cancelled() -> bool:
            return self._registry.get(task.task_id).status is TaskState.CANCELLED

        run_lipsync(job, engine, on_progress, is_cancelled)

    def _end(self, task_id: str, **changes: object) -> bool:
        return self._registry.transition(
            task_id, frozenset({TaskState.PROCESSING}), finished_at=utc_now(), **changes
        )
