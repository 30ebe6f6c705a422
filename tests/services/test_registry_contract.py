"""The task registry's contract (app/services/tasks/registry.py), run against every implementation.

A new backend is one branch in `registry` below and one entry in its params. The Redis one runs on
a real redis-server, started once for the module with production's durable settings.
"""

import threading
from collections.abc import Iterator
from dataclasses import MISSING, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from app.errors import TaskNotFound
from app.pipeline.face.speaker import SpeakerChoice
from app.pipeline.media.output_controls import VideoQuality
from app.pipeline.media.probe import MediaInfo
from app.pipeline.quality.report import QualityReport
from app.pipeline.segments import Segment
from app.pipeline.silence_rest import SilenceMode
from app.pipeline.timeline import SyncMode
from app.services.tasks.choices import RenderChoices
from app.services.tasks.memory_registry import DurableTaskRegistry, InMemoryTaskRegistry
from app.services.tasks.model import ACTIVE_STATES, OutputInfo, TaskInfo, TaskState, utc_now
from app.services.tasks.records import read_records, write_record
from app.services.tasks.redis_registry import RedisTaskRegistry
from app.services.tasks.registry import TaskRegistry
from app.stages import Stage
from tests.distributed.servers import RedisServer, serving
from tests.services.test_registry import _task

QUEUED_ONLY = frozenset({TaskState.QUEUED})
PROCESSING_ONLY = frozenset({TaskState.PROCESSING})


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    root = tmp_path_factory.mktemp("registry-redis")
    with serving(RedisServer(root / "data", root / "redis.log")) as server:
        yield server


def _durable(records_dir: Path) -> DurableTaskRegistry:
    """Mirrored as production mirrors it (wiring.task_registry), each task in its own folder."""

    def write(task: TaskInfo) -> None:
        task_dir = records_dir / task.task_id
        task_dir.mkdir(parents=True, exist_ok=True)  # made by create_task_dir in production
        write_record(task_dir, task)

    return DurableTaskRegistry(write)


@pytest.fixture(params=["memory", "durable", pytest.param("redis", marks=pytest.mark.distributed)])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> TaskRegistry:
    if request.param == "memory":
        return InMemoryTaskRegistry()
    if request.param == "durable":
        return _durable(tmp_path / "records")
    server: RedisServer = request.getfixturevalue("redis_server")
    redis.Redis.from_url(server.url).flushdb()  # every test starts from an empty store
    return RedisTaskRegistry(server.url)


def _every_field_set(task_id: str) -> TaskInfo:
    """A task whose every field differs from its default, so that a field lost on the way shows."""
    created = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    return TaskInfo(
        task_id=task_id,
        model_choice="model2",
        engine="wav2lip",
        audio_extension="mp3",
        media=MediaInfo(
            duration_s=2.5,
            has_video=True,
            has_audio=True,
            width=640,
            height=360,
            fps=25.0,
            rotation=90,
            frames_decoded=13,
            color_matrix="bt709",
            decodes=True,
        ),
        video_extension="mkv",
        status=TaskState.FINISHED,
        stage=Stage.DONE,
        progress=1.0,
        error="a note from the run",
        error_code="internal",
        created_at=created,
        started_at=created + timedelta(seconds=1.5),
        finished_at=created + timedelta(seconds=9.25),
        attempt=2,
        heartbeat_at=created + timedelta(seconds=8),
        output=OutputInfo(duration_s=2.48, frames=62, width=640, height=360),
        quality=QualityReport(sync_score=0.5, offset_ms=-40.0, face_frames=0.75, speech_s=1.25, warnings=["a warning"]),
        idempotency_key="order-7",
        fingerprint="sha256:0123abcd",
        webhook_url="https://hooks.example.com/modellab",
        result_url="https://api.example.com/result/x",
        choices=RenderChoices(
            sync_mode=SyncMode.REMAP,
            silence=SilenceMode.ANIMATE,
            speaker=SpeakerChoice.AUTO,
            segments=(Segment(0.5, 1.25, 0.0), Segment(1.5, 2.0, 0.75)),
            face_point=(0.25, 0.75),
            output_height=360,
            video_quality=VideoQuality.HIGH,
        ),
    )


