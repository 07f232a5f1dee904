'use strict';
// Rooms joined at connect and the token's rooms claim (PROTOCOL.md "Rooms",
// "Routing", "Recent history"): `&rooms=a,b` puts the connection in both
// rooms and tells their other members once per user, the everyone history and
// the rooms' histories arrive merged in id order (after `since=`, within half
// the pending limit), the names are percent-decoded, a bad `rooms=` is 400,
// with --secret the token's `rooms` claim says which rooms may be joined (403
// at connect, an error reply to a Join), a bad claim is 401, and
// /api/preflight answers what the upgrade would.
//
// Join and Leave by message, Group to a room and the room histories on their
// own are in rooms.test.js.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');
const { JOIN, LEAVE, isError, brief, briefs, clients, joinRaw, join, expectRefused, onlineRaw } = require('./rooms_lib');

const GROUP = 1;
const SYS = 2;
const ONLINE = 3;
const SECRET = 'rooms-connect-secret';

// Takes the next message of the given type (others stay queued) and checks
// it is from user to room.
async function expectTyped(c, type, user, room) {
  const what = `a message of type ${type} from ${user} to ${JSON.stringify(room)} at ${c.label}`;
  const m = await c.take((x) => !h.isSync(x) && x.messageType === type, what);
  h.assertFull(m, `${c.label}: ${what}`);
  assert.deepEqual([m.messageType, m.from, m.to], [type, user, room], `${c.label}: expected ${what}, got ${brief(m)}`);
  return m;
}

async function online(srv, room, extra = '') {
  const res = await onlineRaw(srv, `room=${encodeURIComponent(room)}${extra}`);
  assert.equal(res.status, 200, `/api/online?room=${room} answered ${res.status} ${res.body}`);
  const body = JSON.parse(res.body);
  assert.ok(Number.isInteger(body.count) && Array.isArray(body.users),
    `/api/online?room=${room} should answer {id,count,users}: ${res.body}`);
  return body;
}

// [pusher_rooms, pusher_room_memberships], added up over the nodes where
// there are several (each node counts its own connections).
async function roomGauges(srv) {
  const sum = [0, 0];
  for (const n of srv.nodes || [srv]) {
    const m = await h.metrics(n);
    sum[0] += h.metric(m, 'pusher_rooms');
    sum[1] += h.metric(m, 'pusher_room_memberships');
  }
  return sum;
}

function assertIncreasing(list, what) {
  for (let i = 1; i < list.length; i++) {
    assert.ok(list[i].id > list[i - 1].id,
      `${what}: ids must strictly increase, but #${i} ${brief(list[i])} id ${list[i].id} follows id ${list[i - 1].id}`);
  }
}

function assertSameMessages(got, want, what) {
  assert.deepEqual(briefs(got), briefs(want), what);
  assert.deepEqual(got.map((m) => m.id), want.map((m) => m.id), `${what}: the same ids as when they were routed`);
}

const byId = (list) => list.slice().sort((x, y) => x.id - y.id);

// A token for user, signed with SECRET; claims adds to it (rooms).
const token = (user, claims = {}) => h.makeJwt({ sub: user, ...claims }, SECRET);
const q = (user, rest = '') => `userId=${encodeURIComponent(user)}${rest}`;

// The upgrade's status for query (the raw socket destroyed), and its answer.
async function upgradeStatus(srv, query) {
  const { res, raw } = await h.rawHandshake(srv, `/websocket?${query}`);
  raw.destroy();
  return res;
}

// Expects the upgrade with query to be refused with status and a one-line
// plain-text reason, the connection closed; returns the reason.
async function expectRefusedUpgrade(srv, query, status, what) {
  const { res, raw } = await h.rawHandshake(srv, `/websocket?${query}`);
  res.raw = raw;
  assert.equal(res.status, status, `${what}: the upgrade ?${query} answered ${res.status} ${JSON.stringify(res.body)}, expected ${status}`);
  await h.expectPlainError(res, status, { closes: true });
  return res.body.trim();
}

// ---------------------------------------------------------------- joining at connect

