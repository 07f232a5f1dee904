/* cluster_script.c - the Lua script that routing with several nodes runs in
 * Redis (cluster.c sends it). Everything that must be decided once for
 * the whole cluster is decided here, in one atomic step: a message's id,
 * where it is kept, the count of a user's connections over all nodes (so
 * Online and Offline, Join and Leave go out once), and the reaping of a
 * node that stopped beating.
 *
 * Why the script builds the final JSON itself: the id must be taken, the
 * message kept and published in one step, or two nodes could publish ids
 * out of order (A takes 5, B takes 6, B publishes first). So the node
 * encodes the Message with "id":0 last, and the script splices its id in
 * before keeping and publishing: one order on the bus, the id order.
 *
 * ARGV: 1 op, 2 node, 3 sender ("conn:serial"), 4 target (a room or a
 * user), 5 json, 6 a number, 7 a second text, 8 the templates. What the
 * number and the texts are depends on the op (below). Every key is under
 * the prefix and none is passed in KEYS: this is for one Redis, not a
 * Redis Cluster.
 *
 * Keys: id (the last id given), seq (the bus's own counter, which tells
 * a node it missed something), history and room:R (lists of the last
 * 100, "id\nnode\nsender\njson", so a node filling a gap skips whom the
 * bus would have skipped), rooms (a sorted set of the rooms with a
 * history, by their newest id, for forgetting the least recently used),
 * kept:U, keptorder and keptbytes (the kept Singles, below), online (user
 * -> connections on all nodes), conns (all connections), members:R (user
 * -> connections in room R), roomconns (room -> connections in it), nodes
 * (the set of live nodes), alive:N (a node's heartbeat, which expires),
 * node:N and rnode:N (node N's share of online and of the members,
 * "room\nuser" -> connections, so that a dead node's share can be taken
 * back).
 *
 * Bus messages are "op\nnode\nsender\ntarget\nid\nseq\njson": a userId or
 * a room has no control character, so no field but the last holds a
 * newline.
 *
 * Announcements the script makes itself (a dead node's users, a node's
 * presence set again) are filled in from templates the node sends: an
 * Online, an Offline, a Join and a Leave, encoded by the node with "from"
 * and "to" empty, one a line, so the Message's form has one author. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_script.h"

static const char body[] =
    "local p, op, node = 'pusher:', ARGV[1], ARGV[2]\n"
    "local nodes = p .. 'nodes'\n"
    /* Ids are Redis's clock in microseconds, one more than the last where
     * the clock has not moved on: above any earlier id, and near each
     * node's own clock, which it uses for the few ids it gives while
     * Redis is away. */
    "local function now_us()\n"
    "  local t = redis.call('TIME')\n"
    "  return tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "end\n"
    "local function next_id()\n"
    "  local last = tonumber(redis.call('GET', p .. 'id') or '0')\n"
    "  local id = string.format('%.0f', math.max(now_us(), last + 1))\n"
    "  redis.call('SET', p .. 'id', id)\n"
    "  return id\n"
    "end\n"
    "local function seal(id, json) return string.sub(json, 1, -3) .. id .. '}' end\n"
    "local function send(kind, target, json, hist)\n"
    "  local id = next_id()\n"
    "  local msg = seal(id, json)\n"
    "  if hist then\n"
    "    redis.call('RPUSH', hist, table.concat({id, node, ARGV[3], msg}, '\\n'))\n"
    "    redis.call('LTRIM', hist, -100, -1)\n"
    "  end\n"
    "  local seq = redis.call('INCR', p .. 'seq')\n"
    "  redis.call('PUBLISH', p .. 'bus',\n"
    "    table.concat({kind, node, ARGV[3], target, id, seq, msg}, '\\n'))\n"
    "  return id\n"
    "end\n"
    /* A room's message goes into its history, and the room becomes the
     * most recently used; past max_rooms, the least recently used is
     * forgotten. */
    "local function to_room(room, json)\n"
    "  local id = send('R', room, json, p .. 'room:' .. room)\n"
    "  redis.call('ZADD', p .. 'rooms', id, room)\n"
    "  if redis.call('ZCARD', p .. 'rooms') > max_rooms then\n"
    "    local old = redis.call('ZPOPMIN', p .. 'rooms')\n"
    "    redis.call('DEL', p .. 'room:' .. old[1])\n"
    "  end\n"
    "  return id\n"
    "end\n"
    "local function count(key, field, delta)\n"
    "  local n = redis.call('HINCRBY', key, field, delta)\n"
    "  if n <= 0 then redis.call('HDEL', key, field) end\n"
    "  return n\n"
    "end\n"
    "local function get(key, field) return tonumber(redis.call('HGET', key, field) or '0') end\n"
    "local function registered() return redis.call('SISMEMBER', nodes, node) == 1 end\n"
    "local tmpl = {}\n"
    "for t in string.gmatch(ARGV[8] or '', '[^\\n]+') do tmpl[#tmpl + 1] = t end\n"
    "local function fill(t, key, v)\n"
    "  local a, b = string.find(t, '\"' .. key .. '\":\"\"', 1, true)\n"
    "  return string.sub(t, 1, a - 1) .. '\"' .. key .. '\":' .. cjson.encode(v) .. string.sub(t, b + 1)\n"
    "end\n"
    /* 1 Online, 2 Offline (to everyone), 3 Join, 4 Leave (to the room). */
    "local function announce(i, user, room)\n"
    "  local json = fill(tmpl[i], 'from', user)\n"
    "  if room then return to_room(room, fill(json, 'to', room)) end\n"
    "  return send('G', '', json, p .. 'history')\n"
    "end\n"
    "local function split(pair) return string.match(pair, '^(.-)\\n(.*)$') end\n"
    /* Kept Singles: kept:U lists "id\njson" of user U, oldest first;
     * keptorder orders "user\nid" of all by id, keptbytes adds them up,
     * so the oldest of anyone goes first past kept_bytes, and past
     * kept_ttl_us of age. unkeep undoes the counts of one taken off. */
    "local function unkeep(user, entry)\n"
    "  local id = string.match(entry, '^(%d+)\\n')\n"
    "  redis.call('ZREM', p .. 'keptorder', user .. '\\n' .. id)\n"
    "  redis.call('DECRBY', p .. 'keptbytes', #entry)\n"
    "end\n"
    "local function drop_oldest()\n"
    "  local user = split(redis.call('ZRANGE', p .. 'keptorder', 0, 0)[1])\n"
    "  unkeep(user, redis.call('LPOP', p .. 'kept:' .. user))\n"
    "end\n"
    "local function keep(user, entry, id, max)\n"
    "  local box = p .. 'kept:' .. user\n"
    "  redis.call('RPUSH', box, entry)\n"
    "  redis.call('ZADD', p .. 'keptorder', id, user .. '\\n' .. id)\n"
    "  redis.call('INCRBY', p .. 'keptbytes', #entry)\n"
    "  local dropped = 0\n"
    "  while redis.call('LLEN', box) > max do\n"
    "    unkeep(user, redis.call('LPOP', box))\n"
    "    dropped = dropped + 1\n"
    "  end\n"
    "  local old = string.format('%.0f', now_us() - kept_ttl_us)\n"
    "  while tonumber(redis.call('GET', p .. 'keptbytes')) > kept_bytes or\n"
    "        #redis.call('ZRANGEBYSCORE', p .. 'keptorder', '-inf', old, 'LIMIT', 0, 1) > 0 do\n"
    "    drop_oldest()\n"
    "    dropped = dropped + 1\n"
    "  end\n"
    "  return dropped\n"
    "end\n"
    /* Takes node n's share of the counts back, announcing whoever that
     * leaves with no connection anywhere (its rooms first, as a closing
     * connection leaves its rooms before it goes). */
    "local function reap(n)\n"
    "  local rk, nk = p .. 'rnode:' .. n, p .. 'node:' .. n\n"
    "  local h = redis.call('HGETALL', rk)\n"
    "  for i = 1, #h, 2 do\n"
    "    local room, user = split(h[i])\n"
    "    local c = tonumber(h[i + 1])\n"
    "    count(p .. 'roomconns', room, -c)\n"
    "    if count(p .. 'members:' .. room, user, -c) <= 0 then announce(4, user, room) end\n"
    "  end\n"
    "  h = redis.call('HGETALL', nk)\n"
    "  for i = 1, #h, 2 do\n"
    "    local c = tonumber(h[i + 1])\n"
    "    redis.call('INCRBY', p .. 'conns', -c)\n"
    "    if count(p .. 'online', h[i], -c) <= 0 then announce(2, h[i]) end\n"
    "  end\n"
    "  redis.call('DEL', rk, nk)\n"
    "  redis.call('SREM', nodes, n)\n"
    "end\n"
    /* G, R, S: route a message (ARGV 6: a Single's most kept; the answer
     * is {id, delivered over the cluster, 0 sent, 1 kept, 2 not online}). */
    "if op == 'G' then\n"
    "  local skip = ARGV[3] == '0:0' and 0 or 1\n"
    "  local n = tonumber(redis.call('GET', p .. 'conns') or '0') - skip\n"
    "  return {send('G', '', ARGV[5], p .. 'history'), n, 0}\n"
    "elseif op == 'R' then\n"
    "  local skip = ARGV[3] == '0:0' and 0 or 1\n"
    "  local n = get(p .. 'roomconns', ARGV[4]) - skip\n"
    "  return {to_room(ARGV[4], ARGV[5]), n, 0}\n"
    "elseif op == 'S' then\n"
    "  local n = get(p .. 'online', ARGV[4])\n"
    "  if n > 0 then return {send('S', ARGV[4], ARGV[5], nil), n, 0} end\n"
    "  local max = tonumber(ARGV[6])\n"
    "  if max <= 0 then return {'0', 0, 2} end\n"
    "  local id = next_id()\n"
    "  local entry = id .. '\\n' .. seal(id, ARGV[5])\n"
    "  if #entry > kept_bytes then return {'0', 0, 3} end\n"
    "  return {id, 0, 1, keep(ARGV[4], entry, id, max)}\n"
    /* P: the user ARGV 4 has ARGV 6 more (or fewer) connections on this
     * node; ARGV 5 is its Online or Offline, sent where that makes its
     * first connection anywhere or its last. J: the same for the user ARGV
     * 7 in the room ARGV 4, with a Join or a Leave. Both answer 1, doing
     * nothing, when this node is not registered (it was reaped, or Redis
     * lost its keys): the node then sets its whole presence again (X). */
    "elseif op == 'P' then\n"
    "  if not registered() then return 1 end\n"
    "  local delta = tonumber(ARGV[6])\n"
    "  count(p .. 'node:' .. node, ARGV[4], delta)\n"
    "  local all = count(p .. 'online', ARGV[4], delta)\n"
    "  redis.call('INCRBY', p .. 'conns', delta)\n"
    "  if (delta > 0 and all == delta) or (delta < 0 and all <= 0) then\n"
    "    send('G', '', ARGV[5], p .. 'history')\n"
    "  end\n"
    "  return 0\n"
    "elseif op == 'J' then\n"
    "  if not registered() then return 1 end\n"
    "  local room, user, delta = ARGV[4], ARGV[7], tonumber(ARGV[6])\n"
    "  count(p .. 'rnode:' .. node, room .. '\\n' .. user, delta)\n"
    "  count(p .. 'roomconns', room, delta)\n"
    "  local n = count(p .. 'members:' .. room, user, delta)\n"
    "  if (delta > 0 and n == delta) or (delta < 0 and n <= 0) then to_room(room, ARGV[5]) end\n"
    "  return 0\n"
    /* X: this node's whole presence, ARGV 5 "user\ncount\n" for each of
     * its users and ARGV 7 "room\nuser\ncount\n" for each membership, set
     * at once, so a node back from an outage, or from being reaped,
     * corrects the counts without a moment at zero; whoever that brings
     * from no connection to some (or back) is announced. */
    "elseif op == 'X' then\n"
    "  redis.call('SADD', nodes, node)\n"
    "  local nk, rk = p .. 'node:' .. node, p .. 'rnode:' .. node\n"
    "  local users, members = {}, {}\n"
    "  local old = redis.call('HGETALL', nk)\n"
    "  for i = 1, #old, 2 do users[old[i]] = get(p .. 'online', old[i]) end\n"
    "  for i = 1, #old, 2 do\n"
    "    count(p .. 'online', old[i], -tonumber(old[i + 1]))\n"
    "    redis.call('INCRBY', p .. 'conns', -tonumber(old[i + 1]))\n"
    "  end\n"
    "  old = redis.call('HGETALL', rk)\n"
    "  for i = 1, #old, 2 do\n"
    "    local room, user = split(old[i])\n"
    "    members[old[i]] = get(p .. 'members:' .. room, user)\n"
    "    count(p .. 'members:' .. room, user, -tonumber(old[i + 1]))\n"
    "    count(p .. 'roomconns', room, -tonumber(old[i + 1]))\n"
    "  end\n"
    "  redis.call('DEL', nk, rk)\n"
    "  for u, n in string.gmatch(ARGV[5], '([^\\n]*)\\n(%d+)\\n') do\n"
    "    if not users[u] then users[u] = get(p .. 'online', u) end\n"
    "    redis.call('HSET', nk, u, n)\n"
    "    count(p .. 'online', u, tonumber(n))\n"
    "    redis.call('INCRBY', p .. 'conns', tonumber(n))\n"
    "  end\n"
    "  for r, u, n in string.gmatch(ARGV[7], '([^\\n]*)\\n([^\\n]*)\\n(%d+)\\n') do\n"
    "    local pair = r .. '\\n' .. u\n"
    "    if not members[pair] then members[pair] = get(p .. 'members:' .. r, u) end\n"
    "    redis.call('HSET', rk, pair, n)\n"
    "    count(p .. 'members:' .. r, u, tonumber(n))\n"
    "    count(p .. 'roomconns', r, tonumber(n))\n"
    "  end\n"
    "  for pair, before in pairs(members) do\n"
    "    local room, user = split(pair)\n"
    "    if before > 0 and get(p .. 'members:' .. room, user) <= 0 then announce(4, user, room) end\n"
    "  end\n"
    "  for u, before in pairs(users) do\n"
    "    local now = get(p .. 'online', u)\n"
    "    if before > 0 and now <= 0 then announce(2, u) end\n"
    "    if before <= 0 and now > 0 then announce(1, u) end\n"
    "  end\n"
    "  for pair, before in pairs(members) do\n"
    "    local room, user = split(pair)\n"
    "    if before <= 0 and get(p .. 'members:' .. room, user) > 0 then announce(3, user, room) end\n"
    "  end\n"
    "  return 0\n"
    /* B: the heartbeat (ARGV 6: how long it lives, ms), and the reaping of
     * every node whose heartbeat has expired. Redis runs one script at a
     * time, so however many nodes beat at once, one reaps a dead node.
     * Answers 1 when this node is not registered (X is its next step). */
    "elseif op == 'B' then\n"
    "  redis.call('SET', p .. 'alive:' .. node, '1', 'PX', ARGV[6])\n"
    "  for _, n in ipairs(redis.call('SMEMBERS', nodes)) do\n"
    "    if n ~= node and redis.call('EXISTS', p .. 'alive:' .. n) == 0 then reap(n) end\n"
    "  end\n"
    "  return registered() and 0 or 1\n"
    /* K: take a user's kept messages (no other node sends them again). */
    "elseif op == 'K' then\n"
    "  local box = p .. 'kept:' .. ARGV[4]\n"
    "  local v = redis.call('LRANGE', box, 0, -1)\n"
    "  for _, entry in ipairs(v) do unkeep(ARGV[4], entry) end\n"
    "  redis.call('DEL', box)\n"
    "  return v\n"
    /* T: give back kept messages a node took and did not send (ARGV 5,
     * "id\njson\n" each, oldest first), ahead of any kept since. */
    "elseif op == 'T' then\n"
    "  local back = {}\n"
    "  for id, json in string.gmatch(ARGV[5], '(%d+)\\n([^\\n]*)\\n') do\n"
    "    back[#back + 1] = {id, id .. '\\n' .. json}\n"
    "  end\n"
    "  local box = p .. 'kept:' .. ARGV[4]\n"
    "  for i = #back, 1, -1 do\n"
    "    redis.call('LPUSH', box, back[i][2])\n"
    "    redis.call('ZADD', p .. 'keptorder', back[i][1], ARGV[4] .. '\\n' .. back[i][1])\n"
    "    redis.call('INCRBY', p .. 'keptbytes', #back[i][2])\n"
    "  end\n"
    "  return 0\n"
    /* C: a reply to one connection (the sender) of this node, given its
     * id in the one order. */
    "elseif op == 'C' then\n"
    "  return {send('C', '', ARGV[5], nil), 1, 0}\n"
    /* O: the users online (ARGV 4 empty) or in a room, one a line: a
     * single reply however many there are; the node sorts them. */
    "elseif op == 'O' then\n"
    "  local key = ARGV[4] == '' and p .. 'online' or p .. 'members:' .. ARGV[4]\n"
    "  local users = redis.call('HKEYS', key)\n"
    "  return {#users, table.concat(users, '\\n')}\n"
    "end\n"
    "return redis.error_reply('pusher: unknown op ' .. op)\n";

char *cluster_script(const struct cluster_limits *lim, size_t *len)
{
    /* The settings the script takes from the node's command line. */
    char head[160];
    int hl = snprintf(head, sizeof head,
                      "local max_rooms, kept_bytes, kept_ttl_us = %zu, %zu, %lld * 1000\n",
                      lim->max_room_histories, lim->kept_bytes, (long long)lim->kept_ttl_ms);
    char *s = malloc((size_t)hl + sizeof body);
    if (!s)
        return NULL;
    memcpy(s, head, (size_t)hl);
    memcpy(s + hl, body, sizeof body);
    *len = (size_t)hl + sizeof body - 1;
    return s;
}
