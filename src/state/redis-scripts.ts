/**
 * The Lua scripts behind `RedisStore`. Every operation that reads before it writes is one script,
 * so two instances can never interleave between the read and the write.
 *
 * Layout in Redis (names after the store's prefix):
 * - a typed value (`set`, `increment`, leases, quota buckets): a hash `{v: JSON, n: version}`,
 *   so one key carries the value, its version and its TTL;
 * - a set: a Redis set;
 * - a window bucket: a hash `<key>:slots` of slot number -> amount (`windowSlots` + 1 slots of
 *   a window / 60 each, as MemoryStore counts them), with fields `total` (their sum), `oldest`
 *   (the lowest slot that may hold an amount) and `newest`: an admission reads three fields and
 *   adds to two, and a slot is pruned once when it leaves, so a window costs the same few
 *   commands and at most 64 fields whatever the request rate;
 * - a concurrency bucket: a sorted set of admission ids scored by lease expiry.
 *
 * Numbers cross the Lua boundary as strings (`%.17g`): Redis would truncate a Lua number to an
 * integer, and `tostring` keeps only 14 digits. Infinity travels as `inf`. Sums are done in Lua
 * (doubles, as MemoryStore adds) and written with HSET: HINCRBYFLOAT formats a long double on
 * every call and was the largest cost of an admission (~2 µs each, a dozen per request).
 */

const helpers = `
local INF = math.huge
local function num(x)
  if x == INF then return 'inf' end
  if x == -INF then return '-inf' end
  return string.format('%.17g', x)
end
local function clock_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Float rounding is forgiven up to a billionth of the limit (as fits() in store.ts).
local function fits(amount, room, limit)
  return amount <= room + 1e-9 * math.max(1, math.abs(limit))
end
local function ttl_after(ms)
  return math.max(1, math.ceil(ms))
end
-- As leaseGrant() in store.ts: extra units only while over half the limit stays free.
local function lease_grant(extra, unit, room, limit)
  if not extra or extra <= 0 or not (unit > 0) then return 0 end
  local grant = math.min(extra, (room - limit / 2) / 4)
  if grant < unit then return 0 end
  return unit * math.floor(grant / unit)
end
`;

