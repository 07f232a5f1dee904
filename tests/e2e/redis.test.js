'use strict';
// PROTOCOL.md "Several nodes", the part built so far: with --redis the node
// connects at start (a Redis that is not there or refuses the password
// stops the start with exit status 2 and one line), keeps the connection up
// across a Redis killed and restarted while it goes on serving, and shows it
// in /metrics. Each test starts its own redis-server on a Unix socket in a
// fresh directory and stops it by its PID; without redis-server the tests
// fail saying so.

const { test } = require('node:test');
const assert = require('node:assert/strict');
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

  async kill(sig = 'SIGKILL') {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill(sig);
    await this.exited;
  }
}

const redisSeries = (m) => ({
  up: h.metric(m, 'pusher_redis_up'),
  rtt: h.metric(m, 'pusher_redis_rtt_seconds'),
  reconnects: h.metric(m, 'pusher_redis_reconnects_total'),
});

test('with --redis the node starts connected and /metrics shows it; without, no Redis series', h.T, async (t) => {
  const redis = new Redis(t);
  await redis.start();
  const srv = await h.serve(t, ['--redis', redis.addr]);
  assert.match(srv.stderr, /event=redis_up addr="unix:[^"]+" rtt_us=\d+/);
  const m = await h.metrics(srv);
  const s = redisSeries(m);
  assert.equal(s.up, 1);
  assert.ok(s.rtt > 0 && s.rtt < 1, `pusher_redis_rtt_seconds ${s.rtt}`);
  assert.equal(s.reconnects, 0);
  assert.equal(m.types.get('pusher_redis_up'), 'gauge');
  assert.equal(m.types.get('pusher_redis_reconnects_total'), 'counter');
  await h.assertServes(srv);

  const plain = await h.serve(t, []);
  const none = redisSeries(await h.metrics(plain));
  assert.deepEqual(none, { up: undefined, rtt: undefined, reconnects: undefined });
});

test('Redis killed: the node keeps serving and shows it down; restarted: back within 5 s, one reconnect', h.T, async (t) => {
  const redis = new Redis(t);
  await redis.start();
  const srv = await h.serve(t, ['--redis', redis.addr]);
  const alice = await h.connect(srv, 'alice');
  await alice.sync();

  await redis.kill('SIGKILL');
  await h.waitFor(async () => redisSeries(await h.metrics(srv)).up === 0, 'pusher_redis_up 0');
  assert.match(srv.stderr, /event=redis_down addr="unix:[^"]+" reason="(command|subscriber) connection: /);
  await h.assertServes(srv); // chat does not go through Redis yet: nothing stops
  await alice.sync();

  await h.sleep(1500); // a few retries, backing off
  await redis.start();
  const back = Date.now();
  await h.waitFor(async () => redisSeries(await h.metrics(srv)).up === 1, 'pusher_redis_up 1 again',
    Math.round(6000 * h.SCALE), 50);
  assert.ok(Date.now() - back <= 5000 * h.SCALE, `back after ${Date.now() - back} ms`);
  assert.equal(redisSeries(await h.metrics(srv)).reconnects, 1);
  const downs = srv.stderr.split('\n').filter((l) => /event=redis_down/.test(l));
  assert.equal(downs.length, 1, `one down, however many retries:\n${downs.join('\n')}`);
  await alice.close();
});

test('a Redis that refuses the password, or is not there, stops the start with exit status 2 and one line', h.T, async (t) => {
  const redis = new Redis(t, ['--requirepass', 's3cret']);
  await redis.start();
  const base = ['--bind', '127.0.0.1', '--port', '0', '--redis', redis.addr];
  const expect2 = async (args, re, opts) => {
    const r = await h.runPusher(args, opts);
    assert.equal(r.code, 2, `exit status ${r.code}; stderr: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
    assert.match(lines[0], re);
  };
  await expect2([...base, '--redis-password', 'wrong'],
    /^pusher: cannot use Redis at unix:\S+: (command|subscriber) connection: AUTH refused: WRONGPASS /);
  await expect2(base, /^pusher: cannot use Redis at unix:\S+: (command|subscriber) connection: PING refused: NOAUTH /);
  await expect2(['--redis', `unix:${redis.dir}/none.sock`], /connect: No such file or directory$/);
  await expect2(['--redis', 'redis.example.com:6379'], /^pusher: --redis must be .*no DNS.*\(got "redis\.example\.com:6379"\)$/);
  await expect2(['--redis-password', 's3cret'], /^pusher: --redis-password needs --redis$/);

  // The password from the environment twin, as the man page advises.
  const srv = await h.serve(t, ['--redis', redis.addr], { env: { PUSHER_REDIS_PASSWORD: 's3cret' } });
  assert.equal(redisSeries(await h.metrics(srv)).up, 1);
});
