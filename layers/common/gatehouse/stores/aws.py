"""Cached boto3 clients: one per service and configuration per process, short timeouts, kept warm."""

from __future__ import annotations

from functools import cache
from typing import Any

from gatehouse.settings import get_settings


@cache
def _client(service: str, timeout: float, max_attempts: int) -> Any:
    import boto3  # on first use: liveness and docs never need it
    from botocore.config import Config

    config = Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        tcp_keepalive=True,
    )
    return boto3.client(service, config=config)


def aws_client(service: str, max_attempts: int = 2) -> Any:
    """The process's client for `service`, with standard retries."""
    return _client(service, get_settings().aws_timeout_seconds, max_attempts)


def fail_fast_client(service: str) -> Any:
    """A client for probes: one attempt, and timeouts no longer than a readiness check may wait."""
    return _client(service, min(1.0, get_settings().health_check_timeout_seconds), 1)


def reset_clients() -> None:
    """Forget every client (after the environment's endpoints or credentials changed)."""
    _client.cache_clear()
