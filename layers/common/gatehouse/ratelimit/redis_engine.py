"""Runs the limiter script of a check's shape (scripts.py): EVALSHA in one round trip, EVAL on
NOSCRIPT, reply parsed into a Decision.

This is the rate limiter's hot path, measured against a bare PING (docs/reference.md#performance-targets). With a plain
`redis.Redis` client the request is RESP bytes built once per subject and policy set (a
"plan", which also holds the fixed fields of the reply's WindowResults) and written on a
connection of the client's own pool with the client's own retry policy and timeouts:
redis-py's generic command path (argument encoding, packing, callbacks) costs more per call
than the script does inside Redis. Any other client (RedisCluster, a single-connection
or client-side-caching client) goes through redis-py's ordinary `evalsha`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from redis.exceptions import NoScriptError, RedisError, ResponseError

from gatehouse.clients.redis_errors import TIMEOUTS, outage_code
from gatehouse.clients.redis_resp import bulk, call_packed, direct_pool
from gatehouse.ratelimit.decision import Decision, ScopedWindow, WindowResult
from gatehouse.ratelimit.errors import LimiterReplyError, LimiterUnavailable
from gatehouse.ratelimit.keys import key_indexes, keys_for
from gatehouse.ratelimit.policies import Window
from gatehouse.ratelimit.scripts import script_for, shape_of

_FIELDS_PER_WINDOW = 3
# Every number of a reply is below this in magnitude (at most 15 digits; limiter.lua's numbers are
# bounded far below it, docs/rate-limits.md#bounds).
_BOUND = 10**15
# str.translate table deleting a reply's digits and commas: all that may be left is "-".
_DIGITS_AND_COMMAS = dict.fromkeys(map(ord, "0123456789,"))
_new = tuple.__new__
# Bound of the per-engine plan cache; a full cache is simply dropped (cheaper than an LRU's
# bookkeeping on every call, and a miss only costs encoding one request).
_MAX_CACHED_SUBJECTS = 2048
# Outages (a timeout, an error reply such as OOM or READONLY) are decided by each policy's failure
# mode (docs/rate-limits.md#when-redis-fails); the classification is shared with the breaker's adapter.
_TIMEOUTS = TIMEOUTS


def window_numbers(window: Window) -> tuple[int, int, int]:
    """A window's three numbers as the limiter scripts read them: period us, interval us, tolerance
    us for GCRA (the interval rounded up to a whole microsecond, as algorithms.gcra does); period
    us, limit, 0 for the sliding counter."""
    period = window.period_seconds * 1_000_000
    if window.algorithm == "gcra":
        interval = -(-period // window.limit)
        return period, interval, interval * window.effective_burst
    return period, window.limit, 0


def check_shape(windows: list[ScopedWindow]) -> str:
    """The shape of a check (scripts.py): each window's algorithm, its keys separated by "|"."""
    return shape_of([s.window.algorithm for s in windows], key_indexes(windows))


def script_args(windows: list[ScopedWindow], cost: int, *, peek: bool) -> list[str | int]:
    """ARGV for the limiter scripts: the cost (negated for a peek), the shape, three numbers per window."""
    if cost < 0:  # the sign is the mode: a negative cost would turn a peek into a charge
        raise ValueError(f"a cost is never negative, got {cost}")
    numbers = [n for s in windows for n in window_numbers(s.window)]
    return [-cost if peek else cost, check_shape(windows), *numbers]


class _Plan(NamedTuple):
    """Everything of one subject's check that does not change from call to call."""

    windows: tuple[ScopedWindow, ...]  # what the plan was built for
    cost: int
    peek: bool
    request: bytes  # the whole EVALSHA request, RESP-encoded
    sha: str  # the script's
    source: str  # the script, for EVAL (a shape's first check here, or NOSCRIPT)
    body: bytes  # the request after the script's SHA: numkeys, keys, args (for EVAL)
    parts: int  # how many bulk strings the request has
    heads: tuple[tuple[str, str, str, int, int], ...]  # each WindowResult's fixed fields
    policies: tuple[str, ...]


