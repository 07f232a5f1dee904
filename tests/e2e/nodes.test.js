'use strict';
// PROTOCOL.md "Several nodes", the core cases: two or three pusher nodes on
// one redis-server of the test's own (a private Unix socket in a fresh
// directory, stopped by its PID) behave as one chat. Group reaches every
// connection on every node but the sender's, in one order with the same ids;
// Single reaches a user on another node; Online and Offline go out once for
// a user with connections on two nodes; the history written through one node
// is a newcomer's on another, since= included; /api/push to one node reaches
// the others' clients, delivered counted over all; a Redis killed makes
// error: and 503s, and its restart is back within 5 s; a Single kept for a
// user online nowhere is delivered once, on the node it opens on; a room's
// Group and Join reach its members on every node.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');
const { Redis } = require('./redis_lib');

const KEY = 'k3y';

async function cluster(t, n, redisArgs = []) {
  const redis = new Redis(t, redisArgs);
  await redis.start();
  const nodes = [];
  for (let i = 0; i < n; i++) nodes.push(await h.serve(t, ['--redis', redis.addr, '--api-key', KEY]));
  return { redis, nodes };
}

const ofType = (type, from) => (m) => m.messageType === type && m.from === from;

test('Group across three nodes: everyone but the sender, one order, the same ids', h.T, async (t) => {
  const { nodes } = await cluster(t, 3);
  const cs = [];
  for (let i = 0; i < 6; i++) cs.push(await h.connect(nodes[i % 3], `g${i}`));
  await h.settle(...cs);
  // Two senders on different nodes at once: every reader sees one order.
  for (let k = 0; k < 10; k++) {
    cs[0].send({ messageType: 1, content: `a${k}` });
    cs[1].send({ messageType: 1, content: `b${k}` });
  }
  const seen = [];
  for (let i = 0; i < 6; i++) {
    const got = [];
    const want = i < 2 ? 10 : 20; // a sender never gets its own
    while (got.length < want) {
      const m = await cs[i].take((x) => x.messageType === 1, `Group ${got.length + 1} of ${want}`);
      h.assertFull(m);
      got.push(m);
    }
    assert.ok(got.every((m) => m.from === (m.content[0] === 'a' ? 'g0' : 'g1')), 'from is the sender');
    assert.ok(got.every((m) => m.from !== cs[i].userId), `${cs[i].label} got its own Group`);
    seen.push(got);
  }
  const order = seen[2].map((m) => `${m.id}:${m.content}`);
  for (let i = 3; i < 6; i++) assert.deepEqual(seen[i].map((m) => `${m.id}:${m.content}`), order);
  const ids = seen[2].map((m) => m.id);
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `ids grow: ${ids}`);
  assert.deepEqual(seen[0].map((m) => m.content), order.map((x) => x.split(':')[1]).filter((c) => c[0] === 'b'));
});

test('Single to a user on another node, and an error for one online nowhere', h.T, async (t) => {
  const { nodes } = await cluster(t, 2);
  const alice = await h.connect(nodes[0], 'alice');
  const bob = await h.connect(nodes[1], 'bob');
  await h.settle(alice, bob);
  alice.send({ messageType: 0, to: 'bob', content: 'psst' });
  const m = await bob.take((x) => x.messageType === 0 && x.content === 'psst', 'the Single');
  h.assertFull(m);
  assert.equal(m.from, 'alice');
  alice.send({ messageType: 0, to: 'carol', content: 'anyone?' });
  const r = await alice.take((x) => x.messageType === 2, 'the reply about carol');
  assert.match(r.content, /^(error: user "carol" is not online|queued: carol is offline)/);
});

