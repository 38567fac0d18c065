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
