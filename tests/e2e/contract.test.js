'use strict';
// The revised points of the wire contract (/work/shared/PROTOCOL.md), one
// test per rule: Origin-less upgrades, JSON nesting depth, early 400 for bytes
// that cannot begin a request line, exact /healthz and /admin bodies, `+` in a
// query, null fields, duplicate or missing handshake headers, no extension,
// GET /api/online, the /api/push answer, the bounded history replay, and the
// idle rules for half and trickling messages.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const SECRET = 'contract-secret';
const API_KEY = 'contract-api-key';

const show = (x) => h.clip(JSON.stringify(x), 300);

async function clients(srv, ...users) {
  const out = [];
  for (const u of users) out.push(await h.connect(srv, u));
  await h.settle(...out);
  for (const c of out) c.drain();
  return out;
}

// GET /api/online (with query and headers); returns { res, body } with the
// body parsed where the answer is 200.
async function online(srv, query = '', headers) {
  const res = await h.get(srv, `/api/online${query ? `?${query}` : ''}`, headers);
  let body = null;
  if (res.status === 200) {
    try {
      body = JSON.parse(res.body);
    } catch {
      assert.fail(`/api/online${query ? `?${query}` : ''} answered 200 with a body that is not JSON: ${show(res.body)}`);
    }
  }
  return { res, body };
}

async function onlineOk(srv, query, headers) {
  const { res, body } = await online(srv, query, headers);
  assert.equal(res.status, 200, `/api/online${query ? `?${query}` : ''} answered ${res.status} ${show(res.body)}`);
  assert.ok(body && typeof body === 'object' && !Array.isArray(body), `/api/online body is not an object: ${show(res.body)}`);
  assert.ok(Number.isInteger(body.id), `/api/online "id" is not an integer: ${show(body)}`);
  assert.ok(Number.isInteger(body.count), `/api/online "count" is not an integer: ${show(body)}`);
  assert.ok(Array.isArray(body.users) && body.users.every((u) => typeof u === 'string'),
    `/api/online "users" is not an array of strings: ${show(body)}`);
  return body;
}

// An upgrade request with header lines added after the defaults (to send
// one twice).
function upgradeWith(target, extraLines, o = {}) {
  const req = h.upgradeRequest(target, o);
  return `${req.text.slice(0, -2)}${extraLines.map((l) => `${l}\r\n`).join('')}\r\n`;
}

// ---------------------------------------------------------------- 1. Origin

test('--allowed-origin: no Origin header is accepted, a listed Origin is accepted, an unlisted one is 403', h.T, async (t) => {
  const srv = await h.serve(t, ['--allowed-origin', 'https://a.example']);
  const { res: r1, raw: w1 } = await h.rawHandshake(srv, '/websocket?userId=noorigin');
  assert.equal(r1.status, 101, `an upgrade without Origin was answered ${r1.status} ${show(r1.body)}, expected 101`);
  await w1.sync('noorigin');
  const { res: r2, raw: w2 } = await h.rawHandshake(srv, '/websocket?userId=listed', { headers: { Origin: 'https://a.example' } });
  assert.equal(r2.status, 101, `an upgrade with the listed Origin was answered ${r2.status} ${show(r2.body)}, expected 101`);
  await w2.sync('listed');
  const { res: r3, raw: w3 } = await h.rawHandshake(srv, '/websocket?userId=unlisted', { headers: { Origin: 'https://b.example' } });
  assert.equal(r3.status, 403, `an upgrade with an unlisted Origin was answered ${r3.status} ${show(r3.body)}, expected 403`);
  w3.destroy();
});

// ---------------------------------------------------------------- 2. JSON depth

// Unknown key `x` nested so that the whole message is `depth` levels deep,
// the message object being level 1.
const NESTINGS = {
  arrays: (depth) => `${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}`,
  objects: (depth) => `${'{"a":'.repeat(depth - 2)}{}${'}'.repeat(depth - 2)}`,
  'arrays and objects in turn': (depth) => {
    let s = '';
    for (let level = depth; level >= 2; level--) s = level % 2 ? `[${s}]` : `{"k":${s || 'null'}}`;
    return s;
  },
};

