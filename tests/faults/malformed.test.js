'use strict';
// Hostile and broken input: handshakes that trickle in or never finish,
// sockets reset in the middle of a frame, a message, a request or pending
// output, peers that vanish without a FIN, fragmented messages that grow past
// the limit, floods past the rate limit, and garbage that must only earn an
// error reply. tests/run also runs this file against the sanitized build
// (tests/faults/sanitized/), where memory bounds are reported, not asserted.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../e2e/helpers');
const f = require('./lib');

const HANDSHAKE_MS = 1000;

// ---------------------------------------------------------------- handshakes

// Writes data (a string or bytes) one byte every `every` ms until the server
// hangs up (or the data runs out).
async function trickle(raw, data, every) {
  const buf = Buffer.from(data);
  for (let i = 0; i < buf.length && !raw.ended; i++) {
    raw.write(buf.subarray(i, i + 1));
    await h.sleep(every);
  }
}

test('slowloris (a header byte every 100 ms) and handshakes that never finish are dropped at ' +
  '--handshake-timeout 1s; everyone else is served meanwhile', f.bound(30000), async (t) => {
  const srv = await h.serve(t, ['--handshake-timeout', '1s']);
  const pid = srv.proc.pid;
  const a = await h.connect(srv, 'alice');
  const b = await h.connect(srv, 'bob');
  await h.settle(a, b);
  const fds0 = f.fdCount(pid);

  const kinds = [];
  const open = async (kind, start) => {
    const raw = await h.RawSocket.open(srv);
    const t0 = Date.now();
    kinds.push({ kind, raw, t0, done: start(raw) });
  };
  const upgradeHead = 'GET /websocket?userId=loris HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n' +
    'Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
  for (let i = 0; i < 10; i++) {
    await open('slowloris', (raw) => trickle(raw, `${upgradeHead}X-Slow: ${'a'.repeat(200)}`, 100));
  }
  for (let i = 0; i < 3; i++) {
    await open('slow body', (raw) => trickle(raw,
      `POST /api/push HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n{"messageType":2,"content":"${'b'.repeat(200)}`, 100));
  }
  for (let i = 0; i < 5; i++) await open('no blank line', (raw) => raw.write(upgradeHead));
  for (let i = 0; i < 3; i++) await open('last byte missing', (raw) => raw.write(`${upgradeHead}\r`));
  for (let i = 0; i < 3; i++) await open('silent', async () => {});

  // Meanwhile: round trips, plain HTTP and newcomers, every 100 ms.
  let worst = 0;
  let rounds = 0;
  while (kinds.some((k) => !k.raw.ended) && Date.now() - kinds[0].t0 < 4000) {
    worst = Math.max(worst, await f.groupTrip(a, b));
    assert.equal((await h.get(srv, '/healthz')).status, 200);
    rounds++;
    await h.sleep(100);
  }
  await Promise.all(kinds.map((k) => k.done));
  const upper = Math.round(2000 * h.SCALE);
  for (const { kind, raw, t0 } of kinds) {
    assert.ok(raw.ended, `a ${kind} connection was still open after 4 s`);
    const dt = raw.endedAt - t0;
    assert.ok(dt >= HANDSHAKE_MS - 100 && dt <= upper, `a ${kind} connection was dropped after ${dt} ms, ` +
      `not at the 1 s handshake timeout`);
    if (raw.buf.length) assert.match(raw.buf.toString('latin1'), /^HTTP\/1\.1 4\d\d /, `${kind}: any answer is a 4xx`);
  }
  assert.ok(worst < f.PROMPT_MS, `a Group round trip took ${worst.toFixed(1)} ms during the slowloris`);
  assert.ok(a.isOpen && b.isOpen);
  await h.waitFor(() => f.fdCount(pid) <= fds0, `pusher's descriptors back to ${fds0}`, 3000);
  assert.equal(await h.adminCount(srv), 2);
  const ms = await f.assertPrompt(srv);
  t.diagnostic(`faults: ${kinds.length} stalled handshakes dropped after ` +
    `${Math.min(...kinds.map((k) => k.raw.endedAt - k.t0))}..${Math.max(...kinds.map((k) => k.raw.endedAt - k.t0))} ms; ` +
    `${rounds} rounds meanwhile, worst round trip ${worst.toFixed(1)} ms, after ${ms.toFixed(1)} ms`);
});