/** Window, concurrency and quota buckets: reading a bucket's state and taking from it. */
const buckets = `
-- A window's slots: as windowSlot() / slotLeavesAt() in store.ts (60 per window, plus the running one).
local SLOTS = 60
local function slot_of(b, t) return math.floor(t / (b.span / SLOTS)) end
local function leaves_at(b, slot) return (slot + SLOTS + 1) * (b.span / SLOTS) end
local function field(slot) return string.format('%d', slot) end

-- The window's total, oldest and newest slot (and the amount in slot 'slot', when given), after
-- emptying the slots that left it; nil when nothing in it counts any more (the hash is deleted then).
local function load_window(b, now, slot)
  local f = redis.call('HMGET', b.key, 'total', 'oldest', 'newest', field(slot or 0))
  local newest = tonumber(f[3])
  if not newest then return nil end
  local first = slot_of(b, now) - SLOTS
  if newest < first then
    redis.call('DEL', b.key)
    return nil
  end
  local w = { total = tonumber(f[1]) or 0, oldest = tonumber(f[2]) or newest, newest = newest,
    amount = slot and tonumber(f[4]) or 0, taken = slot ~= nil and f[4] ~= false }
  if w.oldest < first then
    -- At most SLOTS + 1 fields: oldest is never more than a window below newest.
    local names = {}
    for slot = w.oldest, first - 1 do names[#names + 1] = field(slot) end
    local amounts = redis.call('HMGET', b.key, unpack(names))
    for i = 1, #names do w.total = w.total - (tonumber(amounts[i]) or 0) end
    redis.call('HDEL', b.key, unpack(names))
    w.oldest = first
    redis.call('HSET', b.key, 'total', num(w.total), 'oldest', field(first))
  end
  return w
end

-- Until the newest slot leaves the window.
local function window_reset(b, now)
  if b.w then return math.max(0, leaves_at(b, b.w.newest) - now) end
  return 0
end

-- Returns remaining, resetMs and, when the amount does not fit, retryAfterMs. resetMs is left
-- out (nil) when the amount fits: after an admission it is when this admission's slot leaves.
local function check_window(b, now)
  b.slot = slot_of(b, now)
  b.w = load_window(b, now, b.slot)
  local remaining = b.limit - (b.w and b.w.total or 0)
  if fits(b.amount, remaining, b.limit) then return remaining, nil, nil end
  local reset = window_reset(b, now)
  if not b.w or not fits(b.amount, b.limit, b.limit) then return remaining, reset, INF end
  -- The oldest slots leave first: wait until enough of them have.
  local names = {}
  for slot = b.w.oldest, b.w.newest do names[#names + 1] = field(slot) end
  local amounts = redis.call('HMGET', b.key, unpack(names))
  local freed = remaining
  for i = 1, #names do
    freed = freed + (tonumber(amounts[i]) or 0)
    if fits(b.amount, freed, b.limit) then
      return remaining, reset, math.max(1, leaves_at(b, b.w.oldest + i - 1) - now)
    end
  end
  return remaining, reset, math.max(1, reset)
end

local function check_slots(b, now)
  redis.call('ZREMRANGEBYSCORE', b.key, '-inf', num(now))
  local remaining = b.limit - redis.call('ZCARD', b.key)
  if remaining >= 1 then return remaining, 0, nil end
  local soonest = INF
  local first = redis.call('ZRANGE', b.key, 0, 0, 'WITHSCORES')
  if first[2] then soonest = tonumber(first[2]) - now end
  return remaining, soonest, math.max(1, soonest)
end

local function check_quota(b, now)
  local f = redis.call('HMGET', b.key, 'v', 'n')
  b.value, b.version = tonumber(f[1] or '0') or 0, tonumber(f[2])
  local remaining = b.limit - b.value
  local reset = math.max(0, b.span - now)
  if fits(b.amount, remaining, b.limit) then return remaining, reset, nil end
  if not fits(b.amount, b.limit, b.limit) then return remaining, reset, INF end
  return remaining, reset, math.max(1, reset)
end

-- value and version as read (nil version: a new bucket, which gets its expiry).
local function add_to_quota(key, value, version, amount, expires_at, now)
  redis.call('HSET', key, 'v', num(value + amount), 'n', (version or 0) + 1)
  if not version then redis.call('PEXPIRE', key, ttl_after(expires_at - now)) end
end

-- Returns the slot the amount went to (check_window ran first, with the same now).
local function take(b, id, now)
  if b.kind == 'window' then
    local w, slot = b.w, b.slot
    local amount, total, oldest, newest = 0, 0, slot, slot
    if w then
      amount, total, oldest, newest = w.amount, w.total, w.oldest, math.max(w.newest, slot)
      if slot < oldest then -- a clock that stepped back: into the oldest slot still counted
        slot = oldest
        amount = tonumber(redis.call('HGET', b.key, field(slot)) or '0') or 0
      end
    end
    redis.call('HSET', b.key, field(slot), num(amount + b.amount), 'total', num(total + b.amount),
      'oldest', field(oldest), 'newest', field(newest))
    -- The hash must outlive its newest slot (a window and a slot from now at most): renewed to
    -- two windows whenever less than a window and two slots is left.
    if redis.call('PTTL', b.key) < b.span + 2 * b.span / SLOTS then
      redis.call('PEXPIRE', b.key, ttl_after(2 * b.span))
    end
    return slot
  elseif b.kind == 'concurrency' then
    local expiry = num(now + b.span)
    redis.call('ZADD', b.key, expiry, id)
    -- A lease's extra slots: as leaseSlotId() in store.ts.
    for n = 1, b.granted or 0 do redis.call('ZADD', b.key, expiry, id .. '+' .. n) end
    local ttl = ttl_after(b.span)
    if redis.call('PTTL', b.key) < ttl then redis.call('PEXPIRE', b.key, ttl) end
  else
    add_to_quota(b.key, b.value, b.version, b.amount, b.span, now)
  end
end

-- Buckets from KEYS and ARGV (from index 'first'): one key each; each bucket takes 'width'
-- arguments: kind, limit, span (window/lease ms, or quota expiry), amount, and with width 5
-- the extra units a lease asks for.
local function read_buckets(count, first, first_key, width)
  local list, k, a = {}, first_key or 1, first
  for i = 1, count do
    local b = { kind = ARGV[a], limit = tonumber(ARGV[a + 1]), span = tonumber(ARGV[a + 2]),
      amount = tonumber(ARGV[a + 3]) or 1 }
    if width == 5 then b.extra = tonumber(ARGV[a + 4]) end
    b.key = KEYS[k]
    k = k + 1
    list[i] = b
    a = a + (width or 4)
  end
  return list, k, a
end
`;

