"""Runs a template function's handler in this process, warm after the first call, with a Lambda-like context."""

from __future__ import annotations

import importlib.util
import re
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from local.template import Function

Handler = Callable[[Any, Any], Any]
_FLUSH_LOCK = threading.Lock()


def serialize_metric_flushes() -> None:
    """Every function of the stack shares this process, and Powertools' one metric set: two handlers
    flushing at once can serialize a set the other just cleared (SchemaValidationError, a 500 here
    that Lambda, one invocation per instance, never has). Flushes take turns locally."""
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    original = AmazonCloudWatchEMFProvider.flush_metrics
    if getattr(original, "_gatehouse_local", False):
        return

    def flush_metrics(self: AmazonCloudWatchEMFProvider, raise_on_empty_metrics: bool = False) -> None:
        with _FLUSH_LOCK:
            original(self, raise_on_empty_metrics)

    flush_metrics._gatehouse_local = True  # type: ignore[attr-defined]
    AmazonCloudWatchEMFProvider.flush_metrics = flush_metrics  # type: ignore[method-assign]


@dataclass
class LambdaContext:
    """The attributes of the Lambda Python runtime's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local/[$LATEST]local"
    identity: Any = None
    client_context: Any = None
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def module_name(fn: Function, copy: int = 0) -> str:
    base = "gatehouse_fn_" + re.sub(r"\W", "_", fn.logical_id).lower()
    return base if copy == 0 else f"{base}_{copy}"


# How the last import of each handler module went: "loading", "loaded" or "failed". A module is
# in sys.modules from the moment its import starts, so another thread can see it half-loaded.
_imports: dict[str, str] = {}
_imports_changed = threading.Condition()


def _import_state(name: str, state: str) -> None:
    with _imports_changed:
        _imports[name] = state
        _imports_changed.notify_all()


def wait_loaded(name: str, timeout: float) -> bool:
    """Whether the last import of handler module `name` ran to its end, waiting up to `timeout`
    seconds for one under way (False when it failed or is still running)."""
    with _imports_changed:
        _imports_changed.wait_for(lambda: _imports.get(name) != "loading", timeout)
        return _imports.get(name) == "loaded"


def load_handler(fn: Function, copy: int = 0) -> Handler:
    """Imports the handler file under a unique module name (every function has its own `app.py`)."""
    serialize_metric_flushes()
    path = fn.handler_file
    if not path.is_file():
        raise FileNotFoundError(f"{fn.logical_id}: handler file {path} does not exist")
    # A function that imports sibling modules (`import helpers`) needs its directory on the path.
    if any(p.name != path.name for p in fn.code_dir.glob("*.py")) and str(fn.code_dir) not in sys.path:
        sys.path.append(str(fn.code_dir))
    name = module_name(fn, copy)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    _import_state(name, "loading")
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        _import_state(name, "failed")
        raise
    _import_state(name, "loaded")
    handler = getattr(module, fn.handler_attr, None)
    if not callable(handler):
        raise AttributeError(f"{fn.logical_id}: {path} has no callable {fn.handler_attr}")
    return handler


class _Pool:
    """Warm instances of one function. Lambda gives each instance one event at a time: so do we."""

    def __init__(self, fn: Function, max_instances: int) -> None:
        self.fn = fn
        self.max_instances = max_instances
        self.idle: list[Handler] = []
        self.created = 0
        self.cond = threading.Condition()

    def acquire(self) -> Handler:
        with self.cond:
            while not self.idle and self.created >= self.max_instances:
                self.cond.wait()
            if self.idle:
                return self.idle.pop()
            copy = self.created
            self.created += 1
        try:
            return load_handler(self.fn, copy)  # a cold start, outside the lock
        except BaseException:
            with self.cond:
                self.created -= 1
                self.cond.notify()
            raise

    def release(self, handler: Handler) -> None:
        with self.cond:
            self.idle.append(handler)
            self.cond.notify()


class Invoker:
    """Invokes functions by logical id; `invocations` counts calls per function."""

    def __init__(self, functions: dict[str, Function], max_instances: int = 1) -> None:
        self.functions = functions
        self.max_instances = max(1, max_instances)
        self.invocations: Counter[str] = Counter()
        self._pools: dict[str, _Pool] = {}
        self._lock = threading.Lock()

    def _pool(self, logical_id: str) -> _Pool:
        with self._lock:
            if logical_id not in self._pools:
                self._pools[logical_id] = _Pool(self.functions[logical_id], self.max_instances)
            return self._pools[logical_id]

    def context(self, fn: Function) -> LambdaContext:
        return LambdaContext(
            function_name=fn.name,
            memory_limit_in_mb=fn.memory,
            invoked_function_arn=fn.arn,
            timeout_seconds=fn.timeout,
        )

    def invoke(self, function: str | Function, event: Any) -> Any:
        """Runs the handler of a function (or logical id) and returns its answer; its exceptions propagate."""
        fn = function if isinstance(function, Function) else self.functions[function]
        logical_id = fn.logical_id
        pool = self._pool(logical_id)
        handler = pool.acquire()
        with self._lock:
            self.invocations[logical_id] += 1
        try:
            return handler(event, self.context(fn))
        finally:
            pool.release(handler)
