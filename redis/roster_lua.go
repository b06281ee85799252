package redis

import "github.com/redis/rueidis"

// The Roster's Lua scripts (Redis runs each atomically). Node ids never
// contain '/', so "<node>/<NickKey>" splits at the first one.

// luaAlive memoizes liveness checks of nodes within one script run.
const luaAlive = `
local function alive(cache, nodePfx, node)
  local a = cache[node]
  if a == nil then
    a = redis.call('EXISTS', nodePfx .. node) == 1
    cache[node] = a
  end
  return a
end
`

// luaMembers lists the nicknames of a room hash held by live nodes other
// than me, one per NickKey.
const luaMembers = luaAlive + `
local function members(key, me, nodePfx)
  local all = redis.call('HGETALL', key)
  local cache, seen, out = {}, {}, {}
  for i = 1, #all, 2 do
    local node, nk = string.match(all[i], '^([^/]*)/(.*)$')
    if node and node ~= me and not seen[nk] and alive(cache, nodePfx, node) then
      seen[nk] = true
      table.insert(out, cjson.decode(all[i + 1]).nick)
    end
  end
  return out
end
`

// scriptClaim: KEYS users, nicks:<me>; ARGV nickKey, record, me, node key
// prefix, resume digest, subject. Returns {1} (claimed), {1, displaced
// record} (taken over from a live node by resume), {2} (held on a live node
// by the same verified subject: shared, nothing recorded) or {0, holder
// record} (taken).
var scriptClaim = rueidis.NewLuaScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local displaced = nil
if cur then
  local c = cjson.decode(cur)
  if c.n ~= ARGV[3] and redis.call('EXISTS', ARGV[4] .. c.n) == 1 then
    if ARGV[6] ~= '' and c.sub == ARGV[6] then
      return {2}
    end
    if ARGV[5] == '' or c.tok ~= ARGV[5] then
      return {0, cur}
    end
    displaced = cur
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
if displaced then
  return {1, displaced}
end
return {1}
`)

// scriptRelease: KEYS users, nicks:<me>; ARGV nickKey, session id. Deletes
// the claim if that session still holds it.
var scriptRelease = rueidis.NewLuaScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cjson.decode(cur).id == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[1])
  return 1
end
return 0
`)

// scriptJoin: KEYS room:<room>, rooms:<me>; ARGV me, field, record, node key
// prefix, room. Records the membership and returns the other nodes'
// members.
var scriptJoin = rueidis.NewLuaScript(luaMembers + `
if redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) == 1 then
  redis.call('HINCRBY', KEYS[2], ARGV[5], 1)
end
return members(KEYS[1], ARGV[1], ARGV[4])
`)

// scriptLeave: KEYS rooms:<me>, room:<room>...; ARGV field, session id,
// room... Deletes the memberships that session recorded.
var scriptLeave = rueidis.NewLuaScript(`
for i = 2, #KEYS do
  local v = redis.call('HGET', KEYS[i], ARGV[1])
  if v and cjson.decode(v).s == ARGV[2] then
    redis.call('HDEL', KEYS[i], ARGV[1])
    if redis.call('HINCRBY', KEYS[1], ARGV[i + 1], -1) <= 0 then
      redis.call('HDEL', KEYS[1], ARGV[i + 1])
    end
  end
end
return 1
`)

// scriptMembers: KEYS room:<room>; ARGV me, node key prefix.
var scriptMembers = rueidis.NewLuaScriptReadOnly(luaMembers + `
return members(KEYS[1], ARGV[1], ARGV[2])
`)

// scriptUsers: KEYS users; ARGV me, node key prefix. The claim records of
// live nodes other than me.
var scriptUsers = rueidis.NewLuaScriptReadOnly(luaAlive + `
local all = redis.call('HGETALL', KEYS[1])
local cache, out = {}, {}
for i = 2, #all, 2 do
  local n = cjson.decode(all[i]).n
  if n ~= ARGV[1] and alive(cache, ARGV[2], n) then
    table.insert(out, all[i])
  end
end
return out
`)

// scriptTick: KEYS nodes; ARGV me, prefix, mode. Mode "": cleans up after
// every registered node whose liveness key expired and returns
// {{{id, {user record...}, {member json...}}...}, {id, address, ...}} (the
// gone and the live nodes). Mode "withdraw": deletes this node's liveness
// key and cleans up after it.
var scriptTick = rueidis.NewLuaScript(`
local me, P = ARGV[1], ARGV[2]
local usersKey = P .. 'users'
local function reap(id)
  local users, members = {}, {}
  for _, k in ipairs(redis.call('SMEMBERS', P .. 'nicks:' .. id)) do
    local v = redis.call('HGET', usersKey, k)
    if v and cjson.decode(v).n == id then
      redis.call('HDEL', usersKey, k)
      table.insert(users, v)
    end
  end
  local pre = id .. '/'
  for _, room in ipairs(redis.call('HKEYS', P .. 'rooms:' .. id)) do
    local rk = P .. 'room:' .. room
    local all = redis.call('HGETALL', rk)
    for i = 1, #all, 2 do
      local f = all[i]
      if string.sub(f, 1, #pre) == pre then
        redis.call('HDEL', rk, f)
        local nk = string.sub(f, #pre + 1)
        -- Back in the room through another node (a resumed session)?
        -- Then nobody left.
        local cur = redis.call('HGET', usersKey, nk)
        local elsewhere = false
        if cur then
          elsewhere = redis.call('HEXISTS', rk, cjson.decode(cur).n .. '/' .. nk) == 1
        end
        if not elsewhere then
          table.insert(members, cjson.encode({room = room, nickname = cjson.decode(all[i + 1]).nick}))
        end
      end
    end
  end
  redis.call('DEL', P .. 'nicks:' .. id, P .. 'rooms:' .. id)
  redis.call('SREM', KEYS[1], id)
  return {id, users, members}
end
if ARGV[3] == 'withdraw' then
  redis.call('DEL', P .. 'node:' .. me)
  reap(me)
  return 1
end
local gone, live = {}, {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local addr = redis.call('GET', P .. 'node:' .. id)
  if addr then
    table.insert(live, id)
    table.insert(live, addr)
  elseif id ~= me then
    table.insert(gone, reap(id))
  end
end
return {gone, live}
`)
