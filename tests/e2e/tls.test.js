'use strict';
// TLS on the server's own port (--tls-cert, --tls-key; PROTOCOL.md, TLS):
// wss:// and https:// with certificates openssl makes for the test, TLS 1.2
// and 1.3, ALPN, resumption, the first-byte split (plain HTTP on the TLS port
// gets 301 or 400), SIGHUP rereading the files, the start line and /metrics,
// and bad input over TLS, each costing only its own connection.
//
// It makes its own certificates, so tests/run runs it in the e2e suite only,
// not again in e2e-tls.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./helpers');

// A TLS server with a fresh certificate; { srv, dir, cert }.
async function tlsServer(t, args = [], o = {}) {
  const dir = h.tmpDir();
  const cert = h.makeCert(dir, o);
  const srv = await h.serve(t, ['--tls-cert', cert.cert, '--tls-key', cert.key, ...args]);
  return { srv, dir, cert };
}

// One TLS connection: what the server showed of itself, then hung up.
async function peer(srv, tlsOptions = {}) {
  const raw = await h.RawSocket.open(srv, { tls: tlsOptions });
  const s = raw.sock;
  const info = {
    serial: s.getPeerCertificate().serialNumber, protocol: s.getProtocol(),
    alpn: s.alpnProtocol, reused: s.isSessionReused(), cert: s.getPeerCertificate(),
  };
  raw.destroy();
  return info;
}

// alice and bob on wss://, each seen to reach the other: the "other
// clients" every bad input below must leave alone.
async function pair(srv) {
  const a = await h.connect(srv, 'alice');
  const b = await h.connect(srv, 'bob');
  await h.settle(a, b);
  await a.sync();
  return { a, b };
}

async function stillChat({ a, b }, what) {
  const tag = `still here after ${what}`;
  a.send({ messageType: 1, content: tag });
  await b.take((m) => m.content === tag && m.messageType === 1, `alice's Group after ${what}`);
  b.send({ messageType: 0, to: 'alice', content: tag });
  await a.take((m) => m.content === tag && m.messageType === 0, `bob's Single after ${what}`);
  assert.ok(a.isOpen && b.isOpen, `alice or bob was closed by ${what}`);
}

const handshakeErrors = async (srv) => h.counter(await h.metrics(srv), 'pusher_tls_handshake_errors_total');

// ---------------------------------------------------------------- serving

test('wss:// carries the chat (Group and Single) and https:// serves the page, over TLS 1.3 and 1.2, with ALPN http/1.1', h.T, async (t) => {
  const { srv } = await tlsServer(t);
  assert.ok(srv.tls, 'test bug: the helpers would not speak TLS to it');
  const { a, b } = await pair(srv);
  assert.equal(a.ws._socket.encrypted, true, 'the ws client is not over TLS');
  a.send({ messageType: 1, content: 'hello over tls' });
  assert.equal((await b.next('the Group')).content, 'hello over tls');
  b.send({ messageType: 0, to: 'alice', content: 'just for you, encrypted' });
  const single = await a.next('the Single');
  assert.equal(single.content, 'just for you, encrypted');
  assert.equal(single.from, 'bob');

  const page = await h.get(srv, '/');
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type'], /^text\/html/);
  assert.match(page.body, /<html/i);
  assert.equal((await h.get(srv, '/healthz')).body, 'ok\n');

  for (const v of ['TLSv1.3', 'TLSv1.2']) {
    const p = await peer(srv, { minVersion: v, maxVersion: v, ALPNProtocols: ['h2', 'http/1.1'] });
    assert.equal(p.protocol, v);
    assert.equal(p.alpn, 'http/1.1', `ALPN over ${v}`);
    const c = await h.connect(srv, `carol-${v}`, { wsOptions: { minVersion: v, maxVersion: v } });
    assert.equal(c.ws._socket.getProtocol(), v);
    await c.sync();
  }
  // TLS 1.1 and below are not spoken.
  await assert.rejects(h.RawSocket.open(srv, { tls: { minVersion: 'TLSv1', maxVersion: 'TLSv1.1' } }),
    /protocol|version|alert|handshake/i);
  await stillChat({ a, b }, 'the version probes');
});

