"""GET /health touches no dependency: not even the metrics store (the readiness route does count)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from gatehouse import api
from tests.helpers import FakeLambdaContext, http_event

ROOT = Path(__file__).resolve().parents[2]


def _health_handler():
    spec = importlib.util.spec_from_file_location("health_app_for_liveness", ROOT / "functions/health/app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


def test_liveness_is_not_written_to_the_metrics_store(monkeypatch):
    recorded = []
    monkeypatch.setattr(api, "record_invocation", lambda sample, tally: recorded.append(sample))
    answer = _health_handler()(http_event("GET", "/health"), FakeLambdaContext())
    assert answer["statusCode"] == 200
    assert recorded == []
