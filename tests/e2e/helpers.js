'use strict';
// Shared machinery for the end-to-end tests: start the real pusher binary on an
// ephemeral loopback port, drive it with `ws` clients, raw TCP sockets that
// speak hand-made HTTP and WebSocket frames, and read its /metrics.
//
// With PUSHER_TEST_TLS=1 (tests/run e2e-tls) every server gets a certificate
// made by openssl for the run, and every connection, ws client or raw
// socket, goes over TLS (wss://, https://): the same tests, a second time,
// with TLS under them. A test about plain TCP bytes starts its server with
// opts.plain; a server started with --tls-cert is spoken to over TLS either
// way, and a raw socket opened with { plain: true } speaks plain to it.
//
// Every wait here is bounded and fails with a message that says what was
// awaited, by whom, and what had arrived instead. Nothing outlives a test:
// each server tracks the sockets opened against it and destroys them once it
// has stopped, and any server still running when the process exits is killed.

const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const tls = require('node:tls');
const assert = require('node:assert/strict');
const WebSocket = require('ws');

const BIN = process.env.PUSHER_BIN
  ? path.resolve(process.env.PUSHER_BIN)
  : path.resolve(__dirname, '../../pusher');

// Sanitizer builds are slower; E2E_TIMEOUT_SCALE stretches every wait.
const SCALE = Number(process.env.E2E_TIMEOUT_SCALE) > 0 ? Number(process.env.E2E_TIMEOUT_SCALE) : 1;
const WAIT = Math.round(3000 * SCALE); // default bound of one wait, in ms
const T = { timeout: Math.round(30000 * SCALE) }; // per-test bound for node:test
const NODES = Number(process.env.PUSHER_TEST_NODES) > 1 ? Number(process.env.PUSHER_TEST_NODES) : 1;

const TLS_SUITE = process.env.PUSHER_TEST_TLS === '1';

const FIELDS = ['messageType', 'mediaType', 'from', 'to', 'content', 'fileId', 'url',
  'createAt', 'updateAt', 'id'];
const SYNC_PREFIX = '__sync__:';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function clip(s, n = 400) {
  s = String(s);
  return s.length > n ? `${s.slice(0, n)}...(${s.length} chars)` : s;
}

// Polls fn (sync or async) until it returns something other than undefined/false.
async function waitFor(fn, what, timeout = WAIT, interval = 20) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last !== undefined && last !== false) return last;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(interval);
  }
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------- certificates

const tmpDirs = [];
// A fresh directory, removed when the process exits.
function tmpDir(prefix = 'pusher-e2e-') {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}

