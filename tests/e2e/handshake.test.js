'use strict';
// The RFC 6455 opening handshake on /websocket: what is accepted, the exact
// Sec-WebSocket-Accept, and every refusal of the contract's table with its
// status, one-line reason and closed connection.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

test('a valid upgrade gets 101 with the right Sec-WebSocket-Accept and no extension', h.T, async (t) => {
  const srv = await h.serve(t);
  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  const { res, raw } = await h.rawHandshake(srv, '/websocket?userId=alice', {
    key,
    headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' },
  });
  assert.equal(res.status, 101);
  assert.equal(res.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'RFC 6455 §1.3 example');
  assert.match(res.headers.upgrade || '', /^websocket$/i);
  assert.match(res.headers.connection || '', /\bupgrade\b/i);
  assert.equal(res.headers['sec-websocket-extensions'], undefined, 'no extension was negotiated');
  assert.equal(res.bodyBuf.length, 0);
  const other = h.randomKey();
  assert.notEqual(h.acceptFor(other), h.acceptFor(key));
  const r2 = await h.rawConnect(srv, 'bob', { key: other });
  await r2.sync('bob');
  await raw.sync('alice');
});

test('lower-case header names, `Connection: keep-alive, Upgrade` and `Upgrade: WebSocket` are accepted', h.T, async (t) => {
  const srv = await h.serve(t);
  const raw = await h.RawWs.open(srv);
  const key = h.randomKey();
  raw.write('GET /websocket?userId=lc HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: websocket\r\nconnection: upgrade\r\n' +
    `sec-websocket-key: ${key}\r\nsec-websocket-version: 13\r\n\r\n`);
  const res = await raw.readResponse();
  assert.equal(res.status, 101);
  assert.equal(res.headers['sec-websocket-accept'], h.acceptFor(key));
  await raw.sync('lc');

  const r2 = await h.rawConnect(srv, 'ka', { headers: { Connection: 'keep-alive, Upgrade' } });
  await r2.sync('ka');
  const r3 = await h.rawConnect(srv, 'caps', { headers: { Upgrade: 'WebSocket', CONNECTION: 'UPGRADE' } });
  await r3.sync('caps');
  const r4 = await h.rawConnect(srv, 'mixed', { headers: { 'SEC-WEBSOCKET-VERSION': '13', 'sEc-WeBsOcKeT-kEy': h.randomKey() } });
  await r4.sync('mixed');
});

test('the handshake sent in pieces, and a first frame in the same packet as the request, both work', h.T, async (t) => {
  const srv = await h.serve(t);
  const raw = await h.RawWs.open(srv);
  const req = h.upgradeRequest('/websocket?userId=pieces');
  const text = Buffer.from(req.text);
  raw.write(text.subarray(0, 10));
  await h.sleep(30);
  raw.write(text.subarray(10, 60));
  await h.sleep(30);
  raw.write(text.subarray(60));
  const res = await raw.readResponse();
  assert.equal(res.status, 101);
  await raw.sync('pieces');

  const r2 = await h.RawWs.open(srv);
  const req2 = h.upgradeRequest('/websocket?userId=eager');
  r2.write(Buffer.concat([Buffer.from(req2.text),
    h.frame(h.OP.text, JSON.stringify({ messageType: 0, to: 'eager', content: 'first' }))]));
  const res2 = await r2.readResponse();
  assert.equal(res2.status, 101);
  const m = await r2.nextWhere((x) => x.messageType === 0, 'its own Single');
  assert.equal(m.content, 'first', 'a frame right behind the request head is not lost');
});

test('userId is percent-decoded: 64 bytes are accepted, UTF-8 text arrives as `from`', h.T, async (t) => {
  const srv = await h.serve(t);
  const e32 = '%C3%A9'.repeat(32); // 64 bytes once decoded
  const r1 = await h.rawConnect(srv, null, { rawQuery: `userId=${e32}` });
  const m1 = (await r1.sync('é'.repeat(32)));
  assert.deepEqual(m1.filter((m) => m.messageType !== 3 && m.messageType !== 4), []);
  const a64 = 'a'.repeat(64);
  const r2 = await h.rawConnect(srv, null, { rawQuery: `userId=${'%61'.repeat(64)}` });
  await r2.sync(a64);
  const r3 = await h.rawConnect(srv, null, { rawQuery: 'userId=%E2%82%AC%20x' });
  r3.sendJson({ messageType: 0, to: '€ x', content: 'hi' });
  const m3 = await r3.nextWhere((m) => m.messageType === 0);
  assert.equal(m3.from, '€ x', 'from is the decoded userId');
  assert.equal(m3.content, 'hi');
});

