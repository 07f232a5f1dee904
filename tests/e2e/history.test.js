'use strict';
// Recent history: what a newcomer receives before anything else (the last 100
// Group messages and Online/Offline notices, oldest first, as they stood
// before it arrived), `since=ID`, and what never enters it.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

// What a new connection received on arrival: everything before its own
// sync marker comes back.
async function historyOf(srv, userId, query) {
  const c = await h.connect(srv, userId, { query });
  const hist = await c.sync();
  return { c, hist };
}

const brief = (m) => `${m.messageType}:${m.from}:${m.content}`;

function assertSameMessages(got, want, what) {
  assert.deepEqual(got.map(brief), want.map(brief), what);
  assert.deepEqual(got.map((m) => m.id), want.map((m) => m.id), `${what}: the same ids as when they were routed`);
  for (let i = 1; i < got.length; i++) assert.ok(got[i].id > got[i - 1].id, `${what}: oldest first`);
}

test('a newcomer receives the Group messages and notices sent before it, oldest first', h.T, async (t) => {
  const srv = await h.serve(t);
  const w = await h.connect(srv, 'witness');
  await w.sync();
  const a = await h.connect(srv, 'alice');
  const seen = [await w.next('alice\'s OnlineNotify')];
  for (let i = 0; i < 3; i++) {
    a.send({ messageType: 1, content: `g${i}`, createAt: 1000 + i });
    seen.push(await w.next(`g${i}`));
  }
  const { c: n, hist } = await historyOf(srv, 'newbie');
  // The witness's own OnlineNotify (when nobody else was there) may come first.
  const rest = hist.length && hist[0].messageType === 3 && hist[0].from === 'witness' ? hist.slice(1) : hist;
  assertSameMessages(rest, seen, 'newbie\'s history');
  assert.deepEqual(rest.map((m) => m.createAt).slice(1), [1000, 1001, 1002], 'history keeps every field');
  assert.ok(!hist.some((m) => m.from === 'newbie'), 'a newcomer never sees its own OnlineNotify');
  // and then live traffic follows
  a.send({ messageType: 1, content: 'live' });
  assert.equal((await n.next()).content, 'live');
});

test('the history holds only the last 100: 150 Group messages -> the newest 100', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, w] = [await h.connect(srv, 'alice'), await h.connect(srv, 'witness')];
  await h.settle(a, w);
  const seen = [];
  for (let i = 0; i < 150; i++) a.send({ messageType: 1, content: `m${i}` });
  for (let i = 0; i < 150; i++) seen.push(await w.next(`m${i}`));
  const { hist } = await historyOf(srv, 'newbie');
  assert.equal(hist.length, 100, `history length ${hist.length}`);
  assertSameMessages(hist, seen.slice(50), 'the newest 100');
});

test('Online and Offline notices enter the history, in order with Group messages', h.T, async (t) => {
  const srv = await h.serve(t);
  const w = await h.connect(srv, 'witness');
  await w.sync();
  const seen = [];
  const b = await h.connect(srv, 'bob');
  seen.push(await w.next('bob online'));
  b.send({ messageType: 1, content: 'bye' });
  seen.push(await w.next('bob\'s message'));
  await b.close();
  seen.push(await w.next('bob offline'));
  const c = await h.connect(srv, 'carol');
  seen.push(await w.next('carol online'));
  await h.waitConnections(srv, 2);
  const { hist } = await historyOf(srv, 'newbie');
  const rest = hist.length && hist[0].from === 'witness' ? hist.slice(1) : hist;
  assert.deepEqual(seen.map((m) => m.messageType), [3, 1, 4, 3]);
  assertSameMessages(rest, seen, 'notices and messages in one order');
  await c.sync();
});