// A self-signed certificate for localhost and 127.0.0.1 made by openssl in
// dir: { cert, key, serial } (the files' paths, and the serial in upper-case
// hex as Node's getPeerCertificate() gives it). o.cn names the subject,
// o.days its lifetime, o.rsa makes an RSA key instead of P-256.
function makeCert(dir, o = {}) {
  const name = o.name || 'server';
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  const serial = crypto.randomBytes(8);
  serial[0] = (serial[0] & 0x7f) | 0x10; // positive, and no leading zero to drop
  const keyArgs = o.rsa ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  execFileSync('openssl', ['req', '-x509', ...keyArgs, '-nodes', '-keyout', key, '-out', cert,
    '-days', String(o.days || 2), '-subj', `/CN=${o.cn || 'localhost'}`,
    '-set_serial', `0x${serial.toString('hex')}`,
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { cert, key, serial: serial.toString('hex').toUpperCase() };
}

let suiteCert = null;
// The one certificate of a PUSHER_TEST_TLS run, made at first use.
function testCert() {
  if (!suiteCert) suiteCert = makeCert(tmpDir('pusher-tls-'), { name: 'suite' });
  return suiteCert;
}

// ---------------------------------------------------------------- the server

const running = new Set();
process.on('exit', () => {
  for (const s of running) {
    try { s.proc.kill('SIGKILL'); } catch { /* already gone */ }
  }
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

function childEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    // no stray twin of a flag, except those choosing how the whole suite runs
    if (!k.startsWith('PUSHER_') || k === 'PUSHER_BACKEND' || k === 'PUSHER_LOG_LEVEL') env[k] = v;
  }
  return Object.assign(env, extra || {});
}

class Server {
  constructor(proc, args) {
    this.proc = proc;
    this.args = args;
    this.port = 0;
    this.stderr = '';
    this.stdout = '';
    this.tls = args.includes('--tls-cert'); // is the port spoken to over TLS?
    this.tracked = new Set(); // sockets and clients to destroy after stop
    this.startedAt = Date.now();
    this.exitInfo = null;
    this.exited = new Promise((resolve) => {
      proc.on('close', (code, signal) => {
        this.exitInfo = { code, signal };
        running.delete(this);
        resolve(this.exitInfo);
      });
    });
    proc.stderr.setEncoding('utf8');
    proc.stdout.setEncoding('utf8');
    proc.stderr.on('data', (d) => { this.stderr += d; });
    proc.stdout.on('data', (d) => { this.stdout += d; });
    this._stopping = null;
  }

  // The last n lines of stderr; a sanitizer or libc report is shown from its
  // start, since its tail is only a shadow-memory dump.
  log(n = 15) {
    const lines = this.stderr.trimEnd().split('\n');
    const i = lines.findIndex((l) => /ERROR: \w+Sanitizer|runtime error:|^malloc\(\)|^free\(\)|double free/.test(l));
    if (i >= 0) return lines.slice(i, i + 25).join('\n');
    return lines.slice(-n).join('\n');
  }

  track(x) { this.tracked.add(x); return x; }

  // SIGTERM (or sig), then expect a clean exit with status 0.
  stop(sig = 'SIGTERM') {
    if (!this._stopping) this._stopping = this._stop(sig);
    return this._stopping;
  }

  async _stop(sig) {
    if (!this.exitInfo) {
      try { this.proc.kill(sig); } catch { /* gone */ }
    }
    let info;
    try {
      info = await withTimeout(this.exited, Math.round(5000 * SCALE), `pusher to exit after ${sig}`);
    } catch (e) {
      this.proc.kill('SIGKILL');
      await this.exited;
      this._cleanup();
      throw new Error(`${e.message}; it had to be killed. stderr:\n${this.log()}`);
    }
    this._cleanup();
    if (info.code !== 0 || info.signal !== null) {
      throw new Error(`pusher exited with status ${info.code} signal ${info.signal} ` +
        `(expected 0) after ${sig}; stderr:\n${this.log(30)}`);
    }
    return info;
  }

  _cleanup() {
    for (const x of this.tracked) {
      try {
        if (x instanceof Client) x.ws.terminate();
        else if (x instanceof RawSocket) x.sock.destroy();
      } catch { /* ignore */ }
    }
    this.tracked.clear();
  }
}

// Starts pusher with --bind 127.0.0.1 --port 0 and args; waits for its
// `event=listen ... port=N` line. opts.env adds environment variables,
// opts.bare leaves out the --bind/--port flags, opts.bin runs another copy of
// the binary and opts.cwd starts it in another directory. Under
// PUSHER_TEST_TLS it gets the run's certificate too, unless opts.plain or
// args bring their own.
async function startServer(args = [], opts = {}) {
  const argv = opts.bare ? args.slice() : ['--bind', '127.0.0.1', '--port', '0', ...args];
  if (TLS_SUITE && !opts.plain && !argv.includes('--tls-cert')) {
    argv.push('--tls-cert', testCert().cert, '--tls-key', testCert().key);
  }
  const bin = opts.bin || BIN;
  const proc = spawn(bin, argv, { env: childEnv(opts.env), cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const srv = new Server(proc, argv);
  running.add(srv);
  let spawnError = null;
  proc.on('error', (e) => { spawnError = e; });
  const timeout = Math.round(5000 * SCALE);
  try {
    await waitFor(() => {
      if (spawnError) throw new Error(`cannot run ${bin}: ${spawnError.message}`);
      const line = srv.stderr.split('\n').find((l) => /\bevent=listen\b/.test(l) && /\bport=\d+/.test(l));
      if (line) {
        srv.port = Number(/\bport=(\d+)/.exec(line)[1]);
        return true;
      }
      if (srv.exitInfo) {
        throw new Error(`pusher ${argv.join(' ')} exited with ${srv.exitInfo.code} before listening; ` +
          `stderr:\n${srv.log()}`);
      }
      return undefined;
    }, `pusher ${argv.join(' ')} to log event=listen port=N`, timeout, 10);
  } catch (e) {
    if (!srv.exitInfo) proc.kill('SIGKILL');
    throw new Error(`${e.message}\nstderr so far:\n${srv.log()}`);
  }
  assert.ok(srv.port > 0, `listen line gave port ${srv.port}`);
  return srv;
}

// startServer, stopped (and its exit status checked) when test t ends.
// Under PUSHER_TEST_NODES=N (the e2e-nodes suite) it is N nodes on one
// redis-server of the test's own, as one server (Nodes), unless opts.single.
async function serve(t, args = [], opts = {}) {
  if (NODES > 1 && !opts.single && !args.includes('--redis')) return serveNodes(t, args, opts);
  const srv = await startServer(args, opts);
  t.after(() => srv.stop());
  return srv;
}

// N nodes that a test drives as one server: HTTP goes to the first, and
// each WebSocket to the next node in turn, so a test's clients are spread
// over them all and every routing case crosses nodes.
class Nodes {
  constructor(nodes, redis) {
    this.nodes = nodes;
    this.redis = redis;
    this.next = 0;
    this.tls = nodes[0].tls;
  }

  get port() { return this.nodes[0].port; }
  get startedAt() { return this.nodes[0].startedAt; }
  get proc() { return this.nodes[0].proc; }
  get stderr() { return this.nodes.map((n) => n.stderr).join(''); }
  wsPort() { return this.nodes[this.next++ % this.nodes.length].port; }
  track(x) { return this.nodes[0].track(x); }
  log(n = 15) { return this.nodes.map((x, i) => `node ${i}:\n${x.log(n)}`).join('\n'); }
  async stop(sig) {
    // The first node last: it holds the clients to close.
    for (const x of this.nodes.slice(1)) await x.stop(sig);
    await this.nodes[0].stop(sig);
  }
}

async function serveNodes(t, args, opts) {
  const { Redis } = require('./redis_lib');
  const redis = new Redis(t);
  await redis.start();
  const nodes = [];
  for (let i = 0; i < NODES; i++) nodes.push(await startServer([...args, '--redis', redis.addr], opts));
  const srv = new Nodes(nodes, redis);
  t.after(() => srv.stop());
  return srv;
}

// Runs pusher to completion (for --help, --version, bad flags); kills it
// and fails if it is still running after timeout.
async function runPusher(args, opts = {}) {
  const proc = spawn(BIN, args, { env: childEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (d) => { stdout += d; });
  proc.stderr.on('data', (d) => { stderr += d; });
  const done = new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code, signal) => resolve({ code, signal }));
  });
  const timeout = opts.timeout || Math.round(3000 * SCALE);
  try {
    const r = await withTimeout(done, timeout, `pusher ${args.join(' ')} to exit`);
    return { ...r, stdout, stderr };
  } catch (e) {
    proc.kill('SIGKILL');
    await done.catch(() => {});
    throw new Error(`${e.message} (it kept running); stderr:\n${clip(stderr)}`);
  }
}

// ---------------------------------------------------------------- messages

// Asserts that a message from the server carries every field with its type.
function assertFull(m, who = 'message') {
  assert.equal(typeof m, 'object', `${who} is not a JSON object: ${clip(JSON.stringify(m))}`);
  assert.ok(m !== null && !Array.isArray(m), `${who} is not a JSON object`);
  for (const f of FIELDS) {
    assert.ok(Object.prototype.hasOwnProperty.call(m, f), `${who} lacks field "${f}": ${clip(JSON.stringify(m))}`);
  }
  for (const f of ['messageType', 'mediaType', 'createAt', 'updateAt', 'id']) {
    assert.ok(Number.isInteger(m[f]), `${who} field ${f} is not an integer: ${clip(JSON.stringify(m))}`);
  }
  for (const f of ['from', 'to', 'content', 'fileId', 'url']) {
    assert.equal(typeof m[f], 'string', `${who} field ${f} is not a string: ${clip(JSON.stringify(m))}`);
  }
}

// Asserts m is an error reply: a SysNotify whose content starts with "error:".
function assertError(m, who = 'reply') {
  assertFull(m, who);
  assert.equal(m.messageType, 2, `${who} should be a SysNotify (2): ${clip(JSON.stringify(m))}`);
  assert.ok(m.content.startsWith('error:'), `${who} content should start with "error:": ${clip(JSON.stringify(m))}`);
  assert.ok(m.content.length > 'error:'.length, `${who} should say what was wrong: ${JSON.stringify(m.content)}`);
}

const isSync = (m) => m && typeof m.content === 'string' && m.content.startsWith(SYNC_PREFIX);

function summary(list) {
  return clip(JSON.stringify(list.map((m) => (m && m.messageType !== undefined
    ? { t: m.messageType, from: m.from, to: m.to, c: clip(m.content, 40) } : m))), 600);
}

// ---------------------------------------------------------------- ws clients

let syncSeq = 0;

// One WebSocket connection through the `ws` package, collecting every message.
// What both client kinds share: waiting until new input wakes them, or a
// deadline passes.
class Waiter {
  constructor() { this._wakers = []; }

  _wake() {
    const w = this._wakers;
    this._wakers = [];
    for (const f of w) f();
  }

  _sleep(deadline) {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      this._wakers.push(() => { clearTimeout(t); resolve(); });
    });
  }
}

