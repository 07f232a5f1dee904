'use strict';
// PROTOCOL.md "Offline messages": a Single to a user with no open connection
// is kept, the sender told (queued:), and arrives on the user's next
// connection merged with the history in id order; it is forgotten once
// written, or by since=; the three limits drop the oldest and are counted.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

// What is kept, over every node and, with several, in their Redis too
// (where kept messages wait for a node to take them).
async function offlineMetrics(srv) {
  const out = { messages: 0, bytes: 0, dropped: 0 };
  for (const n of srv.nodes || [srv]) {
    const m = await h.metrics(n);
    out.messages += h.metric(m, 'pusher_offline_messages');
    out.bytes += h.metric(m, 'pusher_offline_bytes');
    out.dropped += h.counter(m, 'pusher_offline_dropped_total');
  }
  if (srv.redis) {
    out.messages += Number(await srv.redis.command('ZCARD', 'pusher:keptorder'));
    out.bytes += Number(await srv.redis.command('GET', 'pusher:keptbytes') || 0);
  }
  return out;
}

// alice sends each content to `to` and checks each queued: reply.
async function sendKept(a, to, contents) {
  for (const content of contents) {
    a.send({ messageType: 0, to, content });
    const r = await a.next(`the queued: reply for ${content}`);
    assert.equal(r.messageType, 2, `reply to a Single for offline ${to}: ${JSON.stringify(r)}`);
    assert.ok(r.content.startsWith('queued:'), `content should start with queued: ${r.content}`);
    assert.ok(r.content.includes(to), `queued: reply should name ${to}: ${r.content}`);
    assert.equal(r.to, a.userId);
  }
}

function singles(list) {
  return list.filter((m) => m.messageType === 0).map((m) => m.content);
}

test('Singles to an offline user are kept and arrive, in order, with their own id, from and createAt', h.T, async (t) => {
  const srv = await h.serve(t);
  const a = await h.connect(srv, 'alice');
  await a.sync();
  const t0 = Date.now();
  a.send({ messageType: 0, to: 'bob', content: 'first', createAt: 1234 });
  const r = await a.next('queued: reply');
  assert.equal(r.createAt, 1234, 'the queued: reply carries the kept message\'s createAt');
  await sendKept(a, 'bob', ['second', 'third']);
  const p = await h.push(srv, { messageType: 0, from: 'bank', to: 'bob', content: 'pushed' });
  assert.equal(p.status, 200);
  assert.deepEqual(JSON.parse(p.body), { delivered: 0, queued: 1 });
  assert.equal((await offlineMetrics(srv)).messages, 4);

  const b = await h.connect(srv, 'bob');
  const got = await b.sync();
  const kept = got.filter((m) => m.messageType === 0);
  assert.deepEqual(kept.map((m) => [m.from, m.content]),
    [['alice', 'first'], ['alice', 'second'], ['alice', 'third'], ['bank', 'pushed']]);
  assert.equal(kept[0].createAt, 1234, 'a given createAt is kept');
  assert.ok(kept[1].createAt >= t0 - 1000, 'createAt set when absent');
  for (let i = 1; i < kept.length; i++) assert.ok(kept[i].id > kept[i - 1].id, 'ids grow');
  for (let i = 1; i < got.length; i++) assert.ok(got[i].id > got[i - 1].id, `replay in id order: ${JSON.stringify(got.map((m) => m.id))}`);
  assert.equal(kept[0].to, 'bob');
  // alice is told when bob comes online, as ever.
  const on = await a.take((m) => m.messageType === 3 && m.from === 'bob', 'OnlineNotify of bob');
  assert.ok(on.id > kept[3].id);
});

test('kept messages are merged with the history (everyone and rooms) in id order', h.T, async (t) => {
  const srv = await h.serve(t);
  const a = await h.connect(srv, 'alice', { query: 'rooms=team' });
  await a.sync();
  a.send({ messageType: 1, content: 'g1' });
  await sendKept(a, 'bob', ['k1']);
  a.send({ messageType: 1, to: 'team', content: 'r1' });
  await sendKept(a, 'bob', ['k2']);
  a.send({ messageType: 1, content: 'g2' });
  await a.sync();
  const b = await h.connect(srv, 'bob', { query: 'rooms=team' });
  const got = (await b.sync()).filter((m) => m.messageType <= 1).map((m) => m.content);
  assert.deepEqual(got, ['g1', 'k1', 'r1', 'k2', 'g2']);
});