test('&rooms=a,b at connect puts the connection in both rooms; their members hear one Join per user; everyone the OnlineNotify', h.T, async (t) => {
  const srv = await h.serve(t);
  const [ma, mb, o] = await clients(srv, 'ma', 'mb', 'olga');
  await join(ma, 'a');
  await join(mb, 'b');
  await join(o, 'elsewhere');

  const a1 = await h.connect(srv, 'alice', { query: 'rooms=a,b' });
  const hist = await a1.sync();
  assert.ok(!hist.some((m) => m.messageType === JOIN && m.from === 'alice'),
    `alice's connection gets no Join of its own: ${briefs(hist)}`);
  assert.ok(!hist.some((m) => m.messageType === ONLINE && m.from === 'alice'),
    `nor her own OnlineNotify: ${briefs(hist)}`);

  // the others in each room hear of her, the OnlineNotify goes to everyone
  const joinA = await expectTyped(ma, JOIN, 'alice', 'a');
  await expectTyped(mb, JOIN, 'alice', 'b');
  for (const x of [ma, mb, o]) await expectTyped(x, ONLINE, 'alice', '');
  assert.deepEqual(briefs(await h.syncVia(a1, ma)), [], 'ma: one Join of alice, of room a only');
  assert.deepEqual(briefs(await h.syncVia(a1, mb)), [], 'mb: one Join of alice, of room b only');
  assert.deepEqual(briefs(await h.syncVia(a1, o)), [], 'olga, in neither room, hears only the OnlineNotify');

  // she is in both rooms
  assert.deepEqual((await online(srv, 'a')).users, ['alice', 'ma'], '/api/online?room=a lists alice');
  assert.deepEqual((await online(srv, 'b')).users, ['alice', 'mb'], '/api/online?room=b lists alice');
  ma.send({ messageType: GROUP, to: 'a', content: 'to a' });
  const ga = await a1.next('ma\'s Group to a');
  assert.deepEqual([ga.messageType, ga.from, ga.to, ga.content], [GROUP, 'ma', 'a', 'to a']);
  mb.send({ messageType: GROUP, to: 'b', content: 'to b' });
  const gb = await a1.next('mb\'s Group to b');
  assert.deepEqual([gb.messageType, gb.from, gb.to, gb.content], [GROUP, 'mb', 'b', 'to b']);
  a1.send({ messageType: GROUP, to: 'a', content: 'from alice' });
  assert.equal((await ma.next('alice\'s Group to a')).content, 'from alice', 'alice may send to a room she joined at connect');

  // a second connection of hers with rooms=a: no second Join, no second OnlineNotify
  const a2 = await h.connect(srv, 'alice', { query: 'rooms=a' });
  const hist2 = await a2.sync();
  const joins2 = hist2.filter((m) => m.messageType === JOIN && m.from === 'alice');
  assert.deepEqual(joins2.map((m) => m.id), [joinA.id],
    `alice's second connection sees only her earlier Join of a, from a's history: ${briefs(hist2)}`);
  assert.deepEqual(briefs(await h.syncVia(a2, ma)), [], 'ma hears no second Join of alice');
  assert.deepEqual(briefs(await h.syncVia(a2, mb)), [], 'mb hears nothing of alice\'s second connection');
  assert.deepEqual(briefs(await h.syncVia(a2, o)), [], 'nor does olga');
  assert.deepEqual(briefs(await a1.sync()), [], 'alice\'s first connection hears nothing of her second');
  ma.send({ messageType: GROUP, to: 'a', content: 'both tabs' });
  for (const x of [a1, a2]) assert.equal((await x.next(`ma's Group to a at ${x.label}`)).content, 'both tabs');
  mb.send({ messageType: GROUP, to: 'b', content: 'first tab only' });
  assert.equal((await a1.next('mb\'s Group to b at alice\'s first connection')).content, 'first tab only');
  assert.deepEqual(briefs(await h.syncVia(mb, a2)), [], 'alice\'s second connection is not in b');
});