def _ids(tasks: list[TaskInfo]) -> set[str]:
    return {task.task_id for task in tasks}


def test_a_task_reads_back_with_every_field_as_added(registry: TaskRegistry):
    task = _every_field_set("full")
    for field in fields(TaskInfo):
        if field.default is not MISSING:
            assert getattr(task, field.name) != field.default, f"{field.name} is left at its default"
    for field in fields(RenderChoices):
        assert getattr(task.choices, field.name) != field.default, f"choices.{field.name} is left at its default"
    registry.add(task)
    assert registry.get("full") == task
    assert isinstance(registry.get("full").choices.face_point, tuple)
    assert registry.all() == [task]


def test_fields_a_transition_leaves_alone_keep_their_exact_values(registry: TaskRegistry):
    media = MediaInfo(duration_s=1 / 3, has_video=True, has_audio=True, fps=30000 / 1001)
    task = replace(_task("a"), media=media, choices=RenderChoices(face_point=(0.1234567890123456, 2 / 3)))
    registry.add(task)
    assert registry.transition("a", QUEUED_ONLY, progress=0.5)
    assert registry.get("a") == replace(task, progress=0.5)


def test_a_quality_report_without_warnings_reads_back_as_set_by_its_transition(registry: TaskRegistry):
    task = _task("a", TaskState.PROCESSING)
    registry.add(task)
    quality = QualityReport(sync_score=0.75, offset_ms=0.0, face_frames=1.0, speech_s=1.5, warnings=[])
    assert registry.transition("a", PROCESSING_ONLY, status=TaskState.FINISHED, quality=quality)
    assert registry.get("a") == replace(task, status=TaskState.FINISHED, quality=quality)


def test_an_unknown_task_id_raises_task_not_found(registry: TaskRegistry):
    with pytest.raises(TaskNotFound):
        registry.get("never-added")
    registry.add(_task("a"))
    registry.remove("a")
    with pytest.raises(TaskNotFound):
        registry.get("a")


def test_admit_adds_tasks_while_the_counted_states_hold_fewer_than_the_limit(registry: TaskRegistry):
    first, running = _task("first"), _task("running", TaskState.PROCESSING)
    assert registry.admit(first, 2, ACTIVE_STATES) == first
    assert registry.admit(running, 2, ACTIVE_STATES) == running
    # At the limit: refused, and nothing is added.
    assert registry.admit(_task("refused"), 2, ACTIVE_STATES) is None
    with pytest.raises(TaskNotFound):
        registry.get("refused")
    # Counting only the queued tasks (distributed mode), the running one leaves room.
    third, fourth = _task("third"), _task("fourth")
    assert registry.admit(third, 2, QUEUED_ONLY) == third
    assert registry.admit(fourth, 2, QUEUED_ONLY) is None
    # Ended tasks are never counted.
    assert registry.transition("first", ACTIVE_STATES, status=TaskState.FINISHED)
    assert registry.admit(fourth, 2, QUEUED_ONLY) == fourth
    assert registry.count(TaskState.QUEUED) == 2
    assert _ids(registry.all()) == {"first", "running", "third", "fourth"}


