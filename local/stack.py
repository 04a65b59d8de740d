"""The whole local stack in one object: services, environment, resources, bootstrap, HTTP API and runners."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from local.emulator import HttpApiEmulator
from local.invoke import Invoker, module_name, wait_loaded
from local.pipes import PipeRunner
from local.redis_server import RedisServer
from local.resources import create_resources
from local.runners import BusRuleConsumer, QueueConsumer, RateRunner, SchedulerRunner
from local.services import LocalServices
from local.template import REGION, Template, load_template, merged_env

Bootstrap = Callable[["LocalStack"], dict[str, Any] | None]


_OPTION_PREFIX = "GATEHOUSE_LOCAL_"  # stack options, read from extra_env or the shell, never given to handlers


class LocalStack:
    """Start with `start()` (or `with LocalStack(...) as stack:`); `stop()` leaves nothing running."""

    def __init__(
        self,
        template_path: str | Path = "template.yaml",
        port: int | None = None,
        parameter_overrides: dict[str, Any] | None = None,
        extra_env: dict[str, str] | None = None,
        bootstrap: Bootstrap | None = None,
        *,
        services: LocalServices | None = None,
        external_redis_url: str | None = None,
        host: str = "127.0.0.1",
        access_log: bool = False,
        log_dir: Path | None = None,
    ) -> None:
        self.template_path = Path(template_path).resolve()
        self.port = port or 0
        self.host = host
        self.parameter_overrides = dict(parameter_overrides or {})
        self.extra_env = dict(extra_env or {})
        self.bootstrap = bootstrap
        self.access_log = access_log
        self._owns_services = services is None
        self.services = services or LocalServices(external_redis_url=external_redis_url, log_dir=log_dir)
        self.template: Template | None = None
        self.invoker: Invoker | None = None
        self.emulator: HttpApiEmulator | None = None
        self.scheduler_runner: SchedulerRunner | None = None
        self.queue_consumers: list[QueueConsumer] = []
        self.rate_runner: RateRunner | None = None
        self.pipe_runners: list[PipeRunner] = []
        self.bus_consumers: list[BusRuleConsumer] = []
        self.bootstrap_info: dict[str, Any] = {}
        self.env: dict[str, str] = {}
        self._saved_env: dict[str, str | None] = {}

    # -- where things are ----------------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        assert self.emulator is not None, "stack not started"
        return self.emulator.url

    @property
    def aws_endpoint_url(self) -> str:
        return self.services.aws_endpoint_url

    @property
    def dynamodb_endpoint_url(self) -> str:
        return self.services.dynamodb_endpoint_url

    @property
    def redis_url(self) -> str:
        return self.services.redis_url

    @property
    def redis(self) -> RedisServer | None:
        """The redis-server the stack started (None when it uses an external REDIS_URL)."""
        return self.services.redis

    def local_json(self) -> dict[str, Any]:
        """What `.gatehouse/local.json` holds (README, First call)."""
        info: dict[str, Any] = {"apiUrl": self.api_url}
        info.update({k: v for k, v in self.bootstrap_info.items() if k in ("adminKey", "jwt")})
        info.update(
            {
                "awsEndpointUrl": self.aws_endpoint_url,
                "dynamodbEndpointUrl": self.dynamodb_endpoint_url,
                "redisUrl": self.redis_url,
                "routes": len(self.template.routes) if self.template else 0,
            }
        )
        info.update({k: v for k, v in self.bootstrap_info.items() if k not in info})
        return info

    def option(self, name: str) -> float | None:
        """A numeric GATEHOUSE_LOCAL_* option: this stack's extra_env first, then the shell's environment."""
        value = str(self.extra_env.get(name, os.environ.get(name, ""))).strip()
        return float(value) if value else None

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> LocalStack:
        """services -> environment -> resources -> bootstrap -> HTTP API and runners; undone on failure."""
        try:
            if self._owns_services:
                self.services.start()
            self.template = load_template(
                self.template_path,
                self.parameter_overrides,
                queue_url_base=self.aws_endpoint_url,
                local_values={"RedisEndpoint": self.redis_url},
            )
            for conflict in self.template.env_conflicts:
                print(f"[gatehouse-local] WARNING: environment conflict, one process: {conflict}", file=sys.stderr)
            self.env = self._environment(self.template)
            self.activate()
            create_resources(self.template, self.aws_endpoint_url, self.dynamodb_endpoint_url)
            self.invoker = Invoker(self.template.functions, int(self.option("GATEHOUSE_LOCAL_CONCURRENCY") or 1))
            if self.bootstrap is not None:
                self.bootstrap_info = dict(self.bootstrap(self) or {})
            self.emulator = HttpApiEmulator(
                self.template, self.invoker, self.host, self.port, access_log=self.access_log
            ).start()
            self._start_runners(self.template, self.invoker)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_runners(self, template: Template, invoker: Invoker) -> None:
        rate_override = self.option("GATEHOUSE_LOCAL_RATE_SECONDS")
        self.scheduler_runner = SchedulerRunner(
            template,
            invoker,
            self.aws_endpoint_url,
            poll_seconds=self.option("GATEHOUSE_LOCAL_SCHEDULER_POLL_SECONDS") or 0.5,
            retry_base_seconds=self.option("GATEHOUSE_LOCAL_RETRY_SECONDS") or 1.0,
            rate_seconds_override=rate_override,
        ).start()
        self.queue_consumers = [
            QueueConsumer(source, template, invoker, self.aws_endpoint_url).start()
            for source in template.sqs_sources
            if source.enabled
        ]
        self.rate_runner = RateRunner(template.rate_events, invoker, rate_override).start()
        self.pipe_runners = [
            PipeRunner(pipe, template, self.dynamodb_endpoint_url, self.aws_endpoint_url).start()
            for pipe in template.pipes
        ]
        self.bus_consumers = [
            BusRuleConsumer(
                rule,
                invoker,
                self.aws_endpoint_url,
                retry_base_seconds=self.option("GATEHOUSE_LOCAL_RETRY_SECONDS") or 1.0,
            ).start()
            for rule in template.bus_rules
            if rule.enabled
        ]

    def stop(self) -> None:
        """Stops runners, the HTTP API and (if it started them) the services; restores the environment."""
        for pipe in self.pipe_runners:
            pipe.stop_event.set()
        for pipe in self.pipe_runners:
            pipe.stop()
        self.pipe_runners = []
        runners = [self.rate_runner, self.scheduler_runner, *self.queue_consumers, *self.bus_consumers]
        for runner in runners:
            if runner is not None:
                runner.stop_event.set()  # all at once, then wait: their waits overlap
        for runner in runners:
            if runner is not None:
                runner.stop()
        self.rate_runner = self.scheduler_runner = None
        self.queue_consumers = []
        self.bus_consumers = []
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
        if self._owns_services:
            self.services.stop()
        self._restore_env()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- environment -------------------------------------------------------------------------------------------
    def _environment(self, template: Template) -> dict[str, str]:
        env = merged_env(template)
        env.update(
            {
                "REDIS_URL": self.redis_url,
                "AWS_ENDPOINT_URL": self.aws_endpoint_url,
                "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_endpoint_url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "GATEHOUSE_KEY_ENV": "test",
                "GATEHOUSE_STAGE": "dev",
                "POWERTOOLS_TRACE_DISABLED": "true",
            }
        )
        env.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Gatehouse")
        # Callbacks and integrations may reach services on this machine (docs/resilience.md#ssrf).
        env.setdefault("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
        env.update({k: v for k, v in self.extra_env.items() if not k.startswith(_OPTION_PREFIX)})
        return env

    def activate(self) -> None:
        """(Re)applies this stack's environment to the process and drops cached settings.

        Every function runs in this one process, so the environment is process-wide: with two stacks
        in one process, the one activated last is the one handlers see.
        """
        for path in (self.template_path.parent / "layers" / "common", self.template_path.parent):
            if str(path) not in sys.path:
                sys.path.insert(0, str(path))
        for key, value in self.env.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):  # never reach a real account
            if key in os.environ:
                self._saved_env.setdefault(key, os.environ.get(key))
                del os.environ[key]
        _reset_wiring()

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        _reset_wiring()

    # -- helpers for tests -------------------------------------------------------------------------------------
    def invoke(self, logical_id: str, event: Any) -> Any:
        """Invokes a template function in-process, as Lambda would (warm after the first call)."""
        assert self.invoker is not None, "stack not started"
        return self.invoker.invoke(logical_id, event)

    def function_module(self, logical_id: str) -> ModuleType:
        """The (first) loaded module of a function, importing it if needed: for module-level test probes."""
        assert self.invoker is not None and self.template is not None, "stack not started"
        name = module_name(self.template.functions[logical_id])
        if name not in sys.modules:
            pool = self.invoker._pool(logical_id)
            pool.release(pool.acquire())
        # A runner's thread may be importing it right now: wait until that import has finished.
        if not wait_loaded(name, timeout=120):
            raise RuntimeError(f"{logical_id}: its handler module failed to load or is still loading")
        return sys.modules[name]


def _reset_wiring() -> None:
    """Rebuild every wired object (settings, clients, services) from the environment just set.

    Only when the layer is already imported: the stack must not import it before activate()
    has put it on sys.path."""
    wiring = sys.modules.get("gatehouse.wiring")
    if wiring is not None:
        wiring.reset()
