'use strict';
// Rooms (PROTOCOL.md "Rooms"): Join and Leave by message and their error
// replies, the room's history replayed on joining, the Join and Leave notices
// (once per user and room), Group to a room, the room histories (their bound,
// `since`, the least recently used forgotten first), /api/push and
// /api/online?room=, and the /metrics gauges.
//
// Joining at connect (`&rooms=`) and the token's `rooms` claim are in
// rooms_connect.test.js.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');
const { JOIN, LEAVE, isError, brief, briefs, clients, joinRaw, join, expectRefused, onlineRaw } = require('./rooms_lib');

// Sends a Leave of room; fails where it was answered with an error or a
// Leave of the connection's own. Returns what else was queued before.
async function leave(c, room) {
  c.send({ messageType: LEAVE, to: room });
  const got = await c.sync();
  const bad = got.find((m) => isError(m) || (m.messageType === LEAVE && m.from === c.userId && m.to === room));
  assert.ok(!bad, `${c.label}: the Leave of ${JSON.stringify(room)} got ${bad && brief(bad)}`);
  return got;
}

// Takes the next message other than an Online or Offline notice (left
// queued) and checks it is a Join or Leave of user to room.
async function expectNotice(c, type, user, room) {
  const what = `the ${type === JOIN ? 'Join' : 'Leave'} of ${user} in ${room}`;
  const m = await c.take((x) => !h.isSync(x) && x.messageType !== 3 && x.messageType !== 4, `${what} at ${c.label}`);
  h.assertFull(m, `${c.label}: ${what}`);
  assert.deepEqual([m.messageType, m.from, m.to], [type, user, room],
    `${c.label}: expected ${what}, got ${brief(m)}`);
  return m;
}

// What a connection got of the room (Join, Leave or anything addressed to it).
const ofRoom = (room) => (list) => list.filter((m) => m.to === room || m.messageType === JOIN || m.messageType === LEAVE);

function assertSameMessages(got, want, what) {
  assert.deepEqual(briefs(got), briefs(want), what);
  assert.deepEqual(got.map((m) => m.id), want.map((m) => m.id), `${what}: the same ids as when they were routed`);
  for (let i = 1; i < got.length; i++) assert.ok(got[i].id > got[i - 1].id, `${what}: oldest first`);
}

// A history replayed to a joiner may begin with the Join of the room's first
// member (made when nobody was there to hear it); skips it where it is the
// Join of firstUser.
function afterFirstJoin(hist, firstUser, room) {
  return hist.length && hist[0].messageType === JOIN && hist[0].from === firstUser && hist[0].to === room
    ? hist.slice(1) : hist;
}

async function online(srv, room, extra = '') {
  const res = await onlineRaw(srv, `room=${encodeURIComponent(room)}${extra}`);
  assert.equal(res.status, 200, `/api/online?room=${room} answered ${res.status} ${res.body}`);
  assert.match(res.headers['content-type'] || '', /^application\/json\b/);
  const body = JSON.parse(res.body);
  assert.ok(Number.isInteger(body.id) && Number.isInteger(body.count) && Array.isArray(body.users),
    `/api/online?room=${room} should answer {id,count,users}: ${res.body}`);
  return body;
}

function assertDelivered(res, n, what) {
  assert.equal(res.status, 200, `${what}: push answered ${res.status} ${res.body}`);
  assert.deepEqual(JSON.parse(res.body), { delivered: n, queued: 0 }, `${what}: the push answer`);
}

// ---------------------------------------------------------------- joining and leaving

test('Join and Leave by message put a connection in a room and take it out again', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, b, o] = await clients(srv, 'alice', 'bob', 'olga');
  assert.deepEqual((await online(srv, 'lobby')).users, [], 'nobody in the lobby yet');
  await join(a, 'lobby');
  assert.deepEqual((await online(srv, 'lobby')).users, ['alice'], 'alice is in the lobby after her Join');
  await join(b, 'lobby');
  await expectNotice(a, JOIN, 'bob', 'lobby');
  b.send({ messageType: 1, to: 'lobby', content: 'hi lobby' });
  const m = await a.next('bob\'s message to the lobby');
  assert.deepEqual([m.messageType, m.from, m.to, m.content], [1, 'bob', 'lobby', 'hi lobby']);
  await leave(a, 'lobby');
  await expectNotice(b, LEAVE, 'alice', 'lobby');
  assert.deepEqual((await online(srv, 'lobby')).users, ['bob'], 'alice is out of the lobby after her Leave');
  b.send({ messageType: 1, to: 'lobby', content: 'anyone?' });
  assert.deepEqual(briefs(await h.syncVia(b, a)), [], 'alice, out of the room, gets nothing of it');
  assert.deepEqual(briefs(await h.syncVia(b, o)), [], 'olga, never in the room, gets nothing of it');
  // and alice may join again
  await join(a, 'lobby');
  await expectNotice(b, JOIN, 'alice', 'lobby');
});

