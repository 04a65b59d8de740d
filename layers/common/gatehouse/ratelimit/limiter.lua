-- Decides every window of one request atomically, in one round trip, on Redis time.
--
-- This script decides a check of any shape, and says what every step means; checks of up to eight
-- windows run a script written for their shape by scripts.py, which does the same arithmetic in
-- straight-line code (an eighth less Redis time) and must answer and store exactly what this one
-- does (tests/integration/test_ratelimit_differential.py).
--
-- KEYS[k]   the state of every window of one policy (docs/rate-limits.md#counters); every key of a
--           check shares one {subject} hash tag.
-- ARGV[1]   the cost as a signed integer: "<cost>" checks (every window is charged when every window
--           admits), "-<cost>" peeks (nothing is charged). A cost of 0 charges nothing either.
-- ARGV[2]   the check's shape: each window's algorithm, "g" (GCRA) or "s" (sliding-window counter),
--           in KEYS order, the keys separated by "|" ("sg|g": a sliding and a GCRA window in KEYS[1],
--           a GCRA window in KEYS[2]).
-- ARGV[3..] three numbers per window: period us, interval us, tolerance us for GCRA (the caller
--           having computed interval = ceil(period / limit) and tolerance = interval * burst);
--           period us, limit, 0 for the sliding-window counter.
-- Reply     one string "seconds,microseconds" (Redis TIME as it came) then
--           ",remaining,reset_after_ms,retry_after_ms" per window: a flat string parses far
--           faster than a RESP array in redis-py. It is returned bare (a bulk reply): wrapping it
--           as a status reply ({ok = ...}) costs a table and Redis's lookups of its fields. A
--           window admits exactly when its retry_after_ms is 0 (a denied one always has a wait,
--           or -1), so "allowed" is not sent; nor is the limit (the caller sent it).
--           retry_after_ms is -1 when the cost can never fit (above limit or burst).
--
-- State: one string per key, the parts of its windows in order, each ended by ";": GCRA's TAT
-- ("<tat>;"), the sliding counter's "<bucket>:<current>:<previous>;". One GET per key reads them,
-- one write per key records a charge: a redis.call costs more than anything a window computes.
-- A key's expiry is a deadline derived from its own value, the latest of its windows' (the end of
-- the period holding a GCRA TAT, the end of the bucket after a sliding counter's), so a charge that
-- keeps the deadline keeps the key's TTL: setting an expiry is most of a SET's cost, and most
-- charges keep it. Every write keeps "deadline = f(stored value)" true, which is what lets the
-- next one rely on it; a value this script could not have written (by hand) is no state, and the
-- charge overwrites it with an expiring one. Time is integer microseconds (TIME is exact below
-- 2^53): integer arithmetic keeps "exactly the limit" exact where fractional emission intervals
-- would drift.
--
-- Speed (docs/rate-limits.md#what-a-check-costs-redis): past the redis.call()s, a script's cost is
-- the strings it makes (each is allocated, interned and collected) and its calls of C functions
-- (string.format, string.match, tonumber), far more than its arithmetic. So: no table is built per
-- check (each window's numbers stay in the locals of its own call of decide); a string becomes a
-- number by arithmetic ("s + 0"); floor(x) is "x - x % 1" and ceil(x) is "x + (-x) % 1" (the same
-- doubles as math.floor and math.ceil, as virtual-machine arithmetic); every number goes out
-- through string.format's "%d" (tostring and concatenation use "%.14g", slower, and inexact past
-- 10^14), one call per window for its reply, with a literal 0 for the usual retry; a peek or a
-- denied check formats no state, and a charge that keeps the deadline overwrites in place with
-- SETRANGE.

local t = redis.call('TIME')
local match, format, call, argv, keys = string.match, string.format, redis.call, ARGV, KEYS
local shape, byte = argv[2], string.byte
local windows = (#argv - 2) / 3

-- The value of the key whose first window is at position `pos` of the shape, when it is exactly what
-- these scripts write for that key's windows (each window's numbers, each below 2^53 so the
-- arithmetic is exact), else false: another type, another layout, a hand edit is no state, and the
-- charge overwrites it with an expiring value.
local function readable(s, pos)
  if type(s) ~= 'string' then return false end
  local letters = match(shape, '^[gs]+', pos)
  local pattern = '^' .. letters:gsub('s', '%%d+:%%d+:%%d+;'):gsub('g', '%%d+;') .. '$'
  if not match(s, pattern) then return false end
  for n in string.gmatch(s, '%d+') do
    if n + 0 >= 9007199254740992 then return false end
  end
  return s
end

-- Judges window i (its letter at position `pos` of the shape, its key KEYS[k], `first` when it is
-- that key's first window, its state at position `at` of the key's value s), then (by recursion)
-- every window after it, `allowed` saying whether all those before it admit. Once the deepest
-- call has judged the last window, whether the request is charged is known; on the way back each
-- window charges (or not) and formats its part of the reply, and the first window of a key writes
-- that key. Returns, for windows i..n: the verdict, the reply, and for window i's key: the value
-- of windows i.. of it, the latest new deadline, and the latest old one (false when the key held
-- no readable value: then there is no deadline to keep).
local function decide(i, pos, k, first, s, at, allowed, now, cost, charge)
  local j = 3 * i
  local period, b, c = argv[j] + 0, argv[j + 1] + 0, argv[j + 2] + 0
  local gcra = byte(shape, pos) == 103 -- "g"
  if first then
    s, at = readable(redis.pcall('GET', keys[k]), pos), 1
  end
  local ok, interval, tolerance, limit, old, tat, new_tat, wait, idx, left, cur, prev, used, q
  local old_deadline = false
  if gcra then
    -- GCRA: TAT is the theoretical arrival time; a request fits while TAT - now <= burst * T.
    -- A whole-microsecond T rounds the rate down by < 1 us per request: never over-admits.
    interval, tolerance = b, c
    if s then
      old, at = match(s, '^(%d+);()', at)
      old = old + 0
      q = old / period
      old_deadline = (q - q % 1 + 1) * period
    end
    tat = old or 0
    if tat < now then tat = now end
    new_tat = tat + cost * interval
    wait = new_tat - tolerance - now
    ok = wait <= 0
  else
    -- Sliding counter: epoch-aligned buckets; estimate = previous * overlap + current.
    limit = b
    q = now / period
    idx = q - q % 1
    left = period - (now - idx * period)
    cur, prev = 0, 0
    if s then
      local bucket, c, p
      bucket, c, p, at = match(s, '^(%d+):(%d+):(%d+);()', at)
      bucket = bucket + 0
      old_deadline = (bucket + 2) * period
      if bucket == idx then
        cur, prev = c + 0, p + 0
      elseif bucket == idx - 1 then
        prev = c + 0
      end
    end
    used = prev * left / period + cur
    ok = used + cost <= limit
  end

  allowed = allowed and ok
  local charged, rest = allowed and charge, ''
  -- What the rest of this window's key holds and says (nothing when this window is its last).
  local value, deadline, latest_old = '', false, false
  if i < windows then
    if byte(shape, pos + 1) == 124 then -- "|": the next window starts the next key
      charged, rest = decide(i + 1, pos + 2, k + 1, true, false, 1, allowed, now, cost, charge)
    else
      charged, rest, value, deadline, latest_old =
        decide(i + 1, pos + 1, k, false, s, at, allowed, now, cost, charge)
    end
  end
  if old_deadline and (not latest_old or old_deadline > latest_old) then latest_old = old_deadline end

  -- Pass back: charge every window, or none (a denied request costs nothing).
  local remaining, reset, retry, mine
  if gcra then
    local at_ = tat
    if charged then
      at_ = new_tat
      value = format('%d;', new_tat) .. value
      -- Expires at the end of the period holding the TAT: never before the TAT (after which the
      -- state is empty anyway).
      q = new_tat / period
      mine = (q - q % 1 + 1) * period
    end
    q = (tolerance - (at_ - now)) / interval
    remaining = q - q % 1
    reset = at_ - now
    if ok then retry = 0 elseif cost * interval > tolerance then retry = -1 else retry = wait end
  else
    local spent, count = 0, cur
    if charged then
      spent, count = cost, cur + cost
      -- Expires once this bucket has decayed out of the next one.
      value = format('%d:%d:%d;', idx, count, prev) .. value
      mine = (idx + 2) * period
    end
    q = limit - used - spent
    remaining = q - q % 1
    -- Fully reset when this bucket's count has decayed out too (up to two periods away).
    if count > 0 then reset = left + period elseif prev > 0 then reset = left else reset = 0 end
    if ok then
      retry = 0
    elseif cost > limit then
      retry = -1
    else
      local excess = used + cost - limit
      if prev > 0 and cur + cost <= limit then
        -- Only the previous bucket's weight is in the way; it decays within this bucket.
        q = excess * period / prev
        retry = q + (-q) % 1
      elseif cur <= limit - cost then
        retry = left
      else
        -- After the rollover this bucket's count decays in turn.
        q = (1 - (limit - cost) / cur) * period
        retry = left + q + (-q) % 1
      end
    end
  end
  if charged then
    if not deadline or mine > deadline then deadline = mine end
    if first then
      if deadline ~= latest_old then -- the deadline moved, or nothing readable was stored
        call('SET', keys[k], value, 'PXAT', deadline / 1000)
      elseif #value >= #s then
        -- The deadline stays, so the TTL must: SETRANGE at 0 of a value no shorter than the stored
        -- one replaces it whole and keeps the TTL, for less than SET ... KEEPTTL costs.
        call('SETRANGE', keys[k], '0', value)
      else
        call('SET', keys[k], value, 'KEEPTTL')
      end
    end
  end
  if remaining < 0 then remaining = 0 end
  if reset > 0 then q = reset / 1000; reset = q + (-q) % 1 else reset = 0 end
  if retry == 0 then
    return charged, format(',%d,%d,0', remaining, reset) .. rest, value, deadline, latest_old
  end
  if retry > 0 then q = retry / 1000; retry = q + (-q) % 1 end
  return charged, format(',%d,%d,%d', remaining, reset, retry) .. rest, value, deadline, latest_old
end

local c = argv[1] + 0
local cost = c
if c < 0 then cost = -c end
local _, reply = decide(1, 1, 1, true, false, 1, true, t[1] * 1000000 + t[2], cost, c > 0)
return t[1] .. ',' .. t[2] .. reply