def test_admit_is_one_atomic_step_under_concurrent_requests(registry: TaskRegistry):
    admitted: list[TaskInfo | None] = []
    start = threading.Barrier(8)

    def submit(index: int) -> None:
        start.wait()
        admitted.append(registry.admit(_task(f"t{index}"), 3, ACTIVE_STATES))

    threads = [threading.Thread(target=submit, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sum(task is not None for task in admitted) == 3
    assert registry.count(TaskState.QUEUED) == 3


def test_admit_returns_the_task_holding_the_idempotency_key_instead_of_adding(registry: TaskRegistry):
    holder = replace(_task("holder"), idempotency_key="order-7")
    assert registry.admit(holder, 10, ACTIVE_STATES) == holder
    repeated = replace(_task("repeated"), idempotency_key="order-7")
    assert registry.admit(repeated, 10, ACTIVE_STATES) == holder
    # The holder is returned even when the queue is full: the client gets its task, not a 503.
    assert registry.admit(repeated, 0, ACTIVE_STATES) == holder
    with pytest.raises(TaskNotFound):
        registry.get("repeated")
    assert registry.find_by_key("order-7") == holder
    assert registry.find_by_key("order-8") is None


def test_a_cancelled_task_no_longer_holds_its_idempotency_key(registry: TaskRegistry):
    first = replace(_task("first"), idempotency_key="order-7")
    registry.admit(first, 10, ACTIVE_STATES)
    assert registry.transition("first", ACTIVE_STATES, status=TaskState.CANCELLED)
    assert registry.find_by_key("order-7") is None
    second = replace(_task("second"), idempotency_key="order-7")
    assert registry.admit(second, 10, ACTIVE_STATES) == second
    assert registry.find_by_key("order-7") == second
    # An ended (not cancelled) task keeps its key.
    assert registry.transition("second", ACTIVE_STATES, status=TaskState.FINISHED)
    assert registry.find_by_key("order-7").task_id == "second"


def test_removing_a_cancelled_task_leaves_its_key_to_the_task_that_took_it(registry: TaskRegistry):
    registry.admit(replace(_task("first"), idempotency_key="order-7"), 10, ACTIVE_STATES)
    registry.transition("first", ACTIVE_STATES, status=TaskState.CANCELLED)
    second = replace(_task("second"), idempotency_key="order-7")
    registry.admit(second, 10, ACTIVE_STATES)
    registry.remove("first")  # the sweep deletes the expired, cancelled one
    assert registry.find_by_key("order-7") == second
    assert registry.admit(replace(_task("third"), idempotency_key="order-7"), 10, ACTIVE_STATES) == second


def test_a_transition_applies_every_change_while_the_task_is_in_an_allowed_state(registry: TaskRegistry):
    task = _task("a", TaskState.PROCESSING)
    registry.add(task)
    finished_at = utc_now()
    output = OutputInfo(duration_s=2.0, frames=50, width=512, height=512)
    assert registry.transition(
        "a",
        PROCESSING_ONLY,
        status=TaskState.FINISHED,
        stage=Stage.DONE,
        progress=1.0,
        finished_at=finished_at,
        output=output,
    )
    expected = replace(
        task, status=TaskState.FINISHED, stage=Stage.DONE, progress=1.0, finished_at=finished_at, output=output
    )
    assert registry.get("a") == expected
    # Finished is not an allowed state for this change: refused, nothing changes.
    assert not registry.transition("a", ACTIVE_STATES, status=TaskState.CANCELLED, error="too late")
    assert registry.get("a") == expected
    assert not registry.transition("never-added", ACTIVE_STATES, status=TaskState.CANCELLED)


def test_a_transition_applies_only_while_the_expected_values_hold(registry: TaskRegistry):
    task = replace(_task("a", TaskState.PROCESSING), attempt=2)
    registry.add(task)
    # A stale run (attempt 1) may not report; heartbeat_at still None may be expected as such.
    assert not registry.transition("a", PROCESSING_ONLY, expect={"attempt": 1}, progress=0.5)
    assert registry.get("a") == task
    beat = utc_now()
    assert registry.transition("a", PROCESSING_ONLY, expect={"attempt": 2, "heartbeat_at": None}, heartbeat_at=beat)
    # The requeue of a stalled run: only if nobody reported since it looked (the beat it saw).
    seen = {"attempt": 2, "heartbeat_at": beat}
    assert not registry.transition("a", PROCESSING_ONLY, expect={**seen, "heartbeat_at": beat - timedelta(seconds=1)})
    assert registry.get("a") == replace(task, heartbeat_at=beat)
    assert registry.transition("a", PROCESSING_ONLY, expect=seen, status=TaskState.QUEUED, stage=Stage.QUEUED)
    assert registry.get("a") == replace(task, heartbeat_at=beat, status=TaskState.QUEUED, stage=Stage.QUEUED)


def test_count_in_state_and_all_follow_transitions(registry: TaskRegistry):
    tasks = {task_id: _task(task_id) for task_id in ("a", "b", "c")}
    for task in tasks.values():
        registry.add(task)
    assert registry.transition("b", QUEUED_ONLY, status=TaskState.PROCESSING)
    assert registry.transition("c", QUEUED_ONLY, status=TaskState.PROCESSING)
    assert registry.transition("c", PROCESSING_ONLY, status=TaskState.FAILED, error="broken")
    assert {state: registry.count(state) for state in TaskState} == {
        TaskState.QUEUED: 1,
        TaskState.PROCESSING: 1,
        TaskState.FINISHED: 0,
        TaskState.FAILED: 1,
        TaskState.CANCELLED: 0,
    }
    assert [task.task_id for task in registry.in_state(TaskState.PROCESSING)] == ["b"]
    assert registry.in_state(TaskState.FAILED) == [replace(tasks["c"], status=TaskState.FAILED, error="broken")]
    assert registry.in_state(TaskState.FINISHED) == []
    assert {task.task_id: task.status for task in registry.all()} == {
        "a": TaskState.QUEUED,
        "b": TaskState.PROCESSING,
        "c": TaskState.FAILED,
    }


def test_remove_is_idempotent_and_frees_the_idempotency_key(registry: TaskRegistry):
    registry.admit(replace(_task("a"), idempotency_key="order-7"), 10, ACTIVE_STATES)
    registry.add(_task("b"))
    registry.remove("a")
    registry.remove("a")
    registry.remove("never-added")
    assert registry.find_by_key("order-7") is None
    assert registry.count(TaskState.QUEUED) == 1
    assert _ids(registry.all()) == {"b"}
    again = replace(_task("again"), idempotency_key="order-7")
    assert registry.admit(again, 10, ACTIVE_STATES) == again


def test_restore_puts_back_a_task_as_it_was(registry: TaskRegistry):
    task = _every_field_set("full")
    registry.restore(task)
    assert registry.get("full") == task
    assert registry.count(TaskState.FINISHED) == 1
    assert registry.in_state(TaskState.FINISHED) == [task]
    assert registry.find_by_key("order-7") == task


def test_restoring_a_known_task_replaces_it_in_every_view(registry: TaskRegistry):
    finished = _task("a", TaskState.FINISHED)
    registry.add(_task("a"))
    registry.restore(finished)
    assert registry.get("a") == finished
    assert registry.count(TaskState.QUEUED) == 0
    assert registry.in_state(TaskState.QUEUED) == []
    assert registry.in_state(TaskState.FINISHED) == [finished]


def test_a_healthy_store_reports_no_outage_and_passes_the_durability_check(registry: TaskRegistry):
    registry.add(_task("a"))
    registry.count(TaskState.QUEUED)
    assert registry.answering_since() is None
    registry.check_durable()


def test_durable_records_read_back_as_the_registry_holds(tmp_path: Path):
    records_dir = tmp_path / "records"
    registry = _durable(records_dir)
    registry.add(_every_field_set("full"))
    registry.admit(replace(_task("admitted"), idempotency_key="order-8"), 10, ACTIVE_STATES)
    registry.add(_task("running"))
    registry.transition("running", QUEUED_ONLY, status=TaskState.PROCESSING, started_at=utc_now(), attempt=1)
    # Progress alone is not worth a disk write (a restart redoes the work) ...
    registry.transition("running", PROCESSING_ONLY, progress=0.5)
    assert read_records(records_dir)[0] != sorted(registry.all(), key=lambda task: task.created_at)
    # ... the next lasting change writes the whole task.
    registry.transition("running", PROCESSING_ONLY, status=TaskState.FAILED, error="broken", finished_at=utc_now())
    tasks, broken = read_records(records_dir)
    assert broken == []
    assert tasks == sorted(registry.all(), key=lambda task: task.created_at)