class Client extends Waiter {
  constructor(ws, userId, label, plain = false) {
    super();
    this.ws = ws;
    this.plain = plain; // queue { text } as it came instead of parsing JSON
    this.userId = userId;
    this.label = label;
    this.queue = []; // parsed messages not yet taken (text ones: objects)
    this.raw = new WeakMap(); // message -> the text frame it came in
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        this._wake();
        resolve(this.closeInfo);
      });
    });
    ws.on('error', (e) => { this.error = e; this._wake(); });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        this.queue.push({ binary: Buffer.from(data) });
      } else if (this.plain) {
        this.queue.push({ text: data.toString('utf8') });
      } else {
        const text = data.toString('utf8');
        let m;
        try {
          m = JSON.parse(text);
        } catch {
          m = { notJson: text };
        }
        if (m && typeof m === 'object') this.raw.set(m, text);
        this.queue.push(m);
      }
      this._wake();
    });
  }

  send(obj) { this.ws.send(JSON.stringify(obj)); }
  sendText(text) { this.ws.send(text); }
  sendBinary(buf) { this.ws.send(buf, { binary: true }); }

  // Removes and returns the first queued message matching pred, waiting up
  // to timeout; the messages before it stay queued.
  async take(pred = () => true, what = 'a message', timeout = WAIT) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const i = this.queue.findIndex((m) => pred(m));
      if (i >= 0) return this.queue.splice(i, 1)[0];
      if (this.closeInfo) {
        throw new Error(`${this.label}: connection closed (code ${this.closeInfo.code} ` +
          `${JSON.stringify(this.closeInfo.reason)}) while waiting for ${what}; queued: ${summary(this.queue)}`);
      }
      if (Date.now() >= deadline) {
        throw new Error(`${this.label}: timed out after ${timeout} ms waiting for ${what}; ` +
          `queued: ${summary(this.queue)}`);
      }
      await this._sleep(deadline);
    }
  }

  // The next message that is not somebody's sync marker, checked to carry
  // every field.
  async next(what = 'a message', timeout = WAIT) {
    const m = await this.take((x) => !isSync(x), what, timeout);
    assertFull(m, `${this.label}: ${what}`);
    return m;
  }

  // Waits for a message matching pred; removes it and everything queued
  // before it, and returns those earlier ones (sync markers left out).
  async until(pred, what, timeout = WAIT) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const i = this.queue.findIndex((m) => pred(m));
      if (i >= 0) {
        const before = this.queue.slice(0, i).filter((m) => !isSync(m));
        this.queue = this.queue.slice(i + 1);
        return before;
      }
      if (this.closeInfo) {
        throw new Error(`${this.label}: connection closed (code ${this.closeInfo.code}) while waiting for ${what}; ` +
          `queued: ${summary(this.queue)}`);
      }
      if (Date.now() >= deadline) {
        throw new Error(`${this.label}: timed out after ${timeout} ms waiting for ${what}; queued: ${summary(this.queue)}`);
      }
      await this._sleep(deadline);
    }
  }

  // Sends a Single to itself and returns what this connection received before
  // that marker came back: the messages already routed to it.
  async sync(timeout = WAIT) {
    return syncVia(this, this, timeout);
  }

  // Every queued message (sync markers left out), removed from the queue.
  drain() {
    const out = this.queue.filter((m) => !isSync(m));
    this.queue = [];
    return out;
  }

  async close(code = 1000) {
    if (!this.closeInfo) this.ws.close(code);
    return withTimeout(this.closed, WAIT, `${this.label} to close`);
  }

  // Waits for the server to close this connection and checks the code.
  async expectClose(code, timeout = WAIT) {
    const info = await withTimeout(this.closed, timeout,
      `${this.label} to be closed with ${code}; queued: ${summary(this.queue)}`);
    assert.equal(info.code, code, `${this.label} closed with ${info.code} ${JSON.stringify(info.reason)}, expected ${code}`);
    return info;
  }

  get isOpen() { return this.ws.readyState === WebSocket.OPEN; }
}