// ---------------------------------------------------------------- vanishing peers

test('peers that stop answering (no pong, no FIN) are closed at --idle-timeout and announced offline; ' +
  'a client that answers pings stays', f.bound(30000), async (t) => {
  const srv = await h.serve(t, ['--ping-interval', '300ms', '--idle-timeout', '1s']);
  const pid = srv.proc.pid;
  const observer = await h.connect(srv, 'observer'); // ws answers pings by itself
  await observer.sync();
  const fds0 = f.fdCount(pid);
  const before = await h.metrics(srv);
  const GHOSTS = 5;
  const ghosts = [];
  const silentFrom = []; // when each last spoke: its sync came back
  for (let i = 0; i < GHOSTS; i++) {
    const g = await h.rawConnect(srv, `ghost-${i}`);
    await g.sync(`ghost-${i}`);
    silentFrom.push(Date.now());
    g.sock.pause(); // the kernel still ACKs, the peer never answers
    ghosts.push(g);
  }
  const dts = [];
  for (let i = 0; i < GHOSTS; i++) {
    await observer.take((m) => m.messageType === 4 && m.from === `ghost-${i}`, `ghost-${i}'s OfflineNotify`, 4000);
    dts.push(Date.now() - silentFrom[i]);
  }
  for (const dt of dts) {
    assert.ok(dt >= 950 && dt <= Math.round(2500 * h.SCALE), `a silent peer was announced offline after ${dt} ms ` +
      'of silence (idle timeout 1 s)');
  }
  const after = await h.metrics(srv);
  assert.equal(h.metric(after, 'pusher_connections'), 1, 'only the observer is left');
  assert.equal(h.counter(after, 'pusher_closes_total', { code: '1001' }) -
    h.counter(before, 'pusher_closes_total', { code: '1001' }), GHOSTS, 'each closed with 1001 (going away)');
  // Their sockets are let go after the close linger (2 s), not kept for ever.
  await h.waitFor(() => f.fdCount(pid) <= fds0, `pusher's descriptors back to ${fds0}`, 4000);
  // What a ghost would have read: pings, then close 1001.
  const g = ghosts[0];
  g.sock.resume();
  const end = await g.expectClose(1001, h.WAIT, { reply: false });
  // (and the other ghosts' OnlineNotify, which came after it stopped reading)
  assert.ok(end.skipped.every((fr) => fr.opcode === h.OP.ping || fr.opcode === h.OP.text), 'pings, no pong or close');
  assert.ok(end.skipped.some((fr) => fr.opcode === h.OP.ping), 'the silent peer was pinged first');
  assert.ok(observer.isOpen, 'the observer answered its pings and is still connected');
  await observer.sync();
  const ms = await f.assertPrompt(srv);
  t.diagnostic(`faults: ${GHOSTS} silent peers announced offline after ${Math.min(...dts)}..${Math.max(...dts)} ms; ` +
    `round trip after ${ms.toFixed(1)} ms`);
});

// A masked frame header (and a masking key) declaring len payload bytes.
function header(opcode, len, fin = true) {
  return h.frame(opcode, Buffer.alloc(0), { fin, len });
}

// Waits for a pong to a ping sent now: the server has read everything before.
async function pingBarrier(raw) {
  raw.sendFrame(h.OP.ping, Buffer.from('barrier'));
  for (;;) {
    const fr = await raw.readFrame(h.WAIT, 'the pong to the barrier ping');
    if (fr.opcode === h.OP.pong && fr.payload.toString() === 'barrier') return;
  }
}