const BAD_ROOMS = [
  ['an empty room name (Join and Leave need a room)', ''],
  ['`to` left out', undefined],
  ['`to` null', null],
  ['a name of 65 bytes', 'r'.repeat(65)],
  ['a name of 65 bytes in 33 characters', `${'é'.repeat(32)}a`],
  ['a name holding U+0001', 'a\u0001b'],
  ['a name holding a newline', 'room\n'],
  ['a name holding a tab', '\t'],
  ['a name holding DEL (U+007F)', 'a\u007fb'],
  ['a name holding a C1 control (U+0085)', 'a\u0085b'],
  ['a name holding NUL', 'a\u0000'],
];

test('a Join or Leave of a bad room name is an error reply; the connection stays and is in no room', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, w] = await clients(srv, 'alice', 'witness');
  for (const [what, name] of BAD_ROOMS) {
    for (const type of [JOIN, LEAVE]) {
      const msg = { messageType: type };
      if (name !== undefined) msg.to = name;
      await expectRefused(a, msg, `a ${type === JOIN ? 'Join' : 'Leave'} with ${what}`);
      assert.deepEqual(briefs(await h.syncVia(a, w)), [], `${what}: nobody else hears of it`);
    }
  }
  for (const n of srv.nodes || [srv]) {
    const m = await h.metrics(n);
    assert.equal(h.metric(m, 'pusher_room_memberships'), 0, 'no refused Join put alice in a room');
  }
  // the limits themselves are fine: 64 bytes, in one- or two-byte characters
  for (const name of ['r'.repeat(64), 'é'.repeat(32), 'salle à manger 🍽']) {
    await join(w, name);
    await join(a, name);
    await expectNotice(w, JOIN, 'alice', name);
    assert.deepEqual((await online(srv, name)).users, ['alice', 'witness'], `both are in ${JSON.stringify(name)}`);
  }
});

test('joining a room one is in already is an error reply, and one is in it once', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, w] = await clients(srv, 'alice', 'witness');
  await join(w, 'r');
  await join(a, 'r');
  await expectNotice(w, JOIN, 'alice', 'r');
  await expectRefused(a, { messageType: JOIN, to: 'r' }, 'a second Join of r');
  await expectRefused(a, { messageType: JOIN, to: 'r', since: 0 }, 'a third Join of r, with since');
  assert.deepEqual(briefs(await h.syncVia(a, w)), [], 'no second Join reaches the room');
  // one Leave takes her out: she was in it once
  await leave(a, 'r');
  await expectNotice(w, LEAVE, 'alice', 'r');
  await expectRefused(a, { messageType: 1, to: 'r', content: 'still in?' }, 'a Group to r after one Leave');
  assert.deepEqual(briefs(await h.syncVia(a, w)), [], 'alice is out of r');
});

test('leaving a room one is not in is an error reply, and tells the room nothing', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a1, a2, w] = await clients(srv, 'alice', 'alice', 'witness');
  await join(w, 'r');
  await expectRefused(a1, { messageType: LEAVE, to: 'r' }, 'a Leave of r, which alice never joined');
  await expectRefused(a1, { messageType: LEAVE, to: 'nowhere' }, 'a Leave of a room nobody is in');
  await join(a2, 'r');
  await expectNotice(w, JOIN, 'alice', 'r');
  await expectRefused(a1, { messageType: LEAVE, to: 'r' }, 'a Leave of r by the connection of alice outside it');
  assert.deepEqual(briefs(await h.syncVia(a1, w)), [], 'no Leave of alice: her other connection is still in r');
  w.send({ messageType: 1, to: 'r', content: 'still there?' });
  assert.equal((await a2.next('the message to r at alice\'s connection in it')).content, 'still there?');
  await leave(a2, 'r');
  await expectNotice(w, LEAVE, 'alice', 'r');
  await expectRefused(a2, { messageType: LEAVE, to: 'r' }, 'a second Leave of r');
  assert.deepEqual(briefs(await h.syncVia(a2, w)), [], 'no second Leave reaches the room');
});