/**
 * KEYS: the buckets' keys. ARGV: id, bucket count, then 5 per bucket (see read_buckets).
 * Reply: admitted, refused index, retry ms, now, then per bucket remaining, reset, granted.
 */
export const admitScript = `${helpers}${buckets}
local now = clock_ms()
local id = ARGV[1]
local list = read_buckets(tonumber(ARGV[2]), 3, 1, 5)
local states, refused, retry = {}, -1, 0
for i, b in ipairs(list) do
  local remaining, reset, wait
  if b.kind == 'window' then remaining, reset, wait = check_window(b, now)
  elseif b.kind == 'concurrency' then remaining, reset, wait = check_slots(b, now)
  else remaining, reset, wait = check_quota(b, now) end
  states[i] = { remaining, reset }
  if refused < 0 and wait then refused, retry = i - 1, wait end
end
local reply = { refused < 0 and '1' or '0', tostring(refused), num(retry), num(now) }
for i, b in ipairs(list) do
  local remaining = states[i][1]
  local reset = states[i][2]
  local granted = 0
  if refused < 0 then
    local unit = b.kind == 'concurrency' and 1 or b.amount
    granted = lease_grant(b.extra, unit, remaining - unit, b.limit)
    if b.kind == 'concurrency' then b.granted = granted else b.amount = b.amount + granted end
    local slot = take(b, id, now)
    remaining = remaining - unit - granted
    -- This admission is now in the window's newest slot.
    if b.kind == 'window' then reset = leaves_at(b, slot) - now end
  elseif reset == nil then
    reset = window_reset(b, now)
  end
  reply[#reply + 1] = num(remaining)
  reply[#reply + 1] = num(reset)
  reply[#reply + 1] = num(granted)
end
return reply
`;

/**
 * Settles of many admissions in one script (the store batches the settles of one event-loop
 * turn). KEYS: each settle's buckets' keys in turn. ARGV: the settle count, then per settle:
 * admission id, the store-clock ms it was admitted at, adjustment count, 4 per adjustment
 * (kind, unused limit, span: window ms or quota expiry, delta).
 */
export const settleScript = `${helpers}${buckets}
local now = clock_ms()
local k, a = 1, 2
for _ = 1, tonumber(ARGV[1]) do
  local id = ARGV[a]
  local at = tonumber(ARGV[a + 1])
  local list
  list, k, a = read_buckets(tonumber(ARGV[a + 2]), a + 3, k)
  for _, b in ipairs(list) do
    if b.kind == 'window' then
      -- Into the admission's own slot, unless that has left the window.
      local slot = slot_of(b, at)
      local w = load_window(b, now, slot)
      -- (a slot nothing was taken in has nothing of this admission's to correct)
      if w and w.taken and slot >= w.oldest and slot <= w.newest then
        redis.call('HSET', b.key, field(slot), num(w.amount + b.amount), 'total', num(w.total + b.amount))
      end
    elseif b.kind == 'concurrency' then
      redis.call('ZREM', b.key, id)
    else
      local f = redis.call('HMGET', b.key, 'v', 'n')
      add_to_quota(b.key, tonumber(f[1] or '0') or 0, tonumber(f[2]), b.amount, b.span, now)
    end
  end
end
return 1
`;

