"""LipSyncService: accepts tasks, schedules them off the event loop, and reports on them."""

import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from app.config import Settings
from app.errors import IdempotencyConflict, InsufficientStorage, InvalidUpload, ModelLabError, QueueFull, ResultMissing
from app.logs import log_event
from app.pipeline.media.probe import MediaInfo
from app.pipeline.timeline import SyncMode
from app.services import backends, validation
from app.services.engines import EngineCatalog, ModelDescription
from app.services.incoming import IncomingTask
from app.services.registry import ACTIVE_STATES, TaskInfo, TaskRegistry, TaskState, utc_now
from app.services.runner import JobRunner
from app.services.storage import StoredObject, parse_task_id, remove_quietly
from app.services.task_execution import TaskExecutor
from app.services.task_records import read_records
from app.services.webhook_target import check_webhook_url
from app.stages import Stage

logger = logging.getLogger(__name__)


class LipSyncService:
    def __init__(
        self, settings: Settings, registry: TaskRegistry | None = None, runner: JobRunner | None = None
    ) -> None:
        self._settings = settings
        self.storage = backends.task_storage(settings)
        self._registry = registry or backends.task_registry(settings, self.storage)
        self.engines = EngineCatalog.from_settings(settings)
        self.webhooks = backends.webhook_sender(settings)
        self.executor = TaskExecutor(settings, self._registry, self.storage, self.engines, self.webhooks)
        self._runner = runner or backends.job_runner(settings, self.executor.run)
        if settings.execution == "local":
            self._recover()

    def prepare(self) -> None:
        """Blocking start-up work: load the engines where tasks run here; in distributed mode,
        check that Redis keeps its data and that the bucket exists."""
        if self._settings.execution == "local":
            self.engines.preload()
        check_durable = getattr(self._registry, "check_durable", None)
        try:
            if check_durable is not None:
                check_durable()
            if self._settings.storage == "s3":
                self.storage.objects.ensure_bucket()
        except ModelLabError as error:
            # Not fatal: requests answer 503 until the backend is back.
            log_event(logger, "backend.unavailable_at_start", logging.ERROR, reason=error.message)

    @asynccontextmanager
    async def receive_task(self, idempotency_key: str | None = None) -> AsyncIterator[IncomingTask]:
        """A folder for a new task's uploads, if the queue and the disk have room (raises if not).
        A request whose Idempotency-Key already names a task is let in whatever the queue: it
        may get that task's id back.

        Whatever fails inside the block, the folder and everything written to it are removed.
        """
        if not (idempotency_key and await run_in_threadpool(self._registry.find_by_key, idempotency_key)):
            await run_in_threadpool(self._require_queue_room)
        await self._require_disk_space()
        task_id = str(uuid.uuid4())
        self.storage.create_task_dir(task_id)
        try:
            yield IncomingTask(
                task_id,
                {
                    "video_file": self.storage.video_upload_path(task_id),
                    "audio_file": self.storage.audio_upload_path(task_id),
                },
                self._settings.max_upload_bytes,
                self._settings.min_free_disk_bytes,
            )
        except BaseException:
            # Synchronous on purpose: an awaited clean-up would not run if the request is cancelled.
            self.storage.discard_upload(task_id)
            raise

    async def create_task(
        self,
        incoming: IncomingTask,
        video_type: str | None,
        audio_type: str | None,
        model_choice: str,
        sync_mode: SyncMode,
        idempotency_key: str | None = None,
        webhook_url: str | None = None,
        base_url: str = "/",
        face_point: tuple[float, float] | None = None,
    ) -> tuple[TaskInfo, bool]:
        """Check the received uploads and register the task as queued; say whether it is new.

        A request repeating an Idempotency-Key with the same uploads and fields gets the task the
        key already names (nothing new starts); with anything different, IdempotencyConflict.
        Raises on bad input.
        """
        fingerprint = incoming.fingerprint(model_choice, sync_mode.value, webhook_url or "", str(face_point))
        if idempotency_key and (known := await run_in_threadpool(self._registry.find_by_key, idempotency_key)):
            return self._replayed(known, fingerprint, incoming), False
        if webhook_url:
            await run_in_threadpool(self._check_webhook, webhook_url)
        media, video_extension, audio_extension = await run_in_threadpool(
            self._check_inputs, incoming.task_id, sync_mode, video_type, audio_type
        )
        if face_point is not None:
            validation.check_face_point(face_point, media)
        # Off the loop: the first look at a Wav2Lip checkpoint reads hundreds of MB.
        await run_in_threadpool(self.engines.require_available, model_choice)
        # A cheap early refusal before the inputs are sent to the bucket; `admit` below decides.
        await run_in_threadpool(self._require_queue_room)
        task = TaskInfo(
            task_id=incoming.task_id,
            model_choice=model_choice,
            engine=self.engines.engine_name(model_choice),
            sync_mode=sync_mode,
            video_extension=video_extension,
            audio_extension=audio_extension,
            media=media,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            webhook_url=webhook_url,
            result_url=f"{base_url}result/{incoming.task_id}",
            face_point=face_point,
        )
        await run_in_threadpool(self.storage.publish_inputs, task.task_id, video_extension, audio_extension)
        # Checked again in the same step as the task is added: other requests (on other hosts) may
        # have filled the queue, or taken the same key, while this one was uploading.
        admitted = await run_in_threadpool(self._registry.admit, task, *self._admission())
        if admitted is not task:
            await run_in_threadpool(remove_quietly, self.storage.remove_task, task.task_id)
            if admitted is None:
                raise QueueFull("the processing queue is full; try again later")
            return self._replayed(admitted, fingerprint, incoming), False
        log_event(logger, "task.accepted", task_id=task.task_id, model=model_choice, sync_mode=sync_mode.value)
        return task, True

    def _check_webhook(self, url: str) -> None:
        """Blocking (resolves the host)."""
        if not self._settings.webhook_secret:
            raise InvalidUpload("webhook_url", "this server sends no webhooks (WEBHOOK_SECRET is not set)")
        check_webhook_url(url, self._settings.webhook_allow_private)

    def _replayed(self, known: TaskInfo, fingerprint: str, incoming: IncomingTask) -> TaskInfo:
        """The task an Idempotency-Key names, if this request repeats it; the new uploads go."""
        self.storage.discard_upload(incoming.task_id)
        if known.fingerprint != fingerprint:
            raise IdempotencyConflict(
                "this Idempotency-Key was already used with different files or fields; use a new key"
            )
        log_event(logger, "task.replayed", task_id=known.task_id)
        return known

    async def process_task(self, task_id: str) -> None:
        """Hand an accepted task to the runner. If the queue cannot take it, the task fails."""
        try:
            await run_in_threadpool(self._runner.submit, task_id)
        except ModelLabError as error:
            await run_in_threadpool(self._fail_unqueued, task_id, error.message)

    async def get_status(self, raw_task_id: str) -> TaskInfo:
        return await run_in_threadpool(self._registry.get, parse_task_id(raw_task_id))

    async def queue_position(self, task: TaskInfo) -> int | None:
        """1 for the next task to start, while the task is queued; None otherwise."""
        if task.status is not TaskState.QUEUED:
            return None
        queued = await run_in_threadpool(self._registry.in_state, TaskState.QUEUED)
        return 1 + sum(other.created_at < task.created_at for other in queued)

    async def get_result(self, task: TaskInfo) -> Path | StoredObject:
        """Where the finished result is: a file on this host, or an object in the bucket."""
        stored = await run_in_threadpool(self.storage.stored_result, task.task_id)
        if stored is None:
            raise ResultMissing(f"the result of task {task.task_id} is no longer on the server")
        return stored

    async def result_link(self, stored: StoredObject, filename: str) -> str | None:
        """A short-lived presigned URL for the result when RESULT_REDIRECT is on, else None."""
        if not self._settings.result_redirect:
            return None
        return await run_in_threadpool(
            self.storage.objects.presigned_url, stored.key, filename, self._settings.result_url_ttl_s
        )

    def read_result(self, stored: StoredObject, start: int, end: int) -> Iterator[bytes]:
        """Bytes `start` to `end` (exclusive) of a result in the bucket (blocking iterator)."""
        return self.storage.objects.read(stored.key, start, end)

    async def cancel(self, raw_task_id: str) -> None:
        """Stop an active task (a running one stops after its current chunk) and delete its files."""
        await run_in_threadpool(self._cancel, parse_task_id(raw_task_id))

    def _cancel(self, task_id: str) -> None:
        task = self._registry.get(task_id)
        if task.status is TaskState.CANCELLED:
            return  # cancelling again changes nothing; the record shows "cancelled" until the sweep
        cancelled = self._registry.transition(
            task.task_id,
            ACTIVE_STATES,
            status=TaskState.CANCELLED,
            stage=Stage.CANCELLED,
            finished_at=utc_now(),
        )
        if cancelled:
            self._runner.withdraw(task.task_id)
            self.webhooks.announce(self._registry, task.task_id, TaskState.CANCELLED.value)
        else:
            self._registry.remove(task.task_id)
        # A running task's files are removed by its worker when it stops, after its current chunk
        # (unless that worker is gone).
        if task.status is not TaskState.PROCESSING or self.executor.is_stalled(task):
            self.storage.remove_task(task.task_id)
        log_event(logger, "task.deleted", task_id=task.task_id, was=task.status.value)

    def sweep_expired(self) -> int:
        """Delete tasks older than TASK_TTL_HOURS that are not running (blocking: call off the loop)."""
        cutoff = utc_now() - timedelta(hours=self._settings.task_ttl_hours)
        tasks = self._registry.all()  # one read: in distributed mode it is every record in Redis
        expired = [task.task_id for task in tasks if task.created_at < cutoff and task.status not in ACTIVE_STATES]
        known = {task.task_id for task in tasks}
        # Files no task owns (a broken record skipped at start-up, an upload cut off on another
        # host) expire by their own age.
        expired += self.storage.leftovers(known, cutoff.timestamp())
        for task_id in expired:
            # Files first: once a task is unknown (404), nothing of it is left on disk.
            self.storage.remove_task(task_id)
            self._registry.remove(task_id)
        if expired:
            log_event(logger, "sweep.deleted", tasks=len(expired))
        return len(expired)

    async def models(self) -> list[ModelDescription]:
        return await run_in_threadpool(self.engines.describe)

    async def queue_counts(self) -> tuple[int, int]:
        return await run_in_threadpool(self._queue_counts)

    def _queue_counts(self) -> tuple[int, int]:
        return self._registry.count(TaskState.QUEUED), self._registry.count(TaskState.PROCESSING)

    async def check_ready(self) -> None:
        """Raise BackendUnavailable unless the task store and the object storage answer."""
        await run_in_threadpool(self._check_ready)

    def _check_ready(self) -> None:
        self._registry.count(TaskState.QUEUED)
        if self._settings.storage == "s3":
            self.storage.objects.ensure_bucket()

    def requeue_stalled(self) -> int:
        """Queue again the running tasks whose worker stopped reporting (blocking: call off the loop).

        The worker that takes one counts a new attempt, and fails the task past MAX_ATTEMPTS.
        """
        requeued = 0
        for task in self._registry.in_state(TaskState.PROCESSING):
            if self.executor.is_stalled(task) and self._registry.transition(
                task.task_id,
                frozenset({TaskState.PROCESSING}),
                expect={"attempt": task.attempt, "heartbeat_at": task.heartbeat_at},
                status=TaskState.QUEUED,
                stage=Stage.QUEUED,
                progress=0.0,
            ):
                log_event(logger, "task.requeued", logging.WARNING, task_id=task.task_id, attempt=task.attempt)
                self._runner.submit(task.task_id)
                requeued += 1
        return requeued

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
                    task.task_id,
                    ACTIVE_STATES,
                    status=TaskState.QUEUED,
                    stage=Stage.QUEUED,
                    progress=0.0,
                    started_at=None,
                )
                requeued.append(task.task_id)
        for task_id in requeued:
            self._runner.submit(task_id)
        if tasks or broken:
            log_event(logger, "registry.recovered", tasks=len(tasks), requeued=len(requeued), broken=len(broken))

    async def _require_disk_space(self) -> None:
        free = await run_in_threadpool(self.storage.free_bytes)
        if free < self._settings.min_free_disk_bytes:
            raise InsufficientStorage(
                f"the server is short of disk space ({free // (1024 * 1024)} MB free); try again later"
            )

    def _admission(self) -> tuple[int, frozenset[TaskState]]:
        """How many tasks may be in which states when a new one is accepted."""
        if self._settings.execution == "celery":
            # Workers are elsewhere and their number unknown here: MAX_QUEUED bounds the tasks
            # waiting, across all API hosts.
            return self._settings.max_queued, frozenset({TaskState.QUEUED})
        return self._settings.max_concurrent_jobs + self._settings.max_queued, ACTIVE_STATES

    def _require_queue_room(self) -> None:
        limit, counted = self._admission()
        if sum(self._registry.count(state) for state in counted) >= limit:
            raise QueueFull("the processing queue is full; try again later")

    def _fail_unqueued(self, task_id: str, reason: str) -> None:
        try:
            if self._registry.transition(
                task_id,
                frozenset({TaskState.QUEUED}),
                status=TaskState.FAILED,
                stage=Stage.FAILED,
                error=f"the job could not be queued: {reason}",
                finished_at=utc_now(),
            ):
                self.storage.remove_inputs(task_id)
                self.webhooks.announce(self._registry, task_id, TaskState.FAILED.value)
        except ModelLabError:
            log_event(logger, "task.unqueued", logging.ERROR, task_id=task_id)

    def _check_inputs(
        self, task_id: str, sync_mode: SyncMode, video_type: str | None, audio_type: str | None
    ) -> tuple[MediaInfo, str, str]:
        """Blocking (ffmpeg): check both uploads; each gets its detected container's extension
        (the client's file name is never used)."""
        received_video, received_audio = (
            self.storage.video_upload_path(task_id),
            self.storage.audio_upload_path(task_id),
        )
        checked = validation.check_inputs(
            received_video,
            received_audio,
            validation.MediaLimits.from_settings(self._settings),
            sync_mode,
            video_type,
            audio_type,
        )
        os.replace(received_video, self.storage.video_path(task_id, checked.video_container.extension))
        os.replace(received_audio, self.storage.audio_path(task_id, checked.audio_container.extension))
        return checked.media, checked.video_container.extension, checked.audio_container.extension
