'use strict';
// RFC 6455 framing, by hand over raw sockets: masking, reserved bits and
// opcodes, control frames, fragmentation, UTF-8, the closing handshake and
// the close codes the server answers each protocol error with. After each
// broken connection, another client must still be served.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const { OP } = h;
const single = (to, content) => JSON.stringify({ messageType: 0, to, content });

// A server, a raw client `r` that has been through its history, and a check
// at the end that the server still serves others.
async function setup(t, args) {
  const srv = await h.serve(t, args);
  const r = await h.rawConnect(srv, 'r');
  await r.sync('r');
  return { srv, r };
}

async function expectProtocolClose(t, send, code) {
  const { srv, r } = await setup(t);
  send(r);
  await r.expectClose(code, h.WAIT);
  await h.waitConnections(srv, 0);
  await h.assertServes(srv);
}

test('every server frame is unmasked; a ping is answered with a pong carrying its payload', h.T, async (t) => {
  const { srv, r } = await setup(t);
  for (const payload of [Buffer.from('hello'), Buffer.alloc(0), Buffer.alloc(125, 0xab), Buffer.from([0, 255, 1, 254])]) {
    r.sendFrame(OP.ping, payload);
    const f = await r.readFrame(h.WAIT, 'a pong');
    assert.equal(f.opcode, OP.pong);
    assert.equal(f.fin, true);
    assert.ok(f.payload.equals(payload), `pong payload ${f.payload.toString('hex')} != ${payload.toString('hex')}`);
  }
  await r.sync('r');
  await h.assertServes(srv);
});

test('an unsolicited pong is ignored', h.T, async (t) => {
  const { r } = await setup(t);
  r.sendFrame(OP.pong, 'unasked');
  assert.deepEqual(await r.sync('r'), []);
});

test('an unmasked client frame -> close 1002', h.T, async (t) => {
  await expectProtocolClose(t, (r) => r.sendText(single('r', 'x'), { mask: false }), 1002);
});

test('an unmasked ping -> close 1002', h.T, async (t) => {
  await expectProtocolClose(t, (r) => r.sendFrame(OP.ping, 'p', { mask: false }), 1002);
});

for (const rsv of [4, 2, 1, 7]) {
  test(`RSV bits ${rsv.toString(2).padStart(3, '0')} set -> close 1002`, h.T, async (t) => {
    await expectProtocolClose(t, (r) => r.sendText(single('r', 'x'), { rsv }), 1002);
  });
}

for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
  test(`reserved opcode 0x${opcode.toString(16)} -> close 1002`, h.T, async (t) => {
    await expectProtocolClose(t, (r) => r.sendFrame(opcode, 'x'), 1002);
  });
}

test('a ping over 125 bytes -> close 1002', h.T, async (t) => {
  await expectProtocolClose(t, (r) => r.sendFrame(OP.ping, Buffer.alloc(126, 1)), 1002);
});

test('a close frame over 125 bytes -> close 1002', h.T, async (t) => {
  await expectProtocolClose(t, (r) => r.sendFrame(OP.close, h.closePayload(1000, 'x'.repeat(124))), 1002);
});

test('a fragmented ping (FIN clear) -> close 1002', h.T, async (t) => {
  await expectProtocolClose(t, (r) => r.sendFrame(OP.ping, 'p', { fin: false }), 1002);
});

test('a continuation frame without a message started -> close 1002', h.T, async (t) => {
  await expectProtocolClose(t, (r) => r.sendFrame(OP.cont, single('r', 'x')), 1002);
});

test('a new text frame while a fragmented message is open -> close 1002', h.T, async (t) => {
  await expectProtocolClose(t, (r) => {
    r.sendFrame(OP.text, '{"messageType":0,', { fin: false });
    r.sendText(single('r', 'x'));
  }, 1002);
});

test('a length in a longer form than needed -> close 1002', h.T, async (t) => {
  await expectProtocolClose(t, (r) => r.sendText(single('r', 'x'), { form: 16 }), 1002);
});

test('a 64-bit length with its top bit set -> close 1002', h.T, async (t) => {
  await expectProtocolClose(t, (r) => r.write(Buffer.concat([
    Buffer.from([0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 5]), Buffer.from([1, 2, 3, 4])])), 1002);
});

