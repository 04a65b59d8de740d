"""The local stacks this test process started, and a way to hold their scheduled runs.

A stack's runners run in this process, and so do the functions they invoke: the product template's
rate event runs TimerSweepFunction every minute, with whatever environment and wiring the process
has at that moment. A test that changes them (a unit test's pristine environment, moto's in-process
mock, a `stack_env` for the sweep's own settings) or that drives the sweep by hand holds these runs
while it does, so that no run of the stack's own shares its environment or races its sweep.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

STARTED: list[Any] = []  # LocalStack objects: tests/conftest.py adds each one it starts, removes it once stopped


@contextmanager
def started(stack: Any) -> Iterator[Any]:
    """`stack` started and in STARTED while this is held; removed, then stopped, after."""
    stack.start()
    STARTED.append(stack)
    try:
        yield stack
    finally:
        STARTED.remove(stack)
        stack.stop()


@contextmanager
def scheduled_runs_held() -> Iterator[None]:
    """No scheduled run of any started stack starts while this is held, and none is still running in it."""
    with ExitStack() as held:
        for stack in list(STARTED):
            runner = stack.rate_runner
            if runner is not None:
                held.enter_context(runner.paused())
        yield


@contextmanager
def timed_runs_held() -> Iterator[None]:
    """scheduled_runs_held(), and no EventBridge Scheduler poll of any started stack either (one under
    way finishes first): for a test that points the process's wiring at another Redis or environment
    for a while, so that no run the stack starts on a clock of its own begins then. Not held: schedule
    deliveries a poll already dispatched (and their retries), and the queue and bus consumers."""
    with ExitStack() as held:
        held.enter_context(scheduled_runs_held())
        for stack in list(STARTED):
            runner = stack.scheduler_runner
            if runner is not None:
                held.enter_context(runner.paused())
        yield
