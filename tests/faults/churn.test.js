'use strict';
// Connection churn: 10 000 WebSocket connect/disconnect cycles, many at once,
// leaving in every way a client can (close handshake, FIN, RST, after sending
// a message), some users with several connections. Afterwards nothing is
// left: no connection, no user, no descriptor, and no memory beyond a bound.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const h = require('../e2e/helpers');
const f = require('./lib');

const CYCLES = 10000;
const WARMUP = 500;
const PARALLEL = 50;
const USERS = 300; // fewer names than cycles: users come and go with several connections
const RSS_BOUND_KIB = 4 * 1024; // growth allowed across the churn
const MODES = ['close', 'fin', 'rst', 'message'];
const NO_HISTORY = '18446744073709551615'; // since= the largest id: no replay

// One cycle on a raw socket: upgrade, then leave as mode says. Resolves once
// the socket is closed; everything the server sends after the 101 is dropped.
function cycle(port, n) {
  const mode = MODES[n % MODES.length];
  const user = `churn-${n % USERS}`;
  const since = n % 2 ? `&since=${NO_HISTORY}` : '';
  const req = h.upgradeRequest(`/websocket?userId=${user}${since}`);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.setNoDelay(true);
    let head = Buffer.alloc(0);
    let upgraded = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`cycle ${n} (${mode}) did not finish in 5 s; upgraded: ${upgraded}`));
    }, 5000);
    sock.on('connect', () => sock.write(req.text));
    sock.on('error', () => {}); // a reset of our own, or a write after the server's close
    sock.on('data', (d) => {
      if (upgraded) return;
      head = Buffer.concat([head, d]);
      if (head.indexOf('\r\n\r\n') < 0) return;
      if (!head.toString('latin1').startsWith('HTTP/1.1 101 ')) {
        clearTimeout(timer);
        sock.destroy();
        reject(new Error(`cycle ${n}: ${JSON.stringify(head.toString('latin1').split('\r\n')[0])}`));
        return;
      }
      upgraded = true;
      if (mode === 'message') sock.write(h.frame(h.OP.text, JSON.stringify({ messageType: 1, content: `c${n}` })));
      if (mode === 'close' || mode === 'message') sock.write(h.frame(h.OP.close, h.closePayload(1000)));
      else if (mode === 'fin') sock.end();
      else sock.resetAndDestroy();
    });
    sock.on('close', () => {
      clearTimeout(timer);
      if (upgraded) resolve();
      else reject(new Error(`cycle ${n} (${mode}): closed before the 101`));
    });
  });
}

async function churn(port, from, count) {
  let next = from;
  const end = from + count;
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (next < end) await cycle(port, next++);
  }));
}

// Waits until every connection is gone, descriptors included.
async function quiet(srv, fds0) {
  await h.waitConnections(srv, 0, 5000);
  await h.waitFor(() => f.fdCount(srv.proc.pid) <= fds0, `pusher's descriptors back to ${fds0}`, 5000);
}

test(`${CYCLES} connect/disconnect cycles, ${PARALLEL} at a time: nothing left behind, RSS bounded`, f.bound(90000), async (t) => {
  const srv = await h.serve(t);
  const pid = srv.proc.pid;
  const fds0 = f.fdCount(pid);
  await churn(srv.port, 0, WARMUP);
  await quiet(srv, fds0);
  const before = await h.metrics(srv);
  const rss0 = f.rssKiB(pid);

  const t0 = Date.now();
  await churn(srv.port, WARMUP, CYCLES / 2);
  await quiet(srv, fds0);
  const rssHalf = f.rssKiB(pid);
  await churn(srv.port, WARMUP + CYCLES / 2, CYCLES / 2);
  const elapsed = Date.now() - t0;
  await quiet(srv, fds0);
  const rss1 = f.rssKiB(pid);

  assert.ok(elapsed < 30000 * h.SCALE, `${CYCLES} cycles took ${elapsed} ms`);
  const after = await h.metrics(srv);
  const delta = (name, labels) => h.counter(after, name, labels) - h.counter(before, name, labels);
  assert.equal(await h.adminCount(srv), 0);
  assert.equal(h.metric(after, 'pusher_connections'), 0);
  assert.equal(h.metric(after, 'pusher_users'), 0);
  // Each close handshake was answered (and counted) once; each message counted.
  const perMode = CYCLES / MODES.length;
  assert.equal(delta('pusher_closes_total', { code: '1000' }), 2 * perMode);
  assert.equal(delta('pusher_messages_received_total'), perMode);
  assert.equal(delta('pusher_closes_total', { code: '1008' }), 0);
  if (!f.SANITIZED) {
    assert.ok(rss1 - rss0 < RSS_BOUND_KIB, `RSS grew by ${f.mib(rss1 - rss0)} MiB over ${CYCLES} cycles`);
    // A leak of 200 bytes a cycle would show as 1 MiB over the second half.
    assert.ok(rss1 - rssHalf < 1024, `RSS grew by ${f.mib(rss1 - rssHalf)} MiB over the second ${CYCLES / 2} cycles`);
  }
  const ms = await f.assertPrompt(srv);
  t.diagnostic(`faults: ${CYCLES} cycles in ${elapsed} ms; RSS ${f.mib(rss0)} MiB before, ${f.mib(rssHalf)} ` +
    `half-way, ${f.mib(rss1)} after (${f.SANITIZED ? 'not bounded under the sanitizers' : `bound +${RSS_BOUND_KIB >> 10}`}); ` +
    `round trip after ${ms.toFixed(1)} ms`);
});
