'use strict';
// PROTOCOL.md "Persistence": with --journal DIR the histories, the kept
// messages and the ids survive a restart, a kill -9 under --fsync always
// loses nothing that was acknowledged, a torn last record is cut, earlier
// damage refuses the start (exit 2, the offset named) unless
// --journal-repair, and a second server on the same DIR refuses to start.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('./helpers');

function tmpDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pusher-journal-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function kill9(srv) {
  srv.proc.kill('SIGKILL');
  await srv.exited;
  srv._cleanup();
}

// What a newcomer is replayed, once it has all arrived.
async function replayOf(srv, user, query) {
  const c = await h.connect(srv, user, query ? { query } : {});
  const got = await c.sync();
  await c.close();
  return got;
}

const chat = (list) => list.filter((m) => m.messageType <= 2).map((m) => m.content);

test('a restart keeps the last 100 in order, each room\'s history, the kept messages, and ids grow', h.T, async (t) => {
  const dir = tmpDir(t);
  let srv = await h.startServer(['--journal', dir]);
  const a = await h.connect(srv, 'alice', { query: 'rooms=team' });
  await a.sync();
  const sent = [];
  for (let i = 0; i < 150; i++) {
    if (i % 3 === 0) {
      const r = await h.push(srv, { messageType: i % 2 ? 2 : 1, content: `p${i}` });
      assert.equal(r.status, 200);
    } else {
      a.send({ messageType: 1, content: `g${i}` });
    }
    sent.push(i % 3 === 0 ? `p${i}` : `g${i}`);
    if (i % 10 === 0) a.send({ messageType: 1, to: 'team', content: `room${i}` });
  }
  for (let i = 0; i < 3; i++) a.send({ messageType: 0, to: 'bob', content: `for bob ${i}` });
  await a.sync();
  await a.close();
  const before = await replayOf(srv, 'carol', 'rooms=team');
  const lastId = Math.max(...before.map((m) => m.id));
  await srv.stop();

  srv = await h.startServer(['--journal', dir]);
  t.after(() => srv.stop());
  // The same replay, but for carol's own coming and going, which entered the
  // histories after her first replay (and pushed everyone's two oldest out).
  const after = await replayOf(srv, 'carol', 'rooms=team');
  const old = after.filter((m) => m.id <= lastId);
  const beforeIds = new Set(before.map((m) => m.id));
  assert.ok(old.every((m) => beforeIds.has(m.id)), 'nothing that was not there before');
  assert.equal(before.length - old.length, 2, 'all but the two oldest of everyone\'s');
  assert.deepEqual(after.filter((m) => m.id > lastId).map((m) => [m.messageType, m.from]),
    [[3, 'carol'], [5, 'carol'], [6, 'carol'], [4, 'carol']], 'then carol\'s own coming and going');
  const everyone = (await replayOf(srv, 'dave')).filter((m) => m.messageType <= 2);
  const everyoneIds = everyone.map((m) => m.id);
  assert.deepEqual(everyoneIds, [...everyoneIds].sort((x, y) => x - y), 'in id order');
  assert.ok(chat(everyone).length <= 100);
  // The newest 100 entries of everyone's history, of which these are the messages.
  assert.deepEqual(chat(everyone).slice(-50), sent.slice(-50));
  const room = (await replayOf(srv, 'erin', 'rooms=team')).filter((m) => m.to === 'team' && m.messageType === 1);
  assert.deepEqual(room.map((m) => m.content), Array.from({ length: 15 }, (_, k) => `room${k * 10}`));
  const b = await h.connect(srv, 'bob');
  const kept = (await b.sync()).filter((m) => m.messageType === 0).map((m) => m.content);
  assert.deepEqual(kept, ['for bob 0', 'for bob 1', 'for bob 2']);
  b.send({ messageType: 1, content: 'after the restart' });
  const fresh = await (await h.connect(srv, 'frank')).take((m) => m.content === 'after the restart', 'the new message');
  assert.ok(fresh.id > lastId, `a new id ${fresh.id} is above every earlier one ${lastId}`);
});