test('a frame trickled in a byte at a time, or a message whose fragments trickle in between pongs, is closed ' +
  'with 1008 at --idle-timeout; half a frame then silence is idle (1001); clients that finish each frame ' +
  'slowly but in time stay', f.bound(30000), async (t) => {
  const srv = await h.serve(t, ['--ping-interval', '300ms', '--idle-timeout', '1s']);
  const pid = srv.proc.pid;
  const observer = await h.connect(srv, 'observer');
  await observer.sync();
  const fds0 = f.fdCount(pid);
  const before = await h.metrics(srv);
  const group = Buffer.from(JSON.stringify({ messageType: 1, content: 'never finished '.repeat(20) }));
  const hostile = {
    // 300+ bytes at 100 ms each: half a minute for one frame.
    'one frame, a byte every 100 ms': (raw) => trickle(raw, h.frame(h.OP.text, group), 100),
    // Every fragment whole, and a pong after each, but the message never ends.
    'a fragment of one byte every 100 ms': async (raw) => {
      raw.write(h.frame(h.OP.text, group.subarray(0, 1), { fin: false }));
      for (let i = 1; i < group.length && !raw.ended; i++) {
        raw.write(h.frame(h.OP.cont, group.subarray(i, i + 1), { fin: false }));
        raw.sendFrame(h.OP.pong, Buffer.alloc(0));
        await h.sleep(100);
      }
    },
  };
  const slow = [];
  for (const [kind, start] of Object.entries(hostile)) {
    for (let i = 0; i < 3; i++) {
      const user = `trickle-${slow.length}`;
      const raw = await h.rawConnect(srv, user);
      await raw.sync(user);
      slow.push({ kind, raw, t0: Date.now(), done: start(raw) });
    }
  }
  // Half a frame, then nothing: that is silence, and silence is 1001.
  const quiet = await h.rawConnect(srv, 'half-then-silent');
  await quiet.sync('half-then-silent');
  const quietFrom = Date.now();
  quiet.write(h.frame(h.OP.text, group).subarray(0, 100));
  // Slow but whole: a ping (16 bytes) or a Single to itself, each taking
  // ~400 ms of its 1 s, back to back for 3 s.
  const steady = [];
  for (const kind of ['pings', 'messages']) {
    const user = `steady-${kind}`;
    const raw = await h.rawConnect(srv, user);
    await raw.sync(user);
    const run = async () => {
      let sent = 0;
      for (const t0 = Date.now(); Date.now() - t0 < 3000 && !raw.ended; sent++) {
        const fr = kind === 'pings'
          ? h.frame(h.OP.ping, Buffer.from(`p${sent}`.padEnd(10, '.')))
          : h.frame(h.OP.text, Buffer.from(JSON.stringify({ messageType: 0, to: user, content: `m${sent}` })));
        await trickle(raw, fr, Math.floor(400 / fr.length));
      }
      return sent;
    };
    steady.push({ kind, raw, sent: run() });
  }
  for (const s of slow) {
    const end = await s.raw.expectClose(1008, Math.round(4000 * h.SCALE), { reply: false });
    const dt = Date.now() - s.t0;
    assert.equal(end.reason, 'message too slow', s.kind);
    assert.ok(dt >= 950 && dt <= Math.round(3000 * h.SCALE), `${s.kind}: closed ${dt} ms after its last whole ` +
      'message (idle timeout 1 s)');
    s.dt = dt;
    await s.done;
  }
  const quietEnd = await quiet.expectClose(1001, Math.round(4000 * h.SCALE), { reply: false });
  const quietDt = Date.now() - quietFrom;
  assert.equal(quietEnd.reason, 'idle timeout');
  assert.ok(quietDt >= 950, `half a frame then silence was closed after ${quietDt} ms`);
  for (const s of steady) {
    const sent = await s.sent;
    assert.ok(!s.raw.ended, `the client sending slow ${s.kind} was disconnected`);
    assert.ok(sent >= 4, `only ${sent} ${s.kind} were sent in 3 s`);
    // Every one of them was answered, and nothing else was sent but pings.
    const answers = [];
    while (answers.length < sent) {
      const fr = await s.raw.readFrame(h.WAIT, `answer ${answers.length + 1} of ${sent}`);
      if (fr.opcode === h.OP.close) assert.fail(`the ${s.kind} client got a close`);
      if (s.kind === 'pings' ? fr.opcode === h.OP.pong : fr.opcode === h.OP.text) answers.push(fr);
    }
    const first = s.kind === 'pings' ? answers[0].payload.toString() : JSON.parse(answers[0].payload).content;
    assert.match(first, /^[pm]0/);
  }
  for (const s of slow) {
    await observer.take((m) => m.messageType === 4 && m.from === `trickle-${slow.indexOf(s)}`, 'its OfflineNotify');
  }
  const after = await h.metrics(srv);
  assert.equal(h.counter(after, 'pusher_closes_total', { code: '1008' }) -
    h.counter(before, 'pusher_closes_total', { code: '1008' }), slow.length, 'each trickler counted as 1008');
  assert.equal(h.counter(after, 'pusher_closes_total', { code: '1001' }) -
    h.counter(before, 'pusher_closes_total', { code: '1001' }), 1, 'only the silent one closed as idle');
  await h.waitFor(() => f.fdCount(pid) <= fds0 + steady.length, 'the tricklers\' descriptors released', 4000);
  const ms = await f.assertPrompt(srv);
  t.diagnostic(`faults: ${slow.length} trickled frames/messages closed with 1008 after ` +
    `${Math.min(...slow.map((s) => s.dt))}..${Math.max(...slow.map((s) => s.dt))} ms; slow whole pings and ` +
    `messages kept their connections; round trip after ${ms.toFixed(1)} ms`);
});

