'use strict';
// Bounded resources: the connection limit (503), the slow reader closed with
// 1008 once its pending output passes --max-pending, the rate limit's token
// bucket (1008), and the handshake timeout. Each time, everyone else is still
// served.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

// ---------------------------------------------------------------- connections

test('--max-connections 2: the third upgrade gets 503; once one leaves, a new one gets in', h.T, async (t) => {
  const srv = await h.serve(t, ['--max-connections', '2'], { single: true }); // a node's own limit
  const before = await h.metrics(srv);
  const a = await h.connect(srv, 'alice');
  const b = await h.connect(srv, 'bob');
  const { res, raw } = await h.rawHandshake(srv, '/websocket?userId=carol');
  res.raw = raw;
  await h.expectPlainError(res, 503);
  raw.destroy();
  await assert.rejects(h.connect(srv, 'dave'), /503/);
  const after = await h.metrics(srv);
  assert.equal(h.counter(after, 'pusher_handshakes_rejected_total', { status: '503' }) -
    h.counter(before, 'pusher_handshakes_rejected_total', { status: '503' }), 2, after.text);
  assert.equal(await h.adminCount(srv), 2, 'a refused client is not counted');
  await a.sync();
  await b.sync();
  await b.close();
  await h.waitConnections(srv, 1);
  const c = await h.connect(srv, 'carol');
  const m = await a.take((x) => x.messageType === 3 && x.from === 'carol', 'carol\'s OnlineNotify');
  assert.equal(m.from, 'carol');
  await c.sync();
  await assert.rejects(h.connect(srv, 'erin'), /503/, 'full again');
});

test('PUSHER_MAX_CONNECTIONS=1 is the env twin of --max-connections', h.T, async (t) => {
  const srv = await h.serve(t, [], { env: { PUSHER_MAX_CONNECTIONS: '1' }, single: true });
  const a = await h.connect(srv, 'alice');
  await assert.rejects(h.connect(srv, 'bob'), /503/);
  await a.sync();
});

// ---------------------------------------------------------------- slow reader

test('--max-pending 64k: a client that stops reading is closed and counted as 1008; others go on', h.T, async (t) => {
  const srv = await h.serve(t, ['--max-pending', '64k']);
  const slow = await h.rawConnect(srv, 'slow');
  await slow.sync('slow');
  const flooder = await h.connect(srv, 'flooder');
  const other = await h.connect(srv, 'other');
  await h.settle(flooder, other);
  await slow.sync('slow');
  slow.sock.pause(); // stop reading: the kernel buffers fill, then the server's
  const before = await h.metrics(srv);
  const chunk = 'f'.repeat(60000);
  let sent = 0;
  let closed = false;
  // Send in rounds until the server gives up on `slow`; the kernel buffers
  // on loopback hold a few MiB at most, so 40 MiB is far more than enough.
  for (let round = 0; round < 40 && !closed; round++) {
    for (let i = 0; i < 16; i++, sent++) flooder.send({ messageType: 0, to: 'slow', content: chunk });
    await h.waitFor(() => flooder.ws.bufferedAmount === 0, 'the flooder to hand its data to the kernel', h.WAIT, 5);
    await flooder.sync();
    const m = await h.metrics(srv);
    closed = h.counter(m, 'pusher_closes_total', { code: '1008' }) > h.counter(before, 'pusher_closes_total', { code: '1008' });
  }
  assert.ok(closed, `the slow reader was not closed with 1008 after ${sent} messages of 60000 bytes`);
  const after = await h.metrics(srv);
  assert.equal(h.counter(after, 'pusher_closes_total', { code: '1008' }) -
    h.counter(before, 'pusher_closes_total', { code: '1008' }), 1, 'exactly one connection closed with 1008');
  assert.ok(flooder.isOpen && other.isOpen, 'the fast readers are untouched');
  flooder.send({ messageType: 0, to: 'other', content: 'still served' });
  assert.equal((await other.take((m) => m.content === 'still served', 'the message after the flood')).from, 'flooder');
  await h.assertServes(srv);
  // The slow socket was closed by the server; if a close frame made it into
  // the stream, it says 1008.
  slow.sock.resume();
  await slow.waitEnd(h.WAIT, 'the slow reader\'s socket to be closed');
  let f;
  while ((f = h.parseFrame(slow.buf)) !== null) {
    slow.buf = slow.buf.subarray(f.size);
    if (f.opcode === h.OP.close) assert.equal(f.payload.readUInt16BE(0), 1008);
  }
  // Closing may wait a little for the client's close frame; not for ever.
  await h.waitConnections(srv, 2, 5000);
});

// ---------------------------------------------------------------- rate

