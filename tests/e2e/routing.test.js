'use strict';
// Routing: Group and Single fan-out, the fields the server sets, ids, the
// Online/Offline notices, JSON edge cases, and every invalid message answered
// with an `error:` SysNotify while the connection stays open.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

// Connects clients in order and consumes what they got on the way in.
async function clients(srv, ...users) {
  const out = [];
  for (const u of users) out.push(await h.connect(srv, u));
  await h.settle(...out);
  return out;
}

const only = (types) => (list) => list.filter((m) => types.includes(m.messageType));

test('Group reaches every other connection, the sender\'s other ones too, never the sending one', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a1, a2, b, c] = await clients(srv, 'alice', 'alice', 'bob', 'carol');
  a1.send({ messageType: 1, mediaType: 0, to: '', content: 'hello all' });
  const got = [];
  for (const x of [a2, b, c]) {
    const m = await x.next(`the group message at ${x.label}`);
    assert.equal(m.messageType, 1);
    assert.equal(m.from, 'alice');
    assert.equal(m.to, '');
    assert.equal(m.content, 'hello all');
    got.push(m);
  }
  assert.ok(got.every((m) => m.id === got[0].id), 'one message, one id for every recipient');
  assert.deepEqual(await a1.sync(), [], 'the sending connection does not get its own Group message');
  for (const x of [a2, b, c]) assert.deepEqual(x.drain(), []);
});

test('Group with `to` left out or empty goes to everyone', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, b] = await clients(srv, 'alice', 'bob');
  a.sendText('{"messageType":1,"content":"no to"}');
  assert.equal((await b.next()).content, 'no to');
  a.sendText('{"messageType":1,"to":"","content":"empty to"}');
  assert.equal((await b.next()).content, 'empty to');
});

test('Group messages arrive in the order the server received them, the same for everyone', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, c, b, d] = await clients(srv, 'alice', 'carol', 'bob', 'dave');
  const N = 200;
  for (let i = 0; i < N; i++) {
    a.send({ messageType: 1, content: `a${i}` });
    c.send({ messageType: 1, content: `c${i}` });
  }
  const seqB = [];
  const seqD = [];
  for (let i = 0; i < 2 * N; i++) {
    seqB.push(await b.next(`message ${i}`));
    seqD.push(await d.next(`message ${i}`));
  }
  for (const [who, seq] of [['bob', seqB], ['dave', seqD]]) {
    const fromA = seq.filter((m) => m.from === 'alice').map((m) => m.content);
    const fromC = seq.filter((m) => m.from === 'carol').map((m) => m.content);
    assert.deepEqual(fromA, Array.from({ length: N }, (_, i) => `a${i}`), `${who}: alice's order`);
    assert.deepEqual(fromC, Array.from({ length: N }, (_, i) => `c${i}`), `${who}: carol's order`);
    for (let i = 1; i < seq.length; i++) {
      assert.ok(seq[i].id > seq[i - 1].id, `${who}: ids strictly increase (${seq[i - 1].id} then ${seq[i].id})`);
    }
  }
  assert.deepEqual(seqB.map((m) => m.id), seqD.map((m) => m.id), 'bob and dave see one order');
  const aGot = (await a.sync()).map((m) => m.content);
  assert.deepEqual(aGot, Array.from({ length: N }, (_, i) => `c${i}`), 'alice gets carol\'s, in order, not her own');
});

test('Single reaches every connection of `to` and nobody else', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a1, a2, b1, b2, c] = await clients(srv, 'alice', 'alice', 'bob', 'bob', 'carol');
  a1.send({ messageType: 0, to: 'bob', content: 'psst' });
  for (const x of [b1, b2]) {
    const m = await x.next();
    assert.equal(m.messageType, 0);
    assert.equal(m.from, 'alice');
    assert.equal(m.to, 'bob');
    assert.equal(m.content, 'psst');
  }
  assert.deepEqual(await a1.sync(), [], 'not back to the sender');
  assert.deepEqual(await h.syncVia(a1, a2), [], 'not to the sender\'s other connection');
  assert.deepEqual(await h.syncVia(a1, c), [], 'not to a third user');
  assert.deepEqual(await h.syncVia(a1, b1), []);
  assert.deepEqual(await h.syncVia(a1, b2), []);
});

test('Single to oneself reaches all of one\'s connections, the sending one included', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a1, a2, b] = await clients(srv, 'alice', 'alice', 'bob');
  a1.send({ messageType: 0, to: 'alice', content: 'note to self' });
  for (const x of [a1, a2]) {
    const m = await x.next();
    assert.equal(m.content, 'note to self');
    assert.equal(m.from, 'alice');
    assert.equal(m.to, 'alice');
  }
  assert.deepEqual(await h.syncVia(a1, b), []);
});