test('a reset (RST) in the middle of a frame, a fragmented message, a request, a close or pending output: ' +
  'the server reaps the socket, announces the user offline, and goes on', f.bound(30000), async (t) => {
  const srv = await h.serve(t, ['--max-pending', '8m']);
  const pid = srv.proc.pid;
  const observer = await h.connect(srv, 'observer');
  const feeder = await h.connect(srv, 'feeder');
  await h.settle(observer, feeder);
  const fds0 = f.fdCount(pid);
  const before = await h.metrics(srv);
  const cases = {
    'half a frame': async (raw) => {
      const body = Buffer.from(JSON.stringify({ messageType: 1, content: 'x'.repeat(1000) }));
      raw.write(h.frame(h.OP.text, body).subarray(0, 500));
    },
    'half a frame header': async (raw) => raw.write(header(h.OP.text, 70000).subarray(0, 3)),
    'one fragment and half the next': async (raw) => {
      raw.sendFrame(h.OP.text, Buffer.from('{"messageType":1,"content":"'), { fin: false });
      await pingBarrier(raw);
      raw.write(h.frame(h.OP.cont, Buffer.from('y'.repeat(3000)), { fin: false }).subarray(0, 1500));
    },
    'a close frame sent': async (raw) => {
      raw.sendFrame(h.OP.close, h.closePayload(1000));
      await raw.waitUntil(() => (h.parseFrame(raw.buf) ? true : undefined), 'the close echo');
    },
    'a protocol error being answered': async (raw) => raw.sendFrame(h.OP.text, Buffer.from('{}'), { mask: false }),
    'megabytes of unread output': (raw, user) => {
      raw.sock.pause();
      // One feed at a time: the feeder's syncs must not overlap.
      feeding = feeding.then(async () => {
        // 7 MB: more than the kernel buffers hold, so some waits in pusher's queue
        for (let i = 0; i < 120; i++) feeder.send({ messageType: 0, to: user, content: 'z'.repeat(60000) });
        await h.waitFor(() => feeder.ws.bufferedAmount === 0, 'the feeder to hand its data to the kernel');
        await feeder.sync();
      });
      return feeding;
    },
  };
  let feeding = Promise.resolve();
  const PER = 5;
  const users = [];
  for (const [what, prepare] of Object.entries(cases)) {
    await Promise.all(Array.from({ length: PER }, async (_, i) => {
      const user = `rst-${what.replace(/\W+/g, '-')}-${i}`;
      users.push(user);
      const raw = await h.rawConnect(srv, user);
      await raw.sync(user);
      await prepare(raw, user);
      await h.sleep(100); // let the server read it
      raw.sock.resetAndDestroy();
    }));
  }
  // Resets during the HTTP request: no user, no announcement, no leak.
  await Promise.all(Array.from({ length: PER }, async (_, i) => {
    const raw = await h.RawSocket.open(srv);
    raw.write(`GET /websocket?userId=half-request-${i} HTTP/1.1\r\nHost: x\r\nUpgr`);
    await h.sleep(100);
    raw.sock.resetAndDestroy();
  }));
  for (const user of users) {
    await observer.take((m) => m.messageType === 4 && m.from === user, `${user}'s OfflineNotify`);
  }
  await h.waitFor(() => f.fdCount(pid) <= fds0, `pusher's descriptors back to ${fds0}`, 4000);
  const after = await h.metrics(srv);
  assert.equal(h.metric(after, 'pusher_connections'), 2);
  assert.equal(h.metric(after, 'pusher_users'), 2);
  assert.equal(h.counter(after, 'pusher_slow_consumer_closes_total'), h.counter(before, 'pusher_slow_consumer_closes_total'),
    'a reset is not a slow consumer');
  await h.syncVia(feeder, observer);
  const ms = await f.assertPrompt(srv);
  t.diagnostic(`faults: ${users.length + PER} sockets reset in ${Object.keys(cases).length + 1} states, ` +
    `all reaped; round trip after ${ms.toFixed(1)} ms`);
});

