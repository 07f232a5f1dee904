'use strict';
// Too many connections: a flood up to and past --max-connections (503, counted,
// recovery), and a flood past the descriptors the process has, both where
// pusher stops polling its listener at its socket budget and where accept()
// itself fails with EMFILE. Each time, the connections it has are still
// served, it does not spin, and new clients get in once the flood leaves.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../e2e/helpers');
const f = require('./lib');

const LIMIT = 200;

test(`a flood past --max-connections ${LIMIT}: 503 beyond it, counted; served again once it leaves`, f.bound(60000), async (t) => {
  const srv = await h.serve(t, ['--max-connections', String(LIMIT)]);
  const before = await h.metrics(srv);
  const a = await h.connect(srv, 'keep-a');
  const b = await h.connect(srv, 'keep-b');
  await h.settle(a, b);
  const flood = await f.connectMany(srv, LIMIT - 2, (i) => `flood-${i}`);
  await h.waitConnections(srv, LIMIT);

  // 60 more at once: each gets a plain 503 and is let go.
  const OVER = 60;
  const over = await Promise.all(Array.from({ length: OVER }, (_, i) =>
    h.rawHandshake(srv, `/websocket?userId=over-${i}`)));
  for (const { res, raw } of over) {
    res.raw = raw;
    await h.expectPlainError(res, 503, { closes: true });
  }
  await assert.rejects(h.connect(srv, 'one-more'), /503/);
  assert.equal((await h.get(srv, '/healthz')).status, 200, 'plain HTTP is still answered at the limit');
  const full = await h.metrics(srv);
  assert.equal(h.counter(full, 'pusher_handshakes_rejected_total', { status: '503' }) -
    h.counter(before, 'pusher_handshakes_rejected_total', { status: '503' }), OVER + 1, full.text);
  assert.equal(h.metric(full, 'pusher_connections'), LIMIT);
  assert.equal(h.metric(full, 'pusher_users'), LIMIT);
  assert.equal(await h.adminCount(srv), LIMIT, 'a refused client is not counted');
  const tripFull = await f.groupTrip(a, b);
  assert.ok(tripFull < f.PROMPT_MS, `at the limit, a Group round trip took ${tripFull.toFixed(1)} ms`);

  // The flood leaves: half with a close handshake, half by dropping TCP.
  await Promise.all(flood.map((c, i) => (i % 2 ? c.close() : (c.ws.terminate(), c.closed))));
  await h.waitConnections(srv, 2, 5000);
  const left = await h.metrics(srv);
  assert.equal(h.metric(left, 'pusher_connections'), 2);
  assert.equal(h.metric(left, 'pusher_users'), 2);

  // Recovery: the room is there again, and the limit still holds.
  const again = await f.connectMany(srv, LIMIT - 2, (i) => `again-${i}`);
  await h.waitConnections(srv, LIMIT);
  await assert.rejects(h.connect(srv, 'one-too-many'), /503/);
  await Promise.all(again.map((c) => c.close()));
  await h.waitConnections(srv, 2, 5000);
  await h.syncVia(a, b);
  const ms = await f.assertPrompt(srv);
  t.diagnostic(`faults: flood of ${LIMIT - 2}+${OVER + 1} connections; round trip at the limit ` +
    `${tripFull.toFixed(1)} ms, after ${ms.toFixed(1)} ms`);
});

// Opens n raw TCP connections that each send half a request and wait. Those
// beyond what pusher accepts sit in its listen backlog, connected as far as
// the client can tell.
async function rawFlood(srv, n) {
  const socks = await Promise.all(Array.from({ length: n }, () => h.RawSocket.open(srv)));
  for (const [i, s] of socks.entries()) s.write(`GET /websocket?userId=fd-${i} HTTP/1.1\r\nHost: x\r\n`);
  return socks;
}

