"""Schemathesis against the local stack's own /openapi.json, with an admin key: every operation,
bounded in examples and time. No answer is a 5xx, and none breaks the document (its schema, its
status codes, its content types).

The stack is `make dev`'s program in a process of its own (its own DynamoDB Local, moto and Redis),
so the fuzzer's keys, overrides, campaigns and `POST /v1/timers/process` touch no other test.
The figures (operations, test cases, failures) are printed and kept in <tmp>/fuzz-summary.txt.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from local.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).parent / "st"
CHECKS = (
    "not_a_server_error",
    "response_schema_conformance",
    "status_code_conformance",
    "content_type_conformance",
)
EXAMPLES_PER_OPERATION = 25
# A hard deadline on the whole run (about a minute is usual). Not schemathesis's --max-time, which
# makes fuzzing repeat until the time is spent: the number of examples is what bounds the work.
DEADLINE_SECONDS = 300


@pytest.fixture
def dev_stack(tmp_path):
    port = free_port()
    env = {**os.environ, "GATEHOUSE_PORT": str(port), "GATEHOUSE_STATE_DIR": str(tmp_path)}
    env.pop("REDIS_URL", None)
    log = (tmp_path / "stack.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "local"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while not (tmp_path / "local.json").exists() or not _answers(port):
            assert process.poll() is None, (tmp_path / "stack.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the local stack did not start within 90 s"
            time.sleep(0.3)
        yield json.loads((tmp_path / "local.json").read_text())
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still starting
        return False


def summary_figures(output: str) -> dict[str, int]:
    """Operations tested, test cases generated and failures, from schemathesis's closing summary."""
    tested = re.search(r"Tested:\s+(\d+)", output)
    generated = re.search(r"(\d+) generated", output)
    failures = re.search(r"(\d+) (?:found \d+ unique failures|failures?)\b", output)
    return {
        "operations": int(tested.group(1)) if tested else 0,
        "cases": int(generated.group(1)) if generated else 0,
        "failures": int(failures.group(1)) if failures and "No issues found" not in output else 0,
    }


@pytest.mark.timeout(DEADLINE_SECONDS + 120)
def test_no_operation_answers_5xx_or_breaks_its_document(dev_stack, tmp_path, capsys):
    schema_url = f"{dev_stack['apiUrl']}/openapi.json"
    operations = sum(len(ops) for ops in requests.get(schema_url, timeout=10).json()["paths"].values())
    done = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            schema_url,
            "--header",
            f"Authorization: Bearer {dev_stack['adminKey']}",
            "--checks",
            ",".join(CHECKS),
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            "20261126",
            "--request-timeout",
            "10",
            "--workers",
            "1",
            "--no-shrink",
            "--warnings",
            "off",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
        check=False,
    )
    figures = summary_figures(done.stdout)
    line = (
        f"schemathesis: {figures['operations']}/{operations} operations, {figures['cases']} test cases "
        f"(at most {EXAMPLES_PER_OPERATION} examples per operation and phase), {figures['failures']} failures"
    )
    with capsys.disabled():  # the figures belong in make test's output, pass or fail
        print(f"\n{line}")
    (tmp_path / "fuzz-summary.txt").write_text(line + "\n")
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-2000:]
    assert figures["operations"] == operations
    assert figures["cases"] > operations
    assert figures["failures"] == 0
