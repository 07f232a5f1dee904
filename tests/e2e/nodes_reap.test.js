'use strict';
// PROTOCOL.md "Several nodes", when a node is lost: a node killed with -9
// has its users announced offline by the others within 15 s (and Leave for
// their rooms), but not a user with a connection elsewhere; its clients
// reconnect to another node with since= and miss nothing that had an id. A
// node stopped (SIGSTOP) past the reaping comes back by itself: its users
// are announced again and its clients get every message once, in order.
// A node whose subscriber connection is cut fills what the bus skipped
// from the histories.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');
const { Redis } = require('./redis_lib');

const REAP_MS = 15000; // the contract's bound

async function twoNodes(t) {
  const redis = new Redis(t);
  await redis.start();
  const a = await h.serve(t, ['--redis', redis.addr]);
  // b is stopped by the test (kill -9), or at the end if it is still up.
  const b = await h.startServer(['--redis', redis.addr]);
  t.after(async () => {
    if (!b.exitInfo) {
      b.proc.kill('SIGCONT');
      await b.stop();
    }
  });
  return { redis, a, b };
}

async function kill9(srv) {
  srv.proc.kill('SIGKILL');
  await srv.exited;
  srv._cleanup();
}

const groups = (list) => list.filter((m) => m.messageType === 1);

test('a node killed -9: its users Offline within 15 s, Leave for its rooms, none for a user still elsewhere', { timeout: 60000 * h.SCALE }, async (t) => {
  const { a, b } = await twoNodes(t);
  const watcher = await h.connect(a, 'watch', { query: 'rooms=hall' });
  await watcher.sync();
  const lone = await h.connect(b, 'lone', { query: 'rooms=hall' });
  const both1 = await h.connect(b, 'both', { query: 'rooms=hall' });
  const both2 = await h.connect(a, 'both');
  await h.settle(lone, both1, both2);
  watcher.send({ messageType: 1, content: 'before' });
  const before = await lone.take((m) => m.content === 'before', 'the Group before the kill');
  await watcher.sync();
  assert.equal(await h.adminCount(a), 4);

  const killed = Date.now();
  await kill9(b);
  // Its rooms first, then its users, as a closing connection does.
  const first = await watcher.until((m) => m.messageType === 4 && m.from === 'lone', 'the Offline of lone',
    REAP_MS * h.SCALE);
  const took = Date.now() - killed;
  assert.ok(took <= REAP_MS * h.SCALE, `announced after ${took} ms`);
  const rest = first.concat(await watcher.sync());
  const seen = rest.map((m) => `${m.messageType}:${m.from}:${m.to}`).sort();
  assert.deepEqual(seen, ['6:both:hall', '6:lone:hall'],
    `a Leave for each member of the room on the dead node, no Offline for both: ${h.clip(JSON.stringify(rest))}`);
  const room = JSON.parse((await h.get(a, '/api/online?room=hall')).body);
  assert.deepEqual(room.users, ['watch'], 'the dead node\'s members are gone from the room');
  assert.deepEqual(JSON.parse((await h.get(a, '/api/online')).body).users, ['both', 'watch']);
  assert.equal(await h.adminCount(a), 2, '/admin counts what is left');

  // Its client comes back to the other node with since= and misses nothing.
  watcher.send({ messageType: 1, content: 'while gone' });
  await watcher.sync();
  const back = await h.connect(a, 'lone', { query: `since=${before.id}` });
  assert.deepEqual(groups(await back.sync()).map((m) => m.content), ['while gone']);
});

test('the Leave of a dead node\'s member reaches the room once', { timeout: 60000 * h.SCALE }, async (t) => {
  const { a, b } = await twoNodes(t);
  const watcher = await h.connect(a, 'w2', { query: 'rooms=yard' });
  await watcher.sync();
  await (await h.connect(b, 'gone', { query: 'rooms=yard' })).sync();
  await watcher.take((m) => m.messageType === 5 && m.from === 'gone', 'the Join of gone');
  watcher.drain();              // its Online, before the Join
  await kill9(b);
  const leave = await watcher.take((m) => m.messageType === 6 && m.from === 'gone', 'the Leave of gone', REAP_MS * h.SCALE);
  assert.equal(leave.to, 'yard');
  h.assertFull(leave);
  await watcher.take((m) => m.messageType === 4 && m.from === 'gone', 'then its Offline');
  await h.sleep(2500); // a heartbeat more: nobody reaps it twice
  const later = await watcher.sync();
  assert.equal(later.filter((m) => m.from === 'gone').length, 0, `announced once: ${h.clip(JSON.stringify(later))}`);
});

test('a node stopped past the reaping comes back: announced again, every message once and in order', { timeout: 90000 * h.SCALE }, async (t) => {
  const { a, b } = await twoNodes(t);
  const sender = await h.connect(a, 'talk');
  const sleeper = await h.connect(b, 'nap');
  await h.settle(sender, sleeper);
  b.proc.kill('SIGSTOP');
  const stopped = Date.now();
  let k = 0;
  const sent = [];
  const tick = setInterval(() => { sender.send({ messageType: 1, content: `m${++k}` }); sent.push(`m${k}`); }, 250);
  try {
    await sender.take((m) => m.messageType === 4 && m.from === 'nap', 'the Offline of nap', REAP_MS * h.SCALE);
    assert.ok(Date.now() - stopped <= REAP_MS * h.SCALE);
  } finally {
    b.proc.kill('SIGCONT');
  }
  await sender.take((m) => m.messageType === 3 && m.from === 'nap', 'the Online of nap, once back', 10000 * h.SCALE);
  await h.sleep(1000);
  clearInterval(tick);
  sender.send({ messageType: 1, content: 'last' });
  sent.push('last');
  const before = await sleeper.until((m) => m.content === 'last', 'the last Group, on the node that slept',
    10000 * h.SCALE);
  const got = groups(before).map((m) => m.content).concat(['last']);
  assert.deepEqual(got, sent, 'every Group once, in the order sent');
  const ids = groups(before).map((m) => m.id);
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `ids grow: ${ids}`);
});

test('a node whose subscriber is cut fills what the bus skipped from the histories', h.T, async (t) => {
  const { redis, a, b } = await twoNodes(t);
  const sender = await h.connect(a, 'cs', { query: 'rooms=loft' });
  const reader = await h.connect(b, 'cr', { query: 'rooms=loft' });
  await h.settle(sender, reader);
  // The newest subscriber is b's: its client id is the larger.
  const list = String(await redis.command('CLIENT', 'LIST', 'TYPE', 'pubsub')).trim().split('\n');
  const ids = list.map((l) => Number(/\bid=(\d+)/.exec(l)[1])).sort((x, y) => x - y);
  assert.equal(ids.length, 2, `two subscribers: ${list}`);
  await redis.command('CLIENT', 'KILL', 'ID', String(ids[1]));
  const sent = [];
  for (let k = 0; k < 10; k++) {
    const room = k % 2 ? { to: 'loft' } : {};
    sender.send({ messageType: 1, content: `g${k}`, ...room });
    sent.push(`g${k}`);
  }
  await sender.sync();
  const before = await reader.until((m) => m.content === 'g9', 'the last Group, filled or on the bus', 10000 * h.SCALE);
  const got = groups(before).map((m) => m.content).concat(['g9']);
  assert.deepEqual(got, sent, 'every Group once, in id order');
  await h.waitFor(async () => h.counter(await h.metrics(b), 'pusher_bus_gaps_total') >= 1, 'b to count the gap it filled');
});
