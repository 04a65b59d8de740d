"""Cold-start section: each handler's import in a fresh interpreter against `import boto3` alone.

Every measurement is a new `python` process (the bench's own interpreter) run the way Lambda
loads a handler: cwd=functions/<name>, PYTHONPATH=layers/common, `import app`. The child
times its own import with perf_counter, so interpreter start-up (equal for all) is left out,
and with process_time: the CPU the import used. Both move with the machine's load (the same
import measured 250 to 400 ms on this kind of shared machine within a minute). So where
valgrind is installed, each import also runs once under callgrind, which counts the
instructions executed: the same count for the same code on any load (interpreter start-up,
`python -c pass`, subtracted). The target is judged on that count when there is one, else on
CPU time; every ratio is printed.
Runs are interleaved round by round and the median kept; one discarded round first writes
the .pyc files, so every case is measured with bytecode cached (Lambda's read-only code
directory has no .pyc unless the build ships them: real cold starts are slower for all).

The authorizer imports lazily, so its first JWT and first API key (import + first call) are
reported too. The first API key reaches a stub DynamoDB on loopback (one GetItem answered
with an active key record): it pays for boto3, its client and one round trip, not for a
database.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import jwt

from bench.table import Table
from gatehouse.keys import api_key_format

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
LAYER = ROOT / "layers" / "common"
RUNS = int(os.environ.get("BENCH_COLDSTART_RUNS", "7"))
TARGET_RATIO = 1.5
ISSUER = "https://bench.local/coldstart"
AUDIENCE = "gatehouse-bench"
SECRET = "coldstart-bench-secret-0123456789abcdef0123456789"

# Runs in the child: time the import (and the first authorizer call), print one JSON line.
CHILD = """
import json, os, sys, time
t0, c0 = time.perf_counter(), time.process_time()
module = __import__(sys.argv[1])
t1, c1 = time.perf_counter(), time.process_time()
out = {"import": t1 - t0, "import_cpu": c1 - c0}
event = os.environ.get("BENCH_EVENT")
if event:
    answer = module.lambda_handler(json.loads(event), None)
    out["call"] = time.perf_counter() - t1
    out["call_cpu"] = time.process_time() - c1
    out["allowed"] = answer.get("isAuthorized")
print(json.dumps(out))
"""


class _StubDynamoDB(BaseHTTPRequestHandler):
    """Answers every GetItem with an active key record (what the authorizer's one read returns)."""

    ITEM: ClassVar[dict[str, Any]] = {
        "pk": {"S": "KEYHASH#stub"},
        "sk": {"S": "KEYHASH"},
        "keyId": {"S": "key_coldstart"},
        "ownerId": {"S": "bench-owner"},
        "scopes": {"L": [{"S": "keys:read"}]},
        "tier": {"S": "starter"},
        "status": {"S": "active"},
    }

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"Item": self.ITEM}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("x-amzn-RequestId", "bench")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _stub_dynamodb() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubDynamoDB)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="bench-stub-dynamodb", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _event(token: str) -> str:
    header = f"Bearer {token}"
    return json.dumps(
        {
            "version": "2.0",
            "type": "REQUEST",
            "routeKey": "GET /v1/me",
            "identitySource": [header],
            "headers": {"authorization": header},
        }
    )


def _base_env(dynamodb_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON", "BENCH_"))}
    env.update(
        {
            "PYTHONPATH": str(LAYER),
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": "gatehouse",
            "POWERTOOLS_METRICS_NAMESPACE": "Gatehouse",
            "GATEHOUSE_KEY_ENV": "test",
            "TABLE_NAME": "gatehouse",
            "JWT_ISSUERS": json.dumps([{"issuer": ISSUER, "audience": AUDIENCE, "secret": SECRET}]),
            # As template.yaml's Globals set it for every function.
            "PYDANTIC_DISABLE_PLUGINS": "__all__",
        }
    )
    return env


def _cases(dynamodb_url: str) -> dict[str, tuple[Path, str, dict[str, str]]]:
    """name -> (cwd, module to import, environment)."""
    base = _base_env(dynamodb_url)
    now = int(time.time())
    token = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "u", "exp": now + 86400}, SECRET, algorithm="HS256")
    cases: dict[str, tuple[Path, str, dict[str, str]]] = {"import boto3 (baseline)": (ROOT, "boto3", base)}
    for directory in sorted(p.parent for p in FUNCTIONS.glob("*/app.py")):
        cases[f"{directory.name}: import app"] = (directory, "app", base)
    authorizer = FUNCTIONS / "authorizer"
    if authorizer.is_dir():
        key = api_key_format.generate("test")
        cases["authorizer: import + first JWT (HS256)"] = (authorizer, "app", {**base, "BENCH_EVENT": _event(token)})
        cases["authorizer: import + first API key"] = (authorizer, "app", {**base, "BENCH_EVENT": _event(key)})
    return cases