test('ALPN offering only a protocol other than http/1.1 gets no_application_protocol', h.T, async (t) => {
  const { srv } = await tlsServer(t);
  await assert.rejects(h.RawSocket.open(srv, { tls: { ALPNProtocols: ['h2'] } }), /no application protocol/i);
  assert.equal((await h.get(srv, '/healthz')).status, 200);
});

test('sessions resume, over TLS 1.2 (session id or ticket) and TLS 1.3 (ticket)', h.T, async (t) => {
  const { srv } = await tlsServer(t);
  for (const v of ['TLSv1.2', 'TLSv1.3']) {
    const raw = await h.RawSocket.open(srv, { tls: { minVersion: v, maxVersion: v } });
    const session = await h.withTimeout(new Promise((resolve) => {
      if (v === 'TLSv1.2' && raw.sock.getSession()) resolve(raw.sock.getSession());
      raw.sock.once('session', resolve);
    }), h.WAIT, `a ${v} session to resume`);
    assert.equal(raw.sock.isSessionReused(), false);
    raw.destroy();
    const again = await peer(srv, { minVersion: v, maxVersion: v, session });
    assert.equal(again.protocol, v);
    assert.equal(again.reused, true, `the ${v} session was not resumed`);
  }
});

test('the start line names the certificate; /metrics has its expiry and counts failed handshakes', h.T, async (t) => {
  const { srv, cert } = await tlsServer(t, [], { cn: 'pusher-e2e', days: 3 });
  const start = srv.stderr.split('\n').find((l) => /\bevent=start\b/.test(l));
  assert.match(start, /\btls_subject="CN=pusher-e2e"/);
  assert.match(start, new RegExp(`\\btls_serial=${cert.serial}\\b`));
  const p = await peer(srv);
  const notAfter = Math.round(new Date(p.cert.valid_to).getTime() / 1000);
  const iso = new Date(notAfter * 1000).toISOString().replace('.000Z', 'Z');
  assert.match(start, new RegExp(`\\btls_not_after=${iso}(\\s|$)`));

  const m = await h.metrics(srv);
  assert.equal(m.types.get('pusher_tls_certificate_expiry_seconds'), 'gauge');
  assert.equal(h.metric(m, 'pusher_tls_certificate_expiry_seconds'), notAfter);
  assert.equal(m.types.get('pusher_tls_handshake_errors_total'), 'counter');
  const before = h.counter(m, 'pusher_tls_handshake_errors_total');
  const hello = await h.tlsClientHello();
  for (let i = 0; i < 3; i++) {
    const raw = await h.RawSocket.open(srv, { plain: true });
    raw.write(hello.subarray(0, 20)); // then hang up, mid-handshake
    await h.sleep(20);
    raw.destroy();
  }
  await h.waitFor(async () => (await handshakeErrors(srv)) === before + 3,
    'pusher_tls_handshake_errors_total to grow by the 3 abandoned handshakes');
});

test('a plain server has no TLS series, and SIGHUP does not stop it', h.T, async (t) => {
  const srv = await h.serve(t, [], { plain: true });
  const m = await h.metrics(srv);
  assert.equal(h.metric(m, 'pusher_tls_certificate_expiry_seconds'), undefined);
  assert.equal(h.metric(m, 'pusher_tls_handshake_errors_total'), undefined);
  srv.proc.kill('SIGHUP');
  await h.waitFor(() => /\bevent=reload tls=off\b/.test(srv.stderr), 'the reload line of a plain server');
  await h.assertServes(srv);
});

test('PUSHER_TLS_CERT and PUSHER_TLS_KEY are the environment twins', h.T, async (t) => {
  const cert = h.makeCert(h.tmpDir());
  const srv = await h.serve(t, [], { plain: true, env: { PUSHER_TLS_CERT: cert.cert, PUSHER_TLS_KEY: cert.key } });
  srv.tls = true; // the flags were not in its arguments
  assert.equal((await peer(srv)).serial, cert.serial);
  await h.assertServes(srv);
});