test('Online and Offline once for a user with connections on two nodes', h.T, async (t) => {
  const { nodes } = await cluster(t, 2);
  const watcher = await h.connect(nodes[0], 'watcher');
  await watcher.sync();
  const d1 = await h.connect(nodes[0], 'dave');
  const d2 = await h.connect(nodes[1], 'dave');
  await h.settle(d1, d2);
  const before = await watcher.sync();
  assert.equal(before.filter(ofType(3, 'dave')).length, 1, `one Online: ${h.clip(JSON.stringify(before))}`);
  await d1.close();
  await h.sleep(300);
  assert.equal((await watcher.sync()).filter(ofType(4, 'dave')).length, 0, 'no Offline while one is open');
  await d2.close();
  await watcher.take(ofType(4, 'dave'), 'the Offline of dave');
  await h.sleep(300);
  assert.equal((await watcher.sync()).filter(ofType(4, 'dave')).length, 0, 'only one Offline');
});

test('a newcomer on node B gets the history written through node A, since= included', h.T, async (t) => {
  const { redis, nodes } = await cluster(t, 2);
  const alice = await h.connect(nodes[0], 'alice');
  await alice.sync();
  for (const c of ['one', 'two', 'three']) alice.send({ messageType: 1, content: c });
  await alice.sync();
  const groups = async (c) => (await c.sync()).filter((m) => m.messageType === 1);
  const bob = await h.connect(nodes[1], 'bob');
  const got = await groups(bob);
  assert.deepEqual(got.map((m) => m.content), ['one', 'two', 'three']);
  const dan = await h.connect(nodes[1], 'dan', { query: `since=${got[0].id}` });
  assert.deepEqual((await groups(dan)).map((m) => m.content), ['two', 'three']);

  // A node started after them reads them back from Redis, with their ids.
  const late = await h.serve(t, ['--redis', redis.addr, '--api-key', KEY]);
  const carol = await h.connect(late, 'carol');
  assert.deepEqual((await groups(carol)).map((m) => `${m.id}:${m.content}`),
    got.map((m) => `${m.id}:${m.content}`));
});

test('/api/push to node A reaches node B, delivered and /admin counted over both nodes', h.T, async (t) => {
  const { nodes } = await cluster(t, 2);
  const a = await h.connect(nodes[0], 'pa');
  const b1 = await h.connect(nodes[1], 'pb');
  const b2 = await h.connect(nodes[1], 'pb');
  await h.settle(a, b1, b2);
  for (const n of nodes) assert.equal(await h.adminCount(n), 3, '/admin counts every node');
  const auth = { Authorization: `Bearer ${KEY}` };
  let res = await h.push(nodes[0], { messageType: 2, content: 'to all' }, auth);
  assert.equal(res.status, 200, res.body);
  assert.deepEqual(JSON.parse(res.body), { delivered: 3, queued: 0 });
  for (const c of [a, b1, b2]) await c.take((m) => m.content === 'to all', 'the push to all');
  res = await h.push(nodes[0], { messageType: 0, to: 'pb', content: 'to pb' }, auth);
  assert.equal(res.status, 200, res.body);
  assert.deepEqual(JSON.parse(res.body), { delivered: 2, queued: 0 });
  for (const c of [b1, b2]) await c.take((m) => m.content === 'to pb', 'the push to pb');
});

