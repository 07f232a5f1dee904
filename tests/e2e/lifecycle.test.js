'use strict';
// The process: start-up logging, flags and their environment twins, bad
// values (one line, status 2), --help and --version, ids that keep growing
// across a restart, and a clean shutdown on SIGTERM or SIGINT (close 1001 to
// every client, status 0).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./helpers');

test('it logs key=value lines, event=listen with the port it listens on', h.T, async (t) => {
  const srv = await h.serve(t);
  const line = srv.stderr.split('\n').find((l) => /\bevent=listen\b/.test(l));
  assert.match(line, /\bport=\d+\b/);
  assert.equal(Number(/\bport=(\d+)/.exec(line)[1]), srv.port);
  for (const l of srv.stderr.split('\n').filter(Boolean)) {
    assert.match(l, /^[a-z_]+=\S+( |$)/, `log line not key=value: ${JSON.stringify(l)}`);
  }
  assert.equal((await h.get(srv, '/healthz')).status, 200);
});

test('SIGTERM: every client gets close 1001, then the process exits 0', h.T, async (t) => {
  const srv = await h.startServer();
  try {
    const clients = [await h.connect(srv, 'alice'), await h.connect(srv, 'alice'), await h.connect(srv, 'bob')];
    const raw = await h.rawConnect(srv, 'raw');
    await raw.sync('raw');
    const pendingHttp = await h.RawSocket.open(srv);
    pendingHttp.write('GET /healthz HTTP/1.1\r\n');
    await h.settle(...clients);
    const exited = srv.stop('SIGTERM');
    const closes = clients.map((c) => c.expectClose(1001));
    await raw.expectClose(1001, h.WAIT, { reply: true });
    await Promise.all(closes);
    await pendingHttp.waitEnd(h.WAIT, 'a half-sent HTTP request to be dropped at shutdown');
    const info = await exited;
    assert.equal(info.code, 0);
  } finally {
    await srv.stop().catch(() => {});
  }
});

test('SIGINT: the same clean shutdown', h.T, async (t) => {
  const srv = await h.startServer();
  try {
    const c = await h.connect(srv, 'alice');
    await c.sync();
    const exited = srv.stop('SIGINT');
    await c.expectClose(1001);
    assert.equal((await exited).code, 0);
  } finally {
    await srv.stop().catch(() => {});
  }
});

test('SIGTERM with no client at all exits 0 at once', h.T, async () => {
  const srv = await h.startServer();
  const t0 = Date.now();
  const info = await srv.stop('SIGTERM');
  assert.equal(info.code, 0);
  assert.ok(Date.now() - t0 < 2000, 'no lingering');
});

test('ids keep growing across a restart', h.T, async () => {
  const ids = [];
  for (let run = 0; run < 2; run++) {
    const srv = await h.startServer();
    try {
      const a = await h.connect(srv, 'alice');
      for (let i = 0; i < 50; i++) a.send({ messageType: 0, to: 'alice', content: `r${run}-${i}` });
      let m;
      for (let i = 0; i < 50; i++) m = await a.next();
      ids.push(m.id);
    } finally {
      await srv.stop();
    }
  }
  assert.ok(ids[1] > ids[0], `the second run's id ${ids[1]} is not above the first run's ${ids[0]}`);
});

const BAD_FLAGS = [
  ['--port abc', ['--port', 'abc']],
  ['--port 65536', ['--port', '65536']],
  ['--port -1', ['--port', '-1']],
  ['--port with no value', ['--port']],
  ['--max-connections abc', ['--max-connections', 'abc']],
  ['--max-connections -3', ['--max-connections', '-3']],
  ['--max-message 12q', ['--max-message', '12q']],
  ['--max-message empty', ['--max-message', '']],
  ['--max-pending 1x', ['--max-pending', '1x']],
  ['--max-rate abc', ['--max-rate', 'abc']],
  ['--max-rate -5', ['--max-rate', '-5']],
  ['--max-burst ten', ['--max-burst', 'ten']],
  ['--ping-interval abc', ['--ping-interval', 'abc']],
  ['--ping-interval 5x', ['--ping-interval', '5x']],
  ['--idle-timeout 1h', ['--idle-timeout', '1h']],
  ['--idle-timeout -1s', ['--idle-timeout', '-1s']],
  ['--handshake-timeout 10 apples', ['--handshake-timeout', '10 apples']],
  ['--log-level loud', ['--log-level', 'loud']],
  ['an unknown flag', ['--frobnicate']],
  ['a stray argument', ['extra']],
];

for (const [what, args] of BAD_FLAGS) {
  test(`a bad flag value (${what}) -> one line on stderr, exit status 2`, h.T, async () => {
    const r = await h.runPusher(['--bind', '127.0.0.1', '--port', '0', ...args]);
    assert.equal(r.code, 2, `exit status ${r.code}; stderr: ${h.clip(r.stderr)}`);
    assert.match(r.stderr, /^[^\n]+\n?$/, `stderr should be exactly one line: ${JSON.stringify(r.stderr)}`);
  });
}

for (const [name, value] of [['PUSHER_PORT', 'abc'], ['PUSHER_MAX_MESSAGE', '12q'], ['PUSHER_IDLE_TIMEOUT', 'soon']]) {
  test(`a bad environment value (${name}=${value}) -> one line on stderr, exit status 2`, h.T, async () => {
    const args = name === 'PUSHER_PORT' ? ['--bind', '127.0.0.1'] : ['--bind', '127.0.0.1', '--port', '0'];
    const r = await h.runPusher(args, { env: { [name]: value } });
    assert.equal(r.code, 2, `exit status ${r.code}; stderr: ${h.clip(r.stderr)}`);
    assert.match(r.stderr, /^[^\n]+\n?$/, `stderr should be exactly one line: ${JSON.stringify(r.stderr)}`);
  });
}

test('PUSHER_BIND and PUSHER_PORT are the environment twins of --bind and --port', h.T, async (t) => {
  const srv = await h.serve(t, [], { bare: true, env: { PUSHER_BIND: '127.0.0.1', PUSHER_PORT: '0' } });
  assert.notEqual(srv.port, 8080);
  assert.equal((await h.get(srv, '/healthz')).status, 200);
});

test('durations and sizes in every documented form are accepted', h.T, async (t) => {
  const srv = await h.serve(t, ['--ping-interval', '25', '--idle-timeout', '60.5s', '--handshake-timeout', '1500ms',
    '--max-message', '64k', '--max-pending', '64k', '--max-connections', '10', '--max-rate', '0', '--max-burst', '1',
    '--log-level', 'debug']);
  const c = await h.connect(srv, 'alice');
  await c.sync();
});

test('--help lists every option and exits 0; --version prints one line and exits 0', h.T, async () => {
  const help = await h.runPusher(['--help']);
  assert.equal(help.code, 0);
  const text = help.stdout + help.stderr;
  for (const flag of ['--port', '--bind', '--max-connections', '--max-message', '--max-pending', '--max-rate',
    '--max-burst', '--ping-interval', '--idle-timeout', '--handshake-timeout', '--static-dir', '--secret',
    '--api-key', '--allowed-origin', '--echo', '--log-level', '--help', '--version']) {
    assert.ok(text.includes(flag), `--help does not mention ${flag}`);
  }
  const version = await h.runPusher(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^[^\n]*\d+\.\d+[^\n]*\n?$/, `one line with a version: ${JSON.stringify(version.stdout)}`);
});

// ---------------------------------------------------------------- /echo

test('--echo: /echo returns text and binary messages as sent, large ones too', h.T, async (t) => {
  const srv = await h.serve(t, ['--echo']);
  const c = await h.connect(srv, null, { path: '/echo', label: 'echo', plain: true });
  for (const text of ['hello', 'not { json', '', 'é😀\u0000', '{"messageType":1,"content":"not routed"}']) {
    c.sendText(text);
    const m = await c.take(() => true, `the echo of ${JSON.stringify(text)}`);
    assert.equal(m.text, text);
  }
  const bin = Buffer.from([0, 1, 2, 0xfe, 0xff]);
  c.sendBinary(bin);
  const b = await c.take(() => true, 'the binary echo');
  assert.ok(b.binary && b.binary.equals(bin), 'binary comes back as binary');
  const big = 'x'.repeat(1 << 20);
  c.sendText(big);
  assert.equal((await c.take(() => true, 'the 1 MiB echo', 5000)).text, big);
  const bigBin = Buffer.alloc(200000, 7);
  c.sendBinary(bigBin);
  assert.ok((await c.take(() => true, 'the 200 kB binary echo', 5000)).binary.equals(bigBin));
  await c.close();
});

test('--echo: every message comes back, however many at once: /echo is not rate limited', h.T, async (t) => {
  const srv = await h.serve(t, ['--echo', '--max-rate', '10', '--max-burst', '20']);
  const c = await h.connect(srv, null, { path: '/echo', label: 'echo', plain: true });
  const N = 500;
  for (let i = 0; i < N; i++) c.sendText(`e${i}`);
  for (let i = 0; i < N; i++) assert.equal((await c.take(() => true, `echo ${i}`)).text, `e${i}`);
  assert.ok(c.isOpen, 'the echo connection stays open');
  await c.close();
});

test('without --echo, /echo is not a WebSocket endpoint', h.T, async (t) => {
  const srv = await h.serve(t);
  const { res, raw } = await h.rawHandshake(srv, '/echo');
  assert.equal(res.status, 404);
  raw.destroy();
  await h.assertServes(srv);
});