function depthOf(text) {
  let d = 0;
  let max = 0;
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inStr) {
      if (c === '\\') i++;
      else if (c === '"') inStr = false;
    } else if (c === '"') inStr = true;
    else if (c === '{' || c === '[') max = Math.max(max, ++d);
    else if (c === '}' || c === ']') d--;
  }
  return max;
}

test('unknown keys nested 64 levels deep (counting the message) are routed; 65 levels get an error: and the connection stays open', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, b] = await clients(srv, 'alice', 'bob');
  for (const [kind, nest] of Object.entries(NESTINGS)) {
    const ok = `{"messageType":1,"x":${nest(64)},"content":"depth 64 ${kind}"}`;
    assert.equal(depthOf(ok), 64, `test bug: ${kind} message is ${depthOf(ok)} deep`);
    a.sendText(ok);
    const got = await b.take(() => true, `bob to receive the Group with ${kind} nested to depth 64`);
    assert.equal(got.content, `depth 64 ${kind}`,
      `a message ${kind} nested to depth 64 should be routed; bob got ${show(got)}`);
    assert.ok(!('x' in got), `the unknown key is not passed on: ${show(got)}`);
    assert.deepEqual(await a.sync(), [], `alice got a reply to the depth-64 message (${kind})`);

    const deep = `{"messageType":1,"x":${nest(65)},"content":"depth 65 ${kind}"}`;
    assert.equal(depthOf(deep), 65, `test bug: ${kind} message is ${depthOf(deep)} deep`);
    a.sendText(deep);
    const reply = await a.take((m) => !h.isSync(m), `alice's error: reply to ${kind} nested to depth 65`);
    assert.ok(reply && reply.messageType === 2 && typeof reply.content === 'string' && reply.content.startsWith('error:'),
      `a message ${kind} nested to depth 65 should get an error: SysNotify; alice got ${show(reply)}`);
    h.assertError(reply, `reply to depth 65 (${kind})`);
    const leaked = await h.syncVia(a, b);
    assert.deepEqual(leaked, [], `the depth-65 message (${kind}) reached bob: ${show(leaked)}`);
    assert.ok(a.isOpen, `alice's connection was closed (${show(a.closeInfo)}) after depth 65 (${kind})`);
  }
  a.send({ messageType: 1, content: 'still here' });
  assert.equal((await b.next('alice\'s message after the deep ones')).content, 'still here');
});

// ---------------------------------------------------------------- 3. early 400

test('bytes that cannot begin a request line (a TLS ClientHello, binary noise) get 400 at once, not at the handshake timeout', h.T, async (t) => {
  // A plain port by definition: with TLS, a ClientHello starts a handshake.
  const srv = await h.serve(t, ['--handshake-timeout', '10s'], { plain: true });
  const hello = await h.tlsClientHello({ beforeNewline: 64 });
  assert.deepEqual([...hello.subarray(0, 3)], [0x16, 0x03, 0x01], 'test bug: not a TLS record');
  assert.ok(!hello.includes(0x0a) && !hello.includes(0x0d), 'test bug: the ClientHello holds a line end');
  const cases = [
    [`a TLS ClientHello (${hello.length} bytes, no line end)`, hello],
    ['binary noise \\x00\\xff\\x80', Buffer.from([0x00, 0xff, 0x80])],
  ];
  // a bound well below the 10 s timeout, stretched for slow builds
  const soon = Math.min(Math.round(1000 * h.SCALE), 5000);
  for (const [what, bytes] of cases) {
    const raw = await h.RawSocket.open(srv);
    const t0 = Date.now();
    raw.write(bytes);
    let res;
    try {
      res = await raw.readResponse(soon);
    } catch (e) {
      assert.fail(`${what}: no complete answer within ${soon} ms (the handshake timeout is 10 s): ${e.message}`);
    }
    const dt = Date.now() - t0;
    assert.equal(res.status, 400, `${what}: answered ${res.status} ${show(res.body)} after ${dt} ms, expected 400`);
    assert.ok(dt < soon, `${what}: the 400 took ${dt} ms`);
    try {
      await raw.waitEnd(soon);
    } catch (e) {
      assert.fail(`${what}: the connection was not closed within ${soon} ms of the 400: ${e.message}`);
    }
    raw.destroy();
  }
  await h.assertServes(srv);
});