test('a binary message -> close 1003', h.T, async (t) => {
  await expectProtocolClose(t, (r) => r.sendFrame(OP.binary, Buffer.from(single('r', 'x'))), 1003);
});

test('a binary message in fragments -> close 1003', h.T, async (t) => {
  await expectProtocolClose(t, (r) => {
    r.sendFrame(OP.binary, Buffer.from([1, 2]), { fin: false });
    r.sendFrame(OP.cont, Buffer.from([3]));
  }, 1003);
});

const BAD_UTF8 = [
  ['an invalid sequence C3 28', Buffer.from([0xc3, 0x28])],
  ['a lone continuation byte', Buffer.from([0x80])],
  ['an overlong slash C0 AF', Buffer.from([0xc0, 0xaf])],
  ['a UTF-16 surrogate ED A0 80', Buffer.from([0xed, 0xa0, 0x80])],
  ['a code point above U+10FFFF', Buffer.from([0xf4, 0x90, 0x80, 0x80])],
  ['byte FF', Buffer.from([0xff])],
  ['a message ending inside a character', Buffer.from([0xe2, 0x82])],
];

for (const [what, bad] of BAD_UTF8) {
  test(`text that is not UTF-8 (${what}) -> close 1007`, h.T, async (t) => {
    await expectProtocolClose(t, (r) => {
      const tail = what.includes('ending') ? Buffer.alloc(0) : Buffer.from('"}');
      r.sendFrame(OP.text, Buffer.concat([Buffer.from('{"messageType":0,"to":"r","content":"'), bad, tail]));
    }, 1007);
  });
}

test('invalid UTF-8 split across fragments -> close 1007', h.T, async (t) => {
  await expectProtocolClose(t, (r) => {
    r.sendFrame(OP.text, Buffer.concat([Buffer.from('{"messageType":0,"to":"r","content":"'), Buffer.from([0xe2, 0x82])]),
      { fin: false });
    r.sendFrame(OP.cont, Buffer.concat([Buffer.from([0x28]), Buffer.from('"}')]));
  }, 1007);
});

test('a fragmented message that ends inside a character -> close 1007', h.T, async (t) => {
  await expectProtocolClose(t, (r) => {
    r.sendFrame(OP.text, Buffer.from('{"messageType":0,"to":"r","content":"'), { fin: false });
    r.sendFrame(OP.cont, Buffer.from([0xf0, 0x9f, 0x98]));
  }, 1007);
});

test('a close reason that is not UTF-8 -> close 1007 (or 1002)', h.T, async (t) => {
  await expectProtocolClose(t, (r) => r.sendFrame(OP.close, h.closePayload(1000, Buffer.from([0xc3, 0x28]))), [1007, 1002]);
});

test('a character split across fragments is valid and arrives whole', h.T, async (t) => {
  const { r } = await setup(t);
  r.sendFrame(OP.text, Buffer.concat([Buffer.from('{"messageType":0,"to":"r","content":"'), Buffer.from([0xe2, 0x82])]),
    { fin: false });
  r.sendFrame(OP.cont, Buffer.from([0xac]), { fin: false });
  r.sendFrame(OP.cont, Buffer.concat([Buffer.from([0xf0, 0x9f]), Buffer.from([0x98, 0x80]), Buffer.from('"}')]));
  const m = await r.nextMessage();
  assert.equal(m.content, '€😀');
});

test('a fragmented message with a ping between fragments: pong, then the whole message', h.T, async (t) => {
  const { srv, r } = await setup(t);
  const b = await h.connect(srv, 'b');
  await b.sync();
  await r.nextMessage(); // b's OnlineNotify
  r.sendFrame(OP.text, '{"messageType":1,', { fin: false });
  r.sendFrame(OP.ping, 'mid');
  r.sendFrame(OP.cont, '"content":"frag', { fin: false });
  r.sendFrame(OP.cont, '', { fin: false });
  r.sendFrame(OP.pong, 'ignored');
  r.sendFrame(OP.cont, 'mented"}');
  const f = await r.readFrame(h.WAIT, 'the pong');
  assert.equal(f.opcode, OP.pong);
  assert.equal(f.payload.toString(), 'mid');
  const m = await b.next('the reassembled message');
  assert.equal(m.content, 'fragmented');
  assert.equal(m.from, 'r');
  assert.deepEqual(await r.sync('r'), [], 'a Group does not come back to its sender');
});