test('--max-rooms 3: a fourth room is an error reply; the limit is per connection', h.T, async (t) => {
  const srv = await h.serve(t, ['--max-rooms', '3']);
  const [a1, a2, w] = await clients(srv, 'alice', 'alice', 'witness');
  await join(w, 'r4');
  for (const r of ['r1', 'r2', 'r3']) await join(a1, r);
  await expectRefused(a1, { messageType: JOIN, to: 'r4' }, 'a Join of a fourth room');
  assert.deepEqual(briefs(await h.syncVia(a1, w)), [], 'the room alice could not join hears no Join');
  assert.deepEqual((await online(srv, 'r4')).users, ['witness'], 'alice is not in r4');
  // another connection of the same user has rooms of its own
  for (const r of ['r1', 'r2', 'r3']) await join(a2, r);
  await expectRefused(a2, { messageType: JOIN, to: 'r5' }, 'a Join of a fourth room by alice\'s second connection');
  // leaving one makes room for another
  await leave(a1, 'r2');
  await join(a1, 'r4');
  await expectNotice(w, JOIN, 'alice', 'r4');
  await expectRefused(a1, { messageType: JOIN, to: 'r5' }, 'a Join of a fourth room after leaving one and joining another');
  assert.deepEqual((await online(srv, 'r5')).users, [], 'nobody got into r5');
});

// ---------------------------------------------------------------- history on joining, Join and Leave notices

test('a joiner first receives the room\'s history, oldest first, its own Join never', h.T, async (t) => {
  const srv = await h.serve(t);
  const [w, a, b, c, o] = await clients(srv, 'witness', 'alice', 'bob', 'carol', 'olga');
  await join(w, 'r');
  const seen = [];
  await join(a, 'r');
  seen.push(await expectNotice(w, JOIN, 'alice', 'r'));
  await join(b, 'r');
  seen.push(await expectNotice(w, JOIN, 'bob', 'r'));
  b.send({ messageType: 1, to: 'r', content: 'hello room', createAt: 1234 });
  seen.push(await w.next('bob\'s message to r'));
  assertDelivered(await h.push(srv, { messageType: 2, from: 'ops', to: 'r', content: 'notice to r' }), 3, 'SysNotify to r');
  seen.push(await w.next('the SysNotify pushed to r'));
  await leave(b, 'r');
  seen.push(await expectNotice(w, LEAVE, 'bob', 'r'));
  // other rooms and everyone's traffic are not r's history
  await join(o, 'other');
  o.send({ messageType: 1, to: 'other', content: 'elsewhere' });
  o.send({ messageType: 1, content: 'to everyone' });
  await c.until((m) => m.content === 'to everyone', 'olga\'s message to everyone');
  await h.settle(w, a, b, c);

  const hist = await join(c, 'r');
  assert.ok(!hist.some((m) => m.messageType === JOIN && m.from === 'carol'), `carol never sees her own Join: ${briefs(hist)}`);
  assertSameMessages(afterFirstJoin(hist, 'witness', 'r'), seen, 'carol\'s history of r');
  assert.equal(hist.find((m) => m.content === 'hello room').createAt, 1234, 'the history keeps every field');
  // then the room hears of her
  for (const x of [w, a]) await expectNotice(x, JOIN, 'carol', 'r');
  assert.deepEqual(briefs(await h.syncVia(c, b)), [], 'bob, who left r, does not hear of carol');
  assert.deepEqual(briefs(await h.syncVia(c, o)), [], 'olga, outside r, does not hear of carol');
  // and then live traffic follows
  a.send({ messageType: 1, to: 'r', content: 'welcome' });
  assert.equal((await c.next('alice\'s welcome')).content, 'welcome');
});