// sender sends a Single to receiver's user; returns what receiver got before
// it. The server handles one connection's frames in order and queues each
// connection's output in order, so anything sender caused earlier that was
// meant for receiver has arrived by then: a barrier that proves an absence
// without sleeping.
async function syncVia(sender, receiver, timeout = WAIT) {
  const tag = `${SYNC_PREFIX}${process.pid}:${++syncSeq}`;
  sender.send({ messageType: 0, mediaType: 0, to: receiver.userId, content: tag });
  const before = await receiver.until((m) => m && m.content === tag,
    `sync marker ${tag} from ${sender.label}`, timeout);
  for (const m of before) assertFull(m, `${receiver.label}: message before sync`);
  return before;
}

let labelSeq = 0;

// Opens a WebSocket to /websocket?userId=... (or opts.path / opts.query),
// resolving once it is open with a Client that has collected everything since.
// opts.plain keeps text messages as { text } instead of parsing them.
async function connect(srv, userId, opts = {}) {
  const p = opts.path || '/websocket';
  let query = opts.rawQuery !== undefined ? opts.rawQuery
    : (userId === null ? '' : `userId=${encodeURIComponent(userId)}`);
  if (opts.query) query += (query ? '&' : '') + opts.query;
  const port = srv.wsPort ? srv.wsPort() : srv.port;
  const url = `${srv.tls ? 'wss' : 'ws'}://127.0.0.1:${port}${p}${query ? `?${query}` : ''}`;
  // The test certificates are self-signed: what they prove is the server's
  // TLS, not a chain of trust.
  const ws = new WebSocket(url, {
    headers: opts.headers, handshakeTimeout: WAIT, rejectUnauthorized: false, ...opts.wsOptions,
  });
  const label = opts.label || `${userId}#${++labelSeq}`;
  const c = srv.track(new Client(ws, userId, label, opts.plain));
  await withTimeout(new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('close', () => reject(new Error(`${label}: handshake to ${url} failed` +
      `${c.error ? `: ${c.error.message}` : ''}`)));
    ws.once('error', (e) => reject(new Error(`${label}: handshake to ${url} failed: ${e.message}` +
      `\nserver stderr:\n${srv.log(5)}`)));
  }), WAIT, `${label} to open ${url}`);
  return c;
}

// Syncs each client and returns what each had received (history, notices).
async function settle(...clients) {
  const out = [];
  for (const c of clients) out.push(await c.sync());
  return out;
}

// A fresh connection can still be opened and routes a message to itself.
let probeSeq = 0;
async function assertServes(srv) {
  const c = await connect(srv, `probe-${process.pid}-${++probeSeq}`);
  await c.sync();
  await c.close();
}

// ---------------------------------------------------------------- raw sockets

