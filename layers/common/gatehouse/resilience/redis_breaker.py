"""Runs fleet_breaker.lua (the BreakerStore adapter): one EVALSHA per decision and per outcome.

A decision is the breaker's hot path, measured against a bare PING (docs/resilience.md#the-fleet-test):
with a plain `redis.Redis` client the whole acquire request is RESP bytes built once per breaker
and written on a pooled connection (gatehouse/clients/redis_resp.py). NOSCRIPT (after a SCRIPT
FLUSH or a failover) re-sends the script with EVAL. redis-py's errors come out as the area's own:
an outage (refused, timed out, OOM, READONLY, ...) is BreakerStoreUnavailable, so the in-process
breaker takes over.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any, TypeVar

from redis.exceptions import NoScriptError, RedisError, ResponseError

from gatehouse.clients.redis_errors import TIMEOUTS, outage_code, reply_text
from gatehouse.clients.redis_resp import call_packed, command, direct_pool
from gatehouse.resilience.records import (
    Admission,
    BreakerConfig,
    BreakerSnapshot,
    BreakerStoreUnavailable,
    FleetState,
    Outcome,
    Transition,
    Verdict,
)

T = TypeVar("T")
_log = logging.getLogger(__name__)

REGISTRY_KEY = "gh:breakers"
# The registry of names is refreshed by each process at most this often per breaker (and on
# every transition), and kept while anything refreshes it.
_REGISTER_EVERY_S = 600.0
_REGISTRY_TTL_S = 30 * 86_400
_MAX_CACHED = 1024

_STATES = {"c": FleetState.CLOSED, "o": FleetState.OPEN, "h": FleetState.HALF_OPEN, "x": FleetState.ISOLATED}
_VERDICTS: dict[str, Verdict] = {"c": "closed", "p": "probe", "o": "open", "h": "half_open", "x": "isolated"}
_RECORDED = {"k": "counted", "s": "stale_generation", "l": "lease_lapsed"}


@lru_cache(maxsize=1)
def breaker_script() -> tuple[str, str]:
    """The script's source and SHA1, read once per process (no SCRIPT LOAD round trip)."""
    source = resources.files("gatehouse.resilience").joinpath("fleet_breaker.lua").read_text("utf-8")
    return source, hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()


