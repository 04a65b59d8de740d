"""Health: status aggregation, the health+json document, readiness timeouts and caching."""

from __future__ import annotations

import json
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