def _same_windows(planned: tuple[ScopedWindow, ...], windows: list[ScopedWindow]) -> bool:
    if len(planned) != len(windows):
        return False
    for plan, scoped in zip(planned, windows, strict=True):
        if scoped is plan:  # RateLimiter hands the same scoped windows back for a policy set
            continue
        # The same window objects under the same policy, kept in the same owner's slot.
        if (
            scoped.window is not plan.window
            or scoped.policy != plan.policy
            or scoped.owner != plan.owner
            or scoped.shared != plan.shared
            or scoped.group != plan.group
        ):
            return False
    return True


class RedisEngine:
    """Decides a check on Redis (the LimiterEngine adapter). Stateless apart from the client and a
    cache of encoded requests."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._pool = direct_pool(client)
        if self._pool is not None:
            kwargs = self._pool.connection_kwargs
            self._encoding = (kwargs.get("encoding", "utf-8"), kwargs.get("encoding_errors", "strict"))
        # subject -> the plan of its last check, reused while the windows are the very same
        # (frozen) objects with the same policies, cost and mode; anything else builds a new one.
        self._plans: dict[str, _Plan] = {}
        # The scripts this engine has sent whole (EVAL): a shape's first check sends its script
        # rather than its SHA, so that check is one round trip too (EVAL caches it in Redis).
        self._sent: set[str] = set()

    def evaluate(self, subject: str, windows: list[ScopedWindow], cost: int, *, peek: bool = False) -> Decision:
        """The decision of limiter.lua; redis-py's errors come out as the area's own."""
        try:
            return self._evaluate(subject, windows, cost, peek)
        except ResponseError as error:
            code = outage_code(error)
            if code is not None:
                raise LimiterUnavailable(code) from error
            raise LimiterReplyError(str(error)) from error
        except (RedisError, OSError) as error:
            raise LimiterUnavailable(type(error).__name__, timeout=isinstance(error, _TIMEOUTS)) from error

    def _evaluate(self, subject: str, windows: list[ScopedWindow], cost: int, peek: bool) -> Decision:
        if not windows:
            raise ValueError("a check needs at least one window")
        pool = self._pool
        if pool is None:
            return self._evaluate_generic(subject, windows, cost, peek=peek)
        plan = self._plans.get(subject)
        if plan is None or plan.cost != cost or plan.peek != peek or not _same_windows(plan.windows, windows):
            plan = self._plan(subject, windows, cost, peek)
            if plan.sha not in self._sent:
                reply = self._call(pool, _eval_request(plan))
                self._sent.add(plan.sha)
                return _decision(reply, plan.heads, plan.policies, cost)
        try:
            reply = self._call(pool, plan.request)
        except NoScriptError:
            # After a SCRIPT FLUSH or failover: EVAL both answers and caches the script again.
            reply = self._call(pool, _eval_request(plan))
        return _decision(reply, plan.heads, plan.policies, cost)

    def _plan(self, subject: str, windows: list[ScopedWindow], cost: int, peek: bool) -> _Plan:
        keys = [k.encode(*self._encoding) for k in keys_for(subject, windows)]
        args = script_args(windows, cost, peek=peek)
        source, sha = script_for(str(args[1]))
        body = b"".join([bulk(b"%d" % len(keys)), *map(bulk, keys), *(bulk(str(arg).encode()) for arg in args)])
        parts = 3 + len(keys) + len(args)  # EVALSHA, sha, numkeys, keys, args
        plan = _Plan(
            windows=tuple(windows),
            cost=cost,
            peek=peek,
            request=b"*%d\r\n%s%s" % (parts, bulk(b"EVALSHA") + bulk(sha.encode()), body),
            sha=sha,
            source=source,
            body=body,
            parts=parts,
            heads=_heads(windows),
            policies=_policies(windows),
        )
        if len(self._plans) >= _MAX_CACHED_SUBJECTS:
            self._plans.clear()
        self._plans[subject] = plan
        return plan

    # One command on the pool, as redis-py would send it (clients/redis_resp.py); a seam tests replace.
    _call = staticmethod(call_packed)

    def _evaluate_generic(self, subject: str, windows: list[ScopedWindow], cost: int, *, peek: bool) -> Decision:
        keys = keys_for(subject, windows)
        args = script_args(windows, cost, peek=peek)
        source, sha = script_for(str(args[1]))
        if sha not in self._sent:
            reply = self.client.eval(source, len(keys), *keys, *args)
            self._sent.add(sha)
            return parse_reply(reply, windows, cost)
        try:
            reply = self.client.evalsha(sha, len(keys), *keys, *args)
        except NoScriptError:
            reply = self.client.eval(source, len(keys), *keys, *args)
        return parse_reply(reply, windows, cost)


def _eval_request(plan: _Plan) -> bytes:
    return b"*%d\r\n%s%s" % (plan.parts, bulk(b"EVAL") + bulk(plan.source.encode("utf-8")), plan.body)


def parse_reply(reply: bytes | str, windows: list[ScopedWindow], cost: int) -> Decision:
    """Parse limiter.lua's flat "seconds,microseconds,(remaining,reset_ms,retry_ms)*" reply."""
    return _decision(reply, _heads(windows), _policies(windows), cost)


