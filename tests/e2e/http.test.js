'use strict';
// Plain HTTP: /healthz, /admin, /metrics, the static files (and refusing to
// leave them), and every kind of malformed request, each answered 4xx with
// the connection closed while everybody else is still served.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('./helpers');

const STATIC = path.resolve(__dirname, '../../static');

test('/healthz answers 200 ok with Content-Length', h.T, async (t) => {
  const srv = await h.serve(t);
  const res = await h.get(srv, '/healthz');
  assert.equal(res.status, 200);
  assert.match(res.body, /^ok\n?$/);
  assert.equal(Number(res.headers['content-length']), res.bodyBuf.length);
});

test('/admin counts open WebSocket connections and tracks connects and disconnects', h.T, async (t) => {
  const srv = await h.serve(t);
  const zero = await h.get(srv, '/admin');
  assert.equal(zero.status, 200);
  assert.equal(zero.body, '0\n');
  assert.equal(Number(zero.headers['content-length']), 2);
  const a1 = await h.connect(srv, 'alice');
  const a2 = await h.connect(srv, 'alice');
  const b = await h.connect(srv, 'bob');
  assert.equal((await h.get(srv, '/admin')).body, '3\n');
  await a2.close();
  await h.waitConnections(srv, 2);
  await b.close();
  await h.waitConnections(srv, 1);
  await a1.close();
  await h.waitConnections(srv, 0);
});

const NAMES = {
  pusher_connections: 'gauge',
  pusher_users: 'gauge',
  pusher_messages_received_total: 'counter',
  pusher_messages_sent_total: 'counter',
  pusher_bytes_received_total: 'counter',
  pusher_bytes_sent_total: 'counter',
};

test('/metrics is Prometheus text with every name of the contract', h.T, async (t) => {
  const srv = await h.serve(t);
  const res = await h.get(srv, '/metrics');
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'] || '', /^text\/plain\b/);
  const m = h.parseMetrics(res.body);
  for (const [name, type] of Object.entries(NAMES)) {
    assert.ok(h.metric(m, name) !== undefined, `/metrics lacks ${name}:\n${res.body}`);
    if (m.types.has(name)) assert.equal(m.types.get(name), type, `# TYPE of ${name}`);
  }
  for (const name of ['pusher_closes_total', 'pusher_handshakes_rejected_total']) {
    const present = m.types.has(name) || res.body.split('\n').some((l) => l.startsWith(`${name}{`));
    assert.ok(present, `/metrics should name ${name} (at least its # TYPE):\n${res.body}`);
    if (m.types.has(name)) assert.equal(m.types.get(name), 'counter');
  }
  assert.equal(h.metric(m, 'pusher_connections'), 0);
  assert.equal(h.metric(m, 'pusher_users'), 0);
});

test('/metrics gauges count connections and distinct users', h.T, async (t) => {
  const srv = await h.serve(t, [], { single: true }); // a node's own users
  const a1 = await h.connect(srv, 'alice');
  await h.connect(srv, 'alice');
  await h.connect(srv, 'bob');
  let m = await h.metrics(srv);
  assert.equal(h.metric(m, 'pusher_connections'), 3);
  assert.equal(h.metric(m, 'pusher_users'), 2);
  await a1.close();
  await h.waitConnections(srv, 2);
  m = await h.metrics(srv);
  assert.equal(h.metric(m, 'pusher_connections'), 2);
  assert.equal(h.metric(m, 'pusher_users'), 2);
});

test('/metrics message and byte counters move with traffic', h.T, async (t) => {
  const srv = await h.serve(t);
  const a = await h.connect(srv, 'alice');
  const b = await h.connect(srv, 'bob');
  const c = await h.connect(srv, 'carol');
  await h.settle(a, b, c);
  const before = await h.metrics(srv);
  const text = JSON.stringify({ messageType: 1, content: 'counted' });
  a.sendText(text);
  const mb = await b.next('the group message');
  const mc = await c.next('the group message');
  const after = await h.metrics(srv);
  const d = (name) => h.counter(after, name) - h.counter(before, name);
  assert.equal(d('pusher_messages_received_total'), 1, 'one message received');
  assert.equal(d('pusher_messages_sent_total'), 2, 'one message sent to each of two connections');
  assert.ok(d('pusher_bytes_received_total') >= Buffer.byteLength(text),
    `bytes received grew by ${d('pusher_bytes_received_total')}, less than the ${Buffer.byteLength(text)} sent`);
  const out = Buffer.byteLength(b.raw.get(mb)) + Buffer.byteLength(c.raw.get(mc));
  assert.ok(d('pusher_bytes_sent_total') >= out,
    `bytes sent grew by ${d('pusher_bytes_sent_total')}, less than the ${out} delivered`);
});

