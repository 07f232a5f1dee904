'use strict';
// A soak of mixed behaviour for about a minute: ~50 clients at once, chatty
// senders below the rate limit, silent readers, clients that keep leaving and
// coming back with since=, a reader that stops reading and is closed, a
// spammer closed by the rate limit, clients that send garbage. Then the
// books are balanced:
//
// - every receiver that stayed connected and read all along got every Group
//   message the server accepted (each chatty sender's own count, and the
//   spammer's first k, the same k for everyone) exactly once, in order, and
//   message ids only grow;
// - a client that came back with since= missed nothing and saw nothing twice;
// - each garbage message earned one error reply, and nobody else got one;
// - pusher_messages_received_total is exactly what the clients sent (the
//   spammer: its k accepted messages and the one that broke the limit);
// - pusher_messages_sent_total is exactly what the clients received, plus
//   what was queued for connections that ended before reading it: for each
//   ended connection, the broadcasts (as the reference reader saw them) with
//   ids between the last one it read and its own OfflineNotify, and for the
//   slow reader the Single messages sent to it that it never read.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const WebSocket = require('ws');
const h = require('../e2e/helpers');
const f = require('./lib');

const WINDOW_MS = 1000 * (Number(process.env.FAULTS_SOAK_SECONDS) || 50);
// Nothing is kept for users who are offline, so a Single to one is the
// error: reply the test counts.
const ARGS = ['--max-rate', '20', '--max-burst', '40', '--max-pending', '256k', '--offline-max', '0'];
const CHATTY = 10; // Group senders, 10 a second each (the limit is 20)
const SILENT = 20;
const GARBAGE = 5; // 2 a second each
const RECONNECT = 8;
const SPAM = 300; // at once: about the burst of 40 gets through

const GARBAGE_TEXT = ['not json', '{"messageType":1', '[1]', '{"messageType":3}', '{"messageType":1,"to":"room"}',
  '{"messageType":0,"to":"nobody-here"}', '{"messageType":1,"mediaType":9}', '{"messageType":"1"}', '{}', ''];

// One user's WebSocket sessions (one at a time), with everything each got.
class Peer {
  constructor(srv, user) {
    this.srv = srv;
    this.user = user;
    this.sessions = [];
    this.sent = 0; // data messages written on an open socket
    this.seq = 0; // Group messages sent
    this.garbage = 0;
    this.singles = 0;
  }

  get ws() { return this.sessions[this.sessions.length - 1].ws; }
  get msgs() { return this.sessions[this.sessions.length - 1].msgs; }
  get all() { return this.sessions.flatMap((s) => s.msgs); }
  get isOpen() { return this.sessions.length > 0 && this.ws.readyState === WebSocket.OPEN; }

  async open(query = '') {
    const url = `ws://127.0.0.1:${this.srv.port}/websocket?userId=${this.user}${query}`;
    const ws = new WebSocket(url);
    const s = { ws, msgs: [], close: null, wake: null };
    ws.on('message', (data) => {
      s.msgs.push(JSON.parse(data.toString('utf8')));
      if (s.wake) s.wake();
    });
    s.closed = new Promise((resolve) => ws.on('close', (code) => {
      s.close = code;
      if (s.wake) s.wake();
      resolve(code);
    }));
    ws.on('error', () => {});
    await h.withTimeout(new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('close', () => reject(new Error(`${this.user}: handshake failed`)));
    }), h.WAIT, `${this.user} to connect`);
    this.sessions.push(s);
  }

  sendText(text) {
    if (!this.isOpen) return false;
    this.ws.send(text);
    this.sent++;
    return true;
  }

  send(obj) { return this.sendText(JSON.stringify(obj)); }

  // Waits for a message of the current session matching pred.
  async waitMsg(pred, what, timeout = h.WAIT) {
    const s = this.sessions[this.sessions.length - 1];
    const deadline = Date.now() + timeout;
    for (let i = 0; ; i++) {
      if (i < s.msgs.length) {
        if (pred(s.msgs[i])) return s.msgs[i];
        continue;
      }
      if (s.close !== null) throw new Error(`${this.user}: closed (${s.close}) while waiting for ${what}`);
      if (Date.now() >= deadline) throw new Error(`${this.user}: timed out waiting for ${what}`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        s.wake = () => { clearTimeout(timer); s.wake = null; resolve(); };
      });
      i--;
    }
  }

  // A Single to itself: once back, everything it sent before has been routed
  // and everything routed to it before has arrived.
  async sync() {
    const tag = `sync:${this.user}:${this.sent}`;
    assert.ok(this.send({ messageType: 0, to: this.user, content: tag }), `${this.user} is open to sync`);
    await this.waitMsg((m) => m.content === tag, `its sync ${tag}`, 10000);
  }

  lastId() {
    const ids = this.all.map((m) => m.id);
    return ids.length ? Math.max(...ids) : 0;
  }
}

