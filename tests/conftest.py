"""Fixtures shared by every suite: real local services, started once per test session."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from local.__main__ import find_bootstrap
from local.redis_server import RedisServer
from local.services import LocalServices
from local.stack import LocalStack
from tests import secret_log_guard, stack_runs

ROOT = Path(__file__).resolve().parents[1]

# A deadline is a timed assertion, and these machines are shared and noisy: no example is failed
# for being slow (the suites that set their own settings already say deadline=None).
settings.register_profile("gatehouse", deadline=None)
settings.load_profile("gatehouse")
FIXTURE_TEMPLATE = ROOT / "tests" / "fixtures" / "template.yaml"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A redis-server of the test session's own, on a free port (stopped at the end)."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture(scope="session", autouse=True)
def _no_secret_in_any_log_line() -> Iterator[None]:
    """Captures every log record of the session and fails it if one holds a secret a test used
    (tests/secret_log_guard.py). The product's own generators are wrapped to remember what they mint."""
    from gatehouse.keys import api_key_format
    from gatehouse.webhooks import source_service

    handler = secret_log_guard.CapturingHandler(level=logging.DEBUG)
    loggers = [logging.getLogger(), logging.getLogger("gatehouse")]
    for logger in loggers:
        logger.addHandler(handler)
    patch = pytest.MonkeyPatch()

    def remembered(generate: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            value = generate(*args, **kwargs)
            secret_log_guard.remember(value)
            return value

        return wrapper

    patch.setattr(api_key_format, "generate", remembered(api_key_format.generate))
    patch.setattr(source_service, "generated_secret", remembered(source_service.generated_secret))
    try:
        yield
    finally:
        patch.undo()
        for logger in loggers:
            logger.removeHandler(handler)
    leaks = secret_log_guard.leaks()
    assert not leaks, f"secrets in log lines: {leaks[:5]}"


# The environment before any local stack applied its own (a stack's is process-wide while it runs).
_PRISTINE_ENV = dict(os.environ)


@pytest.fixture(autouse=True)
def _unit_tests_use_no_local_endpoints(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Unit tests run on moto's in-process mock and see none of a local stack's environment
    (endpoints, table names, POWERTOOLS_* …), whichever tests ran before them in this process:
    nor anything wired from it (settings, clients), which is dropped before and after the test."""
    if "tests/unit/" not in str(request.node.path).replace("\\", "/"):
        yield
        return
    # A stack started earlier in this process keeps running its sweep every minute, in this process:
    # held meanwhile, so that it neither runs on this test's environment and wiring (moto's in-process
    # mock, its tables and logs) nor has its wiring rebuilt under it mid-run.
    with stack_runs.scheduled_runs_held():
        stale = [n for n in os.environ if n not in _PRISTINE_ENV or n.startswith("AWS_ENDPOINT_URL")]
        changed = [
            n for n, v in _PRISTINE_ENV.items() if not n.startswith("AWS_ENDPOINT_URL") and os.environ.get(n) != v
        ]
        for name in stale:
            monkeypatch.delenv(name)
        for name in changed:
            monkeypatch.setenv(name, _PRISTINE_ENV[name])
        if stale or changed:
            from gatehouse import wiring

            wiring.reset()  # built from a stack's environment
            yield
            # The stack's environment back first (the fixtures set up after this one are torn down
            # already), then nothing wired from the pristine one is left: whatever is wired next,
            # by a test or a runner, is built from the stack's.
            monkeypatch.undo()
            wiring.reset()
        else:
            yield


@pytest.fixture(autouse=True)
def _aws_test_credentials(monkeypatch: pytest.MonkeyPatch, _unit_tests_use_no_local_endpoints: None) -> None:
    """Dummy credentials so no test can ever reach a real AWS account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


# -- the local stack: real DynamoDB Local, moto and Redis, started once per session and shared --


@pytest.fixture(scope="session")
def local_services() -> Iterator[LocalServices]:
    """One DynamoDB Local, moto server and redis-server for every stack of the session."""
    # Each pytest-xdist worker has a stack of its own, so each writes logs of its own.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    services = LocalServices(log_dir=ROOT / ".gatehouse" / "test-logs" / worker).start()
    try:
        yield services
    finally:
        services.stop()


@pytest.fixture(scope="session")
def local_stack(local_services: LocalServices) -> Iterator[LocalStack]:
    """The product's template.yaml running locally (authorizer cache TTL from GATEHOUSE_TEST_AUTHORIZER_TTL)."""
    stack = LocalStack(
        ROOT / "template.yaml",
        parameter_overrides={"AuthorizerCacheTtl": os.environ.get("GATEHOUSE_TEST_AUTHORIZER_TTL", "1")},
        # Timers fire within a fifth of a second of their at() second here (the contract: at least every second).
        extra_env={"HEALTH_CACHE_SECONDS": "1", "GATEHOUSE_LOCAL_SCHEDULER_POLL_SECONDS": "0.2"},
        bootstrap=find_bootstrap(),
        services=local_services,
    )
    with stack_runs.started(stack):
        yield stack


@pytest.fixture(scope="session")
def fixture_stack(local_services: LocalServices) -> Iterator[LocalStack]:
    """The test-only template (tests/fixtures/template.yaml): echo, test authorizer, consumer, timers, tick."""
    stack = LocalStack(
        FIXTURE_TEMPLATE,
        extra_env={
            "GATEHOUSE_LOCAL_RATE_SECONDS": "0.3",
            "GATEHOUSE_LOCAL_RETRY_SECONDS": "0.05",
            "GATEHOUSE_LOCAL_SCHEDULER_POLL_SECONDS": "0.2",
        },
        services=local_services,
    )
    with stack_runs.started(stack):
        yield stack


@pytest.fixture
def scheduled_runs_held(local_stack: LocalStack) -> Iterator[None]:
    """For a test that drives TimerSweepFunction by hand, or changes its settings with `stack_env`:
    the stack's own sweep (every minute, in this process, on the environment the test set) is held,
    so that what the test's sweep reports is what it did, and no other sweep acts on its settings."""
    with stack_runs.scheduled_runs_held():
        yield


@pytest.fixture
def fixture_module(fixture_stack: LocalStack) -> Callable[[str], Any]:
    """The loaded module of a fixture function (its module globals record what it received)."""
    return fixture_stack.function_module


def _wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s", pytrace=False)
        time.sleep(interval)


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    """`wait_until(predicate, timeout=10)`: polls with short sleeps, fails the test when the time is up."""
    return _wait_until


# The longest files, started first: `make test` runs files whole on two workers (xdist
# --dist loadfile --no-loadscope-reorder: handed out in collection order, not by how many tests
# a file has), so a long file handed out last would run alone at the end while the other worker
# idles (the OpenAPI fuzz, one test, takes about 100 s).
_LONGEST_FIRST = ("test_fuzz_openapi.py", "test_console_browser.py", "test_campaigns_http.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return _LONGEST_FIRST.index(name) if name in _LONGEST_FIRST else len(_LONGEST_FIRST)

    items.sort(key=rank)  # stable: every file keeps its own order, the rest keep theirs