test('frames dribbled a byte at a time, and several frames in one write, are all read', h.T, async (t) => {
  const { r } = await setup(t);
  const one = h.frame(OP.text, single('r', 'dribble'));
  for (const byte of one) {
    r.write(Buffer.from([byte]));
    await h.sleep(1);
  }
  assert.equal((await r.nextMessage()).content, 'dribble');
  r.write(Buffer.concat([1, 2, 3].map((i) => h.frame(OP.text, single('r', `batch${i}`)))));
  for (const i of [1, 2, 3]) assert.equal((await r.nextMessage()).content, `batch${i}`);
  const big = h.frame(OP.text, single('r', 'y'.repeat(40000)));
  r.write(big.subarray(0, 3));
  await h.sleep(20);
  r.write(big.subarray(3, 20000));
  await h.sleep(20);
  r.write(big.subarray(20000));
  assert.equal((await r.nextMessage()).content.length, 40000);
});

test('close 1000 is echoed with 1000, then the TCP connection is closed', h.T, async (t) => {
  const { srv, r } = await setup(t);
  r.sendFrame(OP.close, h.closePayload(1000, 'bye'));
  const got = await r.expectClose(1000, h.WAIT, { reply: false });
  assert.deepEqual(got.skipped, [], 'nothing but the close');
  await h.waitConnections(srv, 0);
  await h.assertServes(srv);
});

for (const code of [1001, 1003, 1007, 1011, 3000, 4999]) {
  test(`close ${code} is echoed, and counted in pusher_closes_total{code="${code}"}`, h.T, async (t) => {
    const { srv, r } = await setup(t);
    r.sendFrame(OP.close, h.closePayload(code));
    await r.expectClose(code, h.WAIT, { reply: false });
    const m = await h.metrics(srv);
    assert.equal(h.counter(m, 'pusher_closes_total', { code: String(code) }), 1, m.text);
  });
}

test('an empty close is answered with a close (empty, or 1000)', h.T, async (t) => {
  const { r } = await setup(t);
  r.sendFrame(OP.close, Buffer.alloc(0));
  await r.expectClose([null, 1000], h.WAIT, { reply: false });
});

for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535]) {
  test(`close with the invalid code ${code} -> close 1002`, h.T, async (t) => {
    await expectProtocolClose(t, (r) => r.sendFrame(OP.close, h.closePayload(code)), 1002);
  });
}

test('close with a 1-byte payload -> close 1002', h.T, async (t) => {
  await expectProtocolClose(t, (r) => r.sendFrame(OP.close, Buffer.from([0x03])), 1002);
});

test('nothing is processed after a close frame', h.T, async (t) => {
  const { srv, r } = await setup(t);
  const b = await h.connect(srv, 'b');
  await b.sync();
  r.write(Buffer.concat([h.frame(OP.close, h.closePayload(1000)),
    h.frame(OP.text, JSON.stringify({ messageType: 1, content: 'after close' }))]));
  await r.expectClose(1000, h.WAIT, { reply: false });
  const seen = await b.sync();
  assert.ok(!seen.some((m) => m.content === 'after close'), 'a message after the close frame is not routed');
});

test('a client vanishing in the middle of a frame is dropped cleanly', h.T, async (t) => {
  const { srv, r } = await setup(t);
  const b = await h.connect(srv, 'b');
  await b.sync();
  const f = h.frame(OP.text, single('b', 'never finished'));
  r.write(f.subarray(0, f.length - 5));
  await h.sleep(50);
  // A reset where node can send one on this socket (a TLS socket's handle
  // cannot be reset: there it hangs up without close_notify).
  if (r.sock.resetAndDestroy && !r.sock.encrypted) r.sock.resetAndDestroy();
  else r.sock.destroy();
  const m = await b.take((x) => x.messageType === 4, 'r\'s OfflineNotify');
  assert.equal(m.from, 'r');
  assert.deepEqual((await b.sync()).filter((x) => x.messageType === 0), [], 'the half message is not delivered');
  await h.waitConnections(srv, 1);
  await h.assertServes(srv);
});

