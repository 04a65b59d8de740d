"""The import-linter contracts in pyproject.toml refuse the imports docs/architecture.md rules out.

Each case copies the package, adds one wrong import to one module and runs lint-imports on the copy
with the project's contracts: a contract must break. (`make lint` checks the real package passes.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "common" / "gatehouse"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    command = [str(LINT_IMPORTS), str(ROOT / "pyproject.toml"), "--no-cache"]
    return subprocess.run(command, cwd=package_parent, env=env, capture_output=True, text=True, check=False)


def copy_with(tmp_path: Path, module: str, line: str) -> Path:
    shutil.copytree(PACKAGE, tmp_path / "gatehouse", ignore=shutil.ignore_patterns("__pycache__"))
    if module:
        with (tmp_path / "gatehouse" / module).open("a", encoding="utf-8") as source:
            source.write(f"\n{line}\n")
    return tmp_path


def test_the_package_as_it_is_keeps_every_contract(tmp_path):
    result = lint_imports(copy_with(tmp_path, "", ""))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "wrong_import"),
    [
        # A rule of an area reaching an adapter, its own area's or another's: only runtime wires them.
        ("ratelimit/render.py", "from gatehouse.ratelimit import dynamo"),
        ("ratelimit/overrides.py", "from gatehouse.ratelimit.dynamo import DynamoOverrideStore"),
        ("ratelimit/policies.py", "from gatehouse.ratelimit import redis_engine"),
        ("keys/views.py", "from gatehouse.ratelimit import dynamo"),
        ("keys/service.py", "from gatehouse.keys import dynamo"),
        ("health/records.py", "from gatehouse.health import probes"),
        # A use case importing a client library.
        ("ratelimit/service.py", "import redis"),
        # Upwards: an area importing the HTTP layer.
        ("keys/service.py", "from gatehouse import routes"),
        # The authorizer's path taking pydantic or the settings.
        ("auth/api_key_auth.py", "import pydantic"),
        ("keys/records.py", "from gatehouse import settings"),
        # Shared vocabulary taking more than the standard library.
        ("times.py", "import pydantic"),
    ],
)
def test_a_wrong_import_breaks_a_contract(tmp_path, module, wrong_import):
    result = lint_imports(copy_with(tmp_path, module, wrong_import))
    assert result.returncode != 0 and "BROKEN" in result.stdout, result.stdout + result.stderr
