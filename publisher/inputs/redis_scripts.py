"""The Lua scripts of the Redis Streams input: each runs atomically inside Redis in one trip."""

from __future__ import annotations

PUT = """
-- KEYS[1] stream; ARGV[1] max entries (0: unbounded); ARGV[2..] event bodies.
-- All or nothing: the bound is checked before anything is added.
local limit = tonumber(ARGV[1])
if limit > 0 and redis.call('XLEN', KEYS[1]) + #ARGV - 1 > limit then
  return -1
end
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], '*', 'event', ARGV[i])
end
return #ARGV - 1
"""

CLAIM = """
-- KEYS[1] stream; ARGV: group, consumer, min idle ms, cursor, count.
-- XAUTOCLAIM does not say how often an entry was delivered; XPENDING right after it does,
-- and nothing can interleave inside a script.
local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4],
                           'COUNT', ARGV[5])
local entries = claimed[2]
local counts = {}
for i, entry in ipairs(entries) do
  counts[i] = 1
  if entry then
    local pending = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
    if pending[1] then
      counts[i] = pending[1][4]
    end
  end
end
return {claimed[1], entries, counts}
"""

LEASE = """
-- KEYS[1] stream; ARGV: group, consumer, idle ms to set, ids...
-- Sets the idle time of the entries this consumer still owns: 0 renews the lease, the
-- visibility timeout makes them claimable at once. Entries acknowledged meanwhile or taken
-- over by another consumer are left alone. Returns how many were touched.
-- JUSTID: the delivery count stays as it is.
local command = {'XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0}
local owned = 0
for i = 4, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if pending[1] and pending[1][2] == ARGV[2] then
    command[#command + 1] = ARGV[i]
    owned = owned + 1
  end
end
if owned > 0 then
  command[#command + 1] = 'IDLE'
  command[#command + 1] = ARGV[3]
  command[#command + 1] = 'JUSTID'
  redis.call(unpack(command))
end
return owned
"""

PUT_ONCE = """
-- KEYS[1] stream; KEYS[2] sorted set of remembered idempotency keys, scored by expiry (ms).
-- ARGV[1] max entries (0: unbounded); ARGV[2] window ms; ARGV[3] max remembered keys;
-- ARGV[4..] pairs of (key, body), key '' for none. Returns per pair 1 (duplicate) or 0,
-- or -1 when the new entries would not fit (nothing written). Redis's own clock, so that
-- every replica behind this Redis agrees on what has expired.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local pairs_count = (#ARGV - 3) / 2
local duplicate = {}
local new = 0
for i = 1, pairs_count do
  local key = ARGV[2 + 2 * i]
  local expiry = key ~= '' and redis.call('ZSCORE', KEYS[2], key)
  if expiry and tonumber(expiry) > now then
    duplicate[i] = 1
  else
    duplicate[i] = 0
    new = new + 1
  end
end
local limit = tonumber(ARGV[1])
if limit > 0 and new > 0 and redis.call('XLEN', KEYS[1]) + new > limit then
  return -1
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local expires = now + tonumber(ARGV[2])
for i = 1, pairs_count do
  if duplicate[i] == 0 then
    redis.call('XADD', KEYS[1], '*', 'event', ARGV[3 + 2 * i])
    if ARGV[2 + 2 * i] ~= '' then
      redis.call('ZADD', KEYS[2], expires, ARGV[2 + 2 * i])
    end
  end
end
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if over > 0 then
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
end
return duplicate
"""