test('Join and Leave go out once per user: on the first connection in, on the last one out (Leave or close)', h.T, async (t) => {
  const srv = await h.serve(t);
  const [w, a1, a2, a3, o] = await clients(srv, 'witness', 'alice', 'alice', 'alice', 'olga');
  await join(w, 'r');
  await join(o, 'elsewhere');

  // in by a1, then a2; out by a Leave of a1, then a2 closing
  await join(a1, 'r');
  await expectNotice(w, JOIN, 'alice', 'r');
  await join(a2, 'r');
  assert.deepEqual(briefs(await h.syncVia(a2, w)), [], 'no Join for alice\'s second connection in r');
  assert.deepEqual(briefs(await a1.sync()), [], 'alice\'s first connection hears nothing of her second');
  await leave(a1, 'r');
  assert.deepEqual(briefs(await h.syncVia(a2, w)), [], 'no Leave while alice\'s second connection is in r');
  assert.deepEqual(briefs(await a2.sync()), [], 'nor does alice\'s connection still in r hear of it');
  await a2.close();
  await h.waitConnections(srv, 4);
  await expectNotice(w, LEAVE, 'alice', 'r');
  assert.deepEqual(briefs(await h.syncVia(a1, w)), [], 'exactly one Leave');

  // in again by a1 and a4; out by a4 closing, then a Leave of a1
  await join(a1, 'r');
  await expectNotice(w, JOIN, 'alice', 'r');
  const a4 = await h.connect(srv, 'alice');
  await a4.sync();
  await join(a4, 'r');
  assert.deepEqual(briefs(await h.syncVia(a4, w)), [], 'no Join for alice\'s second connection in r');
  a4.ws.terminate(); // a connection that drops without a close frame counts as closing
  await h.waitConnections(srv, 4);
  assert.deepEqual(briefs(await h.syncVia(a1, w)), [], 'no Leave while alice\'s first connection is in r');
  await leave(a1, 'r');
  await expectNotice(w, LEAVE, 'alice', 'r');
  assert.deepEqual(briefs(await h.syncVia(a1, w)), [], 'exactly one Leave');

  // her only connection in r closing, while she stays online by another, is a Leave too
  const a5 = await h.connect(srv, 'alice');
  await a5.sync();
  await join(a5, 'r');
  await expectNotice(w, JOIN, 'alice', 'r');
  await a5.close();
  await expectNotice(w, LEAVE, 'alice', 'r');
  assert.deepEqual(briefs(await h.syncVia(a1, w)), [], 'exactly one Leave, and no OfflineNotify: alice is still online');

  // alice's connection that never joined, and olga in another room, got nothing of r
  assert.deepEqual(briefs(ofRoom('r')(await a3.sync())), [], 'alice\'s connection outside r gets nothing of it');
  assert.deepEqual(briefs(ofRoom('r')(await o.sync())), [], 'olga, outside r, gets nothing of it');
});

// ---------------------------------------------------------------- Group to a room

test('Group to a room reaches every connection in it but the sending one, in one order; nobody outside', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a1, a2, a3, b, c, o] = await clients(srv, 'alice', 'alice', 'alice', 'bob', 'carol', 'olga');
  for (const x of [a1, a2, b, c]) await join(x, 'r');
  await join(o, 'r-other');
  await h.settle(a1, a2, b, c);
  const N = 50;
  for (let i = 0; i < N; i++) {
    a1.send({ messageType: 1, to: 'r', content: `a${i}` });
    b.send({ messageType: 1, to: 'r', content: `b${i}` });
  }
  const seq = new Map();
  for (const [x, n] of [[a2, 2 * N], [c, 2 * N], [a1, N], [b, N]]) {
    const got = [];
    for (let i = 0; i < n; i++) {
      const m = await x.next(`message ${i} of ${n} to r at ${x.label}`);
      assert.equal(m.messageType, 1);
      assert.equal(m.to, 'r', `${x.label}: a message to the room keeps its \`to\`: ${brief(m)}`);
      got.push(m);
    }
    seq.set(x, got);
  }
  const contents = (list, from) => list.filter((m) => m.from === from).map((m) => m.content);
  const want = (p) => Array.from({ length: N }, (_, i) => `${p}${i}`);
  for (const x of [a2, c]) {
    assert.deepEqual(contents(seq.get(x), 'alice'), want('a'), `${x.label}: alice's messages, in order`);
    assert.deepEqual(contents(seq.get(x), 'bob'), want('b'), `${x.label}: bob's messages, in order`);
    for (let i = 1; i < 2 * N; i++) assert.ok(seq.get(x)[i].id > seq.get(x)[i - 1].id, `${x.label}: ids increase`);
  }
  assert.deepEqual(seq.get(a2).map((m) => m.id), seq.get(c).map((m) => m.id), 'alice\'s second connection and carol see one order');
  assert.deepEqual(seq.get(a1).map((m) => m.content), want('b'), 'the sending connection gets the others\', never its own');
  assert.deepEqual(seq.get(b).map((m) => m.content), want('a'), 'bob gets alice\'s, never his own');
  assert.deepEqual(seq.get(a1).map((m) => m.id), seq.get(c).filter((m) => m.from === 'bob').map((m) => m.id),
    'the sender gets the others\' in the same order');
  for (const x of [a1, a2, b, c]) assert.deepEqual(briefs(await x.sync()), [], `${x.label}: nothing more`);
  assert.deepEqual(briefs(await a3.sync()), [], 'alice\'s connection outside r gets nothing');
  assert.deepEqual(briefs(await o.sync()), [], 'olga, in another room, gets nothing');
});