test('kill -9 under --fsync always, 20 rounds: every push answered 200 is kept, no id twice, in order', { timeout: 180000 * h.SCALE }, async (t) => {
  const dir = tmpDir(t);
  let prev = null; // the last round's acknowledged pushes, and the ids its reader saw
  let lastId = 0;
  for (let round = 0; round < 20; round++) {
    const srv = await h.startServer(['--journal', dir, '--fsync', 'always', '--max-rate', '0']);
    const reader = await h.connect(srv, `reader${round}`);
    const hist = (await reader.sync()).filter((m) => m.messageType === 1);
    const ids = hist.map((m) => m.id);
    assert.equal(new Set(ids).size, ids.length, `round ${round}: no id twice in the history`);
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y), `round ${round}: the history in id order`);
    if (prev) {
      const have = new Set(hist.map((m) => m.content));
      const oldest = ids.length ? ids[0] : Infinity;
      for (const c of prev.acked) {
        const id = prev.ids.get(c);
        assert.ok(have.has(c) || (id !== undefined && id < oldest),
          `round ${round}: push ${c} was answered 200 before the kill, yet it is neither in the ` +
          `history nor older than its oldest entry (id ${id}, oldest ${oldest})`);
      }
    }
    const a = await h.connect(srv, `writer${round}`);
    const acked = [];
    let stop = false;
    const client = (async () => {
      for (let i = 0; !stop && i < 2000; i++) {
        a.send({ messageType: 1, content: `c${round}.${i}` });
        if (i % 20 === 0) await h.sleep(1);
      }
    })();
    const pushes = (async () => {
      for (let i = 0; !stop && i < 400; i++) {
        const content = `p${round}.${i}`;
        try {
          const r = await h.push(srv, { messageType: 1, content });
          if (r.status === 200) acked.push(content);
        } catch { /* killed under it */ }
      }
    })();
    await h.sleep(40 + Math.floor(Math.random() * 150));
    stop = true;
    await kill9(srv);
    await Promise.allSettled([client, pushes]);
    await h.withTimeout(reader.closed, h.WAIT, 'the reader to see the server gone');
    const seen = new Map();
    for (const m of reader.drain()) {
      if (m.messageType !== 1) continue;
      assert.ok(m.id > lastId, `round ${round}: id ${m.id} after ${lastId}: ids only grow, across restarts too`);
      lastId = m.id;
      seen.set(m.content, m.id);
    }
    prev = { acked, ids: seen };
  }
});

// A journal of a few records, made by a real server: the lines of its file.
async function makeJournal(t) {
  const dir = tmpDir(t);
  const srv = await h.startServer(['--journal', dir]);
  const a = await h.connect(srv, 'alice');
  await a.sync();
  for (let i = 0; i < 4; i++) a.send({ messageType: 1, content: `m${i}` });
  a.send({ messageType: 0, to: 'bob', content: 'kept' });
  await a.sync();
  await a.close();
  await srv.stop();
  return fs.readFileSync(path.join(dir, 'journal'));
}

// Starts a server on a copy of bytes; resolves with its exit (when it
// refused) or the records and bytes its replay line reports.
async function startOn(t, bytes, extra = []) {
  const dir = tmpDir(t);
  fs.writeFileSync(path.join(dir, 'journal'), bytes);
  const args = ['--bind', '127.0.0.1', '--port', '0', '--journal', dir, ...extra];
  const srv = await h.startServer(args, { bare: true }).catch((e) => ({ failed: e }));
  if (srv.failed) {
    const r = await h.runPusher(args);
    return { refused: r, dir };
  }
  const line = srv.stderr.split('\n').find((l) => /event=journal_replayed/.test(l));
  await srv.stop();
  const [, records, size] = /records=(\d+) bytes=(\d+)/.exec(line);
  return { records: Number(records), bytes: Number(size), stderr: srv.stderr, dir };
}

test('a journal cut at every byte of its last two records starts with exactly the whole records before the cut', { timeout: 300000 * h.SCALE }, async (t) => {
  const file = await makeJournal(t);
  const ends = [];
  for (let i = 0; i < file.length; i++) if (file[i] === 0x0a) ends.push(i + 1);
  assert.ok(ends.length >= 6, `the journal has ${ends.length} records`);
  const from = ends[ends.length - 3];
  const cuts = [];
  for (let cut = from; cut <= file.length; cut++) cuts.push(cut);
  assert.ok(cuts.length > 200, `${cuts.length} cuts`);
  // Eight servers at a time.
  for (let i = 0; i < cuts.length; i += 8) {
    await Promise.all(cuts.slice(i, i + 8).map(async (cut) => {
      const r = await startOn(t, file.subarray(0, cut));
      assert.ok(!r.refused, `cut at ${cut}: refused to start: ${r.refused && r.refused.stderr}`);
      const whole = ends.filter((e) => e <= cut);
      assert.equal(r.records, whole.length, `cut at ${cut}: records replayed`);
      assert.equal(r.bytes, whole.length ? whole[whole.length - 1] : 0, `cut at ${cut}: bytes kept`);
      const torn = cut !== (whole.length ? whole[whole.length - 1] : 0);
      assert.equal(/event=journal_torn_record/.test(r.stderr), torn, `cut at ${cut}: a torn record is logged, and only then`);
      assert.equal(fs.statSync(path.join(r.dir, 'journal')).size, r.bytes, `cut at ${cut}: the torn record is cut off the file`);
    }));
  }
});