test('Single to a user with no open connection: a queued: SysNotify to the sender only; to nobody, error:', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, b] = await clients(srv, 'alice', 'bob');
  a.send({ messageType: 0, to: 'nobody', content: 'hello?' });
  const q = await a.next('a queued: reply');
  assert.equal(q.messageType, 2);
  assert.match(q.content, /^queued:.*nobody/);
  a.send({ messageType: 0, to: '', content: 'to empty' });
  h.assertError(await a.next('an error reply'));
  assert.deepEqual(await h.syncVia(a, b), [], 'nobody else hears of it');
  await b.close();
  await h.waitConnections(srv, 1);
  a.drain();
  a.send({ messageType: 0, to: 'bob', content: 'gone' });
  assert.match((await a.next('a queued: reply once bob left')).content, /^queued:.*bob/);
});

test('with --offline-max 0, a Single to a user with no open connection is an error: reply', h.T, async (t) => {
  const srv = await h.serve(t, ['--offline-max', '0']);
  const [a, b] = await clients(srv, 'alice', 'bob');
  a.send({ messageType: 0, to: 'nobody', content: 'hello?' });
  h.assertError(await a.next('an error reply'));
  assert.deepEqual(await h.syncVia(a, b), [], 'nobody else hears of it');
});

test('the server overwrites `from`, keeps a given createAt, sets updateAt and a µs id', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, b] = await clients(srv, 'alice', 'bob');
  const t0 = Date.now();
  a.send({ messageType: 1, from: 'mallory', to: '', content: 'x', createAt: 1234567890123, updateAt: 5, id: 7 });
  const m = await b.next();
  const t1 = Date.now();
  assert.equal(m.from, 'alice', 'from is the connection\'s userId');
  assert.equal(m.createAt, 1234567890123, 'createAt passed through');
  assert.ok(m.updateAt >= t0 - 1000 && m.updateAt <= t1 + 1000, `updateAt ${m.updateAt} is the server's time in ms`);
  assert.notEqual(m.id, 7, 'the id is the server\'s');
  assert.ok(m.id >= (srv.startedAt - 2000) * 1000, `id ${m.id} counts µs since the epoch (started ${srv.startedAt} ms)`);
  assert.ok(m.id <= (t1 + 2000) * 1000 + 1e6, `id ${m.id} is not far ahead of the clock`);
  a.send({ messageType: 0, from: 'mallory', to: 'bob', content: 'single' });
  assert.equal((await b.next()).from, 'alice');
});

test('createAt 0 or absent is set by the server to its time in ms', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, b] = await clients(srv, 'alice', 'bob');
  for (const body of [{ messageType: 1, content: 'zero', createAt: 0 }, { messageType: 1, content: 'absent' }]) {
    const t0 = Date.now();
    a.send(body);
    const m = await b.next();
    const t1 = Date.now();
    assert.equal(m.content, body.content);
    assert.ok(m.createAt >= t0 - 1000 && m.createAt <= t1 + 1000, `createAt ${m.createAt} set near ${t0}`);
    assert.ok(m.updateAt >= t0 - 1000 && m.updateAt <= t1 + 1000, `updateAt ${m.updateAt}`);
  }
});

test('ids strictly increase across messages, notices and error replies', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, b] = await clients(srv, 'alice', 'bob');
  const seen = [];
  for (let i = 0; i < 20; i++) {
    a.send({ messageType: 1, content: `g${i}` });
    a.send({ messageType: 0, to: 'bob', content: `s${i}` });
  }
  for (let i = 0; i < 40; i++) seen.push(await b.next());
  const c = await h.connect(srv, 'carol');
  seen.push(await b.next('carol\'s OnlineNotify'));
  b.send({ messageType: 0, to: 'nobody' });
  seen.push(await b.next('an error reply'));
  await c.close();
  seen.push(await b.next('carol\'s OfflineNotify'));
  for (let i = 1; i < seen.length; i++) {
    assert.ok(seen[i].id > seen[i - 1].id, `id ${seen[i].id} (${seen[i].content}) after ${seen[i - 1].id}`);
  }
  assert.ok(seen.every((m) => m.id > (srv.startedAt - 2000) * 1000));
});

test('mediaType 0, 1 and 2 pass through, with content, fileId and url untouched', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, b] = await clients(srv, 'alice', 'bob');
  const sent = [
    { messageType: 1, mediaType: 0, content: 'text' },
    { messageType: 1, mediaType: 1, content: 'a cat', fileId: 'f-123', url: 'https://img.example/cat.png?a=1&b=%20' },
    { messageType: 0, mediaType: 2, to: 'bob', content: '', fileId: 'doc/42', url: 'https://files.example/x.pdf' },
  ];
  for (const s of sent) {
    a.send(s);
    const m = await b.next();
    assert.equal(m.messageType, s.messageType);
    assert.equal(m.mediaType, s.mediaType);
    assert.equal(m.content, s.content);
    assert.equal(m.fileId, s.fileId || '');
    assert.equal(m.url, s.url || '');
  }
});

