'use strict';
// pusher behind a real TLS proxy: Debian's nginx running contrib/nginx.conf,
// with a self-signed certificate made by openssl. Clients speak wss:// to
// nginx, as browsers on the internet would. The timeouts are shortened, not
// the idea: nginx's proxy_read_timeout is 3s and pusher pings after 1s of
// silence, so an idle connection outlives the proxy's timeout many times
// over; without pings, nginx cuts it at the timeout.

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const https = require('node:https');
const http = require('node:http');
const WebSocket = require('ws');
const h = require('../e2e/helpers');
const { Nginx } = require('./nginx');

const T = { timeout: 60000 };
const READ_TIMEOUT_S = 3;

// pusher pinging after 1s of silence, behind nginx; shared by the tests below.
let shared = null;
async function stack() {
  if (!shared) {
    const srv = await h.startServer(['--ping-interval', '1s', '--idle-timeout', '10s']);
    let ng;
    try {
      ng = await Nginx.start('pinged', srv.port, { readTimeout: `${READ_TIMEOUT_S}s` });
    } catch (e) {
      await srv.stop();
      throw e;
    }
    shared = { srv, ng };
  }
  return shared;
}
after(async () => {
  if (!shared) return;
  await shared.ng.stop();
  await shared.srv.stop();
});

// A wss:// client through nginx that trusts only the test's certificate.
async function wss(ng, srv, userId) {
  const url = `wss://127.0.0.1:${ng.httpsPort}/websocket?userId=${encodeURIComponent(userId)}`;
  const ws = new WebSocket(url, { ca: ng.ca, handshakeTimeout: h.WAIT });
  const c = srv.track(new h.Client(ws, userId, `${userId}(wss)`));
  c.pings = 0;
  ws.on('ping', () => { c.pings++; });
  await h.withTimeout(new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', (e) => reject(new Error(`${url}: ${e.message}\nnginx:\n${ng.log()}`)));
  }), h.WAIT, `${userId} to open ${url}`);
  return c;
}

function fetch(mod, port, p, ca) {
  return h.withTimeout(new Promise((resolve, reject) => {
    const req = mod.get({ host: '127.0.0.1', port, path: p, ca }, (res) => {
      const tls = res.socket.getProtocol ? res.socket.getProtocol() : null;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body, tls }));
    });
    req.on('error', reject);
  }), h.WAIT, `GET ${p} on port ${port}`);
}

test('nginx accepts contrib/nginx.conf, and runs without root', T, async () => {
  const { ng } = await stack();
  const res = await ng.test;
  assert.match(res.out, /syntax is ok/);
  assert.match(res.out, /test is successful/);
  const uid = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(fs.readFileSync(`/proc/${ng.proc.pid}/status`, 'utf8'));
  assert.ok(uid, 'nginx\'s /proc status has a Uid line');
  assert.notEqual(Number(uid[1]), 0, 'nginx does not run as root');
  assert.notEqual(Number(uid[3]), 0, 'nginx cannot become root again');
});

test('the page and the HTTP endpoints answer over https, and http sends people there', T, async () => {
  const { ng } = await stack();
  const page = await fetch(https, ng.httpsPort, '/', ng.ca);
  assert.equal(page.status, 200);
  assert.match(page.body, /<title>pusher chat<\/title>/);
  assert.match(page.tls, /^TLSv1\.[23]$/);
  const health = await fetch(https, ng.httpsPort, '/healthz', ng.ca);
  assert.equal(health.status, 200);
  assert.equal(health.body.trim(), 'ok');
  const plain = await fetch(http, ng.httpPort, '/?x=1');
  assert.equal(plain.status, 301);
  assert.equal(plain.headers.location, 'https://127.0.0.1/?x=1');
});

