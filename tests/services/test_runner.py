import os
import subprocess
import threading

from app.services.execution.threads import ThreadJobRunner


def test_jobs_run_in_submission_order_on_one_worker():
    order: list[str] = []
    done = threading.Event()
    runner = ThreadJobRunner(workers=1, run=lambda task_id: done.set() if task_id == "end" else order.append(task_id))
    for index in range(20):
        runner.submit(str(index))
    runner.submit("end")
    assert done.wait(10)
    runner.stop()
    assert order == [str(index) for index in range(20)]


def test_never_more_than_the_worker_count_at_once():
    changed = threading.Condition()
    running = peak = finished = 0
    release = threading.Event()

    def job(task_id: str) -> None:
        nonlocal running, peak, finished
        with changed:
            running += 1
            peak = max(peak, running)
            changed.notify_all()
        release.wait(10)
        with changed:
            running -= 1
            finished += 1
            changed.notify_all()

    runner = ThreadJobRunner(workers=2, run=job)
    for index in range(6):
        runner.submit(str(index))
    with changed:
        assert changed.wait_for(lambda: running == 2, timeout=10)
        release.set()
        assert changed.wait_for(lambda: finished == 6, timeout=10)
    runner.stop()
    assert peak == 2


def test_a_failing_job_does_not_stop_the_worker():
    done = threading.Event()
    runner = ThreadJobRunner(workers=1, run=lambda task_id: done.set() if task_id == "end" else 1 / 0)
    runner.submit("fails")
    runner.submit("end")
    assert done.wait(10)
    runner.stop()


def test_jobs_and_the_processes_they_start_run_nicer_than_the_server():
    server_niceness = os.getpriority(os.PRIO_PROCESS, 0)
    seen: dict[str, int] = {}
    done = threading.Event()

    def job(task_id: str) -> None:
        seen["thread"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        seen["child"] = int(subprocess.run(["nice"], capture_output=True, text=True, check=True).stdout)
        done.set()

    runner = ThreadJobRunner(workers=1, run=job)
    runner.submit("nice")
    assert done.wait(10)
    runner.stop()
    assert seen["thread"] == seen["child"] == min(19, server_niceness + 10)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == server_niceness