test('Group to a room by a connection not in it is an error reply and reaches nobody', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a1, a2, w] = await clients(srv, 'alice', 'alice', 'witness');
  await join(w, 'r');
  await expectRefused(a1, { messageType: 1, to: 'r', content: 'gatecrash' }, 'a Group to r from outside it');
  await expectRefused(a1, { messageType: 1, to: 'empty', content: 'hello?' }, 'a Group to a room nobody is in');
  await join(a2, 'r');
  await expectNotice(w, JOIN, 'alice', 'r');
  await expectRefused(a1, { messageType: 1, to: 'r', content: 'my other tab is in' },
    'a Group to r from alice\'s connection outside it while her other one is in');
  await leave(a2, 'r');
  await expectNotice(w, LEAVE, 'alice', 'r');
  await expectRefused(a2, { messageType: 1, to: 'r', content: 'just left' }, 'a Group to r after leaving it');
  assert.deepEqual(briefs(await h.syncVia(a1, w)), [], 'none of them reached the room');
  assert.deepEqual(briefs(await h.syncVia(a1, a2)), [], 'nor alice\'s other connection');
  const c = await h.connect(srv, 'carol');
  const hist = await join(c, 'r');
  assert.ok(!hist.some((m) => m.messageType === 1), `no refused message entered r's history: ${briefs(hist)}`);
});

// ---------------------------------------------------------------- room histories

test('a room\'s messages enter its history only, never everyone\'s', h.T, async (t) => {
  const srv = await h.serve(t);
  const [w, a] = await clients(srv, 'witness', 'alice');
  await join(w, 'r');
  await join(a, 'r');
  await expectNotice(w, JOIN, 'alice', 'r');
  a.send({ messageType: 1, to: 'r', content: 'room only 1' });
  await w.next('room only 1');
  assertDelivered(await h.push(srv, { messageType: 1, from: 'ops', to: 'r', content: 'room only 2' }), 2, 'Group to r');
  assertDelivered(await h.push(srv, { messageType: 2, to: 'r', content: 'room only 3' }), 2, 'SysNotify to r');
  a.send({ messageType: 1, content: 'for everyone' }); // the control: this one is everyone's
  await a.sync();
  await leave(a, 'r');
  await w.until((m) => m.messageType === LEAVE, 'alice\'s Leave of r');

  const n = await h.connect(srv, 'newbie');
  const hist = await n.sync();
  assert.ok(hist.some((m) => m.content === 'for everyone'), `the everyone history is replayed at all: ${briefs(hist)}`);
  const leaked = hist.filter((m) => m.to === 'r' || m.messageType === JOIN || m.messageType === LEAVE);
  assert.deepEqual(briefs(leaked), [], 'a newcomer in no room sees nothing of r');
  // nor does a joiner of another room
  assert.deepEqual(briefs(await join(n, 'r2')), [], 'a joiner of r2 gets nothing of r');
});

test('a room keeps its last 100 messages, Join and Leave counted: a late joiner gets exactly those', h.T, async (t) => {
  const srv = await h.serve(t);
  const [w, a, b, c] = await clients(srv, 'witness', 'alice', 'bob', 'carol');
  await join(w, 'r');
  const seen = [];
  await join(a, 'r');
  seen.push(await expectNotice(w, JOIN, 'alice', 'r'));
  for (let i = 0; i < 105; i++) a.send({ messageType: 1, to: 'r', content: `m${i}` });
  for (let i = 0; i < 105; i++) seen.push(await w.next(`m${i}`));
  await join(b, 'r');
  seen.push(await expectNotice(w, JOIN, 'bob', 'r'));
  await leave(b, 'r');
  seen.push(await expectNotice(w, LEAVE, 'bob', 'r'));
  for (let i = 105; i < 107; i++) a.send({ messageType: 1, to: 'r', content: `m${i}` });
  for (let i = 105; i < 107; i++) seen.push(await w.next(`m${i}`));
  assert.equal(seen.length, 110);
  const hist = await join(c, 'r');
  assert.equal(hist.length, 100, `carol got ${hist.length} messages of r; first ${briefs(hist.slice(0, 2))}`);
  assertSameMessages(hist, seen.slice(10), 'the newest 100 of r, Join and Leave among them');
});

