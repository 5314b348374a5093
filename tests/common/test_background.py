"""Work handed to the background thread (common/background.py): after the response, after the
commit, and waiting for it."""

from __future__ import annotations

import threading

import pytest

from common import background

# --- The after-response mechanism itself ---------------------------------------------------


def test_a_job_deferred_in_a_request_waits_for_the_response():
    worker = background.BackgroundWorker(thread_name_prefix="test")
    ran: list[str] = []
    worker.request_started()
    worker.after_response(lambda: ran.append("job"), kind="test")
    assert ran == []
    worker.request_finished()
    assert ran == ["job"]
    worker.request_finished()  # a second close (a streaming response) runs nothing twice
    assert ran == ["job"]


def test_jobs_of_one_request_thread_never_run_at_the_end_of_another(settings):
    worker = background.BackgroundWorker(thread_name_prefix="test")
    ran: list[str] = []
    worker.request_started()
    worker.after_response(lambda: ran.append("first"), kind="test")
    other = threading.Thread(target=lambda: (worker.request_started(), worker.request_finished()))
    other.start()
    other.join()
    assert ran == []
    worker.request_finished()
    assert ran == ["first"]


@pytest.mark.django_db
def test_outside_a_request_a_job_waits_for_the_commit(django_capture_on_commit_callbacks):
    worker = background.BackgroundWorker(thread_name_prefix="test")
    ran: list[str] = []
    with django_capture_on_commit_callbacks() as callbacks:
        worker.after_response(lambda: ran.append("job"), kind="test")
        assert ran == []
    for callback in callbacks:
        callback()
    assert ran == ["job"]


def test_waiting_covers_jobs_queued_by_jobs(settings):
    settings.QUICKBOT_EMAIL_ASYNC = True
    worker = background.BackgroundWorker(thread_name_prefix="test")
    ran: list[str] = []
    gate = threading.Event()

    def first():
        gate.wait()
        worker.submit(lambda: ran.append("second"), kind="test")
        ran.append("first")

    worker.submit(first, kind="test")
    gate.set()
    worker.wait_for_idle(timeout=5)
    assert ran == ["first", "second"]
    worker.shutdown()


def test_waiting_gives_up_with_a_timeout(settings):
    settings.QUICKBOT_EMAIL_ASYNC = True
    worker = background.BackgroundWorker(thread_name_prefix="test")
    gate = threading.Event()
    worker.submit(gate.wait, kind="test")
    with pytest.raises(TimeoutError):
        worker.wait_for_idle(timeout=0.05)
    gate.set()
    worker.shutdown()