def _child(cwd: Path, module: str, env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", CHILD, module],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _once(name: str, cwd: Path, module: str, env: dict[str, str]) -> dict[str, Any]:
    proc = _child(cwd, module, env)
    if proc.returncode != 0:
        raise RuntimeError(f"coldstart {name}: child failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _biggest_imports(cwd: Path, module: str, env: dict[str, str], top: int = 4) -> str:
    """Self import time by top-level package, from one `-X importtime` run: where the time goes."""
    proc = _child(cwd, module, env, "-X", "importtime")
    by_package: Counter[str] = Counter()
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        try:
            self_us, _cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
            by_package[name.split(".")[0]] += int(self_us)
        except ValueError:
            continue
    return ", ".join(f"{pkg} {us / 1000:.0f}" for pkg, us in by_package.most_common(top))


def _instructions(cwd: Path, code: str, env: dict[str, str]) -> int:
    """Instructions `python -c code` executes, counted by callgrind (hash seed fixed: repeatable)."""
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", code],
        cwd=cwd,
        env={**env, "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    for line in proc.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1].strip())
    raise RuntimeError(f"callgrind gave no count for {code!r} in {cwd}:\n{proc.stderr[-1000:]}")


def _import_instructions(cases: dict[str, tuple[Path, str, dict[str, str]]]) -> dict[str, int]:
    """Each import-only case's instructions beyond interpreter start-up, one callgrind run each,
    as many at once as there are CPUs (a count does not depend on what else runs)."""
    if shutil.which("valgrind") is None:
        return {}
    jobs = {
        name: (cwd, f"import {module}", env) for name, (cwd, module, env) in cases.items() if "BENCH_EVENT" not in env
    }
    jobs["(start-up)"] = (ROOT, "pass", next(iter(cases.values()))[2])
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        counts = dict(zip(jobs, pool.map(lambda job: _instructions(*job), jobs.values()), strict=True))
    start_up = counts.pop("(start-up)")
    return {name: count - start_up for name, count in counts.items()}


def run(redis_url: str, n: int) -> list[Table]:
    del redis_url, n  # fresh processes, a fixed number of them
    started = time.perf_counter()
    with _stub_dynamodb() as dynamodb_url:
        cases = _cases(dynamodb_url)
        imports: dict[str, list[float]] = {name: [] for name in cases}
        totals: dict[str, list[float]] = {name: [] for name in cases}
        cpu_totals: dict[str, list[float]] = {name: [] for name in cases}
        allowed: dict[str, object] = {}
        # Round 0, discarded from the timings: one `-X importtime` run per case, which also
        # writes the .pyc files every later run reads.
        breakdown = {name: _biggest_imports(cwd, module, env) for name, (cwd, module, env) in cases.items()}
        instructions = _import_instructions(cases)
        for _ in range(RUNS):
            for name, (cwd, module, env) in cases.items():
                out = _once(name, cwd, module, env)
                imports[name].append(out["import"] * 1000)
                totals[name].append((out["import"] + out.get("call", 0.0)) * 1000)
                cpu_totals[name].append((out["import_cpu"] + out.get("call_cpu", 0.0)) * 1000)
                allowed[name] = out.get("allowed")

    baseline = statistics.median(imports["import boto3 (baseline)"])
    cpu_baseline = statistics.median(cpu_totals["import boto3 (baseline)"])
    instructions_baseline = instructions.get("import boto3 (baseline)")
    judged_by = "instructions" if instructions_baseline else "CPU"
    rows: list[list[object]] = []
    for name in cases:
        imp, total = statistics.median(imports[name]), statistics.median(totals[name])
        cpu = statistics.median(cpu_totals[name])
        first_call = "first" in name
        ratio, cpu_ratio = total / baseline, cpu / cpu_baseline
        count = instructions.get(name)
        count_ratio = count / instructions_baseline if count is not None and instructions_baseline else None
        judged = count_ratio if judged_by == "instructions" and count_ratio is not None else cpu_ratio
        if name.startswith("import boto3"):
            target, met = "baseline", ""
        elif first_call:
            target, met = "(info)", "" if allowed[name] else "call DENIED"
        else:
            target, met = f"<= {TARGET_RATIO}x", "yes" if judged <= TARGET_RATIO else "NO"
        rows.append(
            [
                name,
                imp,
                total - imp if first_call else "",
                total,
                f"{ratio:.2f}x",
                cpu,
                f"{cpu_ratio:.2f}x",
                f"{count / 1e6:,.0f}" if count is not None else "",
                f"{count_ratio:.2f}x" if count_ratio is not None else "",
                target,
                met,
                breakdown.get(name, ""),
            ]
        )
    return [
        Table(
            f"Cold start: fresh interpreter per run, median of {RUNS} interleaved runs, .pyc cached "
            f"(python {sys.version.split()[0]}); instructions: one callgrind run each, start-up subtracted; "
            f"judged on {judged_by}; first API key against a stub DynamoDB on loopback; "
            f"section took {time.perf_counter() - started:.0f} s",
            [
                "case",
                "import ms",
                "first call ms",
                "total ms",
                "wall vs boto3",
                "CPU ms",
                "vs boto3 (CPU)",
                "M instructions",
                "vs boto3 (instructions)",
                f"target ({judged_by})",
                "met?",
                "biggest self import ms by package (-X importtime, import + first call, 1 run)",
            ],
            rows,
        )
    ]
