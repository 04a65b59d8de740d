"""boto3 clients: one per service and configuration per process, short timeouts, kept warm.

Settings-free (the authorizer passes its own timeouts), so the lean authorizer can use it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from gatehouse.wiring import on_reset


@cache
def boto3_client(service: str, timeout: float, max_attempts: int) -> Any:
    """The process's client for `service` with these timeouts and standard retries."""
    import boto3  # on first use: liveness and docs never need it
    from botocore.config import Config

    config = Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        tcp_keepalive=True,
    )
    return boto3.client(service, config=config)


# Endpoints and credentials come from the environment when a client is built: reset() rebuilds.
on_reset(boto3_client.cache_clear)
