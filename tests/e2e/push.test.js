'use strict';
// POST /api/push: server-side push to everyone or to one user, the
// {"delivered":N,"queued":Q} answer, bad bodies, the API key, and what enters history.
// (Offline messages themselves are offline.test.js's.)

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

async function clients(srv, ...users) {
  const out = [];
  for (const u of users) out.push(await h.connect(srv, u));
  await h.settle(...out);
  return out;
}

function assertDelivered(res, n, queued = 0) {
  assert.equal(res.status, 200, `push answered ${res.status} ${res.body}`);
  assert.match(res.headers['content-type'] || '', /^application\/json\b/);
  assert.deepEqual(JSON.parse(res.body), { delivered: n, queued });
}

test('a pushed Group message reaches every connection; delivered counts connections', h.T, async (t) => {
  const srv = await h.serve(t);
  const cs = await clients(srv, 'alice', 'alice', 'bob');
  const t0 = Date.now();
  const res = await h.push(srv, { messageType: 1, from: 'ops', content: 'maintenance at 5', createAt: 42 });
  assertDelivered(res, 3);
  const ids = [];
  for (const c of cs) {
    const m = await c.next('the pushed message');
    assert.equal(m.messageType, 1);
    assert.equal(m.from, 'ops', 'from is taken from the body');
    assert.equal(m.to, '');
    assert.equal(m.content, 'maintenance at 5');
    assert.equal(m.createAt, 42);
    assert.ok(m.updateAt >= t0 - 1000 && m.updateAt <= Date.now() + 1000);
    assert.ok(m.id > (srv.startedAt - 2000) * 1000);
    ids.push(m.id);
  }
  assert.ok(ids.every((id) => id === ids[0]));
});

test('a pushed SysNotify reaches everyone, `from` empty when absent', h.T, async (t) => {
  const srv = await h.serve(t);
  const cs = await clients(srv, 'alice', 'bob', 'carol');
  const t0 = Date.now();
  assertDelivered(await h.push(srv, { messageType: 2, content: 'server restarts soon' }), 3);
  for (const c of cs) {
    const m = await c.next();
    assert.equal(m.messageType, 2);
    assert.equal(m.from, '');
    assert.equal(m.content, 'server restarts soon');
    assert.ok(m.createAt >= t0 - 1000 && m.createAt <= Date.now() + 1000, 'createAt set when absent');
  }
});

test('a pushed Single reaches every connection of `to` only', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, b1, b2] = await clients(srv, 'alice', 'bob', 'bob');
  assertDelivered(await h.push(srv, { messageType: 0, from: 'bank', to: 'bob', content: 'your code: "1234"\n' }), 2);
  for (const b of [b1, b2]) {
    const m = await b.next();
    assert.equal(m.messageType, 0);
    assert.equal(m.from, 'bank');
    assert.equal(m.to, 'bob');
    assert.equal(m.content, 'your code: "1234"\n');
  }
  assert.deepEqual(await a.sync(), []);
  assertDelivered(await h.push(srv, { messageType: 0, to: 'nobody', content: 'x' }), 0, 1);
  assert.deepEqual(await a.sync(), []);
  assert.deepEqual(await b1.sync(), []);
});

test('push with nobody connected delivers 0', h.T, async (t) => {
  const srv = await h.serve(t);
  assertDelivered(await h.push(srv, { messageType: 1, content: 'into the void' }), 0);
});

test('pushed Group and SysNotify messages enter the history; pushed Single ones do not', h.T, async (t) => {
  const srv = await h.serve(t);
  assertDelivered(await h.push(srv, { messageType: 1, from: 'ops', content: 'group one' }), 0);
  assertDelivered(await h.push(srv, { messageType: 0, to: 'nobody', content: 'single' }), 0, 1);
  assertDelivered(await h.push(srv, { messageType: 2, content: 'sys one' }), 0);
  const c = await h.connect(srv, 'alice');
  const hist = await c.sync();
  assert.deepEqual(hist.map((m) => [m.messageType, m.from, m.content]), [[1, 'ops', 'group one'], [2, '', 'sys one']]);
  assert.ok(hist[1].id > hist[0].id);
});