/** KEYS: a window's hash. ARGV: windowMs. */
export const windowTotalScript = `${helpers}${buckets}
local w = load_window({ key = KEYS[1], span = tonumber(ARGV[1]) }, clock_ms())
return w and num(w.total) or '0'
`;

/** KEYS: the keys. A set (written by addToSet) reads as a JSON array, as in MemoryStore. */
export const getManyScript = `
local out = {}
for i, key in ipairs(KEYS) do
  local value = redis.pcall('HGET', key, 'v')
  if type(value) == 'table' and value.err then value = cjson.encode(redis.call('SMEMBERS', key)) end
  out[i] = value
end
return out
`;

/** KEYS: the keys. Returns value and remaining TTL (PTTL: -1 none, -2 absent) for each key. */
export const getManyWithExpiryScript = `
local out = {}
for i, key in ipairs(KEYS) do
  local value = redis.pcall('HGET', key, 'v')
  if type(value) == 'table' and value.err then value = cjson.encode(redis.call('SMEMBERS', key)) end
  out[2 * i - 1] = value
  out[2 * i] = redis.call('PTTL', key)
end
return out
`;

/** KEYS[1]. ARGV: JSON value, TTL ms ('' for none), '1' to write only when absent. */
export const setScript = `
local key = KEYS[1]
local kind = redis.call('TYPE', key).ok
if kind ~= 'none' and ARGV[3] == '1' then return 0 end
if kind ~= 'none' and kind ~= 'hash' then redis.call('DEL', key) end
redis.call('HSET', key, 'v', ARGV[1])
redis.call('HINCRBY', key, 'n', 1)
if ARGV[2] ~= '' then redis.call('PEXPIRE', key, ARGV[2]) else redis.call('PERSIST', key) end
return 1
`;

/** KEYS[1]. ARGV: by, TTL ms for a new key ('' for none). Returns the new value as a string. */
export const incrementScript = `${helpers}
local key = KEYS[1]
local f = redis.call('HMGET', key, 'v', 'n')
local created = not f[2]
local value = num((tonumber(f[1] or '') or 0) + tonumber(ARGV[1]))
redis.call('HSET', key, 'v', value, 'n', (tonumber(f[2]) or 0) + 1)
if created and ARGV[2] ~= '' then redis.call('PEXPIRE', key, ARGV[2]) end
return value
`;

/** KEYS[1]. ARGV: expected version (0: absent), JSON value, TTL ms ('' for none). */
export const compareAndSetScript = `
local key = KEYS[1]
local current = tonumber(redis.call('HGET', key, 'n') or '0')
if current ~= tonumber(ARGV[1]) then return false end
redis.call('HSET', key, 'v', ARGV[2], 'n', current + 1)
if ARGV[3] ~= '' then redis.call('PEXPIRE', key, ARGV[3]) else redis.call('PERSIST', key) end
return current + 1
`;

/** KEYS[1]. ARGV: owner as JSON, TTL ms. Takes a free lease or renews the owner's. */
export const acquireLeaseScript = `
local key = KEYS[1]
local holder = redis.call('HGET', key, 'v')
if holder and holder ~= ARGV[1] then return 0 end
redis.call('HSET', key, 'v', ARGV[1])
redis.call('HINCRBY', key, 'n', 1)
redis.call('PEXPIRE', key, ARGV[2])
return 1
`;

/** KEYS[1]. ARGV: owner as JSON. */
export const releaseLeaseScript = `
if redis.call('HGET', KEYS[1], 'v') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;