test('two people chat over wss:// through nginx', T, async () => {
  const { ng, srv } = await stack();
  const alice = await wss(ng, srv, 'alice');
  const bob = await wss(ng, srv, 'bob');
  assert.match(alice.ws._socket.getProtocol(), /^TLSv1\.[23]$/, 'the client speaks TLS to nginx');
  const online = await alice.take((m) => m.messageType === 3 && m.from === 'bob', 'bob\'s OnlineNotify');
  h.assertFull(online);
  alice.send({ messageType: 1, content: 'héllo through TLS ✓' });
  const got = await bob.take((m) => m.content === 'héllo through TLS ✓', 'alice\'s Group message');
  assert.equal(got.from, 'alice');
  assert.equal(got.messageType, 1);
  bob.send({ messageType: 0, to: 'alice', content: 'only you' });
  const single = await alice.take((m) => m.content === 'only you', 'bob\'s Single message');
  assert.equal(single.from, 'bob');
  bob.send({ messageType: 0, to: 'nobody', content: 'hello?' });
  const kept = await bob.take((m) => m.messageType === 2, 'a queued: reply');
  assert.match(kept.content, /^queued: nobody\b/);
  await bob.close();
  await alice.take((m) => m.messageType === 4 && m.from === 'bob', 'bob\'s OfflineNotify');
  await alice.close();
});

test(`pings keep an idle wss:// connection open past nginx's ${READ_TIMEOUT_S}s proxy_read_timeout`, T, async (t) => {
  const { ng, srv } = await stack();
  const alice = await wss(ng, srv, 'idle-alice');
  const bob = await wss(ng, srv, 'idle-bob');
  await alice.take((m) => m.messageType === 3 && m.from === 'idle-bob', 'idle-bob\'s OnlineNotify');
  const idle = 3 * READ_TIMEOUT_S * 1000;
  const t0 = Date.now();
  // Neither side sends a message: only pusher's pings and ws's automatic pongs move.
  while (Date.now() - t0 < idle) {
    await h.sleep(250);
    assert.equal(alice.closeInfo, null, `nginx closed the idle connection after ${Date.now() - t0} ms`);
    assert.equal(bob.closeInfo, null, `nginx closed the idle connection after ${Date.now() - t0} ms`);
  }
  const up = Date.now() - t0;
  assert.ok(alice.pings >= 4, `alice was pinged ${alice.pings} times in ${up} ms`);
  bob.send({ messageType: 1, content: 'still here' });
  await alice.take((m) => m.content === 'still here', 'a message after the idle time');
  t.diagnostic(`idle wss:// connection still open after ${(up / 1000).toFixed(1)}s, ` +
    `${alice.pings} pings, proxy_read_timeout ${READ_TIMEOUT_S}s, --ping-interval 1s`);
  await alice.close();
  await bob.close();
});

test(`without pings nginx cuts an idle connection at proxy_read_timeout (${READ_TIMEOUT_S}s)`, T, async (t) => {
  const srv = await h.serve(t, ['--ping-interval', '30s', '--idle-timeout', '60s']);
  const ng = await Nginx.start('unpinged', srv.port, { readTimeout: `${READ_TIMEOUT_S}s` });
  t.after(() => ng.stop());
  const c = await wss(ng, srv, 'forgotten');
  const t0 = Date.now();
  const info = await h.withTimeout(c.closed, 4 * READ_TIMEOUT_S * 1000, 'nginx to cut the silent connection');
  const dt = Date.now() - t0;
  assert.ok(dt >= READ_TIMEOUT_S * 1000 - 300, `cut after ${dt} ms, before the timeout`);
  assert.ok(dt <= READ_TIMEOUT_S * 1000 + 2000, `cut after ${dt} ms`);
  assert.equal(c.pings, 0);
  assert.equal(info.code, 1006, 'nginx drops the TCP connection without a close frame');
  t.diagnostic(`without pings: cut after ${(dt / 1000).toFixed(1)}s (proxy_read_timeout ${READ_TIMEOUT_S}s)`);
});
