"""The in-memory registry's atomic steps, which the Redis registry mirrors (tests/distributed)."""

import json
from dataclasses import replace

from app.pipeline.media.probe import MediaInfo
from app.pipeline.quality.report import QualityReport
from app.pipeline.timeline import SyncMode
from app.services.tasks.choices import RenderChoices
from app.services.tasks.memory_registry import InMemoryTaskRegistry
from app.services.tasks.model import ACTIVE_STATES, OutputInfo, TaskInfo, TaskState
from app.services.tasks.records import from_record, to_record


def _task(task_id: str, status: TaskState = TaskState.QUEUED) -> TaskInfo:
    return TaskInfo(
        task_id=task_id,
        model_choice="model1",
        engine="viseme",
        choices=RenderChoices(SyncMode.BOUNCE),
        audio_extension="wav",
        media=MediaInfo(duration_s=2.0, has_video=True, has_audio=False),
        status=status,
    )


def test_admit_refuses_once_the_counted_states_hold_the_limit():
    registry = InMemoryTaskRegistry()
    assert registry.admit(_task("a"), 2, ACTIVE_STATES)
    assert registry.admit(_task("b", TaskState.PROCESSING), 2, ACTIVE_STATES)
    assert not registry.admit(_task("c"), 2, ACTIVE_STATES)
    # Only queued tasks counted (distributed mode): the running one leaves room.
    assert registry.admit(_task("c"), 2, frozenset({TaskState.QUEUED}))
    assert registry.count(TaskState.QUEUED) == 2


def test_a_transition_with_expected_values_applies_only_while_they_hold():
    registry = InMemoryTaskRegistry()
    registry.add(replace(_task("a", TaskState.PROCESSING), attempt=2))
    running = frozenset({TaskState.PROCESSING})
    assert not registry.transition("a", running, expect={"attempt": 1}, progress=0.5)  # a stale run
    assert registry.get("a").progress == 0.0
    assert registry.transition("a", running, expect={"attempt": 2}, progress=0.5)
    assert registry.get("a").progress == 0.5


def test_records_written_before_attempts_existed_still_load():
    record = to_record(_task("a"))
    del record["attempt"], record["heartbeat_at"]
    task = from_record(record)
    assert task.attempt == 0 and task.heartbeat_at is None


def test_a_finished_tasks_output_and_quality_survive_its_record():
    finished = replace(
        _task("a", TaskState.FINISHED),
        output=OutputInfo(2.0, 50, 512, 512),
        quality=QualityReport.judged(0.2, 40.0, 0.5, 3.0),
    )
    restored = from_record(json.loads(json.dumps(to_record(finished))))
    assert restored == finished
    assert restored.quality.warnings == ["no face in 50 % of frames", "low lip-sync score: check the face choice"]
