"""What `make build` (sam build, no Docker) produces: a lean arm64 layer under python/, thin functions.

`make test` runs `make build` first; run alone, this module builds once itself.
"""

from __future__ import annotations

import re
import subprocess
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / ".aws-sam" / "build"
LAYER = BUILD / "CommonLayer"
# The Lambda python3.13 runtime ships these (and their own dependencies): never in the layer.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six"}
DEV_ONLY = {"pytest", "moto", "ruff", "mypy", "hypothesis", "schemathesis", "cfn-lint", "checkov", "aws-sam-cli"}
EM_AARCH64 = 183
# Markers evaluated as on Lambda: CPython 3.13 on Linux aarch64.
LAMBDA_MARKERS = default_environment() | {
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
    "os_name": "posix",
}


@pytest.fixture(scope="module")
def built() -> Path:
    if not (LAYER / "python").is_dir():
        subprocess.run(["make", "build"], cwd=ROOT, check=True, capture_output=True)
    return BUILD


def _pins() -> dict[str, str]:
    pins = {}
    for raw in (ROOT / "layers" / "common" / "requirements.txt").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            pins[canonicalize_name(requirement.name)] = str(requirement.specifier).removeprefix("==")
    return pins


def _distributions(layer: Path) -> dict[str, dict[str, object]]:
    found = {}
    for info in (layer / "python").glob("*.dist-info"):
        metadata = Parser().parsestr((info / "METADATA").read_text(encoding="utf-8"))
        found[canonicalize_name(metadata["Name"])] = {
            "version": metadata["Version"],
            "requires": metadata.get_all("Requires-Dist") or [],
        }
    return found


def test_the_layer_is_python_and_nothing_else(built):
    assert sorted(p.name for p in LAYER.iterdir()) == ["python"]
    assert (LAYER / "python" / "gatehouse" / "__init__.py").is_file()
    assert (LAYER / "python" / "gatehouse" / "ratelimit" / "limiter.lua").is_file()
    # The docs function serves the generated document from the layer (gatehouse/routes/docs.py).
    assert (LAYER / "python" / "gatehouse" / "routes" / "openapi.json").is_file()
    assert not list(LAYER.rglob("__pycache__"))


def test_the_layer_holds_exactly_the_pinned_packages(built):
    distributions = _distributions(LAYER)
    assert {name: d["version"] for name, d in distributions.items()} == _pins()
    # Pinned on purpose: powertools pins its own jmespath; the outbound client (resilience/http_client.py)
    # runs the urllib3 the tests ran. boto3 and botocore never ship.
    assert not distributions.keys() & (RUNTIME_PROVIDED - {"jmespath", "urllib3"})
    assert not distributions.keys() & DEV_ONLY


def test_the_pins_are_closed_under_their_dependencies(built):
    # What a pinned package needs is pinned too, or comes with the runtime (botocore for aws-xray-sdk).
    distributions = _distributions(LAYER)
    extras = {"aws-lambda-powertools": {"tracer"}, "pyjwt": {"crypto"}}
    missing = []
    for name, dist in distributions.items():
        for raw in dist["requires"]:  # type: ignore[attr-defined]
            requirement = Requirement(raw)
            wanted = extras.get(name, set()) | {""}
            if requirement.marker and not any(
                requirement.marker.evaluate(LAMBDA_MARKERS | {"extra": extra}) for extra in wanted
            ):
                continue
            dependency = canonicalize_name(requirement.name)
            if dependency in RUNTIME_PROVIDED:
                continue
            if dependency not in distributions or not requirement.specifier.contains(
                str(distributions[dependency]["version"]), prereleases=True
            ):
                missing.append(f"{name} needs {raw}")
    assert missing == []


def test_every_native_library_is_aarch64(built):
    libraries = list((LAYER / "python").rglob("*.so"))
    assert libraries, "the layer has native code (pydantic-core, cryptography): none was found"
    for library in libraries:
        header = library.read_bytes()[:20]
        assert header[:4] == b"\x7fELF", library
        assert int.from_bytes(header[18:20], "little") == EM_AARCH64, library
        assert not re.search(r"x86_64|amd64|win|darwin", library.name), library


def test_the_functions_are_thin(built):
    template = (BUILD / "template.yaml").read_text()
    for app in ROOT.glob("functions/*/app.py"):
        source = app.read_bytes()
        logical = next(p for p in BUILD.iterdir() if (p / "app.py").is_file() and (p / "app.py").read_bytes() == source)
        assert sorted(p.name for p in logical.iterdir()) == ["app.py"], logical
        assert f"CodeUri: {logical.name}" in template
