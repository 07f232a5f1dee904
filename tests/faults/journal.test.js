'use strict';
// The journal under faults (PROTOCOL.md "Persistence"): a file that cannot
// grow (ulimit -f, as a full disk) leaves the server serving and saying so,
// and it recovers by itself when room returns; the syncs, counted by
// strace, are one per busy loop turn under --fsync always (group commit)
// and about one a second under everysec.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const h = require('../e2e/helpers');
const { bound } = require('./lib');

function tmpDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pusher-jfault-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// A wrapper that starts the server with a file size limit of kib KiB.
function limited(t, kib) {
  const file = path.join(tmpDir(t), 'pusher-fsize');
  fs.writeFileSync(file, `#!/bin/bash\nulimit -S -f ${kib}\nexec ${JSON.stringify(h.BIN)} "$@"\n`, { mode: 0o755 });
  return file;
}

async function health(srv) {
  const r = await h.get(srv, '/healthz');
  return { status: r.status, body: r.body };
}

test('a journal that cannot grow: the server serves on, /healthz 503, errors counted; under always nothing unwritten is sent; room again, it recovers', bound(60000), async (t) => {
  const dir = tmpDir(t);
  const srv = await h.serve(t, ['--journal', dir, '--fsync', 'always', '--max-rate', '0'], { bin: limited(t, 24) });
  const a = await h.connect(srv, 'alice');
  const b = await h.connect(srv, 'bob');
  await h.settle(a, b);
  const pad = 'y'.repeat(300);
  let refused = null;
  let at = -1;
  for (let i = 0; i < 400 && !refused; i++) {
    a.send({ messageType: 1, content: `m${i} ${pad}` });
    const r = await a.take((m) => m.messageType === 2, 'nothing', 20).catch(() => null);
    if (r) [refused, at] = [r, i];
  }
  assert.ok(refused, 'alice was told once the journal could not be written');
  h.assertError(refused);
  assert.match(refused.content, /journal/);
  const hz = await health(srv);
  assert.equal(hz.status, 503, `/healthz while the journal cannot be written: ${JSON.stringify(hz)}`);
  assert.match(hz.body, /journal/);
  const p = await h.push(srv, { messageType: 1, content: 'pushed while broken' });
  assert.equal(p.status, 503, `a push while the journal cannot be written: ${p.status} ${p.body}`);
  const m = await h.metrics(srv);
  assert.ok(h.counter(m, 'pusher_journal_errors_total') >= 1);
  // A Single to someone online needs no journal: still delivered.
  a.send({ messageType: 0, to: 'bob', content: 'still here' });
  assert.equal((await b.take((x) => x.content === 'still here', 'the Single')).content, 'still here');
  // What bob got: never the message alice was told was not sent, and each
  // of alice's messages either reached bob or was refused to her: none of
  // them lost without a word, the one whose write first failed included.
  await h.sleep(300);
  const bobGot = new Set(b.drain().map((x) => x.content));
  assert.ok(!bobGot.has(`m${at} ${pad}`), `bob got m${at}, which alice was told was not sent`);
  const delivered = [...Array(at + 1).keys()].filter((i) => bobGot.has(`m${i} ${pad}`)).length;
  const errors = 1 + a.drain().filter((x) => x.messageType === 2 && /^error:/.test(x.content)).length;
  assert.equal(delivered + errors, at + 1,
    `of ${at + 1} messages sent, ${delivered} reached bob and ${errors} were refused to alice`);
  const lines = srv.stderr.split('\n').filter((l) => /event=journal_error/.test(l));
  assert.equal(lines.length, 1, `one log line for the change of state: ${lines.join('\n')}`);

  execFileSync('prlimit', ['--pid', String(srv.proc.pid), '--fsize=unlimited']);
  await h.waitFor(async () => (await health(srv)).status === 200, '/healthz to be 200 again', 5000 * h.SCALE);
  assert.match(srv.stderr, /event=journal_recovered/);
  a.send({ messageType: 1, content: 'after the recovery' });
  await b.take((x) => x.content === 'after the recovery', 'a Group after the recovery');
  await srv.stop();
  // The journal holds what the server remembers: a restart replays it.
  const again = await h.serve(t, ['--journal', dir]);
  const c = await h.connect(again, 'carol');
  const got = (await c.sync()).filter((x) => x.messageType === 1).map((x) => x.content);
  assert.equal(got[got.length - 1], 'after the recovery');
});