test('a Join with "since":ID replays only the room\'s messages after ID', h.T, async (t) => {
  const srv = await h.serve(t);
  const [w, a] = await clients(srv, 'witness', 'alice');
  await join(w, 'r');
  const seen = [];
  await join(a, 'r');
  seen.push(await expectNotice(w, JOIN, 'alice', 'r'));
  for (let i = 0; i < 5; i++) {
    a.send({ messageType: 1, to: 'r', content: `s${i}` });
    seen.push(await w.next(`s${i}`));
  }
  const l1 = await h.connect(srv, 'late1');
  await l1.sync();
  assertSameMessages(await join(l1, 'r', { since: seen[2].id }), seen.slice(3), 'since the second message');
  seen.push(await expectNotice(w, JOIN, 'late1', 'r'));

  const l2 = await h.connect(srv, 'late2');
  await l2.sync();
  assert.deepEqual(briefs(await join(l2, 'r', { since: seen[seen.length - 1].id })), [],
    'nothing after the newest message of r');
  seen.push(await expectNotice(w, JOIN, 'late2', 'r'));

  const l3 = await h.connect(srv, 'late3');
  await l3.sync();
  assert.deepEqual(briefs(await join(l3, 'r', { since: Number.MAX_SAFE_INTEGER })), [], 'nothing newer than the future');
  seen.push(await expectNotice(w, JOIN, 'late3', 'r'));

  const l4 = await h.connect(srv, 'late4');
  await l4.sync();
  assertSameMessages(afterFirstJoin(await join(l4, 'r', { since: 0 }), 'witness', 'r'), seen, 'since 0: all of it');

  // since on another message is ignored; since of the wrong type is a field of the wrong type
  a.send({ messageType: 1, to: 'r', content: 'with since', since: Number.MAX_SAFE_INTEGER });
  const before = (await w.until((m) => m.content === 'with since', 'the Group carrying since'))
    .filter((m) => m.messageType !== 3 && m.messageType !== 4);
  assert.deepEqual(briefs(before), ['5:late4:r:'], 'only late4\'s Join came before it');
  const l5 = await h.connect(srv, 'late5');
  await l5.sync();
  await expectRefused(l5, { messageType: JOIN, to: 'r', since: 'yesterday' }, 'a Join whose since is a string');
  // On any other message since is ignored, whatever it holds.
  a.send({ messageType: 1, to: 'r', content: 'with a string since', since: 'yesterday' });
  await w.until((m) => m.content === 'with a string since', 'the Group whose since is a string');
  a.send({ messageType: 1, content: 'to everyone, since an object', since: { at: 1 } });
  await w.until((m) => m.content === 'to everyone, since an object', 'the Group whose since is an object');
});

test('--max-room-histories 2: the least recently used room\'s history is forgotten, the others kept', h.T, async (t) => {
  const srv = await h.serve(t, ['--max-room-histories', '2']);
  // rooms A, B, then A again, then C get messages: B is the least recently used
  for (const [room, content] of [['A', 'a1'], ['B', 'b1'], ['A', 'a2'], ['C', 'c1']]) {
    assertDelivered(await h.push(srv, { messageType: 1, from: 'ops', to: room, content }), 0, `Group to ${room}`);
  }
  const [j1, j2, j3] = await clients(srv, 'j1', 'j2', 'j3');
  // the kept ones first: every Join is a use, and a Join makes a history
  assert.deepEqual((await join(j1, 'A')).map((m) => m.content), ['a1', 'a2'], 'A, used last but one, is kept');
  assert.deepEqual((await join(j2, 'C')).map((m) => m.content), ['c1'], 'C, used last, is kept');
  assert.deepEqual(briefs(await join(j3, 'B')), [], 'B, the least recently used, is forgotten');
});

