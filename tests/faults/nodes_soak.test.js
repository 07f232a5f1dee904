'use strict';
// A soak of three nodes on one Redis (PROTOCOL.md "Several nodes"): senders
// on every node write Group messages to everyone and to a room at a steady
// rate, readers on every node read all along, and some clients keep leaving
// and coming back on another node with since=. Then the books are balanced:
//
// - every reader got every accepted Group exactly once, and all readers got
//   them in one order, the id order;
// - a client that moved from node to node with since= missed nothing that
//   had an id, and saw nothing twice;
// - every node's history of everyone, as a newcomer there is replayed it,
//   is what Redis holds (pusher:history), message for message.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('../e2e/helpers');
const { Redis } = require('../e2e/redis_lib');

const SECONDS = Number(process.env.FAULTS_SOAK_SECONDS) || 20;
const NODES = 3;
const SENDERS = 2; // a node, 10 Group messages a second each (half to the room)
const READERS = 2; // a node
const MOVERS = 3; // clients that hop from node to node

const groups = (list) => list.filter((m) => m.messageType === 1);

test(`several nodes soak: ${NODES} nodes for ${SECONDS} s, every Group once and in one order, histories as Redis's`,
  { timeout: (SECONDS + 60) * 1000 * h.SCALE }, async (t) => {
    const redis = new Redis(t);
    await redis.start();
    const nodes = [];
    for (let i = 0; i < NODES; i++) nodes.push(await h.serve(t, ['--redis', redis.addr, '--max-pending', '4m']));
    const on = (i) => nodes[i % NODES];

    const readers = [];
    for (let i = 0; i < NODES * READERS; i++) readers.push(await h.connect(on(i), `reader${i}`, { query: 'rooms=r' }));
    const senders = [];
    for (let i = 0; i < NODES * SENDERS; i++) senders.push(await h.connect(on(i), `sender${i}`, { query: 'rooms=r' }));
    await h.settle(...readers, ...senders);
    for (const c of readers) c.drain();

    // Movers: each session is on the next node, opened with since= the
    // last id it saw; every session's messages are kept.
    const movers = [];
    for (let i = 0; i < MOVERS; i++) {
      const c = await h.connect(on(i), `mover${i}`, { query: 'rooms=r' });
      await c.sync();
      c.drain();
      movers.push({ user: `mover${i}`, node: i, c, got: [], last: 0 });
    }

    let sent = 0;
    const stopAt = Date.now() + SECONDS * 1000;
    const tick = setInterval(() => {
      for (const [k, s] of senders.entries()) {
        const room = (sent + k) % 2 ? { to: 'r' } : {};
        s.send({ messageType: 1, content: `${s.userId}:${sent}`, ...room });
      }
      sent++;
    }, 100);
    try {
      while (Date.now() < stopAt) {
        await h.sleep(1500);
        for (const m of movers) {
          const got = groups(m.c.drain());
          m.got.push(...got);
          if (got.length) m.last = got[got.length - 1].id;
          await m.c.close();
          m.node++;
          m.c = await h.connect(on(m.node), m.user, { query: `rooms=r&since=${m.last}` });
        }
      }
    } finally {
      clearInterval(tick);
    }
    // A last message from each sender; once a client has them all, it has
    // everything sent before them.
    for (const s of senders) s.send({ messageType: 1, content: `${s.userId}:end` });
    const ends = new Set(senders.map((s) => `${s.userId}:end`));
    const seen = [];
    for (const c of [...readers, ...movers.map((m) => m.c)]) {
      await h.waitFor(() => [...ends].every((e) => c.queue.some((m) => m.content === e)),
        `the end markers at ${c.label}`, 20000 * h.SCALE, 50);
      seen.push(groups(c.drain()).filter((m) => !ends.has(m.content)));
    }
    for (const [i, m] of movers.entries()) m.got.push(...seen[readers.length + i]);

    // Every reader: each Group once, all in one order, ids growing, and
    // nothing lost: every message of every sender is there.
    const ref = seen[0].map((m) => `${m.id} ${m.content}`);
    for (let i = 1; i < readers.length; i++) {
      assert.deepEqual(seen[i].map((m) => `${m.id} ${m.content}`), ref, `reader ${i} saw what reader 0 saw, in order`);
    }
    const ids = seen[0].map((m) => m.id);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], 'ids grow');
    const contents = new Set(seen[0].map((m) => m.content));
    assert.equal(contents.size, seen[0].length, 'nothing twice');
    assert.equal(seen[0].length, sent * senders.length, 'every accepted Group arrived');
    for (const s of senders) {
      for (let n = 0; n < sent; n++) assert.ok(contents.has(`${s.userId}:${n}`), `${s.userId}:${n} arrived`);
    }

    // The movers: the same messages, once each, in the same order.
    for (const m of movers) {
      const mine = m.got.map((x) => `${x.id} ${x.content}`);
      assert.equal(new Set(mine).size, mine.length, `${m.user} saw nothing twice`);
      assert.deepEqual(mine, ref, `${m.user}, moving from node to node with since=, missed nothing`);
    }

    // Each node's history of everyone is Redis's: a newcomer's replay there
    // is pusher:history up to the newest it was sent (Redis may have moved
    // on since, and forgotten the oldest of them).
    for (const [i, n] of nodes.entries()) {
      const newcomer = await h.connect(n, `newcomer${i}`);
      const replay = (await newcomer.sync()).filter((m) => m.to === '').map((m) => m.id);
      const entries = await redis.command('LRANGE', 'pusher:history', '0', '-1');
      const inRedis = entries.map((e) => JSON.parse(e.split('\n').slice(3).join('\n')).id)
        .filter((id) => id <= replay[replay.length - 1]);
      assert.ok(replay.length >= 90, `node ${i} replays its history: ${replay.length}`);
      assert.deepEqual(replay.filter((id) => id >= inRedis[0]), inRedis, `node ${i}'s history is Redis's`);
      assert.ok(replay.length - inRedis.length <= 3, 'and no older than Redis by more than what came since');
    }
  });
