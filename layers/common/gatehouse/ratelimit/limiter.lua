-- Decides every window of one request atomically, in one round trip, on Redis time.
--
-- KEYS[i]   state of window i; every key of a check shares one {subject} hash tag.
-- ARGV[1]   "c" check: charge every window when every window admits; "p" peek: never charge.
-- ARGV[2]   cost, an integer >= 0.
-- ARGV[2+i] window i as "<algorithm>,<limit>,<period us>,<burst>": algorithm "g" (GCRA) or
--           "s" (sliding-window counter; burst unused).
-- Reply     one status reply "now_ms" then ",allowed,remaining,reset_after_ms,retry_after_ms"
--           per window: a flat string parses far faster than a RESP array in redis-py, and a
--           status reply ("+...") is one line to read where a bulk string is two. The limit
--           is not echoed (the caller sent it) and all_allowed is every window's allowed.
--           retry_after_ms is -1 when the cost can never fit (above limit or burst).
--
-- State: GCRA stores its TAT; the sliding counter stores "bucket:current:previous". Both are
-- one string per window: one MGET reads them all, one SET per window writes a charge. A key's
-- expiry is a deadline derived from its own value (the end of the GCRA TAT's period, the end
-- of the bucket after the sliding counter's), so a charge that keeps the deadline writes with
-- KEEPTTL: setting an expiry is most of a SET's cost, and most charges keep it. Every write
-- keeps "deadline = f(stored value)" true, which is what lets the next one rely on it.
-- Time is integer microseconds (TIME is exact below 2^53): integer arithmetic keeps "exactly
-- the limit" exact where fractional emission intervals would drift.
--
-- Speed: beyond the redis.call()s, much of this script's cost is turning numbers into strings.
-- Every number written or returned is a whole number, so it goes through string.format's "%d"
-- (an integer printf), the reply in one call, never tostring/table.concat ("%.14g", two to
-- three times slower per number).

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local charge = ARGV[1] == 'c'
local cost = tonumber(ARGV[2])
local n = #KEYS
local floor, ceil, format, match = math.floor, math.ceil, string.format, string.match
local stored = redis.call('MGET', unpack(KEYS))

-- Per window, flat: allowed, remaining before, remaining after, reset before, reset after,
-- retry (all in us or units), then the value to store and its expiry deadline in us (false:
-- the key keeps the one it has).
local st = {}
local all_allowed = true

-- Pass 1: evaluate every window; nothing is written yet.
for i = 1, n do
  local algorithm, limit, period, burst = match(ARGV[2 + i], '^(%a),(%d+),(%d+),(%d+)$')
  limit, period = tonumber(limit), tonumber(period)
  local ok, rem0, rem1, reset0, reset1, retry, value, deadline
  if algorithm == 'g' then
    -- GCRA: TAT is the theoretical arrival time; a request fits while TAT - now <= burst * T.
    -- A whole-microsecond T rounds the rate down by < 1 us per request: never over-admits.
    local interval = ceil(period / limit)
    local tolerance = interval * tonumber(burst)
    local old = tonumber(stored[i])
    local tat = old or 0
    if tat < now then tat = now end
    local new_tat = tat + cost * interval
    local wait = new_tat - tolerance - now
    ok = wait <= 0
    rem0 = floor((tolerance - (tat - now)) / interval)
    rem1 = floor((tolerance - (new_tat - now)) / interval)
    reset0, reset1 = tat - now, new_tat - now
    if ok then retry = 0 elseif cost * interval > tolerance then retry = -1 else retry = wait end
    value = format('%d', new_tat)
    -- Expires at the end of the period holding the TAT: never before the TAT (after which the
    -- state is empty anyway), and unchanged while the TAT stays in that period.
    deadline = (floor(new_tat / period) + 1) * period
    if old and deadline == (floor(old / period) + 1) * period then deadline = false end
  else
    -- Sliding counter: epoch-aligned buckets; estimate = previous * overlap + current.
    local idx = floor(now / period)
    local left = period - (now - idx * period)
    local cur, prev = 0, 0
    local s, b = stored[i], nil
    if s then
      local c, p
      b, c, p = match(s, '^(%d+):(%d+):(%d+)$')
      b = tonumber(b)
      if b == idx then
        cur, prev = tonumber(c), tonumber(p)
      elseif b == idx - 1 then
        prev = tonumber(c)
      end
    end
    local used = prev * left / period + cur
    ok = used + cost <= limit
    rem0 = floor(limit - used)
    rem1 = floor(limit - used - cost)
    -- Fully reset when this bucket's count has decayed out too (up to two periods away).
    local base = 0
    if prev > 0 then base = left end
    if cur > 0 then reset0 = left + period else reset0 = base end
    if cur + cost > 0 then reset1 = left + period else reset1 = base end
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
    value = format('%d:%d:%d', idx, cur + cost, prev)
    -- Expires once this bucket has decayed out of the next one: the same deadline for a whole
    -- bucket, so only a bucket's first charge sets it.
    if b == idx then deadline = false else deadline = (idx + 2) * period end
  end
  if not ok then all_allowed = false end
  local j = (i - 1) * 8
  st[j + 1], st[j + 2], st[j + 3], st[j + 4] = ok, rem0, rem1, reset0
  st[j + 5], st[j + 6], st[j + 7], st[j + 8] = reset1, retry, value, deadline
end

-- Pass 2: charge every window, or none (a denied request costs nothing).
local charged = charge and all_allowed and cost > 0
local out = {floor(now / 1000)}
for i = 1, n do
  local j = (i - 1) * 8
  local remaining, reset = st[j + 2], st[j + 4]
  if charged then
    local deadline = st[j + 8]
    if deadline then
      redis.call('SET', KEYS[i], st[j + 7], 'PXAT', deadline / 1000)
    else
      redis.call('SET', KEYS[i], st[j + 7], 'KEEPTTL')
    end
    remaining, reset = st[j + 3], st[j + 5]
  end
  if remaining < 0 then remaining = 0 end
  local r = st[j + 6]
  if r > 0 then r = ceil(r / 1000) end
  if reset > 0 then reset = ceil(reset / 1000) else reset = 0 end
  local k = 4 * i - 2
  out[k], out[k + 1], out[k + 2], out[k + 3] = st[j + 1] and 1 or 0, remaining, reset, r
end
return {ok = format('%d' .. string.rep(',%d,%d,%d,%d', n), unpack(out))}