test('a valid method prefix trickled slowly ("G", then "E") is not refused early, and completes as a request', h.T, async (t) => {
  const srv = await h.serve(t, ['--handshake-timeout', '10s']);
  const raw = await h.RawSocket.open(srv);
  raw.write('G');
  await h.sleep(400);
  raw.write('E');
  await h.sleep(1000);
  assert.ok(!raw.ended && raw.buf.length === 0,
    `the server ${raw.ended ? 'closed the connection' : 'answered'} after only "GE": ${show(raw.buf.toString('latin1'))}`);
  raw.write('T /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  const res = await raw.readResponse();
  raw.destroy();
  assert.equal(res.status, 200, `GET /healthz sent as "G", "E", rest answered ${res.status} ${show(res.body)}`);
});

// ---------------------------------------------------------------- 4. bodies

test('/healthz body is exactly "ok\\n"; /admin body is the connection count and "\\n"', h.T, async (t) => {
  const srv = await h.serve(t);
  const hz = await h.get(srv, '/healthz');
  assert.equal(hz.status, 200, `/healthz answered ${hz.status}`);
  assert.equal(hz.body, 'ok\n', `/healthz body is ${show(hz.body)}`);
  const a0 = await h.get(srv, '/admin');
  assert.equal(a0.status, 200, `/admin answered ${a0.status}`);
  assert.equal(a0.body, '0\n', `/admin body with no connection is ${show(a0.body)}`);
  await clients(srv, 'alice', 'bob');
  const idle = await h.RawSocket.open(srv); // a TCP connection that is no WebSocket
  const a2 = await h.get(srv, '/admin');
  assert.equal(a2.body, '2\n', `/admin body with two WebSockets open is ${show(a2.body)}`);
  idle.destroy();
});

// ---------------------------------------------------------------- 5. + in a query

test('`+` in a query parameter is a space: userId a+b and a%20b are the same user "a b"', h.T, async (t) => {
  const srv = await h.serve(t);
  const [obs] = await clients(srv, 'observer');
  const plus = await h.connect(srv, 'a b', { rawQuery: 'userId=a+b', label: 'userId=a+b' });
  const on = await obs.take((m) => m.messageType === 3, 'the OnlineNotify of userId=a+b');
  assert.equal(on.from, 'a b', `the OnlineNotify of userId=a+b has from ${show(on.from)}`);
  const pct = await h.connect(srv, 'a b', { rawQuery: 'userId=a%20b', label: 'userId=a%20b' });
  await h.settle(plus, pct);
  plus.drain();
  pct.drain();
  const extra = (await obs.sync()).filter((m) => m.messageType === 3);
  assert.deepEqual(extra, [], `userId=a%20b was announced as another user: ${show(extra)}`);
  obs.send({ messageType: 0, to: 'a b', content: 'to a space b' });
  for (const c of [plus, pct]) {
    const m = await c.take((x) => !h.isSync(x), `${c.label} to receive the Single to "a b"`);
    assert.equal(m.content, 'to a space b', `${c.label} got ${show(m)}`);
  }
  plus.send({ messageType: 1, content: 'from plus' });
  const g = await obs.next('the Group from userId=a+b');
  assert.equal(g.from, 'a b', `a message from userId=a+b has from ${show(g.from)}`);
});

// ---------------------------------------------------------------- 6. null

test('a field whose value is null counts as absent', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, b, c] = await clients(srv, 'alice', 'bob', 'carol');
  const t0 = Date.now();
  a.sendText('{"messageType":1,"to":null,"content":"x","createAt":null}');
  for (const r of [b, c]) {
    const m = await r.take((x) => !h.isSync(x), `${r.label}: the Group with to and createAt null`);
    assert.ok(m.messageType === 1 && m.content === 'x',
      `{"messageType":1,"to":null,...} should reach ${r.userId} as a Group to everyone; got ${show(m)}`);
    assert.equal(m.to, '', `to null should arrive as "": ${show(m)}`);
    assert.ok(Number.isInteger(m.createAt) && m.createAt >= t0 - 1000 && m.createAt <= Date.now() + 1000,
      `createAt null should be set by the server to its time in ms; got ${show(m)}`);
  }
  const replies = await a.sync();
  assert.deepEqual(replies, [], `alice got a reply to the message with nulls: ${show(replies)}`);

  a.sendText('{"messageType":null,"to":"bob","content":"y"}');
  const s = await b.take((x) => !h.isSync(x), 'bob: the message with messageType null and to bob');
  assert.ok(s.messageType === 0 && s.content === 'y',
    `{"messageType":null,"to":"bob"} should reach bob as a Single (0); got ${show(s)}`);
  assert.deepEqual(await a.sync(), [], 'alice got a reply to messageType null');
  assert.deepEqual(await h.syncVia(a, c), [], 'the Single to bob reached carol');

  a.sendText('{"messageType":1,"mediaType":null,"from":null,"fileId":null,"url":null,"content":null,"updateAt":null}');
  const n = await b.take((x) => !h.isSync(x), 'bob: the Group with every other field null');
  assert.ok(n.messageType === 1 && n.mediaType === 0 && n.from === 'alice' && n.fileId === '' && n.url === '' &&
    n.content === '' && Number.isInteger(n.updateAt) && n.updateAt > 0,
  `mediaType, from, fileId, url, content and updateAt null should count as absent; got ${show(n)}`);
});

