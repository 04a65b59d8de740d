"""The limiter's Lua scripts: one written out for each shape of check, limiter.lua for the rest.

A check's shape is each window's algorithm in KEYS order, the keys (one per policy) separated by
"|": "sg" is the bench's sliding hour and GCRA second in one key, "sg|g" adds a GCRA window in a
second key. limiter.lua decides any shape by walking it (a recursive call per window, a
`string.match` per window's state, a `string.format` and a concatenation per window's reply and
value). The script written here for one shape does the same arithmetic in straight-line code with
every window's numbers in locals: one match of each key's whole value, one format of each key's
new value, one of the reply. That is about an eighth less Redis time per check than limiter.lua
(4.6 against 5.3 µs for the bench's two windows; docs/rate-limits.md#what-a-check-costs-redis).
Both answer, store and expire alike (tests/integration/test_ratelimit_differential.py runs both
on the same states, values set by hand among them); a value neither could have written (another
type, another layout, a number past 2^53) is no state for the whole key in both, and the charge
overwrites it with an expiring one.

Both take the same arguments (limiter.lua says which): ARGV[1] the signed cost, ARGV[2] the shape
(unused by a written script: its SHA names it), then three numbers per window. Lua 5.1 allows a
function 200 locals and a written window takes up to 18, so shapes of more than WRITTEN_MAX_WINDOWS
windows (a usage read of many policies) use limiter.lua. The shapes in use are few (the
configured policies, and the check API's ad-hoc windows, a key each: 510 sequences of 1 to 8), so
Redis's script cache holds a bounded number of them.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources
from typing import NamedTuple

# Lua 5.1's limits bound this: 200 locals a function (up to 18 a window) and 32 captures a
# string.match (3 a sliding window, all of one key's windows in one match).
WRITTEN_MAX_WINDOWS = 8

_HEAD = """-- Written by gatehouse/ratelimit/scripts.py for checks of shape {shape}; limiter.lua says what
-- every step means. ARGV: the signed cost, the shape, three numbers per window.
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local format, match, call = string.format, string.match, redis.call
local cost = ARGV[1] + 0
local charge = cost > 0
if cost < 0 then cost = -cost end
local q
"""

# A key's state: read whole, or (not a value this script could have written: another type, another
# layout, a number past 2^53) no state at all, which the charge overwrites. Every number read is
# made a number here, once.
_KEY = """local s{k} = redis.pcall('GET', KEYS[{k}])
if type(s{k}) ~= 'string' then s{k} = false end
local {captures}
if s{k} then {captures} = match(s{k}, '^{pattern}$') end
if {first}a then
  {captures} = {numbers}
  if {too_big} then {captures} = nil end
end
"""

_GCRA = """local p{i}, iv{i}, tol{i} = ARGV[{j}] + 0, ARGV[{j1}] + 0, ARGV[{j2}] + 0
local tat{i} = x{i}a or 0
if tat{i} < now then tat{i} = now end
local new{i} = tat{i} + cost * iv{i}
local wait{i} = new{i} - tol{i} - now
local ok{i} = wait{i} <= 0
"""

_SLIDING = """local p{i}, lim{i} = ARGV[{j}] + 0, ARGV[{j1}] + 0
q = now / p{i}
local idx{i} = q - q % 1
local left{i} = p{i} - (now - idx{i} * p{i})
local cur{i}, prev{i} = 0, 0
if x{i}a == idx{i} then
  cur{i}, prev{i} = x{i}b, x{i}c
elseif x{i}a == idx{i} - 1 then
  prev{i} = x{i}b
end
local used{i} = prev{i} * left{i} / p{i} + cur{i}
local ok{i} = used{i} + cost <= lim{i}
"""

_GCRA_REPLY = """if charged then tat{i} = new{i} end
q = (tol{i} - (tat{i} - now)) / iv{i}
local r{i}, z{i}, y{i} = q - q % 1, tat{i} - now, 0
if not ok{i} then
  if cost * iv{i} > tol{i} then y{i} = -1 else q = wait{i} / 1000; y{i} = q + (-q) % 1 end
end
"""

_SLIDING_REPLY = """local count{i}, spent{i} = cur{i}, 0
if charged then count{i}, spent{i} = cur{i} + cost, cost end
q = lim{i} - used{i} - spent{i}
local r{i}, z{i}, y{i} = q - q % 1, 0, 0
if count{i} > 0 then z{i} = left{i} + p{i} elseif prev{i} > 0 then z{i} = left{i} end
if not ok{i} then
  if cost > lim{i} then
    y{i} = -1
  else
    if prev{i} > 0 and cur{i} + cost <= lim{i} then
      q = (used{i} + cost - lim{i}) * p{i} / prev{i}
      y{i} = q + (-q) % 1
    elseif cur{i} <= lim{i} - cost then
      y{i} = left{i}
    else
      q = (1 - (lim{i} - cost) / cur{i}) * p{i}
      y{i} = left{i} + q + (-q) % 1
    end
    q = y{i} / 1000
    y{i} = q + (-q) % 1
  end