const BAD_BODIES = [
  ['not JSON', 'hello'],
  ['an empty body', ''],
  ['a JSON array', '[]'],
  ['a JSON string', '"x"'],
  ['truncated JSON', '{"messageType":1,"content":"x"'],
  ['messageType 7', '{"messageType":7,"content":"x"}'],
  ['messageType as a string', '{"messageType":"1","content":"x"}'],
  ['mediaType 3', '{"messageType":1,"mediaType":3,"content":"x"}'],
  ['content as a number', '{"messageType":1,"content":1}'],
  ['trailing garbage', '{"messageType":1,"content":"x"}}'],
  // `to` on a Group or SysNotify names a room, and a room's name follows the userId rule.
  ['a Group to a room named with 65 bytes', `{"messageType":1,"to":"${'r'.repeat(65)}","content":"x"}`],
  ['a SysNotify to a room named with a control character', '{"messageType":2,"to":"a\\u0001b","content":"x"}'],
];

test('a bad push body is answered 400 and delivers nothing', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a] = await clients(srv, 'alice');
  for (const [what, body] of BAD_BODIES) {
    const res = await h.push(srv, body);
    assert.equal(res.status, 400, `${what}: got ${res.status} ${res.body}`);
    assert.match(res.body, /^[^\r\n]+\n?$/, `${what}: a one-line reason`);
  }
  assert.deepEqual(await a.sync(), [], 'nothing was delivered');
  await h.assertServes(srv);
});

test('a push body split from its head, and one of several KiB, are read whole', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a] = await clients(srv, 'alice');
  const body = Buffer.from(JSON.stringify({ messageType: 1, content: 'é'.repeat(5000) }));
  const raw = await h.RawSocket.open(srv);
  raw.write(`POST /api/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
  await h.sleep(50);
  raw.write(body.subarray(0, 100));
  await h.sleep(50);
  raw.write(body.subarray(100));
  const res = await raw.readResponse();
  raw.destroy();
  assertDelivered(res, 1);
  assert.equal((await a.next()).content, 'é'.repeat(5000));
});

test('--api-key: push needs Authorization: Bearer KEY, else 401', h.T, async (t) => {
  const srv = await h.serve(t, ['--api-key', 'k3y-e2e']);
  const [a] = await clients(srv, 'alice');
  const body = { messageType: 1, content: 'keyed' };
  for (const [what, headers] of [
    ['no Authorization', {}],
    ['a wrong key', { Authorization: 'Bearer nope' }],
    ['a key prefix', { Authorization: 'Bearer k3y' }],
    ['a longer key', { Authorization: 'Bearer k3y-e2e-more' }],
    ['another scheme', { Authorization: 'Basic k3y-e2e' }],
    ['the bare key', { Authorization: 'k3y-e2e' }],
  ]) {
    const res = await h.push(srv, body, headers);
    assert.equal(res.status, 401, `${what}: got ${res.status}`);
  }
  assert.deepEqual(await a.sync(), [], 'nothing was delivered');
  assertDelivered(await h.push(srv, body, { Authorization: 'Bearer k3y-e2e' }), 1);
  assert.equal((await a.next()).content, 'keyed');
});

test('--api-key is also read from PUSHER_API_KEY; without a key no Authorization is needed', h.T, async (t) => {
  const keyed = await h.serve(t, [], { env: { PUSHER_API_KEY: 'envkey' } });
  assert.equal((await h.push(keyed, { messageType: 1, content: 'x' })).status, 401);
  assertDelivered(await h.push(keyed, { messageType: 1, content: 'x' }, { Authorization: 'Bearer envkey' }), 0);
  const open = await h.serve(t);
  assertDelivered(await h.push(open, { messageType: 1, content: 'x' }), 0);
});
