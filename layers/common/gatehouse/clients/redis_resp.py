"""One script call written as prebuilt RESP bytes on a pooled connection: the hot path of a Lua adapter.

redis-py's generic command path (argument encoding, packing, response callbacks) costs more per
call than a small script does inside Redis. An adapter that runs one script per decision (the
rate limiter, the fleet breaker) builds the whole EVALSHA request once and writes it on a
connection of the client's own pool, with the client's own retry policy and timeouts. Only a
plain `redis.Redis` without client-side caching qualifies; any other client (RedisCluster) goes
through redis-py's ordinary `evalsha`.
"""

from __future__ import annotations

from typing import Any

import redis


def bulk(data: bytes) -> bytes:
    """One RESP bulk string."""
    return b"$%d\r\n%s\r\n" % (len(data), data)


def command(*parts: bytes) -> bytes:
    """A whole RESP request of these arguments."""
    return b"*%d\r\n%s" % (len(parts), b"".join(bulk(p) for p in parts))


def direct_pool(client: Any) -> Any:
    """The pool to write prebuilt requests on, or None when only the generic path is safe."""
    if type(client) is not redis.Redis or client.connection is not None:
        return None
    pool = client.connection_pool
    if getattr(pool, "cache", None) is not None:
        return None
    return pool


def _send_and_read(conn: Any, packed: bytes) -> Any:
    conn.send_packed_command([packed])
    return conn.read_response()


def call_packed(pool: Any, packed: bytes) -> Any:
    """What redis-py's execute_command does for one command, minus the generic packing: the pool's
    connection, its retry policy (a retried failure disconnects first), release."""
    conn = pool.get_connection()
    try:
        return conn.retry.call_with_retry(lambda: _send_and_read(conn, packed), lambda _error: conn.disconnect())
    finally:
        pool.release(conn)
