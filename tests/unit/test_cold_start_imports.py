"""What a function's import leaves for later (docs/metrics.md#cold-start), checked without a clock.

Each case imports one function's `app` in a fresh interpreter, the way Lambda loads it, and
looks at what it loaded: a timed assertion would fail on a busy machine, these do not.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTTP_FUNCTIONS = sorted(
    p.parent.name for p in ROOT.glob("functions/*/app.py") if "gatehouse.api" in p.read_text(encoding="utf-8")
)
# Built at import on purpose: the settings every first request reads. (The default rate-limit
# policies are constants made without validation, so Policy and Window wait for a document.)
BUILT_AT_IMPORT = {"gatehouse.settings.Settings"}

_PROBE = """
import json, sys
import pydantic
import app

def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)

models = {
    f"{c.__module__}.{c.__qualname__}": c
    for c in subclasses(pydantic.BaseModel)
    if c.__module__.startswith("gatehouse")
}
built = sorted(name for name, c in models.items() if c.__pydantic_complete__)
print(json.dumps({"modules": sorted(sys.modules), "defined": sorted(models), "built": built}))
"""


@functools.cache  # one fresh interpreter per function, whichever tests read what it loaded
def _import_function(name: str) -> dict[str, list[str]]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "layers" / "common"), "AWS_DEFAULT_REGION": "us-east-1"}
    env["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=ROOT / "functions" / name,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_there_are_http_functions():
    assert {"campaigns", "docs", "health", "keys"} <= set(HTTP_FUNCTIONS)


@pytest.mark.parametrize("name", HTTP_FUNCTIONS)
def test_no_request_or_answer_model_is_built_at_import(name):
    # Given defer_build on every API model (gatehouse/models.py), a model's validator is built by
    # the first request that uses it, so a function pays only for the models of the route it serves.
    built = set(_import_function(name)["built"])
    assert built <= BUILT_AT_IMPORT, f"built at import: {sorted(built - BUILT_AT_IMPORT)}"


def test_the_campaigns_function_leaves_the_campaigns_and_timers_areas_to_the_first_request():
    # Given routes that import the use cases at their first call and answers that name their views
    # (routes/declare.py JsonAnswer), the import defines only what Powertools reads from the
    # handlers' signatures: the request bodies. Records, views, use cases and adapters of the
    # campaigns, timers, callbacks and events areas (about 70 classes) wait for a request.
    loaded = _import_function("campaigns")
    areas = ("gatehouse.campaigns", "gatehouse.timer", "gatehouse.callbacks", "gatehouse.events")
    loaded_areas = {m for m in loaded["modules"] if m.startswith(areas)}
    assert loaded_areas == {"gatehouse.campaigns", "gatehouse.campaigns.requests"}
    assert "botocore.exceptions" not in loaded["modules"]
    own_models = {name for name in loaded["defined"] if name.startswith(("gatehouse.campaigns", "gatehouse.routes"))}
    assert own_models == {
        "gatehouse.campaigns.requests.CancelCampaignRequest",
        "gatehouse.campaigns.requests.CancelTimerRequest",
        "gatehouse.campaigns.requests.CreateCampaignRequest",
        "gatehouse.campaigns.requests.EngagementRequest",
        "gatehouse.campaigns.requests.UpdateCampaignRequest",
        "gatehouse.routes.timers.ProcessRequest",
        "gatehouse.routes.timers.RecoveryRequest",
    }


def test_the_docs_function_reads_the_document_instead_of_importing_the_areas():
    modules = set(_import_function("docs")["modules"])
    assert "aws_lambda_powertools.event_handler.openapi.models" not in modules
    assert not {m for m in modules if m.startswith(("gatehouse.routes.", "gatehouse.settings"))} - {
        "gatehouse.routes.docs"
    }


def test_liveness_loads_neither_the_rate_limiter_nor_the_breakers():
    modules = set(_import_function("health")["modules"])
    assert not {m for m in modules if m.startswith(("gatehouse.ratelimit", "gatehouse.resilience.runtime"))}
    assert "redis" not in modules


def test_the_docs_function_validates_nothing_so_loads_no_pydantic():
    # Its two routes take no input and answer fixed documents: without Powertools' validation
    # middleware, pydantic (the larger part of an HTTP function's floor) is never imported.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "layers" / "common"), "AWS_DEFAULT_REGION": "us-east-1"}
    probe = "import json, sys, app; print(json.dumps(sorted(m for m in sys.modules if m.startswith('pydantic'))))"
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT / "functions" / "docs",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == []
