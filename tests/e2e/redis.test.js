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
const h = require('./helpers');
const { Redis } = require('./redis_lib');

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
  // Routing goes through Redis: the connection stays, its messages are refused.
  alice.send({ messageType: 1, content: 'while down' });
  const refused = await alice.next('the error: while Redis is down');
  h.assertError(refused);
  assert.match(refused.content, /^error: Redis is unreachable/);

  await h.sleep(1500); // a few retries, backing off
  await redis.start();
  const back = Date.now();
  await h.waitFor(async () => redisSeries(await h.metrics(srv)).up === 1, 'pusher_redis_up 1 again',
    Math.round(6000 * h.SCALE), 50);
  assert.ok(Date.now() - back <= 5000 * h.SCALE, `back after ${Date.now() - back} ms`);
  assert.equal(redisSeries(await h.metrics(srv)).reconnects, 1);
  const downs = srv.stderr.split('\n').filter((l) => /event=redis_down/.test(l));
  assert.equal(downs.length, 1, `one down, however many retries:\n${downs.join('\n')}`);
  await alice.sync();
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