// ---------------------------------------------------------------- sizes

function messageOfSize(to, size) {
  const base = JSON.stringify({ messageType: 0, to, content: '' });
  assert.ok(size >= base.length);
  const m = JSON.stringify({ messageType: 0, to, content: 'z'.repeat(size - base.length) });
  assert.equal(Buffer.byteLength(m), size);
  return m;
}

test('a message of exactly 65536 bytes (the default limit) is accepted', h.T, async (t) => {
  const srv = await h.serve(t);
  const c = await h.connect(srv, 'big');
  await c.sync();
  c.sendText(messageOfSize('big', 65536));
  const m = await c.next('the 64 KiB message');
  assert.equal(Buffer.byteLength(JSON.stringify({ messageType: 0, to: 'big', content: m.content })), 65536);
});

test('a message of 65537 bytes -> close 1009, counted', h.T, async (t) => {
  const srv = await h.serve(t);
  const before = await h.metrics(srv);
  const c = await h.connect(srv, 'big');
  await c.sync();
  c.sendText(messageOfSize('big', 65537));
  await c.expectClose(1009);
  await h.waitConnections(srv, 0);
  const after = await h.metrics(srv);
  assert.equal(h.counter(after, 'pusher_closes_total', { code: '1009' }) -
    h.counter(before, 'pusher_closes_total', { code: '1009' }), 1);
  await h.assertServes(srv);
});

test('a frame announcing 1 TiB -> close 1009 at once, without waiting for the payload', h.T, async (t) => {
  const { srv, r } = await setup(t);
  r.sendFrame(OP.text, Buffer.alloc(0), { len: 2 ** 40, form: 64 });
  await r.expectClose(1009, 2000);
  await h.assertServes(srv);
});

test('--max-message 1k: 1024 bytes pass, 1025 -> close 1009', h.T, async (t) => {
  const srv = await h.serve(t, ['--max-message', '1k']);
  const r = await h.rawConnect(srv, 'r');
  await r.sync('r');
  r.sendText(messageOfSize('r', 1024));
  assert.equal((await r.nextMessage()).content.length, 1024 - Buffer.byteLength(single('r', '')));
  r.sendText(messageOfSize('r', 1025));
  await r.expectClose(1009);
  await h.assertServes(srv);
});

test('--max-message 1024: a fragmented message of exactly the limit passes; growing past it -> 1009', h.T, async (t) => {
  const srv = await h.serve(t, ['--max-message', '1024']);
  const r = await h.rawConnect(srv, 'r');
  await r.sync('r');
  const ok = Buffer.from(messageOfSize('r', 1024));
  r.sendFrame(OP.text, ok.subarray(0, 500), { fin: false });
  r.sendFrame(OP.cont, ok.subarray(500, 1000), { fin: false });
  r.sendFrame(OP.cont, ok.subarray(1000));
  assert.equal((await r.nextMessage()).to, 'r');
  const tooBig = Buffer.from(messageOfSize('r', 1200));
  r.sendFrame(OP.text, tooBig.subarray(0, 400), { fin: false });
  r.sendFrame(OP.cont, tooBig.subarray(400, 800), { fin: false });
  r.sendFrame(OP.cont, tooBig.subarray(800));
  await r.expectClose(1009);
  await h.assertServes(srv);
});

test('--max-message 1024: a fragment announcing more than the limit -> 1009 before its payload', h.T, async (t) => {
  const srv = await h.serve(t, ['--max-message', '1024']);
  const r = await h.rawConnect(srv, 'r');
  await r.sync('r');
  r.sendFrame(OP.text, Buffer.from('{"messageType":0,'), { fin: false });
  r.sendFrame(OP.cont, Buffer.alloc(0), { len: 5000, form: 16 });
  await r.expectClose(1009, 2000);
  await h.assertServes(srv);
});

test('the message limit does not apply to what the server sends', h.T, async (t) => {
  const srv = await h.serve(t, ['--max-message', '1024']);
  const c = await h.connect(srv, 'c');
  await c.sync();
  const msg = messageOfSize('c', 1024);
  c.sendText(msg);
  const m = await c.next();
  assert.ok(Buffer.byteLength(c.raw.get(m)) > 1024, 'the reply, with all its fields, is longer than the limit');
});
