"""Runs limiter.lua: EVALSHA in one round trip, EVAL on NOSCRIPT, reply parsed into a Decision."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources
from typing import Any

from redis.exceptions import NoScriptError

from gatehouse.ratelimit.decision import Decision, ScopedWindow, WindowResult
from gatehouse.ratelimit.keys import keys_for

_ALGORITHM_CODE = {"gcra": "g", "sliding": "s"}
_FIELDS_PER_WINDOW = 5


@lru_cache(maxsize=1)
def limiter_script() -> tuple[str, str]:
    """The script's source and its SHA1, read once per process (the SHA is computed locally,
    so no SCRIPT LOAD round trip is ever needed up front)."""
    source = resources.files("gatehouse.ratelimit").joinpath("limiter.lua").read_text("utf-8")
    return source, hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()


def script_args(windows: list[ScopedWindow], cost: int, *, peek: bool) -> list[str | int]:
    """ARGV for limiter.lua: mode, cost, then one packed "<alg>,<limit>,<period us>,<burst>" per window."""
    args: list[str | int] = ["p" if peek else "c", cost]
    for scoped in windows:
        w = scoped.window
        burst = w.effective_burst if w.algorithm == "gcra" else 0
        args.append(f"{_ALGORITHM_CODE[w.algorithm]},{w.limit},{w.period_seconds * 1_000_000},{burst}")
    return args


class RedisEngine:
    """Decides a check on Redis. Stateless apart from the client; raises redis errors as they come."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.source, self.sha = limiter_script()

    def evaluate(self, subject: str, windows: list[ScopedWindow], cost: int, *, peek: bool = False) -> Decision:
        if not windows:
            raise ValueError("a check needs at least one window")
        keys = keys_for(subject, windows)
        args = script_args(windows, cost, peek=peek)
        try:
            # redis-py's Script object does the same (EVALSHA, one round trip) but we keep the
            # fallback explicit: after a SCRIPT FLUSH or failover, EVAL both answers and re-caches.
            reply = self.client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            reply = self.client.eval(self.source, len(keys), *keys, *args)
        return parse_reply(reply, windows, cost)


def parse_reply(reply: bytes | str, windows: list[ScopedWindow], cost: int) -> Decision:
    """Parse limiter.lua's flat "now_ms,all_allowed,(allowed,limit,remaining,reset,retry)*" reply."""
    text = reply.decode() if isinstance(reply, bytes) else reply
    fields = [int(x) for x in text.split(",")]
    if len(fields) != 2 + _FIELDS_PER_WINDOW * len(windows):
        raise ValueError(f"unexpected limiter reply of {len(fields)} fields for {len(windows)} windows")
    results = []
    i = 2
    for scoped in windows:
        w = scoped.window
        results.append(
            WindowResult(
                scoped.policy,
                w.name,
                w.algorithm,
                fields[i + 1],
                w.period_seconds,
                fields[i] == 1,
                fields[i + 2],
                fields[i + 3],
                fields[i + 4],
            )
        )
        i += _FIELDS_PER_WINDOW
    policies = tuple(dict.fromkeys(s.policy for s in windows))
    return Decision(fields[1] == 1, results, cost, fields[0], policies=policies)