// ---------------------------------------------------------------- 7. duplicate / missing headers

test('Host, Sec-WebSocket-Key or Sec-WebSocket-Version twice, or an upgrade without Host -> 400', h.T, async (t) => {
  const srv = await h.serve(t);
  const target = '/websocket?userId=dup';
  const cases = [
    ['Host twice', upgradeWith(target, ['Host: 127.0.0.1'])],
    ['Sec-WebSocket-Key twice', upgradeWith(target, [`Sec-WebSocket-Key: ${h.randomKey()}`])],
    ['Sec-WebSocket-Version twice', upgradeWith(target, ['Sec-WebSocket-Version: 13'])],
    ['an upgrade without Host', h.upgradeRequest(target, { omit: ['Host'] }).text],
  ];
  const failures = [];
  for (const [what, text] of cases) {
    const res = await h.httpRaw(srv, text);
    if (res.status !== 400) failures.push(`${what}: ${res.status} ${show(res.body)}`);
    else await h.expectPlainError(res, 400, { closes: true });
    res.raw.destroy();
  }
  assert.deepEqual(failures, [], `expected 400 for each; got: ${failures.join('; ')}`);
  await h.assertServes(srv);
});

// The contract says "a request with Host ... twice", not only an upgrade
// (RFC 9112 §3.2: a server MUST answer 400 to more than one Host).
test('a plain request (GET /healthz) with Host twice -> 400', h.T, async (t) => {
  const srv = await h.serve(t);
  const res = await h.httpRaw(srv, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\n\r\n');
  assert.equal(res.status, 400, `GET /healthz with Host twice answered ${res.status} ${show(res.body)}, expected 400`);
  await h.expectPlainError(res, 400, { closes: true });
});

// ---------------------------------------------------------------- 8. no extension

test('a permessage-deflate offer is declined: the 101 has no Sec-WebSocket-Extensions', h.T, async (t) => {
  const srv = await h.serve(t);
  const { res, raw } = await h.rawHandshake(srv, '/websocket?userId=deflate', {
    headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' },
  });
  assert.equal(res.status, 101, `the upgrade offering permessage-deflate was answered ${res.status}`);
  assert.equal(res.headers['sec-websocket-extensions'], undefined,
    `the 101 carries Sec-WebSocket-Extensions: ${show(res.headers['sec-websocket-extensions'])}`);
  await raw.sync('deflate');
  // the ws package offers permessage-deflate by default
  const c = await h.connect(srv, 'wsdeflate', { wsOptions: { perMessageDeflate: true } });
  assert.equal(c.ws.extensions, '', `the ws client negotiated ${show(c.ws.extensions)}`);
  await c.sync();
});

// ---------------------------------------------------------------- 9. /api/online

const NAMES = ['bob', 'Bob', 'alice', 'B', '\u00e9mile', '\uff3a', '\u{1F600}x'];

test('/api/online: 200 {id,count,users} with users sorted by their bytes, one entry per user; gone once the last connection closes', h.T, async (t) => {
  const srv = await h.serve(t);
  const conns = {};
  for (const n of NAMES) conns[n] = [await h.connect(srv, n)];
  conns.bob.push(await h.connect(srv, 'bob'));
  conns.bob.push(await h.connect(srv, 'bob'));
  await h.settle(...Object.values(conns).flat());
  const want = [...NAMES].sort(h.byteCompare);
  const body = await onlineOk(srv);
  assert.deepEqual(body.users, want, `users should be each user once, sorted by UTF-8 bytes; got ${show(body)}`);
  assert.equal(body.count, NAMES.length, `count should be ${NAMES.length} users; got ${show(body)}`);

  await conns.bob[0].close();
  await conns.bob[1].close();
  await h.waitConnections(srv, NAMES.length);
  const still = await onlineOk(srv);
  assert.ok(still.users.includes('bob'), `bob has one connection left but is not listed: ${show(still)}`);
  assert.equal(still.count, NAMES.length, `count with bob on one connection: ${show(still)}`);
  await conns.bob[2].close();
  let last;
  await h.waitFor(async () => { last = await onlineOk(srv); return !last.users.includes('bob'); },
    'bob to leave /api/online after his last connection closed').catch((e) => {
    throw new Error(`${e.message}; last answer ${show(last)}`);
  });
  assert.deepEqual(last.users, want.filter((n) => n !== 'bob'), `users after bob left: ${show(last)}`);
  assert.equal(last.count, NAMES.length - 1, `count after bob left: ${show(last)}`);
});

test('/api/online?limit=2: at most 2 names while count is the total', h.T, async (t) => {
  const srv = await h.serve(t);
  await clients(srv, ...NAMES);
  const body = await onlineOk(srv, 'limit=2');
  assert.ok(body.users.length <= 2, `limit=2 gave ${body.users.length} names: ${show(body)}`);
  assert.ok(body.users.length >= 1, `limit=2 gave no name although ${NAMES.length} users are on: ${show(body)}`);
  assert.deepEqual([...body.users].sort(h.byteCompare), body.users, `names not in byte order: ${show(body)}`);
  for (const u of body.users) assert.ok(NAMES.includes(u), `limit=2 listed ${show(u)}, who is not on`);
  assert.equal(body.count, NAMES.length, `count with limit=2 should be the total ${NAMES.length}; got ${show(body)}`);
});

test('/api/online id: at least that of the latest presence event seen, below that of the next message routed', h.T, async (t) => {
  const srv = await h.serve(t);
  const [obs] = await clients(srv, 'obs');
  const newbie = await h.connect(srv, 'newbie');
  const on = await obs.take((m) => m.messageType === 3 && m.from === 'newbie', 'the OnlineNotify of newbie');
  const b1 = await onlineOk(srv);
  assert.ok(b1.id >= on.id, `/api/online id ${b1.id} is below the id ${on.id} of the OnlineNotify already seen`);
  newbie.drain();
  obs.send({ messageType: 1, content: 'after the first look' });
  const g1 = await newbie.next('the Group after the first look');
  assert.ok(g1.id > b1.id, `the next message routed has id ${g1.id}, not above /api/online id ${b1.id}`);

  await newbie.close();
  const off = await obs.take((m) => m.messageType === 4 && m.from === 'newbie', 'the OfflineNotify of newbie');
  const b2 = await onlineOk(srv);
  assert.ok(b2.id >= off.id, `/api/online id ${b2.id} is below the id ${off.id} of the OfflineNotify already seen`);
  assert.deepEqual(b2.users, ['obs'], `users after newbie left: ${show(b2)}`);
  const late = await h.connect(srv, 'late');
  await late.sync();
  const on2 = await obs.take((m) => m.messageType === 3 && m.from === 'late', 'the OnlineNotify of late');
  assert.ok(on2.id > b2.id, `the OnlineNotify routed after the second look has id ${on2.id}, not above ${b2.id}`);
});

test('/api/online with --secret needs ?token= valid for some user or Authorization: Bearer API key, else 401', h.T, async (t) => {
  const srv = await h.serve(t, ['--secret', SECRET, '--api-key', API_KEY]);
  const alice = await h.connect(srv, 'alice', { query: `token=${h.makeJwt({ sub: 'alice' }, SECRET)}` });
  await alice.sync();
  const refused = [
    ['no token', ''],
    ['a malformed token', 'token=not.a.jwt'],
    ['a token signed with another secret', `token=${h.makeJwt({ sub: 'zed' }, 'other-secret')}`],
    ['an expired token', `token=${h.makeJwt({ sub: 'zed', exp: Math.floor(Date.now() / 1000) - 60 }, SECRET)}`],
    ['alg none', `token=${h.makeJwt({ sub: 'zed' }, SECRET, { alg: 'none' })}`],
  ];
  const wrong = [];
  for (const [what, q] of refused) {
    const { res } = await online(srv, q);
    if (res.status !== 401) wrong.push(`${what}: ${res.status} ${show(res.body)}`);
  }
  for (const [what, hdr] of [['a wrong Bearer key', 'Bearer nope'], ['the API key without Bearer', API_KEY]]) {
    const { res } = await online(srv, '', { Authorization: hdr });
    if (res.status !== 401) wrong.push(`${what}: ${res.status} ${show(res.body)}`);
  }
  assert.deepEqual(wrong, [], `each should be 401; got: ${wrong.join('; ')}`);
  // any user's token will do, not only a connected one's
  const other = await onlineOk(srv, `token=${h.makeJwt({ sub: 'zed' }, SECRET)}`);
  assert.deepEqual(other.users, ['alice'], `with zed's token: ${show(other)}`);
  const own = await onlineOk(srv, `limit=5&token=${h.makeJwt({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600 }, SECRET)}`);
  assert.deepEqual(own.users, ['alice'], `with alice's token: ${show(own)}`);
  const bearer = await onlineOk(srv, '', { Authorization: `Bearer ${API_KEY}` });
  assert.deepEqual(bearer.users, ['alice'], `with the API key: ${show(bearer)}`);
});

// ---------------------------------------------------------------- 10. /api/push answer

test('POST /api/push answers {"delivered":N,"queued":0}: N connections for a Group to everyone and a Single to a user with 2', h.T, async (t) => {
  const srv = await h.serve(t);
  const [a, b1, b2, c] = await clients(srv, 'alice', 'bob', 'bob', 'carol');
  const parse = (res, what) => {
    assert.equal(res.status, 200, `${what}: push answered ${res.status} ${show(res.body)}`);
    try {
      return JSON.parse(res.body);
    } catch {
      return assert.fail(`${what}: the answer is not JSON: ${show(res.body)}`);
    }
  };
  const g = parse(await h.push(srv, { messageType: 1, content: 'to all' }), 'Group to everyone');
  assert.deepEqual(g, { delivered: 4, queued: 0 }, `a Group to everyone with 4 connections answered ${show(g)}`);
  for (const r of [a, b1, b2, c]) assert.equal((await r.next('the pushed Group')).content, 'to all');
  const s = parse(await h.push(srv, { messageType: 0, to: 'bob', content: 'to bob' }), 'Single to bob');
  assert.deepEqual(s, { delivered: 2, queued: 0 }, `a Single to bob with 2 connections answered ${show(s)}`);
  for (const r of [b1, b2]) assert.equal((await r.next('the pushed Single')).content, 'to bob');
});

// ---------------------------------------------------------------- 11. bounded history

test('--max-pending 64k: after 20 Group messages of 8 KiB a newcomer gets only the newest that fit in 32 KiB, oldest first, and stays open', h.T, async (t) => {
  const srv = await h.serve(t, ['--max-pending', '64k']);
  const [a] = await clients(srv, 'bulk');
  const big = 'x'.repeat(8192);
  for (let i = 0; i < 20; i++) a.send({ messageType: 1, content: `${String(i).padStart(2, '0')}:${big}` });
  await a.sync();
  const n = await h.connect(srv, 'late');
  let hist;
  try {
    hist = await n.sync();
  } catch (e) {
    assert.fail(`the newcomer did not get through its history: ${e.message}`);
  }
  assert.ok(n.isOpen, `the newcomer was closed: ${show(n.closeInfo)}`);
  const size = (m) => Buffer.byteLength(n.raw.get(m));
  const groups = hist.filter((m) => m.messageType === 1);
  const idx = groups.map((m) => Number(m.content.slice(0, 2)));
  const total = hist.reduce((s, m) => s + size(m), 0);
  assert.ok(total <= 32 * 1024, `the replay is ${total} bytes, over half of --max-pending (32768): ${idx.length} Group messages ${show(idx)}`);
  assert.ok(groups.length > 0, `no Group message was replayed: ${show(hist.map((m) => m.messageType))}`);
  const want = Array.from({ length: groups.length }, (_, i) => 20 - groups.length + i);
  assert.deepEqual(idx, want, 'the replayed Group messages should be the newest, oldest first');
  const one = size(groups[0]);
  assert.ok(total + one > 32 * 1024, `one more ${one}-byte message would still fit in 32 KiB (replayed ${total} bytes, ` +
    `${groups.length} messages): not the newest that fit`);
  for (let i = 1; i < hist.length; i++) assert.ok(hist[i].id > hist[i - 1].id, `history not in id order: ${show(hist.map((m) => m.id))}`);
  n.send({ messageType: 1, content: 'still here' });
  const m = await a.take((x) => x.content === 'still here', 'the newcomer\'s message');
  assert.equal(m.from, 'late');
});

// ---------------------------------------------------------------- 12. idle rules

test('a message still trickling in at the idle timeout is closed with 1008', h.T, async (t) => {
  const srv = await h.serve(t, ['--ping-interval', '300ms', '--idle-timeout', '1s']);
  const raw = await h.rawConnect(srv, 'trickler');
  await raw.sync('trickler');
  const t0 = Date.now();
  const fr = h.frame(h.OP.text, JSON.stringify({ messageType: 1, content: 'slow '.repeat(60) }));
  const done = h.trickle(raw, fr, 100); // ~30 s for the whole frame
  let end;
  try {
    end = await raw.expectClose(1008, Math.round(4000 * h.SCALE), { reply: false });
  } finally {
    raw.destroy();
    await done;
  }
  const dt = Date.now() - t0;
  assert.ok(dt >= 950 && dt <= Math.round(3000 * h.SCALE), `closed with 1008 after ${dt} ms; the idle timeout is 1 s`);
  assert.ok(end.code === 1008);
});

test('half a message and then silence is idle: closed with 1001', h.T, async (t) => {
  const srv = await h.serve(t, ['--ping-interval', '300ms', '--idle-timeout', '1s']);
  const raw = await h.rawConnect(srv, 'halfway');
  await raw.sync('halfway');
  const t0 = Date.now();
  const fr = h.frame(h.OP.text, JSON.stringify({ messageType: 1, content: 'half '.repeat(60) }));
  raw.write(fr.subarray(0, 100));
  await raw.expectClose(1001, Math.round(4000 * h.SCALE), { reply: false });
  const dt = Date.now() - t0;
  assert.ok(dt >= 950 && dt <= Math.round(3000 * h.SCALE), `closed with 1001 after ${dt} ms; the idle timeout is 1 s`);
});
