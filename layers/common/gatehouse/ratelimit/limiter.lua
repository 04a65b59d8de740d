-- Decides every window of one request atomically, in one round trip, on Redis time.
--
-- KEYS[i]   state of window i; every key of a check shares one {subject} hash tag.
-- ARGV[1]   "c" check: charge every window when every window admits; "p" peek: never charge.
-- ARGV[2]   cost, an integer >= 0.
-- ARGV[2+i] window i as "<algorithm>,<limit>,<period us>,<burst>": algorithm "g" (GCRA) or
--           "s" (sliding-window counter; burst unused). One packed argument per window keeps
--           the request small, which is most of the client's cost.
-- Reply     one string "now_ms,all_allowed" then ",allowed,limit,remaining,reset_after_ms,
--           retry_after_ms" per window (a flat string parses far faster than a RESP array in
--           redis-py). retry_after_ms is -1 when the cost can never fit (above limit or burst).
--
-- State: GCRA stores its TAT; the sliding counter stores "bucket:current:previous". Both are
-- one string per window, read with GET and written with SET PX: two calls per window.
-- Time is integer microseconds (TIME is exact below 2^53): integer arithmetic keeps "exactly
-- the limit" exact where fractional emission intervals would drift.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local charge = ARGV[1] == 'c'
local cost = tonumber(ARGV[2])
local n = #KEYS
local floor, ceil, format = math.floor, math.ceil, string.format

local function ms(us)
  if us <= 0 then return 0 end
  return ceil(us / 1000)
end

-- Per window: allowed, limit, remaining before/after, reset before/after, retry, new value, ttl.
local allowed, limits, rem0, rem1, reset0, reset1, retry, values, ttls = {}, {}, {}, {}, {}, {}, {}, {}, {}
local all_allowed = true

-- Pass 1: evaluate every window; nothing is written yet.
for i = 1, n do
  local algorithm, limit, period, burst = string.match(ARGV[2 + i], '^(%a),(%d+),(%d+),(%d+)$')
  limit, period, burst = tonumber(limit), tonumber(period), tonumber(burst)
  local stored = redis.call('GET', KEYS[i])
  if algorithm == 'g' then
    -- GCRA: TAT is the theoretical arrival time; a request fits while TAT - now <= burst * T.
    -- A whole-microsecond T rounds the rate down by < 1 us per request: never over-admits.
    local interval = ceil(period / limit)
    local tolerance = interval * burst
    local tat = tonumber(stored) or 0
    if tat < now then tat = now end
    local new_tat = tat + cost * interval
    local wait = new_tat - tolerance - now
    allowed[i] = wait <= 0
    rem0[i] = floor((tolerance - (tat - now)) / interval)
    rem1[i] = floor((tolerance - (new_tat - now)) / interval)
    reset0[i], reset1[i] = tat - now, new_tat - now
    if allowed[i] then retry[i] = 0 elseif cost * interval > tolerance then retry[i] = -1 else retry[i] = wait end
    -- %.0f: Lua's default %.14g would drop digits of a 16-digit microsecond time.
    values[i] = format('%.0f', new_tat)
    ttls[i] = ms(new_tat - now) + 1
  else
    -- Sliding counter: epoch-aligned buckets; estimate = previous * overlap + current.
    local idx = floor(now / period)
    local start = idx * period
    local elapsed = now - start
    local cur, prev = 0, 0
    if stored then
      local b, c, p = string.match(stored, '^(%d+):(%d+):(%d+)$')
      b = tonumber(b)
      if b == idx then
        cur, prev = tonumber(c), tonumber(p)
      elseif b == idx - 1 then
        prev = tonumber(c)
      end
    end
    local left = period - elapsed
    local used = prev * left / period + cur
    allowed[i] = used + cost <= limit
    rem0[i] = floor(limit - used)
    rem1[i] = floor(limit - used - cost)
    -- Fully reset when this bucket's count has decayed out too (up to two periods away).
    local base = 0
    if prev > 0 then base = left end
    if cur > 0 then reset0[i] = left + period else reset0[i] = base end
    if cur + cost > 0 then reset1[i] = left + period else reset1[i] = base end
    if allowed[i] then
      retry[i] = 0
    elseif cost > limit then
      retry[i] = -1
    else
      local excess = used + cost - limit
      if prev > 0 and cur + cost <= limit then
        -- Only the previous bucket's weight is in the way; it decays within this bucket.
        retry[i] = ceil(excess * period / prev)
      elseif cur <= limit - cost then
        retry[i] = left
      else
        -- After the rollover this bucket's count decays in turn.
        retry[i] = left + ceil((1 - (limit - cost) / cur) * period)
      end
    end
    values[i] = format('%.0f:%.0f:%.0f', idx, cur + cost, prev)
    ttls[i] = ms(left + period) + 1
  end
  limits[i] = limit
  if not allowed[i] then all_allowed = false end
end

-- Pass 2: charge every window, or none (a denied request costs nothing).
local charged = charge and all_allowed and cost > 0
local out = {floor(now / 1000), all_allowed and 1 or 0}
for i = 1, n do
  local remaining, reset = rem0[i], reset0[i]
  if charged then
    redis.call('SET', KEYS[i], values[i], 'PX', ttls[i])
    remaining, reset = rem1[i], reset1[i]
  end
  if remaining < 0 then remaining = 0 end
  local r = retry[i]
  if r > 0 then r = ms(r) end
  out[#out + 1] = allowed[i] and 1 or 0
  out[#out + 1] = limits[i]
  out[#out + 1] = remaining
  out[#out + 1] = ms(reset)
  out[#out + 1] = r
end
-- Every value is a whole number below 1e14, which %.14g (table.concat) prints exactly.
return table.concat(out, ',')