// The message whose write is the first to fail, for each kind of answer
// that says a message is kept: a push's 200 and a kept Single's queued:.
test('a journal that cannot grow under always: a push is answered 200 or 503, never left unanswered, and every queued: Single is kept', bound(60000), async (t) => {
  const dir = tmpDir(t);
  const srv = await h.serve(t, ['--journal', dir, '--fsync', 'always', '--max-rate', '0'], { bin: limited(t, 24) });
  const pad = 'p'.repeat(300);
  let status = 200;
  let pushes = 0;
  while (status === 200 && pushes < 400) {
    const r = await h.push(srv, { messageType: 1, content: `push${pushes} ${pad}` })
      .catch((e) => assert.fail(`push ${pushes} got no answer: ${e.message}`));
    status = r.status;
    pushes++;
  }
  assert.equal(status, 503, `the push that could not be kept (${pushes}) is refused with 503`);
  assert.ok(pushes > 1, 'pushes were kept before the journal filled');

  // Singles to someone offline, on a server of their own, until the disk
  // says no: each answer is queued: or error:, and carol later gets exactly
  // those queued.
  const two = await h.serve(t, ['--journal', tmpDir(t), '--fsync', 'always', '--max-rate', '0'],
    { bin: limited(t, 24) });
  const a = await h.connect(two, 'alice');
  await h.settle(a);
  let queued = 0;
  let refused = false;
  for (let i = 0; i < 400 && !refused; i++) {
    a.send({ messageType: 0, to: 'carol', content: `s${i} ${pad}` });
    const r = await a.take((m) => m.messageType === 2, `the answer to Single ${i}`);
    if (/^queued:/.test(r.content)) queued++;
    else if (/^error:/.test(r.content)) refused = true;
    else assert.fail(`Single ${i} got ${r.content}`);
  }
  assert.ok(refused, 'a Single was refused once the journal could not be written');
  execFileSync('prlimit', ['--pid', String(two.proc.pid), '--fsize=unlimited']);
  await h.waitFor(async () => (await health(two)).status === 200, '/healthz to be 200 again', 5000 * h.SCALE);
  const c = await h.connect(two, 'carol');
  const kept = (await c.sync()).filter((x) => x.messageType === 0);
  assert.equal(kept.length, queued, `carol gets the ${queued} Singles alice was told were kept`);
});

test('a journal that cannot grow under everysec: messages still flow, /healthz 503 until room returns', bound(60000), async (t) => {
  const dir = tmpDir(t);
  const srv = await h.serve(t, ['--journal', dir, '--max-rate', '0'], { bin: limited(t, 24) });
  const a = await h.connect(srv, 'alice');
  const b = await h.connect(srv, 'bob');
  await h.settle(a, b);
  const pad = 'z'.repeat(300);
  for (let i = 0; i < 150; i++) a.send({ messageType: 1, content: `m${i} ${pad}` });
  await b.take((m) => m.content === `m149 ${pad}`, 'the last message: everysec keeps serving');
  await h.waitFor(async () => (await health(srv)).status === 503, '/healthz to say 503', 3000 * h.SCALE);
  execFileSync('prlimit', ['--pid', String(srv.proc.pid), '--fsize=unlimited']);
  await h.waitFor(async () => (await health(srv)).status === 200, '/healthz to be 200 again', 5000 * h.SCALE);
});

// Runs the server under strace counting fdatasync and epoll_wait, drives
// load, and returns the counts.
async function traced(t, fsync, drive) {
  const dir = tmpDir(t);
  const out = path.join(tmpDir(t), 'strace.txt');
  const wrap = path.join(tmpDir(t), 'pusher-strace');
  fs.writeFileSync(wrap, `#!/bin/bash\nexec strace -f -qq -e trace=fdatasync -o ${JSON.stringify(out)} ${JSON.stringify(h.BIN)} "$@"\n`, { mode: 0o755 });
  const srv = await h.startServer(['--journal', dir, '--fsync', fsync, '--max-rate', '0'], { bin: wrap });
  const seconds = await drive(srv);
  // strace does not pass SIGTERM on: the server under it is told itself.
  const pid = Number(fs.readFileSync(`/proc/${srv.proc.pid}/task/${srv.proc.pid}/children`, 'utf8').trim());
  process.kill(pid, 'SIGTERM');
  const exit = await h.withTimeout(srv.exited, 10000 * h.SCALE, 'strace and the server to exit');
  srv._cleanup();
  assert.equal(exit.code, 0, `the traced server exited with ${JSON.stringify(exit)}`);
  const syncs = fs.readFileSync(out, 'utf8').split('\n').filter((l) => /fdatasync\(/.test(l)).length;
  // A rewrite (the file past twice its live size) syncs the new file once.
  const rewrites = srv.stderr.split('\n').filter((l) => /event=journal_rewrite\b/.test(l)).length;
  return { syncs: syncs - rewrites, seconds, rewrites };
}

test('strace: under --fsync always one fdatasync per busy turn (a burst shares one), under everysec about one a second', bound(90000), async (t) => {
  const always = await traced(t, 'always', async (srv) => {
    const a = await h.connect(srv, 'alice');
    await a.sync();
    // 50 messages one by one, each awaited: 50 turns with a record.
    for (let i = 0; i < 50; i++) {
      a.send({ messageType: 1, content: `one ${i}` });
      await a.sync();
    }
    // 2000 in bursts: far fewer turns than messages.
    for (let i = 0; i < 2000; i++) a.send({ messageType: 1, content: `burst ${i}` });
    await a.sync(20000);
    return 0;
  });
  assert.ok(always.syncs >= 50, `at least one sync per awaited message: ${always.syncs}`);
  assert.ok(always.syncs < 50 + 200, `a burst shares its syncs (group commit): ${always.syncs} for 2050 messages`);

  const everysec = await traced(t, 'everysec', async (srv) => {
    const a = await h.connect(srv, 'alice');
    await a.sync();
    const t0 = Date.now();
    while (Date.now() - t0 < 3000) {
      for (let i = 0; i < 20; i++) a.send({ messageType: 1, content: `tick ${i}` });
      await a.sync();
      await h.sleep(10);
    }
    return (Date.now() - t0) / 1000;
  });
  assert.ok(everysec.syncs >= 2 && everysec.syncs <= everysec.seconds + 3,
    `about one sync a second: ${everysec.syncs} in ${everysec.seconds.toFixed(1)} s ` +
    `(and ${everysec.rewrites} for rewrites)`);
});
