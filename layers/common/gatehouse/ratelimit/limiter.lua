-- Decides every window of one request atomically, in one round trip, on Redis time.
--
-- KEYS[i]   state of window i; every key of a check shares one {subject} hash tag.
-- ARGV[1]   the cost as a signed integer: "<cost>" checks (every window is charged when every window
--           admits), "-<cost>" peeks (nothing is charged). A cost of 0 charges nothing either.
-- ARGV[2]   every window, in KEYS order, as "<algorithm><period us>,<b>,<c>;" each:
--           "g<period us>,<interval us>,<tolerance us>;" for GCRA, the caller having computed
--           interval = ceil(period / limit) and tolerance = interval * burst; and
--           "s<period us>,<limit>,0;" for the sliding-window counter. Two arguments whatever the
--           number of windows: Redis builds ARGV afresh for every call, about 1.1k instructions an
--           argument, more than one string.match over a longer one costs.
-- Reply     one string "seconds,microseconds" (Redis TIME as it came) then
--           ",remaining,reset_after_ms,retry_after_ms" per window: a flat string parses far
--           faster than a RESP array in redis-py. It is returned bare (a bulk reply): wrapping it
--           as a status reply ({ok = ...}) costs a table and Redis's lookups of its fields, about
--           2.6k instructions, where the client's second read of a bulk string was not
--           measurable in its p50. A window admits exactly when its retry_after_ms is 0 (a
--           denied one always has a wait, or -1), so "allowed" is not sent; nor is the limit
--           (the caller sent it). retry_after_ms is -1 when the cost can never fit (above limit
--           or burst).
--
-- State: GCRA stores its TAT; the sliding counter stores "bucket:current:previous". Both are
-- one string per window: one MGET reads them all, one write per window records a charge. A
-- key's expiry is a deadline derived from its own value (the end of the GCRA TAT's period, the
-- end of the bucket after the sliding counter's), so a charge that keeps the deadline keeps the
-- key's TTL: setting an expiry is most of a SET's cost, and most charges keep it. Every write
-- keeps "deadline = f(stored value)" true, which is what lets the next one rely on it.
-- Time is integer microseconds (TIME is exact below 2^53): integer arithmetic keeps "exactly
-- the limit" exact where fractional emission intervals would drift.
--
-- Speed (callgrind on redis-server, docs/rate-limits.md#what-a-check-costs-redis): past the
-- redis.call()s and the arguments, a script's cost is its calls of C functions (string.format
-- about 2.2k instructions, tonumber 1.8k, string.match 2.7k to 3.4k, math.floor 0.5k) and
-- number <-> string conversion, far more than arithmetic. So: no table is built per check (each
-- window's numbers stay in the locals of its own call of decide); a string becomes a number by
-- arithmetic ("s + 0", 0.7k) rather than tonumber; floor(x) is "x - x % 1" and ceil(x) is
-- "x + (-x) % 1" (the same doubles as math.floor and math.ceil, as virtual-machine arithmetic);
-- every number goes out through string.format's "%d" (tostring and concatenation use "%.14g",
-- two to three times slower, and inexact past 10^14), one call per window for its reply, with a
-- literal 0 for the usual retry; a sliding counter charged within its bucket reuses the stored
-- bucket and previous count as they were read; a peek or a denied check formats no state, and a
-- charge that keeps the deadline overwrites in place with SETRANGE.

local t = redis.call('TIME')
local stored = redis.call('MGET', unpack(KEYS))
local match, format, call, windows = string.match, string.format, redis.call, ARGV[2]

