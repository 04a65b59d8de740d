-- Decides every window of one request atomically, in one round trip, on Redis time.
--
-- KEYS[i]   state of window i; every key of a check shares one {subject} hash tag.
-- ARGV[1]   "c" check: charge every window when every window admits; "p" peek: never charge.
-- ARGV[2]   cost, an integer >= 0.
-- ARGV[2+i] window i as "<algorithm>,<limit>,<period us>,<burst>": algorithm "g" (GCRA) or
--           "s" (sliding-window counter; burst unused). One packed argument, not four: Redis
--           builds ARGV afresh for every call, and a longer one costs more than string.match.
-- Reply     one status reply "seconds,microseconds" (Redis TIME as it came) then
--           ",remaining,reset_after_ms,retry_after_ms" per window: a flat string parses far
--           faster than a RESP array in redis-py, and a status reply ("+...") is one line to read
--           where a bulk string is two. A window admits exactly when its retry_after_ms is 0 (a
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
-- Speed (measured with INFO commandstats, docs/rate-limits.md#what-a-check-costs-redis): past the
-- redis.call()s, the script's cost is allocation and number <-> string conversion, far more than
-- arithmetic. So no table is built per check (each window's numbers stay in the locals of its
-- own call of decide), every number goes through string.format's "%d" (an integer printf;
-- tostring and concatenation use "%.14g", two to three times slower), a peek or a denied check
-- formats no state, and a charge that keeps the deadline overwrites in place with SETRANGE.

local t = redis.call('TIME')
local stored = redis.call('MGET', unpack(KEYS))

-- Judges window i, then (by recursion) every window after it, `allowed` saying whether all those
-- before it admit. Once the deepest call has judged the last window, whether the request is
-- charged is known; on the way back each window charges (or not) and formats its part of the
-- reply. Returns that verdict and the reply of windows i..n.
local function decide(i, allowed, now, cost, charge, n)
  local floor, ceil = math.floor, math.ceil
  local algorithm, limit, period, burst = string.match(ARGV[2 + i], '^(%a),(%d+),(%d+),(%d+)$')
  limit, period = limit + 0, period + 0
  local s = stored[i]
  local gcra = algorithm == 'g'
  local ok, interval, tolerance, old, tat, new_tat, wait, idx, left, cur, prev, b, used
  if gcra then
    -- GCRA: TAT is the theoretical arrival time; a request fits while TAT - now <= burst * T.
    -- A whole-microsecond T rounds the rate down by < 1 us per request: never over-admits.
    interval = ceil(period / limit)
    tolerance = interval * burst
    old = tonumber(s)
    tat = old or 0
    if tat < now then tat = now end
    new_tat = tat + cost * interval
    wait = new_tat - tolerance - now
    ok = wait <= 0
  else
    -- Sliding counter: epoch-aligned buckets; estimate = previous * overlap + current.
    idx = floor(now / period)
    left = period - (now - idx * period)
    cur, prev = 0, 0
    if s then
      local c, p
      b, c, p = string.match(s, '^(%d+):(%d+):(%d+)$')
      b = tonumber(b)
      if b == idx then
        cur, prev = c + 0, p + 0
      elseif b == idx - 1 then
        prev = c + 0
      end
    end
    used = prev * left / period + cur
    ok = used + cost <= limit
  end

  allowed = allowed and ok
  local charged, rest = allowed and charge, ''
  if i < n then
    charged, rest = decide(i + 1, allowed, now, cost, charge, n)
  end

  -- Pass back: charge every window, or none (a denied request costs nothing).
  local remaining, reset, retry, value, deadline
  if gcra then
    local at = tat
    if charged then
      at = new_tat
      value = string.format('%d', new_tat)
      -- Expires at the end of the period holding the TAT: never before the TAT (after which the
      -- state is empty anyway), and unchanged while the TAT stays in that period.
      deadline = (floor(new_tat / period) + 1) * period
      if old and deadline == (floor(old / period) + 1) * period then deadline = false end
    end
    remaining = floor((tolerance - (at - now)) / interval)
    reset = at - now
    if ok then retry = 0 elseif cost * interval > tolerance then retry = -1 else retry = wait end
  else
    local spent, count = 0, cur
    if charged then
      spent, count = cost, cur + cost
      value = string.format('%d:%d:%d', idx, count, prev)
      -- Expires once this bucket has decayed out of the next one: the same deadline for a whole
      -- bucket, so only a bucket's first charge sets it.
      if b == idx then deadline = false else deadline = (idx + 2) * period end
    end
    remaining = floor(limit - used - spent)
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
        retry = ceil(excess * period / prev)
      elseif cur <= limit - cost then
        retry = left
      else
        -- After the rollover this bucket's count decays in turn.
        retry = left + ceil((1 - (limit - cost) / cur) * period)
      end
    end
  end
  if charged then
    if deadline then
      redis.call('SET', KEYS[i], value, 'PXAT', deadline / 1000)
    elseif #value >= #s then
      -- The deadline stays, so the TTL must: a charge only grows the TAT or the bucket's count,
      -- so the new value is never shorter and SETRANGE at 0 replaces it whole, keeping the TTL,
      -- for less than SET ... KEEPTTL costs.
      redis.call('SETRANGE', KEYS[i], '0', value)
    else
      redis.call('SET', KEYS[i], value, 'KEEPTTL')
    end
  end
  if remaining < 0 then remaining = 0 end
  if retry > 0 then retry = ceil(retry / 1000) end
  if reset > 0 then reset = ceil(reset / 1000) else reset = 0 end
  return charged, string.format(',%d,%d,%d', remaining, reset, retry) .. rest
end

local cost = ARGV[2] + 0
local _, reply = decide(1, true, t[1] * 1000000 + t[2], cost, ARGV[1] == 'c' and cost > 0, #KEYS)
return {ok = t[1] .. ',' .. t[2] .. reply}
