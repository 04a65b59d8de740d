"""A private redis-server on a free port, stoppable and restartable on the same port."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field

from local.ports import free_port, wait_for_port
from local.procs import spawn, terminate


class MissingDependencyError(RuntimeError):
    """A program the local stack needs is not installed."""


@dataclass
class RedisServer:
    """Runs `redis-server` with no persistence; `stop()` then `start()` keeps the port."""

    port: int = field(default_factory=free_port)
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise MissingDependencyError(
                "redis-server not found: install Redis 6.2+ (Debian: apt-get install redis-server) "
                "or set REDIS_URL to a running one"
            )
        self._proc = spawn(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--loglevel", "warning"],
        )  # fmt: skip
        try:
            wait_for_port(self.port, timeout=10)
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        terminate(self._proc)
        self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None
