"""The functions stay thin and in their layer: import-linter cannot see functions/ (not a package).

Every `functions/*/app.py` imports only the HTTP pipeline, the routers, or the authorizer entry,
never an area's internals or a client library, and the authorizer's import path loads neither
pydantic nor the Powertools resolver (cold start).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(ROOT.glob("functions/*/app.py"))
ALLOWED_PREFIXES = (
    "gatehouse.api",
    "gatehouse.guards",
    "gatehouse.routes",
    "gatehouse.jobs",
    "gatehouse.auth.authorizer",
)
STDLIB_OK = {"__future__", "typing", "logging", "os"}


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_there_are_functions_to_check():
    assert len(FUNCTIONS) >= 5


@pytest.mark.parametrize("app", FUNCTIONS, ids=lambda p: p.parent.name)
def test_a_function_imports_only_the_pipeline_routers_or_authorizer(app):
    wrong = {m for m in _imported_modules(app) if m not in STDLIB_OK and not m.startswith(ALLOWED_PREFIXES)}
    assert wrong == set(), f"{app.relative_to(ROOT)} reaches past the HTTP layer: {sorted(wrong)}"


def test_the_authorizer_loads_no_pydantic_and_no_resolver():
    code = (
        "import json, sys; sys.path[:0] = ['layers/common', 'functions/authorizer']; import app; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {'pydantic', 'aws_lambda_powertools'})))"
    )
    loaded = json.loads(
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    )
    assert not [m for m in loaded if m.startswith("pydantic")]
    # (Powertools' own package init loads its Logger and Metrics modules; the resolver it does not.)
    assert not [m for m in loaded if m.startswith("aws_lambda_powertools.event_handler")]


def test_reading_secrets_loads_no_pydantic():
    # The authorizer reads its pepper and HS256 secrets through Powertools parameters (measured with
    # `python -X importtime`): that utility must not drag pydantic or the resolver onto its path.
    code = (
        "import json, sys; sys.path[:0] = ['layers/common']; "
        "from aws_lambda_powertools.utilities.parameters import SecretsProvider; import gatehouse.clients.secrets; "
        "import gatehouse.auth.runtime; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {'pydantic', 'aws_lambda_powertools'})))"
    )
    loaded = json.loads(
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    )
    assert "aws_lambda_powertools.utilities.parameters" in loaded
    assert not [m for m in loaded if m.startswith(("pydantic", "aws_lambda_powertools.event_handler"))]