class RawSocket extends Waiter {
  constructor(sock) {
    super();
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.ended = false; // the peer closed (FIN or reset)
    this.error = null;
    this.endedAt = 0;
    sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this._wake(); });
    const end = () => {
      if (!this.ended) { this.ended = true; this.endedAt = Date.now(); }
      this._wake();
    };
    sock.on('end', end);
    sock.on('close', end);
    sock.on('error', (e) => { this.error = e; end(); });
  }

  // A connection to srv: over TLS when srv speaks it (then resolved once
  // the TLS handshake is done), unless o.plain; o.tls adds node:tls options.
  static async open(srv, o = {}) {
    const secure = srv.tls && !o.plain;
    const sock = secure
      ? tls.connect({ host: '127.0.0.1', port: srv.port, servername: 'localhost', rejectUnauthorized: false, ...o.tls })
      : net.connect({ host: '127.0.0.1', port: srv.port });
    sock.setNoDelay(true);
    const raw = srv.track(new this(sock));
    await withTimeout(new Promise((resolve, reject) => {
      sock.once(secure ? 'secureConnect' : 'connect', resolve);
      sock.once('error', reject);
    }), WAIT, `${secure ? 'TLS' : 'TCP'} connect to 127.0.0.1:${srv.port}`);
    return raw;
  }

  write(data) {
    if (!this.sock.destroyed && this.sock.writable) this.sock.write(data);
  }

  // Calls fn() until it returns a value other than undefined; fn may look at
  // this.buf and this.ended.
  async waitUntil(fn, what, timeout = WAIT) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const r = fn();
      if (r !== undefined) return r;
      if (Date.now() >= deadline) {
        throw new Error(`raw socket: timed out after ${timeout} ms waiting for ${what}; ` +
          `${this.ended ? 'peer closed; ' : ''}buffered ${this.buf.length} bytes: ${clip(JSON.stringify(this.buf.toString('latin1')), 200)}`);
      }
      await this._sleep(deadline);
    }
  }

  // Resolves once the server has closed the TCP connection.
  async waitEnd(timeout = WAIT, what = 'the server to close the TCP connection') {
    await this.waitUntil(() => (this.ended ? true : undefined), what, timeout);
  }

  // Reads one HTTP response head (and its body, by Content-Length, or to the
  // end of the connection when there is none; none for 101).
  async readResponse(timeout = WAIT) {
    const headEnd = await this.waitUntil(() => {
      const i = this.buf.indexOf('\r\n\r\n');
      if (i >= 0) return i;
      if (this.ended) throw new Error(`connection closed before a complete HTTP response; got ${clip(JSON.stringify(this.buf.toString('latin1')))}`);
      return undefined;
    }, 'an HTTP response head', timeout);
    const head = this.buf.subarray(0, headEnd).toString('latin1');
    this.buf = this.buf.subarray(headEnd + 4);
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
    assert.ok(m, `bad HTTP status line ${JSON.stringify(lines[0])}`);
    const status = Number(m[1]);
    const headers = {};
    const headerList = [];
    for (const line of lines.slice(1)) {
      const c = line.indexOf(':');
      assert.ok(c > 0, `bad response header line ${JSON.stringify(line)}`);
      const name = line.slice(0, c).toLowerCase();
      const value = line.slice(c + 1).trim();
      headerList.push([name, value]);
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    let body = Buffer.alloc(0);
    if (status !== 101 && status !== 204 && status !== 304) {
      if (headers['content-length'] !== undefined) {
        assert.match(headers['content-length'], /^\d+$/, 'Content-Length must be digits');
        const n = Number(headers['content-length']);
        body = await this.waitUntil(() => {
          if (this.buf.length >= n) {
            const b = this.buf.subarray(0, n);
            this.buf = this.buf.subarray(n);
            return b;
          }
          if (this.ended) throw new Error(`connection closed after ${this.buf.length} of ${n} body bytes`);
          return undefined;
        }, `${n} body bytes`, timeout);
      } else {
        await this.waitEnd(timeout, 'the end of a response without Content-Length');
        body = this.buf;
        this.buf = Buffer.alloc(0);
      }
    }
    return { status, reason: m[2] || '', headers, headerList, head, bodyBuf: body, body: body.toString('utf8') };
  }

  destroy() { this.sock.destroy(); }
}

// ---------------------------------------------------------------- frames

// Builds one client frame. o: fin (true), rsv (0..7), mask (true), key,
// len (the length to declare, default the payload's), form (7, 16 or 64:
// the length encoding, default the minimal one).
function frame(opcode, payload = Buffer.alloc(0), o = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const fin = o.fin === undefined ? true : o.fin;
  const mask = o.mask === undefined ? true : o.mask;
  const rsv = o.rsv || 0;
  const len = o.len === undefined ? data.length : o.len;
  const form = o.form || (len < 126 ? 7 : len < 65536 ? 16 : 64);
  const parts = [];
  const b0 = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  const mbit = mask ? 0x80 : 0;
  if (form === 7) {
    parts.push(Buffer.from([b0, mbit | len]));
  } else if (form === 16) {
    const h = Buffer.alloc(4);
    h[0] = b0; h[1] = mbit | 126; h.writeUInt16BE(len, 2);
    parts.push(h);
  } else {
    const h = Buffer.alloc(10);
    h[0] = b0; h[1] = mbit | 127; h.writeBigUInt64BE(BigInt(len), 2);
    parts.push(h);
  }
  if (mask) {
    const key = o.key || crypto.randomBytes(4);
    parts.push(key);
    const masked = Buffer.alloc(data.length);
    for (let i = 0; i < data.length; i++) masked[i] = data[i] ^ key[i & 3];
    parts.push(masked);
  } else {
    parts.push(data);
  }
  return Buffer.concat(parts);
}

const OP = { cont: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 };

function closePayload(code, reason = '') {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.isBuffer(reason) ? reason : Buffer.from(reason)]);
}

