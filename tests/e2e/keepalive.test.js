'use strict';
// Keepalive: with --ping-interval 300ms --idle-timeout 1s, a silent
// connection is pinged, one that never answers is closed with 1001 after the
// idle timeout, and one that answers (by hand, or the ws package's automatic
// pong) stays open.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const ARGS = ['--ping-interval', '300ms', '--idle-timeout', '1s'];

test('a silent client is pinged after the ping interval', h.T, async (t) => {
  const srv = await h.serve(t, ARGS);
  const r = await h.rawConnect(srv, 'quiet');
  const t0 = Date.now();
  const f = await r.readFrame(1500, 'a ping from the server');
  const dt = Date.now() - t0;
  assert.equal(f.opcode, h.OP.ping, `expected a ping, got opcode ${f.opcode}`);
  assert.ok(f.payload.length <= 125);
  assert.ok(dt >= 200, `pinged after ${dt} ms, before the 300 ms interval`);
  assert.ok(dt <= 1000, `pinged after ${dt} ms`);
});

test('a client that never answers is closed with 1001 after the idle timeout, and counted', h.T, async (t) => {
  const srv = await h.serve(t, ARGS);
  const before = await h.metrics(srv);
  const other = await h.connect(srv, 'other');
  const r = await h.rawConnect(srv, 'mute');
  const t0 = Date.now();
  const { code, skipped } = await r.expectClose(1001, 3000, { reply: false });
  const dt = Date.now() - t0;
  assert.equal(code, 1001);
  assert.ok(skipped.some((f) => f.opcode === h.OP.ping), 'it was pinged first');
  assert.ok(dt >= 800, `closed after ${dt} ms, before the 1 s idle timeout`);
  assert.ok(dt <= 2500, `closed after ${dt} ms`);
  const m = await other.take((x) => x.messageType === 4 && x.from === 'mute', 'mute\'s OfflineNotify');
  assert.equal(m.from, 'mute');
  const after = await h.metrics(srv);
  assert.equal(h.counter(after, 'pusher_closes_total', { code: '1001' }) -
    h.counter(before, 'pusher_closes_total', { code: '1001' }), 1);
  assert.ok(other.isOpen, 'the ws client, which answers pings, is still open');
  await h.assertServes(srv);
});

// The three live side by side on one server, over the same 2.2 s.
async function ponger(srv) {
  const r = await h.rawConnect(srv, 'ponger');
  const end = Date.now() + 2200;
  let pings = 0;
  while (Date.now() < end) {
    let f;
    try {
      f = await r.readFrame(Math.max(1, end - Date.now()), 'a frame');
    } catch (e) {
      if (/timed out/.test(e.message)) break;
      throw e;
    }
    assert.notEqual(f.opcode, h.OP.close,
      `ponger closed with ${f.payload.length >= 2 ? f.payload.readUInt16BE(0) : ''} although it answered pings`);
    if (f.opcode === h.OP.ping) {
      pings++;
      r.sendFrame(h.OP.pong, f.payload);
    }
  }
  assert.ok(pings >= 2, `ponger was pinged ${pings} times in 2.2 s with a 300 ms interval`);
  assert.ok(!r.ended, 'ponger still connected');
  r.sendJson({ messageType: 0, to: 'ponger', content: 'alive' });
  const m = await r.nextWhere((x) => x.messageType === 0, 'its own message', h.WAIT);
  assert.equal(m.content, 'alive');
}

async function talker(srv) {
  const r = await h.rawConnect(srv, 'talker');
  const end = Date.now() + 2200;
  let n = 0;
  while (Date.now() < end) {
    r.sendJson({ messageType: 0, to: 'talker', content: `t${n}` });
    const m = await r.nextWhere((x) => x.messageType === 0, 'its own message', h.WAIT); // pings never answered
    assert.equal(m.content, `t${n}`);
    n++;
    await h.sleep(150);
  }
  assert.ok(!r.ended, 'talker still connected');
}

async function wsPair(srv) {
  const a = await h.connect(srv, 'alice');
  const b = await h.connect(srv, 'bob');
  let pinged = 0;
  a.ws.on('ping', () => { pinged++; });
  await h.sleep(2200);
  assert.ok(a.isOpen && b.isOpen, `ws client closed: ${JSON.stringify(a.closeInfo || b.closeInfo)}`);
  assert.ok(pinged >= 2, `alice was pinged ${pinged} times`);
  a.send({ messageType: 1, content: 'still here' });
  assert.equal((await b.take((m) => m.messageType === 1, 'the message')).content, 'still here');
}

test('clients that answer pings (by hand or the ws package) or keep talking stay open past the idle timeout',
  h.T, async (t) => {
    const srv = await h.serve(t, ARGS);
    await Promise.all([ponger(srv), talker(srv), wsPair(srv)]);
    assert.equal(await h.adminCount(srv), 4);
  });