def _heads(windows: list[ScopedWindow]) -> tuple[tuple[str, str, str, int, int], ...]:
    """Each window's WindowResult fields that do not depend on the reply."""
    return tuple(
        (s.policy, s.window.name, s.window.algorithm, s.window.limit, s.window.period_seconds) for s in windows
    )


def _policies(windows: list[ScopedWindow]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s.policy for s in windows))


def _decision(
    reply: bytes | str, heads: tuple[tuple[str, str, str, int, int], ...], policies: tuple[str, ...], cost: int
) -> Decision:
    # Runs right after the thread wakes from the socket read, on cold CPU caches, where every
    # bytecode costs several times what a warm microbenchmark says: every field becomes an int in
    # one C-level pass, the fixed fields come prebuilt and the tuples are made with tuple.__new__
    # (no NamedTuple __new__ frame).
    #
    # Strict: every field is an ASCII integer below 10^15 in magnitude (limiter.lua's "%d" of a
    # bounded number), remaining and reset >= 0, retry >= 0 or -1, and exactly the fields of these
    # windows (leading zeros and "-0" are read as their value: the script never writes them, and
    # they cannot change a decision). int() alone would read "1_700", " 7", Arabic-Indic digits or
    # a 40-digit retry, and a Retry-After of 10^37 s is no answer. Anything else is the engine's
    # reply error, decided by the failure mode (docs/rate-limits.md#when-redis-fails). The usual
    # reply (digits and commas only) costs one C-level translate and one max(); only a reply with
    # a "-" (a retry of -1) has its fields compared one by one.
    if isinstance(reply, bytes):
        other = reply.translate(None, b"0123456789,")
        fields = reply.split(b",")
    elif isinstance(reply, str) and reply.isascii():
        other = reply.translate(_DIGITS_AND_COMMAS).encode()
        fields = reply.split(",")  # type: ignore[assignment]
    else:
        raise LimiterReplyError(f"unreadable limiter reply of type {type(reply).__name__}")
    if other and other.strip(b"-"):
        raise LimiterReplyError("limiter reply with a character other than an ASCII digit, ',' or '-'")
    try:
        values = [*map(int, fields)]
    except ValueError:
        raise LimiterReplyError("limiter reply with a field that is no integer") from None
    if len(values) != 2 + _FIELDS_PER_WINDOW * len(heads):
        raise LimiterReplyError(f"unexpected limiter reply of {len(values)} fields for {len(heads)} windows")
    if max(values) >= _BOUND or (other and not _negatives_allowed(values)):
        raise LimiterReplyError("limiter reply out of bounds")
    results = []
    all_allowed = True
    i = 2
    for head in heads:
        retry = values[i + 2]
        # A window admits exactly when it has no wait (limiter.lua: a denied one has one, or -1).
        allowed = retry == 0
        if not allowed:
            all_allowed = False
        results.append(_new(WindowResult, (*head, allowed, values[i], values[i + 1], retry)))
        i += _FIELDS_PER_WINDOW
    # Decision's fields in order: allowed, windows, cost, now_ms, degraded, blocked,
    # block_retry_after, policies. Redis TIME comes as seconds and microseconds.
    now_ms = values[0] * 1000 + values[1] // 1000
    return _new(Decision, (all_allowed, results, cost, now_ms, False, False, 0, policies))


def _negatives_allowed(values: list[int]) -> bool:
    """Only a retry may be negative, and only -1 (the cost can never fit); a bounded magnitude too."""
    for i, value in enumerate(values):
        if value < 0 and (value != -1 or i < 2 or (i - 2) % _FIELDS_PER_WINDOW != 2):
            return False
    return True
