'use strict';
// contrib/pusher.service: checked by systemd's own tools where no systemd
// runs (a container has none as PID 1), and its sandbox held against what
// pusher really does: the system calls, socket families, file opens and
// memory mappings of a whole session, seen by strace.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const h = require('../e2e/helpers');
const { ROOT, OUT, UNIT, run, makeInstall, readUnit, setting, unitEnv } = require('./deploy');

const T = { timeout: 120000 };

// The unit, with ExecStart pointed at a `make install` under dest (systemd-
// analyze checks that the program exists and that its man page does).
async function installedUnit(name) {
  const dest = path.join(OUT, name);
  await makeInstall(dest, '/usr/local');
  const text = fs.readFileSync(UNIT, 'utf8');
  const exec = 'ExecStart=/usr/local/bin/pusher';
  assert.equal(text.split(exec).length - 1, 1, `contrib/pusher.service should say ${exec} once (the make install default)`);
  const file = path.join(dest, 'pusher.service');
  fs.writeFileSync(file, text.replace(exec, `ExecStart=${dest}/usr/local/bin/pusher`));
  return { dest, file, man: path.join(dest, 'usr/local/share/man') };
}

test('systemd-analyze verify accepts contrib/pusher.service, and would catch a slip', T, async () => {
  const { dest, file, man } = await installedUnit('service');
  const ok = await run('systemd-analyze', ['verify', file], { env: { MANPATH: man } });
  assert.equal(ok.code, 0, `systemd-analyze verify:\n${ok.out}`);
  assert.equal(ok.out.trim(), '', `systemd-analyze verify has something to say:\n${ok.out}`);

  // The same check on a misspelt copy, and without the man page: both heard.
  const bad = path.join(dest, 'typo.service');
  fs.writeFileSync(bad, fs.readFileSync(file, 'utf8').replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes'));
  const typo = await run('systemd-analyze', ['verify', bad], { env: { MANPATH: man } });
  assert.match(typo.out, /Unknown key .*NoNewPrivilege/, typo.out);
  const noMan = await run('systemd-analyze', ['verify', file], { env: { MANPATH: path.join(dest, 'nowhere') } });
  assert.notEqual(noMan.code, 0, 'verify checks Documentation=man:pusher(1)');
});

test('the unit: a dynamic user, no new privileges, a read-only system, a file limit, restart on failure', T, async (t) => {
  const unit = readUnit();
  const want = {
    DynamicUser: 'yes', NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes',
    PrivateTmp: 'yes', Restart: 'on-failure', KillSignal: 'SIGTERM',
  };
  for (const [k, v] of Object.entries(want)) assert.equal(setting(unit, 'Service', k), v, `[Service] ${k}`);
  assert.ok(Number(setting(unit, 'Service', 'LimitNOFILE')) >= 65536, 'LimitNOFILE leaves room for many connections');
  assert.equal(setting(unit, 'Service', 'CapabilityBoundingSet'), '', 'no capabilities at all');
  assert.equal(setting(unit, 'Unit', 'Documentation'), 'man:pusher(1)');
  assert.equal(setting(unit, 'Install', 'WantedBy'), 'multi-user.target');

  const { file } = await installedUnit('security');
  const sec = await run('systemd-analyze', ['security', '--offline=yes', '--no-pager', file]);
  const m = /Overall exposure level for \S+: (\d+\.\d+) (\S+)/.exec(sec.out);
  assert.ok(m, `systemd-analyze security said:\n${sec.out.slice(-2000)}`);
  assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]} ${m[2]}: tighten the sandbox`);
  t.diagnostic(`systemd-analyze security --offline: exposure ${m[1]} ${m[2]}`);
});

// ---------------------------------------------------------------- the sandbox, held against strace

// Every system call a systemd syscall set allows, its @subsets expanded.
async function syscallSet(name, cache = new Map()) {
  if (cache.has(name)) return cache.get(name);
  const r = await run('systemd-analyze', ['syscall-filter', '--no-pager', name]);
  assert.equal(r.code, 0, r.out);
  const set = new Set();
  cache.set(name, set);
  for (const line of r.out.split('\n').slice(1)) {
    const w = line.trim();
    if (!w || w.startsWith('#')) continue;
    if (w.startsWith('@')) for (const s of await syscallSet(w, cache)) set.add(s);
    else set.add(w);
  }
  return set;
}

// What SystemCallFilter= lines leave allowed: the first allow-list, less every ~deny-list.
async function allowedSyscalls(unit) {
  const filters = (unit.Service || []).filter(([k]) => k === 'SystemCallFilter').map(([, v]) => v);
  assert.ok(filters.length && !filters[0].startsWith('~'), 'SystemCallFilter= starts with an allow-list');
  const cache = new Map();
  const allowed = new Set();
  for (const s of filters[0].split(/\s+/)) {
    for (const c of s.startsWith('@') ? await syscallSet(s, cache) : [s]) allowed.add(c);
  }
  for (const f of filters.slice(1)) {
    assert.ok(f.startsWith('~'), `SystemCallFilter=${f}: only deny-lists after the allow-list`);
    for (const s of f.slice(1).split(/\s+/)) {
      for (const c of s.startsWith('@') ? await syscallSet(s, cache) : [s]) allowed.delete(c);
    }
  }
  return allowed;
}

// A session under strace with the unit's environment (and extra), every
// system call and file it used held against the unit's sandbox.
async function tracedSession(t, name, extra = {}) {
  const unit = readUnit();
  const allowed = await allowedSyscalls(unit);
  const families = setting(unit, 'Service', 'RestrictAddressFamilies').split(/\s+/);
  const trace = path.join(OUT, `${name}.txt`);
  fs.mkdirSync(OUT, { recursive: true });
  const env = { PUSHER_BACKEND: 'epoll', ...unitEnv(unit), PUSHER_PORT: '0', PUSHER_PING_INTERVAL: '200ms', PUSHER_IDLE_TIMEOUT: '1s', ...extra };
  assert.equal(env.PUSHER_BIND, '127.0.0.1', 'the unit binds the loopback (a proxy in front)');
  const srv = await h.startServer(['-f', '-qq', '-o', trace, path.join(ROOT, 'pusher')],
    { bare: true, bin: '/usr/bin/strace', env, plain: true });
  srv.tls = Boolean(extra.PUSHER_TLS_CERT); // the certificate comes by the environment
  try {
    const alice = await h.connect(srv, 'alice');
    const bob = await h.connect(srv, 'bob');
    alice.send({ messageType: 1, content: 'hi' });
    await bob.take((m) => m.content === 'hi', 'a Group message');
    bob.send({ messageType: 0, to: 'alice', content: 'psst' });
    await alice.take((m) => m.content === 'psst', 'a Single message');
    const pushed = await h.push(srv, { messageType: 2, content: 'notice' });
    assert.equal(pushed.status, 200);
    for (const p of ['/', '/app.js', '/metrics', '/admin', '/healthz', '/nothing']) await h.get(srv, p);
    const mute = await h.rawConnect(srv, 'mute');
    await mute.expectClose(1001, 5000, { reply: false }); // pinged, then closed on the idle timeout
    await bob.close();
  } finally {
    // SIGTERM to pusher itself (strace's child): it closes everyone and exits 0.
    const kids = fs.readFileSync(`/proc/${srv.proc.pid}/task/${srv.proc.pid}/children`, 'utf8').trim().split(/\s+/);
    for (const k of kids.filter(Boolean)) process.kill(Number(k), 'SIGTERM');
    const info = await h.withTimeout(srv.exited, 10000, 'pusher under strace to exit');
    assert.deepEqual(info, { code: 0, signal: null }, `pusher under strace exited with ${JSON.stringify(info)}`);
  }

  const lines = fs.readFileSync(trace, 'utf8').split('\n').filter(Boolean);
  const calls = new Map();
  for (const l of lines) {
    const m = /^\d+\s+([a-z0-9_]+)\(/.exec(l);
    if (m) calls.set(m[1], l);
  }
  assert.ok(calls.has('accept4') && calls.has('epoll_wait'), `strace saw too little:\n${lines.slice(0, 20).join('\n')}`);
  const denied = [...calls.keys()].filter((c) => !allowed.has(c));
  assert.deepEqual(denied, [], `system calls the unit's SystemCallFilter= would kill pusher for:\n` +
    denied.map((c) => calls.get(c)).join('\n'));
  for (const l of lines.filter((x) => /\ssocket\(/.test(x))) {
    const fam = /socket\((AF_[A-Z0-9]+)/.exec(l)[1];
    assert.ok(families.includes(fam), `RestrictAddressFamilies= lacks ${fam}: ${l}`);
  }
  for (const l of lines.filter((x) => /\sopen(at)?\(/.test(x))) {
    assert.doesNotMatch(l, /O_WRONLY|O_RDWR|O_CREAT/, `pusher writes a file, but the system is read-only to it: ${l}`);
  }
  for (const l of lines.filter((x) => /\s(mmap|mprotect)\(/.test(x))) {
    assert.ok(!(/PROT_WRITE/.test(l) && /PROT_EXEC/.test(l)), `MemoryDenyWriteExecute= would refuse: ${l}`);
  }
  t.diagnostic(`${calls.size} distinct system calls, all inside the unit's filter of ${allowed.size}`);
  return lines;
}

test('under strace, a whole session stays inside the unit\'s sandbox', T, async (t) => {
  await tracedSession(t, 'strace');
});

test('under strace, a whole session over TLS (the unit\'s certificate settings) stays inside the sandbox too', T, async (t) => {
  const cert = h.makeCert(h.tmpDir());
  const lines = await tracedSession(t, 'strace-tls', { PUSHER_TLS_CERT: cert.cert, PUSHER_TLS_KEY: cert.key });
  for (const f of [cert.cert, cert.key]) {
    assert.ok(lines.some((l) => /\sopenat\(/.test(l) && l.includes(f)), `${f} was not read: no TLS in this session`);
  }
});