// A flood of bad handshakes must not turn into a flood of log lines: lines
// about single connections pass a token bucket (--log-rate N a second, in
// bursts of 10 N), and the next line written counts the ones left out.
test('--log-rate bounds the lines about single connections and counts the ones left out', h.T, async (t) => {
  const srv = await h.serve(t, ['--log-rate', '2']);
  const refusals = () => srv.stderr.split('\n').filter((l) => /\bevent=refuse\b/.test(l)).length;
  const suppressed = () => srv.stderr.split('\n').map((l) => /\bevent=log_suppressed count=(\d+)/.exec(l))
    .filter(Boolean).reduce((n, m) => n + Number(m[1]), 0);
  const started = Date.now();
  const N = 120;
  for (let i = 0; i < N; i++) {
    const res = await h.get(srv, '/websocket?userId=');
    assert.equal(res.status, 400);
  }
  const seconds = (Date.now() - started) / 1000;
  await h.sleep(200);
  const written = refusals();
  assert.ok(written <= 20 + Math.ceil(2 * seconds) + 1,
    `${written} refuse lines for ${N} refusals in ${seconds.toFixed(1)} s; the bucket allows 20 + 2/s`);
  assert.ok(written >= 20, `only ${written} refuse lines: the first burst of 20 should be written`);
  // After a pause the bucket has a token again; the next line first says how many were left out.
  await h.sleep(1100);
  assert.equal((await h.get(srv, '/websocket?userId=')).status, 400);
  // Every refusal is either written or counted as suppressed (the two lines
  // of the last one may reach us in two pieces).
  await h.waitFor(() => suppressed() > 0 && refusals() + suppressed() === N + 1,
    `refuse lines and suppressed counts to add up to ${N + 1}`, h.WAIT)
    .catch((e) => assert.fail(`${e.message}: ${refusals()} written + ${suppressed()} suppressed; ` +
      `log:\n${srv.log(10)}`));
  // Lines about the whole server are not limited.
  assert.match(srv.stderr, /\bevent=listen\b/);
});

// The default backend hands a turn's writes to the kernel together (io_uring);
// epoll and poll make them one by one. All three must deliver alike, a
// write cut short by a full socket included.
async function deliversAlike(srv) {
  const readers = [];
  for (let i = 0; i < 10; i++) readers.push(await h.connect(srv, `r${i}`));
  const late = await h.connect(srv, 'late');
  const sender = await h.connect(srv, 'sender');
  await h.settle(...readers, late, sender);
  late.ws._socket.pause();    // its socket fills; the server must wait for room
  const N = 200;              // more than loopback's socket buffers hold
  const body = (i) => `${i}:`.padEnd(50000, String.fromCharCode(97 + (i % 26)));
  for (let i = 0; i < N; i++) sender.send({ messageType: 1, content: body(i) });
  for (const r of readers) {
    for (let i = 0; i < N; i++) {
      const m = await r.take((x) => x.messageType === 1, `message ${i} at ${r.label}`);
      assert.equal(m.content, body(i), `message ${i} at ${r.label}`);
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  late.ws._socket.resume();
  for (let i = 0; i < N; i++) {
    const m = await late.take((x) => x.messageType === 1, `message ${i} at the late reader`);
    assert.equal(m.content, body(i), `message ${i} at the late reader`);
  }
  assert.ok(late.isOpen, 'the late reader stays open');
  const waits = h.counter(await h.metrics(srv), 'pusher_write_waits_total');
  assert.ok(waits > 0, `a full socket cut a write short (pusher_write_waits_total ${waits})`);
}

const startLine = (srv) => srv.stderr.split('\n').find((l) => /\bevent=start\b/.test(l)) || '';

for (const backend of ['uring', 'epoll', 'poll']) {
  test(`--backend ${backend}: the start line names it; a broadcast reaches 10 readers, and 10 MB reach one that reads late, whole and in order`, h.T, async (t) => {
    const srv = await h.serve(t, ['--backend', backend, '--max-rate', '0', '--max-pending', '16m']);
    assert.match(startLine(srv), new RegExp(`\\bbackend=${backend}\\b`), `the start line\n${srv.log(5)}`);
    assert.doesNotMatch(srv.stderr, /\bevent=uring_unavailable\b/, srv.log(5));
    await deliversAlike(srv);
  });
}

// Where io_uring is forbidden (a container's seccomp profile, as Docker's
// default one does), the default backend says so once and writes one call at
// a time, delivering all the same. build/no_uring makes io_uring_setup fail
// with EPERM for the server and nothing else.
test('--backend uring where io_uring is forbidden: a warning names why, the start line says epoll, and delivery is whole and in order', h.T, async (t) => {
  const wrapper = path.resolve(__dirname, '../../build/no_uring');
  assert.ok(fs.existsSync(wrapper), `${wrapper} is built (make build/no_uring)`);
  const srv = await h.serve(t, [h.BIN, '--bind', '127.0.0.1', '--port', '0',
    '--backend', 'uring', '--max-rate', '0', '--max-pending', '16m'], { bin: wrapper, bare: true });
  assert.match(srv.stderr,
    /level=warn event=uring_unavailable error="Operation not permitted" backend=epoll\b/, srv.log(5));
  assert.match(startLine(srv), /\bbackend=epoll\b/, `the start line\n${srv.log(5)}`);
  await deliversAlike(srv);
});