const CONTENTS = [
  ['quotes and backslashes', 'say "hi" \\ back\\slash \\" \\\\ /'],
  ['control characters', '\u0000nul \u0001 \b\f\n\r\t \u001f end'],
  ['DEL and C1', '\u007f\u0080\u009f'],
  ['non-ASCII text', 'héllo wörld — 日本語 עברית'],
  ['emoji beyond the BMP', '😀👍🏽 𝄞 🇫🇷'],
  ['line and paragraph separators', 'a\u2028b\u2029c'],
  ['JSON-looking text', '{"messageType":2,"content":"error: fake"}'],
  ['HTML', '<script>alert(1)</script>&amp;'],
  ['long text', 'x'.repeat(30000)],
];

for (const [what, content] of CONTENTS) {
  test(`content with ${what} round-trips exactly`, h.T, async (t) => {
    const srv = await h.serve(t);
    const [a, b] = await clients(srv, 'alice', 'bob');
    a.send({ messageType: 1, content, fileId: content.slice(0, 100), url: content.slice(-100) });
    const m = await b.next();
    assert.equal(m.content, content);
    assert.equal(m.fileId, content.slice(0, 100));
    assert.equal(m.url, content.slice(-100));
    assert.ok(Buffer.from(m.content, 'utf8').equals(Buffer.from(content, 'utf8')), 'byte for byte');
  });
}

test('\\u escapes with surrogate pairs, any key order and whitespace are understood', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, b] = await clients(srv, 'alice', 'bob');
  a.sendText(' \n\t{ "content" : "\\ud83d\\ude00 \\u00e9\\u0000\\/\\\\" ,\r\n "to":"" , "messageType" : 1 }\n ');
  const m = await b.next();
  assert.equal(m.content, '😀 é\u0000/\\');
  assert.equal(m.messageType, 1);
});

test('unknown keys are ignored, nested objects and arrays too, and not passed on', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, b] = await clients(srv, 'alice', 'bob');
  a.sendText(JSON.stringify({
    extra: { deep: [1, { x: '}]"' }, [], null, true, -1.5e10], more: { a: { b: { c: {} } } } },
    messageType: 1,
    list: [[[]], '{', { '"': '\\' }],
    flag: false,
    nothing: null,
    num: 3.25,
    content: 'with extras',
    tail: '}',
  }));
  const m = await b.next();
  assert.equal(m.content, 'with extras');
  for (const k of ['extra', 'list', 'flag', 'nothing', 'num', 'tail']) {
    assert.ok(!(k in m), `unknown key ${k} should not be passed on`);
  }
  assert.deepEqual(Object.keys(m).sort(), [...h.FIELDS].sort());
});

const INVALID = [
  ['messageType 2 (SysNotify)', '{"messageType":2,"content":"fake"}'],
  ['messageType 3 (OnlineNotify)', '{"messageType":3}'],
  ['messageType 4 (OfflineNotify)', '{"messageType":4}'],
  ['messageType 7', '{"messageType":7,"content":"x"}'],
  ['messageType -1', '{"messageType":-1,"content":"x"}'],
  ['mediaType 3', '{"messageType":1,"mediaType":3,"content":"x"}'],
  ['mediaType -1', '{"messageType":1,"mediaType":-1,"content":"x"}'],
  ['Group with a non-empty to', '{"messageType":1,"to":"bob","content":"x"}'],
  ['a JSON array', '[{"messageType":1,"content":"x"}]'],
  ['a JSON string', '"hello"'],
  ['a JSON number', '42'],
  ['JSON null', 'null'],
  ['JSON true', 'true'],
  ['an empty message', ''],
  ['whitespace only', '   '],
  ['an unterminated object', '{"messageType":1,"content":"x"'],
  ['a trailing comma', '{"messageType":1,"content":"x",}'],
  ['single quotes', "{'messageType':1}"],
  ['an unquoted key', '{messageType:1}'],
  ['trailing garbage', '{"messageType":1,"content":"x"} x'],
  ['two objects', '{"messageType":1}{"messageType":1}'],
  ['a bad escape', '{"messageType":1,"content":"\\x41"}'],
  ['a raw control character in a string', '{"messageType":1,"content":"a\u0001b"}'],
  ['a lone surrogate escape', '{"messageType":1,"content":"\\ud800"}'],
  ['plain text', 'hello there'],
  ['messageType as a string', '{"messageType":"1","content":"x"}'],
  ['messageType as a fraction', '{"messageType":1.5,"content":"x"}'],
  ['messageType true', '{"messageType":true,"content":"x"}'],
  ['mediaType as a string', '{"messageType":1,"mediaType":"0","content":"x"}'],
  ['content as a number', '{"messageType":1,"content":5}'],
  ['content as an object', '{"messageType":1,"content":{"a":1}}'],
  ['to as an array', '{"messageType":0,"to":["bob"],"content":"x"}'],
  ['fileId as a number', '{"messageType":1,"fileId":1,"content":"x"}'],
  ['url as a boolean', '{"messageType":1,"url":false,"content":"x"}'],
  ['createAt as a string', '{"messageType":1,"createAt":"now","content":"x"}'],
  ['from as a number', '{"messageType":1,"from":3,"content":"x"}'],
];

