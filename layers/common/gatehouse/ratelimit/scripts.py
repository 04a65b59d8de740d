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
local w{k} = {first}a ~= nil
"""

_GCRA = """local p{i}, iv{i}, tol{i} = ARGV[{j}] + 0, ARGV[{j1}] + 0, ARGV[{j2}] + 0
local old{i} = x{i}a
local tat{i} = old{i} or 0
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

# A key's expiry: the latest of its windows' deadlines, kept (SETRANGE) while it does not move.
_WRITE = """  do
    local d, e, o = 0, 0, false
{deadlines}    local value = format('{format}', {values})
    if not w{k} or d ~= o then
      call('SET', KEYS[{k}], value, 'PXAT', d / 1000)
    elseif #value >= #s{k} then
      call('SETRANGE', KEYS[{k}], '0', value)
    else
      call('SET', KEYS[{k}], value, 'KEEPTTL')
    end
  end
"""

_GCRA_DEADLINE = """    q = tat{i} / p{i}; e = (q - q % 1 + 1) * p{i}; if e > d then d = e end
    if w{k} then q = old{i} / p{i}; e = (q - q % 1 + 1) * p{i}; if not o or e > o then o = e end end
"""

_SLIDING_DEADLINE = """    e = (idx{i} + 2) * p{i}; if e > d then d = e end
    if w{k} then e = (x{i}a + 2) * p{i}; if not o or e > o then o = e end end
"""


def shape_of(algorithms: list[str], key_indexes: list[int]) -> str:
    """The shape of a check: each window's algorithm ("g" or "s"), the keys separated by "|"."""
    parts: list[str] = []
    for i, (algorithm, k) in enumerate(zip(algorithms, key_indexes, strict=True)):
        if i and k != key_indexes[i - 1]:
            parts.append("|")
        parts.append("g" if algorithm == "gcra" else "s")
    return "".join(parts)


def write_script(shape: str) -> str:
    """Straight-line Lua deciding a check of this shape exactly as limiter.lua does."""
    lines = [_HEAD.format(shape=shape)]
    windows: list[tuple[int, str, int]] = []
    j = 3
    for k, kinds in enumerate(shape.split("|"), 1):
        first = len(windows) + 1
        ids = range(first, first + len(kinds))
        captures = [c for i, kind in zip(ids, kinds, strict=True) for c in _captures(i, kind)]
        pattern = "".join("(%d+);" if kind == "g" else "(%d+):(%d+):(%d+);" for kind in kinds)
        lines.append(
            _KEY.format(
                k=k,
                captures=", ".join(captures),
                pattern=pattern,
                first=f"x{first}",
                numbers=", ".join(f"{c} + 0" for c in captures),
                too_big=" or ".join(f"{c} >= 9007199254740992" for c in captures),
            )
        )
        for i, kind in zip(ids, kinds, strict=True):
            lines.append((_GCRA if kind == "g" else _SLIDING).format(i=i, k=k, j=j, j1=j + 1, j2=j + 2))
            windows.append((i, kind, k))
            j += 3
    lines.append("local charged = charge and " + " and ".join(f"ok{i}" for i, _, _ in windows) + "\n")
    for i, kind, _ in windows:
        lines.append((_GCRA_REPLY if kind == "g" else _SLIDING_REPLY).format(i=i))
    lines.append("if charged then\n")
    for k in range(1, shape.count("|") + 2):
        mine = [(i, kind) for i, kind, key in windows if key == k]
        deadlines = "".join((_GCRA_DEADLINE if kind == "g" else _SLIDING_DEADLINE).format(i=i, k=k) for i, kind in mine)
        fmt = "".join("%d;" if kind == "g" else "%d:%d:%d;" for _, kind in mine)
        values = ", ".join(f"tat{i}" if kind == "g" else f"idx{i}, count{i}, prev{i}" for i, kind in mine)
        lines.append(_WRITE.format(k=k, deadlines=deadlines, format=fmt, values=values))
    lines.append("end\n")
    fields = []
    for i, _, _ in windows:
        lines.append(f"if r{i} < 0 then r{i} = 0 end\n")
        lines.append(f"if z{i} > 0 then q = z{i} / 1000; z{i} = q + (-q) % 1 else z{i} = 0 end\n")
        fields.append(f"r{i}, z{i}, y{i}")
    lines.append(f"return t[1] .. ',' .. t[2] .. format('{',%d,%d,%d' * len(windows)}', {', '.join(fields)})\n")
    return "".join(lines)


def _captures(i: int, kind: str) -> list[str]:
    return [f"x{i}a"] if kind == "g" else [f"x{i}a", f"x{i}b", f"x{i}c"]


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