// ---------------------------------------------------------------- message size

// A fragmented text message: chunks of its bytes as frames, FIN on the last.
function fragments(text, size) {
  const buf = Buffer.from(text);
  const out = [];
  for (let off = 0; off < buf.length; off += size) {
    const last = off + size >= buf.length;
    out.push(h.frame(off === 0 ? h.OP.text : h.OP.cont, buf.subarray(off, off + size), { fin: last }));
  }
  return out;
}

test('a fragmented message of exactly the limit is accepted; one that grows past it gets 1009 at the ' +
  'header of the fragment that crosses it, before the rest is sent', f.bound(20000), async (t) => {
  const srv = await h.serve(t);
  const LIMIT = 65536;
  // Exactly the limit, in 16 fragments with a ping between two of them.
  const ok = await h.rawConnect(srv, 'frag');
  const head = '{"messageType":0,"to":"frag","content":"';
  const text = `${head}${'x'.repeat(LIMIT - head.length - 2)}"}`;
  assert.equal(Buffer.byteLength(text), LIMIT);
  const frames = fragments(text, 4096);
  frames.forEach((fr, i) => {
    ok.write(fr);
    if (i === 7) ok.sendFrame(h.OP.ping, Buffer.from('mid'));
  });
  const pong = await ok.readFrame(h.WAIT, 'the pong between fragments');
  assert.equal(pong.opcode, h.OP.pong);
  assert.equal((await ok.nextMessage()).content.length, LIMIT - head.length - 2);

  // Past the limit: 4 fragments of 16000, then the header of one of 1600.
  const over = await h.rawConnect(srv, 'over');
  await over.sync('over');
  for (let i = 0; i < 4; i++) over.sendFrame(i ? h.OP.cont : h.OP.text, Buffer.alloc(16000, 0x61), { fin: false });
  await pingBarrier(over);
  const t0 = Date.now();
  over.write(header(h.OP.cont, 1600, false)); // 64000 + 1600 > 65536; its payload never follows
  const end = await over.expectClose(1009, h.WAIT);
  const dt = Date.now() - t0;
  assert.ok(dt < Math.round(500 * h.SCALE), `1009 came ${dt} ms after the crossing header`);
  assert.equal(end.skipped.length, 0);

  // A single frame declaring a gigabyte: refused on its header alone.
  const huge = await h.rawConnect(srv, 'huge');
  huge.write(header(h.OP.text, 1 << 30));
  await huge.expectClose(1009, h.WAIT);
  // A continuation of a gigabyte after a small first fragment: the same.
  const huge2 = await h.rawConnect(srv, 'huge2');
  huge2.sendFrame(h.OP.text, Buffer.from('{'), { fin: false });
  huge2.write(header(h.OP.cont, 1 << 30));
  await huge2.expectClose(1009, h.WAIT);

  const m = await h.metrics(srv);
  assert.equal(h.counter(m, 'pusher_closes_total', { code: '1009' }), 3);
  const ms = await f.assertPrompt(srv);
  t.diagnostic(`faults: 1009 ${dt} ms after the crossing header; round trip after ${ms.toFixed(1)} ms`);
});

