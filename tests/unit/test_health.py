"""Health: status aggregation, the health+json document, readiness timeouts and caching."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from gatehouse.health.records import CheckResult, document, http_status, overall_status
from gatehouse.health.runtime import redis_down_status as _redis_down_status
from gatehouse.health.service import ReadinessCache, run_probes
from gatehouse.wiring import reset


def result(status):
    return CheckResult("dep", "responseTime", "datastore", status, 1.0, "ms")


@pytest.mark.parametrize(
    ("statuses", "expected", "code"),
    [(["pass", "pass"], "pass", 200), (["pass", "warn"], "warn", 200), (["warn", "fail", "pass"], "fail", 503)],
)
def test_worst_status_wins_and_only_fail_is_5xx(statuses, expected, code):
    overall = overall_status([result(s) for s in statuses])
    assert overall == expected
    assert http_status(overall) == code


def test_document_keys_checks_by_component_and_measurement():
    doc = document("pass", "1.2.3", "r1", [result("pass")])
    assert doc["checks"]["dep:responseTime"][0]["observedUnit"] == "ms"
    assert json.loads(json.dumps(doc))["version"] == "1.2.3"


def test_a_probe_that_hangs_fails_within_the_timeout():
    release = threading.Event()

    def hanging():
        release.wait(5)
        return result("pass")

    try:
        results = run_probes({"slow": hanging, "fast": lambda: result("pass")}, timeout_seconds=0.2)
    finally:
        release.set()
    by_component = {r.component: r for r in results}
    assert by_component["slow"].status == "fail"
    assert "no answer within" in by_component["slow"].output
    assert by_component["dep"].status == "pass"


def test_readiness_is_cached_so_the_endpoint_cannot_amplify_load():
    calls = []

    def probe():
        calls.append(1)
        return result("pass")

    cache = ReadinessCache()
    for _ in range(5):
        cache.get({"p": probe}, ttl_seconds=60, timeout_seconds=1)
    assert len(calls) == 1
    cache.get({"p": probe}, ttl_seconds=0, timeout_seconds=1)
    assert len(calls) == 2


def test_redis_down_is_warn_while_limits_fail_open_and_fail_when_one_is_closed(monkeypatch):
    reset()
    assert _redis_down_status() == "warn"
    closed = {
        "policies": {
            "strict": {"windows": [{"name": "minute", "limit": 5, "periodSeconds": 60}], "failureMode": "closed"}
        }
    }
    monkeypatch.setenv("RATELIMIT_POLICIES", json.dumps(closed))
    reset()
    try:
        assert _redis_down_status() == "fail"
    finally:
        monkeypatch.delenv("RATELIMIT_POLICIES")
        reset()


def test_a_probe_still_running_is_not_started_again():
    release = threading.Event()
    started = []

    def hanging():
        started.append(1)
        release.wait(5)
        return result("pass")

    try:
        run_probes({"stuck": hanging}, timeout_seconds=0.1)
        second = run_probes({"stuck": hanging}, timeout_seconds=0.1)
    finally:
        release.set()
    assert len(started) == 1
    assert second[0].status == "fail"


# -- what the public readiness document may say ----------------------------------------------------

TABLE = "prod-gatehouse-Table-1Q2W3E4R5T6Y"
GROUP = "prod-gatehouse-timers-7U8I9O"
DLQ_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/prod-gatehouse-SchedulerDlq-A1B2C3"


class InternalTableMissingError(Exception):
    """Stands for botocore's and redis-py's exceptions, whose class names and messages are internal."""


class FakeAws:
    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def _maybe_fail(self, resource: str) -> None:
        if self.fail:
            raise InternalTableMissingError(f"{resource} in account 123456789012 is not there")

    def get_item(self, TableName, Key):
        self._maybe_fail(TableName)
        return {}

    def get_schedule_group(self, Name):
        self._maybe_fail(Name)
        return {"Name": Name}

    def get_queue_attributes(self, QueueUrl, AttributeNames):
        self._maybe_fail(QueueUrl)
        return {"Attributes": {"ApproximateNumberOfMessages": "0"}}


class FakeRedis:
    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def ping(self):
        if self.fail:
            raise InternalTableMissingError("Error 111 connecting to cache-0001.internal:6379")
        return True


def readiness_document(monkeypatch, fail: bool) -> dict:
    from gatehouse.health import probes
    from gatehouse.settings import Settings

    monkeypatch.setattr(probes, "fail_fast_client", lambda service: FakeAws(fail))
    monkeypatch.setattr(probes, "redis_client", lambda: FakeRedis(fail))
    settings = Settings(table_name=TABLE, schedule_group=GROUP, scheduler_dlq_url=DLQ_URL)
    reached = probes.RedisReachability()
    reached.reached = True  # an instance that has had Redis: down is then the policy's `warn`
    checks = {
        "dynamodb": probes.dynamodb_probe(settings),
        "redis": probes.redis_probe(settings, status_when_down="warn", reachability=reached),
        "scheduler": probes.scheduler_probe(settings),
        "scheduler-dlq": probes.dead_letter_probe("scheduler-dlq", settings.scheduler_dlq_url),
    }
    results = [probe() for probe in checks.values()]
    return document(overall_status(results), "1.0.0", "r1", results)


@pytest.mark.parametrize("fail", [False, True], ids=["healthy", "failing"])
def test_public_readiness_names_components_and_statuses_never_resources_or_exceptions(monkeypatch, caplog, fail):
    # Given probes against resources with internal names, When readiness is rendered
    with caplog.at_level(logging.WARNING):
        doc = readiness_document(monkeypatch, fail)
    text = json.dumps(doc)
    # Then the document names no table, schedule group, queue, host, account or exception type
    for internal in (TABLE, GROUP, DLQ_URL, "prod-gatehouse", "123456789012", "InternalTableMissingError",
                     "cache-0001", "Error", "Exception"):  # fmt: skip
        assert internal not in text, internal
    assert set(doc["checks"]) == {
        "dynamodb:responseTime",
        "redis:responseTime",
        "scheduler:responseTime",
        "scheduler-dlq:messages",
    }
    allowed_fields = {"componentId", "componentType", "observedValue", "observedUnit", "status", "time", "output"}
    for key, (entry,) in doc["checks"].items():
        assert entry.keys() <= allowed_fields
        assert entry.get("componentId", key.split(":")[0]) == key.split(":")[0]
        assert entry["status"] == ("pass" if not fail else "warn" if key.startswith("redis") else "fail")
    # And the details an operator needs go to the log instead
    logged = json.dumps([vars(r) for r in caplog.records if r.name == "gatehouse.health.probes"], default=str)
    for detail in (TABLE, GROUP, DLQ_URL, "InternalTableMissingError"):
        assert (detail in logged) is fail, detail


def test_wiring_reset_forgets_the_cached_readiness(monkeypatch):
    # docs/architecture.md: gatehouse.wiring.reset() is the one way to rebuild what a process keeps.
    from gatehouse.health import probes
    from tests.helpers import FakeLambdaContext, http_event
    from tests.inprocess import load_handler

    monkeypatch.setenv("HEALTH_CACHE_SECONDS", "3600")
    monkeypatch.delenv("SCHEDULER_DLQ_URL", raising=False)
    failing = threading.Event()
    monkeypatch.setattr(probes, "fail_fast_client", lambda service: FakeAws(failing.is_set()))
    monkeypatch.setattr(probes, "redis_client", lambda: FakeRedis(failing.is_set()))
    reset()
    handler = load_handler("health")
    # Given a readiness result cached for an hour,
    assert handler(http_event("GET", "/health/ready"), FakeLambdaContext())["statusCode"] == 200
    failing.set()
    # When everything is rebuilt, Then readiness asks the dependencies again.
    reset()
    assert handler(http_event("GET", "/health/ready"), FakeLambdaContext())["statusCode"] == 503
    reset()


def test_breakers_not_closed_are_counted_and_an_unreadable_store_is_a_warn_without_details(caplog):
    from collections import Counter

    from gatehouse.health.probes import breakers_probe
    from gatehouse.resilience.records import FleetState

    closed = breakers_probe(lambda: (Counter({FleetState.CLOSED: 4}), False))()
    assert (closed.status, closed.observed_value) == ("pass", 0)
    some = breakers_probe(lambda: (Counter({FleetState.OPEN: 2, FleetState.ISOLATED: 1}), False))()
    assert (some.status, some.observed_value, some.output) == ("warn", 3, "open 2, half_open 0, isolated 1")

    def unreadable():
        raise ConnectionError("Error 111 connecting to cache-0001.internal:6379")

    with caplog.at_level(logging.WARNING):
        down = breakers_probe(unreadable)()
    assert (down.status, down.output) == ("warn", "unavailable")
    assert "cache-0001" not in json.dumps(down.to_json())
    assert "cache-0001" in caplog.records[-1].error  # the operator's detail is in the log


def test_redis_down_is_fail_until_it_has_answered_this_instance_then_warn(monkeypatch):
    from gatehouse.health import probes
    from gatehouse.settings import Settings

    client = FakeRedis(fail=True)
    monkeypatch.setattr(probes, "redis_client", lambda: client)
    reachability = probes.RedisReachability()
    probe = probes.redis_probe(Settings(), status_when_down="warn", reachability=reachability)
    # Given an instance that never reached Redis, Then down is fail (a deploy must not look healthy)
    assert probe().status == "fail"
    # When Redis answers once, and then goes down, Then it is the failure policy's warn
    client.fail = False
    assert probe().status == "pass"
    client.fail = True
    assert probe().status == "warn"


def test_a_reset_is_a_new_instance_for_readiness():
    from gatehouse.health import probes

    probes.redis_reachability.reached = True
    reset()
    assert probes.redis_reachability.reached is False