-- Judges window i (its argument starting at position `from` of ARGV[2]), then (by recursion) every
-- window after it, `allowed` saying whether all those before it admit. Once the deepest call has
-- judged the last window, whether the request is charged is known; on the way back each window
-- charges (or not) and formats its part of the reply. Returns that verdict and the reply of
-- windows i..n.
local function decide(i, from, allowed, now, cost, charge, n)
  local algorithm, period, b, c, after = match(windows, '^(%a)(%d+),(%d+),(%d+);()', from)
  period = period + 0
  local s = stored[i]
  local gcra = algorithm == 'g'
  local ok, interval, tolerance, limit, old, tat, new_tat, wait, idx, left, cur, prev, bs, cs, ps, used, q
  if gcra then
    -- GCRA: TAT is the theoretical arrival time; a request fits while TAT - now <= burst * T.
    -- A whole-microsecond T rounds the rate down by < 1 us per request: never over-admits.
    interval, tolerance = b + 0, c + 0
    -- tonumber, not "s + 0": a value that is no number (written by hand) reads as no state, and
    -- the charge overwrites it, rather than failing every check until it expires. tonumber also
    -- reads "nan", "inf" and "1e400": a time only from 0 to below 2^53 microseconds (a NaN
    -- fails both comparisons).
    old = tonumber(s)
    if old and not (old >= 0 and old < 9007199254740992) then old = nil end
    tat = old or 0
    if tat < now then tat = now end
    new_tat = tat + cost * interval
    wait = new_tat - tolerance - now
    ok = wait <= 0
  else
    -- Sliding counter: epoch-aligned buckets; estimate = previous * overlap + current.
    limit = b + 0
    q = now / period
    idx = q - q % 1
    left = period - (now - idx * period)
    cur, prev = 0, 0
    if s then
      bs, cs, ps = match(s, '^(%d+):(%d+):(%d+)$')
      local bucket = bs and bs + 0 -- not "b:c:p" (written by hand): no state, overwritten
      if bucket == idx then
        cur, prev = cs + 0, ps + 0
      else
        bs = nil -- another bucket: a charge writes all three numbers afresh
        if bucket == idx - 1 then prev = cs + 0 end
      end
    end
    used = prev * left / period + cur
    ok = used + cost <= limit
  end

  allowed = allowed and ok
  local charged, rest = allowed and charge, ''
  if i < n then
    charged, rest = decide(i + 1, after, allowed, now, cost, charge, n)
  end

  -- Pass back: charge every window, or none (a denied request costs nothing).
  local remaining, reset, retry, value, deadline
  if gcra then
    local at = tat
    if charged then
      at = new_tat
      value = format('%d', new_tat)
      -- Expires at the end of the period holding the TAT: never before the TAT (after which the
      -- state is empty anyway), and unchanged while the TAT stays in that period.
      q = new_tat / period
      deadline = (q - q % 1 + 1) * period
      if old then
        q = old / period
        if deadline == (q - q % 1 + 1) * period then deadline = false end
      end
    end
    q = (tolerance - (at - now)) / interval
    remaining = q - q % 1
    reset = at - now
    if ok then retry = 0 elseif cost * interval > tolerance then retry = -1 else retry = wait end
  else
    local spent, count = 0, cur
    if charged then
      spent, count = cost, cur + cost
      -- Expires once this bucket has decayed out of the next one: the same deadline for a whole
      -- bucket, so only a bucket's first charge sets it. Within the bucket only the count changes.
      if bs then
        value = bs .. ':' .. format('%d', count) .. ':' .. ps
        deadline = false
      else
        value = format('%d:%d:%d', idx, count, prev)
        deadline = (idx + 2) * period
      end
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
    if deadline then
      call('SET', KEYS[i], value, 'PXAT', deadline / 1000)
    elseif #value >= #s then
      -- The deadline stays, so the TTL must: a charge only grows the TAT or the bucket's count,
      -- so the new value is never shorter and SETRANGE at 0 replaces it whole, keeping the TTL,
      -- for less than SET ... KEEPTTL costs.
      call('SETRANGE', KEYS[i], '0', value)
    else
      call('SET', KEYS[i], value, 'KEEPTTL')
    end
  end
  if remaining < 0 then remaining = 0 end
  if reset > 0 then q = reset / 1000; reset = q + (-q) % 1 else reset = 0 end
  if retry == 0 then return charged, format(',%d,%d,0', remaining, reset) .. rest end
  if retry > 0 then q = retry / 1000; retry = q + (-q) % 1 end
  return charged, format(',%d,%d,%d', remaining, reset, retry) .. rest
end

local c = ARGV[1] + 0
local cost = c
if c < 0 then cost = -c end
local _, reply = decide(1, 1, true, t[1] * 1000000 + t[2], cost, c > 0, #KEYS)
return t[1] .. ',' .. t[2] .. reply