test('Single messages, error replies and sync traffic are not in the history', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, w] = [await h.connect(srv, 'alice'), await h.connect(srv, 'witness')];
  await h.settle(a, w);
  a.send({ messageType: 0, to: 'witness', content: 'private' });
  await w.next('the Single');
  a.send({ messageType: 7 });
  h.assertError(await a.next('the error reply'));
  a.send({ messageType: 1, content: 'public' });
  const pub = await w.next('the Group');
  const { hist } = await historyOf(srv, 'newbie');
  assert.ok(!hist.some((m) => m.messageType === 0 || m.messageType === 2), `no Single or SysNotify: ${hist.map(brief)}`);
  assert.equal(hist[hist.length - 1].id, pub.id, 'the Group message is the newest');
  assert.ok(hist.every((m) => [1, 3, 4].includes(m.messageType)));
});

test('since=ID returns only history newer than ID', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, w] = [await h.connect(srv, 'alice'), await h.connect(srv, 'witness')];
  await h.settle(a, w);
  const seen = [];
  for (let i = 0; i < 5; i++) {
    a.send({ messageType: 1, content: `s${i}` });
    seen.push(await w.next());
  }
  const r1 = await historyOf(srv, 'back', `since=${seen[1].id}`);
  assertSameMessages(r1.hist, seen.slice(2), 'after the second');
  await r1.c.close();
  await w.take((m) => m.messageType === 4 && m.from === 'back', 'back\'s OfflineNotify');
  // the notices about `back` are newer than the last message now
  const r2 = await historyOf(srv, 'again', `since=${seen[4].id}`);
  assert.deepEqual(r2.hist.map((m) => [m.messageType, m.from]), [[3, 'back'], [4, 'back']],
    'only what came after the last one seen');
  assert.ok(r2.hist.every((m) => m.id > seen[4].id));
  const r3 = await historyOf(srv, 'future', `since=${Number.MAX_SAFE_INTEGER}`);
  assert.deepEqual(r3.hist, [], 'nothing newer than the future');
  const r4 = await historyOf(srv, 'all', 'since=0');
  assert.ok(r4.hist.length >= 7, 'since=0 gives the whole history');
  assert.deepEqual(r4.hist.filter((m) => m.messageType === 1).map((m) => m.content), ['s0', 's1', 's2', 's3', 's4']);
});

test('a reconnecting client passing its last id sees nothing twice and misses nothing', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, b] = [await h.connect(srv, 'alice'), await h.connect(srv, 'bob')];
  await h.settle(a, b);
  a.send({ messageType: 1, content: 'before' });
  const last = await b.next();
  await b.close();
  await a.next('bob\'s OfflineNotify');
  a.send({ messageType: 1, content: 'while away 1' });
  a.send({ messageType: 1, content: 'while away 2' });
  await a.sync();
  const { hist } = await historyOf(srv, 'bob', `since=${last.id}`);
  assert.deepEqual(hist.map((m) => (m.messageType === 1 ? brief(m) : `${m.messageType}:${m.from}`)),
    ['4:bob', '1:alice:while away 1', '1:alice:while away 2']);
});

test('a history of large messages never costs a newcomer its handshake: it gets the newest that fit in half of --max-pending', h.T, async (t) => {
  const srv = await h.serve(t, ['--max-pending', '256k']);
  const a = await h.connect(srv, 'bulk');
  await a.sync();
  const big = 'x'.repeat(12000);
  for (let i = 0; i < 100; i++) a.send({ messageType: 1, content: `${i}:${big}` });
  await a.sync();
  const { c: n, hist } = await historyOf(srv, 'late');
  const groups = hist.filter((m) => m.messageType === 1);
  assert.ok(groups.length >= 8 && groups.length < 100, `replayed ${groups.length} of 100 large messages`);
  assert.equal(groups[groups.length - 1].content.split(':')[0], '99', 'the newest message is replayed');
  const bytes = groups.reduce((s, m) => s + JSON.stringify(m).length, 0);
  assert.ok(bytes <= 128 * 1024, `replay of ${bytes} bytes stays within half the cap`);
  n.send({ messageType: 1, content: 'still here' });
  await a.until((m) => m.content === 'still here' && m.from === 'late', 'late\'s message');
});