test('with --max-room-histories 2, a room used by its members stays while one nobody uses goes', h.T, async (t) => {
  const srv = await h.serve(t, ['--max-room-histories', '2']);
  const [a, b] = await clients(srv, 'alice', 'bob');
  await join(a, 'busy');
  await join(b, 'busy');
  await expectNotice(a, JOIN, 'bob', 'busy');
  assertDelivered(await h.push(srv, { messageType: 1, to: 'quiet', content: 'q1' }), 0, 'Group to quiet');
  a.send({ messageType: 1, to: 'busy', content: 'still busy' });
  await b.next('still busy');
  assertDelivered(await h.push(srv, { messageType: 1, to: 'third', content: 't1' }), 0, 'Group to third');
  const [c, d] = await clients(srv, 'carol', 'dave');
  const hist = await join(c, 'busy');
  assert.deepEqual(briefs(hist).slice(-2), briefs([{ messageType: JOIN, from: 'bob', to: 'busy', content: '' },
    { messageType: 1, from: 'alice', to: 'busy', content: 'still busy' }]), 'busy, used after quiet, is kept');
  assert.deepEqual(briefs(await join(d, 'quiet')), [], 'quiet, the least recently used, is forgotten');
});

// ---------------------------------------------------------------- /api/push to a room

test('/api/push of a Group or SysNotify to a room reaches its connections only and enters its history', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a1, a2, b, a3, o] = await clients(srv, 'alice', 'alice', 'bob', 'alice', 'olga');
  for (const x of [a1, a2, b]) await join(x, 'r');
  await join(o, 'other');
  await h.settle(a1, a2, b);
  const pushed = [];
  for (const [type, body] of [
    [1, { messageType: 1, from: 'ops', to: 'r', content: 'group to r', createAt: 42 }],
    [2, { messageType: 2, to: 'r', content: 'sys to r' }],
  ]) {
    assertDelivered(await h.push(srv, body), 3, `a pushed ${type === 1 ? 'Group' : 'SysNotify'} to r`);
    const got = [];
    for (const x of [a1, a2, b]) {
      const m = await x.next(`the pushed message at ${x.label}`);
      assert.deepEqual([m.messageType, m.from, m.to, m.content], [type, body.from || '', 'r', body.content]);
      got.push(m);
    }
    assert.ok(got.every((m) => m.id === got[0].id), 'one message, one id');
    pushed.push(got[0]);
  }
  assert.equal(pushed[0].createAt, 42, 'createAt passed through');
  assert.deepEqual(briefs(await a3.sync()), [], 'alice\'s connection outside r gets nothing');
  assert.deepEqual(briefs(await o.sync()), [], 'olga in another room gets nothing');
  // to a room with nobody in it
  assertDelivered(await h.push(srv, { messageType: 1, to: 'empty', content: 'for later' }), 0, 'a push to an empty room');
  // bad room names
  for (const [what, to] of [['65 bytes', 'x'.repeat(65)], ['a control character', 'a\u0001b'], ['a C1 control', '\u0085']]) {
    const res = await h.push(srv, { messageType: 1, to, content: 'x' });
    assert.equal(res.status, 400, `a push to a room named with ${what}: got ${res.status} ${res.body}`);
  }
  assert.deepEqual(briefs(await a1.sync()), [], 'no refused push was delivered');
  // the room's history holds them, everyone's does not
  const c = await h.connect(srv, 'carol');
  const everyone = await c.sync();
  assert.deepEqual(briefs(everyone.filter((m) => m.to !== '')), [], 'pushes to rooms are not in everyone\'s history');
  const hist = await join(c, 'r');
  assertSameMessages(hist.filter((m) => m.messageType !== JOIN), pushed, 'a later joiner of r gets the pushed ones');
  assert.deepEqual((await join(c, 'empty')).map((m) => m.content), ['for later'],
    'a joiner of the room that was empty gets what was pushed to it');
});

// ---------------------------------------------------------------- /api/online?room=