const BAD_USER = [
  ['missing', '/websocket'],
  ['missing, other parameters present', '/websocket?user=a&since=1'],
  ['empty', '/websocket?userId='],
  ['a bare name without =', '/websocket?userId'],
  ['65 bytes', `/websocket?userId=${'a'.repeat(65)}`],
  ['65 bytes after decoding (33 characters)', `/websocket?userId=${'%C3%A9'.repeat(32)}a`],
  ['65 bytes after decoding %XX', `/websocket?userId=${'%61'.repeat(65)}`],
  ['invalid UTF-8 %C3%28', '/websocket?userId=%C3%28'],
  ['invalid UTF-8 %FF', '/websocket?userId=ab%FF'],
  ['an overlong UTF-8 form %C0%AF', '/websocket?userId=%C0%AF'],
  ['a UTF-16 surrogate %ED%A0%80', '/websocket?userId=%ED%A0%80'],
  ['a truncated UTF-8 sequence', '/websocket?userId=a%E2%82'],
  ['a control character %00', '/websocket?userId=a%00b'],
  ['a control character %1F', '/websocket?userId=%1F'],
  ['a control character %0A', '/websocket?userId=a%0A'],
  ['a control character %7F', '/websocket?userId=a%7F'],
  ['a C1 control character %C2%80', '/websocket?userId=a%C2%80'],
  ['a C1 control character %C2%9F', '/websocket?userId=%C2%9F'],
  ['a bad percent escape', '/websocket?userId=a%ZZ'],
  ['a truncated percent escape', '/websocket?userId=a%4'],
];

for (const [what, target] of BAD_USER) {
  test(`userId ${what} -> 400 with a one-line reason, connection closed`, h.T, async (t) => {
    const srv = await h.serve(t);
    const { res, raw } = await h.rawHandshake(srv, target);
    res.raw = raw;
    await h.expectPlainError(res, 400, { closes: true });
    await h.assertServes(srv);
  });
}

test('userId holding U+00A0, just past the C1 controls, is accepted', h.T, async (t) => {
  const srv = await h.serve(t);
  const r = await h.rawConnect(srv, null, { rawQuery: 'userId=%C2%A0nbsp' });
  await r.sync('\u00a0nbsp');
});

const BAD_UPGRADE = [
  ['Sec-WebSocket-Key missing', { omit: ['Sec-WebSocket-Key'] }, 400],
  ['Sec-WebSocket-Version missing', { omit: ['Sec-WebSocket-Version'] }, 400],
  ['no Upgrade header', { omit: ['Upgrade'] }, 400],
  ['Upgrade naming another protocol', { headers: { Upgrade: 'h2c' } }, 400],
  ['a plain GET without any upgrade header', { omit: ['Upgrade', 'Connection', 'Sec-WebSocket-Key', 'Sec-WebSocket-Version'] }, 400],
  ['no Host header (RFC 6455 §4.2.1 item 2)', { omit: ['Host'] }, 400],
  ['Sec-WebSocket-Key not 16 bytes of base64', { headers: { 'Sec-WebSocket-Key': 'c2hvcnQ=' } }, 400],
  ['Connection without the upgrade token', { headers: { Connection: 'keep-alive' } }, 400],
  ['two Host headers', { headers: { 'X-A': 'a\r\nHost: other' } }, 400],
  ['two Sec-WebSocket-Key headers', { headers: { 'X-B': 'b\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==' } }, 400],
  ['two Sec-WebSocket-Version headers', { headers: { 'X-C': 'c\r\nSec-WebSocket-Version: 8' } }, 400],
];

for (const [what, o, status] of BAD_UPGRADE) {
  test(`${what} -> ${status}, connection closed`, h.T, async (t) => {
    const srv = await h.serve(t);
    const { res, raw } = await h.rawHandshake(srv, '/websocket?userId=alice', o);
    res.raw = raw;
    await h.expectPlainError(res, status, { closes: true });
    await h.assertServes(srv);
  });
}

for (const version of ['8', '12', '14', 'abc']) {
  test(`Sec-WebSocket-Version: ${version} -> 426 with Sec-WebSocket-Version: 13`, h.T, async (t) => {
    const srv = await h.serve(t);
    const { res, raw } = await h.rawHandshake(srv, '/websocket?userId=alice',
      { headers: { 'Sec-WebSocket-Version': version } });
    assert.equal(res.status, 426);
    assert.equal(res.headers['sec-websocket-version'], '13');
    assert.equal(Number(res.headers['content-length']), res.bodyBuf.length);
    raw.destroy();
    await h.assertServes(srv);
  });
}

test('refused handshakes are counted by status in /metrics', h.T, async (t) => {
  const srv = await h.serve(t);
  const before = await h.metrics(srv);
  for (const target of ['/websocket', '/websocket?userId=', '/websocket?userId=%00']) {
    const { res, raw } = await h.rawHandshake(srv, target);
    assert.equal(res.status, 400);
    raw.destroy();
  }
  const { res, raw } = await h.rawHandshake(srv, '/websocket?userId=a', { headers: { 'Sec-WebSocket-Version': '8' } });
  assert.equal(res.status, 426);
  raw.destroy();
  const after = await h.metrics(srv);
  const d = (s) => h.counter(after, 'pusher_handshakes_rejected_total', { status: s }) -
    h.counter(before, 'pusher_handshakes_rejected_total', { status: s });
  assert.equal(d('400'), 3, after.text);
  assert.equal(d('426'), 1, after.text);
  assert.equal(h.metric(after, 'pusher_connections'), 0);
});

test('the ws package connects, and a refused handshake does not count as a connection', h.T, async (t) => {
  const srv = await h.serve(t);
  const c = await h.connect(srv, 'alice');
  await assert.rejects(h.connect(srv, ''), /400/);
  assert.equal(await h.adminCount(srv), 1);
  await c.sync();
});