// Parses one server frame at the start of buf: null when incomplete.
function parseFrame(buf) {
  if (buf.length < 2) return null;
  const fin = (buf[0] & 0x80) !== 0;
  const rsv = (buf[0] >> 4) & 7;
  const opcode = buf[0] & 0x0f;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    len = Number(buf.readBigUInt64BE(2));
    off = 10;
  }
  let key = null;
  if (masked) {
    if (buf.length < off + 4) return null;
    key = buf.subarray(off, off + 4);
    off += 4;
  }
  if (buf.length < off + len) return null;
  let payload = Buffer.from(buf.subarray(off, off + len));
  if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
  return { fin, rsv, opcode, masked, payload, size: off + len };
}

// A raw socket after a WebSocket handshake: reads and writes frames by hand.
class RawWs extends RawSocket {
  sendFrame(opcode, payload, o) { this.write(frame(opcode, payload, o)); }
  sendText(text, o) { this.sendFrame(OP.text, Buffer.from(text), o); }
  sendJson(obj) { this.sendText(JSON.stringify(obj)); }

  // The next server frame; asserts the server never masks and sets no RSV bit.
  async readFrame(timeout = WAIT, what = 'a frame') {
    const f = await this.waitUntil(() => {
      const fr = parseFrame(this.buf);
      if (fr) {
        this.buf = this.buf.subarray(fr.size);
        return fr;
      }
      if (this.ended) throw new Error(`connection closed while waiting for ${what}`);
      return undefined;
    }, what, timeout);
    assert.equal(f.masked, false, 'a server frame must not be masked (RFC 6455 §5.1)');
    assert.equal(f.rsv, 0, 'a server frame must not set RSV bits');
    return f;
  }

  // The next whole text message, parsed as JSON; pings and pongs are skipped
  // (opts.answerPings answers them), a close frame fails.
  async nextMessage(timeout = WAIT, opts = {}) {
    const deadline = Date.now() + timeout;
    let parts = null;
    for (;;) {
      const f = await this.readFrame(Math.max(1, deadline - Date.now()), 'a text message');
      if (f.opcode === OP.ping) {
        if (opts.answerPings) this.sendFrame(OP.pong, f.payload);
        continue;
      }
      if (f.opcode === OP.pong) continue;
      if (f.opcode === OP.close) {
        throw new Error(`server closed with ${f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 'no code'} ` +
          `${JSON.stringify(f.payload.subarray(2).toString())} while a text message was awaited`);
      }
      if (parts === null) {
        assert.equal(f.opcode, OP.text, `expected a text frame, got opcode ${f.opcode}`);
        parts = [f.payload];
      } else {
        assert.equal(f.opcode, OP.cont, `expected a continuation frame, got opcode ${f.opcode}`);
        parts.push(f.payload);
      }
      if (f.fin) {
        const text = Buffer.concat(parts).toString('utf8');
        const m = JSON.parse(text);
        assertFull(m, 'raw client message');
        return m;
      }
    }
  }

  // The next text message matching pred; earlier ones are dropped.
  async nextWhere(pred, what = 'a matching message', timeout = WAIT) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const m = await this.nextMessage(Math.max(1, deadline - Date.now()));
      if (pred(m)) return m;
    }
  }

  // Sends a Single to userId (itself) and returns the messages before it.
  async sync(userId, timeout = WAIT) {
    const tag = `${SYNC_PREFIX}${process.pid}:${++syncSeq}`;
    this.sendJson({ messageType: 0, to: userId, content: tag });
    const before = [];
    const deadline = Date.now() + timeout;
    for (;;) {
      const m = await this.nextMessage(Math.max(1, deadline - Date.now()));
      if (m.content === tag) return before;
      before.push(m);
    }
  }

  // Reads frames until a close frame (skipping data, pings and pongs), checks
  // its code (a number, an array of acceptable ones, or null for an empty
  // close), optionally answers it, then expects the TCP connection to end.
  async expectClose(code, timeout = WAIT, opts = {}) {
    const deadline = Date.now() + timeout;
    const skipped = [];
    let f;
    for (;;) {
      f = await this.readFrame(Math.max(1, deadline - Date.now()), `a close frame with ${JSON.stringify(code)}`);
      if (f.opcode === OP.close) break;
      skipped.push(f);
    }
    assert.equal(f.fin, true, 'a close frame must have FIN set');
    assert.notEqual(f.payload.length, 1, 'a close payload of one byte is invalid');
    const got = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
    const ok = Array.isArray(code) ? code.includes(got) : got === code;
    assert.ok(ok, `server closed with ${got} ${JSON.stringify(f.payload.subarray(2).toString())}, expected ${JSON.stringify(code)}`);
    if (opts.reply !== false) this.sendFrame(OP.close, f.payload.subarray(0, 2));
    await this.waitEnd(Math.max(1, deadline - Date.now()) + WAIT,
      `the TCP connection to end after close ${got}`);
    return { code: got, reason: f.payload.subarray(2).toString(), skipped };
  }
}

function randomKey() { return crypto.randomBytes(16).toString('base64'); }