test('/metrics counts closes by the code sent and rejected handshakes by status', h.T, async (t) => {
  const srv = await h.serve(t);
  const before = await h.metrics(srv);
  // 1002: an unmasked frame
  const r1 = await h.rawConnect(srv, 'x1');
  r1.sendText('{"messageType":1}', { mask: false });
  await r1.expectClose(1002);
  // 1000: a normal close, echoed
  const r2 = await h.rawConnect(srv, 'x2');
  r2.sendFrame(h.OP.close, h.closePayload(1000));
  await r2.expectClose(1000, h.WAIT, { reply: false });
  // 400 and 426 refusals
  const { res: r400 } = await h.rawHandshake(srv, '/websocket');
  assert.equal(r400.status, 400);
  const { res: r426 } = await h.rawHandshake(srv, '/websocket?userId=z', { headers: { 'Sec-WebSocket-Version': '8' } });
  assert.equal(r426.status, 426);
  await h.waitConnections(srv, 0);
  const after = await h.metrics(srv);
  const d = (name, labels) => h.counter(after, name, labels) - h.counter(before, name, labels);
  assert.equal(d('pusher_closes_total', { code: '1002' }), 1, after.text);
  assert.equal(d('pusher_closes_total', { code: '1000' }), 1, after.text);
  assert.equal(d('pusher_handshakes_rejected_total', { status: '400' }), 1, after.text);
  assert.equal(d('pusher_handshakes_rejected_total', { status: '426' }), 1, after.text);
  if (after.types.has('pusher_closes_total')) assert.equal(after.types.get('pusher_closes_total'), 'counter');
});

// ---------------------------------------------------------------- static files

function readStatic(name) {
  try {
    return fs.readFileSync(path.join(STATIC, name));
  } catch {
    return null;
  }
}

test('GET / serves the chat page as HTML', h.T, async (t) => {
  const srv = await h.serve(t);
  const res = await h.get(srv, '/');
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'] || '', /^text\/html\b/);
  assert.equal(Number(res.headers['content-length']), res.bodyBuf.length);
  assert.match(res.body, /<!doctype html>/i);
  const file = readStatic('index.html');
  if (file) assert.ok(res.bodyBuf.equals(file), '/ should be static/index.html byte for byte');
  const again = await h.get(srv, '/index.html');
  assert.equal(again.status, 200);
  assert.ok(again.bodyBuf.equals(res.bodyBuf), '/index.html is the same file as /');
});

test('GET /app.js and /style.css serve the page\'s script and style', h.T, async (t) => {
  const srv = await h.serve(t);
  const js = await h.get(srv, '/app.js');
  assert.equal(js.status, 200);
  assert.match(js.headers['content-type'] || '', /^(text|application)\/javascript\b/);
  const file = readStatic('app.js');
  if (file) assert.ok(js.bodyBuf.equals(file), '/app.js should be static/app.js byte for byte');
  const q = await h.get(srv, '/app.js?v=2');
  assert.equal(q.status, 200, 'a query string does not change the file');
  assert.ok(q.bodyBuf.equals(js.bodyBuf));
  const css = await h.get(srv, '/style.css');
  assert.equal(css.status, 200);
  assert.match(css.headers['content-type'] || '', /^text\/css\b/);
});

test('an unknown path is 404', h.T, async (t) => {
  const srv = await h.serve(t);
  for (const p of ['/nope.txt', '/no/such/dir/file.js', '/index.htm', '/admin/x']) {
    const res = await h.get(srv, p);
    assert.equal(res.status, 404, `${p} answered ${res.status}`);
    assert.equal(Number(res.headers['content-length']), res.bodyBuf.length);
  }
  await h.assertServes(srv);
});

const TRAVERSALS = [
  '/../../../../../../etc/passwd',
  '/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
  '/%2E%2E/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd',
  '/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd',
  '/.%2e/.%2e/.%2e/.%2e/.%2e/etc/passwd',
  '/css/../../../../../../etc/passwd',
  '/..',
  '/%2e%2e',
];

test('.. in a path, raw or %-encoded, never leaves the static files', h.T, async (t) => {
  const srv = await h.serve(t);
  for (const p of TRAVERSALS) {
    const res = await h.get(srv, p);
    assert.ok([400, 403, 404].includes(res.status), `${p} answered ${res.status}`);
    assert.ok(!res.body.includes('root:'), `${p} leaked /etc/passwd`);
  }
  await h.assertServes(srv);
});