test('a kept message is forgotten once written: a second connection does not get it again', h.T, async (t) => {
  const srv = await h.serve(t);
  const a = await h.connect(srv, 'alice');
  await a.sync();
  await sendKept(a, 'bob', ['once']);
  const b1 = await h.connect(srv, 'bob');
  assert.deepEqual(singles(await b1.sync()), ['once']);
  await h.waitFor(async () => (await offlineMetrics(srv)).messages === 0, 'the kept message to be forgotten');
  await b1.close();
  await h.waitConnections(srv, 1);
  const b2 = await h.connect(srv, 'bob');
  assert.deepEqual(singles(await b2.sync()), [], 'nothing kept twice');
  // bob is online now: a Single goes straight to him, nothing is queued.
  a.drain();
  a.send({ messageType: 0, to: 'bob', content: 'live' });
  assert.equal((await b2.next('the live Single')).content, 'live');
  assert.deepEqual((await a.sync()).filter((m) => m.messageType === 2), [], 'no queued: reply while bob is online');
});

test('since= skips and forgets kept messages at or below it, and sends those above', h.T, async (t) => {
  const srv = await h.serve(t);
  const a = await h.connect(srv, 'alice');
  await a.sync();
  await sendKept(a, 'bob', ['k1']);
  a.send({ messageType: 1, content: 'marker' });
  await sendKept(a, 'bob', ['k2', 'k3']);
  // The marker's id, from a third user's history replay: above k1, below k2.
  const c = await h.connect(srv, 'carol');
  const marker = (await c.sync()).find((m) => m.content === 'marker');
  assert.ok(marker, 'carol replays the marker');
  assert.equal((await offlineMetrics(srv)).messages, 3);
  const b = await h.connect(srv, 'bob', { query: `since=${marker.id}` });
  const got = await b.sync();
  assert.deepEqual(singles(got), ['k2', 'k3'], 'kept messages above since= arrive');
  assert.ok(!got.some((m) => m.content === 'marker'), 'nor is the history at since= replayed');
  await h.waitFor(async () => (await offlineMetrics(srv)).messages === 0, 'k1 forgotten too');
});

test('since= at or above a kept id forgets it without sending it', h.T, async (t) => {
  const srv = await h.serve(t);
  const a = await h.connect(srv, 'alice');
  await a.sync();
  await sendKept(a, 'bob', ['old']);
  a.send({ messageType: 1, content: 'marker' });
  await a.sync();
  // The marker's id, from a third user's history replay, is above old's.
  const c = await h.connect(srv, 'carol');
  const marker = (await c.sync()).find((m) => m.content === 'marker');
  const b = await h.connect(srv, 'bob', { query: `since=${marker.id}` });
  assert.deepEqual(singles(await b.sync()), [], 'a kept message at or below since= is not sent');
  assert.equal((await offlineMetrics(srv)).messages, 0, 'and it is forgotten');
});

test('--offline-max: at most N a user, the oldest dropped first and counted', h.T, async (t) => {
  const srv = await h.serve(t, ['--offline-max', '3']);
  const a = await h.connect(srv, 'alice');
  await a.sync();
  await sendKept(a, 'bob', ['1', '2', '3', '4', '5']);
  await sendKept(a, 'carol', ['c']);
  const before = await offlineMetrics(srv);
  assert.equal(before.messages, 4);
  assert.equal(before.dropped, 2);
  const b = await h.connect(srv, 'bob');
  assert.deepEqual(singles(await b.sync()), ['3', '4', '5']);
  const c = await h.connect(srv, 'carol');
  assert.deepEqual(singles(await c.sync()), ['c'], "one user's limit costs no other user");
});