const seqOf = (m) => Number(m.content.split(':')[2]);
const isSoak = (m, from) => m.messageType === 1 && m.from === from && m.content.startsWith('soak:');

function assertIncreasingIds(msgs, who) {
  for (let i = 1; i < msgs.length; i++) {
    assert.ok(msgs[i].id > msgs[i - 1].id, `${who}: id ${msgs[i].id} after ${msgs[i - 1].id} (message ${i})`);
  }
}

test(`soak: ~50 clients of mixed behaviour for ${WINDOW_MS / 1000} s; every accepted Group message ` +
  'arrives exactly once, in order, and the metrics balance', f.bound(WINDOW_MS + 40000), async (t) => {
  const srv = await h.serve(t, ARGS);
  const before = await h.metrics(srv);
  const peer = (user) => new Peer(srv, user);
  const ref = peer('silent-0');
  const silent = [ref, ...Array.from({ length: SILENT - 1 }, (_, i) => peer(`silent-${i + 1}`))];
  const chatty = Array.from({ length: CHATTY }, (_, i) => peer(`chatty-${i}`));
  const garbage = Array.from({ length: GARBAGE }, (_, i) => peer(`garbage-${i}`));
  const feeder = peer('feeder');
  const reconn = Array.from({ length: RECONNECT }, (_, i) => peer(`reconnect-${i}`));
  const spammer = peer('spammer');
  const full = [...silent, ...chatty, ...garbage, feeder]; // connected and reading all along
  for (const p of [...full, ...reconn]) await p.open();
  const slow = await h.rawConnect(srv, 'slow');
  const slowMsgs = await slow.sync('slow');
  slowMsgs.push({ from: 'slow', messageType: 0, id: 0 }); // its sync marker (id unused)
  slow.sock.pause();
  for (const p of [...full, ...reconn]) await p.sync();

  // ------------------------------------------------------------ the window
  const timers = [];
  const every = (ms, fn) => timers.push(setInterval(fn, ms));
  let stopping = false;
  t.after(() => { // should the test fail half-way, nothing keeps running
    stopping = true;
    for (const timer of timers) clearInterval(timer);
  });
  for (const p of chatty) {
    every(100, () => {
      if (p.send({ messageType: 1, content: `soak:${p.user}:${p.seq}` })) p.seq++;
    });
  }
  for (const [i, p] of garbage.entries()) {
    every(500, () => {
      if (p.sendText(GARBAGE_TEXT[(p.garbage + i) % GARBAGE_TEXT.length])) p.garbage++;
    });
  }
  const feed = 'w'.repeat(40000);
  every(66, () => {
    if (feeder.msgs.some((m) => m.messageType === 2)) return; // slow is gone
    if (feeder.send({ messageType: 0, to: 'slow', content: feed })) feeder.singles++;
  });
  let reconnects = 0;
  const loops = reconn.map(async (p, i) => {
    await h.sleep(300 * i);
    while (!stopping) {
      await h.sleep(1500 + Math.floor(Math.random() * 2500));
      if (stopping) break;
      p.ws.close(1000);
      await p.sessions[p.sessions.length - 1].closed;
      reconnects++;
      const since = p.lastId(); // what came until the close counts too
      await p.open(since ? `&since=${since}` : '');
    }
  });
  const spam = (async () => {
    await h.sleep(WINDOW_MS / 4);
    await spammer.open();
    for (let i = 0; i < SPAM; i++) spammer.send({ messageType: 1, content: `soak:spammer:${i}` });
    await spammer.sessions[0].closed;
  })();
  await h.sleep(WINDOW_MS);
  for (const timer of timers) clearInterval(timer);
  stopping = true;
  await Promise.all(loops);
  await spam;

  // Two rounds of syncs: after the first, everything sent has been routed;
  // after the second, everything routed has arrived.
  const open = [...full, ...reconn];
  for (let round = 0; round < 2; round++) await Promise.all(open.map((p) => p.sync()));
  // The slow reader: closed long ago; read what reached it.
  await h.waitFor(async () => h.counter(await h.metrics(srv), 'pusher_slow_consumer_closes_total') > 0,
    'the slow reader to have been closed for its unread output during the window', 5000, 200);
  slow.sock.resume();
  await slow.waitEnd(h.WAIT, 'the slow reader\'s socket to be closed');
  let fr;
  while ((fr = h.parseFrame(slow.buf)) !== null) {
    slow.buf = slow.buf.subarray(fr.size);
    if (fr.opcode === h.OP.text) slowMsgs.push(JSON.parse(fr.payload.toString('utf8')));
    if (fr.opcode === h.OP.close) assert.equal(fr.payload.readUInt16BE(0), 1008);
  }
  const after = await h.metrics(srv);
  const delta = (name, labels) => h.counter(after, name, labels) - h.counter(before, name, labels);

  // ------------------------------------------------------------ the checks
  assert.equal(spammer.sessions[0].close, 1008, 'the spammer was closed by the rate limit');
  assert.ok(open.every((p) => p.isOpen), 'nobody else was closed');
  const spamSeen = ref.msgs.filter((m) => isSoak(m, 'spammer')).length;
  assert.ok(spamSeen >= 30 && spamSeen < SPAM, `${spamSeen} of the spammer's ${SPAM} messages got through`);
  let groupChecked = 0;
  for (const r of full) {
    const msgs = r.msgs;
    assertIncreasingIds(msgs, r.user);
    for (const c of chatty) {
      if (c === r) continue;
      const seqs = msgs.filter((m) => isSoak(m, c.user)).map(seqOf);
      assert.equal(seqs.length, c.seq, `${r.user} got ${seqs.length} of ${c.user}'s ${c.seq} Group messages`);
      seqs.forEach((s, i) => assert.equal(s, i, `${r.user}: ${c.user}'s message ${i} came as ${s}`));
      groupChecked += seqs.length;
    }
    const spamSeqs = msgs.filter((m) => isSoak(m, 'spammer')).map(seqOf);
    assert.deepEqual(spamSeqs, Array.from({ length: spamSeen }, (_, i) => i),
      `${r.user} got the spammer's accepted messages, the same as everyone`);
    groupChecked += spamSeqs.length;
    const errors = msgs.filter((m) => m.messageType === 2);
    for (const m of errors) h.assertError(m, `${r.user}'s reply`);
    if (garbage.includes(r)) assert.equal(errors.length, r.garbage, `${r.user}: one error reply per garbage message`);
    else if (r === feeder) assert.ok(errors.every((m) => /^error: user "slow" is not online$/.test(m.content)));
    else assert.equal(errors.length, 0, `${r.user} got error replies: ${h.clip(JSON.stringify(errors))}`);
  }
  for (const r of reconn) {
    assert.ok(r.sessions.length >= 3, `${r.user} came back ${r.sessions.length - 1} times`);
    const msgs = r.all;
    assertIncreasingIds(msgs, `${r.user} over ${r.sessions.length} sessions`);
    for (const c of chatty) {
      const seqs = msgs.filter((m) => isSoak(m, c.user)).map(seqOf);
      assert.ok(seqs.length > 0);
      seqs.forEach((s, i) => i && assert.equal(s, seqs[i - 1] + 1,
        `${r.user}: ${c.user}'s message ${seqs[i - 1] + 1} missing or repeated across a reconnect`));
      assert.equal(seqs[seqs.length - 1], c.seq - 1, `${r.user} got ${c.user}'s last message`);
      groupChecked += seqs.length;
    }
  }

  // Metrics: received.
  const sentByClients = [...full, ...reconn].reduce((n, p) => n + p.sent, 0) + 1; // + the slow reader's sync
  assert.equal(delta('pusher_messages_received_total'), sentByClients + spamSeen + 1);
  // Metrics: sent. The ended sessions, each with its OnlineNotify and
  // OfflineNotify ids as the reference reader saw them.
  const presence = (type, user) => ref.msgs.filter((m) => m.messageType === type && m.from === user).map((m) => m.id);
  const broadcasts = ref.msgs.filter((m) => m.messageType === 1 || m.messageType === 3 || m.messageType === 4);
  const unseenBy = (user, seen, k) => {
    const on = presence(3, user)[k];
    const off = presence(4, user)[k];
    assert.ok(on !== undefined && off !== undefined, `the reference saw ${user} come and go (session ${k})`);
    const last = Math.max(on, ...seen.map((m) => m.id));
    return broadcasts.filter((m) => m.id > last && m.id < off && m.from !== user).length;
  };
  let unseen = 0;
  for (const r of reconn) {
    r.sessions.slice(0, -1).forEach((s, k) => { unseen += unseenBy(r.user, s.msgs, k); });
  }
  unseen += unseenBy('spammer', spammer.sessions[0].msgs, 0);
  const slowFrames = slowMsgs.filter((m) => m.id);
  const feederErrors = feeder.msgs.filter((m) => m.messageType === 2).length;
  const singlesRead = slowMsgs.filter((m) => m.messageType === 0 && m.from === 'feeder').length;
  const singlesUnread = feeder.singles - feederErrors - singlesRead;
  assert.ok(singlesUnread >= 0);
  unseen += unseenBy('slow', slowFrames, 0) + singlesUnread;
  const seen = [...full, ...reconn, spammer].reduce((n, p) => n + p.all.length, 0) + slowMsgs.length;
  assert.equal(delta('pusher_messages_sent_total'), seen + unseen,
    `sent_total vs ${seen} messages the clients received and ${unseen} queued for connections that ended`);

  assert.equal(delta('pusher_slow_consumer_closes_total'), 1);
  assert.equal(delta('pusher_rate_limit_closes_total'), 1);
  assert.equal(delta('pusher_closes_total', { code: '1008' }), 2);
  assert.equal(delta('pusher_closes_total', { code: '1000' }), reconnects, 'each reconnect\'s close was answered');
  assert.equal(h.metric(after, 'pusher_connections'), open.length);
  assert.equal(h.metric(after, 'pusher_users'), open.length);

  const ms = await f.assertPrompt(srv);
  const groupSent = chatty.reduce((n, c) => n + c.seq, 0);
  t.diagnostic(`faults: soak of ${open.length + 2} clients for ${WINDOW_MS / 1000} s: ${groupSent} Group messages ` +
    `from ${CHATTY} senders + ${spamSeen} of the spammer's; ${groupChecked} Group deliveries checked in order; ` +
    `${reconnects} reconnects; ${garbage.reduce((n, p) => n + p.garbage, 0)} garbage messages answered; ` +
    `slow reader closed after ${slowFrames.length} messages; received_total ${delta('pusher_messages_received_total')}, ` +
    `sent_total ${delta('pusher_messages_sent_total')} = ${seen} seen + ${unseen} for ended connections; ` +
    `round trip after ${ms.toFixed(1)} ms`);
  for (const p of open) p.ws.close();
});
