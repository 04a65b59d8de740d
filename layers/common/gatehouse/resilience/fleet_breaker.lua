-- One fleet-wide circuit breaker: every decision and every outcome, atomically, on Redis time.
-- The model and this contract are in docs/resilience.md.
--
-- KEYS[1]  gh:br:{name}         hash  st (c closed, o open, h half-open, x isolated), g generation,
--                                     u end of the open period (us), hk / hf probes passed / failed,
--                                     seq last probe permit id
-- KEYS[2]  gh:br:{name}:probes  zset  live probe leases: member permit id, score lease expiry (us)
-- KEYS[3]  gh:br:{name}:window  hash  w<slot> = "<bucket index>:<calls>:<failures>", sk failure
--                                     streak, ss admission time (us) of the streak's first failure
-- Every key of one breaker shares the {name} hash tag: one cluster slot.
--
-- ARGV[1] is the operation:
--   a  acquire  ARGV: permits, lease_us, idle_ms
--      reply "<verdict>,<gen>,<now_us>,<n>,<transition>": verdict c (closed: call), p (probe: call,
--      n = permit id), o (open: refused, n = us until probes), h (half-open, every permit taken:
--      refused), x (isolated: refused)
--   r  record   ARGV: gen, admitted_us, permit, ok (1|0), bucket_us, buckets, minimum_calls,
--               rate_percent, slow_us, open_us, permits, probe_failures_to_reopen, streak, idle_ms
--      reply "<result>,<gen>,<now_us>,<transition>": result k (counted), s (an earlier generation:
--      ignored), l (the probe's lease lapsed: ignored)
--   i  isolate  ARGV: bucket_us, buckets      reply: a snapshot, then ",<now_us>,<transition>"
--   z  reset    ARGV: bucket_us, buckets, idle_ms
--   s  snapshot ARGV: bucket_us, buckets      reply "<st>,<gen>,<calls>,<failures>,<live leases>,
--                                             <probes passed>,<probes failed>,<us until probes>"
--                                             or "-" when the store holds nothing of the breaker
-- A transition is "<from><to>:<reason>" (states as above) or "-". Only the call whose script made
-- a transition gets it in its reply, so each one is reported exactly once.
--
-- Every transition increments the generation. An admission carries the generation it was made
-- in; its outcome is counted only in that same generation, so the late result of a call admitted
-- before the breaker opened (or of a probe of an earlier half-open period) changes nothing.

local state, probes, window = KEYS[1], KEYS[2], KEYS[3]
local op = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local format = string.format

-- The hot path first: a closed breaker answers after one HMGET.
if op == 'a' then
  local h = redis.call('HMGET', state, 'st', 'g', 'u')
  local st, gen = h[1] or 'c', tonumber(h[2]) or 0
  if st == 'c' then return {ok = format('c,%d,%d,0,-', gen, now)} end
  if st == 'x' then return {ok = format('x,%d,%d,0,-', gen, now)} end
  local transition = '-'
  if st == 'o' then
    local until_us = tonumber(h[3]) or 0
    if now < until_us then return {ok = format('o,%d,%d,%d,-', gen, now, until_us - now)} end
    -- The open period is over: this caller moves the breaker to half-open (and probes first).
    gen = gen + 1
    redis.call('HSET', state, 'st', 'h', 'g', gen, 'hk', 0, 'hf', 0)
    redis.call('HDEL', state, 'u')
    redis.call('DEL', probes)
    redis.call('PEXPIRE', state, tonumber(ARGV[4]))
    transition = 'oh:open_period_over'
  end
  -- Half-open: a permit is free while live leases plus reported probes are under the permits.
  -- A lease whose holder died lapses at its expiry and frees its permit for another caller.
  local permits, lease = tonumber(ARGV[2]), tonumber(ARGV[3])
  redis.call('ZREMRANGEBYSCORE', probes, '-inf', now)
  local done = redis.call('HMGET', state, 'hk', 'hf')
  local used = redis.call('ZCARD', probes) + (tonumber(done[1]) or 0) + (tonumber(done[2]) or 0)
  if used < permits then
    local id = redis.call('HINCRBY', state, 'seq', 1)
    redis.call('ZADD', probes, now + lease, id)
    redis.call('PEXPIRE', probes, math.floor(lease / 1000) + 1000)
    return {ok = format('p,%d,%d,%d,%s', gen, now, id, transition)}
  end
  return {ok = format('h,%d,%d,0,%s', gen, now, transition)}
end

-- Sums the window's buckets that are still inside it (indexes idx - buckets + 1 .. idx).
local function read_window(bucket_us, buckets)
  local idx = math.floor(now / bucket_us)
  local names = {'sk', 'ss'}
  for k = 0, buckets - 1 do names[k + 3] = 'w' .. k end
  local v = redis.call('HMGET', window, unpack(names))
  local calls, failures = 0, 0
  local slot = idx % buckets
  local slot_calls, slot_failures, slot_fresh = 0, 0, true
  for k = 0, buckets - 1 do
    local s = v[k + 3]
    if s then
      local b, c, f = string.match(s, '^(%d+):(%d+):(%d+)$')
      b = tonumber(b)
      if b > idx - buckets and b <= idx then
        c, f = tonumber(c), tonumber(f)
        calls, failures = calls + c, failures + f
        if k == slot and b == idx then slot_calls, slot_failures, slot_fresh = c, f, false end
      end
    end
  end
  return {
    idx = idx, slot = slot, calls = calls, failures = failures, slot_calls = slot_calls,
    slot_failures = slot_failures, slot_fresh = slot_fresh,
    sk = tonumber(v[1]) or 0, ss = tonumber(v[2]) or 0,
  }
end

-- Moves the breaker to `to` in a new generation; a new state starts with an empty window and no
-- leases. Answers the new generation and the transition's text.
local function move(from, to, gen, reason, open_us, idle_ms)
  gen = gen + 1
  redis.call('DEL', probes, window)
  if to == 'o' then
    redis.call('HSET', state, 'st', 'o', 'g', gen, 'u', now + open_us, 'hk', 0, 'hf', 0)
    redis.call('PEXPIRE', state, math.floor(open_us / 1000) + idle_ms)
  elseif to == 'x' then
    redis.call('HSET', state, 'st', 'x', 'g', gen, 'hk', 0, 'hf', 0)
    redis.call('HDEL', state, 'u')
    redis.call('PERSIST', state)  -- an operator's isolation lasts until an operator resets it
  else
    redis.call('HSET', state, 'st', 'c', 'g', gen, 'hk', 0, 'hf', 0)
    redis.call('HDEL', state, 'u')
    redis.call('PEXPIRE', state, idle_ms)
  end
  return gen, from .. to .. ':' .. reason
end

if op == 'r' then
  local gen, admitted, permit, ok = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5] == '1'
  local h = redis.call('HMGET', state, 'st', 'g')
  local st, current = h[1] or 'c', tonumber(h[2]) or 0
  if gen ~= current then return {ok = format('s,%d,%d,-', current, now)} end
  local open_us, idle_ms = tonumber(ARGV[11]), tonumber(ARGV[15])
  -- A slow call is a failure, measured on Redis time from its admission.
  local failed = (not ok) or (now - admitted > tonumber(ARGV[10]))

  if st == 'h' then
    local expiry = tonumber(redis.call('ZSCORE', probes, permit))
    redis.call('ZREM', probes, permit)
    if not expiry or expiry <= now then return {ok = format('l,%d,%d,-', current, now)} end
    local passed = tonumber(redis.call('HINCRBY', state, 'hk', failed and 0 or 1))
    local failures = tonumber(redis.call('HINCRBY', state, 'hf', failed and 1 or 0))
    local permits, reopen = tonumber(ARGV[12]), tonumber(ARGV[13])
    if failures >= reopen then
      local g, tr = move('h', 'o', current, 'probes_failed', open_us, idle_ms)
      return {ok = format('k,%d,%d,%s', g, now, tr)}
    end
    -- Closed once the failures still possible can no longer reach the reopening count.
    if passed > permits - reopen then
      local g, tr = move('h', 'c', current, 'probes_passed', open_us, idle_ms)
      return {ok = format('k,%d,%d,%s', g, now, tr)}
    end
    return {ok = format('k,%d,%d,-', current, now)}
  end
  if st ~= 'c' then return {ok = format('s,%d,%d,-', current, now)} end

  local bucket_us, buckets = tonumber(ARGV[6]), tonumber(ARGV[7])
  local w = read_window(bucket_us, buckets)
  local calls, failures = w.calls + 1, w.failures
  local slot_calls, slot_failures = w.slot_calls + 1, w.slot_failures
  local sk, ss = w.sk, w.ss
  if failed then
    failures, slot_failures = failures + 1, slot_failures + 1
    -- The streak counts failures admitted after the latest success: ss is its first failure's
    -- admission, so a success admitted before it (a late answer of an older call) breaks nothing.
    if sk == 0 or admitted < ss then ss = admitted end
    sk = sk + 1
  elseif sk > 0 and admitted > ss then
    sk, ss = 0, 0
  end
  local reason = nil
  if calls >= tonumber(ARGV[8]) and failures * 100 >= tonumber(ARGV[9]) * calls then
    reason = 'failure_rate'
  else
    local streak = tonumber(ARGV[14])
    if streak > 0 and sk >= streak then reason = 'failure_streak' end
  end
  if reason then
    local g, tr = move('c', 'o', current, reason, open_us, idle_ms)
    return {ok = format('k,%d,%d,%s', g, now, tr)}
  end
  redis.call('HSET', window, 'w' .. w.slot, format('%d:%d:%d', w.idx, slot_calls, slot_failures), 'sk', sk, 'ss', ss)
  -- The window outlives its buckets; refreshed once per bucket, not on every call.
  if w.slot_fresh then redis.call('PEXPIRE', window, idle_ms) end
  return {ok = format('k,%d,%d,-', current, now)}
