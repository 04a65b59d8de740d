"""`make dev`: runs the whole product locally until Ctrl-C or SIGTERM, then stops everything it started."""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from local.redis_server import MissingDependencyError
from local.services import REPO_ROOT
from local.stack import Bootstrap, LocalStack
from local.template import TemplateError


def find_bootstrap() -> Bootstrap | None:
    """`local.bootstrap:bootstrap` if that module exists (it creates the admin key and the dev JWT issuer)."""
    try:
        module = importlib.import_module("local.bootstrap")
    except ModuleNotFoundError as exc:
        if exc.name != "local.bootstrap":
            raise  # the module exists but something it imports is missing: that is a real error
        return None
    bootstrap: Callable[[LocalStack], dict[str, Any] | None] = module.bootstrap
    return bootstrap


def write_local_json(path: Path, info: dict[str, Any]) -> None:
    """Atomic: a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".local.", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(info, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    port = int(os.environ.get("GATEHOUSE_PORT", "3000"))
    # Where local.json and the service logs go (a test points it at a temporary folder).
    state_dir = Path(os.environ.get("GATEHOUSE_STATE_DIR") or REPO_ROOT / ".gatehouse")
    # SIGTERM must unwind like Ctrl-C so that every `finally` runs and nothing outlives us. SIGINT too,
    # explicitly: a shell that starts us in the background hands us SIGINT ignored.
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    stack = LocalStack(
        REPO_ROOT / "template.yaml",
        port=port,
        bootstrap=find_bootstrap(),
        external_redis_url=os.environ.get("REDIS_URL") or None,
        access_log=True,
        log_dir=state_dir / "logs",
    )
    print("Starting Gatehouse locally (DynamoDB Local, moto, Redis, HTTP API emulator)...", flush=True)
    try:
        stack.start()
    except KeyboardInterrupt:
        print("\nInterrupted while starting; everything started has been stopped.", file=sys.stderr)
        return 130
    except (MissingDependencyError, TemplateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: could not start the local stack: {exc}", file=sys.stderr)
        if exc.errno == 98:
            print(f"(port {port} is taken: set GATEHOUSE_PORT to another one)", file=sys.stderr)
        return 1
    try:
        local_json = state_dir / "local.json"
        info = stack.local_json()
        write_local_json(local_json, info)
        _banner(stack, info, local_json, state_dir / "logs")
        threading.Event().wait()  # until a signal raises KeyboardInterrupt
    except KeyboardInterrupt:
        print("\nStopping Gatehouse...", flush=True)
    finally:
        stack.stop()
    print("Stopped: nothing left running.", flush=True)
    return 0


def _banner(stack: LocalStack, info: dict[str, Any], local_json: Path, log_dir: Path) -> None:
    assert stack.template is not None
    routes = stack.template.routes
    width = max((len(r.route_key) for r in routes), default=0)
    lines = [
        "",
        f"Gatehouse is running: {stack.api_url}",
        f"  DynamoDB Local   {stack.dynamodb_endpoint_url}"
        + (f"  (moto fallback: {stack.services.dynamodb_fallback_reason})"
           if stack.services.dynamodb_fallback_reason else ""),
        f"  moto (AWS)       {stack.aws_endpoint_url}",
        f"  Redis            {stack.redis_url}" + ("" if stack.redis else "  (external, from REDIS_URL)"),
        f"  console          {stack.api_url}/console  (sign in with the adminKey of {local_json.name})",
        f"  connection info  {local_json}",
        f"  service logs     {log_dir}",
        "",
        f"Routes ({len(routes)}):",
        *(f"  {r.route_key:{width}}  -> {r.function}{'' if r.protected else '  (public)'}" for r in routes),
        "",
        *_event_sources(stack),
        "First call:",
        f"  curl -s {stack.api_url}/health",
    ]  # fmt: skip
    if "adminKey" in info:
        lines.append(f'  curl -s -H "Authorization: Bearer $(jq -r .adminKey {local_json})" {stack.api_url}/v1/me')
    lines += ["", "Ctrl-C stops everything."]
    print("\n".join(lines), flush=True)


def _event_sources(stack: LocalStack) -> list[str]:
    """What fires functions besides HTTP: schedules, rate events, queues and bus rules."""
    t = stack.template
    assert t is not None
    runner = stack.scheduler_runner
    lines = ["Event sources:"]
    if runner is not None and runner.groups:
        lines.append(f"  schedules in {', '.join(runner.groups)}: due ones fired every {runner.poll_seconds:g} s")
    lines += [f"  {ev.expression} -> {ev.function}" for ev in t.rate_events if ev.enabled]
    lines += [f"  queue {t.queues[q.queue].name} -> {q.function}" for q in t.sqs_sources if q.enabled]
    lines += [
        f"  bus {rule.bus}: {', '.join(map(str, rule.pattern.get('detail-type') or ['*']))} -> {rule.function}"
        for rule in t.bus_rules
        if rule.enabled
    ]
    lines += [
        f"  bus {qr.bus}: {', '.join(map(str, qr.pattern.get('detail-type') or ['*']))} -> {', '.join(qr.queues)}"
        for qr in t.queue_rules
        if qr.enabled
    ]
    return [*lines, ""] if len(lines) > 1 else []


if __name__ == "__main__":
    sys.exit(main())