test('/api/online?room=R lists the users in R, sorted by bytes, once each, with count', h.T, async (t) => {
  const srv = await h.serve(t);
  const users = ['émile', 'bob', 'Zed', 'alice', 'alice', 'bob', 'outsider', 'leaver', 'closer'];
  const cs = [];
  for (const u of users) cs.push(await h.connect(srv, u));
  await h.settle(...cs);
  const room = 'salle à manger';
  for (const c of cs.filter((x) => x.userId !== 'outsider')) await join(c, room);
  await join(cs[6], 'elsewhere');
  await leave(cs[7], room);
  await cs[8].close();
  await h.waitConnections(srv, users.length - 1);

  const want = ['Zed', 'alice', 'bob', 'émile'];
  const body = await online(srv, room);
  assert.deepEqual(body.users, want, 'sorted by bytes, each once however many connections');
  assert.equal(body.count, 4, `count is the users in the room: ${JSON.stringify(body)}`);
  assert.ok(body.id > (srv.startedAt - 2000) * 1000, `id ${body.id} is the server's last id`);
  // the name percent-decoded, `+` a space
  const plus = await onlineRaw(srv, 'room=salle+%C3%A0+manger');
  assert.equal(plus.status, 200, `room with + for spaces answered ${plus.status} ${plus.body}`);
  assert.deepEqual(JSON.parse(plus.body).users, want, '+ stands for a space in the room name');
  // limit shows fewer names, count stays the total
  const lim = await online(srv, room, '&limit=2');
  assert.deepEqual([lim.count, lim.users], [4, ['Zed', 'alice']], `limit=2: ${JSON.stringify(lim)}`);
  // everyone, for comparison, still lists the outsider
  const all = JSON.parse((await onlineRaw(srv, '')).body);
  assert.ok(all.users.includes('outsider') && all.count === 6, `everyone's list: ${JSON.stringify(all)}`);
  // a room with nobody in it
  const none = await online(srv, 'nobody-here');
  assert.deepEqual([none.count, none.users], [0, []], `an empty room: ${JSON.stringify(none)}`);
  // one emptied by its last member leaving
  await leave(cs[6], 'elsewhere');
  const emptied = await online(srv, 'elsewhere');
  assert.deepEqual([emptied.count, emptied.users], [0, []], `a room its last member left: ${JSON.stringify(emptied)}`);
  // bad room names
  for (const [what, q] of [['65 bytes', `room=${'r'.repeat(65)}`], ['a control character', 'room=a%01b'],
    ['bad UTF-8', 'room=%FF']]) {
    const res = await onlineRaw(srv, q);
    assert.equal(res.status, 400, `/api/online with a room of ${what}: got ${res.status} ${res.body}`);
  }
  const ok64 = await onlineRaw(srv, `room=${'r'.repeat(64)}`);
  assert.equal(ok64.status, 200, `a room name of 64 bytes is fine: got ${ok64.status} ${ok64.body}`);
});

// ---------------------------------------------------------------- /metrics

test('/metrics gauges pusher_rooms and pusher_room_memberships follow joins, leaves and closes', h.T, async (t) => {
  const srv = await h.serve(t, [], { single: true }); // gauges of one node's own
  const gauges = async (what) => {
    const m = await h.metrics(srv);
    for (const name of ['pusher_rooms', 'pusher_room_memberships']) {
      assert.equal(m.types.get(name), 'gauge', `${name} is typed gauge (${what})`);
    }
    return [h.metric(m, 'pusher_rooms'), h.metric(m, 'pusher_room_memberships')];
  };
  assert.deepEqual(await gauges('at start'), [0, 0], 'no rooms at start [rooms, memberships]');
  const [a1, a2, b] = await clients(srv, 'alice', 'alice', 'bob');
  await join(a1, 'r1');
  assert.deepEqual(await gauges('a1 in r1'), [1, 1], 'a1 in r1 [rooms, memberships]');
  await join(a1, 'r2');
  assert.deepEqual(await gauges('a1 in r1, r2'), [2, 2], 'a1 in r1 and r2');
  await join(b, 'r1');
  assert.deepEqual(await gauges('b in r1 too'), [2, 3], 'b in r1 too');
  await join(a2, 'r1');
  assert.deepEqual(await gauges('a2 in r1 too'), [2, 4], 'alice\'s second connection counts again');
  await joinRaw(a2, 'r1');
  await joinRaw(a2, '');
  assert.deepEqual(await gauges('after refused joins'), [2, 4], 'refused Joins change nothing');
  assertDelivered(await h.push(srv, { messageType: 1, to: 'r9', content: 'x' }), 0, 'a push to an empty room');
  assert.deepEqual(await gauges('after a push to an empty room'), [2, 4], 'a room with no connection in it is not counted');
  await leave(a1, 'r2');
  assert.deepEqual(await gauges('a1 left r2'), [1, 3], 'a1 left r2');
  await a1.close();
  await h.waitConnections(srv, 2);
  assert.deepEqual(await gauges('a1 closed'), [1, 2], 'a1 closed, out of r1');
  b.ws.terminate();
  await h.waitConnections(srv, 1);
  assert.deepEqual(await gauges('b dropped'), [1, 1], 'b dropped, out of r1');
  await leave(a2, 'r1');
  assert.deepEqual(await gauges('a2 left r1'), [0, 0], 'everybody out');
  await a2.close();
});