test('at connect the everyone history and those of the rooms in rooms= arrive merged in id order; since=ID applies to all', h.T, async (t) => {
  const srv = await h.serve(t);
  const [w] = await clients(srv, 'witness');
  await join(w, 'a');
  await join(w, 'b');
  const m = await h.connect(srv, 'mia');
  await m.sync();
  const early = await w.sync(); // mia's OnlineNotify, in everyone's history
  await join(m, 'a');
  await join(m, 'b');
  await join(m, 'c');
  // interleaved traffic to everyone, a, b, and c (which the newcomer will not join)
  const ok = (res, what) => assert.equal(res.status, 200, `${what}: push answered ${res.status} ${res.body}`);
  for (let i = 0; i < 3; i++) {
    ok(await h.push(srv, { messageType: GROUP, from: 'ops', content: `e${i}` }), `e${i}`);
    m.send({ messageType: GROUP, to: 'a', content: `a${i}` });
    ok(await h.push(srv, { messageType: SYS, to: 'b', content: `b${i}` }), `b${i}`);
    m.send({ messageType: GROUP, to: 'c', content: `c${i}` });
    ok(await h.push(srv, { messageType: SYS, to: 'a', content: `sa${i}` }), `sa${i}`);
    m.send({ messageType: GROUP, to: 'b', content: `mb${i}` });
    m.send({ messageType: GROUP, content: `me${i}` });
    await m.sync();
  }
  m.send({ messageType: LEAVE, to: 'b' });
  await m.sync();
  // everything the witness (in a and b) saw is in the histories the newcomer will get
  const seen = early.concat(await w.sync());
  assert.deepEqual(briefs(seen.filter(isError)), [], 'no error replies at the witness');
  assert.ok(seen.some((x) => x.to === 'a') && seen.some((x) => x.to === 'b') && seen.some((x) => x.to === ''),
    `the witness saw traffic of everyone, a and b: ${briefs(seen)}`);
  assert.ok(!seen.some((x) => x.to === 'c'), 'the witness is not in c');

  const n = await h.connect(srv, 'newbie', { query: 'rooms=a,b' });
  const got = await n.sync();
  assertIncreasing(got, 'the history at connect');
  // the witness's own OnlineNotify and Joins are in the histories but were never sent to it
  const mine = (x) => x.from === 'witness' && (x.messageType === ONLINE || x.messageType === JOIN);
  assertSameMessages(got.filter((x) => !mine(x)), byId(seen), 'the merged everyone, a and b histories');
  assert.ok(!got.some((x) => x.to === 'c'), `nothing of room c: ${briefs(got.filter((x) => x.to === 'c'))}`);
  const all = byId(seen.concat(await w.sync()));

  // since=ID cuts all three histories at ID
  const cut = all.findIndex((x) => x.content === 'b1');
  assert.ok(cut > 0, 'b1 was seen');
  const after = all.slice(cut + 1);
  for (const r of ['', 'a', 'b']) {
    assert.ok(after.some((x) => x.to === r), `after b1 there is traffic to ${JSON.stringify(r)}: ${briefs(after)}`);
  }
  const n2 = await h.connect(srv, 'newbie2', { query: `rooms=a,b&since=${all[cut].id}` });
  const got2 = await n2.sync();
  assertIncreasing(got2, 'the history at connect with since');
  assertSameMessages(got2, after, `since=${all[cut].id} (b1): only what came after it, in every history`);

  const n3 = await h.connect(srv, 'newbie3', { query: `rooms=b,a&since=${Number.MAX_SAFE_INTEGER}` });
  assert.deepEqual(briefs(await n3.sync()), [], 'since the future: nothing');
});

