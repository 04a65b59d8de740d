"""The health+json document: check results, their aggregation and rendering."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from gatehouse.times import to_rfc3339

Status = Literal["pass", "warn", "fail"]
MEDIA_TYPE = "application/health+json"
_SEVERITY: dict[str, int] = {"pass": 0, "warn": 1, "fail": 2}


def utc_now_rfc3339() -> str:
    return to_rfc3339(time.time())


@dataclass(frozen=True)
class CheckResult:
    """One `component:measurement` entry of the checks object.

    Everything here is public (readiness answers anyone): `component` is Gatehouse's own name for
    the dependency ("dynamodb", "redis", "scheduler", "scheduler-dlq"), also rendered as its
    componentId, and `output` a fixed phrase. Resource names and errors go to the log.
    """

    component: str
    measurement: str
    component_type: str
    status: Status
    observed_value: float | int | None = None
    observed_unit: str | None = None
    output: str | None = None
    time: str = field(default_factory=utc_now_rfc3339)

    @property
    def key(self) -> str:
        return f"{self.component}:{self.measurement}"

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "componentId": self.component,
            "componentType": self.component_type,
            "observedValue": self.observed_value,
            "observedUnit": self.observed_unit,
            "status": self.status,
            "time": self.time,
            "output": self.output,
        }
        return {k: v for k, v in entry.items() if v is not None}


def overall_status(results: list[CheckResult]) -> Status:
    worst: Status = "pass"
    for result in results:
        if _SEVERITY[result.status] > _SEVERITY[worst]:
            worst = result.status
    return worst


def redis_down_status(when_down: Status, *, reached_before: bool) -> Status:
    """How bad an unreachable Redis is: `fail` while it has never answered this instance, else the
    failure policy's word (`warn` while every rate-limit policy fails open)."""
    return when_down if reached_before else "fail"


def http_status(status: Status) -> int:
    """pass and warn are 2xx, fail is 5xx (the draft's rule)."""
    return 503 if status == "fail" else 200


def document(status: Status, version: str, release_id: str, results: list[CheckResult] | None = None) -> dict:
    doc: dict[str, Any] = {
        "status": status,
        "version": version,
        "releaseId": release_id,
        "serviceId": "gatehouse",
        "description": "Gatehouse API edge",
    }
    if results is not None:
        checks: dict[str, list[dict[str, Any]]] = {}
        for result in results:
            checks.setdefault(result.key, []).append(result.to_json())
        doc["checks"] = checks
    return doc


Probe = Callable[[], CheckResult]
"""One dependency's check: cheap, bounded by its own timeouts, never raising for an outage."""