end

local function snapshot()
  local h = redis.call('HMGET', state, 'st', 'g', 'u', 'hk', 'hf')
  if not h[1] and redis.call('EXISTS', window) == 0 then return '-' end
  local st, gen = h[1] or 'c', tonumber(h[2]) or 0
  local calls, failures, wait = 0, 0, 0
  if st == 'c' then
    local w = read_window(tonumber(ARGV[2]), tonumber(ARGV[3]))
    calls, failures = w.calls, w.failures
  elseif st == 'o' then
    wait = (tonumber(h[3]) or 0) - now
    -- An open period that is over is half-open in effect: the next caller moves it there.
    if wait <= 0 then st, wait = 'h', 0 end
  end
  local live = 0
  if st == 'h' then live = redis.call('ZCOUNT', probes, '(' .. now, '+inf') end
  return format('%s,%d,%d,%d,%d,%d,%d,%d', st, gen, calls, failures, live,
    tonumber(h[4]) or 0, tonumber(h[5]) or 0, wait)
end

if op == 's' then return {ok = snapshot()} end

if op == 'i' or op == 'z' then
  local h = redis.call('HMGET', state, 'st', 'g')
  local st, gen = h[1] or 'c', tonumber(h[2]) or 0
  local transition = '-'
  if op == 'i' and st ~= 'x' then
    gen, transition = move(st, 'x', gen, 'isolated', 0, 0)
  elseif op == 'z' then
    local idle_ms = tonumber(ARGV[4])
    if st == 'c' then
      -- Already closed: a reset forgets the window (and a failure streak) without a transition.
      redis.call('DEL', probes, window)
      redis.call('HSET', state, 'st', 'c', 'g', gen)
      redis.call('PEXPIRE', state, idle_ms)
    else
      gen, transition = move(st, 'c', gen, 'reset', 0, idle_ms)
    end
  end
  return {ok = snapshot() .. ',' .. format('%d', now) .. ',' .. transition}
end

return redis.error_reply('ERR unknown fleet breaker operation')