test('--max-pending 64k: at connect only the newest messages that fit in half of it arrive, in id order, and the connection stays', h.T, async (t) => {
  const LIMIT = 64 * 1024;
  const srv = await h.serve(t, ['--max-pending', '64k']);
  const [w] = await clients(srv, 'witness');
  await join(w, 'a');
  await join(w, 'b');
  const big = (tag, pad) => `${tag}:${'x'.repeat(3000 + pad)}`;
  const N = 30; // 30 * ~3.1 KB: far more than 32 KiB
  for (let i = 0; i < N; i++) {
    const to = ['', 'a', 'b'][i % 3];
    // everyone's messages have a `to` one byte shorter: pad them by one
    const res = await h.push(srv, { messageType: i % 2 ? SYS : GROUP, from: 'ops', to, content: big(`m${String(i).padStart(2, '0')}`, to ? 0 : 1) });
    assert.equal(res.status, 200, `push ${i}: ${res.status} ${res.body}`);
    await w.next(`push ${i} at the witness`);
  }
  await w.sync();
  const n = await h.connect(srv, 'newbie', { query: 'rooms=a,b' });
  const got = await n.sync(h.WAIT * 2);
  assert.ok(n.isOpen, `the newcomer is not closed (close: ${JSON.stringify(n.closeInfo)})`);
  const bigs = got.filter((m) => m.content.startsWith('m'));
  assert.ok(bigs.length > 0, `some of the large messages arrive: ${briefs(got)}`);
  assert.ok(bigs.length < N, `not all ${N} large messages fit in half of 64 KiB, yet ${bigs.length} arrived`);
  assertIncreasing(got, 'the history at connect');
  // the newest that fit: a run ending with the last one
  const want = Array.from({ length: N }, (_, i) => `m${String(i).padStart(2, '0')}`).slice(N - bigs.length);
  assert.deepEqual(bigs.map((m) => m.content.split(':')[0]), want, 'the newest large messages, oldest first');
  assert.deepEqual(briefs(got.slice(got.indexOf(bigs[0]))), briefs(bigs), 'no small message among the newest either');
  const bytes = got.reduce((s, m) => s + Buffer.byteLength(n.raw.get(m)), 0);
  assert.ok(bytes <= LIMIT / 2, `the history's payloads come to ${bytes} bytes, over half the 64 KiB pending limit`);
  const one = Buffer.byteLength(n.raw.get(bigs[0]));
  assert.ok(bytes + one + 4 * (got.length + 1) > LIMIT / 2,
    `${bytes} bytes in ${got.length} messages: one more of ${one} bytes would have fit in ${LIMIT / 2}`);
  // and it keeps working
  w.send({ messageType: GROUP, to: 'a', content: 'live' });
  assert.equal((await n.next('a live message after the history')).content, 'live');
});

test('rooms= names are percent-decoded: %C3%A9t%C3%A9 is the room "été", + is a space, %2B a plus', h.T, async (t) => {
  const srv = await h.serve(t);
  const [w] = await clients(srv, 'witness');
  for (const r of ['été', 'salle 1', 'x+y']) await join(w, r);
  const a = await h.connect(srv, 'alice', { query: 'rooms=%C3%A9t%C3%A9,salle+1,x%2By' });
  await a.sync();
  for (const r of ['été', 'salle 1', 'x+y']) await expectTyped(w, JOIN, 'alice', r);
  for (const r of ['été', 'salle 1', 'x+y']) {
    assert.deepEqual((await online(srv, r)).users, ['alice', 'witness'], `alice is in ${JSON.stringify(r)}`);
  }
  for (const r of ['%C3%A9t%C3%A9', 'salle+1', 'x y', 'xy']) {
    assert.deepEqual((await online(srv, r)).users, [], `nobody is in the room named ${JSON.stringify(r)}`);
  }
  w.send({ messageType: GROUP, to: 'été', content: 'bonjour' });
  const m = await a.next('the Group to été');
  assert.deepEqual([m.to, m.content], ['été', 'bonjour'], `the Group to été reaches alice: ${brief(m)}`);
  w.send({ messageType: GROUP, to: 'salle 1', content: 'hi room one' });
  assert.deepEqual((await a.next('the Group to "salle 1"')).to, 'salle 1');
  // the same name spelled out by a Join is the same room: joined already
  await expectRefused(a, { messageType: JOIN, to: 'été' }, 'a Join of été, joined at connect');
  // the list as URLSearchParams writes it, its commas encoded, is still a list
  const query = new URLSearchParams({ rooms: 'salle 1,x+y' }).toString();
  assert.equal(query, 'rooms=salle+1%2Cx%2By');
  const b = await h.connect(srv, 'bob', { query });
  await b.sync();
  for (const r of ['salle 1', 'x+y']) {
    assert.deepEqual((await online(srv, r)).users, ['alice', 'bob', 'witness'], `bob is in ${JSON.stringify(r)}`);
  }
});

