import os
import subprocess
import threading

from app.services.runner import ThreadJobRunner


def test_jobs_run_in_submission_order_on_one_worker():
    runner = ThreadJobRunner(workers=1)
    order: list[int] = []
    done = threading.Event()
    for index in range(20):
        runner.submit(lambda index=index: order.append(index))
    runner.submit(done.set)
    assert done.wait(10)
    runner.stop()
    assert order == list(range(20))


def test_never_more_than_the_worker_count_at_once():
    runner = ThreadJobRunner(workers=2)
    changed = threading.Condition()
    running = peak = finished = 0
    release = threading.Event()

    def job() -> None:
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

    for _ in range(6):
        runner.submit(job)
    with changed:
        assert changed.wait_for(lambda: running == 2, timeout=10)
        release.set()
        assert changed.wait_for(lambda: finished == 6, timeout=10)
    runner.stop()
    assert peak == 2


def test_a_failing_job_does_not_stop_the_worker():
    runner = ThreadJobRunner(workers=1)
    done = threading.Event()
    runner.submit(lambda: 1 / 0)
    runner.submit(done.set)
    assert done.wait(10)
    runner.stop()


def test_jobs_and_the_processes_they_start_run_nicer_than_the_server():
    server_niceness = os.getpriority(os.PRIO_PROCESS, 0)
    runner = ThreadJobRunner(workers=1)
    seen: dict[str, int] = {}
    done = threading.Event()

    def job() -> None:
        seen["thread"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        seen["child"] = int(subprocess.run(["nice"], capture_output=True, text=True, check=True).stdout)
        done.set()

    runner.submit(job)
    assert done.wait(10)
    runner.stop()
    assert seen["thread"] == seen["child"] == min(19, server_niceness + 10)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == server_niceness