test('--offline-bytes: the oldest of anyone goes first; a message that alone is too big is an error:', h.T, async (t) => {
  const srv = await h.serve(t, ['--offline-bytes', '1k']);
  const a = await h.connect(srv, 'alice');
  await a.sync();
  const big = 'x'.repeat(150); // about 320 bytes a frame: three fit in 1k
  await sendKept(a, 'bob', [`b1${big}`]);
  await sendKept(a, 'carol', [`c1${big}`, `c2${big}`]);
  await sendKept(a, 'bob', [`b2${big}`]);
  const m = await offlineMetrics(srv);
  assert.ok(m.bytes <= 1024, `kept bytes ${m.bytes} within 1k`);
  assert.equal(m.dropped, 1);
  const b = await h.connect(srv, 'bob');
  assert.deepEqual(singles(await b.sync()).map((s) => s.slice(0, 2)), ['b2'], "bob's oldest was the oldest of all");
  await a.sync(); // past bob's OnlineNotify
  a.send({ messageType: 0, to: 'dave', content: 'y'.repeat(2000) });
  h.assertError(await a.next('an error: for a message over --offline-bytes'));
});

test('--offline-ttl: a message older than the limit is dropped, not delivered', h.T, async (t) => {
  const srv = await h.serve(t, ['--offline-ttl', '1s']);
  const a = await h.connect(srv, 'alice');
  await a.sync();
  await sendKept(a, 'bob', ['stale']);
  await h.sleep(1300);
  await sendKept(a, 'bob', ['fresh']);
  const b = await h.connect(srv, 'bob');
  assert.deepEqual(singles(await b.sync()), ['fresh']);
  assert.equal((await offlineMetrics(srv)).dropped, 1);
});

test('the replay budget holds for kept messages: the newest that fit come, the rest stay kept for later', h.T, async (t) => {
  // --max-pending 8k: a newcomer is sent at most 4k at once.
  const srv = await h.serve(t, ['--max-pending', '8k']);
  const a = await h.connect(srv, 'alice');
  await a.sync();
  const contents = [];
  for (let i = 0; i < 10; i++) contents.push(`${i}:${'z'.repeat(700)}`);
  await sendKept(a, 'bob', contents);
  const b1 = await h.connect(srv, 'bob');
  const first = singles(await b1.sync()).map((s) => Number(s.split(':')[0]));
  assert.ok(first.length >= 3 && first.length < 10, `some but not all fit: ${first}`);
  assert.deepEqual(first, contents.slice(10 - first.length).map((_, i) => 10 - first.length + i), 'the newest that fit');
  await h.waitFor(async () => (await offlineMetrics(srv)).messages === 10 - first.length,
    'the sent ones to be forgotten');
  await b1.close();
  await h.waitConnections(srv, 1);
  const b2 = await h.connect(srv, 'bob');
  const second = singles(await b2.sync()).map((s) => Number(s.split(':')[0]));
  assert.ok(second.length > 0, 'the older ones come on the next connection');
  assert.deepEqual(second, second.map((_, i) => 10 - first.length - second.length + i));
});

test('--offline-max 0 keeps nothing: error: to a client, queued 0 to a push', h.T, async (t) => {
  const srv = await h.serve(t, ['--offline-max', '0']);
  const a = await h.connect(srv, 'alice');
  await a.sync();
  a.send({ messageType: 0, to: 'bob', content: 'x' });
  h.assertError(await a.next('an error: reply'));
  const p = await h.push(srv, { messageType: 0, to: 'bob', content: 'x' });
  assert.deepEqual(JSON.parse(p.body), { delivered: 0, queued: 0 });
  const b = await h.connect(srv, 'bob');
  assert.deepEqual(singles(await b.sync()), []);
});

test('a Single to a name no user can have is an error:, not kept', h.T, async (t) => {
  const srv = await h.serve(t);
  const a = await h.connect(srv, 'alice');
  await a.sync();
  a.send({ messageType: 0, to: 'x'.repeat(65), content: 'x' });
  h.assertError(await a.next('an error: for a 65-byte to'));
  a.send({ messageType: 0, to: 'bad\u0001name', content: 'x' });
  h.assertError(await a.next('an error: for a control character in to'));
  assert.equal((await offlineMetrics(srv)).messages, 0);
});