const BAD_AT_CONNECT = [
  ['a name twice', 'a,a'],
  ['a name twice, apart', 'a,b,a'],
  ['an empty name between two', 'a,,b'],
  ['a name of 65 bytes', 'r'.repeat(65)],
  ['a name of 65 bytes after percent-decoding', `${'%C3%A9'.repeat(32)}a`],
  ['a name holding U+0001', 'a,b%01c'],
  ['a name holding a C1 control', 'a%C2%85'],
  ['a name that is not UTF-8', 'a,%FF'],
];

test('a bad rooms= is 400 with a one-line reason and no connection; an empty rooms= is no room', h.T, async (t) => {
  const srv = await h.serve(t);
  const [w] = await clients(srv, 'witness');
  for (const r of ['a', 'b']) await join(w, r);
  for (const [what, rooms] of BAD_AT_CONNECT) {
    const why = await expectRefusedUpgrade(srv, q('alice', `&rooms=${rooms}`), 400, what);
    assert.ok(why.length > 0, `${what}: a reason is given`);
    assert.deepEqual(briefs(await w.sync()), [], `${what}: the room hears no Join, nobody an OnlineNotify`);
  }
  assert.equal(await h.adminCount(srv), 1, 'none of them left a connection open');
  assert.deepEqual(await roomGauges(srv), [2, 2], 'nor anyone in a room [rooms, memberships]');
  // the limits themselves are fine
  const c64 = await h.connect(srv, 'carol', { query: `rooms=${'r'.repeat(64)},${'%C3%A9'.repeat(32)}` });
  await c64.sync();
  assert.deepEqual((await online(srv, 'r'.repeat(64))).users, ['carol'], 'a name of 64 bytes is joined');
  assert.deepEqual((await online(srv, 'é'.repeat(32))).users, ['carol'], 'a name of 32 two-byte characters is joined');
  // an empty rooms= is no room
  const e = await h.connect(srv, 'emptyrooms', { query: 'rooms=' });
  const hist = await e.sync();
  assert.ok(!hist.some((m) => m.to !== ''), `no room's history: ${briefs(hist)}`);
  assert.deepEqual(await roomGauges(srv), [4, 4], 'an empty rooms= adds no membership');
  assert.deepEqual(briefs(await h.syncVia(e, w)).filter((m) => !m.startsWith('3:')), [], 'and no Join');
  await expectRefused(e, { messageType: GROUP, to: 'a', content: 'x' }, 'a Group to a from a connection in no room');
});

test('--max-rooms 2: rooms=a,b,c is 400 and no connection, rooms=a,b is fine', h.T, async (t) => {
  const srv = await h.serve(t, ['--max-rooms', '2']);
  const [w] = await clients(srv, 'witness');
  await join(w, 'a');
  const why = await expectRefusedUpgrade(srv, q('alice', '&rooms=a,b,c'), 400, 'three rooms over --max-rooms 2');
  assert.ok(why.length > 0, 'a reason is given');
  assert.deepEqual(briefs(await w.sync()), [], 'room a hears nothing of the refused connect');
  assert.equal(await h.adminCount(srv), 1, 'no connection was left');
  const a = await h.connect(srv, 'alice', { query: 'rooms=a,b' });
  await a.sync();
  await expectTyped(w, JOIN, 'alice', 'a');
  await expectRefused(a, { messageType: JOIN, to: 'c' }, 'a Join of a third room');
});

// ---------------------------------------------------------------- the token's rooms claim