// The shared body of the two descriptor tests: two served clients, a flood of
// FLOOD sockets that outnumbers the descriptors, CPU over 2 s, recovery.
async function exhaust(t, srv, what) {
  const FLOOD = 150;
  const pid = srv.proc.pid;
  const a = await h.connect(srv, 'keep-a');
  const b = await h.connect(srv, 'keep-b');
  await h.settle(a, b);
  const before = await h.metrics(srv);
  const fds0 = f.fdCount(pid);

  const socks = await rawFlood(srv, FLOOD);
  const t0 = Date.now();
  // It took what it could; the descriptor table is full (or at its budget).
  await h.waitFor(() => f.fdCount(pid) >= 40, 'pusher to take in the flood');
  await h.sleep(300);
  const fdsFull = f.fdCount(pid, 64);
  assert.ok(fdsFull <= 64, `${fdsFull} descriptors open under ulimit -n 64`);

  // Over ~2 s while the flood waits: the two are served, the process idles.
  const cpu = f.cpuShare(pid, 2000);
  let worst = 0;
  for (let i = 0; i < 8; i++) {
    worst = Math.max(worst, await f.groupTrip(a, b), await f.groupTrip(b, a));
    await h.sleep(200);
  }
  const share = await cpu;
  assert.ok(worst < f.PROMPT_MS, `with descriptors exhausted, a Group round trip took ${worst.toFixed(1)} ms`);
  assert.ok(share < 0.5, `pusher used ${(share * 100).toFixed(1)}% of a core while the flood waited (spinning?)`);

  // A newcomer waits in the backlog meanwhile: nothing answers it.
  const waiting = await h.RawSocket.open(srv);
  waiting.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  await h.sleep(300);
  assert.equal(waiting.buf.length, 0, 'no descriptor is left to answer a newcomer');

  for (const s of socks) s.destroy();
  const exhaustedMs = Date.now() - t0;
  // Once the flood leaves, the waiting newcomer is answered and others get in.
  const res = await waiting.readResponse(h.WAIT);
  assert.equal(res.status, 200);
  waiting.destroy();
  const ms = await f.assertPrompt(srv);
  await h.waitFor(() => f.fdCount(pid) <= fds0, `pusher's descriptors back to ${fds0}`, 4000);
  const after = await h.metrics(srv);
  assert.equal(h.metric(after, 'pusher_connections'), 2);
  await h.syncVia(a, b);
  t.diagnostic(`faults: ${what}: ${FLOOD} sockets against ulimit -n 64, ${fdsFull} descriptors open, ` +
    `CPU ${(share * 100).toFixed(1)}% over 2 s, worst round trip ${worst.toFixed(1)} ms, after ${ms.toFixed(1)} ms`);
  return { before, after, exhaustedMs };
}

test('descriptor exhaustion (ulimit -n 64): pusher stops accepting at its socket budget, ' +
  'serves the ones it has without spinning, and takes new clients once the flood leaves', f.bound(30000), async (t) => {
  const srv = await f.startLimited(t, 64, ['--handshake-timeout', '30s']);
  await exhaust(t, srv, 'listener paused');
});

test('descriptor exhaustion with accept() failing (EMFILE): pusher backs off instead of spinning, ' +
  'counts the errors, and recovers', f.bound(30000), async (t) => {
  // 24 descriptors already taken: the table fills before pusher's own budget.
  const srv = await f.startLimited(t, 64, ['--handshake-timeout', '30s'], 24);
  const { before, after, exhaustedMs } = await exhaust(t, srv, 'accept() failing');
  const errors = h.counter(after, 'pusher_accept_errors_total') - h.counter(before, 'pusher_accept_errors_total');
  assert.ok(errors >= 1, 'accept() ran out of descriptors, and that is counted');
  // One retry each 100 ms of backoff; allow twice that.
  const most = Math.ceil(exhaustedMs / 50) + 4;
  assert.ok(errors <= most, `${errors} accept errors in ${exhaustedMs} ms: more than one a 100 ms backoff`);
  t.diagnostic(`faults: ${errors} accept errors in ${exhaustedMs} ms of exhaustion`);
});
