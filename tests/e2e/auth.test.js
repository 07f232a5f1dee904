'use strict';
// Who may open a WebSocket: the HS256 JWT in `token` (--secret), the Origin
// allow-list (--allowed-origin), each refusal counted by status.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const SECRET = 'e2e-secret-Kq8';
const now = () => Math.floor(Date.now() / 1000);

async function upgradeWithToken(srv, userId, token) {
  const q = `userId=${encodeURIComponent(userId)}${token === undefined ? '' : `&token=${encodeURIComponent(token)}`}`;
  return h.rawHandshake(srv, `/websocket?${q}`);
}

async function expect401(srv, userId, token, what) {
  const { res, raw } = await upgradeWithToken(srv, userId, token);
  assert.equal(res.status, 401, `${what}: got ${res.status} ${res.body}`);
  assert.match(res.body, /^[^\r\n]+\n?$/, `${what}: one-line reason`);
  assert.equal(Number(res.headers['content-length']), res.bodyBuf.length);
  raw.destroy();
}

test('--secret: a valid HS256 token whose sub is the userId opens the WebSocket', h.T, async (t) => {
  const srv = await h.serve(t, ['--secret', SECRET]);
  const token = h.makeJwt({ sub: 'alice', iat: now() }, SECRET);
  const { res, raw, key } = await upgradeWithToken(srv, 'alice', token);
  assert.equal(res.status, 101);
  assert.equal(res.headers['sec-websocket-accept'], h.acceptFor(key));
  await raw.sync('alice');
  const later = h.makeJwt({ sub: 'bob', exp: now() + 3600 }, SECRET);
  const c = await h.connect(srv, 'bob', { query: `token=${later}` });
  await c.sync();
  const unicode = h.makeJwt({ sub: 'zoë' }, SECRET);
  const z = await h.connect(srv, 'zoë', { query: `token=${unicode}` });
  await z.sync();
});

test('--secret: missing, malformed, forged, alg none, other alg, expired or foreign tokens get 401', h.T, async (t) => {
  const srv = await h.serve(t, ['--secret', SECRET]);
  const good = h.makeJwt({ sub: 'alice' }, SECRET);
  const [hd, pl, sig] = good.split('.');
  const cases = [
    ['no token', undefined],
    ['an empty token', ''],
    ['not a JWT', 'abc'],
    ['two parts only', `${hd}.${pl}`],
    ['a signature by another secret', h.makeJwt({ sub: 'alice' }, 'wrong-secret')],
    ['a tampered payload', `${hd}.${Buffer.from(JSON.stringify({ sub: 'alice', admin: true })).toString('base64url')}.${sig}`],
    ['a truncated signature', `${hd}.${pl}.${sig.slice(0, -2)}`],
    ['alg none, empty signature', h.makeJwt({ sub: 'alice' }, SECRET, { alg: 'none' })],
    ['alg none, header says none but HS256 signature',
      (() => {
        const hn = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
        const data = `${hn}.${pl}`;
        const s = require('node:crypto').createHmac('sha256', SECRET).update(data).digest('base64url');
        return `${data}.${s}`;
      })()],
    ['HS512 signed with the secret', h.makeJwt({ sub: 'alice' }, SECRET, { alg: 'HS512' })],
    ['an expired token', h.makeJwt({ sub: 'alice', exp: now() - 60 }, SECRET)],
    ['a token for another user', h.makeJwt({ sub: 'bob' }, SECRET)],
    ['a token without sub', h.makeJwt({ name: 'alice' }, SECRET)],
    ['a sub that only starts like the userId', h.makeJwt({ sub: 'alice2' }, SECRET)],
  ];
  const before = await h.metrics(srv);
  for (const [what, token] of cases) await expect401(srv, 'alice', token, what);
  const after = await h.metrics(srv);
  const d = h.counter(after, 'pusher_handshakes_rejected_total', { status: '401' }) -
    h.counter(before, 'pusher_handshakes_rejected_total', { status: '401' });
  assert.equal(d, cases.length, `every 401 counted:\n${after.text}`);
  assert.equal(h.metric(after, 'pusher_connections'), 0);
  const c = await h.connect(srv, 'alice', { query: `token=${good}` });
  await c.sync();
});

test('--secret is also read from PUSHER_SECRET', h.T, async (t) => {
  const srv = await h.serve(t, [], { env: { PUSHER_SECRET: SECRET } });
  await expect401(srv, 'alice', undefined, 'no token');
  await expect401(srv, 'alice', h.makeJwt({ sub: 'alice' }, 'other'), 'other secret');
  const c = await h.connect(srv, 'alice', { query: `token=${h.makeJwt({ sub: 'alice' }, SECRET)}` });
  await c.sync();
});

test('without --secret a token is not needed', h.T, async (t) => {
  const srv = await h.serve(t);
  const c = await h.connect(srv, 'alice');
  await c.sync();
});

test('--allowed-origin: a listed Origin gets 101, any other 403', h.T, async (t) => {
  const srv = await h.serve(t, ['--allowed-origin', 'https://chat.example', '--allowed-origin', 'http://localhost:8080']);
  const before = await h.metrics(srv);
  for (const origin of ['https://chat.example', 'http://localhost:8080']) {
    const { res, raw } = await h.rawHandshake(srv, '/websocket?userId=ok', { headers: { Origin: origin } });
    assert.equal(res.status, 101, `${origin} should be let in, got ${res.status} ${res.body}`);
    await raw.sync('ok');
    raw.destroy();
  }
  for (const origin of ['https://evil.example', 'https://chat.example.evil', 'http://chat.example', 'null',
    'https://chat.example:443x', 'http://localhost:8081']) {
    const { res, raw } = await h.rawHandshake(srv, '/websocket?userId=no', { headers: { Origin: origin } });
    res.raw = raw;
    await h.expectPlainError(res, 403);
    raw.destroy();
  }
  const after = await h.metrics(srv);
  const d = h.counter(after, 'pusher_handshakes_rejected_total', { status: '403' }) -
    h.counter(before, 'pusher_handshakes_rejected_total', { status: '403' });
  assert.equal(d, 6, after.text);
  const c = await h.connect(srv, 'alice', { headers: { Origin: 'https://chat.example' } });
  await c.sync();
});

test('--secret and --allowed-origin together need both', h.T, async (t) => {
  const srv = await h.serve(t, ['--secret', SECRET, '--allowed-origin', 'https://chat.example']);
  const token = h.makeJwt({ sub: 'alice' }, SECRET);
  const { res: r1, raw: w1 } = await h.rawHandshake(srv, `/websocket?userId=alice&token=${token}`,
    { headers: { Origin: 'https://evil.example' } });
  assert.equal(r1.status, 403);
  w1.destroy();
  const { res: r2, raw: w2 } = await h.rawHandshake(srv, '/websocket?userId=alice',
    { headers: { Origin: 'https://chat.example' } });
  assert.equal(r2.status, 401);
  w2.destroy();
  const { res: r3, raw: w3 } = await h.rawHandshake(srv, `/websocket?userId=alice&token=${token}`,
    { headers: { Origin: 'https://chat.example' } });
  assert.equal(r3.status, 101);
  await w3.sync('alice');
});