test('--secret: a token claiming rooms ["a","b"] may connect with rooms=a,b; rooms=a,c is 403 naming c; a Join of c is refused', h.T, async (t) => {
  const srv = await h.serve(t, ['--secret', SECRET]);
  const w = await h.connect(srv, 'witness', { query: `token=${token('witness', { rooms: ['*'] })}` });
  await w.sync();
  for (const r of ['a', 'b', 'c']) await join(w, r);
  const tok = token('alice', { rooms: ['a', 'b'] });
  const why = await expectRefusedUpgrade(srv, q('alice', `&rooms=a,c&token=${tok}`), 403, 'rooms=a,c with a claim of a and b');
  assert.match(why, /\bc\b/, `the reason names room c: ${JSON.stringify(why)}`);
  assert.deepEqual(briefs(await w.sync()), [], 'nobody hears of the refused connect');
  assert.equal(await h.adminCount(srv), 1, 'no connection was left');

  const a = await h.connect(srv, 'alice', { query: `rooms=a,b&token=${tok}` });
  await a.sync();
  await expectTyped(w, JOIN, 'alice', 'a');
  await expectTyped(w, JOIN, 'alice', 'b');
  await expectRefused(a, { messageType: JOIN, to: 'c' }, 'a Join of c, which the token does not allow');
  assert.deepEqual((await online(srv, 'c', `&token=${tok}`)).users, ['witness'], 'alice is not in c');
  // a connection with only a may join b later
  const a2 = await h.connect(srv, 'alice', { query: `rooms=a&token=${tok}` });
  await a2.sync();
  await join(a2, 'b');
  await expectRefused(a2, { messageType: JOIN, to: 'c' }, 'a Join of c by alice\'s second connection');
});

test('--secret: a token without a rooms claim allows no room: rooms=a is 403, a Join of any room an error reply', h.T, async (t) => {
  const srv = await h.serve(t, ['--secret', SECRET]);
  const w = await h.connect(srv, 'witness', { query: `token=${token('witness', { rooms: ['*'] })}` });
  await w.sync();
  await join(w, 'a');
  const tok = token('alice');
  const why = await expectRefusedUpgrade(srv, q('alice', `&rooms=a&token=${tok}`), 403, 'rooms=a with no claim');
  assert.match(why, /\ba\b/, `the reason names room a: ${JSON.stringify(why)}`);
  assert.equal(await h.adminCount(srv), 1, 'no connection was left');
  const a = await h.connect(srv, 'alice', { query: `token=${tok}` });
  await a.sync();
  for (const r of ['a', 'b', '*', 'anything']) await expectRefused(a, { messageType: JOIN, to: r }, `a Join of ${r} with no claim`);
  assert.deepEqual(briefs(await h.syncVia(a, w)).filter((m) => !m.startsWith('3:')), [], 'room a heard no Join');
  assert.deepEqual(await roomGauges(srv), [1, 1], 'alice is in no room [rooms, memberships]');
  // the empty claim is no room either
  const e = token('erin', { rooms: [] });
  await expectRefusedUpgrade(srv, q('erin', `&rooms=a&token=${e}`), 403, 'rooms=a with the claim []');
});

test('--secret: the claim ["*"] allows any room, at connect and by Join', h.T, async (t) => {
  const srv = await h.serve(t, ['--secret', SECRET]);
  const tok = token('alice', { rooms: ['*'] });
  const a = await h.connect(srv, 'alice', { query: `rooms=a,%C3%A9t%C3%A9,${'z'.repeat(64)}&token=${tok}` });
  await a.sync();
  for (const r of ['a', 'été', 'z'.repeat(64)]) {
    assert.deepEqual((await online(srv, r, `&token=${tok}`)).users, ['alice'], `alice is in ${r}`);
  }
  for (const r of ['b', 'Anything Else', '*']) await join(a, r);
  assert.deepEqual(await roomGauges(srv), [6, 6], 'alice is in six rooms [rooms, memberships]');
});