test('--static-dir serves a folder of ours, and nothing outside it', h.T, async (t) => {
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'pusher-e2e-'));
  t.after(() => fs.rmSync(top, { recursive: true, force: true }));
  const dir = path.join(top, 'www');
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>ours</title>\n');
  fs.writeFileSync(path.join(dir, 'sub', 'a.txt'), 'hello from a\n');
  fs.writeFileSync(path.join(top, 'secret.txt'), 'TOP-SECRET-42\n');
  const srv = await h.serve(t, ['--static-dir', dir]);
  const index = await h.get(srv, '/');
  assert.equal(index.status, 200);
  assert.equal(index.body, '<!doctype html><title>ours</title>\n');
  assert.match(index.headers['content-type'] || '', /^text\/html\b/);
  const a = await h.get(srv, '/sub/a.txt');
  assert.equal(a.status, 200);
  assert.equal(a.body, 'hello from a\n');
  assert.equal((await h.get(srv, '/sub/none.txt')).status, 404);
  for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/sub/../../secret.txt', '/sub/%2E%2E/%2E%2E/secret.txt',
    '/..%2fsecret.txt', `/${'../'.repeat(8)}${top.slice(1)}/secret.txt`]) {
    const res = await h.get(srv, p);
    assert.ok([400, 403, 404].includes(res.status), `${p} answered ${res.status}`);
    assert.ok(!res.body.includes('TOP-SECRET'), `${p} leaked a file outside --static-dir`);
  }
  // Symbolic links are followed only where they stay inside the folder.
  fs.symlinkSync(path.join(top, 'secret.txt'), path.join(dir, 'link.txt'));
  fs.symlinkSync(top, path.join(dir, 'uplink'));
  fs.symlinkSync(path.join(dir, 'sub', 'a.txt'), path.join(dir, 'inner.txt'));
  for (const p of ['/link.txt', '/uplink/secret.txt']) {
    const res = await h.get(srv, p);
    assert.equal(res.status, 404, `${p}, a link out of --static-dir, answered ${res.status}`);
    assert.ok(!res.body.includes('TOP-SECRET'), `${p} leaked a file outside --static-dir`);
  }
  assert.equal((await h.get(srv, '/inner.txt')).body, 'hello from a\n', 'a link that stays inside is served');
  await h.assertServes(srv);
});

// ---------------------------------------------------------------- malformed

const MALFORMED = [
  ['a request line without target or version', 'GET\r\n\r\n', 400],
  ['a request line with an extra word', 'GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n', 400],
  ['a request line with a double space', 'GET  / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['an unknown protocol', 'GET / FTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['a target that is not a path', 'GET nopath HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['a header line without a colon', 'GET / HTTP/1.1\r\nHost: x\r\nBadHeader\r\n\r\n', 400],
  ['whitespace before a header colon', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n', 400],
  ['garbage bytes', Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03,
    0xff, 0xfe, 0x00, 0x7f, 0x80]), Buffer.from('\r\n\r\n')]), 400],
  ['an unknown method', 'BREW / HTTP/1.1\r\nHost: x\r\n\r\n', 405],
  ['an unknown method on /websocket', 'FETCH /websocket?userId=a HTTP/1.1\r\nHost: x\r\n\r\n', 405],
  ['a request line over 4 KiB', `GET /${'a'.repeat(5000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
  ['headers over 8 KiB', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(9000)}\r\n\r\n`, 431],
  ['many headers over 8 KiB in all',
    `GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 20 }, (_, i) => `X-H${i}: ${'c'.repeat(500)}\r\n`).join('')}\r\n`, 431],
  ['headers over 8 KiB that never end', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'d'.repeat(9000)}`, 431],
  ['a POST without Content-Length', 'POST /api/push HTTP/1.1\r\nHost: x\r\n\r\n', 411],
  ['a POST with a bad Content-Length', 'POST /api/push HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n', 400],
];

for (const [what, bytes, status] of MALFORMED) {
  test(`${what} is answered ${status}, the connection closed, and others still served`, h.T, async (t) => {
    const srv = await h.serve(t);
    const bystander = await h.connect(srv, 'bystander');
    const res = await h.httpRaw(srv, bytes);
    await h.expectPlainError(res, status, { closes: true });
    await h.assertServes(srv);
    assert.ok(bystander.isOpen, 'an open client is untouched');
    await bystander.sync();
  });
}

test('a request with a huge Content-Length is refused with a 4xx at once', h.T, async (t) => {
  const srv = await h.serve(t);
  const res = await h.httpRaw(srv, 'POST /api/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
    'Content-Length: 99999999999\r\n\r\n{');
  assert.ok(res.status >= 400 && res.status < 500, `got ${res.status}`);
  await res.raw.waitEnd();
  res.raw.destroy();
  await h.assertServes(srv);
});

test('a request sent a byte at a time is still understood', h.T, async (t) => {
  const srv = await h.serve(t);
  const raw = await h.RawSocket.open(srv);
  const bytes = Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  for (const b of bytes) {
    raw.write(Buffer.from([b]));
    await h.sleep(2);
  }
  const res = await raw.readResponse();
  raw.destroy();
  assert.equal(res.status, 200);
  assert.match(res.body, /^ok\n?$/);
});
