"""The process's threads for the runs' blocking work (astm/agents/threads.py): one pool,
kept between runs; each run waits for its own work, and only its own."""

from __future__ import annotations

import threading

import pytest

from astm.agents import threads


def test_a_run_waits_for_its_own_work_and_not_for_another_runs() -> None:
    mine, other = threads.RunThreads(), threads.RunThreads()
    release_mine, release_other = threading.Event(), threading.Event()
    done: list[str] = []
    a = mine.submit(lambda: (release_mine.wait(10), done.append("mine")))
    b = other.submit(lambda: (release_other.wait(10), done.append("other")))
    waiter = threading.Thread(target=mine.shutdown)
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive()  # its work is still running
    release_mine.set()
    waiter.join(10)
    assert not waiter.is_alive() and a.done() and done == ["mine"]
    assert not b.done()  # the other run's work goes on; nobody waited for it
    release_other.set()
    b.result(10)
    other.shutdown()


def test_a_run_that_ended_takes_no_more_work() -> None:
    run = threads.RunThreads()
    assert run.submit(lambda: 41 + 1).result(10) == 42
    run.shutdown()
    with pytest.raises(RuntimeError):
        run.submit(lambda: None)


def test_runs_reuse_the_threads_and_close_ends_them() -> None:
    threads.close()  # a fresh pool (the tests before this one in the process used it)
    names: set[str] = set()
    for _ in range(10):
        run = threads.RunThreads()
        run.submit(lambda: names.add(threading.current_thread().name)).result(10)
        run.shutdown()
    # Kept, not made per run: a worker that has just finished may not be counted idle
    # yet when the next work comes, so a second one may start; never one per run.
    assert len(names) <= 2
    threads.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("astm_")]
    again = threads.RunThreads()  # the pool is made again on the next use
    assert again.submit(lambda: "ok").result(10) == "ok"
    again.shutdown()