test('--secret: a rooms claim that is not an array of strings makes the token 401', h.T, async (t) => {
  const srv = await h.serve(t, ['--secret', SECRET]);
  const CLAIMS = [['a string', 'a'], ['an array of a number', [1]], ['an array of a string and a number', ['a', 1]],
    ['an object', { a: true }], ['a number', 1], ['an array holding an array', [['a']]]];
  for (const [what, rooms] of CLAIMS) {
    const tok = token('alice', { rooms });
    for (const rest of ['&rooms=a', '']) {
      const res = await upgradeStatus(srv, q('alice', `${rest}&token=${tok}`));
      assert.equal(res.status, 401, `a rooms claim of ${what} (${JSON.stringify(rooms)}), ${rest || 'no rooms='}: ` +
        `got ${res.status} ${JSON.stringify(res.body)}`);
    }
  }
  assert.equal(await h.adminCount(srv), 0, 'no connection was made');
  // the control: the same with an array of strings
  const ok = await upgradeStatus(srv, q('alice', `&rooms=a&token=${token('alice', { rooms: ['a'] })}`));
  assert.equal(ok.status, 101, `a claim of ["a"] with rooms=a: got ${ok.status} ${ok.body}`);
});

test('--secret: the claim\'s names compare exactly, case and all', h.T, async (t) => {
  const srv = await h.serve(t, ['--secret', SECRET]);
  const tok = token('alice', { rooms: ['Lobby', 'été'] });
  for (const [rooms, what] of [['lobby', 'lowercase'], ['LOBBY', 'uppercase'], ['Lobb', 'a prefix'],
    ['Lobby2', 'longer'], ['Lobby+', 'with a trailing space'], ['%C3%89t%C3%A9', 'Été with a capital']]) {
    const why = await expectRefusedUpgrade(srv, q('alice', `&rooms=${rooms}&token=${tok}`), 403, `rooms=${rooms} (${what}) with a claim of Lobby`);
    assert.ok(why.length > 0, 'a reason is given');
  }
  const a = await h.connect(srv, 'alice', { query: `rooms=Lobby&token=${tok}` });
  await a.sync();
  for (const r of ['lobby', 'LOBBY', 'Lobby ', 'Été']) await expectRefused(a, { messageType: JOIN, to: r }, `a Join of ${JSON.stringify(r)}`);
  await join(a, 'été');
  assert.deepEqual(await roomGauges(srv), [2, 2], 'alice is in Lobby and été only');
});

// ---------------------------------------------------------------- /api/preflight

test('/api/preflight gives the status the upgrade gives for the rooms cases: 400, 403, else 200', h.T, async (t) => {
  const open = await h.serve(t, ['--max-rooms', '2']);
  const locked = await h.serve(t, ['--secret', SECRET]);
  const ab = token('alice', { rooms: ['a', 'b'] });
  const none = token('alice');
  const star = token('alice', { rooms: ['*'] });
  const CASES = [
    [open, 'a,b', 200], [open, '', 200], [open, '%C3%A9t%C3%A9,salle+1', 200], [open, 'r'.repeat(64), 200],
    [open, 'a,a', 400], [open, 'a,,b', 400], [open, 'r'.repeat(65), 400], [open, 'a%01', 400], [open, 'a,b,c', 400],
    [locked, `a,b&token=${ab}`, 200], [locked, `b&token=${ab}`, 200], [locked, `&token=${none}`, 200],
    [locked, `a,b,c&token=${star}`, 200],
    [locked, `a,c&token=${ab}`, 403], [locked, `A&token=${ab}`, 403], [locked, `a&token=${none}`, 403],
    [locked, `a,a&token=${ab}`, 400], [locked, `a,,b&token=${star}`, 400],
  ];
  for (const [srv, rooms, want] of CASES) {
    const query = q('alice', `&rooms=${rooms}`);
    const pf = await h.get(srv, `/api/preflight?${query}`);
    const up = await upgradeStatus(srv, query);
    const where = `${srv === open ? 'without a secret' : 'with --secret'}, ?${h.clip(query, 120)}`;
    assert.equal(pf.status, want, `${where}: /api/preflight answered ${pf.status} ${JSON.stringify(pf.body)}, expected ${want}`);
    assert.equal(up.status, want === 200 ? 101 : want, `${where}: the upgrade answered ${up.status} ${JSON.stringify(up.body)}`);
    if (want !== 200) {
      assert.equal(pf.body.trim(), up.body.trim(), `${where}: preflight and upgrade give the same reason`);
      assert.match(pf.body, /^[^\r\n]+\n?$/, `${where}: a one-line reason: ${JSON.stringify(pf.body)}`);
    }
  }
});