test('a flipped byte in an early record refuses the start, naming the offset; --journal-repair keeps what precedes it', h.T, async (t) => {
  const file = await makeJournal(t);
  const ends = [];
  for (let i = 0; i < file.length; i++) if (file[i] === 0x0a) ends.push(i + 1);
  const at = ends[1] + 20; // inside the third record
  const bad = Buffer.from(file);
  bad[at] ^= 0x01;
  const r = await startOn(t, bad);
  assert.ok(r.refused, 'a damaged early record refuses the start');
  assert.equal(r.refused.code, 2, `exit status: ${r.refused.code}`);
  assert.match(r.refused.stderr, new RegExp(`journal is damaged at byte ${ends[1]}\\b`), r.refused.stderr);
  assert.match(r.refused.stderr, /--journal-repair/);
  const fixed = await startOn(t, bad, ['--journal-repair']);
  assert.ok(!fixed.refused, `--journal-repair starts: ${fixed.refused && fixed.refused.stderr}`);
  assert.equal(fixed.records, 2, 'the two whole records before the damage');
  const aside = fs.readdirSync(fixed.dir).filter((f) => f.startsWith('journal.damaged'));
  assert.equal(aside.length, 1, `the rest is set aside: ${fs.readdirSync(fixed.dir)}`);
  assert.equal(fs.readFileSync(path.join(fixed.dir, aside[0])).length, file.length - ends[1]);
});

test('a second server on the same --journal DIR refuses to start (exit 2)', h.T, async (t) => {
  const dir = tmpDir(t);
  await h.serve(t, ['--journal', dir]);
  const r = await h.runPusher(['--bind', '127.0.0.1', '--port', '0', '--journal', dir]);
  assert.equal(r.code, 2, `exit status ${r.code}, stderr ${r.stderr}`);
  assert.match(r.stderr, /in use by another pusher/);
});

test('the journal stays bounded: past twice what it holds alive, it is rewritten within a second, and a restart replays the same', h.T, async (t) => {
  const dir = tmpDir(t);
  const srv = await h.serve(t, ['--journal', dir, '--max-rate', '0']);
  const a = await h.connect(srv, 'alice');
  await a.sync();
  const pad = 'j'.repeat(300);
  const N = 2000; // some 0.8 MB of records for a history of 100 (some 45 kB)
  for (let i = 0; i < N; i++) a.send({ messageType: 1, content: `m${i} ${pad}` });
  await a.sync(10000);
  const file = path.join(dir, 'journal');
  const size = await h.waitFor(() => {
    const s = fs.statSync(file).size;
    return s < 150000 ? s : undefined;
  }, 'the journal to be rewritten to its live contents', 3000 * h.SCALE)
    .catch(() => assert.fail(`the journal is ${fs.statSync(file).size} bytes after ${N} messages of which 100 live`));
  // Its log line follows the rename that made the file small.
  await h.waitFor(() => /event=journal_rewrite\b/.test(srv.stderr), 'the rewrite\'s log line');
  t.diagnostic(`journal: ${size} bytes after ${N} messages of ${pad.length + 10} bytes`);
  await srv.stop();
  const again = await h.serve(t, ['--journal', dir]);
  // The history's last 100 entries: alice's last messages, and her Offline
  // if it came before the server stopped.
  const got = chat(await replayOf(again, 'bob')).filter((c) => c.startsWith('m')).map((c) => c.split(' ')[0]);
  assert.ok(got.length >= 99, `the history came back: ${got.length} of alice's messages`);
  assert.deepEqual(got, Array.from({ length: got.length }, (_, i) => `m${N - got.length + i}`),
    'her last messages, in order');
});

test('--fsync always: a Single kept for someone offline is answered queued: once on disk, without waiting for the second tick', h.T, async (t) => {
  const dir = tmpDir(t);
  const srv = await h.serve(t, ['--journal', dir, '--fsync', 'always']);
  const a = await h.connect(srv, 'alice');
  await a.sync();
  const t0 = Date.now();
  for (let i = 0; i < 5; i++) {
    a.send({ messageType: 0, to: 'bob', content: `kept ${i}` });
    const r = await a.take((m) => m.messageType === 2, `the answer to Single ${i}`);
    assert.match(r.content, /^queued: bob is offline/);
  }
  const ms = Date.now() - t0;
  // The turn that kept it writes and syncs it: five answers in turn take
  // milliseconds, not five of the journal's one-second ticks.
  assert.ok(ms < 2000 * h.SCALE, `five queued: answers took ${ms} ms`);
  const b = await h.connect(srv, 'bob');
  const kept = (await b.sync()).filter((m) => m.messageType === 0).map((m) => m.content);
  assert.deepEqual(kept, [0, 1, 2, 3, 4].map((i) => `kept ${i}`));
});
