'use strict';
// A redis-server of a test's own on a private Unix socket in a fresh
// directory, stopped by its PID (redis.test.js, nodes.test.js).

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const h = require('./helpers');

function redisServerPath() {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('redis-server is not installed: run tests/setup as root, or apt-get install redis-server');
  }
}

const canConnect = (sock) => new Promise((resolve) => {
  const s = net.connect(sock);
  s.on('connect', () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

// A redis-server of this test's own, on DIR/redis.sock; start() again
// after a kill reuses the directory and the socket's path.
class Redis {
  constructor(t, extra = []) {
    this.bin = redisServerPath();
    this.dir = h.tmpDir('pusher-redis-');
    this.sock = path.join(this.dir, 'redis.sock');
    this.addr = `unix:${this.sock}`;
    this.extra = extra;
    this.proc = null;
    t.after(() => this.kill('SIGTERM'));
  }

  async start() {
    const args = ['--port', '0', '--unixsocket', this.sock, '--dir', this.dir, '--save', '',
      '--appendonly', 'no', '--daemonize', 'no', ...this.extra];
    const log = fs.openSync(path.join(this.dir, 'redis.log'), 'a');
    const proc = spawn(this.bin, args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.on('close', resolve));
    await h.waitFor(async () => {
      if (proc.exitCode !== null) {
        throw new Error(`redis-server exited: ${fs.readFileSync(path.join(this.dir, 'redis.log'), 'utf8')}`);
      }
      return canConnect(this.sock);
    }, `redis-server to accept on ${this.sock}`, 5000);
  }

  // One command on a connection of its own; resolves to the reply, read
  // just enough to serve the tests (a simple string, an error, an integer,
  // a bulk string, or an array of those).
  command(...args) {
    return h.withTimeout(new Promise((resolve, reject) => {
      const s = net.connect(this.sock);
      let buf = Buffer.alloc(0);
      s.on('error', reject);
      s.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        const r = parseReply(buf, 0);
        if (r) { s.destroy(); resolve(r.value); }
      });
      s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`);
    }), 5000, `redis ${args.join(' ')}`);
  }

  async kill(sig = 'SIGKILL') {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill(sig);
    await this.exited;
  }
}

// A RESP2 reply at buf[at..]: { value, end }, or null for "need more".
function parseReply(buf, at) {
  const nl = buf.indexOf('\r\n', at);
  if (nl < 0) return null;
  const line = buf.toString('utf8', at + 1, nl);
  const type = String.fromCharCode(buf[at]);
  if (type === '+') return { value: line, end: nl + 2 };
  if (type === '-') return { value: new Error(line), end: nl + 2 };
  if (type === ':') return { value: Number(line), end: nl + 2 };
  if (type === '$') {
    const n = Number(line);
    if (n < 0) return { value: null, end: nl + 2 };
    if (buf.length < nl + 2 + n + 2) return null;
    return { value: buf.toString('utf8', nl + 2, nl + 2 + n), end: nl + 2 + n + 2 };
  }
  if (type === '*') {
    const n = Number(line);
    const out = [];
    let end = nl + 2;
    for (let i = 0; i < n; i++) {
      const r = parseReply(buf, end);
      if (!r) return null;
      out.push(r.value);
      end = r.end;
    }
    return { value: out, end };
  }
  throw new Error(`not a RESP reply: ${line}`);
}

module.exports = { Redis, redisServerPath };