function acceptFor(key) {
  return crypto.createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

// Builds an upgrade request for target. headers override the defaults by
// name (case-insensitively: the given spelling is used), omit drops some.
function upgradeRequest(target, o = {}) {
  const key = o.key || randomKey();
  const defaults = [
    ['Host', '127.0.0.1'],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', key],
    ['Sec-WebSocket-Version', '13'],
  ];
  const extra = Object.entries(o.headers || {});
  const omit = (o.omit || []).map((h) => h.toLowerCase());
  const lines = [];
  for (const [name, value] of defaults) {
    if (omit.includes(name.toLowerCase())) continue;
    const over = extra.find(([n]) => n.toLowerCase() === name.toLowerCase());
    lines.push(over ? `${over[0]}: ${over[1]}` : `${name}: ${value}`);
  }
  for (const [n, v] of extra) {
    if (!defaults.some(([d]) => d.toLowerCase() === n.toLowerCase())) lines.push(`${n}: ${v}`);
  }
  const keyOver = extra.find(([n]) => n.toLowerCase() === 'sec-websocket-key');
  return { key: keyOver ? keyOver[1] : key, text: `GET ${target} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n` };
}

// Sends an upgrade request by hand and reads the answer. Returns
// { res, raw, key }; raw is a RawWs positioned after the response head.
async function rawHandshake(srv, target, o = {}) {
  const raw = await RawWs.open(srv, o);
  const req = upgradeRequest(target, o);
  raw.write(req.text);
  const res = await raw.readResponse(o.timeout || WAIT);
  return { res, raw, key: req.key };
}

// A raw WebSocket for userId that passed the handshake (checked in full).
async function rawConnect(srv, userId, o = {}) {
  const q = o.rawQuery !== undefined ? o.rawQuery : `userId=${encodeURIComponent(userId)}`;
  const { res, raw, key } = await rawHandshake(srv, `${o.path || '/websocket'}?${q}`, o);
  assert.equal(res.status, 101, `upgrade of ${userId} answered ${res.status} ${res.body}`);
  assert.equal(res.headers['sec-websocket-accept'], acceptFor(key), 'Sec-WebSocket-Accept');
  return raw;
}

// ---------------------------------------------------------------- HTTP

// Sends bytes on a fresh connection and reads one response. The RawSocket
// is returned in .raw, to check whether the server then closed it.
async function httpRaw(srv, bytes, o = {}) {
  const raw = await RawSocket.open(srv, o);
  raw.write(bytes);
  const res = await raw.readResponse(o.timeout || WAIT);
  res.raw = raw;
  return res;
}

async function httpRequest(srv, o = {}) {
  const method = o.method || 'GET';
  const target = o.path || '/';
  const body = o.body === undefined ? null : Buffer.from(o.body);
  const lines = [`${method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${srv.port}`];
  for (const [k, v] of Object.entries(o.headers || {})) lines.push(`${k}: ${v}`);
  if (body && !o.noContentLength && !Object.keys(o.headers || {}).some((k) => k.toLowerCase() === 'content-length')) {
    lines.push(`Content-Length: ${body.length}`);
  }
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return httpRaw(srv, body ? Buffer.concat([head, body]) : head, o);
}

async function get(srv, p, headers) {
  const res = await httpRequest(srv, { path: p, headers });
  res.raw.destroy();
  return res;
}

// Asserts a plain HTTP error answer: status, text/plain, a one-line body,
// and (closes) that the server closes the connection afterwards.
async function expectPlainError(res, status, o = {}) {
  const st = Array.isArray(status) ? status : [status];
  assert.ok(st.includes(res.status), `expected HTTP ${st.join(' or ')}, got ${res.status} ${JSON.stringify(res.body)}`);
  assert.match(res.headers['content-type'] || '', /^text\/plain\b/i, `a ${res.status} answer should be text/plain`);
  assert.ok(res.headers['content-length'] !== undefined, 'plain answers carry Content-Length');
  assert.equal(Number(res.headers['content-length']), res.bodyBuf.length);
  assert.match(res.body, /^[^\r\n]+\n?$/, `body should be one line of text: ${JSON.stringify(res.body)}`);
  if (o.closes) await res.raw.waitEnd(WAIT, `the server to close the connection after its ${res.status}`);
  if (res.raw) res.raw.destroy();
}

// ---------------------------------------------------------------- metrics

// Parses the Prometheus text format strictly; returns { samples, types }.
function parseMetrics(text) {
  assert.ok(text.endsWith('\n'), 'metrics text must end with a newline');
  const samples = new Map();
  const types = new Map();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (m) types.set(m[1], m[2]);
      else assert.match(line, /^# (HELP \S+( .*)?|[^ ].*)?$/, `bad metrics comment ${JSON.stringify(line)}`);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/.exec(line);
    assert.ok(m, `bad metrics line ${JSON.stringify(line)}`);
    const labels = [];
    if (m[2] !== undefined && m[2] !== '') {
      const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"\s*(,|$)/gy;
      let lm;
      let pos = 0;
      while (pos < m[2].length && (lm = re.exec(m[2])) !== null) {
        labels.push([lm[1], lm[2]]);
        pos = re.lastIndex;
        if (lm[3] === '') break;
      }
      assert.equal(pos, m[2].length, `bad labels in metrics line ${JSON.stringify(line)}`);
    }
    const v = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    assert.ok(!Number.isNaN(v) || m[3] === 'NaN', `bad sample value in ${JSON.stringify(line)}`);
    samples.set(metricKey(m[1], Object.fromEntries(labels)), v);
  }
  return { samples, types, text };
}

function metricKey(name, labels = {}) {
  const l = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}="${v}"`).join(',');
  return `${name}{${l}}`;
}

// A sample's value, or undefined when absent.
function metric(m, name, labels = {}) { return m.samples.get(metricKey(name, labels)); }
// A counter's value, 0 while its series has not appeared yet.
function counter(m, name, labels = {}) { return metric(m, name, labels) || 0; }

// /metrics of srv; of several nodes, every series added up over them (each
// node counts its own: the totals of counters and of connections are the
// cluster's, a gauge of distinct things such as users is not).
async function metrics(srv) {
  if (srv.nodes) {
    const all = [];
    for (const n of srv.nodes) all.push(await metrics(n));
    const samples = new Map();
    for (const m of all) for (const [k, v] of m.samples) samples.set(k, (samples.get(k) || 0) + v);
    return { samples, types: all[0].types, text: all.map((m) => m.text).join('') };
  }
  const res = await get(srv, '/metrics');
  assert.equal(res.status, 200, `/metrics answered ${res.status}`);
  return parseMetrics(res.body);
}

async function adminCount(srv) {
  const res = await get(srv, '/admin');
  assert.equal(res.status, 200, `/admin answered ${res.status}`);
  assert.match(res.body, /^\d+\n$/, `/admin body should be a count and a newline: ${JSON.stringify(res.body)}`);
  return Number(res.body);
}

// Waits until /admin reports n open WebSocket connections.
async function waitConnections(srv, n, timeout = WAIT) {
  let last;
  try {
    await waitFor(async () => { last = await adminCount(srv); return last === n; },
      `/admin to report ${n} connections`, timeout, 20);
  } catch (e) {
    throw new Error(`${e.message} (last: ${last})`);
  }
}

// ---------------------------------------------------------------- JWT

function b64url(x) { return Buffer.from(x).toString('base64url'); }

// A JWT of payload; alg HS256 (default), HS512 or none; header overrides it.
function makeJwt(payload, secret, o = {}) {
  const alg = o.alg || 'HS256';
  const header = o.header || { alg, typ: 'JWT' };
  const data = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  let sig = '';
  if (alg === 'HS256') sig = b64url(crypto.createHmac('sha256', secret).update(data).digest());
  else if (alg === 'HS512') sig = b64url(crypto.createHmac('sha512', secret).update(data).digest());
  return `${data}.${sig}`;
}

// ---------------------------------------------------------------- push

async function push(srv, body, headers = {}) {
  const res = await httpRequest(srv, {
    method: 'POST',
    path: '/api/push',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  res.raw.destroy();
  return res;
}

module.exports = {
  BIN, WAIT, T, SCALE, NODES, TLS_SUITE, FIELDS, OP, sleep, clip, waitFor, withTimeout,
  tmpDir, makeCert, testCert,
  startServer, serve, runPusher, Server,
  assertFull, assertError, isSync, Client, connect, settle, syncVia, assertServes,
  RawSocket, RawWs, frame, parseFrame, closePayload, randomKey, acceptFor,
  upgradeRequest, rawHandshake, rawConnect,
  httpRaw, httpRequest, get, expectPlainError,
  parseMetrics, metric, counter, metrics, adminCount, waitConnections,
  makeJwt, push,
};

// ---------------------------------------------------------------- appended generic helpers

// Writes data (a string or bytes) to a raw socket one byte every `every` ms,
// until the data runs out or the server hangs up.
async function trickle(raw, data, every) {
  const buf = Buffer.from(data);
  for (let i = 0; i < buf.length && !raw.ended; i++) {
    raw.write(buf.subarray(i, i + 1));
    await sleep(every);
  }
}

// The first flight of a real TLS client (Node's own ClientHello, record
// 0x16 0x03 0x01 ...), caught by a throwaway loopback listener. A ClientHello
// always holds LF and CR bytes (extension types 0x000a and 0x000d), so
// opts.beforeNewline returns only what precedes the first of them, drawing
// again until that is at least opts.beforeNewline bytes: what a server that
// waits for a line end would sit on.
async function tlsClientHello(opts = {}) {
  const tls = require('node:tls');
  for (let attempt = 0; attempt < 200; attempt++) {
    const hello = await withTimeout(new Promise((resolve, reject) => {
      const server = net.createServer((s) => {
        s.once('data', (d) => { resolve(Buffer.from(d)); s.destroy(); server.close(); });
      });
      server.on('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const c = tls.connect({ host: '127.0.0.1', port: server.address().port, servername: 'localhost', rejectUnauthorized: false });
        c.on('error', () => { /* the listener hangs up */ });
      });
    }), WAIT, 'a TLS ClientHello from node:tls');
    if (!opts.beforeNewline) return hello;
    let cut = hello.findIndex((b) => b === 0x0a || b === 0x0d);
    if (cut < 0) cut = hello.length;
    if (cut >= opts.beforeNewline) return hello.subarray(0, cut);
  }
  throw new Error(`no ClientHello with ${opts.beforeNewline} bytes before its first CR or LF in 200 draws`);
}

// Compares two strings by their UTF-8 bytes (not JavaScript's UTF-16 order).
function byteCompare(a, b) { return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')); }

Object.assign(module.exports, { trickle, tlsClientHello, byteCompare });
