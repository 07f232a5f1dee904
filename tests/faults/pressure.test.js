'use strict';
// Memory pressure from the output side: clients that stop reading while
// others flood them with ~50 MB. Each is closed with 1008 and counted once its
// unsent output passes --max-pending, the server's RSS stays bounded, and the
// clients that do read are served promptly throughout.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../e2e/helpers');
const f = require('./lib');

const RSS_BOUND_KIB = 64 * 1024; // growth allowed during the flood

test('readers that stop reading while ~50 MB is aimed at them: closed with 1008 at --max-pending 256k, ' +
  'counted, RSS bounded, everyone else served', f.bound(60000), async (t) => {
  // --offline-max 0: a Single to a reader closed for not reading is an
  // error:, not kept, so what is bounded here is the output alone.
  const srv = await h.serve(t, ['--max-pending', '256k', '--max-rate', '0', '--offline-max', '0']);
  const pid = srv.proc.pid;
  const SLOW = ['slow-0', 'slow-1', 'slow-2'];
  const slow = [];
  for (const user of SLOW) {
    const raw = await h.rawConnect(srv, user);
    await raw.sync(user);
    slow.push(raw);
  }
  const flooders = [await h.connect(srv, 'flooder-0'), await h.connect(srv, 'flooder-1')];
  const a = await h.connect(srv, 'bystander-a');
  const b = await h.connect(srv, 'bystander-b');
  await h.settle(...flooders, a, b);
  for (const [i, raw] of slow.entries()) {
    await raw.sync(SLOW[i]);
    raw.sock.pause(); // from now on the kernel buffers fill, then the server's queue
  }
  await f.assertPrompt(srv); // warm up the allocator before the baseline
  const before = await h.metrics(srv);
  const base = f.rssKiB(pid);
  const stopRss = f.rssSampler(pid, 10);

  // Round trips between the bystanders all through the flood.
  let flooding = true;
  let worst = 0;
  let trips = 0;
  const watcher = (async () => {
    while (flooding) {
      worst = Math.max(worst, await f.groupTrip(a, b));
      trips++;
      await h.sleep(100);
    }
  })();

  const PER = 440;
  const chunk = 'f'.repeat(60000);
  const t0 = Date.now();
  const replies = [];
  const flood = Promise.all(flooders.map(async (c, k) => {
    for (let i = 0; i < PER; i++) {
      c.send({ messageType: 0, to: SLOW[(i + k) % SLOW.length], content: chunk });
      if (i % 8 === 7) {
        // Yield to the event loop each round, or a kernel that takes every
        // write at once would starve the bystanders' reads in this process.
        await new Promise(setImmediate);
        await h.waitFor(() => c.ws.bufferedAmount === 0, `${c.label} to hand its data to the kernel`, h.WAIT, 1);
      }
    }
    // (the rest is presence and the bystanders' round trips)
    replies.push(...(await c.sync(10000)).filter((m) => m.messageType === 2));
  }));
  watcher.catch(() => {}); // should the flood fail, that is the error to report
  try {
    await flood;
  } finally {
    flooding = false;
  }
  const floodMs = Date.now() - t0;
  await watcher;
  const peak = stopRss();
  const bytes = flooders.length * PER * chunk.length;

  const after = await h.metrics(srv);
  const delta = (name, labels) => h.counter(after, name, labels) - h.counter(before, name, labels);
  assert.equal(delta('pusher_slow_consumer_closes_total'), SLOW.length, 'each slow reader closed and counted once');
  assert.equal(delta('pusher_closes_total', { code: '1008' }), SLOW.length);
  assert.equal(delta('pusher_rate_limit_closes_total'), 0);
  // Every message of the flood was read and counted: the floods, the
  // flooders' syncs, the round trips.
  assert.equal(delta('pusher_messages_received_total'), flooders.length * (PER + 1) + trips);
  assert.ok(flooders.every((c) => c.isOpen) && a.isOpen && b.isOpen, 'the readers that read are untouched');
  // Once a slow reader was gone, messages for it earned an error reply.
  for (const m of replies) {
    h.assertError(m, 'a reply to a flooder');
    assert.match(m.content, /^error: user "slow-\d" is not online$/);
  }
  assert.ok(replies.length > 0 && replies.length < flooders.length * PER, `${replies.length} error replies`);

  const growth = peak - base;
  assert.ok(growth < RSS_BOUND_KIB, `RSS grew by ${f.mib(growth)} MiB during a flood of ${bytes >> 20} MiB`);
  assert.ok(worst < f.PROMPT_MS, `a Group round trip took ${worst.toFixed(1)} ms during the flood`);

  // What a slow reader had been sent: whole messages, then (if the queue
  // drained far enough for it to be written) close 1008, then the end.
  for (const raw of slow) {
    raw.sock.resume();
    await raw.waitEnd(h.WAIT, 'the slow reader\'s socket to be closed');
    let fr;
    while ((fr = h.parseFrame(raw.buf)) !== null) {
      raw.buf = raw.buf.subarray(fr.size);
      if (fr.opcode === h.OP.close) assert.equal(fr.payload.readUInt16BE(0), 1008);
      else assert.ok(fr.opcode === h.OP.text || fr.opcode === h.OP.ping, `opcode ${fr.opcode}`);
    }
  }
  await h.waitConnections(srv, 4);
  const ms = await f.assertPrompt(srv);
  t.diagnostic(`faults: ${bytes >> 20} MiB flooded in ${floodMs} ms at ${SLOW.length} readers that stopped ` +
    `reading; RSS ${f.mib(base)} MiB before, peak ${f.mib(peak)} (+${f.mib(growth)}, bound ` +
    `${RSS_BOUND_KIB >> 10}); ${replies.length} error replies; worst round trip during it ` +
    `${worst.toFixed(1)} ms over ${trips}, after ${ms.toFixed(1)} ms`);
});