test('each invalid message gets an error SysNotify, is not routed, and the connection stays open', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, b] = await clients(srv, 'alice', 'bob');
  for (const [what, text] of INVALID) {
    a.sendText(text);
    const m = await a.next(`an error reply to ${what}`);
    h.assertError(m, `reply to ${what}`);
    assert.deepEqual(await a.sync(), [], `exactly one reply to ${what}`);
    assert.ok(a.isOpen, `the connection stays open after ${what}`);
    assert.deepEqual(await h.syncVia(a, b), [], `${what} is not routed to bob`);
  }
  a.send({ messageType: 1, content: 'still here' });
  assert.equal((await b.next()).content, 'still here');
  assert.deepEqual(only([1, 2])(await h.syncVia(a, a)), [], 'and no stray replies');
});

test('OnlineNotify: a user\'s first connection is announced to everyone else, not to itself', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a1, a2, c] = await clients(srv, 'alice', 'alice', 'carol');
  const b = await h.connect(srv, 'bob');
  for (const x of [a1, a2, c]) {
    const m = await x.next(`bob's OnlineNotify at ${x.label}`);
    assert.equal(m.messageType, 3);
    assert.equal(m.from, 'bob');
    assert.deepEqual(await h.syncVia(b, x), [], 'exactly one notice');
  }
  const own = await b.sync();
  assert.ok(!own.some((m) => m.messageType === 3 && m.from === 'bob'), 'bob never sees his own OnlineNotify');
});

test('a second connection of the same user is not announced; only the last one leaving is', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, b1] = await clients(srv, 'alice', 'bob');
  const b2 = await h.connect(srv, 'bob');
  assert.deepEqual(await h.syncVia(b2, a), [], 'no OnlineNotify for bob\'s second connection');
  await b2.sync();
  await b2.close();
  await h.waitConnections(srv, 2);
  assert.deepEqual(await h.syncVia(b1, a), [], 'no OfflineNotify while bob still has a connection');
  assert.deepEqual(only([3, 4])(await b1.sync()), [], 'bob\'s other connection hears nothing either');
  await b1.close();
  const m = await a.next('bob\'s OfflineNotify');
  assert.equal(m.messageType, 4);
  assert.equal(m.from, 'bob');
  assert.deepEqual(await a.sync(), [], 'exactly one OfflineNotify');
});

test('OfflineNotify reaches every other connection when a user leaves', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a1, a2, b, c] = await clients(srv, 'alice', 'alice', 'bob', 'carol');
  await c.close();
  for (const x of [a1, a2, b]) {
    const m = await x.next();
    assert.equal(m.messageType, 4);
    assert.equal(m.from, 'carol');
  }
  // a connection killed without a close frame counts as leaving too
  b.ws.terminate();
  for (const x of [a1, a2]) {
    const m = await x.next('bob\'s OfflineNotify after his TCP connection dropped');
    assert.equal(m.messageType, 4);
    assert.equal(m.from, 'bob');
  }
});

test('a Group message fans out to 100 connections, each getting it once', h.T, async (t) => {
  const srv = await h.serve(t);
  const many = [];
  for (let i = 0; i < 100; i++) many.push(await h.connect(srv, `u${i % 60}`));
  await Promise.all(many.map((c) => c.sync()));
  many[0].send({ messageType: 1, content: 'to the crowd' });
  const got = await Promise.all(many.slice(1).map((c) => c.take((m) => m.messageType === 1, 'the crowd message')));
  assert.ok(got.every((m) => m.content === 'to the crowd' && m.from === 'u0' && m.id === got[0].id));
  const rest = await Promise.all(many.map((c) => c.sync()));
  assert.ok(rest.every((l) => !l.some((m) => m.messageType === 1)), 'nobody gets it twice, the sender not at all');
  assert.equal(await h.adminCount(srv), 100);
  if (!srv.nodes) { // a gauge of each node's own (several nodes: PROTOCOL.md)
    const m = await h.metrics(srv);
    assert.equal(h.metric(m, 'pusher_users'), 60);
  }
});