test('Redis killed: error: and 503s, connections kept; restarted from its append-only file: back within 5 s, ids growing', h.T, async (t) => {
  const { redis, nodes } = await cluster(t, 2, ['--appendonly', 'yes', '--appendfsync', 'always']);
  const a = await h.connect(nodes[0], 'ka');
  const b = await h.connect(nodes[1], 'kb');
  await h.settle(a, b);
  a.send({ messageType: 1, content: 'before' });
  const first = await b.take((m) => m.content === 'before', 'the Group before');

  await redis.kill('SIGKILL');
  await h.waitFor(async () => (await h.get(nodes[0], '/healthz')).status === 503, '/healthz 503');
  const health = await h.get(nodes[0], '/healthz');
  assert.match(health.body, /Redis is unreachable/);
  const res = await h.push(nodes[0], { messageType: 2, content: 'x' }, { Authorization: `Bearer ${KEY}` });
  assert.equal(res.status, 503);
  a.send({ messageType: 1, content: 'while down' });
  const err = await a.take((m) => m.messageType === 2, 'the error: while Redis is down');
  h.assertError(err);
  assert.ok(a.isOpen && b.isOpen, 'connections stay open');

  await redis.start();
  const back = Date.now();
  await h.waitFor(async () => (await h.get(nodes[0], '/healthz')).status === 200 &&
    (await h.get(nodes[1], '/healthz')).status === 200, 'both nodes healthy again', Math.round(6000 * h.SCALE), 50);
  assert.ok(Date.now() - back <= 5000 * h.SCALE, `back after ${Date.now() - back} ms`);
  await h.sleep(200); // the subscriber's SUBSCRIBE again, beside the command connection
  a.send({ messageType: 1, content: 'after' });
  const m = await b.take((x) => x.content === 'after', 'the Group after the restart');
  assert.ok(m.id > first.id, `ids keep growing: ${m.id} after ${first.id}`);
  // The node counted its users again: a Single to kb on the other node is routed.
  a.send({ messageType: 0, to: 'kb', content: 'still here?' });
  await b.take((x) => x.content === 'still here?', 'the Single after the restart');
  assert.equal(await h.adminCount(nodes[1]), 2, '/admin counts both nodes again');
  // What Redis kept survived it: a newcomer on either node is replayed both.
  const late = await h.connect(nodes[1], 'kc');
  const replay = (await late.sync()).filter((x) => x.messageType === 1).map((x) => x.content);
  assert.deepEqual(replay, ['before', 'after']);
  const rtt = await h.metrics(nodes[0]);
  assert.ok(h.counter(rtt, 'pusher_bus_messages_in_total') > 0 && h.counter(rtt, 'pusher_bus_messages_out_total') > 0,
    'the bus counters move');
});

test('a Single to a user online nowhere is kept once: delivered on whichever node it opens', h.T, async (t) => {
  const { nodes } = await cluster(t, 2);
  const alice = await h.connect(nodes[0], 'alice');
  await alice.sync();
  alice.send({ messageType: 0, to: 'erin', content: 'for later' });
  const q = await alice.take((m) => m.messageType === 2, 'the queued: reply');
  assert.match(q.content, /^queued: erin is offline/);
  const erin = await h.connect(nodes[1], 'erin');
  const got = (await erin.sync()).filter((m) => m.content === 'for later');
  assert.equal(got.length, 1, 'the kept Single, once');
  assert.equal(got[0].from, 'alice');
  await erin.close();
  const again = await h.connect(nodes[0], 'erin');
  assert.equal((await again.sync()).filter((m) => m.content === 'for later').length, 0,
    'taken: the other node does not send it again');
});

test('a Group to a room reaches its members on every node, Join included', h.T, async (t) => {
  const { nodes } = await cluster(t, 2);
  const a = await h.connect(nodes[0], 'ra', { query: 'rooms=lobby' });
  await a.sync();
  const b = await h.connect(nodes[1], 'rb', { query: 'rooms=lobby' });
  const out = await h.connect(nodes[1], 'rc');
  await h.settle(b, out);
  await a.take((m) => m.messageType === 5 && m.from === 'rb' && m.to === 'lobby', 'rb\'s Join');
  a.send({ messageType: 1, to: 'lobby', content: 'in the lobby' });
  const m = await b.take((x) => x.content === 'in the lobby', 'the room Group on the other node');
  assert.equal(m.to, 'lobby');
  assert.equal((await out.sync()).filter((x) => x.content === 'in the lobby').length, 0, 'not to non-members');
  assert.equal((await a.sync()).filter((x) => x.content === 'in the lobby').length, 0, 'not to the sender');
});

