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

// Writes Group messages (their history keeps only the last 100) until the
// journal has grown past twice what it holds alive: the rewrite of the
// next tick then crashes at the hook. Returns how many were sent.
async function fill(srv) {
  const a = await h.connect(srv, 'writer');
  await a.sync();
  const pad = 'x'.repeat(400);
  let sent = 0;
  while (!srv.exitInfo && sent < 20000) {
    for (let i = 0; i < 100; i++) a.send({ messageType: 1, content: `m${sent++} ${pad}` });
    await h.sleep(20);
  }
  return sent;
}

for (const point of ['before-rename', 'after-rename']) {
  test(`a crash ${point} of the rewrite leaves a whole journal: the last 100, in order`, { timeout: 120000 * h.SCALE }, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pusher-rewrite-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const args = ['--journal', dir, '--max-rate', '0', '--max-pending', '16m'];
    const srv = await h.startServer(args, { env: { PUSHER_TEST_CRASH: point } });
    const sent = await fill(srv);
    const exit = await h.withTimeout(srv.exited, 10000 * h.SCALE, `the crash ${point}`);
    srv._cleanup();
    assert.equal(exit.code, 99, `it crashed at the hook: ${JSON.stringify(exit)}`);
    const size = fs.statSync(path.join(dir, 'journal')).size;
    if (point === 'before-rename') {
      assert.ok(fs.existsSync(path.join(dir, 'journal.new')), 'the new journal was written, not yet renamed');
    } else {
      assert.ok(!fs.existsSync(path.join(dir, 'journal.new')), 'the new journal took the old one\'s name');
      assert.ok(size < 200000, `the new journal holds the live contents alone: ${size} bytes`);
    }

    const again = await h.serve(t, args);
    assert.ok(!fs.existsSync(path.join(dir, 'journal.new')), 'no journal.new is left');
    const c = await h.connect(again, 'reader');
    const got = (await c.sync(10000)).filter((m) => m.messageType === 1).map((m) => Number(m.content.split(' ')[0].slice(1)));
    assert.equal(got.length, 100, `the last 100 of what was journaled (${sent} sent)`);
    assert.ok(got[99] < sent, `nothing that was not sent: ${got[99]} of ${sent}`);
    assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => got[0] + i), 'in order, once each, none missing');
  });
}