test('--max-message 4m: a fragmented message growing past it costs at most the limit in RSS', f.bound(20000), async (t) => {
  const LIMIT = 4 << 20;
  const srv = await h.serve(t, ['--max-message', '4m']);
  const pid = srv.proc.pid;
  const c = await h.rawConnect(srv, 'grower');
  await c.sync('grower');
  await f.assertPrompt(srv); // warm up: the allocator's arenas exist before the baseline
  const base = f.rssKiB(pid);
  const stop = f.rssSampler(pid, 5);
  const CHUNK = 256 << 10;
  for (let sent = 0; sent < LIMIT; sent += CHUNK) {
    c.sendFrame(sent ? h.OP.cont : h.OP.text, Buffer.alloc(Math.min(CHUNK, LIMIT - sent - 1), 0x61), { fin: false });
  }
  await pingBarrier(c); // the server holds LIMIT - 1 bytes of the message now
  c.write(header(h.OP.cont, 2, false));
  await c.expectClose(1009, h.WAIT);
  const peak = stop();
  await h.sleep(100);
  const after = f.rssKiB(pid);
  const growth = peak - base;
  const slack = 1024; // KiB: the allocator's rounding and the 1009's own frames
  if (!f.SANITIZED) {
    assert.ok(growth <= LIMIT / 1024 + slack, `RSS grew by ${f.mib(growth)} MiB for a message limit of 4 MiB`);
    assert.ok(after - base <= slack, `RSS stayed ${f.mib(after - base)} MiB up after the message was dropped`);
  }
  const ms = await f.assertPrompt(srv);
  t.diagnostic(`faults: RSS ${f.mib(base)} MiB before, peak ${f.mib(peak)} (+${f.mib(growth)}) while a message ` +
    `grew to the 4 MiB limit, ${f.mib(after)} after the 1009; round trip ${ms.toFixed(1)} ms`);
});

// ---------------------------------------------------------------- rate

test('--max-rate 50 --max-burst 100: a flood of messages or pings is closed with 1008 and counted; ' +
  'a steady sender below the rate is not', f.bound(30000), async (t) => {
  const srv = await h.serve(t, ['--max-rate', '50', '--max-burst', '100']);
  const reader = await h.connect(srv, 'reader');
  const steady = await h.connect(srv, 'steady');
  const spammer = await h.connect(srv, 'spammer');
  await h.settle(reader, steady, spammer);
  const before = await h.metrics(srv);

  // 40 a second for 2 s, while the spammer floods.
  const STEADY = 80;
  const steadyDone = (async () => {
    for (let i = 0; i < STEADY; i++) {
      steady.send({ messageType: 1, content: `steady:${i}` });
      await h.sleep(25);
    }
  })();
  const FLOOD = 1000;
  for (let i = 0; i < FLOOD; i++) spammer.send({ messageType: 1, content: `spam:${i}` });
  await spammer.expectClose(1008, 5000);
  const pinger = await h.rawConnect(srv, 'pinger');
  await pinger.sync('pinger');
  for (let i = 0; i < FLOOD; i++) pinger.sendFrame(h.OP.ping, Buffer.from(String(i)));
  const pingEnd = await pinger.expectClose(1008, 5000);
  const pongs = pingEnd.skipped.filter((fr) => fr.opcode === h.OP.pong).length;
  assert.ok(pongs >= 90 && pongs <= 110, `about the burst of 100 pings was answered before the close, not ${pongs}`);
  await steadyDone;
  await steady.sync();
  const got = await h.syncVia(steady, reader);
  const spam = got.filter((m) => m.content.startsWith('spam:')).map((m) => m.content);
  assert.ok(spam.length >= 90 && spam.length <= 110, `about the burst of 100 got through, not ${spam.length}`);
  assert.deepEqual(spam, spam.map((_, i) => `spam:${i}`), 'what got through is the first ones, in order');
  const st = got.filter((m) => m.content.startsWith('steady:')).map((m) => m.content);
  assert.deepEqual(st, Array.from({ length: STEADY }, (_, i) => `steady:${i}`), 'every steady message arrived');
  assert.ok(steady.isOpen, 'the steady sender is still open');
  const after = await h.metrics(srv);
  const delta = (name, labels) => h.counter(after, name, labels) - h.counter(before, name, labels);
  assert.equal(delta('pusher_rate_limit_closes_total'), 2);
  assert.equal(delta('pusher_closes_total', { code: '1008' }), 2);
  assert.equal(delta('pusher_slow_consumer_closes_total'), 0);
  const ms = await f.assertPrompt(srv);
  t.diagnostic(`faults: ${spam.length} of ${FLOOD} flooded messages and ${pongs} of ${FLOOD} pings taken ` +
    `before 1008; round trip after ${ms.toFixed(1)} ms`);
});