test('Join and Leave once per user and room over two nodes', h.T, async (t) => {
  const { nodes } = await cluster(t, 2);
  const watcher = await h.connect(nodes[0], 'jw', { query: 'rooms=club' });
  await watcher.sync();
  const u1 = await h.connect(nodes[0], 'ju', { query: 'rooms=club' });
  await u1.sync();
  const u2 = await h.connect(nodes[1], 'ju');
  await u2.sync();
  u2.send({ messageType: 5, to: 'club' });
  await u2.sync();
  const joins = (await watcher.sync()).filter((m) => m.messageType === 5 && m.from === 'ju');
  assert.equal(joins.length, 1, `one Join for two connections on two nodes: ${h.clip(JSON.stringify(joins))}`);
  assert.equal(joins[0].to, 'club');
  h.assertFull(joins[0]);

  await u1.close();
  await h.sleep(300);
  assert.equal((await watcher.sync()).filter((m) => m.messageType === 6).length, 0,
    'no Leave while the other node still has ju in the room');
  u2.send({ messageType: 6, to: 'club' });
  const leave = await watcher.take((m) => m.messageType === 6 && m.from === 'ju', 'the Leave of ju');
  assert.equal(leave.to, 'club');
  await h.sleep(300);
  assert.equal((await watcher.sync()).filter((m) => m.messageType === 6).length, 0, 'only one Leave');

  // Closing is leaving too, counted over the nodes.
  const v1 = await h.connect(nodes[1], 'jv', { query: 'rooms=club' });
  await watcher.take((m) => m.messageType === 5 && m.from === 'jv', 'the Join of jv');
  await v1.close();
  await watcher.take((m) => m.messageType === 6 && m.from === 'jv', 'the Leave of jv, by closing');
});

test('/api/online and ?room= answer for every node; a push to a room counts every node', h.T, async (t) => {
  const { nodes } = await cluster(t, 2);
  const cs = [await h.connect(nodes[0], 'oa', { query: 'rooms=den' }), await h.connect(nodes[1], 'ob', { query: 'rooms=den' }),
    await h.connect(nodes[1], 'ob'), await h.connect(nodes[1], 'oc')];
  await h.settle(...cs);
  for (const n of nodes) {
    const all = JSON.parse((await h.get(n, '/api/online')).body);
    assert.equal(all.count, 3);
    assert.deepEqual(all.users, ['oa', 'ob', 'oc']);
    const some = JSON.parse((await h.get(n, '/api/online?limit=2')).body);
    assert.deepEqual([some.count, some.users], [3, ['oa', 'ob']]);
    const den = JSON.parse((await h.get(n, '/api/online?room=den')).body);
    assert.deepEqual([den.count, den.users], [2, ['oa', 'ob']]);
    const none = JSON.parse((await h.get(n, '/api/online?room=nowhere')).body);
    assert.deepEqual([none.count, none.users], [0, []]);
  }
  const res = await h.push(nodes[0], { messageType: 1, to: 'den', content: 'to the den' },
    { Authorization: `Bearer ${KEY}` });
  assert.equal(res.status, 200, res.body);
  assert.deepEqual(JSON.parse(res.body), { delivered: 2, queued: 0 });
  for (const c of cs.slice(0, 2)) await c.take((m) => m.content === 'to the den', 'the push to the room');
  await cs[3].close();
  await h.waitFor(async () => JSON.parse((await h.get(nodes[0], '/api/online')).body).count === 2,
    'oc gone from /api/online on the other node');
});

test('a node started later has the rooms\' histories, since= included', h.T, async (t) => {
  const { redis, nodes } = await cluster(t, 1);
  const a = await h.connect(nodes[0], 'ha', { query: 'rooms=attic' });
  await a.sync();
  for (const c of ['r1', 'r2', 'r3']) a.send({ messageType: 1, to: 'attic', content: c });
  a.send({ messageType: 1, content: 'to everyone' });
  await a.sync();
  const late = await h.serve(t, ['--redis', redis.addr, '--api-key', KEY]);
  const b = await h.connect(late, 'hb', { query: 'rooms=attic' });
  const got = (await b.sync()).filter((m) => m.messageType === 1);
  assert.deepEqual(got.map((m) => m.content), ['r1', 'r2', 'r3', 'to everyone'], 'merged in id order');
  assert.ok(got.slice(0, 3).every((m) => m.to === 'attic'));
  const c = await h.connect(late, 'hc');
  await c.sync();
  c.send({ messageType: 5, to: 'attic', since: got[1].id });
  const after = (await c.sync()).filter((m) => m.messageType === 1);
  assert.deepEqual(after.map((m) => m.content), ['r3']);
});