test('--max-rate 10 --max-burst 20: 100 messages at once -> close 1008 after about the burst', h.T, async (t) => {
  // One node: with several, the Singles to itself are still on their way
  // through Redis when the connection is closed.
  const srv = await h.serve(t, ['--max-rate', '10', '--max-burst', '20'], { single: true });
  const other = await h.connect(srv, 'other');
  const c = await h.connect(srv, 'spammer');
  await h.settle(other, c);
  const before = await h.metrics(srv);
  for (let i = 0; i < 100; i++) c.send({ messageType: 0, to: 'spammer', content: `n${i}` });
  await c.expectClose(1008);
  const got = c.drain().filter((m) => m.content.startsWith('n'));
  assert.ok(got.length >= 15 && got.length <= 25, `about the burst of 20 got through before the close, not ${got.length}`);
  assert.deepEqual(got.map((m) => m.content), got.map((_, i) => `n${i}`), 'in order');
  const after = await h.metrics(srv);
  assert.equal(h.counter(after, 'pusher_closes_total', { code: '1008' }) -
    h.counter(before, 'pusher_closes_total', { code: '1008' }), 1);
  await other.sync();
  await h.assertServes(srv);
});

test('--max-rate 10 --max-burst 20: a burst of 20, then the refill, stays open', h.T, async (t) => {
  const srv = await h.serve(t, ['--max-rate', '10', '--max-burst', '20']);
  const c = await h.connect(srv, 'polite');
  for (let i = 0; i < 18; i++) c.send({ messageType: 0, to: 'polite', content: `a${i}` });
  for (let i = 0; i < 18; i++) assert.equal((await c.next()).content, `a${i}`);
  await h.sleep(1200); // 10 a second: about 12 tokens back
  for (let i = 0; i < 8; i++) c.send({ messageType: 0, to: 'polite', content: `b${i}` });
  for (let i = 0; i < 8; i++) assert.equal((await c.next()).content, `b${i}`);
  await h.sleep(100);
  assert.ok(c.isOpen, 'still open');
});

test('the default rate limit lets a burst of 900 through and closes on 1500 at once', h.T, async (t) => {
  const srv = await h.serve(t);
  const ok = await h.connect(srv, 'ok');
  for (let i = 0; i < 900; i++) ok.send({ messageType: 0, to: 'ok', content: `${i}` });
  for (let i = 0; i < 900; i++) assert.equal((await ok.next()).content, `${i}`);
  const bad = await h.connect(srv, 'bad');
  for (let i = 0; i < 1500; i++) bad.send({ messageType: 0, to: 'bad', content: `${i}` });
  await bad.expectClose(1008, 5000);
  assert.ok(ok.isOpen);
});

test('--max-rate 0 turns the limit off', h.T, async (t) => {
  const srv = await h.serve(t, ['--max-rate', '0', '--max-burst', '5']);
  const c = await h.connect(srv, 'fast');
  for (let i = 0; i < 2000; i++) c.send({ messageType: 0, to: 'fast', content: `${i}` });
  for (let i = 0; i < 2000; i++) assert.equal((await c.next()).content, `${i}`);
  assert.ok(c.isOpen);
});

// ---------------------------------------------------------------- handshake timeout

test('--handshake-timeout 500ms: half a request is cut off in time while others are served', h.T, async (t) => {
  const srv = await h.serve(t, ['--handshake-timeout', '500ms']);
  const a = await h.connect(srv, 'alice');
  const t0 = Date.now();
  const half = await h.RawSocket.open(srv);
  half.write('GET /websocket?userId=slowpoke HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
  const silent = await h.RawSocket.open(srv);
  // meanwhile, others are served
  const b = await h.connect(srv, 'bob');
  await h.syncVia(a, b);
  assert.equal((await h.get(srv, '/healthz')).status, 200);
  await half.waitEnd(2000, 'the half request to be cut off within ~2 s');
  const dt = half.endedAt - t0;
  assert.ok(dt >= 400, `cut off after ${dt} ms, before the 500 ms timeout`);
  assert.ok(dt <= 2000, `cut off after ${dt} ms`);
  if (half.buf.length) assert.match(half.buf.toString('latin1'), /^HTTP\/1\.1 4\d\d /, 'any answer is a 4xx');
  await silent.waitEnd(2000, 'a silent socket to be cut off too');
  assert.ok(silent.endedAt - t0 >= 400, 'not before the timeout');
  assert.ok(a.isOpen && b.isOpen, 'upgraded connections are not subject to the handshake timeout');
  await h.assertServes(srv);
});

test('--handshake-timeout bounds the whole request, not the silence between bytes', h.T, async (t) => {
  const srv = await h.serve(t, ['--handshake-timeout', '500ms']);
  const raw = await h.RawSocket.open(srv);
  const t0 = Date.now();
  const text = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ' + 'x'.repeat(100);
  for (let i = 0; i < text.length && !raw.ended && Date.now() - t0 < 3000; i++) {
    raw.write(text[i]);
    await h.sleep(50);
  }
  assert.ok(raw.ended, 'a request trickling in a byte every 50 ms was never cut off');
  const dt = raw.endedAt - t0;
  assert.ok(dt >= 400 && dt <= 2000, `cut off after ${dt} ms`);
  await h.assertServes(srv);
});
