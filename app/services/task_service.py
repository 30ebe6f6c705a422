"""TaskService: accepts tasks, hands them to the runner, and reports on them and their results."""

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from anyio import to_thread

from app.config import Settings
from app.errors import IdempotencyConflict, InsufficientStorage, InvalidUpload, ModelLabError, QueueFull, ResultMissing
from app.logs import log_event
from app.metrics import count_task_failure
from app.services.execution.engine_catalog import EngineCatalog, ModelDescription
from app.services.execution.executor import TaskExecutor
from app.services.execution.runner import JobRunner
from app.services.storage.interface import StoredResult, TaskStorage, remove_quietly
from app.services.tasks.choices import RenderChoices
from app.services.tasks.model import ACTIVE_STATES, TaskEvent, TaskInfo, TaskState, parse_task_id, utc_now
from app.services.tasks.registry import TaskRegistry
from app.services.uploads import validation
from app.services.uploads.choice_checks import check_choices
from app.services.uploads.incoming import IncomingTask
from app.services.uploads.received import file_checked_uploads
from app.services.webhooks.sender import WebhookSender
from app.services.webhooks.target import check_webhook_url
from app.stages import Stage

logger = logging.getLogger(__name__)

_QUEUE_FULL = "the processing queue is full; try again in a minute (GET /health shows the queue)"


@dataclass(frozen=True)
class Admission:
    """How many tasks may be in which states when a new one is accepted."""

    limit: int
    counted: frozenset[TaskState]