// ---------------------------------------------------------------- garbage

const GARBAGE = [
  'not json', '{"messageType":1', '[1,2,3]', '"a string"', '42', 'null', '', ' ', '{}',
  '{"messageType":0}', '{"messageType":2,"content":"x"}', '{"messageType":3}', '{"messageType":4}',
  '{"messageType":9}', '{"messageType":-1}', '{"messageType":1.5}', '{"messageType":1e400}',
  '{"messageType":"1"}', '{"messageType":1,"to":"room"}', '{"messageType":0,"to":"nobody\\u0001here"}',
  '{"messageType":1,"mediaType":9}', '{"messageType":1,"content":5}', '{"messageType":1,"from":7}',
  '{"messageType":1,"content":"\\ud800"}', '{"messageType":1} trailing', '{"messageType":1,"createAt":"x"}',
  `{"x":${'['.repeat(30000)}${']'.repeat(30000)},"messageType":1}`,
  `{"x":${'{"a":'.repeat(10000)}1${'}'.repeat(10000)},"messageType":1}`,
];

test('garbage messages each earn exactly one error reply and the connection stays open; broken frames ' +
  'close with their RFC code; everyone else is served', f.bound(20000), async (t) => {
  const srv = await h.serve(t);
  const bystander = await h.connect(srv, 'bystander');
  const c = await h.connect(srv, 'garbage');
  await h.settle(bystander, c);
  const ROUNDS = 5;
  for (let r = 0; r < ROUNDS; r++) for (const g of GARBAGE) c.sendText(g);
  const replies = await c.sync(5000);
  assert.equal(replies.length, ROUNDS * GARBAGE.length, 'one reply per garbage message');
  for (const m of replies) h.assertError(m, 'reply to garbage');
  assert.ok(c.isOpen);
  assert.equal((await bystander.sync()).length, 0, 'nothing of it reached anyone else');

  const broken = [
    ['text that is not UTF-8', (raw) => raw.sendFrame(h.OP.text, Buffer.from([0x7b, 0xff, 0x7d])), 1007],
    ['a binary message', (raw) => raw.sendFrame(h.OP.binary, Buffer.from('{}')), 1003],
    ['an unmasked frame', (raw) => raw.sendFrame(h.OP.text, Buffer.from('{}'), { mask: false }), 1002],
    ['a reserved opcode', (raw) => raw.sendFrame(3, Buffer.from('{}')), 1002],
    ['RSV bits', (raw) => raw.sendFrame(h.OP.text, Buffer.from('{}'), { rsv: 4 }), 1002],
    ['a 64-bit length with its top bit set', (raw) => raw.write(Buffer.concat([Buffer.from([0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0]), Buffer.alloc(4)])), 1002],
    ['a continuation with no message', (raw) => raw.sendFrame(h.OP.cont, Buffer.from('{}')), 1002],
    ['a fragmented ping', (raw) => raw.sendFrame(h.OP.ping, Buffer.from('x'), { fin: false }), 1002],
    ['a bad close code', (raw) => raw.sendFrame(h.OP.close, h.closePayload(999)), 1002],
  ];
  for (const [what, send, code] of broken) {
    const raw = await h.rawConnect(srv, 'broken');
    await raw.sync('broken');
    send(raw);
    await assert.doesNotReject(raw.expectClose(code, h.WAIT), `${what} -> close ${code}`);
  }
  await h.syncVia(c, bystander);
  const ms = await f.assertPrompt(srv);
  t.diagnostic(`faults: ${ROUNDS * GARBAGE.length} garbage messages answered, ${broken.length} broken frames ` +
    `closed; round trip after ${ms.toFixed(1)} ms`);
});
