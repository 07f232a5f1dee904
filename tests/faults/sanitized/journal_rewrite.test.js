'use strict';
// PROTOCOL.md "Persistence": a crash at any moment of the journal's rewrite
// leaves the old journal or the new one, never a mix. The sanitized build
// has a test-only hook (PUSHER_TEST_CRASH) that exits at a named point of
// the rewrite: just before its rename, and just after.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('../../e2e/helpers');

// Fills a journal past its rewrite floor (1 MiB) with Group messages, whose
// history keeps only the last 100: a rewrite is due at the next tick.
async function fill(srv) {
  const a = await h.connect(srv, 'writer');
  await a.sync();
  const pad = 'x'.repeat(400);
  for (let i = 0; i < 3000; i++) a.send({ messageType: 1, content: `m${i} ${pad}` });
  await a.sync(20000);
  return a;
}

for (const point of ['before-rename', 'after-rename']) {
  test(`a crash ${point} of the rewrite leaves a whole journal: the last 100, in order`, { timeout: 120000 * h.SCALE }, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pusher-rewrite-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const args = ['--journal', dir, '--max-rate', '0', '--max-pending', '16m'];
    const srv = await h.startServer(args, { env: { PUSHER_TEST_CRASH: point } });
    await fill(srv);
    const sizeBefore = fs.statSync(path.join(dir, 'journal')).size;
    assert.ok(sizeBefore > 1 << 20, `the journal is past the floor: ${sizeBefore} bytes`);
    const exit = await h.withTimeout(srv.exited, 10000 * h.SCALE, `the crash ${point}`);
    srv._cleanup();
    assert.equal(exit.code, 99, `it crashed at the hook: ${JSON.stringify(exit)}`);
    const size = fs.statSync(path.join(dir, 'journal')).size;
    if (point === 'before-rename') assert.equal(size, sizeBefore, 'the old journal, untouched');
    else assert.ok(size < sizeBefore / 4, `the new journal, rewritten: ${size} bytes`);

    const again = await h.serve(t, args);
    assert.ok(!fs.existsSync(path.join(dir, 'journal.new')), 'no journal.new is left');
    const c = await h.connect(again, 'reader');
    const got = (await c.sync(10000)).filter((m) => m.messageType === 1);
    assert.equal(got.length, 100);
    assert.deepEqual(got.map((m) => m.content.split(' ')[0]),
      Array.from({ length: 100 }, (_, i) => `m${2900 + i}`), 'the last 100, in order, once each');
  });
}