end
"""

# A key's expiry: the latest of its windows' deadlines, kept (SETRANGE) while it does not move. The
# old deadline o stays false when the key held nothing readable (every capture nil): SET PXAT then.
_WRITE = """  do
    local d, e, o = 0, 0, false
{deadlines}    local value = format('{format}', {values})
    if d ~= o then
      call('SET', KEYS[{k}], value, 'PXAT', d / 1000)
    elseif #value >= #s{k} then
      call('SETRANGE', KEYS[{k}], '0', value)
    else
      call('SET', KEYS[{k}], value, 'KEEPTTL')
    end
  end
"""

_GCRA_DEADLINE = """    q = tat{i} / p{i}; e = (q - q % 1 + 1) * p{i}; if e > d then d = e end
    if x{i}a then q = x{i}a / p{i}; e = (q - q % 1 + 1) * p{i}; if not o or e > o then o = e end end
"""

_SLIDING_DEADLINE = """    e = (idx{i} + 2) * p{i}; if e > d then d = e end
    if x{i}a then e = (x{i}a + 2) * p{i}; if not o or e > o then o = e end end
"""


def shape_of(algorithms: list[str], key_indexes: list[int]) -> str:
    """The shape of a check: each window's algorithm ("g" or "s"), the keys separated by "|"."""
    parts: list[str] = []
    for i, (algorithm, k) in enumerate(zip(algorithms, key_indexes, strict=True)):
        if i and k != key_indexes[i - 1]:
            parts.append("|")
        parts.append("g" if algorithm == "gcra" else "s")
    return "".join(parts)


class _Kind(NamedTuple):
    """How one algorithm's windows are written out: its state in a key's value (read by `pattern`
    into the captures x<i><letter>, written by `value` from `fields`), and its Lua blocks."""

    pattern: str
    captures: str
    value: str
    fields: str
    decide: str
    reply: str
    deadline: str


_KINDS = {
    "g": _Kind("(%d+);", "a", "%d;", "tat{i}", _GCRA, _GCRA_REPLY, _GCRA_DEADLINE),
    "s": _Kind("(%d+):(%d+):(%d+);", "abc", "%d:%d:%d;", "idx{i}, count{i}, prev{i}", _SLIDING, _SLIDING_REPLY,
               _SLIDING_DEADLINE),
}  # fmt: skip


def write_script(shape: str) -> str:
    """Straight-line Lua deciding a check of this shape exactly as limiter.lua does."""
    # Windows are numbered 1..n across keys, in KEYS order; window i's numbers are ARGV[3i..3i+2].
    numbered: list[list[tuple[int, _Kind]]] = []
    for letters in shape.split("|"):
        first = sum(map(len, numbered)) + 1
        numbered.append([(first + i, _KINDS[letter]) for i, letter in enumerate(letters)])
    lines = [_HEAD.format(shape=shape)]
    for k, key in enumerate(numbered, 1):
        captures = ", ".join(f"x{i}{c}" for i, kind in key for c in kind.captures)
        lines.append(
            _KEY.format(
                k=k,
                captures=captures,
                pattern="".join(kind.pattern for _, kind in key),
                first=f"x{key[0][0]}",
                numbers=", ".join(f"{c} + 0" for c in captures.split(", ")),
                too_big=" or ".join(f"{c} >= 9007199254740992" for c in captures.split(", ")),
            )
        )
        lines.extend(kind.decide.format(i=i, j=3 * i, j1=3 * i + 1, j2=3 * i + 2) for i, kind in key)
    windows = [window for key in numbered for window in key]
    lines.append("local charged = charge and " + " and ".join(f"ok{i}" for i, _ in windows) + "\n")
    lines.extend(kind.reply.format(i=i) for i, kind in windows)
    lines.append("if charged then\n")
    for k, key in enumerate(numbered, 1):
        lines.append(
            _WRITE.format(
                k=k,
                deadlines="".join(kind.deadline.format(i=i) for i, kind in key),
                format="".join(kind.value for _, kind in key),
                values=", ".join(kind.fields.format(i=i) for i, kind in key),
            )
        )
    lines.append("end\n")
    for i, _ in windows:
        lines.append(f"if r{i} < 0 then r{i} = 0 end\n")
        lines.append(f"if z{i} > 0 then q = z{i} / 1000; z{i} = q + (-q) % 1 else z{i} = 0 end\n")
    fields = ", ".join(f"r{i}, z{i}, y{i}" for i, _ in windows)
    lines.append(f"return t[1] .. ',' .. t[2] .. format('{',%d,%d,%d' * len(windows)}', {fields})\n")
    return "".join(lines)


@lru_cache(maxsize=1)
def limiter_script() -> tuple[str, str]:
    """limiter.lua's source and its SHA1, read once per process (the SHA is computed locally,
    so no SCRIPT LOAD round trip is ever needed up front)."""
    source = resources.files("gatehouse.ratelimit").joinpath("limiter.lua").read_text("utf-8")
    return source, _sha(source)


@lru_cache(maxsize=512)
def script_for(shape: str) -> tuple[str, str]:
    """The source and SHA1 of the script deciding checks of this shape."""
    if shape.count("g") + shape.count("s") > WRITTEN_MAX_WINDOWS:
        return limiter_script()
    source = write_script(shape)
    return source, _sha(source)


def _sha(source: str) -> str:
    return hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()