class TaskService:
    """What the routes ask of the service, each call off the event loop where it blocks."""

    def __init__(
        self,
        settings: Settings,
        registry: TaskRegistry,
        storage: TaskStorage,
        runner: JobRunner,
        engines: EngineCatalog,
        webhooks: WebhookSender,
        executor: TaskExecutor,
        admission: Admission,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._storage = storage
        self._runner = runner
        self.engines = engines
        self._webhooks = webhooks
        self._executor = executor
        self._admission = admission

    @asynccontextmanager
    async def receive_task(self, idempotency_key: str | None = None) -> AsyncIterator[IncomingTask]:
        """A folder for a new task's uploads, if the queue and the disk have room (raises if not).
        A request whose Idempotency-Key already names a task is let in whatever the queue: it
        may get that task's id back.

        Whatever fails inside the block, the folder and everything written to it are removed.
        """
        known = await to_thread.run_sync(self._registry.find_by_key, idempotency_key) if idempotency_key else None
        if known is None:
            await to_thread.run_sync(self._require_queue_room)
        await self._require_disk_space()
        task_id = str(uuid.uuid4())
        self._storage.create_task_dir(task_id)
        try:
            yield IncomingTask(
                task_id,
                {
                    "video_file": self._storage.video_upload_path(task_id),
                    "audio_file": self._storage.audio_upload_path(task_id),
                },
                self._settings.max_upload_bytes,
                self._settings.min_free_disk_bytes,
            )
        except BaseException:
            # Synchronous on purpose: an awaited clean-up would not run if the request is cancelled.
            self._storage.discard_upload(task_id)
            raise

    async def create_task(
        self,
        incoming: IncomingTask,
        video_type: str | None,
        audio_type: str | None,
        model_choice: str,
        choices: RenderChoices,
        idempotency_key: str | None = None,
        webhook_url: str | None = None,
        result_url: str | None = None,
    ) -> tuple[TaskInfo, bool]:
        """Check the received uploads and register the task as queued; say whether it is new.

        A request repeating an Idempotency-Key with the same uploads and fields gets the task the
        key already names (nothing new starts); with anything different, IdempotencyConflict.
        Raises on bad input.
        """
        fields = (model_choice, *choices.fingerprint_parts(), webhook_url or "")
        fingerprint = incoming.fingerprint(*fields)
        if idempotency_key and (known := await to_thread.run_sync(self._registry.find_by_key, idempotency_key)):
            return self._replayed(known, fingerprint, incoming), False
        if webhook_url:
            await to_thread.run_sync(self._check_webhook, webhook_url)
        limits = validation.MediaLimits.from_settings(self._settings)
        media, video_extension, audio_extension = await to_thread.run_sync(
            file_checked_uploads,
            self._storage,
            incoming.task_id,
            limits,
            choices.sync_mode,
            (video_type, audio_type),
            choices.segments,
        )
        check_choices(choices, media, limits)
        # Off the loop: the first look at a Wav2Lip checkpoint reads hundreds of MB.
        await to_thread.run_sync(self.engines.require_available, model_choice)
        # A cheap early refusal before the inputs are sent to the bucket; `admit` below decides.
        await to_thread.run_sync(self._require_queue_room)
        task = TaskInfo(
            task_id=incoming.task_id,
            model_choice=model_choice,
            engine=self.engines.engine_name(model_choice),
            choices=choices,
            video_extension=video_extension,
            audio_extension=audio_extension,
            media=media,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
            webhook_url=webhook_url,
            result_url=result_url,
        )
        await to_thread.run_sync(self._storage.publish_inputs, task.task_id, video_extension, audio_extension)
        # Checked again in the same step as the task is added: other requests (on other hosts) may
        # have filled the queue, or taken the same key, while this one was uploading.
        admitted = await to_thread.run_sync(self._registry.admit, task, self._admission.limit, self._admission.counted)
        if admitted is not task:
            await to_thread.run_sync(remove_quietly, self._storage.remove_task, task.task_id)
            if admitted is None:
                raise QueueFull(_QUEUE_FULL)
            return self._replayed(admitted, fingerprint, incoming), False
        log_event(logger, "task.accepted", task_id=task.task_id, model=model_choice, sync_mode=choices.sync_mode.value)
        return task, True

    def _check_webhook(self, url: str) -> None:
        """Blocking (resolves the host)."""
        if not self._settings.webhook_secret:
            raise InvalidUpload("webhook_url", "this server sends no webhooks (WEBHOOK_SECRET is not set)")
        check_webhook_url(url, self._settings.webhook_allow_private)

    def _replayed(self, known: TaskInfo, fingerprint: str, incoming: IncomingTask) -> TaskInfo:
        """The task an Idempotency-Key names, if this request repeats it; the new uploads go."""
        self._storage.discard_upload(incoming.task_id)
        if known.fingerprint != fingerprint:
            raise IdempotencyConflict(
                "this Idempotency-Key was already used with different files or fields; use a new key"
            )
        log_event(logger, "task.replayed", task_id=known.task_id)
        return known

    async def process_task(self, task_id: str) -> None:
        """Hand an accepted task to the runner. If the queue cannot take it, the task fails."""
        try:
            await to_thread.run_sync(self._runner.submit, task_id)
        except ModelLabError as error:
            await to_thread.run_sync(self._fail_unqueued, task_id, error)

    async def get_status(self, raw_task_id: str) -> TaskInfo:
        return await to_thread.run_sync(self._registry.get, parse_task_id(raw_task_id))

    async def queue_position(self, task: TaskInfo) -> int | None:
        """1 for the next task to start, while the task is queued; None otherwise."""
        if task.status is not TaskState.QUEUED:
            return None
        queued = await to_thread.run_sync(self._registry.in_state, TaskState.QUEUED)
        return 1 + sum(other.created_at < task.created_at for other in queued)

    async def get_result(self, task: TaskInfo) -> StoredResult:
        """The finished result: its size, tag and where its bytes are."""
        stored = await to_thread.run_sync(self._storage.stored_result, task.task_id)
        if stored is None:
            raise ResultMissing(f"the result of task {task.task_id} is no longer on the server; send the task again")
        return stored

    async def result_link(self, stored: StoredResult, filename: str) -> str | None:
        """A short-lived URL of the result elsewhere when RESULT_REDIRECT is on, else None."""
        if not self._settings.result_redirect:
            return None
        return await to_thread.run_sync(self._storage.result_link, stored, filename, self._settings.result_url_ttl_s)

    def read_result(self, stored: StoredResult, start: int, end: int) -> Iterator[bytes]:
        """Bytes `start` to `end` (exclusive) of a result (blocking iterator)."""
        return self._storage.read_result(stored, start, end)

    async def cancel(self, raw_task_id: str) -> None:
        """Stop an active task (a running one stops after its current chunk) and delete its files."""
        await to_thread.run_sync(self._cancel, parse_task_id(raw_task_id))

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
            self._webhooks.announce(self._registry, task.task_id, TaskEvent.CANCELLED)
        else:
            self._registry.remove(task.task_id)
        # A running task's files are removed by its worker when it stops, after its current chunk
        # (unless that worker is gone).
        if task.status is not TaskState.PROCESSING or self._executor.is_stalled(task):
            self._storage.remove_task(task.task_id)
        log_event(logger, "task.deleted", task_id=task.task_id, was=task.status.value)

    async def models(self) -> list[ModelDescription]:
        return await to_thread.run_sync(self.engines.describe)

    async def queue_counts(self) -> tuple[int, int]:
        return await to_thread.run_sync(self._queue_counts)

    async def count_by_state(self) -> dict[TaskState, int]:  # for GET /metrics
        return await to_thread.run_sync(lambda: {state: self._registry.count(state) for state in TaskState})

    def _queue_counts(self) -> tuple[int, int]:
        return self._registry.count(TaskState.QUEUED), self._registry.count(TaskState.PROCESSING)

    async def check_ready(self) -> None:
        """Raise BackendUnavailable unless the task store and the object storage answer."""
        await to_thread.run_sync(self._check_ready)

    def _check_ready(self) -> None:
        self._registry.count(TaskState.QUEUED)
        self._storage.check_ready()

    def shutdown(self) -> None:
        self._runner.stop()

    async def _require_disk_space(self) -> None:
        free = await to_thread.run_sync(self._storage.free_bytes)
        if free < self._settings.min_free_disk_bytes:
            raise InsufficientStorage(
                f"the server is short of disk space ({free // (1024 * 1024)} MB free); try again later"
            )

    def _require_queue_room(self) -> None:
        if sum(self._registry.count(state) for state in self._admission.counted) >= self._admission.limit:
            raise QueueFull(_QUEUE_FULL)

    def _fail_unqueued(self, task_id: str, reason: ModelLabError) -> None:
        try:
            if self._registry.transition(
                task_id,
                frozenset({TaskState.QUEUED}),
                status=TaskState.FAILED,
                stage=Stage.FAILED,
                error=f"the job could not be queued: {reason.message}",
                error_code=reason.error_code.value,
                finished_at=utc_now(),
            ):
                self._storage.remove_inputs(task_id)
                self._webhooks.announce(self._registry, task_id, TaskEvent.FAILED)
                count_task_failure(reason.error_code.value)
        except ModelLabError:
            log_event(logger, "task.unqueued", logging.ERROR, task_id=task_id)