def breaker_keys(name: str) -> tuple[str, str, str]:
    """The state, probe leases and window of one breaker: one {name} hash tag, one cluster slot."""
    base = f"gh:br:{{{name}}}"
    return base, f"{base}:probes", f"{base}:window"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _transition(name: str, text: str, at_us: int) -> Transition | None:
    """ "<from><to>:<reason>" -> a Transition (None for "-")."""
    if text == "-":
        return None
    moves, reason = text.split(":", 1)
    return Transition(name, _STATES[moves[0]], _STATES[moves[1]], 0, reason, at_us // 1000)


def _with_generation(transition: Transition | None, generation: int) -> Transition | None:
    if transition is None:
        return None
    return Transition(
        transition.name, transition.from_state, transition.to_state, generation, transition.reason, transition.at_ms
    )


# What parsing a reply the script could not have written raises (a damaged script, a stranger answering).
_UNREADABLE = (ValueError, KeyError, IndexError, TypeError, AttributeError)


def _parsed(parse: Callable[..., T], *args: Any) -> T:
    """parse(*args), the last argument being the store's reply. A reply that does not parse (not the
    script's shape: too few fields, a field that is no number, an unknown verdict) is no decision from
    the store, as an error reply is: never a ValueError reaching an operator's route (a try costs
    nothing on the hot path; the except runs only when it fails). The numbers are not range-checked:
    the script writes them, and only it writes these keys."""
    try:
        return parse(*args)
    except _UNREADABLE as error:
        reply = args[-1]
        _log.error("breaker store reply unreadable", extra={"replyType": type(reply).__name__})
        raise BreakerStoreUnavailable("reply") from error


def _snapshot(name: str, text: str) -> BreakerSnapshot | None:
    if text == "-":
        return None
    st, gen, calls, failures, live, passed, failed, wait_us = text.split(",")[:8]
    return BreakerSnapshot(
        name=name,
        state=_STATES[st],
        generation=int(gen),
        calls=int(calls),
        failures=int(failures),
        probes_in_flight=int(live),
        probes_passed=int(passed),
        probes_failed=int(failed),
        retry_after_ms=-(-int(wait_us) // 1000),
    )


def _outcome(name: str, reply: Any) -> Outcome:
    result, gen, now_us, moved = _text(reply).split(",")
    transition = _with_generation(_transition(name, moved, int(now_us)), int(gen))
    return Outcome(recorded=_RECORDED[result], generation=int(gen), transition=transition)  # type: ignore[arg-type]


def _changed(name: str, reply: Any) -> tuple[BreakerSnapshot, Transition | None]:
    """An operator's isolate or reset: the state it left, and the transition it made."""
    text, now_us, moved = _text(reply).rsplit(",", 2)
    snapshot = _snapshot(name, text)
    if snapshot is None:  # isolate and reset always leave a state behind
        raise ValueError("no state after an operator's change")
    return snapshot, _with_generation(_transition(name, moved, int(now_us)), snapshot.generation)


def _snapshots(names: Sequence[str], replies: list[Any]) -> list[BreakerSnapshot | None]:
    return [_snapshot(name, _text(reply)) for name, reply in zip(names, replies, strict=True)]


class RedisBreakerStore:
    """Every breaker's shared state in Redis. Stateless apart from the client, prebuilt requests
    and when this process last registered each name."""

    def __init__(self, client: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.source, self.sha = breaker_script()
        self._pool = direct_pool(client)
        self._clock = clock
        # name -> (the config it was built for, EVALSHA request, EVAL request)
        self._acquire_requests: dict[str, tuple[BreakerConfig, bytes, bytes]] = {}
        self._registered: dict[str, float] = {}

    # -- the hot path ------------------------------------------------------------------------------------
    def acquire(self, name: str, config: BreakerConfig) -> Admission:
        self._register(name)
        reply = self._guarded(lambda: self._acquire(name, config))
        return _parsed(self._admission, name, reply)

    def _admission(self, name: str, reply: Any) -> Admission:
        verdict, gen, now_us, n, moved = _text(reply).split(",")
        generation = int(gen)
        transition = _with_generation(_transition(name, moved, int(now_us)), generation)
        if transition is not None:
            self._register(name, force=True)
        return Admission(
            verdict=_VERDICTS[verdict],
            generation=generation,
            now_us=int(now_us),
            permit=int(n) if verdict == "p" else 0,
            wait_ms=-(-int(n) // 1000) if verdict == "o" else 0,
            transition=transition,
        )

    def _acquire(self, name: str, config: BreakerConfig) -> Any:
        args = ["a", config.half_open_permits, config.probe_lease_ms * 1000, config.idle_ttl_ms]
        if self._pool is None:
            return self._eval(name, args)
        plan = self._acquire_requests.get(name)
        if plan is None or (plan[0] is not config and plan[0] != config):
            plan = self._plan(name, config, args)
        try:
            return call_packed(self._pool, plan[1])
        except NoScriptError:
            return call_packed(self._pool, plan[2])

    def _plan(self, name: str, config: BreakerConfig, args: list[Any]) -> tuple[BreakerConfig, bytes, bytes]:
        """The EVALSHA request and its EVAL twin (for NOSCRIPT), RESP-encoded once per breaker."""
        parts = [b"3", *(k.encode() for k in breaker_keys(name)), *(str(a).encode() for a in args)]
        plan = (config, command(b"EVALSHA", self.sha.encode(), *parts), command(b"EVAL", self.source.encode(), *parts))
        if len(self._acquire_requests) >= _MAX_CACHED:
            self._acquire_requests.clear()
        self._acquire_requests[name] = plan
        return plan

    def record(self, name: str, config: BreakerConfig, admission: Admission, *, success: bool) -> Outcome:
        args = [
            "r",
            admission.generation,
            admission.now_us,
            admission.permit,
            1 if success else 0,
            config.bucket_ms * 1000,
            config.buckets,
            config.minimum_calls,
            config.failure_rate_percent,
            config.slow_call_ms * 1000,
            config.open_ms * 1000,
            config.half_open_permits,
            config.probe_failures_to_reopen,
            config.streak,
            config.idle_ttl_ms,
        ]
        reply = self._guarded(lambda: self._eval(name, args))
        outcome = _parsed(_outcome, name, reply)
        if outcome.transition is not None:
            self._register(name, force=True)
        return outcome

    # -- operators ----------------------------------------------------------------------------------------
    def isolate(self, name: str, config: BreakerConfig) -> tuple[BreakerSnapshot, Transition | None]:
        return self._admin(name, ["i", config.bucket_ms * 1000, config.buckets])

    def reset(self, name: str, config: BreakerConfig) -> tuple[BreakerSnapshot, Transition | None]:
        return self._admin(name, ["z", config.bucket_ms * 1000, config.buckets, config.idle_ttl_ms])

    def _admin(self, name: str, args: list[Any]) -> tuple[BreakerSnapshot, Transition | None]:
        self._register(name, force=True)
        return _parsed(_changed, name, self._guarded(lambda: self._eval(name, args)))

    def snapshots(self, names: Sequence[str], config: BreakerConfig) -> list[BreakerSnapshot | None]:
        if not names:
            return []
        args = ["s", config.bucket_ms * 1000, config.buckets]

        def run() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            for name in names:
                pipe.evalsha(self.sha, 3, *breaker_keys(name), *args)
            try:
                return list(pipe.execute())
            except NoScriptError:
                self.client.script_load(self.source)
                pipe = self.client.pipeline(transaction=False)
                for name in names:
                    pipe.evalsha(self.sha, 3, *breaker_keys(name), *args)
                return list(pipe.execute())

        return _parsed(_snapshots, names, self._guarded(run))

    def names(self, limit: int, after: str | None) -> tuple[list[str], bool]:
        start = f"({after}" if after is not None else "-"
        found = self._guarded(lambda: self.client.zrange(REGISTRY_KEY, start, "+", bylex=True, offset=0, num=limit + 1))
        names = [_text(n) for n in found]
        return names[:limit], len(names) > limit

    def is_known(self, name: str) -> bool:
        if self._guarded(lambda: self.client.zscore(REGISTRY_KEY, name)) is not None:
            return True
        return self.snapshots([name], BreakerConfig())[0] is not None

    # -- plumbing -----------------------------------------------------------------------------------------
    def _eval(self, name: str, args: list[Any]) -> Any:
        keys = breaker_keys(name)
        try:
            return self.client.evalsha(self.sha, 3, *keys, *args)
        except NoScriptError:
            return self.client.eval(self.source, 3, *keys, *args)

    def _register(self, name: str, *, force: bool = False) -> None:
        """List the name for operators (GET /v1/breakers). Another slot than the breaker's keys, so
        not in the script; a failure here never fails a decision."""
        now = self._clock()
        if not force and self._registered.get(name, -_REGISTER_EVERY_S) > now - _REGISTER_EVERY_S:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.zadd(REGISTRY_KEY, {name: 0})
            pipe.expire(REGISTRY_KEY, _REGISTRY_TTL_S)
            pipe.execute()
        except (RedisError, OSError):
            return  # the decision itself will say whether Redis is down
        if len(self._registered) >= _MAX_CACHED:
            self._registered.clear()
        self._registered[name] = now

    @staticmethod
    def _guarded(call: Callable[[], T]) -> T:
        try:
            return call()
        except ResponseError as error:
            code = outage_code(error)
            if code is None:
                # Not an outage but a defect or a damaged key (WRONGTYPE, a script error): still
                # no decision from the store, so the same fallback, but loud. The reply's first
                # word only: its text can quote a key, and a breaker's name is a host.
                code = reply_text(error).split(" ", 1)[0][:32] or "ERR"
                _log.error("breaker store error reply", extra={"reply": code})
            raise BreakerStoreUnavailable(code) from error
        except (RedisError, OSError) as error:
            raise BreakerStoreUnavailable(type(error).__name__, timeout=isinstance(error, TIMEOUTS)) from error