// ---------------------------------------------------------------- the first byte

test('plain HTTP on the TLS port: GET of a page is 301 to https://, anything else 400; others unaffected', h.T, async (t) => {
  const { srv } = await tlsServer(t);
  const both = await pair(srv);
  const host = `127.0.0.1:${srv.port}`;
  for (const target of ['/', '/index.html?x=1&y=%20', '/metrics']) {
    const res = await h.httpRequest(srv, { path: target, plain: true });
    assert.equal(res.status, 301, `GET ${target}: ${res.status} ${res.body}`);
    assert.equal(res.headers.location, `https://${host}${target}`);
    assert.equal(res.bodyBuf.length, Number(res.headers['content-length']));
    await res.raw.waitEnd(h.WAIT, 'the end after a 301');
  }
  // HEAD: the same head, and no body after it
  const head = await h.RawSocket.open(srv, { plain: true });
  head.write(`HEAD /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  await head.waitEnd(h.WAIT, 'the end after a 301 to HEAD');
  const text = head.buf.toString('latin1');
  assert.match(text, /^HTTP\/1\.1 301 /);
  assert.match(text, new RegExp(`\r\nLocation: https://${host}/healthz\r\n`));
  assert.ok(text.endsWith('\r\n\r\n'), `a body after the head of a HEAD answer: ${JSON.stringify(text)}`);
  const upgrade = h.upgradeRequest('/websocket?userId=mallory');
  const refusals = [
    ['a WebSocket upgrade', upgrade.text],
    ['a POST', 'POST /api/push HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}'],
    ['a GET without Host', 'GET / HTTP/1.1\r\n\r\n'],
    ['a Host that would move the redirect elsewhere', 'GET / HTTP/1.1\r\nHost: evil.example/x@\r\n\r\n'],
  ];
  for (const [what, text] of refusals) {
    const res = await h.httpRaw(srv, text, { plain: true });
    await h.expectPlainError(res, 400, { closes: true });
    assert.match(res.body, /https:\/\/ or wss:\/\//, `${what}: ${res.body}`);
  }
  await stillChat(both, 'plain requests on the TLS port');
  // and a plain ws:// client is refused rather than served in the clear
  const ws = new (require('ws'))(`ws://127.0.0.1:${srv.port}/websocket?userId=eve`);
  const err = await h.withTimeout(new Promise((resolve) => ws.once('error', resolve)), h.WAIT, 'ws:// to be refused');
  assert.match(err.message, /400/);
});

// ---------------------------------------------------------------- SIGHUP

test('SIGHUP: new connections get the new certificate, open ones go on; a broken file keeps the old one', h.T, async (t) => {
  const { srv, dir, cert } = await tlsServer(t);
  const both = await pair(srv);
  assert.equal(both.a.ws._socket.getPeerCertificate().serialNumber, cert.serial);
  const next = h.makeCert(dir, { name: 'next', cn: 'renewed' });
  fs.copyFileSync(next.cert, cert.cert);
  fs.copyFileSync(next.key, cert.key);
  srv.proc.kill('SIGHUP');
  await h.waitFor(() => new RegExp(`\\bevent=tls_reload\\b.*\\btls_serial=${next.serial}\\b`).test(srv.stderr),
    `a reload line with the new serial ${next.serial}`);
  assert.equal((await peer(srv)).serial, next.serial, 'a new connection still got the old certificate');
  const carol = await h.connect(srv, 'carol');
  assert.equal(carol.ws._socket.getPeerCertificate().serialNumber, next.serial);
  // alice's connection began with the old certificate and goes on
  assert.equal(both.a.ws._socket.getPeerCertificate().serialNumber, cert.serial);
  await stillChat(both, 'the reload');
  both.a.send({ messageType: 0, to: 'carol', content: 'from the old certificate to the new' });
  await carol.take((m) => m.content === 'from the old certificate to the new', 'alice\'s Single');

  // A file that does not load: a warning, and the certificate in force stays.
  fs.writeFileSync(cert.cert, '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
  srv.proc.kill('SIGHUP');
  await h.waitFor(() => /\bevent=tls_reload_failed\b/.test(srv.stderr), 'a tls_reload_failed line');
  const line = srv.stderr.split('\n').find((l) => /\bevent=tls_reload_failed\b/.test(l));
  assert.match(line, /\blevel=warn\b/);
  assert.match(line, new RegExp(`cannot load the certificate from ${cert.cert.replace(/[.\\/]/g, '\\$&')}`));
  assert.match(line, new RegExp(`\\btls_serial=${next.serial}\\b`), 'it should name what it kept');
  assert.equal((await peer(srv)).serial, next.serial);
  // A key that is not the certificate's: the same.
  fs.copyFileSync(next.cert, cert.cert);
  fs.copyFileSync(h.makeCert(dir, { name: 'other' }).key, cert.key);
  srv.proc.kill('SIGHUP');
  await h.waitFor(() => /\bevent=tls_reload_failed\b.*does not match/.test(srv.stderr), 'a reload refused for a key that does not match');
  assert.equal((await peer(srv)).serial, next.serial);
  await stillChat(both, 'two failed reloads');
});

test('files that do not load stop the start: exit status 2 and one line saying which', h.T, async () => {
  const dir = h.tmpDir();
  const good = h.makeCert(dir);
  const other = h.makeCert(dir, { name: 'other' });
  const junk = path.join(dir, 'junk.pem');
  fs.writeFileSync(junk, 'not PEM\n');
  const cases = [
    [[good.cert, junk], /cannot load the private key from .*junk\.pem/],
    [[junk, good.key], /cannot load the certificate from .*junk\.pem/],
    [[good.cert, other.key], /the certificate does not match the private key in .*other\.key/],
    [[path.join(dir, 'missing.crt'), good.key], /--tls-cert must be a readable file/],
  ];
  for (const [[cert, key], want] of cases) {
    const r = await h.runPusher(['--port', '0', '--bind', '127.0.0.1', '--tls-cert', cert, '--tls-key', key]);
    assert.equal(r.code, 2, `exit status ${r.code} for ${cert} ${key}; stderr: ${h.clip(r.stderr)}`);
    assert.match(r.stderr, /^pusher: [^\n]+\n$/, `one line: ${JSON.stringify(r.stderr)}`);
    assert.match(r.stderr, want);
  }
  const r = await h.runPusher(['--tls-cert', good.cert]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--tls-cert and --tls-key go together/);
});

// ---------------------------------------------------------------- bad input over TLS

test('a ClientHello cut short waits for the rest only as long as the handshake timeout; one that hangs up is freed', h.T, async (t) => {
  const { srv } = await tlsServer(t, ['--handshake-timeout', '1s']);
  const both = await pair(srv);
  const hello = await h.tlsClientHello();
  const before = await handshakeErrors(srv);
  const raw = await h.RawSocket.open(srv, { plain: true });
  const t0 = Date.now();
  raw.write(hello.subarray(0, Math.floor(hello.length / 2)));
  await raw.waitEnd(3000, 'the handshake timeout to close a half ClientHello');
  const waited = raw.endedAt - t0;
  assert.ok(waited >= 800, `closed after ${waited} ms: before the 1 s handshake timeout`);
  const gone = await h.RawSocket.open(srv, { plain: true });
  gone.write(hello.subarray(0, 5)); // the record header alone, then nothing
  gone.destroy();
  await h.waitFor(async () => (await handshakeErrors(srv)) >= before + 2, 'both to count as failed handshakes');
  await stillChat(both, 'a ClientHello cut short');
});

test('garbage after a ClientHello ends that connection at once, with an alert; others unaffected', h.T, async (t) => {
  const { srv } = await tlsServer(t, ['--handshake-timeout', '10s']);
  const both = await pair(srv);
  const hello = await h.tlsClientHello();
  const before = await handshakeErrors(srv);
  for (const garbage of [Buffer.alloc(300, 0xff), Buffer.from('GET / HTTP/1.1\r\n\r\n'),
    Buffer.from([0x16, 0x03, 0x03, 0xff, 0xff])]) {
    const raw = await h.RawSocket.open(srv, { plain: true });
    raw.write(Buffer.concat([hello, garbage]));
    await raw.waitEnd(2000, `the server to end the connection after ${h.clip(garbage.toString('latin1'), 20)} (not the 10 s timeout)`);
    // what came back is TLS records (its flight, then an alert), never HTTP
    assert.ok(raw.buf.length > 0 && (raw.buf[0] === 0x16 || raw.buf[0] === 0x15), `answer began ${raw.buf[0]}`);
  }
  await h.waitFor(async () => (await handshakeErrors(srv)) >= before + 3, 'the three to count as failed handshakes');
  assert.match(srv.stderr, /\bevent=tls_error\b.*\bphase=handshake\b/);
  await stillChat(both, 'garbage after ClientHellos');
});

test('a client that stops in the middle of the handshake is closed at the handshake timeout', h.T, async (t) => {
  const { srv } = await tlsServer(t, ['--handshake-timeout', '1s']);
  const both = await pair(srv);
  const raw = await h.RawSocket.open(srv, { plain: true });
  const t0 = Date.now();
  raw.write(await h.tlsClientHello()); // a whole ClientHello; never the client's Finished
  await raw.waitUntil(() => (raw.buf.length > 0 ? true : undefined), 'the server\'s first flight');
  assert.equal(raw.buf[0], 0x16, 'the answer is a TLS handshake record');
  await raw.waitEnd(3000, 'the handshake timeout to close a stalled TLS handshake');
  assert.ok(raw.endedAt - t0 >= 800, `closed after ${raw.endedAt - t0} ms, before the timeout`);
  // a TLS handshake that completes but sends no request is timed out too
  const quiet = await h.RawSocket.open(srv);
  await quiet.waitEnd(3000, 'the handshake timeout to close a TLS connection that sends no request');
  await stillChat(both, 'stalled handshakes');
});

test('500 half-open TLS handshakes: others still connect and chat, and every one is closed at the timeout', h.T, async (t) => {
  const N = 500;
  const { srv } = await tlsServer(t, ['--handshake-timeout', '2s']);
  const both = await pair(srv);
  const hello = await h.tlsClientHello();
  const before = await handshakeErrors(srv);
  const half = await Promise.all(Array.from({ length: N }, async (_, i) => {
    const raw = await h.RawSocket.open(srv, { plain: true });
    raw.write(i % 2 ? hello : hello.subarray(0, 60));
    return raw;
  }));
  const dave = await h.connect(srv, 'dave');
  await dave.sync();
  await stillChat(both, `${N} half-open handshakes`);
  assert.equal((await h.get(srv, '/healthz')).status, 200);
  await h.waitFor(() => half.every((r) => r.ended), `all ${N} half-open handshakes to be closed`,
    Math.round(6000 * h.SCALE), 50);
  await h.waitFor(async () => (await handshakeErrors(srv)) >= before + N, `${N} failed handshakes counted`);
  await stillChat(both, 'their timeout');
});

test('a renegotiation attempt (TLS 1.2) is refused and costs only that connection', h.T, async (t) => {
  const { srv } = await tlsServer(t);
  const both = await pair(srv);
  const raw = await h.RawSocket.open(srv, { tls: { maxVersion: 'TLSv1.2' } });
  assert.equal(raw.sock.getProtocol(), 'TLSv1.2');
  const result = await h.withTimeout(new Promise((resolve) => {
    raw.sock.renegotiate({ rejectUnauthorized: false }, (err) => resolve(err || null));
    raw.sock.once('error', resolve);
  }), h.WAIT, 'the renegotiation to be answered');
  assert.ok(result instanceof Error, 'the renegotiation succeeded');
  assert.match(result.message, /renegotiation|handshake/i);
  await stillChat(both, 'a renegotiation attempt');
  await h.assertServes(srv);
});
