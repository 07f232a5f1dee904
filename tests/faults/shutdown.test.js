'use strict';
// A graceful shutdown under load: SIGTERM while senders are sending. Every
// reader that keeps reading gets close 1001 after everything routed before
// it, so what each received is, per sender, a gapless prefix in order, the
// same prefix for every reader; and the process exits with status 0.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../e2e/helpers');
const f = require('./lib');

const SENDERS = 4;
const READERS = 8;

test('SIGTERM while senders send: each reader gets close 1001 after a gapless, in-order prefix of ' +
  'every sender\'s messages, the same for all; exit status 0', f.bound(30000), async (t) => {
  const srv = await h.startServer(['--max-rate', '0']);
  t.after(() => srv.stop().catch(() => {}));
  const senders = [];
  for (let i = 0; i < SENDERS; i++) senders.push(await h.connect(srv, `sender-${i}`));
  const readers = [];
  for (let i = 0; i < READERS; i++) readers.push(await h.connect(srv, `reader-${i}`));
  await h.settle(...senders, ...readers);
  for (const c of [...senders, ...readers]) c.drain();

  // Each sender: 10 Group messages every 5 ms, until its connection closes.
  const sent = senders.map(() => 0);
  const loops = senders.map(async (c, i) => {
    while (c.isOpen) {
      for (let k = 0; k < 10 && c.isOpen; k++) c.send({ messageType: 1, content: `sd:${i}:${sent[i]++}` });
      await h.sleep(5);
    }
  });
  await h.sleep(1000);
  const exited = srv.stop('SIGTERM');
  const everyone = [...senders, ...readers];
  await Promise.all(everyone.map((c) => c.expectClose(1001, Math.round(5000 * h.SCALE))));
  await Promise.all(loops);
  const info = await exited;
  assert.equal(info.code, 0, 'exit status 0');

  // What each got, per sender: a prefix 0..k-1, k the same for every reader.
  let checked = 0;
  const prefix = senders.map(() => null);
  for (const c of everyone) {
    const msgs = c.drain().filter((m) => m.messageType === 1);
    for (let i = 1; i < msgs.length; i++) assert.ok(msgs[i].id > msgs[i - 1].id, `${c.label}: ids out of order`);
    for (let i = 0; i < SENDERS; i++) {
      if (c === senders[i]) continue;
      const seqs = msgs.filter((m) => m.from === `sender-${i}`).map((m) => Number(m.content.split(':')[2]));
      seqs.forEach((s, k) => assert.equal(s, k, `${c.label}: sender-${i}'s message ${k} came as ${s} (a gap)`));
      if (prefix[i] === null) prefix[i] = seqs.length;
      assert.equal(seqs.length, prefix[i], `${c.label} got ${seqs.length} of sender-${i}'s messages, ` +
        `another reader ${prefix[i]}: all were routed before the close`);
      checked += seqs.length;
    }
  }
  for (let i = 0; i < SENDERS; i++) {
    assert.ok(prefix[i] > 100, `sender-${i}: only ${prefix[i]} messages were routed in a second`);
    assert.ok(prefix[i] <= sent[i]);
  }
  t.diagnostic(`faults: SIGTERM after ${prefix.reduce((a, b) => a + b, 0)} routed of ${sent.reduce((a, b) => a + b, 0)} ` +
    `sent; ${checked} deliveries checked gapless before close 1001; exit 0`);
  // The process is gone: nothing left to serve, so the end-of-test check is
  // that a new server starts on the freed resources and serves.
  const again = await h.serve(t);
  await f.assertPrompt(again);
});
